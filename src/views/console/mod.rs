//! The staff console's pages: the frame (who is logged in, the way out),
//! the form parts every console form shares, and the pages themselves
//! (`login`, `dashboard`, `incident_form`, `incident`).

pub mod alerts;
pub mod audit;
pub mod components;
pub mod dashboard;
pub mod incident;
pub mod incident_form;
pub mod login;
pub mod maintenance;
pub mod subscribers;
pub mod tokens;
pub mod users;

use std::collections::BTreeMap;

use maud::{html, Markup, DOCTYPE};

use super::PageContext;
use crate::domain::staff::StaffUser;

pub const STYLESHEET: &str = include_str!("../../../static/console.css");
/// Countdowns that tick each second (`/static/console.js`).
pub const SCRIPT: &str = include_str!("../../../static/console.js");

/// What every console page knows: the page, who looks at it, and the
/// token its forms carry.
pub struct Console<'a> {
    pub page: PageContext<'a>,
    pub user: &'a StaffUser,
    pub csrf: &'a str,
}

/// What is wrong with a form, by field name, in words for the person.
pub type Problems = BTreeMap<String, String>;

/// The frame of a console page for someone logged in.
pub fn layout(c: &Console<'_>, title: &str, body: Markup) -> Markup {
    frame(
        c.page.page_name,
        title,
        html! {
            nav aria-label="Console" {
                a href="/admin" { "Dashboard" }
                a href="/admin/incidents/new" { "Open an incident" }
                a href="/admin/maintenances/new" { "Plan maintenance" }
                a href="/admin/alerts" { "Alerts" }
                @if c.user.role.may(crate::domain::staff::Duty::Administer) {
                    a href="/admin/components" { "Components" }
                    a href="/admin/subscribers" { "Subscribers" }
                    a href="/admin/tokens" { "Tokens" }
                    a href="/admin/users" { "Users" }
                    a href="/admin/audit" { "Audit log" }
                }
                a href="/" { "Public page" }
            }
            form.logout method="post" action="/admin/logout" {
                (csrf(c))
                span.who { (c.user.name) " · " (c.user.role.words()) }
                button.secondary type="submit" { "Log out" }
            }
        },
        body,
    )
}

/// The frame of every console page: `header` holds what the header shows
/// beside the console's name (nothing before login).
pub fn frame(page_name: &str, title: &str, header: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " — " (page_name) " console" }
                link rel="stylesheet" href="/static/candor.css";
                link rel="stylesheet" href="/static/console.css";
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                script src="/static/console.js" defer {}
            }
            body {
                header.site.console {
                    a.home href="/admin" { (page_name) " console" }
                    (header)
                }
                main { (body) }
            }
        }
    }
}

/// The hidden field that proves a form came from a console page.
pub fn csrf(c: &Console<'_>) -> Markup {
    html! { input type="hidden" name="csrf" value=(c.csrf); }
}

/// A field's problem, said next to it (and named by `aria-describedby`).
pub fn problem(problems: &Problems, field: &str) -> Markup {
    html! {
        @if let Some(message) = problems.get(field) {
            p.error id={ (field) "-error" } { (message) }
        }
    }
}

/// `aria-describedby` for a field: its hint and its problem, if any.
pub fn described_by(problems: &Problems, field: &str, hint: bool) -> Option<String> {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("{field}-hint"));
    }
    if problems.contains_key(field) {
        ids.push(format!("{field}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// Said at the top of a form that was not posted: how many things to fix,
/// each a link to its field.
pub fn problem_summary(problems: &Problems, what: &str) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.problems role="alert" {
                h2 { (what) " was not posted. "
                    @if problems.len() == 1 { "One thing to fix:" } @else { (problems.len()) " things to fix:" }
                }
                ul {
                    @for (field, message) in problems {
                        li { a href={ "#" (field) } { (field_name(field)) } ": " (message) }
                    }
                }
            }
        }
    }
}

/// A field's name as the form labels it.
fn field_name(field: &str) -> &str {
    match field {
        "title" => "Title",
        "impact" => "Impact",
        "status" => "Status",
        "components" => "Affected components",
        "owner" => "Owner",
        "cause" => "Cause",
        "eta" => "ETA",
        "next_update" => "Next update",
        "message" => "Message",
        "follow_up" => "Follow-up",
        "corrects" => "Entry corrected",
        other => other,
    }
}
