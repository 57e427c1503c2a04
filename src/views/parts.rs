//! Small pieces shared by the pages.

use maud::{html, Markup};

use super::{markdown, PageContext};
use crate::domain::{
    component::Component,
    facts::{self, Line, Part},
    ComponentId, ComponentStatus, Entry, EntryClass, Incident, IncidentRecord, IncidentStatus,
};

/// A fact sentence, its times in `<time datetime>`.
pub fn line(line: &Line) -> Markup {
    html! {
        @for part in &line.0 {
            @match part {
                Part::Text(text) => (text),
                Part::Time { at, shown } => time datetime=(at.to_string()) { (shown) },
            }
        }
    }
}

/// A time as "10:30 CET" (or with the date when not today) in `<time>`.
pub fn when(ctx: &PageContext<'_>, at: jiff::Timestamp) -> Markup {
    html! { time datetime=(at.to_string()) { (facts::when(at, ctx.now, ctx.tz)) } }
}

/// "10:42" in `<time>`, where the day is clear from the context.
pub fn clock(ctx: &PageContext<'_>, at: jiff::Timestamp) -> Markup {
    html! { time datetime=(at.to_string()) { (facts::clock_time(at, ctx.tz)) } }
}

pub fn status_badge(status: ComponentStatus) -> Markup {
    html! { span class={"badge " (status.as_str())} { (status.words()) } }
}

pub fn class_label(class: EntryClass) -> Markup {
    let kind = if class.is_bad_news() {
        "label bad"
    } else {
        "label"
    };
    html! { span class=(kind) { (class.label()) } }
}

/// Members a group shows open; a larger group is folded under a summary
/// of its members' states, and opens by itself when one of them is not
/// operational, so that an outage is never folded away.
const GROUP_SHOWN_OPEN: usize = 10;

/// The components, groups first with their members below.
pub fn component_list(components: &[Component]) -> Markup {
    let groups = super::uptime::groups(components);
    html! {
        ul.components {
            @for (component, members) in groups {
                li {
                    span.name { (component.name) }
                    " " (status_badge(component.status))
                    (super::affected::component_button(&component.id))
                    @if let Some(description) = &component.description {
                        br; span.description { (description) }
                    }
                    @if members.len() > GROUP_SHOWN_OPEN {
                        @let troubled = members.iter()
                            .filter(|m| m.status != ComponentStatus::Operational).count();
                        details.members open[troubled > 0] {
                            summary {
                                (members.len()) " components: "
                                @if troubled == 0 { "all operational" }
                                @else { (troubled) " not operational" }
                            }
                            (member_list(&members))
                        }
                    } @else if !members.is_empty() {
                        (member_list(&members))
                    }
                }
            }
        }
    }
}

fn member_list(members: &[&Component]) -> Markup {
    html! {
        ul {
            @for member in members {
                li { span.name { (member.name) } " " (status_badge(member.status)) (super::affected::component_button(&member.id)) }
            }
        }
    }
}

fn component_name<'a>(components: &'a [Component], id: &'a ComponentId) -> &'a str {
    components
        .iter()
        .find(|c| &c.id == id)
        .map_or(id.as_str(), |c| c.name.as_str())
}

/// The facts of an incident in plain words: who, why, when fixed, when we speak next.
pub fn honesty_block(
    ctx: &PageContext<'_>,
    incident: &Incident,
    components: &[Component],
) -> Markup {
    let state = &incident.state;
    let overdue = incident.overdue(ctx.now);
    html! {
        ul.honesty {
            li { (line(&facts::owner_line(incident))) }
            li { (line(&facts::cause_line(state))) }
            li class=[incident.eta_passed(ctx.now).then_some("broken")] {
                (line(&facts::eta_line(incident, ctx.now, ctx.tz)))
            }
            @if let Some(next) = facts::next_update_line(incident, ctx.now, ctx.tz) {
                li class=[overdue.then_some("broken")] { (line(&next)) }
            }
            @if state.status == IncidentStatus::Resolved {
                @if let Some(at) = state.resolved_at {
                    li { "Resolved " (when(ctx, at)) }
                }
            }
            @if !state.components.is_empty() {
                li {
                    "Affects: "
                    @for (i, (id, status)) in state.components.iter().enumerate() {
                        @if i > 0 { ", " }
                        (component_name(components, id)) " — " (status.words().to_lowercase())
                    }
                }
            }
        }
    }
}

/// One timeline entry, untouched, with its correction markers.
pub fn entry(ctx: &PageContext<'_>, record: &IncidentRecord, entry: &Entry) -> Markup {
    let corrected_by = record.corrected_by(&entry.id);
    let corrected = record
        .entries
        .iter()
        .find(|e| Some(&e.id) == entry.corrects.as_ref());
    html! {
        li.entry.corrected[corrected_by.is_some()] id={"entry-" (entry.id)} {
            p.meta {
                @for class in &entry.classes { (class_label(*class)) " " }
                (when(ctx, entry.posted_at))
                " · " (entry.state.status.words())
                " · " (entry.state.impact.words())
                @if entry.system { " · posted by Candor" } @else { " · by " (entry.author) }
            }
            @if let Some(original) = corrected {
                p.corrects {
                    "Corrects "
                    a href={"#entry-" (original.id)} { "the entry of " (clock(ctx, original.posted_at)) }
                    "."
                }
            }
            div.message { (markdown::render(entry.message.as_str())) }
            p.facts { (line(&facts::entry_facts(&entry.state, ctx.now, ctx.tz))) }
            @if !entry.components.is_empty() {
                ul.changes {
                    @for change in &entry.components {
                        li { (change.name) ": " (change.old_status.words().to_lowercase()) " → " (change.new_status.words().to_lowercase()) }
                    }
                }
            }
            @if let Some(by) = corrected_by {
                p.correction-marker {
                    "Corrected by "
                    a href={"#entry-" (by.id)} { "the entry of " (clock(ctx, by.posted_at)) }
                    "."
                }
            }
        }
    }
}

pub fn timeline(ctx: &PageContext<'_>, record: &IncidentRecord) -> Markup {
    html! {
        ol.timeline reversed {
            @for e in &record.entries { (entry(ctx, record, e)) }
        }
    }
}

/// An incident: title, state, the honesty block, then its timeline.
pub fn incident_section(
    ctx: &PageContext<'_>,
    record: &IncidentRecord,
    components: &[Component],
    heading_link: bool,
) -> Markup {
    let incident = &record.incident;
    let state = &incident.state;
    html! {
        section class={"incident impact-" (state.impact.as_str())} {
            header {
                h2 {
                    @if heading_link {
                        a href={"/incidents/" (incident.id)} { (state.title) }
                    } @else {
                        (state.title)
                    }
                }
                p.state { (state.status.words()) " · " (state.impact.words()) }
            }
            (honesty_block(ctx, incident, components))
            (super::affected::incident_button(incident))
            h3 { "Timeline" }
            (timeline(ctx, record))
        }
    }
}
