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

/// Components as the page lists them: each top-level one, then its members.
pub fn display_order(components: &[Component]) -> Vec<&Component> {
    crate::domain::component::grouped(components)
        .into_iter()
        .flat_map(|(top, members)| std::iter::once(top).chain(members))
        .collect()
}

pub fn section(ctx: &PageContext<'_>, rows: &[Row<'_>]) -> Markup {
    if rows.is_empty() {
        return html! {};
    }
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
            @for row in rows { (component_row(ctx, row)) }
        }
    }
}

fn component_row(ctx: &PageContext<'_>, row: &Row<'_>) -> Markup {
    let today = ctx.now.to_zoned(ctx.tz.clone()).date();
    let notable: Vec<&Day> = row
        .uptime
        .days
        .iter()
        .filter(|d| d.tracked && (d.level() != Level::Operational || !d.incidents.is_empty()))
        .collect();
    html! {
        div.uptime-row {
            p.uptime-head {
                span.name { (row.component.name) }
                " "
                span.percent { (percent_words(&row.uptime)) }
            }
            div.bars aria-hidden="true" {
                @for day in &row.uptime.days {
                    span class={"d " (level_class(day.level()))} title=(day_words(day, today)) {}
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
