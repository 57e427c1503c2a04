//! The rules of automation, case by case, and a property test that runs
//! random sequences of alerts, clock moves and people's posts against a
//! model of the store.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::domain::classify::EntryClass;
use crate::domain::{Email, EntryId, PersonName};

const T0: &str = "2026-03-04T09:00:00Z";

fn t0() -> Timestamp {
    T0.parse().unwrap()
}

fn owner() -> Owner {
    Owner {
        name: PersonName::parse("Dana (IT Ops)").unwrap(),
        email: Email::parse("dana@acme.test").unwrap(),
    }
}

fn rules() -> AlertRules {
    AlertRules {
        owner: Some(owner()),
        components: BTreeMap::from([("mail-relay".into(), "Outbound SMTP".into())]),
        ..AlertRules::default()
    }
}

fn alert(key: &str, status: AlertStatus) -> Alert {
    Alert {
        source: AlertSource::Alertmanager,
        origin: "Alertmanager".into(),
        key: key.into(),
        status,
        summary: None,
        labels: BTreeMap::from([("service".into(), "vpn".into())]),
        component: None,
        monitor: None,
        severity: Some("critical".into()),
        started_at: None,
    }
    .check()
    .unwrap()
}

/// Candor as the store would run it: components, incidents with their
/// entries, and what it knows of each alert.
struct World {
    components: BTreeMap<ComponentId, (String, ComponentStatus)>,
    incidents: Vec<(Incident, Vec<Entry>)>,
    seen: BTreeMap<String, Seen>,
    rules: AlertRules,
    now: Timestamp,
    n: usize,
    /// The incident an earlier alert of the same delivery opened or joined.
    batch: Option<IncidentId>,
}

impl World {
    fn new() -> Self {
        let components = BTreeMap::from([
            ("vpn".into(), ("VPN".into(), ComponentStatus::Operational)),
            (
                "smtp".into(),
                ("Outbound SMTP".into(), ComponentStatus::Operational),
            ),
            ("wiki".into(), ("Wiki".into(), ComponentStatus::Operational)),
        ]);
        Self {
            components,
            incidents: Vec::new(),
            seen: BTreeMap::new(),
            rules: rules(),
            now: t0(),
            n: 0,
            batch: None,
        }
    }

    fn candidate(&self, id: &IncidentId, key: Option<&str>) -> Option<Candidate> {
        let (incident, entries) = self.incidents.iter().find(|(i, _)| &i.id == id)?;
        let others_firing = self
            .seen
            .iter()
            .filter(|(k, s)| {
                Some(k.as_str()) != key
                    && s.incident.as_ref() == Some(id)
                    && s.status == AlertStatus::Firing
            })
            .count();
        Some(Candidate {
            incident: incident.clone(),
            person_posted: person_posted(entries),
            others_firing,
            held_elsewhere: self.held_elsewhere(id),
        })
    }

    fn held_elsewhere(&self, id: &IncidentId) -> BTreeMap<ComponentId, ComponentStatus> {
        let mut held: BTreeMap<ComponentId, ComponentStatus> = BTreeMap::new();
        for (incident, _) in self.incidents.iter().filter(|(i, _)| &i.id != id) {
            if incident.is_resolved() {
                continue;
            }
            for (c, s) in &incident.state.components {
                let h = held.entry(c.clone()).or_insert(*s);
                if s.severity() > h.severity() {
                    *h = *s;
                }
            }
        }
        held
    }

    fn ctx_write(&mut self, author: &str) -> (EntryId, String) {
        self.n += 1;
        (EntryId::new(format!("e{}", self.n)), author.to_string())
    }

