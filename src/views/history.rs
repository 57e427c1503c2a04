//! `/history`: past incidents by month, each with its dates, how long it
//! lasted, its impact and its cause.

use maud::{html, Markup};

use super::{layout::layout, parts, PageContext};
use crate::domain::{facts, Incident, IncidentStatus};

pub fn page(ctx: &PageContext<'_>, resolved: &[Incident]) -> Markup {
    // Newest first by when they began, so that a month is listed once.
    let mut by_start: Vec<&Incident> = resolved.iter().collect();
    by_start.sort_by_key(|i| std::cmp::Reverse(i.state.started_at));
    let mut months: Vec<(String, Vec<&Incident>)> = Vec::new();
    for incident in by_start {
        let month = facts::month_heading(incident.state.started_at, ctx.tz);
        match months.last_mut() {
            Some((heading, list)) if *heading == month => list.push(incident),
            _ => months.push((month, vec![incident])),
        }
    }
    layout(
        ctx,
        "Past incidents",
        html! {
            h1 { "Past incidents" }
            @if months.is_empty() {
                p.quiet { "No past incidents." }
            }
            @for (month, incidents) in &months {
                section.month {
                    h2 { (month) }
                    ul.past {
                        @for incident in incidents { (past(ctx, incident)) }
                    }
                }
            }
        },
    )
}

/// One past incident: "VPN logins failing — Major impact", then "Sat 28
/// Nov, 00:12–00:41 CET (29 min)", then its cause.
fn past(ctx: &PageContext<'_>, incident: &Incident) -> Markup {
    let state = &incident.state;
    let began = state.started_at;
    html! {
        li {
            a href={"/incidents/" (incident.id)} { (state.title) }
            @if state.schedule.is_some() {
                " — " (if state.status == IncidentStatus::Cancelled { "Maintenance, cancelled" } else { "Planned maintenance" })
            } @else {
                " — " (state.impact.words())
            }
            br;
            @if let Some(ended) = state.resolved_at {
                time datetime=(began.to_string()) { (facts::span(began, ended, ctx.now, ctx.tz)) }
                " (" (facts::duration(began, ended)) ")"
            } @else {
                "Began " time datetime=(began.to_string()) { (facts::when(began, ctx.now, ctx.tz)) }
            }
            @if state.schedule.is_none() {
                br;
                span.cause { (parts::line(&facts::cause_line(state))) }
            }
        }
    }
}
