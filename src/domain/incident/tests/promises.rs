use super::*;
use crate::domain::promises::PromiseSettings;

#[test]
fn a_due_promise_reminds_the_owner_only_if_it_was_not_kept() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let settings = PromiseSettings {
        grace: Some(SignedDuration::from_mins(15)),
        tz: TimeZone::UTC,
        base_url: "http://status.test".into(),
    };
    let promised = t("2026-03-04T09:30:00Z");
    let due = incident.promise_due(
        Promise::NextUpdate,
        promised,
        &world.ctx(promised),
        &settings,
    );
    let reminder = due.reminder.expect("the owner is reminded");
    assert_eq!(
        reminder.subject,
        "[Update overdue] Mail delays — promised for 09:30 UTC"
    );
    assert!(reminder.text.contains("http://status.test/incidents/inc"));
    assert!(due.entry.is_none());
    let grace_ends = promised + SignedDuration::from_mins(15);
    assert_eq!(
        due.then,
        Some((Promise::OverdueNotice, promised, grace_ends))
    );

    let late = incident.promise_due(
        Promise::OverdueNotice,
        promised,
        &world.ctx(grace_ends),
        &settings,
    );
    let (_, entry) = late.entry.expect("subscribers are told");
    assert!(entry.system);
    assert!(late
        .reminder
        .unwrap()
        .subject
        .starts_with("[Still overdue]"));

    // Kept in time: nothing to do when its time comes.
    let (kept, _) = apply(
        &mut world,
        &incident,
        Command::Update(update_cmd()),
        t("2026-03-04T09:20:00Z"),
    );
    let due = kept.promise_due(
        Promise::NextUpdate,
        promised,
        &world.ctx(promised),
        &settings,
    );
    assert!(due.reminder.is_none() && due.entry.is_none() && due.then.is_none());
}