    fn context<'a>(
        &'a self,
        entry_id: EntryId,
        author: &'a str,
        entry_ids: &'a BTreeSet<EntryId>,
        held: &'a BTreeMap<ComponentId, ComponentStatus>,
    ) -> Context<'a> {
        Context {
            now: self.now,
            author,
            entry_id,
            components: &self.components,
            entry_ids,
            held_elsewhere: held,
            follow_up_after: SignedDuration::from_hours(24),
        }
    }

    fn commit(&mut self, incident: Incident, entry: Entry) {
        for c in &entry.components {
            self.components.get_mut(&c.id).unwrap().1 = c.new_status;
        }
        match self.incidents.iter_mut().find(|(i, _)| i.id == incident.id) {
            Some(slot) => {
                slot.0 = incident;
                slot.1.push(entry);
            }
            None => self.incidents.push((incident, vec![entry])),
        }
    }

    /// One alert arrives: the plan, and the entry it wrote (if any).
    fn receive(&mut self, alert: &Alert) -> (Plan, Option<Entry>) {
        let target = self.rules.target(alert, &self.components);
        let seen = self.seen.get(&alert.key).cloned();
        let own = seen
            .as_ref()
            .and_then(|s| s.incident.as_ref())
            .and_then(|id| self.candidate(id, Some(&alert.key)));
        let covering = target.as_ref().and_then(|target| {
            let id = self
                .incidents
                .iter()
                .rev()
                .find(|(i, _)| {
                    !i.is_resolved() && i.state.components.contains_key(&target.component)
                })
                .map(|(i, _)| i.id.clone())
                .or_else(|| self.batch.clone())?;
            self.candidate(&id, Some(&alert.key))
        });
        let plan = plan(
            alert,
            target.as_ref(),
            seen.as_ref(),
            own.as_ref(),
            covering.as_ref(),
            &self.rules,
            self.now,
        );
        let posted_on = match &plan {
            Plan::Update { incident, .. } => Some(incident.clone()),
            _ => None,
        };
        let (incident, entry_ids, held) = match &posted_on {
            Some(id) => {
                let (incident, entries) = self.incidents.iter().find(|(i, _)| &i.id == id).unwrap();
                (
                    Some(incident.clone()),
                    entries.iter().map(|e| e.id.clone()).collect(),
                    self.held_elsewhere(id),
                )
            }
            None => (None, BTreeSet::new(), self.held_elsewhere(&"".into())),
        };
        let (entry_id, author) = self.ctx_write(&alert.author());
        let new_id = IncidentId::new(format!("i{}", self.n));
        let written = {
            let ctx = self.context(entry_id, &author, &entry_ids, &held);
            write(&plan, new_id, incident.as_ref(), &ctx).unwrap()
        };
        let incident_id = match (&plan, &written) {
            (_, Some((incident, _))) => Some(incident.id.clone()),
            (Plan::Record { incident, .. }, None) => incident.clone(),
            _ => None,
        };
        let changed = seen.as_ref().is_none_or(|s| s.status != alert.status);
        self.seen.insert(
            alert.key.clone(),
            Seen {
                status: alert.status,
                incident: incident_id.or(seen.as_ref().and_then(|s| s.incident.clone())),
                changed_at: if changed {
                    self.now
                } else {
                    seen.as_ref().unwrap().changed_at
                },
            },
        );
        let entry = written.map(|(incident, entry)| {
            self.commit(incident, entry.clone());
            entry
        });
        (plan, entry)
    }

    /// A person posts on incident `index` (resolving it, or not).
    fn person_posts(&mut self, index: usize, resolve: bool) -> Option<Entry> {
        if self.incidents.is_empty() {
            return None;
        }
        let index = index % self.incidents.len();
        let (incident, entries) = self.incidents[index].clone();
        let update = PostUpdate {
            status: Some(if resolve {
                IncidentStatus::Resolved
            } else {
                IncidentStatus::Identified
            }),
            impact: None,
            title: None,
            owner: None,
            cause: Patch::Keep,
            eta: Patch::Keep,
            next_update: (!resolve).then_some(NextUpdate::InMinutes(30)),
            components: BTreeMap::new(),
            message: Message::parse("Dana here: we found it.").unwrap(),
            follow_up_at: None,
        };
        let entry_ids = entries.iter().map(|e| e.id.clone()).collect();
        let held = self.held_elsewhere(&incident.id);
        let (entry_id, author) = self.ctx_write("dana");
        let (next, entry) = {
            let ctx = self.context(entry_id, &author, &entry_ids, &held);
            incident.apply(Command::Update(update), &ctx).ok()?
        };
        self.commit(next, entry.clone());
        Some(entry)
    }

    fn advance(&mut self, minutes: i64) {
        self.now += SignedDuration::from_mins(minutes);
    }

    fn incident(&self, id: &IncidentId) -> &Incident {
        &self.incidents.iter().find(|(i, _)| &i.id == id).unwrap().0
    }
}

