//! A promise's time has come (DESIGN.md §1.2, §1.3, §1.7): what Candor does
//! then. Decided here, carried out by the store in the job's transaction:
//! Candor's own entry saying a promised update is late, a reminder to the
//! owner, further timed work. What the owner is told is data
//! (`OwnerReminder`); its words are written by the views when it is sent.

use jiff::{tz::TimeZone, SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::facts::{when, when_with_relative};
use super::incident::{Context, Promise, Write};
use super::maintenance::Step;
use super::{Entry, EntryId, Incident, Message};

/// What the owner of an incident is told, with the facts the words need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OwnerReminder {
    /// The update promised for `promised` did not come; `grace` is how long
    /// until Candor tells subscribers it is late (`None`: it does not).
    UpdateOverdue {
        promised: Timestamp,
        grace: Option<SignedDuration>,
    },
    /// Still no update, and subscribers have now been told it is late.
    StillOverdue { promised: Timestamp },
    /// The ETA `promised` passed with the incident unresolved.
    EtaPassed { promised: Timestamp },
    /// The follow-up promised for `promised` after resolving is due.
    FollowUpDue { promised: Timestamp },
    /// `count` subscribers say a resolved incident still affects them.
    StillAffected { count: i64 },
    /// A maintenance planned to end at `promised` is still not completed.
    MaintenanceOverrunning {
        promised: Timestamp,
        grace: Option<SignedDuration>,
    },
}

/// How Candor keeps promises (configuration).
#[derive(Debug, Clone)]
pub struct PromiseRules {
    /// How long after a broken promise Candor says so in an entry; `None`:
    /// it does not (`overdue_grace = off`).
    pub grace: Option<SignedDuration>,
    /// The page's time zone, for the times in Candor's entry.
    pub tz: TimeZone,
}

/// What a promise coming due does, all in one transaction.
#[derive(Debug, Default)]
pub struct PromiseOutcome {
    /// Candor's own entry, with the incident after it.
    pub entry: Option<(Incident, Entry)>,
    pub reminder: Option<OwnerReminder>,
    /// Further work: (kind, promised time, due time).
    pub then: Option<(Promise, Timestamp, Timestamp)>,
}

impl Write {
    /// A write by Candor itself (timed work), at `now`.
    pub fn candor(now: Timestamp, entry_id: EntryId) -> Write {
        Write {
            now,
            author: "Candor".into(),
            entry_id,
            follow_up_after: SignedDuration::ZERO,
        }
    }
}

/// What the promise of `kind` for `promised` does now (`ctx.now`), for the
/// incident as it stands. Nothing when it was kept meanwhile.
pub fn promise_due(
    incident: &Incident,
    kind: Promise,
    promised: Timestamp,
    ctx: &Context<'_>,
    rules: &PromiseRules,
) -> PromiseOutcome {
    let state = &incident.state;
    let now = ctx.now;
    let remind = |reminder| PromiseOutcome {
        reminder: Some(reminder),
        ..PromiseOutcome::default()
    };
    match kind {
        Promise::NextUpdate if incident.overdue(now) && state.next_update_at == Some(promised) => {
            PromiseOutcome {
                reminder: Some(OwnerReminder::UpdateOverdue {
                    promised,
                    grace: rules.grace,
                }),
                then: (rules.grace)
                    .map(|grace| (Promise::OverdueNotice, promised, promised + grace)),
                entry: None,
            }
        }
        Promise::OverdueNotice => overdue_notice(incident, promised, ctx, &rules.tz),
        Promise::Eta if incident.eta_passed(now) && state.eta == Some(promised) => {
            remind(OwnerReminder::EtaPassed { promised })
        }
        Promise::FollowUp if incident.owes_follow_up() && state.follow_up_at == Some(promised) => {
            remind(OwnerReminder::FollowUpDue { promised })
        }
        Promise::MaintenanceReminder => {
            maintenance_step(incident, Step::Remind, promised, ctx, rules)
        }
        Promise::MaintenanceStart => maintenance_step(incident, Step::Start, promised, ctx, rules),
        Promise::MaintenanceEnd
            if state
                .schedule
                .as_ref()
                .is_some_and(|plan| plan.auto_complete) =>
        {
            maintenance_step(incident, Step::AutoComplete, promised, ctx, rules)
        }
        Promise::MaintenanceEnd
            if incident.overrunning(now)
                && state.schedule.as_ref().map(|p| p.scheduled_until) == Some(promised) =>
        {
            PromiseOutcome {
                reminder: Some(OwnerReminder::MaintenanceOverrunning {
                    promised,
                    grace: rules.grace,
                }),
                then: (rules.grace)
                    .map(|grace| (Promise::MaintenanceOverrun, promised, promised + grace)),
                entry: None,
            }
        }
        Promise::MaintenanceOverrun => {
            let mut outcome = maintenance_step(incident, Step::Overrun, promised, ctx, rules);
            if outcome.entry.is_some() {
                outcome.reminder = Some(OwnerReminder::MaintenanceOverrunning {
                    promised,
                    grace: None,
                });
            }
            outcome
        }
        _ => PromiseOutcome::default(),
    }
}

