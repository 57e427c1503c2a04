use proptest::prelude::*;

use super::*;

fn arb_status() -> impl Strategy<Value = Option<IncidentStatus>> {
    prop_oneof![
        Just(None),
        Just(Some(IncidentStatus::Investigating)),
        Just(Some(IncidentStatus::Identified)),
        Just(Some(IncidentStatus::Monitoring)),
        Just(Some(IncidentStatus::Resolved)),
    ]
}

fn arb_component_status() -> impl Strategy<Value = ComponentStatus> {
    proptest::sample::select(ComponentStatus::ALL.to_vec())
}

proptest! {
    /// Whatever sequence of updates is posted: sequence numbers grow by one,
    /// posted_at is the clock, every entry has at least one class, every
    /// unresolved state promises a future update, and the ETA history ends
    /// with the current ETA.
    #[test]
    fn updates_keep_the_contract(
        steps in proptest::collection::vec(
            (arb_status(), 1i64..600, proptest::option::of(0i64..3000), arb_component_status(), 0u8..4),
            1..25,
        )
    ) {
        let mut world = World::new();
        let mut incident = opened(&mut world);
        let mut now = t(T0);
        for (status, next_in, eta_min, comp, eta_mode) in steps {
            now += SignedDuration::from_mins(7);
            let resolving = status == Some(IncidentStatus::Resolved)
                || (status.is_none() && incident.is_resolved());
            let eta = match (eta_mode, eta_min) {
                (0, _) => Patch::Keep,
                (1, _) => Patch::Clear,
                (_, Some(m)) => Patch::Set(now + SignedDuration::from_mins(m + 1)),
                (_, None) => Patch::Keep,
            };
            let cmd = PostUpdate {
                status,
                eta,
                next_update: (!resolving).then_some(NextUpdate::InMinutes(next_in)),
                components: BTreeMap::from([("vpn".into(), comp)]),
                ..update_cmd()
            };
            let ctx = world.ctx(now);
            let (next, entry) = incident.apply(Command::Update(cmd), &ctx).unwrap();
            world.commit(&entry);
            prop_assert_eq!(entry.seq, incident.last_seq + 1);
            prop_assert_eq!(entry.posted_at, now);
            prop_assert!(!entry.classes.is_empty());
            if next.is_resolved() {
                prop_assert_eq!(next.state.next_update_at, None);
                prop_assert!(next.state.resolved_at.is_some());
            } else {
                prop_assert!(next.state.next_update_at.unwrap() > now);
                prop_assert!(!next.overdue(now));
            }
            if let Some(last) = next.eta_history.last() {
                prop_assert_eq!(last.eta, next.state.eta);
            }
            if incident.is_resolved() && !next.is_resolved() {
                prop_assert_eq!(entry.classes[0], EntryClass::Reopened);
            }
            incident = next;
        }
    }
}
