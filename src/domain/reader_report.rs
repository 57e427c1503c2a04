//! A reader's "I'm affected" (DESIGN.md §2, "Reader report"): on a
//! component or an open incident, counted once per reader and subject an
//! hour. Reports on a component Candor shows as working, with no open
//! incident on it, are the earliest sign of an outage no monitor caught:
//! staff are told of those, at most once an hour per component.
//!
//! A report on an incident counts for the incident only, not for its
//! components: the incident already says they are affected, and staff read
//! the incident's count beside it.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{ComponentId, ComponentStatus, Incident, IncidentId, IncidentStatus};

/// A reader's reports on one subject count once in this time.
pub const COUNTED_ONCE_PER: SignedDuration = SignedDuration::from_hours(1);
/// Staff are mailed about one component at most once in this time.
pub const STAFF_TOLD_AT_MOST_EVERY: SignedDuration = SignedDuration::from_hours(1);
/// How far back staff are shown reports (`/api/v1/reports`, `/api/v1/owed`).
pub const LOOKED_AT: SignedDuration = SignedDuration::from_hours(24);
/// Reports are deleted after this.
pub const KEPT_FOR: SignedDuration = SignedDuration::from_hours(30 * 24);

/// What a reader reports as affecting them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Component(ComponentId),
    Incident(IncidentId),
}

impl Subject {
    /// How the kind is stored and shown to staff.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Component(_) => "component",
            Self::Incident(_) => "incident",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::Component(id) => id.as_str(),
            Self::Incident(id) => id.as_str(),
        }
    }

    /// Back from its stored kind and id.
    pub fn parse(kind: &str, id: String) -> Option<Self> {
        match kind {
            "component" => Some(Self::Component(ComponentId::new(id))),
            "incident" => Some(Self::Incident(IncidentId::new(id))),
            _ => None,
        }
    }
}

/// A reader as the once-an-hour rule knows them: a keyed hash of their
/// network address. The address itself is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderKey(String);

impl ReaderKey {
    pub fn new(hash: impl Into<String>) -> Self {
        Self(hash.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a report led to. A reader is told the same whether it was counted
/// or not, so nobody learns what others reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// Taken: the subject's name (or title); counted unless this reader
    /// had reported it within the hour; staff mailed about it.
    Taken {
        name: String,
        counted: bool,
        staff_told: bool,
    },
    /// The incident is resolved: nothing was recorded.
    Resolved,
}

/// Whether an incident takes reports: while it is open, or, for planned
/// work, while it runs.
pub fn takes_reports(incident: &Incident) -> bool {
    !incident.is_resolved() && incident.state.status != IncidentStatus::Scheduled
}

/// Whether readers' reports on a component are news to staff: Candor shows
/// it (and, for a group, every member) as operational, and no open
/// incident names it, its group or one of its members.
pub fn unseen(statuses: impl IntoIterator<Item = ComponentStatus>, covered: bool) -> bool {
    !covered
        && statuses
            .into_iter()
            .all(|status| status == ComponentStatus::Operational)
}

/// From when reports on a component count for staff: the last 24 hours,
/// but none from before its status last changed (those were about an
/// outage the page has shown since).
pub fn counted_since(now: Timestamp, status_changed_at: Option<Timestamp>) -> Timestamp {
    let day = now - LOOKED_AT;
    status_changed_at.map_or(day, |at| day.max(at))
}

/// What staff are told: `count` reports on a component Candor shows as
/// working, the first at `since`. Kept in the outbox as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadersAffected {
    pub component_id: ComponentId,
    pub name: String,
    pub count: i64,
    pub since: Timestamp,
    /// The latest report.
    pub last: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_working_component_no_incident_names_is_news() {
        use ComponentStatus::*;
        assert!(unseen([Operational], false));
        assert!(unseen([Operational, Operational], false));
        assert!(!unseen([Operational], true), "an open incident names it");
        assert!(!unseen([PartialOutage], false), "the page shows it already");
        assert!(
            !unseen([Operational, MajorOutage], false),
            "a member is down"
        );
    }

    #[test]
    fn reports_count_from_the_last_status_change_within_a_day() {
        let now: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        let long_ago: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(counted_since(now, Some(long_ago)), now - LOOKED_AT);
        assert_eq!(counted_since(now, None), now - LOOKED_AT);
        let recent: Timestamp = "2026-03-04T08:00:00Z".parse().unwrap();
        assert_eq!(counted_since(now, Some(recent)), recent);
    }

    #[test]
    fn a_subject_reads_back_from_its_stored_kind() {
        let component = Subject::Component(ComponentId::new("c1"));
        assert_eq!(
            Subject::parse(component.kind(), component.id().into()),
            Some(component)
        );
        let incident = Subject::Incident(IncidentId::new("i1"));
        assert_eq!(
            Subject::parse(incident.kind(), incident.id().into()),
            Some(incident)
        );
        assert_eq!(Subject::parse("group", "g".into()), None);
    }
}