/// Candor's own entry at a maintenance's timed step, in its words.
fn maintenance_step(
    incident: &Incident,
    step: Step,
    promised: Timestamp,
    ctx: &Context<'_>,
    rules: &PromiseRules,
) -> PromiseOutcome {
    let Some(plan) = incident.state.schedule.as_ref() else {
        return PromiseOutcome::default();
    };
    let (now, tz) = (ctx.now, &rules.tz);
    let owner = &incident.state.owner.name;
    let until = when(plan.scheduled_until, now, tz);
    let text = match step {
        Step::Remind => format!(
            "A reminder: this planned maintenance starts at {} and is planned to end at {until}.",
            when_with_relative(plan.scheduled_for, now, tz)
        ),
        Step::Start => format!(
            "The planned maintenance has begun. It is planned to end at {until}; \
             {owner} will post here when it is done."
        ),
        Step::AutoComplete => format!(
            "The planned maintenance ended at {until}, as planned. Candor marked it \
             completed by itself, as {owner} asked when planning it; if anything still \
             does not work, {owner} will post here."
        ),
        Step::Overrun => format!(
            "Maintenance is taking longer than planned: it was planned to end at {until}. \
             {owner} has been reminded. We will post here as soon as it is done."
        ),
    };
    let entry = Message::parse(&text)
        .ok()
        .and_then(|message| incident.maintenance_step(step, promised, message, ctx));
    PromiseOutcome {
        entry,
        ..PromiseOutcome::default()
    }
}

