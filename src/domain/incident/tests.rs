use std::collections::{BTreeMap, BTreeSet};

use jiff::{tz::TimeZone, SignedDuration, Timestamp};

use super::*;
use crate::domain::facts;
use crate::domain::{Cause, Email, Message, Owner, PersonName, Title};

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn owner(name: &str) -> Owner {
    Owner {
        name: PersonName::parse(name).unwrap(),
        email: Email::parse("dana@acme.test").unwrap(),
    }
}

struct World {
    components: BTreeMap<ComponentId, (String, ComponentStatus)>,
    entry_ids: BTreeSet<EntryId>,
    held_elsewhere: BTreeMap<ComponentId, ComponentStatus>,
    n: usize,
}

impl World {
    fn new() -> Self {
        let mut components = BTreeMap::new();
        components.insert(
            "smtp".into(),
            ("Outbound SMTP".into(), ComponentStatus::Operational),
        );
        components.insert("vpn".into(), ("VPN".into(), ComponentStatus::Operational));
        Self {
            components,
            entry_ids: BTreeSet::new(),
            held_elsewhere: BTreeMap::new(),
            n: 0,
        }
    }

    fn ctx(&mut self, now: Timestamp) -> Context<'_> {
        self.n += 1;
        Context {
            now,
            author: "dana",
            entry_id: EntryId::new(format!("e{}", self.n)),
            components: &self.components,
            entry_ids: &self.entry_ids,
            held_elsewhere: &self.held_elsewhere,
            follow_up_after: SignedDuration::from_hours(24),
        }
    }

    /// Records the effect of an entry, as the store would.
    fn commit(&mut self, entry: &Entry) {
        self.entry_ids.insert(entry.id.clone());
        for c in &entry.components {
            self.components.get_mut(&c.id).unwrap().1 = c.new_status;
        }
    }
}

fn open_cmd() -> OpenIncident {
    OpenIncident {
        title: Title::parse("Mail delays").unwrap(),
        impact: Impact::Minor,
        status: IncidentStatus::Investigating,
        owner: owner("Dana (IT Ops)"),
        cause: None,
        eta: None,
        next_update: Some(NextUpdate::InMinutes(30)),
        components: BTreeMap::from([("smtp".into(), ComponentStatus::PartialOutage)]),
        message: Message::parse("We are looking into delayed outbound mail.").unwrap(),
        started_at: None,
    }
}

fn update_cmd() -> PostUpdate {
    PostUpdate {
        status: None,
        impact: None,
        title: None,
        owner: None,
        cause: Patch::Keep,
        eta: Patch::Keep,
        next_update: Some(NextUpdate::InMinutes(30)),
        components: BTreeMap::new(),
        message: Message::parse("Still on it.").unwrap(),
        follow_up_at: None,
    }
}

const T0: &str = "2026-03-04T09:00:00Z";

/// A plain resolving update.
fn resolve_cmd() -> Command {
    Command::Update(PostUpdate {
        status: Some(IncidentStatus::Resolved),
        next_update: None,
        ..update_cmd()
    })
}

fn opened(world: &mut World) -> Incident {
    let ctx = world.ctx(t(T0));
    let (incident, entry) = Incident::open("inc".into(), open_cmd(), &ctx).unwrap();
    world.commit(&entry);
    incident
}

fn apply(
    world: &mut World,
    incident: &Incident,
    cmd: Command,
    now: Timestamp,
) -> (Incident, Entry) {
    let ctx = world.ctx(now);
    let result = incident.apply(cmd, &ctx).unwrap();
    world.commit(&result.1);
    result
}

#[test]
fn an_incident_opens_with_nothing_known() {
    let mut world = World::new();
    let ctx = world.ctx(t(T0));
    let (incident, entry) = Incident::open("inc".into(), open_cmd(), &ctx).unwrap();
    assert_eq!(incident.state.cause, None);
    assert_eq!(incident.state.eta, None);
    assert_eq!(
        incident.state.next_update_at,
        Some(t("2026-03-04T09:30:00Z"))
    );
    assert_eq!(entry.classes, vec![EntryClass::Opened]);
    assert_eq!(entry.posted_at, t(T0));
    assert_eq!(entry.seq, 1);
    assert_eq!(entry.components.len(), 1);
    assert_eq!(entry.components[0].old_status, ComponentStatus::Operational);
    assert_eq!(
        entry.components[0].new_status,
        ComponentStatus::PartialOutage
    );
    assert_eq!(
        facts::cause_line(&incident.state).to_string(),
        "Cause: not yet known — we will say as soon as we know."
    );
    assert_eq!(
        facts::eta_line(&incident, t(T0), &TimeZone::UTC).to_string(),
        "No ETA yet"
    );
}

