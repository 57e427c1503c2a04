//! An incident in the console: its promises with live countdowns, the
//! forms that post to it (update, resolve, reopen, hand over, follow-up,
//! correct an entry), and what became of each entry's mail.

use std::collections::BTreeMap;

use maud::{html, Markup};

use super::incident_form::{
    cause_field, components_field, eta_field, impact_field, message_field, next_update_field,
    owner_field, preview_block, status_field, Draft, Preview,
};
use super::{csrf, layout, problem, problem_summary, Console, Problems};
use crate::domain::component::Component;
use crate::domain::staff::StaffUser;
use crate::domain::{classify, EntryId, Incident, IncidentId, IncidentRecord};
use crate::views::parts;

/// What became of the mail and webhooks of one entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub dead: i64,
    /// The ones that failed: address, "failed" (retrying) or "dead", why.
    pub failures: Vec<(String, String, String)>,
}

/// The form a draft, its problems and its preview belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    Update,
    Resolve,
    Correct(EntryId),
    Postmortem,
}

/// A form that came back: not posted, with why or with its preview.
pub struct Returned<'a> {
    pub which: Which,
    pub draft: &'a Draft,
    pub problems: &'a Problems,
    pub preview: Option<&'a Preview>,
}

pub struct IncidentPage<'a> {
    pub record: &'a IncidentRecord,
    pub components: &'a [Component],
    pub users: &'a [StaffUser],
    pub deliveries: &'a BTreeMap<EntryId, DeliveryCounts>,
    /// The update form's values when no form came back: the incident as it
    /// stands, so that only what changed is typed.
    pub current: &'a Draft,
    pub returned: Option<Returned<'a>>,
    /// Said at the top after a post: what was posted.
    pub notice: Option<&'a str>,
}

impl IncidentPage<'_> {
    fn draft_for(&self, which: &Which) -> &Draft {
        match &self.returned {
            Some(returned) if &returned.which == which => returned.draft,
            _ => self.current,
        }
    }

    fn returned(&self, which: &Which) -> Option<&Returned<'_>> {
        self.returned.as_ref().filter(|r| &r.which == which)
    }
}

pub fn page(c: &Console<'_>, p: &IncidentPage<'_>) -> Markup {
    let incident = &p.record.incident;
    let state = &incident.state;
    let open = !incident.is_resolved();
    layout(
        c,
        state.title.as_str(),
        html! {
            @if let Some(notice) = p.notice { p.notice role="status" { (notice) } }
            // A form that came back but is not on this page any more (a
            // follow-up sent before resolving, say): its problems here.
            @if let Some(r) = p.returned.as_ref().filter(|r| !form_shown(&r.which, incident)) {
                (problem_summary(r.problems, "It"))
            }
            h1 { (state.title) }
            p.state {
                (state.status.words()) " · " (state.impact.words()) " · owned by " (state.owner.name)
                " · " a href={ "/incidents/" (incident.id) } { "public page" }
            }
            (promises(c, incident))
            (parts::honesty_block(&c.page, incident, p.components))
            @if open {
                (update_form(c, p, true))
                (resolve_form(c, p))
            } @else {
                (update_form(c, p, false))
                (postmortem_form(c, p))
            }
            h2 { "Timeline" }
            ol.timeline reversed data-live-source={ "/admin/incidents/" (incident.id) } {
                @for entry in &p.record.entries {
                    (parts::entry_with(&c.page, p.record, entry, html! {
                        (delivery_line(entry.id.as_str(), p.deliveries.get(&entry.id)))
                        (correct_form(c, p, &entry.id))
                    }))
                }
            }
        },
    )
}

/// Whether the page shows the form `which` for `incident`.
fn form_shown(which: &Which, incident: &Incident) -> bool {
    match which {
        Which::Update | Which::Correct(_) => true,
        Which::Resolve => !incident.is_resolved(),
        Which::Postmortem => incident.owes_follow_up(),
    }
}

/// The promised update and the ETA, counting down each second with
/// `/static/console.js`.
fn promises(c: &Console<'_>, incident: &Incident) -> Markup {
    let now = c.page.now;
    let state = &incident.state;
    html! {
        @if !incident.is_resolved() {
            p {
                @if let Some(at) = state.next_update_at {
                    @let overdue = at <= now;
                    "Next update promised by " strong { (parts::when(&c.page, at)) } ": "
                    span.due.overdue[overdue] data-due=(at) { (due_words(at, now)) }
                }
                @if let Some(eta) = state.eta {
                    " · ETA " (parts::when(&c.page, eta))
                    @if eta <= now { " " span.eta.passed { "(passed: give a new one or clear it)" } }
                }
            }
        }
    }
}