#[test]
fn a_firing_alert_opens_an_honest_incident_marked_as_candors() {
    let mut world = World::new();
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::Opened);
    let entry = entry.unwrap();
    assert!(entry.system);
    assert_eq!(entry.author, "Candor (from Alertmanager)");
    assert_eq!(entry.classes, vec![EntryClass::Opened]);
    let state = &entry.state;
    assert_eq!(state.title.as_str(), "VPN is failing");
    assert_eq!(state.cause, None);
    assert_eq!(state.eta, None);
    assert_eq!(state.owner, owner());
    assert_eq!(state.status, IncidentStatus::Investigating);
    assert_eq!(state.impact, Impact::Major);
    assert_eq!(
        state.next_update_at,
        Some(t0() + SignedDuration::from_mins(15))
    );
    assert_eq!(
        state.components.get(&ComponentId::from("vpn")),
        Some(&ComponentStatus::MajorOutage)
    );
    assert_eq!(
        entry.message.as_str(),
        "We know VPN is failing and are looking into it. Our monitoring (Alertmanager) \
         noticed it; the cause is not yet known."
    );
}

#[test]
fn the_summary_is_the_title_when_there_is_one() {
    let mut world = World::new();
    let mut firing = alert("fp1", AlertStatus::Firing);
    firing.summary = Some("VPN gateway\nunreachable  ".into());
    let (_, entry) = world.receive(&firing.check().unwrap());
    assert_eq!(
        entry.unwrap().state.title.as_str(),
        "VPN gateway unreachable"
    );
}

#[test]
fn repeats_of_one_alert_never_post() {
    let mut world = World::new();
    world.receive(&alert("fp1", AlertStatus::Firing));
    for _ in 0..3 {
        world.advance(1);
        let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
        assert_eq!(plan.outcome(), Outcome::Duplicate);
        assert!(entry.is_none());
    }
}

#[test]
fn another_alert_posts_only_when_it_makes_things_worse() {
    let mut world = World::new();
    let mut warning = alert("fp1", AlertStatus::Firing);
    warning.severity = Some("warning".into());
    world.receive(&warning);
    // The same component, the same severity: nothing new to say.
    let mut again = warning.clone();
    again.key = "fp2".into();
    let (plan, entry) = world.receive(&again);
    assert_eq!(plan.outcome(), Outcome::Joined);
    assert!(entry.is_none());
    // Worse: a major outage now.
    let (plan, entry) = world.receive(&alert("fp3", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::Worsened);
    let entry = entry.unwrap();
    assert!(entry.classes.contains(&EntryClass::ComponentsWorsened));
    assert!(entry.classes.contains(&EntryClass::ImpactRaised));
    // Another component is hit: also worse, on the same incident.
    let mut smtp = alert("fp4", AlertStatus::Firing);
    smtp.labels = BTreeMap::from([("service".into(), "mail-relay".into())]);
    world.batch = Some(world.incidents[0].0.id.clone());
    let (plan, entry) = world.receive(&smtp);
    assert_eq!(plan.outcome(), Outcome::Worsened);
    assert_eq!(world.incidents.len(), 1);
    assert_eq!(entry.unwrap().components[0].name, "Outbound SMTP");
}

#[test]
fn when_every_alert_clears_the_incident_is_monitoring_never_resolved() {
    let mut world = World::new();
    world.receive(&alert("fp1", AlertStatus::Firing));
    let mut second = alert("fp2", AlertStatus::Firing);
    second.labels = BTreeMap::from([("service".into(), "mail-relay".into())]);
    world.batch = Some(world.incidents[0].0.id.clone());
    world.receive(&second);
    world.advance(3);
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Resolved));
    assert_eq!(plan.outcome(), Outcome::Cleared, "one still fires");
    assert!(entry.is_none());
    let mut second_clear = second.clone();
    second_clear.status = AlertStatus::Resolved;
    let (plan, entry) = world.receive(&second_clear);
    assert_eq!(plan.outcome(), Outcome::Monitoring);
    let entry = entry.unwrap();
    assert_eq!(entry.state.status, IncidentStatus::Monitoring);
    assert!(entry.state.next_update_at.is_some());
    assert!(entry
        .state
        .components
        .values()
        .all(|s| *s == ComponentStatus::Operational));
    assert_eq!(
        entry.message.as_str(),
        "The alerts have cleared; we are watching before calling it resolved."
    );
    // A repeat of the clear says nothing more.
    let (plan, _) = world.receive(&second_clear);
    assert_eq!(plan.outcome(), Outcome::Duplicate);
}

