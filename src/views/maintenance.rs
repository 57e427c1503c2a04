//! What mails say about planned work: subjects that say the plan (and,
//! when it moved, the old one), and the plan among the facts.

use jiff::tz::TimeZone;

use crate::domain::{
    classify::lead,
    facts::{self, when},
    Entry, EntryClass, IncidentStatus,
};

/// The subject of a maintenance's mail; `None` for an incident's.
pub fn subject(entry: &Entry, tz: &TimeZone) -> Option<String> {
    let plan = entry.state.schedule.as_ref()?;
    let now = entry.posted_at;
    let (from, until) = (plan.scheduled_for, plan.scheduled_until);
    let class = lead(&entry.classes);
    let fact = match class {
        EntryClass::MaintenanceScheduled => facts::span(from, until, now, tz),
        EntryClass::MaintenanceReminder => match facts::relative(from, now) {
            Some(rel) => format!("starts at {} ({rel})", when(from, now, tz)),
            None => format!("starts {}", facts::span(from, until, now, tz)),
        },
        EntryClass::MaintenanceStarted => {
            format!("started, planned to end at {}", when(until, now, tz))
        }
        EntryClass::MaintenanceRescheduled => match was(entry, tz) {
            Some(was) => format!("now {}, was {was}", facts::span(from, until, now, tz)),
            None => format!("now {}", facts::span(from, until, now, tz)),
        },
        EntryClass::MaintenanceOverrun => format!(
            "planned to end at {}, still in progress",
            when(until, now, tz)
        ),
        EntryClass::MaintenanceCompleted if entry.system => {
            format!("completed at {} as planned", when(now, now, tz))
        }
        EntryClass::MaintenanceCompleted if now < until => format!(
            "completed at {}, {} early",
            when(now, now, tz),
            facts::duration(now, until)
        ),
        EntryClass::MaintenanceCompleted => format!("completed at {}", when(now, now, tz)),
        EntryClass::MaintenanceCancelled => "cancelled: it will not take place".into(),
        EntryClass::Correction => "an earlier entry was wrong".into(),
        EntryClass::OwnerChanged => format!("now owned by {}", entry.state.owner.name),
        _ => entry.state.status.words().to_lowercase(),
    };
    let label = match class {
        EntryClass::Update => "Update",
        c => c.label(),
    };
    Some(format!("[{label}] {} — {fact}", entry.state.title))
}

/// The facts of a maintenance's entry, one per line; `None` for an
/// incident's.
pub fn fact_lines(entry: &Entry, tz: &TimeZone) -> Option<Vec<String>> {
    let plan = entry.state.schedule.as_ref()?;
    let state = &entry.state;
    let now = entry.posted_at;
    let mut lines = vec![format!("Status: {}", state.status.words())];
    let planned = facts::span(plan.scheduled_for, plan.scheduled_until, now, tz);
    lines.push(match (was(entry, tz), state.status) {
        (_, IncidentStatus::Cancelled) => format!("Was planned for {planned}"),
        (Some(was), _) => format!("Planned: {planned} (was {was})"),
        (None, _) => format!("Planned: {planned}"),
    });
    lines.push(format!("Owner: {}", state.owner.name));
    lines.extend(super::mail::changed_line(entry));
    Some(lines)
}

/// The window before this entry moved it, in words.
fn was(entry: &Entry, tz: &TimeZone) -> Option<String> {
    let window = entry.diff.schedule.as_ref()?.from?;
    Some(facts::span(
        window.scheduled_for,
        window.scheduled_until,
        entry.posted_at,
        tz,
    ))
}