#[test]
fn opening_requires_a_promised_next_update() {
    let mut world = World::new();
    let ctx = world.ctx(t(T0));
    let cmd = OpenIncident {
        next_update: None,
        ..open_cmd()
    };
    let err = Incident::open("inc".into(), cmd, &ctx).unwrap_err();
    assert_eq!(err.field, "next_update_at");
}

#[test]
fn next_update_must_be_future_and_within_seven_days() {
    let now = t(T0);
    assert_eq!(
        NextUpdate::At(now).resolve(now).unwrap_err().field,
        "next_update_at"
    );
    assert!(NextUpdate::At(t("2026-03-04T08:59:00Z"))
        .resolve(now)
        .is_err());
    assert!(NextUpdate::At(t("2026-03-11T09:00:00Z"))
        .resolve(now)
        .is_ok());
    assert!(NextUpdate::At(t("2026-03-11T09:00:01Z"))
        .resolve(now)
        .is_err());
    assert!(NextUpdate::InMinutes(0).resolve(now).is_err());
    assert!(NextUpdate::InMinutes(10_080).resolve(now).is_ok());
    assert!(NextUpdate::InMinutes(10_081).resolve(now).is_err());
}

#[test]
fn every_unresolved_update_promises_the_next_one() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let ctx = world.ctx(t("2026-03-04T09:10:00Z"));
    let cmd = PostUpdate {
        next_update: None,
        ..update_cmd()
    };
    let err = incident.apply(Command::Update(cmd), &ctx).unwrap_err();
    assert_eq!(err.field, "next_update_at");
}

#[test]
fn unknown_components_are_refused() {
    let mut world = World::new();
    let ctx = world.ctx(t(T0));
    let cmd = OpenIncident {
        components: BTreeMap::from([("nope".into(), ComponentStatus::MajorOutage)]),
        ..open_cmd()
    };
    assert_eq!(
        Incident::open("inc".into(), cmd, &ctx).unwrap_err().field,
        "components"
    );
}

#[test]
fn eta_moves_are_kept_and_classified() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let now = t("2026-03-04T10:00:00Z");
    let set = PostUpdate {
        eta: Patch::Set(t("2026-03-04T14:00:00Z")),
        ..update_cmd()
    };
    let (incident, entry) = apply(&mut world, &incident, Command::Update(set), now);
    assert_eq!(entry.classes, vec![EntryClass::EtaSet]);

    let slip = PostUpdate {
        eta: Patch::Set(t("2026-03-04T16:00:00Z")),
        ..update_cmd()
    };
    let (incident, entry) = apply(&mut world, &incident, Command::Update(slip), now);
    assert_eq!(entry.classes, vec![EntryClass::EtaSlipped]);
    assert_eq!(
        facts::eta_line(&incident, now, &TimeZone::UTC).to_string(),
        "ETA: 16:00 UTC (was 14:00; moved once)"
    );

    let better = PostUpdate {
        eta: Patch::Set(t("2026-03-04T15:00:00Z")),
        ..update_cmd()
    };
    let (incident, entry) = apply(&mut world, &incident, Command::Update(better), now);
    assert_eq!(entry.classes, vec![EntryClass::EtaImproved]);
    assert_eq!(
        facts::eta_line(&incident, now, &TimeZone::UTC).to_string(),
        "ETA: 15:00 UTC (was 16:00; moved twice)"
    );

    let withdrawn = PostUpdate {
        eta: Patch::Clear,
        ..update_cmd()
    };
    let (incident, entry) = apply(&mut world, &incident, Command::Update(withdrawn), now);
    assert_eq!(entry.classes, vec![EntryClass::EtaWithdrawn]);
    assert_eq!(incident.state.eta, None);
    let history: Vec<_> = incident.eta_history.iter().map(|c| c.eta).collect();
    assert_eq!(
        history,
        vec![
            Some(t("2026-03-04T14:00:00Z")),
            Some(t("2026-03-04T16:00:00Z")),
            Some(t("2026-03-04T15:00:00Z")),
            None
        ]
    );
}

