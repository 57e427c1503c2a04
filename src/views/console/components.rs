//! `/admin/components` (admins): the components in their groups, each
//! changed in place or given a status by hand with the reason told to its
//! subscribers, and a form to add one.

use maud::{html, Markup};

use super::{csrf, layout, Console};
use crate::domain::component::{grouped, Component};
use crate::domain::ComponentStatus;
use crate::views::parts;

/// A form that came back, and why, shown next to it: the form's key
/// (`new`, `edit-<id>`, `status-<id>`) and the words.
pub struct Refused<'a> {
    pub form: &'a str,
    pub message: &'a str,
}

pub fn page(
    c: &Console<'_>,
    components: &[Component],
    refused: Option<&Refused<'_>>,
    notice: Option<&str>,
) -> Markup {
    let tops: Vec<&Component> = grouped(components)
        .into_iter()
        .map(|(top, _)| top)
        .collect();
    layout(
        c,
        "Components",
        html! {
            h1 { "Components" }
            @if let Some(notice) = notice { p.notice role="status" { (notice) } }
            @if components.is_empty() {
                p { "No components yet. Add the services people depend on: they show on the page, and people subscribe to them." }
            } @else {
                table.board {
                    thead { tr { th { "Component" } th { "Status" } th { "Position" } th { "Change" } } }
                    tbody {
                        @for (top, members) in grouped(components) {
                            (row(c, top, false, &tops, refused))
                            @for member in members { (row(c, member, true, &tops, refused)) }
                        }
                    }
                }
            }
            section.console-panel aria-labelledby="add-heading" {
                h2 #add-heading { "Add a component" }
                (refusal(refused, "new"))
                form.console-form method="post" action="/admin/components" {
                    (csrf(c))
                    (fields(None, &tops, "new"))
                    div.actions { button type="submit" { "Add component" } }
                }
            }
        },
    )
}

fn refusal(refused: Option<&Refused<'_>>, form: &str) -> Markup {
    html! {
        @if let Some(r) = refused.filter(|r| r.form == form) {
            p.problem role="alert" { "Not saved: " (r.message) }
        }
    }
}

fn row(
    c: &Console<'_>,
    component: &Component,
    member: bool,
    tops: &[&Component],
    refused: Option<&Refused<'_>>,
) -> Markup {
    let id = component.id.as_str();
    let edit_key = format!("edit-{id}");
    let status_key = format!("status-{id}");
    let open = refused.is_some_and(|r| r.form == edit_key || r.form == status_key);
    html! {
        tr {
            td { @if member { span.quiet { "\u{2003}in a group · " } } strong { (component.name) }
                @if let Some(d) = &component.description { br; span.quiet { (d) } } }
            td { (parts::status_badge(component.status)) }
            td { (component.position) }
            td {
                details.correct open[open] {
                    summary { "Change " span.visually-hidden { (component.name) } }
                    (refusal(refused, &status_key))
                    form.console-form method="post" action={ "/admin/components/" (id) "/status" } {
                        (csrf(c))
                        div.field {
                            label for={ "status-" (id) } { "Status" }
                            select id={ "status-" (id) } name="status" {
                                @for status in ComponentStatus::ALL {
                                    option value=(status.as_str()) selected[status == component.status] { (status.words()) }
                                }
                            }
                        }
                        div.field {
                            label for={ "reason-" (id) } { "Why (told to its subscribers)" }
                            input type="text" id={ "reason-" (id) } name="reason" maxlength="1000" required;
                        }
                        div.actions { button type="submit" { "Set status and notify" } }
                    }
                    (refusal(refused, &edit_key))
                    form.console-form method="post" action={ "/admin/components/" (id) } {
                        (csrf(c))
                        (fields(Some(component), tops, &edit_key))
                        div.actions { button.secondary type="submit" { "Save" } }
                    }
                }
            }
        }
    }
}

/// Name, description, group and position, for adding or changing.
fn fields(component: Option<&Component>, tops: &[&Component], key: &str) -> Markup {
    let name = component.map_or("", |c| c.name.as_str());
    let description = component
        .and_then(|c| c.description.as_deref())
        .unwrap_or("");
    let group = component.and_then(|c| c.group_id.as_ref());
    let position = component.map_or(0, |c| c.position);
    html! {
        div.field {
            label for={ (key) "-name" } { "Name" }
            input type="text" id={ (key) "-name" } name="name" required maxlength="200" value=(name);
        }
        div.field {
            label for={ (key) "-description" } { "Description (optional)" }
            input type="text" id={ (key) "-description" } name="description" maxlength="1000" value=(description);
        }
        div.field {
            label for={ (key) "-group" } { "Group" }
            select id={ (key) "-group" } name="group" {
                option value="" selected[group.is_none()] { "None" }
                @for top in tops.iter().filter(|t| component.is_none_or(|c| c.id != t.id)) {
                    option value=(top.id) selected[group == Some(&top.id)] { (top.name) }
                }
            }
        }
        div.field {
            label for={ (key) "-position" } { "Position (lower comes first)" }
            input type="number" id={ (key) "-position" } name="position" value=(position);
        }
    }
}
