//! `/history`: past incidents by month.

use maud::{html, Markup};

use super::{layout::layout, parts, PageContext};
use crate::domain::{facts, Incident};

pub fn page(ctx: &PageContext<'_>, resolved: &[Incident]) -> Markup {
    let mut months: Vec<(String, Vec<&Incident>)> = Vec::new();
    for incident in resolved {
        let month = facts::month_heading(incident.created_at, ctx.tz);
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
                        @for incident in incidents {
                            li {
                                a href={"/incidents/" (incident.id)} { (incident.state.title) }
                                " — " (incident.state.impact.words())
                                br;
                                "From " (parts::when(ctx, incident.state.started_at))
                                @if let Some(at) = incident.state.resolved_at {
                                    " to " (parts::when(ctx, at))
                                    " (" (duration(incident.state.started_at, at)) ")"
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn duration(from: jiff::Timestamp, to: jiff::Timestamp) -> String {
    let minutes = (to.as_second() - from.as_second()).max(0) / 60;
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}