/// "next update due in 6 min" or "update overdue by 3 min", as the script
/// words it.
pub fn due_words(at: jiff::Timestamp, now: jiff::Timestamp) -> String {
    let seconds = at.as_second() - now.as_second();
    let span = |s: i64| {
        let s = s.abs();
        if s < 60 {
            format!("{s} s")
        } else if s < 3600 {
            format!("{} min", s / 60)
        } else if (s / 60) % 60 == 0 {
            format!("{} h", s / 3600)
        } else {
            format!("{} h {} min", s / 3600, (s / 60) % 60)
        }
    };
    if seconds > 0 {
        format!("next update due in {}", span(seconds))
    } else {
        format!("update overdue by {}", span(seconds))
    }
}

/// The update form: everything as it stands, so only what changed is
/// typed. While the incident is open it updates it (and hands it over when
/// the owner changes); once resolved, it reopens it.
fn update_form(c: &Console<'_>, p: &IncidentPage<'_>, open: bool) -> Markup {
    let which = Which::Update;
    let draft = p.draft_for(&which);
    let empty = Problems::new();
    let returned = p.returned(&which);
    let problems = returned.map_or(&empty, |r| r.problems);
    let (heading, what) = if open {
        ("Post an update", "The update")
    } else {
        ("Reopen", "The reopening")
    };
    html! {
        section.console-panel #update aria-labelledby="update-heading" {
            h2 #update-heading { (heading) }
            (problem_summary(problems, what))
            @if let Some(preview) = returned.and_then(|r| r.preview) { (preview_block(c, preview)) }
            form.console-form method="post" action={ "/admin/incidents/" (p.record.incident.id) "/updates" } novalidate {
                (csrf(c))
                (status_field(draft, problems, false))
                (impact_field(draft, problems))
                (components_field(p.components, draft, problems))
                (owner_field(p.users, draft, problems))
                (cause_field(draft, problems))
                (eta_field(draft, problems))
                (next_update_field(draft, problems))
                (message_field(draft, problems, if open { "What changed, what you are doing, what readers can do meanwhile." } else { "Why it is back." }))
                div.actions {
                    button type="submit" name="action" value="post" { @if open { "Post update" } @else { "Reopen and notify" } }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
            }
        }
    }
}

fn resolve_form(c: &Console<'_>, p: &IncidentPage<'_>) -> Markup {
    let which = Which::Resolve;
    let returned = p.returned(&which);
    let empty = Problems::new();
    let problems = returned.map_or(&empty, |r| r.problems);
    let draft = returned.map(|r| r.draft);
    let message = draft.map_or("", |d| d.message.as_str());
    let follow_up = draft.map_or("24", |d| d.follow_up.as_str());
    html! {
        section.console-panel #resolve aria-labelledby="resolve-heading" {
            h2 #resolve-heading { "Resolve" }
            (problem_summary(problems, "The resolution"))
            @if let Some(preview) = returned.and_then(|r| r.preview) { (preview_block(c, preview)) }
            form.console-form method="post" action={ "/admin/incidents/" (p.record.incident.id) "/resolve" } novalidate {
                (csrf(c))
                div.field.invalid[problems.contains_key("message")] {
                    label for="resolve-message" { "What fixed it" }
                    textarea #resolve-message name="message" rows="3" maxlength="20000" { (message) }
                    (problem(problems, "message"))
                }
                div.field.invalid[problems.contains_key("follow_up")] {
                    label for="follow_up" { "Follow-up (what happened and what changes) within" }
                    select #follow_up name="follow_up" {
                        @for (hours, words) in [("24", "24 hours"), ("48", "2 days"), ("72", "3 days"), ("168", "a week")] {
                            option value=(hours) selected[follow_up == hours] { (words) }
                        }
                    }
                    (problem(problems, "follow_up"))
                }
                p.hint { "Components go back to operational unless another open incident holds them. Subscribers are asked whether they are still affected." }
                div.actions {
                    button type="submit" name="action" value="post" { "Resolve and notify" }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
            }
        }
    }
}

fn postmortem_form(c: &Console<'_>, p: &IncidentPage<'_>) -> Markup {
    let incident = &p.record.incident;
    if !incident.owes_follow_up() {
        return html! {};
    }
    let which = Which::Postmortem;
    let returned = p.returned(&which);
    let empty = Problems::new();
    let problems = returned.map_or(&empty, |r| r.problems);
    let message = returned.map_or("", |r| r.draft.message.as_str());
    html! {
        section.console-panel #postmortem aria-labelledby="postmortem-heading" {
            h2 #postmortem-heading { "Post the follow-up" }
            @if let Some(at) = incident.state.follow_up_at {
                p { "Promised by " (parts::when(&c.page, at)) "." }
            }
            (problem_summary(problems, "The follow-up"))
            @if let Some(preview) = returned.and_then(|r| r.preview) { (preview_block(c, preview)) }
            form.console-form method="post" action={ "/admin/incidents/" (incident.id) "/postmortem" } novalidate {
                (csrf(c))
                div.field.invalid[problems.contains_key("message")] {
                    label for="postmortem-message" { "What happened, why, and what changes" }
                    textarea #postmortem-message name="message" rows="8" maxlength="20000" { (message) }
                    (problem(problems, "message"))
                }
                div.actions {
                    button type="submit" name="action" value="post" { "Post follow-up and notify" }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
            }
        }
    }
}