#[test]
fn an_eta_in_the_past_is_refused_but_a_passed_one_is_said_plainly() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let ctx = world.ctx(t("2026-03-04T10:00:00Z"));
    let past = PostUpdate {
        eta: Patch::Set(t("2026-03-04T09:59:00Z")),
        ..update_cmd()
    };
    assert_eq!(
        incident
            .apply(Command::Update(past), &ctx)
            .unwrap_err()
            .field,
        "eta"
    );

    let set = PostUpdate {
        eta: Patch::Set(t("2026-03-04T14:00:00Z")),
        ..update_cmd()
    };
    let (incident, _) = apply(
        &mut world,
        &incident,
        Command::Update(set),
        t("2026-03-04T10:00:00Z"),
    );
    let later = t("2026-03-04T14:05:00Z");
    assert!(incident.eta_passed(later));
    assert_eq!(
        facts::eta_line(&incident, later, &TimeZone::UTC).to_string(),
        "ETA 14:00 UTC passed — no new estimate yet"
    );
}

#[test]
fn overdue_starts_at_the_promised_instant() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let due = t("2026-03-04T09:30:00Z");
    assert!(!incident.overdue(due - SignedDuration::from_millis(1)));
    assert!(incident.overdue(due));
    assert_eq!(incident.next_change_after(t(T0)), Some(due));
    assert_eq!(
        facts::next_update_line(&incident, due, &TimeZone::UTC)
            .unwrap()
            .to_string(),
        "Update overdue since 09:30 UTC — Dana (IT Ops) has been reminded"
    );
    assert_eq!(
        facts::next_update_line(&incident, t("2026-03-04T09:18:00Z"), &TimeZone::UTC)
            .unwrap()
            .to_string(),
        "Next update by 09:30 UTC (in 12 min)"
    );
}

#[test]
fn broken_promises_are_said_in_the_words_of_the_page() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let set = PostUpdate {
        eta: Patch::Set(t("2026-03-04T09:20:00Z")),
        next_update: Some(NextUpdate::InMinutes(30)),
        ..update_cmd()
    };
    let (incident, _) = apply(&mut world, &incident, Command::Update(set), t(T0));
    let tz = &TimeZone::UTC;
    let eta = t("2026-03-04T09:20:00Z");
    let due = t("2026-03-04T09:30:00Z");
    assert!(facts::broken_promises(&incident, eta - SignedDuration::from_millis(1), tz).is_empty());

    let broken = facts::broken_promises(&incident, eta, tz);
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].promise, Promise::Eta);
    assert_eq!(broken[0].at, eta);
    assert_eq!(broken[0].line, facts::eta_line(&incident, eta, tz));
    assert_eq!(
        broken[0].line.to_string(),
        "ETA 09:20 UTC passed — no new estimate yet"
    );

    // Both, the earliest first; the update's in the page's own sentence.
    let broken = facts::broken_promises(&incident, due, tz);
    let kinds: Vec<Promise> = broken.iter().map(|b| b.promise).collect();
    assert_eq!(kinds, [Promise::Eta, Promise::NextUpdate]);
    assert_eq!(broken[1].at, due);
    assert_eq!(
        Some(broken[1].line.clone()),
        facts::next_update_line(&incident, due, tz)
    );
    assert_eq!(broken[1].label, "Update overdue");
    assert_eq!(broken[1].headline, "promised for 09:30 UTC");

    // Nothing is owed by a resolved incident.
    let (resolved, _) = apply(&mut world, &incident, resolve_cmd(), due);
    assert!(facts::broken_promises(&resolved, t("2026-03-04T12:00:00Z"), tz).is_empty());
}

