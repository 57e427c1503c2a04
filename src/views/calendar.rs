//! Planned maintenance as an iCalendar feed (RFC 5545) that calendar apps
//! subscribe to: one event per maintenance, the same UID for its whole
//! life, SEQUENCE raised on every move of its plan and on cancelling,
//! CRLF line ends, lines folded at 75 octets.

use jiff::Timestamp;

use crate::domain::{component::Component, IncidentRecord, IncidentStatus};

/// What the calendar needs beside the maintenances.
pub struct Calendar<'a> {
    pub page_name: &'a str,
    pub base_url: &'a str,
    /// The host in every UID, so that UIDs are unique across pages.
    pub host: &'a str,
    /// Every component, for the names in the descriptions.
    pub components: &'a [Component],
}

/// The whole calendar.
pub fn render(calendar: &Calendar<'_>, maintenances: &[IncidentRecord]) -> String {
    let mut out = String::with_capacity(512 + maintenances.len() * 512);
    line(&mut out, "BEGIN:VCALENDAR");
    line(&mut out, "VERSION:2.0");
    line(&mut out, "PRODID:-//Candor//Status page//EN");
    line(&mut out, "CALSCALE:GREGORIAN");
    line(&mut out, "METHOD:PUBLISH");
    line(
        &mut out,
        &format!(
            "X-WR-CALNAME:{}",
            text(&format!("{} — planned maintenance", calendar.page_name))
        ),
    );
    for record in maintenances {
        event(&mut out, calendar, record);
    }
    line(&mut out, "END:VCALENDAR");
    out
}

fn event(out: &mut String, calendar: &Calendar<'_>, record: &IncidentRecord) {
    let incident = &record.incident;
    let state = &incident.state;
    let Some(plan) = &state.schedule else {
        return;
    };
    let cancelled = state.status == IncidentStatus::Cancelled;
    let moves = record.schedule_history().len().saturating_sub(1);
    let url = format!("{}/incidents/{}", calendar.base_url, incident.id);
    let affects: Vec<String> = state
        .components
        .keys()
        .map(|id| {
            calendar
                .components
                .iter()
                .find(|c| &c.id == id)
                .map_or_else(|| id.to_string(), |c| c.name.clone())
        })
        .collect();
    let mut description = format!("Planned maintenance: {}.", state.title);
    if !affects.is_empty() {
        description.push_str(&format!("\nAffects: {}.", affects.join(", ")));
    }
    description.push_str(&format!("\nOwner: {}.", state.owner.name));
    if cancelled {
        description.push_str("\nCancelled: it will not take place.");
    }
    description.push_str(&format!("\nEvery update: {url}"));
    line(out, "BEGIN:VEVENT");
    line(out, &format!("UID:{}@{}", incident.id, calendar.host));
    line(out, &format!("SEQUENCE:{}", moves + usize::from(cancelled)));
    line(out, &format!("DTSTAMP:{}", utc(incident.updated_at)));
    line(out, &format!("LAST-MODIFIED:{}", utc(incident.updated_at)));
    line(out, &format!("DTSTART:{}", utc(plan.scheduled_for)));
    line(out, &format!("DTEND:{}", utc(plan.scheduled_until)));
    line(out, &format!("SUMMARY:{}", text(state.title.as_str())));
    line(out, &format!("DESCRIPTION:{}", text(&description)));
    line(out, &format!("URL:{url}"));
    line(
        out,
        if cancelled {
            "STATUS:CANCELLED"
        } else {
            "STATUS:CONFIRMED"
        },
    );
    line(out, "TRANSP:TRANSPARENT");
    line(out, "END:VEVENT");
}

/// "20260304T120000Z".
fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value, escaped (RFC 5545 3.3.11).
fn text(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            ';' => escaped.push_str("\\;"),
            ',' => escaped.push_str("\\,"),
            '\n' => escaped.push_str("\\n"),
            '\r' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

/// One content line, folded so that no line is longer than 75 octets
/// (a continuation starts with a space), never inside a character.
fn line(out: &mut String, content: &str) {
    let mut width = 0;
    for c in content.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let mut out = String::new();
        let long = format!("SUMMARY:{}", "Wartung für die Ümlaute ".repeat(8));
        line(&mut out, &long);
        for piece in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(piece.len() <= 75, "{} octets: {piece:?}", piece.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded.strip_suffix("\r\n"), Some(long.as_str()));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(text("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
