//! The read model the pages, feeds and payloads are made from: an incident
//! with its timeline, as the store reads it back. It lives here, not in the
//! store, so that whatever renders it needs no storage code.

use std::cmp::Reverse;

use super::{Entry, EntryId, Incident};

/// An incident with its whole timeline, newest entry first.
#[derive(Debug, Clone)]
pub struct IncidentRecord {
    pub incident: Incident,
    pub entries: Vec<Entry>,
}

impl IncidentRecord {
    /// The entry that corrects `entry_id`, if any (the newest one).
    pub fn corrected_by(&self, entry_id: &EntryId) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.corrects.as_ref() == Some(entry_id))
    }
}

impl IncidentRecord {
    /// How much this incident hurts, for ordering: the impact, then the
    /// worst status it gives a component.
    fn weight(&self) -> (u8, u8) {
        let state = &self.incident.state;
        let worst = state
            .components
            .values()
            .map(|s| s.severity())
            .max()
            .unwrap_or(0);
        (state.impact.rank(), worst)
    }

    /// The entries before the newest one.
    pub fn earlier_entries(&self) -> usize {
        self.entries.len().saturating_sub(1)
    }
}

/// Open incidents as readers need them: the worst first (impact, then the
/// worst component status), and among equals the one that began first.
pub fn worst_first(records: &mut [IncidentRecord]) {
    records.sort_by_key(|r| (Reverse(r.weight()), r.incident.state.started_at));
}
