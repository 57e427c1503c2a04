//! The rules of planned work, decided without I/O.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::domain::incident::{Command, Context};
use crate::domain::{Email, EntryId, PersonName};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct World {
    components: BTreeMap<ComponentId, (String, ComponentStatus)>,
    entry_ids: BTreeSet<EntryId>,
    held_elsewhere: BTreeMap<ComponentId, ComponentStatus>,
}

impl World {
    fn new() -> Self {
        let mut components = BTreeMap::new();
        components.insert("vpn".into(), ("VPN".into(), ComponentStatus::Operational));
        Self {
            components,
            entry_ids: BTreeSet::new(),
            held_elsewhere: BTreeMap::new(),
        }
    }

    fn ctx(&self, now: Timestamp) -> Context<'_> {
        Context {
            now,
            author: "dana",
            entry_id: EntryId::new("e"),
            components: &self.components,
            entry_ids: &self.entry_ids,
            held_elsewhere: &self.held_elsewhere,
            follow_up_after: SignedDuration::from_hours(24),
        }
    }
}

fn plan(from: &str, until: &str) -> ScheduleMaintenance {
    ScheduleMaintenance {
        title: Title::parse("VPN gateway upgrade").unwrap(),
        scheduled_for: t(from),
        scheduled_until: t(until),
        components: vec!["vpn".into()],
        owner: Owner {
            name: PersonName::parse("Dana (IT Ops)").unwrap(),
            email: Email::parse("dana@acme.test").unwrap(),
        },
        message: Message::parse("Planned.").unwrap(),
        remind_before: None,
        auto_complete: false,
    }
}

fn update(status: Option<IncidentStatus>) -> Command {
    Command::Maintenance(MaintenanceUpdate {
        status,
        scheduled_for: None,
        scheduled_until: None,
        owner: None,
        message: Message::parse("Update.").unwrap(),
    })
}

const NOW: &str = "2026-03-04T09:00:00Z";

fn scheduled(world: &World) -> Incident {
    let (m, entry) = Incident::schedule(
        "m".into(),
        plan("2026-03-04T12:00:00Z", "2026-03-04T13:00:00Z"),
        &world.ctx(t(NOW)),
    )
    .unwrap();
    assert_eq!(entry.classes, [EntryClass::MaintenanceScheduled]);
    assert!(
        entry.components.is_empty(),
        "nothing changes before it starts"
    );
    m
}

#[test]
fn a_plan_starts_in_the_future_ends_after_it_starts_and_within_a_year() {
    let world = World::new();
    let ctx = world.ctx(t(NOW));
    let refused = |from: &str, until: &str| {
        Incident::schedule("m".into(), plan(from, until), &ctx)
            .unwrap_err()
            .field
    };
    assert_eq!(
        refused("2026-03-04T08:00:00Z", "2026-03-04T13:00:00Z"),
        "scheduled_for"
    );
    assert_eq!(
        refused("2026-03-04T12:00:00Z", "2026-03-04T12:00:00Z"),
        "scheduled_until"
    );
    assert_eq!(
        refused("2027-03-01T00:00:00Z", "2027-03-05T00:00:00Z"),
        "scheduled_until"
    );
    let mut bad = plan("2026-03-04T12:00:00Z", "2026-03-04T13:00:00Z");
    bad.remind_before = Some(vec![0]);
    assert_eq!(
        Incident::schedule("m".into(), bad, &ctx).unwrap_err().field,
        "remind_before"
    );
    let mut unknown = plan("2026-03-04T12:00:00Z", "2026-03-04T13:00:00Z");
    unknown.components = vec!["nope".into()];
    assert_eq!(
        Incident::schedule("m".into(), unknown, &ctx)
            .unwrap_err()
            .field,
        "components"
    );
}

#[test]
fn it_starts_at_its_time_and_puts_its_components_under_maintenance() {
    let world = World::new();
    let m = scheduled(&world);
    assert_eq!(
        m.promises(),
        [
            (Promise::MaintenanceReminder, t("2026-03-04T11:00:00Z")),
            (Promise::MaintenanceStart, t("2026-03-04T12:00:00Z")),
            (Promise::MaintenanceEnd, t("2026-03-04T13:00:00Z")),
        ]
    );
    let message = Message::parse("Begun.").unwrap();
    let early = world.ctx(t("2026-03-04T11:59:00Z"));
    // A start promised for another time (a stale job) does nothing.
    assert!(m
        .maintenance_step(
            Step::Start,
            t("2026-03-04T10:00:00Z"),
            message.clone(),
            &early
        )
        .is_none());
    let ctx = world.ctx(t("2026-03-04T12:00:00Z"));
    let (started, entry) = m
        .maintenance_step(Step::Start, t("2026-03-04T12:00:00Z"), message, &ctx)
        .unwrap();
    assert_eq!(started.state.status, IncidentStatus::InProgress);
    assert_eq!(entry.classes, [EntryClass::MaintenanceStarted]);
    assert!(entry.system);
    assert_eq!(
        entry.components[0].new_status,
        ComponentStatus::UnderMaintenance
    );
    // Reminders are over once it has begun.
    assert_eq!(
        started.promises(),
        [(Promise::MaintenanceEnd, t("2026-03-04T13:00:00Z"))]
    );
}