/// Candor's own entry saying the promised update is late, and a second
/// reminder to the owner.
fn overdue_notice(
    incident: &Incident,
    promised: Timestamp,
    ctx: &Context<'_>,
    tz: &TimeZone,
) -> PromiseOutcome {
    let text = format!(
        "The update promised for {} is late. {} has been reminded. \
         We will post here as soon as we have news.",
        when(promised, ctx.now, tz),
        incident.state.owner.name
    );
    let notice =
        Message::parse(&text).and_then(|message| incident.overdue_notice(promised, message, ctx));
    match notice {
        Ok(entry) => PromiseOutcome {
            entry: Some(entry),
            reminder: Some(OwnerReminder::StillOverdue { promised }),
            then: None,
        },
        // The promise was kept meanwhile, or was already called late.
        Err(_) => PromiseOutcome::default(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::domain::incident::{NextUpdate, OpenIncident};
    use crate::domain::{Email, EntryClass, Impact, IncidentStatus, Owner, PersonName, Title};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn rules() -> PromiseRules {
        PromiseRules {
            grace: Some(SignedDuration::from_mins(15)),
            tz: TimeZone::get("Europe/Berlin").unwrap(),
        }
    }

    /// Opened at 09:00 UTC (10:00 CET), the next update promised for 10:30 CET.
    fn opened() -> Incident {
        let none = (BTreeMap::new(), BTreeSet::new(), BTreeMap::new());
        let write = Write::candor(t("2026-03-04T09:00:00Z"), EntryId::new("e1"));
        let command = OpenIncident {
            title: Title::parse("Mail delays").unwrap(),
            impact: Impact::Minor,
            status: IncidentStatus::Investigating,
            owner: Owner {
                name: PersonName::parse("Dana (IT Ops)").unwrap(),
                email: Email::parse("dana@acme.test").unwrap(),
            },
            cause: None,
            eta: None,
            next_update: Some(NextUpdate::InMinutes(30)),
            components: BTreeMap::new(),
            message: Message::parse("We are looking into it.").unwrap(),
            started_at: None,
        };
        let ctx = write.context(&none.0, &none.1, &none.2);
        Incident::open("inc".into(), command, &ctx).unwrap().0
    }

    fn due(incident: &Incident, kind: Promise, promised: &str, now: &str) -> PromiseOutcome {
        let none = (BTreeMap::new(), BTreeSet::new(), BTreeMap::new());
        let write = Write::candor(t(now), EntryId::new("e2"));
        let ctx = write.context(&none.0, &none.1, &none.2);
        promise_due(incident, kind, t(promised), &ctx, &rules())
    }

    #[test]
    fn a_broken_promise_reminds_the_owner_then_candor_says_it_is_late() {
        let incident = opened();
        let promised = "2026-03-04T09:30:00Z";
        let first = due(&incident, Promise::NextUpdate, promised, promised);
        assert_eq!(
            first.reminder,
            Some(OwnerReminder::UpdateOverdue {
                promised: t(promised),
                grace: Some(SignedDuration::from_mins(15)),
            })
        );
        assert_eq!(
            first.then,
            Some((
                Promise::OverdueNotice,
                t(promised),
                t("2026-03-04T09:45:00Z")
            ))
        );
        assert!(first.entry.is_none());

        let notice = due(
            &incident,
            Promise::OverdueNotice,
            promised,
            "2026-03-04T09:45:00Z",
        );
        let (after, entry) = notice.entry.expect("Candor's entry");
        assert!(entry.system);
        assert_eq!(entry.classes, vec![EntryClass::OverdueNotice]);
        assert_eq!(
            entry.message.as_str(),
            "The update promised for 10:30 CET is late. Dana (IT Ops) has been reminded. \
             We will post here as soon as we have news."
        );
        assert_eq!(
            notice.reminder,
            Some(OwnerReminder::StillOverdue {
                promised: t(promised)
            })
        );
        // Said once per broken promise.
        let again = due(
            &after,
            Promise::OverdueNotice,
            promised,
            "2026-03-04T10:00:00Z",
        );
        assert!(again.entry.is_none() && again.reminder.is_none());
    }

    #[test]
    fn a_promise_not_yet_due_or_no_longer_held_does_nothing() {
        let incident = opened();
        let early = due(
            &incident,
            Promise::NextUpdate,
            "2026-03-04T09:30:00Z",
            "2026-03-04T09:29:00Z",
        );
        assert!(early.reminder.is_none() && early.then.is_none());
        let other = due(
            &incident,
            Promise::NextUpdate,
            "2026-03-04T09:20:00Z",
            "2026-03-04T09:31:00Z",
        );
        assert!(other.reminder.is_none());
        let eta = due(
            &incident,
            Promise::Eta,
            "2026-03-04T09:20:00Z",
            "2026-03-04T09:31:00Z",
        );
        assert!(eta.reminder.is_none());
    }

    /// Reminders are stored in the outbox: their shape is kept.
    #[test]
    fn a_reminder_is_stored_as_tagged_json() {
        let reminder = OwnerReminder::StillAffected { count: 2 };
        let json = serde_json::to_value(&reminder).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "still_affected", "count": 2})
        );
        let back: OwnerReminder = serde_json::from_value(json).unwrap();
        assert_eq!(back, reminder);
        let overdue = OwnerReminder::UpdateOverdue {
            promised: t("2026-03-04T09:30:00Z"),
            grace: None,
        };
        let text = serde_json::to_string(&overdue).unwrap();
        assert_eq!(
            serde_json::from_str::<OwnerReminder>(&text).unwrap(),
            overdue
        );
    }
}
