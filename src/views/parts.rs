//! Small pieces shared by the pages.

use maud::{html, Markup};

use super::{live, markdown, PageContext};
use crate::domain::{
    classify,
    component::Component,
    facts::{self, Line, Part},
    ComponentId, ComponentStatus, Entry, EntryClass, Incident, IncidentRecord,
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

/// The components, groups first with their members below. A group folds
/// its members away while all of them are operational, and is open as soon
/// as one is not, so that an outage is never folded away; its badge is the
/// worst of its members' (`component::rolled_up`).
pub fn component_list(components: &[Component]) -> Markup {
    let groups = super::uptime::groups(components);
    html! {
        ul.components {
            @for (component, members) in groups {
                li {
                    @if members.is_empty() {
                        (component_line(component))
                    } @else {
                        @let troubled = members.iter()
                            .filter(|m| m.status != ComponentStatus::Operational).count();
                        details.members open[troubled > 0] {
                            summary {
                                span.name { (component.name) }
                                " " (status_badge(component.status))
                                " " span.count {
                                    (members.len()) " components"
                                    @if troubled > 0 { ", " (troubled) " not operational" }
                                }
                            }
                            // Outside the summary: a control inside another is out of
                            // reach for keyboards and screen readers.
                            (super::affected::component_button(&component.id))
                            @if let Some(description) = &component.description {
                                br; span.description { (description) }
                            }
                            (member_list(&members))
                        }
                    }
                }
            }
        }
    }
}

/// "VPN [Operational]", with the description below when there is one.
fn component_line(component: &Component) -> Markup {
    html! {
        span.name { (component.name) }
        " " (status_badge(component.status))
        (super::affected::component_button(&component.id))
        @if let Some(description) = &component.description {
            br; span.description { (description) }
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
/// While it is open, its lines that time changes carry what
/// `/static/live.js` needs to change them in an open tab (`views::live`).
pub fn honesty_block(
    ctx: &PageContext<'_>,
    incident: &Incident,
    components: &[Component],
) -> Markup {
    let state = &incident.state;
    if state.schedule.is_some() {
        return plan_block(ctx, incident, components);
    }
    let overdue = incident.overdue(ctx.now);
    let open = !incident.is_resolved();
    let eta_at = state.eta.filter(|_| open && !incident.eta_passed(ctx.now));
    let next_at = state.next_update_at.filter(|_| open && !overdue);
    let shown = |sentence: &Line| {
        if open {
            live::line(sentence, ctx.now)
        } else {
            line(sentence)
        }
    };
    html! {
        ul.honesty data-live-words=[open.then_some(live::words())] {
            li { (line(&facts::owner_line(incident))) }
            li { (line(&facts::cause_line(state))) }
            @if open {
                li class=[incident.eta_passed(ctx.now).then_some("broken")]
                    data-live-at=[eta_at.map(|at| at.to_string())]
                    data-live-then=[eta_at.map(|at| facts::eta_line(incident, at, ctx.tz).to_string())] {
                    (shown(&facts::eta_line(incident, ctx.now, ctx.tz)))
                }
            }
            @if let Some(next) = facts::next_update_line(incident, ctx.now, ctx.tz) {
                li class=[overdue.then_some("broken")]
                    data-live-at=[next_at.map(|at| at.to_string())]
                    data-live-then=[next_at.and_then(|at| facts::next_update_line(incident, at, ctx.tz)).map(|l| l.to_string())] {
                    (shown(&next))
                }
            }
            @if let Some(at) = state.resolved_at.filter(|_| incident.is_resolved()) {
                li {
                    "Resolved " (when(ctx, at)) ", "
                    (facts::duration(state.started_at, at)) " after it began"
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

/// The facts of a maintenance: who, when it is planned (or how it ended),
/// what it affects. An overrun is said as plainly as an overdue update.
fn plan_block(ctx: &PageContext<'_>, incident: &Incident, components: &[Component]) -> Markup {
    let state = &incident.state;
    html! {
        ul.honesty {
            li { (line(&facts::owner_line(incident))) }
            @if let Some(plan) = facts::plan_line(incident, ctx.now, ctx.tz) {
                li class=[incident.overrunning(ctx.now).then_some("broken")] { (line(&plan)) }
            }
            @if let Some(ended) = facts::ended_line(incident, ctx.now, ctx.tz) {
                li { (line(&ended)) }
            }
            @if !state.components.is_empty() {
                li {
                    "Affects: "
                    @for (i, id) in state.components.keys().enumerate() {
                        @if i > 0 { ", " }
                        (component_name(components, id))
                    }
                    @if !incident.is_resolved() { " — under maintenance while the work runs" }
                }
            }
        }
    }
}

/// One timeline entry, untouched, with its correction markers.
pub fn entry(ctx: &PageContext<'_>, record: &IncidentRecord, entry: &Entry) -> Markup {
    entry_with(ctx, record, entry, html! {})
}

/// `entry`, with `extra` at its end (the console's deliveries and its
/// "Correct this entry").
pub fn entry_with(
    ctx: &PageContext<'_>,
    record: &IncidentRecord,
    entry: &Entry,
    extra: Markup,
) -> Markup {
    let corrected_by = record.corrected_by(&entry.id);
    let corrected = record
        .entries
        .iter()
        .find(|e| Some(&e.id) == entry.corrects.as_ref());
    html! {
        li.entry.corrected[corrected_by.is_some()] id={"entry-" (entry.id)} {
            p.meta {
                @let lead = classify::lead(&entry.classes);
                (class_label(lead)) " "
                (when(ctx, entry.posted_at))
                @if lead.label() != entry.state.status.words() {
                    " · " (entry.state.status.words())
                }
                " · " (kind_words(&entry.state))
                @if entry.system { " · posted by " (entry.author) } @else { " · by " (entry.state.owner.name) }
            }
            @if let Some(original) = corrected {
                p.corrects {
                    "Corrects "
                    a href={"/incidents/" (record.incident.id) "#entry-" (original.id)} { "the entry of " (clock(ctx, original.posted_at)) }
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
                    a href={"/incidents/" (record.incident.id) "#entry-" (by.id)} { "the entry of " (clock(ctx, by.posted_at)) }
                    "."
                }
            }
            (extra)
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

/// How much of an incident's timeline a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// Every entry (the incident's own page).
    Timeline,
    /// The newest entry and a link to the others (`/`, where several
    /// incidents share the screen).
    Latest,
}

/// An incident: title, state, the honesty block, then its timeline or its
/// latest entry.
pub fn incident_section(
    ctx: &PageContext<'_>,
    record: &IncidentRecord,
    components: &[Component],
    shown: Shown,
) -> Markup {
    let incident = &record.incident;
    let state = &incident.state;
    let href = format!("/incidents/{}", incident.id);
    html! {
        section class={"incident impact-" (state.impact.as_str())} {
            header {
                // The incident's own page is about it: its title is the page's heading.
                @if shown == Shown::Latest { h2 { a href=(href) { (state.title) } } } @else { h1 { (state.title) } }
                p.state { (state.status.words()) " · " (kind_words(state)) }
            }
            (honesty_block(ctx, incident, components))
            (super::affected::incident_button(incident))
            @match shown {
                Shown::Timeline => {
                    h2 { "Timeline" }
                    (timeline(ctx, record))
                }
                Shown::Latest => {
                    h3 { "Latest update" }
                    ol.timeline {
                        @if let Some(latest) = record.entries.first() { (entry(ctx, record, latest)) }
                    }
                    @match record.earlier_entries() {
                        0 => {},
                        1 => p.earlier { a href=(href) { "1 earlier update" } },
                        n => p.earlier { a href=(href) { (n) " earlier updates" } },
                    }
                }
            }
        }
    }
}

/// "Major impact" for an incident; "Maintenance" for planned work, which
/// has no impact to rate.
fn kind_words(state: &crate::domain::IncidentState) -> &'static str {
    if state.schedule.is_some() {
        "Maintenance"
    } else {
        state.impact.words()
    }
}
