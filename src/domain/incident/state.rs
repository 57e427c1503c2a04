//! What an incident is: its state after each entry, its entries, and the
//! promises it makes.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::domain::classify::EntryClass;
use crate::domain::{
    Cause, ComponentId, ComponentStatus, EntryId, IncidentId, Message, Owner, Title,
};

/// A promised next update may be at most this far ahead.
pub const MAX_NEXT_UPDATE: SignedDuration = SignedDuration::from_hours(7 * 24);
/// An ETA further ahead than this is not an estimate.
pub const MAX_ETA: SignedDuration = SignedDuration::from_hours(365 * 24);
/// The latest a follow-up may be promised: a month says "we will explain",
/// a date years away says nothing.
pub const MAX_FOLLOW_UP: SignedDuration = SignedDuration::from_hours(30 * 24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incident,
    Maintenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn rank(self) -> u8 {
        self as u8
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Self::None => "No impact",
            Self::Minor => "Minor impact",
            Self::Major => "Major impact",
            Self::Critical => "Critical impact",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
    /// Maintenance: announced, not begun.
    Scheduled,
    /// Maintenance: the work is being done.
    InProgress,
    /// Maintenance: done, being checked.
    Verifying,
    /// Maintenance: finished (final).
    Completed,
    /// Maintenance: called off (final).
    Cancelled,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
            Self::Scheduled => "scheduled",
            Self::InProgress => "in_progress",
            Self::Verifying => "verifying",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Self::Investigating => "Investigating",
            Self::Identified => "Identified",
            Self::Monitoring => "Monitoring",
            Self::Resolved => "Resolved",
            Self::Scheduled => "Planned",
            Self::InProgress => "In progress",
            Self::Verifying => "Verifying",
            Self::Completed => "Completed",
            Self::Cancelled => "Cancelled",
        }
    }
    /// Nothing follows: resolved, or a maintenance completed or cancelled.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Resolved | Self::Completed | Self::Cancelled)
    }
    /// A status of maintenance, not of an incident.
    pub fn is_maintenance(self) -> bool {
        matches!(
            self,
            Self::Scheduled
                | Self::InProgress
                | Self::Verifying
                | Self::Completed
                | Self::Cancelled
        )
    }
    /// How far along a maintenance is; statuses never go back.
    pub fn step(self) -> u8 {
        match self {
            Self::Scheduled => 0,
            Self::InProgress => 1,
            Self::Verifying => 2,
            Self::Completed | Self::Cancelled => 3,
            _ => 0,
        }
    }
}

/// The state of an incident after an entry: what the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentState {
    pub title: Title,
    pub impact: Impact,
    pub status: IncidentStatus,
    pub owner: Owner,
    /// `None`: not yet known.
    pub cause: Option<Cause>,
    /// `None`: no ETA yet.
    pub eta: Option<Timestamp>,
    /// `None` only once resolved.
    pub next_update_at: Option<Timestamp>,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub follow_up_at: Option<Timestamp>,
    /// Affected components and the status this incident gives them.
    pub components: BTreeMap<ComponentId, ComponentStatus>,
    /// The broken promise (its time) that Candor has already said is late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_noticed: Option<Timestamp>,
    /// When the follow-up (postmortem) promised on resolving was posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_posted_at: Option<Timestamp>,
    /// A maintenance's plan (`None` for incidents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::domain::maintenance::Schedule>,
}

/// One change of ETA, kept forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EtaChange {
    pub eta: Option<Timestamp>,
    pub changed_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComponentChange {
    pub id: ComponentId,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub kind: Kind,
    pub state: IncidentState,
    pub eta_history: Vec<EtaChange>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Sequence number of the newest entry.
    pub last_seq: i64,
}

/// A field's value before and after an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// What an entry changed, field by field (components are in `Entry::components`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Diff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Change<IncidentStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Change<Impact>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Change<Title>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Change<Owner>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Change<Option<Cause>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<Change<Option<Timestamp>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update_at: Option<Change<Option<Timestamp>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Change<Timestamp>>,
    /// A maintenance's planned window, when it moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Change<Option<crate::domain::maintenance::Window>>>,
}

fn change<T: PartialEq + Clone>(from: &T, to: &T) -> Option<Change<T>> {
    (from != to).then(|| Change {
        from: from.clone(),
        to: to.clone(),
    })
}

impl Diff {
    pub fn between(before: &IncidentState, after: &IncidentState) -> Diff {
        Diff {
            status: change(&before.status, &after.status),
            impact: change(&before.impact, &after.impact),
            title: change(&before.title, &after.title),
            owner: change(&before.owner, &after.owner),
            cause: change(&before.cause, &after.cause),
            eta: change(&before.eta, &after.eta),
            next_update_at: change(&before.next_update_at, &after.next_update_at),
            started_at: change(&before.started_at, &after.started_at),
            schedule: change(
                &before.schedule.as_ref().map(|s| s.window()),
                &after.schedule.as_ref().map(|s| s.window()),
            ),
        }
    }
}

/// One timeline item. Never changed once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    pub incident_id: IncidentId,
    pub seq: i64,
    pub classes: Vec<EntryClass>,
    pub author: String,
    pub posted_at: Timestamp,
    pub message: Message,
    /// The incident's state right after this entry.
    pub state: IncidentState,
    /// What this entry changed against the state before it.
    pub diff: Diff,
    /// Components whose public status this entry changed.
    pub components: Vec<ComponentChange>,
    pub corrects: Option<EntryId>,
    pub system: bool,
}

/// A promise made to users that Candor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promise {
    /// The next update: due at the promised time (owner reminded).
    NextUpdate,
    /// Still not kept after the grace period: the system entry.
    OverdueNotice,
    /// The ETA: reminder to set a new one or withdraw it.
    Eta,
    /// The follow-up after resolving.
    FollowUp,
    /// A reminder to subscribers before a maintenance starts (promised
    /// time: the reminder's own).
    MaintenanceReminder,
    /// A maintenance's start (promised time: `scheduled_for`).
    MaintenanceStart,
    /// A maintenance's planned end (promised time: `scheduled_until`):
    /// completed by Candor when `auto_complete`, else the owner reminded.
    MaintenanceEnd,
    /// Still running after the grace: Candor says so to subscribers.
    MaintenanceOverrun,
}
