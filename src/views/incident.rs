//! `/incidents/{id}`: one incident with every entry.

use maud::{html, Markup};

use super::{layout::live_layout, parts, PageContext};
use crate::domain::{component::Component, IncidentRecord};

pub fn page(ctx: &PageContext<'_>, record: &IncidentRecord, components: &[Component]) -> Markup {
    let title = record.incident.state.title.as_str();
    live_layout(
        ctx,
        title,
        html! {
            p.crumbs { a href="/" { "Current status" } }
            (parts::incident_section(ctx, record, components, parts::Shown::Timeline))
            @if record.incident.state.schedule.is_some() {
                p.started {
                    "Announced " (parts::when(ctx, record.incident.created_at)) "."
                }
            } @else {
                p.started {
                    "Impact began " (parts::when(ctx, record.incident.state.started_at))
                    "; first reported " (parts::when(ctx, record.incident.created_at)) "."
                }
            }
        },
    )
}
