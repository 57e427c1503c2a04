//! Planned maintenance in the console: the form that schedules it, and its
//! page, where it is rescheduled, started, completed or cancelled.

use maud::{html, Markup};

use super::incident::{correct_form_for, delivery_line, DeliveryCounts, Returned, Which};
use super::incident_form::{message_field, owner_field, preview_block, Draft, Preview};
use super::{csrf, described_by, layout, problem, problem_summary, Console, Problems};
use crate::domain::component::{grouped, Component};
use crate::domain::staff::StaffUser;
use crate::domain::{ComponentId, EntryId, IncidentRecord};
use crate::views::parts;

/// A maintenance form's values as typed.
#[derive(Debug, Clone, Default)]
pub struct PlanDraft {
    pub title: String,
    pub components: Vec<ComponentId>,
    pub owner: String,
    pub scheduled_for: String,
    pub scheduled_until: String,
    /// Minutes before the start at which subscribers are reminded.
    pub remind: Vec<String>,
    pub auto_complete: bool,
    pub message: String,
    /// What an update does: `` (nothing but say or move), `in_progress`,
    /// `verifying`, `completed`, `cancelled`.
    pub status: String,
}

impl PlanDraft {
    /// The owner and the message, as the shared fields read them.
    fn shared(&self) -> Draft {
        Draft {
            owner: self.owner.clone(),
            message: self.message.clone(),
            ..Draft::default()
        }
    }
}

/// The reminders offered, in minutes before the start.
pub const REMINDER_CHOICES: [(&str, &str); 3] = [
    ("1440", "a day before"),
    ("60", "an hour before"),
    ("15", "15 minutes before"),
];

pub fn schedule_page(
    c: &Console<'_>,
    components: &[Component],
    users: &[StaffUser],
    draft: &PlanDraft,
    problems: &Problems,
    preview: Option<&Preview>,
) -> Markup {
    layout(
        c,
        "Plan maintenance",
        html! {
            h1 { "Plan maintenance" }
            p.quiet { "Subscribers are told now, reminded before it starts, and told when it starts and ends." }
            (problem_summary(problems, "The maintenance"))
            @if let Some(preview) = preview { (preview_block(c, preview)) }
            form.console-form method="post" action="/admin/maintenances" novalidate {
                (csrf(c))
                div.field.invalid[problems.contains_key("title")] {
                    label for="title" { "Title" }
                    input #title type="text" name="title" required maxlength="200" value=(draft.title)
                        aria-describedby=[described_by(problems, "title", true)]
                        autofocus[draft.title.is_empty()];
                    p.hint #title-hint { "What readers will notice: \u{201c}VPN gateway upgrade\u{201d}." }
                    (problem(problems, "title"))
                }
                (window_fields(draft, problems, false))
                fieldset.invalid[problems.contains_key("components")] #components {
                    legend { "Components under maintenance" }
                    @if components.is_empty() {
                        p.hint { "There are no components yet." }
                    }
                    @for (top, members) in grouped(components) {
                        (component_box(top, draft))
                        @for member in members { (component_box(member, draft)) }
                    }
                    p.hint { "Each shows \u{201c}Under maintenance\u{201d} while the work runs." }
                    (problem(problems, "components"))
                }
                (owner_field(users, &draft.shared(), problems))
                fieldset #remind {
                    legend { "Remind subscribers" }
                    div.choices-row {
                        @for (minutes, words) in REMINDER_CHOICES {
                            label.choice { input type="checkbox" name="remind" value=(minutes) checked[draft.remind.iter().any(|r| r == minutes)]; (words) }
                        }
                    }
                }
                p.field {
                    label.choice { input type="checkbox" name="auto_complete" value="on" checked[draft.auto_complete]; "Complete it by itself at the planned end" }
                }
                (message_field(&draft.shared(), problems, "Left empty: \u{201c}Planned maintenance: <title>.\u{201d} Say what will not work and what to do meanwhile."))
                div.actions {
                    button type="submit" name="action" value="post" { "Announce and notify subscribers" }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
            }
        },
    )
}

fn component_box(component: &Component, draft: &PlanDraft) -> Markup {
    html! {
        label.choice {
            input type="checkbox" name="components" value=(component.id) checked[draft.components.contains(&component.id)];
            (component.name)
        }
    }
}

