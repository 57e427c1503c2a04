//! The uptime bars on `/`: per component, one bar per day for 90 days and
//! the share of time without outage. Colour is never the only signal: each
//! bar has its day in words as a tooltip, and the days with an outage or an
//! incident are listed in text under the bars.

use jiff::civil::Date;
use maud::{html, Markup};

use super::PageContext;
use crate::domain::{
    component::Component,
    uptime::{Day, Level, Uptime, DAYS},
};

/// A component and its uptime.
pub struct Row<'a> {
    pub component: &'a Component,
    pub uptime: Uptime<'a>,
}

/// Each top-level component with its members, in the given order; every
/// component once, however stored data nests (see `component::grouped`).
pub fn groups(components: &[Component]) -> Vec<(&Component, Vec<&Component>)> {
    crate::domain::component::grouped(components)
}

/// Components as the page lists them: each top-level one, then its members.
pub fn display_order(components: &[Component]) -> Vec<&Component> {
    groups(components)
        .into_iter()
        .flat_map(|(top, members)| std::iter::once(top).chain(members))
        .collect()
}

/// Rows with daily bars at most. Each costs about 6 KB of markup, so a page
/// of 5,000 components would weigh 30 MB; beyond this, the components
/// outside any group (groups included) get bars, up to this many, and the
/// others are summed up in words.
pub const BARS_AT_MOST: usize = 50;

pub fn section(ctx: &PageContext<'_>, rows: &[Row<'_>]) -> Markup {
    if rows.is_empty() {
        return html! {};
    }
    let (barred, others): (Vec<&Row<'_>>, Vec<&Row<'_>>) = if rows.len() <= BARS_AT_MOST {
        (rows.iter().collect(), Vec::new())
    } else {
        let mut barred = Vec::with_capacity(BARS_AT_MOST);
        let mut others = Vec::with_capacity(rows.len());
        for row in rows {
            if row.component.group_id.is_none() && barred.len() < BARS_AT_MOST {
                barred.push(row);
            } else {
                others.push(row);
            }
        }
        (barred, others)
    };
    html! {
        section.uptime aria-labelledby="uptime-heading" {
            h2.section #uptime-heading { "Uptime over the last " (DAYS) " days" }
            p.legend {
                "One bar per day in " (ctx.tz.iana_name().unwrap_or("UTC")) ", today on the right: "
                span.key.o aria-hidden="true" {} " no outage, "
                span.key.p aria-hidden="true" {} " partial outage, "
                span.key.m aria-hidden="true" {} " major outage, "
                span.key.n aria-hidden="true" {} " not tracked yet. "
                "Uptime is the time without a partial or major outage."
            }
            @for row in barred { (component_row(ctx, row)) }
            @if !others.is_empty() { (in_words(ctx, &others)) }
        }
    }
}

