//! What staff (or Candor) ask of an incident, and the facts from outside
//! it that a command is decided on.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use super::MAX_NEXT_UPDATE;
use crate::domain::{
    Cause, ComponentId, ComponentStatus, DomainError, EntryId, Impact, IncidentStatus, Message,
    Owner, Title,
};

/// When the next update will come, as the client said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextUpdate {
    At(Timestamp),
    InMinutes(i64),
}

impl NextUpdate {
    /// The absolute time, checked: in the future and at most 7 days ahead.
    pub fn resolve(self, now: Timestamp) -> Result<Timestamp, DomainError> {
        let field = "next_update_at";
        let at = match self {
            NextUpdate::At(at) => whole_ms(at),
            NextUpdate::InMinutes(minutes) => {
                if minutes < 1 || minutes > MAX_NEXT_UPDATE.as_mins() {
                    return Err(DomainError::new(
                        field,
                        "next_update_in must be between 1 and 10080 minutes (7 days)",
                    ));
                }
                now + SignedDuration::from_mins(minutes)
            }
        };
        if at <= now {
            return Err(DomainError::new(field, "must be in the future"));
        }
        if at.duration_since(now) > MAX_NEXT_UPDATE {
            return Err(DomainError::new(
                field,
                "must be at most 7 days ahead: promise an update people can rely on",
            ));
        }
        Ok(at)
    }
}

/// A field that an update may leave alone, clear, or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// Absent (via `#[serde(default)]`) keeps, `null` clears, a value sets.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Patch::Clear,
            Some(value) => Patch::Set(value),
        })
    }
}

impl<T: Clone> Patch<T> {
    /// The field after the update.
    pub(super) fn apply_to(&self, current: &Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current.clone(),
            Patch::Clear => None,
            Patch::Set(value) => Some(value.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenIncident {
    pub title: Title,
    pub impact: Impact,
    pub status: IncidentStatus,
    pub owner: Owner,
    pub cause: Option<Cause>,
    pub eta: Option<Timestamp>,
    pub next_update: Option<NextUpdate>,
    pub components: BTreeMap<ComponentId, ComponentStatus>,
    pub message: Message,
    pub started_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct PostUpdate {
    pub status: Option<IncidentStatus>,
    pub impact: Option<Impact>,
    pub title: Option<Title>,
    pub owner: Option<Owner>,
    pub cause: Patch<Cause>,
    pub eta: Patch<Timestamp>,
    pub next_update: Option<NextUpdate>,
    pub components: BTreeMap<ComponentId, ComponentStatus>,
    pub message: Message,
    pub follow_up_at: Option<Timestamp>,
}

/// A correction names the entry it corrects and may fix what was said wrongly.
#[derive(Debug, Clone)]
pub struct PostCorrection {
    pub corrects: EntryId,
    pub message: Message,
    pub title: Option<Title>,
    pub impact: Option<Impact>,
    pub cause: Patch<Cause>,
    pub started_at: Option<Timestamp>,
}

/// The follow-up after resolving: what happened and what will change.
#[derive(Debug, Clone)]
pub struct PostPostmortem {
    pub message: Message,
}

#[derive(Debug, Clone)]
pub enum Command {
    Update(PostUpdate),
    Correction(PostCorrection),
    Postmortem(PostPostmortem),
    Maintenance(crate::domain::maintenance::MaintenanceUpdate),
}

/// `at` to the whole millisecond, as Candor keeps every time: a time sent
/// with microseconds (Python's `isoformat()`) would otherwise differ from
/// the same time read back from a timed job, and its promise never be kept.
pub fn whole_ms(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

impl OpenIncident {
    /// Its times to the whole millisecond (`whole_ms`).
    pub fn in_whole_ms(mut self) -> Self {
        self.eta = self.eta.map(whole_ms);
        self.started_at = self.started_at.map(whole_ms);
        self
    }
}

impl PostUpdate {
    /// Its times to the whole millisecond (`whole_ms`).
    pub fn in_whole_ms(mut self) -> Self {
        if let Patch::Set(eta) = self.eta {
            self.eta = Patch::Set(whole_ms(eta));
        }
        self.follow_up_at = self.follow_up_at.map(whole_ms);
        self
    }
}

impl PostCorrection {
    /// Its times to the whole millisecond (`whole_ms`).
    pub fn in_whole_ms(mut self) -> Self {
        self.started_at = self.started_at.map(whole_ms);
        self
    }
}

/// Facts from outside the incident that a command needs: passed in, never read.
pub struct Context<'a> {
    pub now: Timestamp,
    pub author: &'a str,
    pub entry_id: EntryId,
    /// Every component: id → (name, current public status).
    pub components: &'a BTreeMap<ComponentId, (String, ComponentStatus)>,
    /// Ids of the incident's entries, for corrections.
    pub entry_ids: &'a BTreeSet<EntryId>,
    /// Per component, the worst status another open incident gives it: what
    /// a component goes back to when this incident resolves.
    pub held_elsewhere: &'a BTreeMap<ComponentId, ComponentStatus>,
    pub follow_up_after: SignedDuration,
}

/// What a write knows before it reads anything: when it happens, who
/// writes, the id its entry will have, and how long until a follow-up.
#[derive(Debug, Clone)]
pub struct Write {
    pub now: Timestamp,
    pub author: String,
    pub entry_id: EntryId,
    pub follow_up_after: SignedDuration,
}

impl Write {
    /// The context of the write, once the store has read what it needs.
    pub fn context<'a>(
        &'a self,
        components: &'a BTreeMap<ComponentId, (String, ComponentStatus)>,
        entry_ids: &'a BTreeSet<EntryId>,
        held_elsewhere: &'a BTreeMap<ComponentId, ComponentStatus>,
    ) -> Context<'a> {
        Context {
            now: self.now,
            author: &self.author,
            entry_id: self.entry_id.clone(),
            components,
            entry_ids,
            held_elsewhere,
            follow_up_after: self.follow_up_after,
        }
    }
}
