//! The HTML inside feed items: what an entry says, and Candor's notice of a
//! broken promise. The feeds themselves (Atom, RSS) are built in
//! `http::feeds`; these are the words and markup of each item.

use jiff::{tz::TimeZone, Timestamp};
use maud::{html, Markup};

use super::markdown;
use crate::domain::{facts, Entry, Incident, IncidentRecord};

/// An entry as a feed item's content: status, facts, components, the
/// message, and the corrections either way.
pub fn entry(record: &IncidentRecord, entry: &Entry, now: Timestamp, tz: &TimeZone) -> Markup {
    let corrected = entry
        .corrects
        .as_ref()
        .and_then(|id| record.entries.iter().find(|e| &e.id == id));
    let corrected_by = record.corrected_by(&entry.id);
    html! {
        p {
            "Status: " (entry.state.status.words()) " · " (entry.state.impact.words())
            " · Owner: " (entry.state.owner.name)
        }
        p { (facts::entry_facts(&entry.state, now, tz).to_string()) }
        @if let Some(original) = corrected {
            p { "Corrects the entry of " (facts::when(original.posted_at, now, tz)) "." }
        }
        @if !entry.components.is_empty() {
            ul {
                @for change in &entry.components {
                    li {
                        (change.name) ": " (change.old_status.words().to_lowercase())
                        " → " (change.new_status.words().to_lowercase())
                    }
                }
            }
        }
        (markdown::render(entry.message.as_str()))
        @if let Some(by) = corrected_by {
            p { "Corrected by the entry of " (facts::when(by.posted_at, now, tz)) "." }
        }
        @if entry.system { p { "Posted by " (entry.author) "." } }
    }
}

/// Candor's notice that a promise of an open incident is broken, marked as
/// Candor's, never dressed up as a staff update.
pub fn notice(incident: &Incident, broken: &facts::Broken) -> Markup {
    html! {
        p { strong { (broken.line.to_string()) "." } }
        p {
            "Status: " (incident.state.status.words()) " · " (incident.state.impact.words())
            " · Owner: " (incident.state.owner.name)
        }
        p {
            "This is a notice from Candor, not an update from staff. "
            (broken.until)
        }
    }
}