fn correct_form(c: &Console<'_>, p: &IncidentPage<'_>, entry_id: &EntryId) -> Markup {
    let which = Which::Correct(entry_id.clone());
    correct_form_for(c, &p.record.incident.id, entry_id, p.returned(&which))
}

/// "Correct this entry": a new, visible entry that says what was wrong.
pub fn correct_form_for(
    c: &Console<'_>,
    incident_id: &IncidentId,
    entry_id: &EntryId,
    returned: Option<&Returned<'_>>,
) -> Markup {
    let empty = Problems::new();
    let problems = returned.map_or(&empty, |r| r.problems);
    let draft = returned.map(|r| r.draft);
    let id = |name: &str| format!("{name}-{entry_id}");
    html! {
        details.correct open[returned.is_some()] {
            summary { "Correct this entry" }
            (problem_summary(problems, "The correction"))
            @if let Some(preview) = returned.and_then(|r| r.preview) { (preview_block(c, preview)) }
            form.console-form method="post" action={ "/admin/incidents/" (incident_id) "/corrections" } novalidate {
                (csrf(c))
                input type="hidden" name="corrects" value=(entry_id);
                div.field.invalid[problems.contains_key("message")] {
                    label for=(id("correct-message")) { "What was wrong, and what is right" }
                    textarea id=(id("correct-message")) name="message" rows="3" maxlength="20000" { (draft.map_or("", |d| d.message.as_str())) }
                    (problem(problems, "message"))
                }
                div.field.invalid[problems.contains_key("cause")] {
                    label for=(id("correct-cause")) { "Corrected cause (empty: unchanged)" }
                    input type="text" id=(id("correct-cause")) name="cause" maxlength="1000" value=(draft.map_or("", |d| d.cause.as_str()));
                    (problem(problems, "cause"))
                }
                div.field.invalid[problems.contains_key("title")] {
                    label for=(id("correct-title")) { "Corrected title (empty: unchanged)" }
                    input type="text" id=(id("correct-title")) name="title" maxlength="200" value=(draft.map_or("", |d| d.title.as_str()));
                    (problem(problems, "title"))
                }
                p.hint { "The entry stays as it was, marked as corrected; the correction is a new entry, sent to subscribers like any other." }
                div.actions {
                    button type="submit" name="action" value="post" { "Post correction and notify" }
                    button.secondary type="submit" name="action" value="preview" { "Preview" }
                }
            }
        }
    }
}

/// What became of an entry's mail and webhooks: `id` names the line, so
/// that `/static/console.js` can put a fresher one in its place while
/// deliveries are pending (`data-pending`).
pub fn delivery_line(id: &str, counts: Option<&DeliveryCounts>) -> Markup {
    let pending = counts.map_or(0, |n| n.pending);
    html! {
        div.deliveries id={ "deliveries-" (id) } data-pending=(pending) aria-live="polite" {
            @match counts.filter(|n| n.pending + n.sent + n.failed + n.dead > 0) {
                None => "Sent to nobody: no subscriber follows these components.",
                Some(n) => {
                    "Deliveries: " (n.sent) " sent · " (n.pending) " pending"
                    " · " span.failed[n.failed > 0] { (n.failed) " failed, retrying" }
                    " · " span.dead[n.dead > 0] { (n.dead) " given up" }
                    @if !n.failures.is_empty() {
                        details {
                            summary { "Why they failed" }
                            ul {
                                @for (address, state, why) in n.failures.iter().take(FAILURES_SHOWN) {
                                    li { (address) " — " @if state == "dead" { "given up" } @else { "retrying" } ": " (why) }
                                }
                                @if n.failures.len() > FAILURES_SHOWN {
                                    li { (n.failures.len() - FAILURES_SHOWN) " more: see GET /api/v1/incidents/{id}/deliveries" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How many failures an entry's line lists.
const FAILURES_SHOWN: usize = 20;

/// The lead class of an incident's latest entry, for lists.
pub fn latest_label(record: &IncidentRecord) -> Markup {
    html! {
        @if let Some(entry) = record.entries.first() { (parts::class_label(classify::lead(&entry.classes))) }
    }
}
