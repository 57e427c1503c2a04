//! The read model the pages, feeds and payloads are made from: an incident
//! with its timeline, as the store reads it back. It lives here, not in the
//! store, so that whatever renders it needs no storage code.

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
