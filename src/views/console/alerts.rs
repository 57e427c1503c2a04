//! `/admin/alerts`: every monitoring alert as it came, newest first, and
//! what became of it, unmapped ones too. Staff only: nothing here is
//! published.

use maud::{html, Markup};

use super::{layout, Console};
use crate::domain::alerts::{AlertEvent, AlertStatus, Outcome};
use crate::views::parts;

/// One alert, as the page lists it.
pub struct AlertRow<'a> {
    pub event: &'a AlertEvent,
    /// Its component's name, if it named one Candor knows.
    pub component: Option<&'a str>,
}

/// What became of an alert, in words.
pub fn outcome_words(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Opened => "Opened an incident",
        Outcome::Worsened => "Said the incident got worse",
        Outcome::Returned => "Put the incident back to investigating",
        Outcome::Monitoring => "All alerts cleared: incident moved to monitoring",
        Outcome::Joined => "Joined its incident; nothing new to say",
        Outcome::Cleared => "Cleared; nothing posted",
        Outcome::Duplicate => "A repeat; nothing posted",
        Outcome::Unmapped => "Names no component Candor knows; not published",
        Outcome::NoOwner => "Nobody on call (alerts.owner); not published",
        Outcome::Maintenance => "Its component is under maintenance; not published",
        Outcome::PersonInCharge => "A person runs its incident; not posted",
    }
}

pub fn page(c: &Console<'_>, rows: &[AlertRow<'_>], older: Option<&str>) -> Markup {
    layout(
        c,
        "Alerts",
        html! {
            h1 { "Alerts" }
            p.quiet { "Every alert monitoring sent, and what Candor did with it. Only staff see this page." }
            table.board {
                thead { tr { th { "When" } th { "From" } th { "Alert" } th { "Status" } th { "Component" } th { "What happened" } } }
                tbody {
                    @for row in rows {
                        @let event = row.event;
                        tr {
                            td { (parts::when(&c.page, event.received_at)) }
                            td data-label="From" { (event.origin) }
                            td { (event.summary.as_deref().unwrap_or(&event.key)) }
                            td { @match event.status { AlertStatus::Firing => "Firing", AlertStatus::Resolved => "Resolved" } }
                            td data-label="Component" { (row.component.unwrap_or("—")) }
                            td {
                                (outcome_words(event.outcome))
                                @if let Some(id) = &event.incident_id {
                                    " · " a href={ "/admin/incidents/" (id) } { "incident" }
                                }
                            }
                        }
                    }
                }
            }
            @if rows.is_empty() { p { "No alert has come yet." } }
            @if let Some(before) = older { p { a href={ "/admin/alerts?before=" (before) } { "Older" } } }
        },
    )
}