#[test]
fn an_alert_firing_again_soon_after_clearing_returns_the_same_incident() {
    let mut world = World::new();
    world.receive(&alert("fp1", AlertStatus::Firing));
    world.receive(&alert("fp1", AlertStatus::Resolved));
    world.advance(4);
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::Returned);
    let entry = entry.unwrap();
    assert_eq!(entry.state.status, IncidentStatus::Investigating);
    assert_eq!(world.incidents.len(), 1);
}

#[test]
fn once_a_person_posted_automation_only_records() {
    let mut world = World::new();
    world.receive(&alert("fp1", AlertStatus::Firing));
    world.person_posts(0, false).unwrap();
    let id = world.incidents[0].0.id.clone();
    let (plan, entry) = world.receive(&alert("fp2", AlertStatus::Firing));
    assert!(entry.is_none());
    assert_eq!(plan.outcome(), Outcome::PersonInCharge);
    world.receive(&alert("fp1", AlertStatus::Resolved));
    let (plan, entry) = world.receive(&alert("fp2", AlertStatus::Resolved));
    assert_eq!(plan.outcome(), Outcome::PersonInCharge);
    assert!(entry.is_none());
    assert_eq!(world.incident(&id).state.status, IncidentStatus::Identified);
}

#[test]
fn a_person_resolved_incident_is_not_reopened_by_a_flapping_alert() {
    let mut world = World::new();
    world.receive(&alert("fp1", AlertStatus::Firing));
    world.receive(&alert("fp1", AlertStatus::Resolved));
    world.person_posts(0, true).unwrap();
    world.advance(5);
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::PersonInCharge);
    assert!(entry.is_none());
    // Later than the flap window, it is a new problem: a new incident.
    world.receive(&alert("fp1", AlertStatus::Resolved));
    world.advance(11);
    let (plan, _) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::Opened);
    assert_eq!(world.incidents.len(), 2);
}

#[test]
fn an_alert_naming_no_known_component_is_only_recorded() {
    let mut world = World::new();
    let mut unknown = alert("fp1", AlertStatus::Firing);
    unknown.labels = BTreeMap::from([("service".into(), "printer".into())]);
    let (plan, entry) = world.receive(&unknown);
    assert_eq!(plan.outcome(), Outcome::Unmapped);
    assert!(entry.is_none());
}

#[test]
fn an_alert_during_planned_maintenance_opens_nothing() {
    let mut world = World::new();
    world
        .components
        .get_mut(&ComponentId::from("vpn"))
        .unwrap()
        .1 = ComponentStatus::UnderMaintenance;
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::Maintenance);
    assert!(entry.is_none());
}

#[test]
fn without_an_owner_on_call_nothing_is_published() {
    let mut world = World::new();
    world.rules.owner = None;
    let (plan, entry) = world.receive(&alert("fp1", AlertStatus::Firing));
    assert_eq!(plan.outcome(), Outcome::NoOwner);
    assert!(entry.is_none());
}

#[test]
fn components_are_found_by_label_table_own_name_or_monitor() {
    let world = World::new();
    let rules = rules();
    let find = |alert: &Alert| rules.target(alert, &world.components).map(|t| t.name);
    let mut a = alert("fp1", AlertStatus::Firing);
    assert_eq!(find(&a).as_deref(), Some("VPN"));
    a.labels = BTreeMap::from([("service".into(), "mail-relay".into())]);
    assert_eq!(find(&a).as_deref(), Some("Outbound SMTP"));
    a.component = Some("wiki".into());
    assert_eq!(find(&a).as_deref(), Some("Wiki"), "its own label wins");
    a.component = None;
    a.labels.clear();
    assert_eq!(find(&a), None);
    a.monitor = Some("outbound smtp".into());
    assert_eq!(find(&a).as_deref(), Some("Outbound SMTP"));
    a.severity = None;
    let target = rules.target(&a, &world.components).unwrap();
    assert_eq!(target.severity, rules.default_severity);
}

#[test]
fn an_alerts_token_may_post_alerts_and_nothing_else() {
    let scope = TokenScope::Alerts;
    for path in [
        "/alerts",
        "/alerts/alertmanager",
        "/api/v1/alerts/grafana",
        "/alerts/uptime-kuma",
    ] {
        assert!(scope.allows(true, path), "{path}");
        assert!(!scope.allows(false, path), "GET {path}");
    }
    for path in [
        "/incidents",
        "/metrics",
        "/alerts/other",
        "/api/v1/components",
    ] {
        assert!(!scope.allows(true, path), "{path}");
    }
    assert!(TokenScope::All.allows(false, "/incidents"));
    assert_eq!(TokenScope::parse("alerts").unwrap(), TokenScope::Alerts);
    assert!(TokenScope::parse("root").is_err());
}

