//! `/admin`: what is open, worst first, with each promise counting down,
//! and what staff owe the people reading the page now.

use maud::{html, Markup};

use super::incident::{delivery_line, due_words, latest_label, DeliveryCounts};
use super::{layout, Console};
use crate::domain::{facts, Incident, IncidentRecord};
use crate::views::parts;

pub struct Dashboard<'a> {
    /// Open incidents, worst first, with the deliveries of their latest entry.
    pub incidents: &'a [(IncidentRecord, Option<DeliveryCounts>)],
    /// Maintenance announced or under way.
    pub maintenance: &'a [IncidentRecord],
    /// Resolved incidents whose promised follow-up is not posted.
    pub follow_ups: &'a [Incident],
    /// Incidents with readers' "still affected" reports nobody answered.
    pub still_affected: &'a [(Incident, i64)],
    /// Components shown as working that readers report as affected.
    pub readers_affected: &'a [(String, i64)],
}

pub fn page(c: &Console<'_>, d: &Dashboard<'_>) -> Markup {
    let now = c.page.now;
    let tz = c.page.tz;
    let overdue = d
        .incidents
        .iter()
        .filter(|(r, _)| r.incident.overdue(now))
        .count();
    layout(
        c,
        "Dashboard",
        html! {
            h1 { "Dashboard" }
            p.actions { a.button href="/admin/incidents/new" { "Open an incident" } }
            h2 { "Open incidents" }
            @if d.incidents.is_empty() {
                p { "None open. If something is broken, open one now: say what you know, even if it is nothing yet." }
            } @else {
                @if overdue > 0 {
                    p.problem role="alert" { (overdue) " open incident" @if overdue > 1 { "s are" } @else { " is" } " past the promised update. Post one now." }
                }
                table.board data-live-source="/admin" {
                    thead { tr { th { "Incident" } th { "Owner" } th { "Next update" } th { "ETA" } th { "Latest entry" } } }
                    tbody {
                        @for (record, counts) in d.incidents {
                            @let incident = &record.incident;
                            @let state = &incident.state;
                            tr {
                                td {
                                    a href={ "/admin/incidents/" (incident.id) } { (state.title) } br;
                                    span.quiet { (state.status.words()) " · " (state.impact.words()) }
                                }
                                td { (state.owner.name) }
                                td {
                                    @if let Some(at) = state.next_update_at {
                                        span.due.overdue[at <= now] data-due=(at) { (due_words(at, now)) }
                                        br; span.quiet { "promised by " (facts::clock_time(at, tz)) }
                                    }
                                }
                                td {
                                    @match state.eta {
                                        None => span.quiet { "No ETA yet" },
                                        Some(eta) if eta <= now => span.eta.passed { (facts::clock_time(eta, tz)) ", passed" },
                                        Some(eta) => (facts::clock_time(eta, tz)),
                                    }
                                }
                                td { (latest_label(record)) (delivery_line(incident.id.as_str(), counts.as_ref())) }
                            }
                        }
                    }
                }
            }
            h2 { "Maintenance" }
            @if d.maintenance.is_empty() {
                p.quiet { "None planned or under way. " a href="/admin/maintenances/new" { "Plan maintenance" } }
            } @else {
                ul {
                    @for record in d.maintenance {
                        @let state = &record.incident.state;
                        li {
                            a href={ "/admin/incidents/" (record.incident.id) } { (state.title) }
                            " · " (state.status.words())
                            @if let Some(plan) = &state.schedule {
                                " · " (facts::span(plan.scheduled_for, plan.scheduled_until, now, tz))
                            }
                        }
                    }
                }
            }
            h2 { "Owed to readers" }
            @if d.follow_ups.is_empty() && d.still_affected.is_empty() && d.readers_affected.is_empty() {
                p.quiet { "Nothing owed: no follow-up due, no unanswered reports." }
            } @else {
                ul {
                    @for incident in d.follow_ups {
                        li {
                            "Follow-up owed on " a href={ "/admin/incidents/" (incident.id) "#postmortem" } { (incident.state.title) }
                            @if let Some(at) = incident.state.follow_up_at {
                                ", promised by " (parts::when(&c.page, at))
                                @if at <= now { " " strong.due.overdue { "(passed)" } }
                            }
                        }
                    }
                    @for (incident, count) in d.still_affected {
                        li {
                            (count) " reader" @if *count != 1 { "s" } " still affected after "
                            a href={ "/admin/incidents/" (incident.id) } { (incident.state.title) }
                            " was resolved"
                        }
                    }
                    @for (name, count) in d.readers_affected {
                        li { (count) " reader" @if *count != 1 { "s" } " report " strong { (name) } " as affected while the page shows it working." }
                    }
                }
            }
        },
    )
}
