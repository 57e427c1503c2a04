//! The form that opens an incident, the fields it shares with the update
//! form, and the preview of what a post will say before it is sent.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::{csrf, described_by, layout, problem, problem_summary, Console, Problems};
use crate::domain::component::{grouped, Component};
use crate::domain::staff::StaffUser;
use crate::domain::{classify, ComponentId, ComponentStatus, IncidentRecord};
use crate::views::parts;

/// A form's values as typed, shown again when the form comes back (a
/// preview, a problem to fix) so that nothing typed is lost.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub title: String,
    pub impact: String,
    pub status: String,
    /// Component id → the status it is given (`""`: not affected).
    pub components: BTreeMap<ComponentId, String>,
    /// The owner's user id.
    pub owner: String,
    pub cause: String,
    pub eta: String,
    /// `15`, `30`, `60` (minutes) or `at` (then `next_update_at`).
    pub next_update: String,
    pub next_update_at: String,
    pub message: String,
    /// Hours until the follow-up, when resolving.
    pub follow_up: String,
}

/// What a post would be, shown before it is posted.
pub struct Preview {
    /// The subject of the mail subscribers would get.
    pub subject: String,
    /// The incident as it would be, with only the new entry.
    pub record: IncidentRecord,
}

/// The choices of the next update, in minutes.
pub const NEXT_UPDATE_CHOICES: [&str; 3] = ["15", "30", "60"];

/// Where an empty cause, ETA or message is said in the page's words.
pub const CAUSE_HINT: &str =
    "Left empty, the page says \u{201c}Cause: not yet known\u{201d}. Say it plainly once you know.";
pub const ETA_HINT: &str = "Left empty, the page says \u{201c}No ETA yet\u{201d}. An ETA you give is shown with every change to it.";

/// `GET /admin/incidents/new`, and the same form back with a preview or
/// its problems.
pub fn open_page(
    c: &Console<'_>,
    components: &[Component],
    users: &[StaffUser],
    draft: &Draft,
    problems: &Problems,
    preview: Option<&Preview>,
) -> Markup {
    layout(
        c,
        "Open an incident",
        html! {
            h1 { "Open an incident" }
            p.quiet { "Say something now, even with nothing known: subscribers hear of it at once, and the page shows it." }
            (problem_summary(problems, "The incident"))
            @if let Some(preview) = preview { (preview_block(c, preview)) }
            form.console-form method="post" action="/admin/incidents" novalidate {
                (csrf(c))
                div.field.invalid[problems.contains_key("title")] {
                    label for="title" { "Title" }
                    input #title type="text" name="title" required maxlength="200" value=(draft.title)
                        aria-describedby=[described_by(problems, "title", true)]
                        aria-invalid=[problems.contains_key("title").then_some("true")]
                        autofocus[draft.title.is_empty()];
                    p.hint #title-hint { "What readers notice, in their words: \u{201c}VPN down\u{201d}, \u{201c}Mail delayed\u{201d}." }
                    (problem(problems, "title"))
                }
                (status_field(draft, problems, false))
                (impact_field(draft, problems))
                (components_field(components, draft, problems))
                (owner_field(users, draft, problems))
                (cause_field(draft, problems))
                (eta_field(draft, problems))
                (next_update_field(draft, problems))
                (message_field(draft, problems, "Left empty: \u{201c}We are aware of a problem: <title>. We are looking into it.\u{201d}"))
                div.actions {
                    button type="submit" name="action" value="post" { "Post and notify subscribers" }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
                p.hint { "Posting tells every subscriber of these components by mail and webhook. Nothing can be posted quietly, and nothing posted can be edited: corrections are new entries." }
            }
        },
    )
}

/// The preview: the class the post will be sent as, the mail's subject,
/// and the entry as the public page will show it.
pub fn preview_block(c: &Console<'_>, preview: &Preview) -> Markup {
    let record = &preview.record;
    html! {
        @if let Some(entry) = record.entries.first() {
            section.preview aria-labelledby="preview-heading" {
                h2 #preview-heading { "Preview: nothing is posted yet" }
                p { "This will be sent as " (parts::class_label(classify::lead(&entry.classes)))
                    @for class in entry.classes.iter().skip(1) { " " (parts::class_label(*class)) }
                    "." }
                p { "Mail subject: " span.subject { (preview.subject) } }
                p.quiet { "On the public page:" }
                ol.timeline { (parts::entry(&c.page, record, entry)) }
            }
        }
    }
}

pub fn status_field(draft: &Draft, problems: &Problems, resolved_too: bool) -> Markup {
    let statuses: &[(&str, &str)] = if resolved_too {
        &[
            ("investigating", "Investigating"),
            ("identified", "Identified"),
            ("monitoring", "Monitoring"),
            ("resolved", "Resolved"),
        ]
    } else {
        &[
            ("investigating", "Investigating"),
            ("identified", "Identified"),
            ("monitoring", "Monitoring"),
        ]
    };
    html! {
        fieldset.invalid[problems.contains_key("status")] #status {
            legend { "Status" }
            div.choices-row {
                @for (value, words) in statuses {
                    label.choice { input type="radio" name="status" value=(value) checked[draft.status == *value]; (words) }
                }
            }
            (problem(problems, "status"))
        }
    }
}