#[test]
fn a_bad_key_or_source_is_refused() {
    let mut a = alert("fp", AlertStatus::Firing);
    a.key = "  ".into();
    assert_eq!(a.clone().check().unwrap_err().field, "key");
    a.key = "x".repeat(MAX_KEY + 1);
    assert_eq!(a.clone().check().unwrap_err().field, "key");
    a.key = "ok".into();
    a.origin = String::new();
    assert_eq!(a.check().unwrap_err().field, "source");
}

#[derive(Debug, Clone)]
enum Step {
    Fire { key: u8, severity: u8 },
    Clear { key: u8 },
    Advance { minutes: i64 },
    Person { index: usize, resolve: bool },
}

fn arb_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..6, 0u8..4).prop_map(|(key, severity)| Step::Fire { key, severity }),
        3 => (0u8..6).prop_map(|key| Step::Clear { key }),
        2 => (1i64..20).prop_map(|minutes| Step::Advance { minutes }),
        1 => (0usize..8, any::<bool>()).prop_map(|(index, resolve)| Step::Person { index, resolve }),
    ]
}

/// Key `k` is always about the same component (as a fingerprint is of the
/// same labels); keys 4 and 5 name none.
fn keyed(key: u8, status: AlertStatus, severity: u8) -> Alert {
    let service = ["vpn", "mail-relay", "wiki", "vpn", "printer", "fax"][key as usize];
    let mut a = alert(&format!("fp{key}"), status);
    a.labels = BTreeMap::from([("service".into(), service.into())]);
    a.severity = ["critical", "warning", "info", "nonsense"]
        .get(severity as usize)
        .map(|s| s.to_string());
    a
}

/// Delivers one alert and checks what automation did with it.
fn deliver(world: &mut World, a: &Alert) -> Result<(), TestCaseError> {
    let before = world.seen.get(&a.key).cloned();
    let person_ran: BTreeSet<IncidentId> = world
        .incidents
        .iter()
        .filter(|(_, entries)| person_posted(entries))
        .map(|(i, _)| i.id.clone())
        .collect();
    let count = |w: &World| w.incidents.iter().map(|(_, e)| e.len()).sum::<usize>();
    let count_before = count(world);
    let (plan, entry) = world.receive(a);
    prop_assert!(
        count(world) - count_before <= 1,
        "one alert, at most one post"
    );
    prop_assert_eq!(entry.is_some(), plan.outcome().posted());
    if let Some(entry) = entry {
        prop_assert!(entry.system);
        prop_assert!(
            before.as_ref().is_none_or(|s| s.status != a.status),
            "a repeat posted"
        );
        prop_assert!(entry.state.status != IncidentStatus::Resolved);
        prop_assert!(!entry.classes.contains(&EntryClass::Resolved));
        prop_assert!(
            !person_ran.contains(&entry.incident_id),
            "posted after a person"
        );
        prop_assert!(entry.state.next_update_at.is_some_and(|at| at > world.now));
    }
    Ok(())
}

proptest! {
    /// Whatever alerts come, in whatever order, with people posting in
    /// between: automation never resolves, never posts for a repeat, posts
    /// at most once per alert delivered, and never posts on an incident
    /// after a person has.
    #[test]
    fn automation_never_resolves_never_repeats_and_steps_aside(
        steps in proptest::collection::vec(arb_step(), 1..40)
    ) {
        let mut world = World::new();
        for step in steps {
            match step {
                Step::Fire { key, severity } => {
                    deliver(&mut world, &keyed(key, AlertStatus::Firing, severity))?
                }
                Step::Clear { key } => deliver(&mut world, &keyed(key, AlertStatus::Resolved, 0))?,
                Step::Advance { minutes } => world.advance(minutes),
                Step::Person { index, resolve } => {
                    world.person_posts(index, resolve);
                }
            }
        }
        // Within every incident, no entry of Candor's follows a person's,
        // and none resolves.
        for (incident, entries) in &world.incidents {
            if let Some(first) = entries.iter().position(|e| !e.system) {
                prop_assert!(entries[first..].iter().all(|e| !e.system));
            } else {
                prop_assert!(!incident.is_resolved());
            }
        }
    }
}
