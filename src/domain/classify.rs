//! What an entry means for the people reading it, derived from its diff
//! (DESIGN.md §1.4). Bad news leads mail subjects and page labels.

use serde::{Deserialize, Serialize};

use super::incident::{ComponentChange, IncidentState};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryClass {
    Opened,
    Reopened,
    Correction,
    OverdueNotice,
    MaintenanceOverrun,
    MaintenanceRescheduled,
    EtaSlipped,
    EtaWithdrawn,
    ImpactRaised,
    ComponentsWorsened,
    MaintenanceCancelled,
    Resolved,
    CauseIdentified,
    EtaSet,
    EtaImproved,
    ImpactLowered,
    ComponentsRecovered,
    OwnerChanged,
    FollowUp,
    Postmortem,
    MaintenanceScheduled,
    MaintenanceReminder,
    MaintenanceStarted,
    MaintenanceCompleted,
    Update,
}

impl EntryClass {
    pub fn is_bad_news(self) -> bool {
        matches!(
            self,
            Self::EtaSlipped
                | Self::EtaWithdrawn
                | Self::ImpactRaised
                | Self::ComponentsWorsened
                | Self::Reopened
                | Self::Correction
                | Self::OverdueNotice
                | Self::MaintenanceOverrun
                // A moved plan is news that people who planned around the
                // old one must not miss, whichever way it moved.
                | Self::MaintenanceRescheduled
        )
    }

    /// The label that leads a subject line or a timeline entry.
    pub fn label(self) -> &'static str {
        match self {
            Self::Opened => "New",
            Self::Reopened => "Reopened",
            Self::Correction => "Correction",
            Self::OverdueNotice => "Overdue",
            Self::EtaSlipped => "ETA slipped",
            Self::EtaWithdrawn => "ETA withdrawn",
            Self::ImpactRaised => "Severity raised",
            Self::ComponentsWorsened => "Worse",
            Self::Resolved => "Resolved",
            Self::CauseIdentified => "Cause identified",
            Self::EtaSet => "ETA set",
            Self::EtaImproved => "ETA earlier",
            Self::ImpactLowered => "Severity lowered",
            Self::ComponentsRecovered => "Recovering",
            Self::OwnerChanged => "New owner",
            Self::FollowUp => "Follow-up",
            Self::Postmortem => "Postmortem",
            Self::MaintenanceScheduled => "Planned maintenance",
            Self::MaintenanceReminder => "Reminder",
            Self::MaintenanceStarted => "Maintenance started",
            Self::MaintenanceRescheduled => "Rescheduled",
            Self::MaintenanceOverrun => "Overrun",
            Self::MaintenanceCompleted => "Completed",
            Self::MaintenanceCancelled => "Cancelled",
            Self::Update => "Update",
        }
    }
}

/// The class that leads: the worst news first, then the most significant.
/// The enum's order is that priority.
pub fn lead(classes: &[EntryClass]) -> EntryClass {
    classes.iter().copied().min().unwrap_or(EntryClass::Update)
}

/// Classes of an entry that moved the incident from `before` to `after`.
/// `before` is `None` for the opening entry.
pub fn classify(
    before: Option<&IncidentState>,
    after: &IncidentState,
    components: &[ComponentChange],
) -> Vec<EntryClass> {
    use crate::domain::IncidentStatus::Resolved;
    let Some(before) = before else {
        return vec![EntryClass::Opened];
    };
    let mut classes = Vec::new();
    match (before.status == Resolved, after.status == Resolved) {
        (true, false) => classes.push(EntryClass::Reopened),
        (false, true) => classes.push(EntryClass::Resolved),
        _ => {}
    }
    if after.cause.is_some() && after.cause != before.cause {
        classes.push(EntryClass::CauseIdentified);
    }
    match (before.eta, after.eta) {
        (None, Some(_)) => classes.push(EntryClass::EtaSet),
        (Some(_), None) => classes.push(EntryClass::EtaWithdrawn),
        (Some(old), Some(new)) if new > old => classes.push(EntryClass::EtaSlipped),
        (Some(old), Some(new)) if new < old => classes.push(EntryClass::EtaImproved),
        _ => {}
    }
    if after.impact.rank() > before.impact.rank() {
        classes.push(EntryClass::ImpactRaised);
    } else if after.impact.rank() < before.impact.rank() {
        classes.push(EntryClass::ImpactLowered);
    }
    if components
        .iter()
        .any(|c| c.new_status.severity() > c.old_status.severity())
    {
        classes.push(EntryClass::ComponentsWorsened);
    }
    if components
        .iter()
        .any(|c| c.new_status.severity() < c.old_status.severity())
    {
        classes.push(EntryClass::ComponentsRecovered);
    }
    if after.owner != before.owner {
        classes.push(EntryClass::OwnerChanged);
    }
    if classes.is_empty() {
        classes.push(EntryClass::Update);
    }
    classes.sort();
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_news_leads() {
        let classes = [
            EntryClass::CauseIdentified,
            EntryClass::EtaSlipped,
            EntryClass::Update,
        ];
        assert_eq!(lead(&classes), EntryClass::EtaSlipped);
        assert_eq!(lead(&[EntryClass::Resolved]), EntryClass::Resolved);
        assert_eq!(lead(&[]), EntryClass::Update);
    }

    #[test]
    fn every_bad_news_class_outranks_every_good_news_class() {
        use EntryClass::*;
        let all = [
            Opened,
            Reopened,
            Correction,
            OverdueNotice,
            EtaSlipped,
            EtaWithdrawn,
            ImpactRaised,
            ComponentsWorsened,
            Resolved,
            CauseIdentified,
            EtaSet,
            EtaImproved,
            ImpactLowered,
            ComponentsRecovered,
            OwnerChanged,
            FollowUp,
            Postmortem,
            MaintenanceScheduled,
            MaintenanceReminder,
            MaintenanceStarted,
            MaintenanceRescheduled,
            MaintenanceOverrun,
            MaintenanceCompleted,
            MaintenanceCancelled,
            Update,
        ];
        for bad in all.iter().filter(|c| c.is_bad_news()) {
            for good in all.iter().filter(|c| !c.is_bad_news() && **c != Opened) {
                assert_eq!(lead(&[*good, *bad]), *bad, "{bad:?} must lead {good:?}");
            }
        }
    }
}
