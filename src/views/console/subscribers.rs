//! `/admin/subscribers` (admins): find subscribers by address, add an
//! address or a webhook (its signing secret shown once), remove one.

use maud::{html, Markup};

use super::{csrf, layout, Console};
use crate::domain::component::{grouped, Component};
use crate::domain::subscriber::{Channel, Subscriber, SubscriberState};

pub struct SubscribersPage<'a> {
    pub subscribers: &'a [Subscriber],
    pub components: &'a [Component],
    /// The address prefix searched for.
    pub search: &'a str,
    /// The cursor of the next page, if there is one.
    pub next: Option<&'a str>,
    pub notice: Option<&'a str>,
    /// Why the add form was refused.
    pub problem: Option<&'a str>,
    /// A new webhook's signing secret, shown this once.
    pub secret: Option<&'a str>,
}

pub fn page(c: &Console<'_>, p: &SubscribersPage<'_>) -> Markup {
    let name_of = |id: &crate::domain::ComponentId| -> String {
        p.components
            .iter()
            .find(|c| &c.id == id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    };
    layout(
        c,
        "Subscribers",
        html! {
            h1 { "Subscribers" }
            @if let Some(notice) = p.notice { p.notice role="status" { (notice) } }
            @if let Some(secret) = p.secret {
                p.notice role="status" {
                    "The webhook's signing secret, shown this once (Candor keeps it to sign each POST; copy it now): "
                    span.secret { (secret) }
                }
            }
            form.console-form method="get" action="/admin/subscribers" role="search" {
                div.field {
                    label for="q" { "Find by address (its beginning)" }
                    input #q type="text" name="q" value=(p.search) autocomplete="off";
                }
                div.actions { button.secondary type="submit" { "Find" } }
            }
            @if p.subscribers.is_empty() {
                p { @if p.search.is_empty() { "No subscribers yet." } @else { "No address begins with \u{201c}" (p.search) "\u{201d}." } }
            } @else {
                table.board {
                    thead { tr { th { "Address" } th { "Kind" } th { "State" } th { "Components" } th { "Remove" } } }
                    tbody {
                        @for s in p.subscribers {
                            tr {
                                td { (s.address) }
                                td { @match s.channel { Channel::Email => "Email", Channel::Webhook => "Webhook" } }
                                td {
                                    @match s.state {
                                        SubscriberState::Pending => "Waiting for confirmation",
                                        SubscriberState::Confirmed => "Confirmed",
                                        SubscriberState::Unsubscribed => "Unsubscribed",
                                    }
                                    @if s.quarantined_at.is_some() { " (quarantined: failing)" }
                                }
                                td data-label="Components" {
                                    @if s.components.is_empty() { "All" } @else {
                                        @for (i, id) in s.components.iter().enumerate() { @if i > 0 { ", " } (name_of(id)) }
                                    }
                                }
                                td {
                                    @if s.state != SubscriberState::Unsubscribed {
                                        form.inline method="post" action={ "/admin/subscribers/" (s.id) "/remove" } {
                                            (csrf(c))
                                            button.secondary type="submit" { "Remove " span.visually-hidden { (s.address) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = p.next {
                    p { a href={ "/admin/subscribers?q=" (p.search) "&after=" (next) } { "Next page" } }
                }
            }
            section.console-panel aria-labelledby="add-heading" {
                h2 #add-heading { "Add a subscriber" }
                @if let Some(problem) = p.problem { p.problem role="alert" { "Not added: " (problem) } }
                form.console-form method="post" action="/admin/subscribers" {
                    (csrf(c))
                    fieldset {
                        legend { "Kind" }
                        div.choices-row {
                            label.choice { input type="radio" name="kind" value="email" checked; "Email address" }
                            label.choice { input type="radio" name="kind" value="webhook"; "Webhook (a URL Candor POSTs each change to)" }
                        }
                    }
                    div.field {
                        label for="address" { "Address or URL" }
                        input #address type="text" name="address" required maxlength="2000";
                    }
                    fieldset {
                        legend { "Components (none chosen: all of them)" }
                        div.choices-row {
                            @for (top, members) in grouped(p.components) {
                                label.choice { input type="checkbox" name="components" value=(top.id); (top.name) }
                                @for m in members { label.choice { input type="checkbox" name="components" value=(m.id); (m.name) } }
                            }
                        }
                    }
                    p.field {
                        label.choice { input type="checkbox" name="confirmed" value="on"; "This address agreed already: send no confirmation mail" }
                    }
                    div.actions { button type="submit" { "Add subscriber" } }
                }
            }
        },
    )
}