#[test]
fn resolving_clears_the_promise_sets_follow_up_and_restores_components() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let now = t("2026-03-04T11:00:00Z");
    let (incident, entry) = apply(&mut world, &incident, resolve_cmd(), now);
    assert!(entry.classes.contains(&EntryClass::Resolved));
    assert!(entry.classes.contains(&EntryClass::ComponentsRecovered));
    assert_eq!(incident.state.next_update_at, None);
    assert_eq!(incident.state.resolved_at, Some(now));
    assert_eq!(incident.state.follow_up_at, Some(t("2026-03-05T11:00:00Z")));
    assert_eq!(world.components["smtp"].1, ComponentStatus::Operational);
    assert!(!incident.overdue(t("2026-04-01T00:00:00Z")));
}

#[test]
fn a_non_resolved_update_on_a_resolved_incident_reopens_it() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let (incident, _) = apply(
        &mut world,
        &incident,
        resolve_cmd(),
        t("2026-03-04T11:00:00Z"),
    );
    let again = PostUpdate {
        status: Some(IncidentStatus::Investigating),
        components: BTreeMap::from([("smtp".into(), ComponentStatus::MajorOutage)]),
        ..update_cmd()
    };
    let (reopened, entry) = apply(
        &mut world,
        &incident,
        Command::Update(again),
        t("2026-03-04T12:00:00Z"),
    );
    assert_eq!(reopened.id, incident.id);
    assert_eq!(entry.classes[0], EntryClass::Reopened);
    assert!(entry.classes.contains(&EntryClass::ComponentsWorsened));
    assert_eq!(reopened.state.resolved_at, None);
    assert_eq!(reopened.state.follow_up_at, None);
    assert!(reopened.state.next_update_at.is_some());
}

#[test]
fn a_correction_is_a_new_entry_that_names_the_corrected_one() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let cause = PostUpdate {
        cause: Patch::Set(Cause::parse("Expired certificate").unwrap()),
        ..update_cmd()
    };
    let (incident, wrong) = apply(
        &mut world,
        &incident,
        Command::Update(cause),
        t("2026-03-04T09:20:00Z"),
    );
    assert_eq!(wrong.classes, vec![EntryClass::CauseIdentified]);
    let fix = PostCorrection {
        corrects: wrong.id.clone(),
        message: Message::parse("The cause given at 09:20 was wrong.").unwrap(),
        title: None,
        impact: Some(Impact::Major),
        cause: Patch::Set(Cause::parse("DNS change").unwrap()),
        started_at: None,
    };
    let (corrected, entry) = apply(
        &mut world,
        &incident,
        Command::Correction(fix),
        t("2026-03-04T09:42:00Z"),
    );
    assert_eq!(entry.corrects.as_ref(), Some(&wrong.id));
    assert_eq!(
        entry.classes,
        vec![EntryClass::Correction, EntryClass::ImpactRaised]
    );
    assert_eq!(entry.seq, wrong.seq + 1);
    assert_eq!(
        corrected.state.cause.as_ref().unwrap().as_str(),
        "DNS change"
    );
    assert_eq!(
        wrong.state.cause.as_ref().unwrap().as_str(),
        "Expired certificate"
    );
    // A correction keeps the promise already made.
    assert_eq!(
        corrected.state.next_update_at,
        incident.state.next_update_at
    );
}

#[test]
fn a_correction_must_name_an_entry_of_this_incident() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let ctx = world.ctx(t("2026-03-04T09:20:00Z"));
    let fix = PostCorrection {
        corrects: "elsewhere".into(),
        message: Message::parse("x").unwrap(),
        title: None,
        impact: None,
        cause: Patch::Keep,
        started_at: None,
    };
    assert_eq!(
        incident
            .apply(Command::Correction(fix), &ctx)
            .unwrap_err()
            .field,
        "corrects"
    );
}

#[test]
fn an_owner_change_is_a_visible_entry() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let handover = PostUpdate {
        owner: Some(owner("Sam (Network)")),
        ..update_cmd()
    };
    let (incident, entry) = apply(
        &mut world,
        &incident,
        Command::Update(handover),
        t("2026-03-04T09:20:00Z"),
    );
    assert_eq!(entry.classes, vec![EntryClass::OwnerChanged]);
    assert_eq!(
        facts::owner_line(&incident).to_string(),
        "Owner: Sam (Network)"
    );
}