/// The planned start and end; once begun, only the end may move.
fn window_fields(draft: &PlanDraft, problems: &Problems, begun: bool) -> Markup {
    html! {
        div.field.invalid[problems.contains_key("scheduled_for")] {
            label for="scheduled_for" { "Starts" }
            input #scheduled_for type="datetime-local" name="scheduled_for" value=(draft.scheduled_for) readonly[begun]
                aria-describedby=[described_by(problems, "scheduled_for", begun)];
            @if begun { p.hint #scheduled_for-hint { "The work has begun: only its end can move." } }
            (problem(problems, "scheduled_for"))
        }
        div.field.invalid[problems.contains_key("scheduled_until")] {
            label for="scheduled_until" { "Ends" }
            input #scheduled_until type="datetime-local" name="scheduled_until" value=(draft.scheduled_until)
                aria-describedby=[described_by(problems, "scheduled_until", false)];
            (problem(problems, "scheduled_until"))
        }
    }
}

pub struct MaintenancePage<'a> {
    pub record: &'a IncidentRecord,
    pub components: &'a [Component],
    pub users: &'a [StaffUser],
    pub deliveries: &'a std::collections::BTreeMap<EntryId, DeliveryCounts>,
    /// The plan as it stands, for the update form.
    pub current: &'a PlanDraft,
    /// The update form come back, with its problems or preview.
    pub update: Option<(&'a PlanDraft, &'a Problems, Option<&'a Preview>)>,
    /// A correction come back.
    pub correction: Option<Returned<'a>>,
    pub notice: Option<&'a str>,
}

pub fn page(c: &Console<'_>, p: &MaintenancePage<'_>) -> Markup {
    let incident = &p.record.incident;
    let state = &incident.state;
    let over = state.status.is_final();
    let begun = state.status != crate::domain::IncidentStatus::Scheduled;
    let empty = Problems::new();
    let (draft, problems, preview) = p.update.unwrap_or((p.current, &empty, None));
    layout(
        c,
        state.title.as_str(),
        html! {
            @if let Some(notice) = p.notice { p.notice role="status" { (notice) } }
            h1 { (state.title) }
            p.state {
                "Maintenance · " (state.status.words()) " · owned by " (state.owner.name)
                " · " a href={ "/incidents/" (incident.id) } { "public page" }
            }
            (parts::honesty_block(&c.page, incident, p.components))
            @if !over {
                section.console-panel #maintain aria-labelledby="maintain-heading" {
                    h2 #maintain-heading { "Move it along" }
                    (problem_summary(problems, "The update"))
                    @if let Some(preview) = preview { (preview_block(c, preview)) }
                    form.console-form method="post" action={ "/admin/maintenances/" (incident.id) "/updates" } novalidate {
                        (csrf(c))
                        fieldset.invalid[problems.contains_key("status")] #status {
                            legend { "What happens" }
                            div.choices-row {
                                @for (value, words) in steps(state.status) {
                                    label.choice { input type="radio" name="status" value=(value) checked[draft.status == value]; (words) }
                                }
                            }
                            (problem(problems, "status"))
                        }
                        (window_fields(draft, problems, begun))
                        (owner_field(p.users, &draft.shared(), problems))
                        (message_field(&draft.shared(), problems, "What is happening, and what readers should know."))
                        div.actions {
                            button type="submit" name="action" value="post" { "Post and notify" }
                            button.secondary type="submit" name="action" value="preview" { "Preview" }
                        }
                    }
                }
            } @else {
                p { "This maintenance is over. Plan a new one if more work is needed." }
            }
            h2 { "Timeline" }
            ol.timeline reversed data-live-source={ "/admin/incidents/" (incident.id) } {
                @for entry in &p.record.entries {
                    (parts::entry_with(&c.page, p.record, entry, html! {
                        (delivery_line(entry.id.as_str(), p.deliveries.get(&entry.id)))
                        (correct_form_for(c, &incident.id, &entry.id, p.correction.as_ref().filter(|r| r.which == Which::Correct(entry.id.clone()))))
                    }))
                }
            }
        },
    )
}

/// The steps offered from `status`: what it can move to.
fn steps(status: crate::domain::IncidentStatus) -> Vec<(&'static str, &'static str)> {
    use crate::domain::IncidentStatus as S;
    let mut steps = vec![("", "Only say something, or move the times")];
    match status {
        S::Scheduled => steps.extend([
            ("in_progress", "Start it now"),
            ("completed", "Complete it"),
            ("cancelled", "Cancel it"),
        ]),
        S::InProgress => steps.extend([("verifying", "Verifying"), ("completed", "Complete it")]),
        S::Verifying => steps.push(("completed", "Complete it")),
        _ => {}
    }
    steps
}