#[test]
fn planned_work_never_hides_an_outage() {
    let mut world = World::new();
    let m = scheduled(&world);
    world
        .components
        .get_mut(&ComponentId::new("vpn"))
        .unwrap()
        .1 = ComponentStatus::MajorOutage;
    let ctx = world.ctx(t("2026-03-04T12:00:00Z"));
    let message = Message::parse("Begun.").unwrap();
    let (_, entry) = m
        .maintenance_step(Step::Start, t("2026-03-04T12:00:00Z"), message, &ctx)
        .unwrap();
    assert!(entry.components.is_empty(), "{:?}", entry.components);
}

#[test]
fn a_reschedule_is_news_and_cannot_move_the_start_once_begun() {
    let world = World::new();
    let m = scheduled(&world);
    let later = Command::Maintenance(MaintenanceUpdate {
        status: None,
        scheduled_for: Some(t("2026-03-05T12:00:00Z")),
        scheduled_until: Some(t("2026-03-05T13:00:00Z")),
        owner: None,
        message: Message::parse("Tomorrow instead.").unwrap(),
    });
    let ctx = world.ctx(t(NOW));
    let (moved, entry) = m.apply(later, &ctx).unwrap();
    assert_eq!(entry.classes, [EntryClass::MaintenanceRescheduled]);
    assert!(EntryClass::MaintenanceRescheduled.is_bad_news());
    let window = entry.diff.schedule.unwrap();
    assert_eq!(
        window.from.unwrap().scheduled_for,
        t("2026-03-04T12:00:00Z")
    );
    assert_eq!(moved.state.schedule.as_ref().unwrap().planned_at, t(NOW));

    let (begun, _) = m
        .apply(update(Some(IncidentStatus::InProgress)), &ctx)
        .unwrap();
    let move_start = Command::Maintenance(MaintenanceUpdate {
        status: None,
        scheduled_for: Some(t("2026-03-04T14:00:00Z")),
        scheduled_until: None,
        owner: None,
        message: Message::parse("x").unwrap(),
    });
    assert_eq!(
        begun.apply(move_start, &ctx).unwrap_err().field,
        "scheduled_for"
    );
    let longer = Command::Maintenance(MaintenanceUpdate {
        status: None,
        scheduled_for: None,
        scheduled_until: Some(t("2026-03-04T15:00:00Z")),
        owner: None,
        message: Message::parse("An hour more.").unwrap(),
    });
    let (_, entry) = begun.apply(longer, &ctx).unwrap();
    assert_eq!(entry.classes, [EntryClass::MaintenanceRescheduled]);
}

#[test]
fn an_incident_update_does_not_apply_to_a_maintenance_nor_the_reverse() {
    let world = World::new();
    let m = scheduled(&world);
    let ctx = world.ctx(t(NOW));
    assert_eq!(
        m.apply(update(Some(IncidentStatus::Resolved)), &ctx)
            .unwrap_err()
            .field,
        "status"
    );
}

fn status() -> impl Strategy<Value = IncidentStatus> {
    prop_oneof![
        Just(IncidentStatus::Scheduled),
        Just(IncidentStatus::InProgress),
        Just(IncidentStatus::Verifying),
        Just(IncidentStatus::Completed),
        Just(IncidentStatus::Cancelled),
    ]
}

proptest! {
    /// Whatever staff send, a maintenance's status only goes forward, and
    /// once completed or cancelled nothing more is accepted.
    #[test]
    fn statuses_only_go_forward(steps in proptest::collection::vec(status(), 1..8)) {
        let world = World::new();
        let mut m = scheduled(&world);
        let ctx = world.ctx(t(NOW));
        for next in steps {
            let before = m.state.status;
            match m.apply(update(Some(next)), &ctx) {
                Ok((after, _)) => {
                    prop_assert!(!before.is_final());
                    prop_assert!(after.state.status.step() >= before.step());
                    m = after;
                }
                Err(_) => prop_assert!(before.is_final() || next.step() < before.step()),
            }
        }
    }
}
