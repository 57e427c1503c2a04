//! `/`: the overall state, the open incidents worst first (each with its
//! latest entry), every component, uptime and recent incidents.

use maud::{html, Markup};

use super::{layout::live_layout, parts, uptime, PageContext};
use crate::domain::{component::Component, facts::Overall, Incident, IncidentRecord};

pub struct IndexView<'a> {
    pub components: &'a [Component],
    pub open: &'a [IncidentRecord],
    /// Maintenance in progress, then planned, soonest first.
    pub planned: &'a [IncidentRecord],
    pub recently_resolved: &'a [Incident],
    /// One row per component, in display order.
    pub uptime: &'a [uptime::Row<'a>],
}

pub fn page(ctx: &PageContext<'_>, view: &IndexView<'_>) -> Markup {
    let overall = Overall::of(
        view.open.iter().map(|r| r.incident.state.impact),
        view.components.iter().map(|c| c.status),
    );
    live_layout(
        ctx,
        "",
        html! {
            h1 { (ctx.page_name) }
            p class={"banner " (overall.css())} role="status" { (overall.words()) }
            @if view.open.is_empty() {
                p.quiet { "No open incidents." }
            } @else {
                h2.section { "Open incidents" }
                @for record in view.open { (parts::incident_section(ctx, record, view.components, parts::Shown::Latest)) }
            }
            @if !view.planned.is_empty() {
                h2.section { "Planned maintenance" }
                @for record in view.planned { (parts::incident_section(ctx, record, view.components, parts::Shown::Latest)) }
            }
            h2.section { "Components" }
            @if view.components.is_empty() {
                p.quiet { "No components have been set up yet." }
            } @else {
                (parts::component_list(view.components))
                (uptime::section(ctx, view.uptime))
            }
            @if !view.recently_resolved.is_empty() {
                h2.section { "Recently resolved" }
                ul.past {
                    @for incident in view.recently_resolved {
                        li {
                            a href={"/incidents/" (incident.id)} { (incident.state.title) }
                            @if let Some(at) = incident.state.resolved_at { " — resolved " (parts::when(ctx, at)) }
                        }
                    }
                }
            }
            p { a href="/history" { "All past incidents" } }
            h2.section { "Get every update by email" }
            @if view.components.len() > super::subscribe::CHOICES_AT_MOST {
                // Thousands of check boxes would weigh more than the page.
                (super::subscribe::form(&[], &[], ""))
                p { "To choose among the " (view.components.len()) " components, use "
                    a href="/subscribe" { "the subscribe page" } "." }
            } @else {
                (super::subscribe::form(view.components, &[], ""))
            }
        },
    )
}