#[test]
fn started_at_cannot_be_in_the_future() {
    let mut world = World::new();
    let ctx = world.ctx(t(T0));
    let cmd = OpenIncident {
        started_at: Some(t("2026-03-04T09:00:01Z")),
        ..open_cmd()
    };
    assert_eq!(
        Incident::open("inc".into(), cmd, &ctx).unwrap_err().field,
        "started_at"
    );
}

#[test]
fn times_are_shown_in_the_page_zone_with_its_name() {
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let now = t("2026-03-04T09:00:00Z");
    assert_eq!(
        facts::when(t("2026-03-04T09:30:00Z"), now, &berlin),
        "10:30 CET"
    );
    assert_eq!(
        facts::when(t("2026-03-05T09:30:00Z"), now, &berlin),
        "5 Mar 10:30 CET"
    );
    assert_eq!(
        facts::when(t("2025-12-05T09:30:00Z"), now, &berlin),
        "5 Dec 2025 10:30 CET"
    );
    assert_eq!(
        facts::when(t("2026-07-05T09:30:00Z"), now, &berlin),
        "5 Jul 11:30 CEST"
    );
}

#[test]
fn the_follow_up_comes_after_resolving_and_is_owed_until_posted() {
    let mut world = World::new();
    let incident = opened(&mut world);
    let early = Command::Postmortem(PostPostmortem {
        message: Message::parse("What happened").unwrap(),
    });
    let ctx = world.ctx(t("2026-03-04T10:00:00Z"));
    assert_eq!(
        incident.apply(early.clone(), &ctx).unwrap_err().field,
        "status"
    );

    let (incident, _) = apply(
        &mut world,
        &incident,
        resolve_cmd(),
        t("2026-03-04T11:00:00Z"),
    );
    assert!(incident.owes_follow_up());
    assert_eq!(
        incident.promises(),
        vec![(Promise::FollowUp, t("2026-03-05T11:00:00Z"))]
    );
    let (incident, entry) = apply(&mut world, &incident, early, t("2026-03-05T09:00:00Z"));
    assert_eq!(entry.classes, vec![EntryClass::Postmortem]);
    assert!(!incident.owes_follow_up());
    assert!(incident.promises().is_empty());
}

#[test]
fn resolving_gives_a_component_back_to_another_open_incident_that_holds_it() {
    let mut world = World::new();
    let incident = opened(&mut world);
    world
        .held_elsewhere
        .insert("smtp".into(), ComponentStatus::MajorOutage);
    let (_, entry) = apply(
        &mut world,
        &incident,
        resolve_cmd(),
        t("2026-03-04T11:00:00Z"),
    );
    assert_eq!(world.components["smtp"].1, ComponentStatus::MajorOutage);
    assert!(!entry.classes.contains(&EntryClass::ComponentsRecovered));
}

/// Property tests: the contract holds for any sequence of updates.
mod properties;

#[test]
fn times_sent_with_microseconds_are_kept_to_the_millisecond() {
    let mut world = World::new();
    let ctx = world.ctx(t(T0));
    let cmd = OpenIncident {
        next_update: Some(NextUpdate::At(t("2026-03-04T09:30:00.123456Z"))),
        eta: Some(t("2026-03-04T12:00:00.999999Z")),
        ..open_cmd()
    };
    let (incident, entry) = Incident::open("inc".into(), cmd, &ctx).unwrap();
    world.commit(&entry);
    assert_eq!(
        incident.state.next_update_at,
        Some(t("2026-03-04T09:30:00.123Z"))
    );
    assert_eq!(incident.state.eta, Some(t("2026-03-04T12:00:00.999Z")));
    // What a timed job reads back (whole milliseconds) is the promise itself.
    let (_, promised) = incident
        .promises()
        .into_iter()
        .find(|(_, at)| *at == t("2026-03-04T09:30:00.123Z"))
        .expect("the promised update, to the millisecond");
    assert_eq!(promised.as_millisecond() % 1000, 123);
    let later = Command::Update(PostUpdate {
        eta: Patch::Set(t("2026-03-04T13:00:00.000001Z")),
        follow_up_at: None,
        ..update_cmd()
    });
    let (incident, _) = apply(&mut world, &incident, later, t("2026-03-04T09:10:00Z"));
    assert_eq!(incident.state.eta, Some(t("2026-03-04T13:00:00Z")));
}