/// The rows without bars: those with an outage or an incident by name,
/// with their uptime and days, the quiet ones counted.
fn in_words(ctx: &PageContext<'_>, rows: &[&Row<'_>]) -> Markup {
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let notable: Vec<(&Row<'_>, Vec<&Day<'_>>)> = rows
        .iter()
        .map(|row| (*row, notable_days(row)))
        .filter(|(_, days)| !days.is_empty())
        .collect();
    let quiet = rows.len() - notable.len();
    html! {
        div.uptime-others {
            h3 { "The other " (rows.len()) " components" }
            @if notable.is_empty() {
                p.quiet { "None of them had an outage or an incident in these " (DAYS) " days." }
            } @else {
                p {
                    (quiet) " of them had no outage and no incident in these " (DAYS) " days; "
                    (notable.len()) " did:"
                }
                ul.uptime-notable {
                    @for (row, days) in &notable {
                        li {
                            span.name { (row.component.name) } ", "
                            (percent_words(&row.uptime)) ": "
                            @let newest = days.last().map(|d| day_words(d, today));
                            @if days.len() == 1 {
                                (newest.unwrap_or_default())
                            } @else {
                                (days_count(days.len())) " with an outage or an incident, the latest "
                                (newest.unwrap_or_default())
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The days of a row that had an outage or an incident, oldest first.
fn notable_days<'r, 'a>(row: &'r Row<'a>) -> Vec<&'r Day<'a>> {
    row.uptime
        .days
        .iter()
        .filter(|d| d.tracked && (d.level() != Level::Operational || !d.incidents.is_empty()))
        .collect()
}

fn component_row(ctx: &PageContext<'_>, row: &Row<'_>) -> Markup {
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let notable = notable_days(row);
    html! {
        div.uptime-row {
            p.uptime-head {
                span.name { (row.component.name) }
                " "
                span.percent { (percent_words(&row.uptime)) }
            }
            div.bars aria-hidden="true" {
                @for run in runs(&row.uptime.days) {
                    span class={"d " (level_class(run.level)) " w" (run.days.len())}
                        title=(run_words(&run, today)) {}
                }
            }
            @if notable.is_empty() {
                @if row.uptime.tracked_days > 0 {
                    p.quiet.uptime-none { "No outages and no incidents in this time." }
                }
            } @else {
                details.uptime-days {
                    summary { (days_count(notable.len())) " with an outage or an incident" }
                    ul {
                        @for day in notable.iter().rev() { li { (day_words(day, today)) } }
                    }
                }
            }
        }
    }
}

/// Days that share one bar: quiet days in a row (no outage and no
/// incident, or not tracked yet) share one; a day with an outage or an
/// incident has a bar of its own, with its words as the tooltip. Ninety
/// bars a row weighed 6 KB of markup per component; runs weigh a few
/// hundred bytes, and the stylesheet still draws one stripe per day.
struct Run<'d, 'a> {
    level: Level,
    days: &'d [Day<'a>],
}

fn runs<'d, 'a>(days: &'d [Day<'a>]) -> Vec<Run<'d, 'a>> {
    let quiet = |d: &Day<'_>| {
        d.incidents.is_empty() && matches!(d.level(), Level::Operational | Level::NoData)
    };
    let mut runs: Vec<Run<'d, 'a>> = Vec::new();
    let mut start = 0;
    for i in 1..=days.len() {
        let ends = i == days.len()
            || !quiet(&days[i])
            || !quiet(&days[start])
            || days[i].level() != days[start].level();
        if ends {
            runs.push(Run {
                level: days[start].level(),
                days: &days[start..i],
            });
            start = i;
        }
    }
    runs
}

/// The tooltip of a run: one day's words, or "Tue 1 Sep – Sun 29 Nov: no
/// outage".
fn run_words(run: &Run<'_, '_>, today: Date) -> String {
    match run.days {
        [day] => day_words(day, today),
        [first, .., last] => {
            let what = if run.level == Level::NoData {
                "not tracked yet"
            } else {
                "no outage"
            };
            format!(
                "{} – {}: {what}",
                date_words(first.date, today),
                date_words(last.date, today)
            )
        }
        [] => String::new(),
    }
}

fn level_class(level: Level) -> &'static str {
    match level {
        Level::NoData => "n",
        Level::Operational => "o",
        Level::Partial => "p",
        Level::Major => "m",
    }
}

fn days_count(n: usize) -> String {
    match n {
        1 => "1 day".to_string(),
        n => format!("{n} days"),
    }
}

/// "99.95% uptime over 90 days", "100% uptime today", "No data yet".
pub fn percent_words(uptime: &Uptime<'_>) -> String {
    let Some(percent) = uptime.percent() else {
        return "No data yet".to_string();
    };
    match uptime.tracked_days {
        1 => format!("{percent} uptime today"),
        n => format!("{percent} uptime over {n} days"),
    }
}

fn minutes(m: i64) -> String {
    if m >= 60 {
        format!("{} h {} min", m / 60, m % 60)
    } else {
        format!("{m} min")
    }
}

fn date_words(date: Date, today: Date) -> String {
    if date.year() == today.year() {
        date.strftime("%a %-d %b").to_string()
    } else {
        date.strftime("%a %-d %b %Y").to_string()
    }
}

/// "Tue 3 Mar: 35 min partial outage, 5 min major outage. Incidents: Delayed
/// outbound email."
pub fn day_words(day: &Day<'_>, today: Date) -> String {
    let date = date_words(day.date, today);
    if !day.tracked {
        return format!("{date}: not tracked yet");
    }
    let mut outages = Vec::new();
    if day.partial_minutes > 0 {
        outages.push(format!("{} partial outage", minutes(day.partial_minutes)));
    }
    if day.major_minutes > 0 {
        outages.push(format!("{} major outage", minutes(day.major_minutes)));
    }
    let mut text = if outages.is_empty() {
        format!("{date}: no outage")
    } else {
        format!("{date}: {}", outages.join(", "))
    };
    if !day.incidents.is_empty() {
        let titles: Vec<&str> = day
            .incidents
            .iter()
            .map(|i| i.state.title.as_str())
            .collect();
        text.push_str(&format!(
            ". Incident{}: {}",
            if titles.len() == 1 { "" } else { "s" },
            titles.join("; ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ComponentStatus;

    fn component(id: &str, group: Option<&str>) -> Component {
        Component {
            id: id.into(),
            name: id.into(),
            description: None,
            group_id: group.map(Into::into),
            position: 0,
            status: ComponentStatus::Operational,
            created_at: jiff::Timestamp::UNIX_EPOCH,
            updated_at: jiff::Timestamp::UNIX_EPOCH,
        }
    }

    /// Every component is listed once, whatever its group says: a member
    /// of a member shows under the top-most group, one of a missing group
    /// at the top, in the order given.
    #[test]
    fn every_component_is_listed_once() {
        let components = [
            component("a", None),
            component("a1", Some("a")),
            component("orphan", Some("gone")),
            component("b", None),
            component("nested", Some("a1")),
            component("a2", Some("a")),
        ];
        let order: Vec<&str> = display_order(&components)
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(order, ["a", "a1", "nested", "a2", "orphan", "b"]);
    }
}