pub fn impact_field(draft: &Draft, problems: &Problems) -> Markup {
    html! {
        fieldset.invalid[problems.contains_key("impact")] #impact {
            legend { "Impact" }
            div.choices-row {
                @for (value, words) in [("none", "None"), ("minor", "Minor"), ("major", "Major"), ("critical", "Critical")] {
                    label.choice { input type="radio" name="impact" value=(value) checked[draft.impact == value]; (words) }
                }
            }
            (problem(problems, "impact"))
        }
    }
}

/// One select per component: how this incident leaves it.
pub fn components_field(components: &[Component], draft: &Draft, problems: &Problems) -> Markup {
    html! {
        fieldset.invalid[problems.contains_key("components")] #components {
            legend { "Affected components" }
            @if components.is_empty() {
                p.hint { "There are no components yet: the incident will stand on its own." }
            } @else {
                p.hint { "Each one you set shows that status on the page until the incident resolves; its subscribers are told." }
                table.components-form { tbody {
                    @for (top, members) in grouped(components) {
                        @if members.is_empty() {
                            (component_row(top, draft, false))
                        } @else {
                            tr { th colspan="2" { strong { (top.name) } } }
                            @for member in members { (component_row(member, draft, true)) }
                        }
                    }
                } }
            }
            (problem(problems, "components"))
        }
    }
}

fn component_row(component: &Component, draft: &Draft, member: bool) -> Markup {
    let id = format!("component-{}", component.id);
    let chosen = draft
        .components
        .get(&component.id)
        .map_or("", String::as_str);
    html! {
        tr {
            th { label for=(id) { @if member { "\u{2003}" } (component.name) } }
            td {
                select id=(id) name={ "component." (component.id) } {
                    option value="" selected[chosen.is_empty()] { "Not affected (" (component.status.words().to_lowercase()) " now)" }
                    @for status in [ComponentStatus::DegradedPerformance, ComponentStatus::PartialOutage, ComponentStatus::MajorOutage, ComponentStatus::Operational] {
                        option value=(status.as_str()) selected[chosen == status.as_str()] { (status.words()) }
                    }
                }
            }
        }
    }
}

pub fn owner_field(users: &[StaffUser], draft: &Draft, problems: &Problems) -> Markup {
    html! {
        div.field.invalid[problems.contains_key("owner")] {
            label for="owner" { "Owner" }
            select #owner name="owner" aria-describedby=[described_by(problems, "owner", true)] {
                @for user in users.iter().filter(|u| !u.disabled) {
                    option value=(user.id) selected[draft.owner == user.id] { (user.name) " <" (user.email) ">" }
                }
            }
            p.hint #owner-hint { "The one person answerable for it: reminded when an update is due, named on the page." }
            (problem(problems, "owner"))
        }
    }
}

pub fn cause_field(draft: &Draft, problems: &Problems) -> Markup {
    html! {
        div.field.invalid[problems.contains_key("cause")] {
            label for="cause" { "Cause" }
            textarea #cause name="cause" rows="2" maxlength="1000"
                aria-describedby=[described_by(problems, "cause", true)] { (draft.cause) }
            p.hint #cause-hint { (CAUSE_HINT) }
            (problem(problems, "cause"))
        }
    }
}

pub fn eta_field(draft: &Draft, problems: &Problems) -> Markup {
    html! {
        div.field.invalid[problems.contains_key("eta")] {
            label for="eta" { "ETA (when it should work again)" }
            input #eta type="datetime-local" name="eta" value=(draft.eta)
                aria-describedby=[described_by(problems, "eta", true)];
            p.hint #eta-hint { (ETA_HINT) }
            (problem(problems, "eta"))
        }
    }
}

pub fn next_update_field(draft: &Draft, problems: &Problems) -> Markup {
    html! {
        fieldset.invalid[problems.contains_key("next_update")] #next_update {
            legend { "Next update" }
            div.choices-row {
                @for minutes in NEXT_UPDATE_CHOICES {
                    label.choice { input type="radio" name="next_update" value=(minutes) checked[draft.next_update == minutes]; "In " (minutes) " min" }
                }
                label.choice { input type="radio" name="next_update" value="at" checked[draft.next_update == "at"]; "At:" }
                input #next_update_at type="datetime-local" name="next_update_at" aria-label="Next update at"
                    value=(draft.next_update_at);
            }
            p.hint { "A promise: the page shows it, and says so if it passes without an update." }
            (problem(problems, "next_update"))
        }
    }
}

pub fn message_field(draft: &Draft, problems: &Problems, hint: &str) -> Markup {
    html! {
        div.field.invalid[problems.contains_key("message")] {
            label for="message" { "Message" }
            textarea #message name="message" rows="5" maxlength="20000"
                aria-describedby=[described_by(problems, "message", true)] { (draft.message) }
            p.hint #message-hint { (hint) " Markdown works." }
            (problem(problems, "message"))
        }
    }
}
