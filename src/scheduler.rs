//! Kept promises (DESIGN.md §1.2, §1.3, §1.7): timed work from the database,
//! claimed with a lease so it survives restarts and runs once across
//! instances. At a promised update's time the owner is reminded; after the
//! grace period Candor says so in a system entry that subscribers receive;
//! a passed ETA and a due follow-up remind the owner too.

use std::sync::Arc;

use jiff::{tz::TimeZone, SignedDuration, Timestamp};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::domain::{facts::when, incident::Promise, Context, DomainError, Incident, Message};
use crate::ids::new_id;
use crate::store::{Job, JobEffects, Snapshot, StaffMail, Store};
use crate::views::mail::staff;

const LEASE: SignedDuration = SignedDuration::from_mins(2);

pub struct Scheduler {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// `None`: no system entry for late updates (`overdue_grace = off`).
    pub grace: Option<SignedDuration>,
    pub tz: TimeZone,
    pub base_url: String,
    /// Wakes the delivery worker after work that queued mail.
    pub wake: Arc<Notify>,
    /// Bumped after work that changed what the public pages say.
    pub page_changes: Arc<std::sync::atomic::AtomicU64>,
    pub pass: tokio::sync::Mutex<()>,
}

impl Scheduler {
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.run_due().await {
                Ok(0) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Ok(_) => {}
                Err(err) => {
                    tracing::error!(error = %err, "scheduler");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Runs every job that is due now; returns how many ran.
    pub async fn run_due(&self) -> anyhow::Result<usize> {
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let jobs = self.store.claim_jobs(now, now + LEASE, 64).await?;
        for job in &jobs {
            let ran = self
                .store
                .run_job(job, now, &|incident, snapshot| {
                    Ok(self.effects(job, incident, snapshot, now))
                })
                .await?;
            if ran {
                tracing::info!(job = job.id, kind = ?job.kind, incident = %job.incident_id, "timed work done");
            }
        }
        if !jobs.is_empty() {
            self.page_changes
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            self.wake.notify_one();
        }
        Ok(jobs.len())
    }

    fn effects(
        &self,
        job: &Job,
        incident: &Incident,
        snapshot: &Snapshot,
        now: Timestamp,
    ) -> JobEffects {
        let state = &incident.state;
        let promised = job.ref_at;
        let at = when(promised, now, &self.tz);
        let mail = |words| to_owner(incident, words);
        match job.kind {
            Promise::NextUpdate => {
                if !(incident.overdue(now) && state.next_update_at == Some(promised)) {
                    return JobEffects::default();
                }
                JobEffects {
                    reminder: Some(mail(staff::update_overdue(
                        incident,
                        &at,
                        &self.base_url,
                        self.grace,
                    ))),
                    then: self
                        .grace
                        .map(|grace| (Promise::OverdueNotice, promised, promised + grace)),
                    entry: None,
                }
            }
            Promise::OverdueNotice => self.overdue_notice(incident, snapshot, promised, &at, now),
            Promise::Eta => {
                if !(incident.eta_passed(now) && state.eta == Some(promised)) {
                    return JobEffects::default();
                }
                JobEffects {
                    reminder: Some(mail(staff::eta_passed(incident, &at, &self.base_url))),
                    ..JobEffects::default()
                }
            }
            Promise::FollowUp => {
                if !(incident.owes_follow_up() && state.follow_up_at == Some(promised)) {
                    return JobEffects::default();
                }
                JobEffects {
                    reminder: Some(mail(staff::follow_up_due(incident, &at, &self.base_url))),
                    ..JobEffects::default()
                }
            }
        }
    }

    /// Candor's own entry saying the promised update is late, and a second
    /// reminder to the owner.
    fn overdue_notice(
        &self,
        incident: &Incident,
        snapshot: &Snapshot,
        promised: Timestamp,
        at: &str,
        now: Timestamp,
    ) -> JobEffects {
        let owner = &incident.state.owner;
        let text = format!(
            "The update promised for {at} is late. {} has been reminded. \
             We will post here as soon as we have news.",
            owner.name
        );
        let ctx = Context {
            now,
            author: "Candor",
            entry_id: new_id(),
            components: &snapshot.components,
            entry_ids: &snapshot.entry_ids,
            held_elsewhere: &snapshot.held_elsewhere,
            follow_up_after: SignedDuration::ZERO,
        };
        let notice: Result<_, DomainError> = Message::parse(&text)
            .and_then(|message| incident.overdue_notice(promised, message, &ctx));
        match notice {
            Ok(entry) => JobEffects {
                entry: Some(entry),
                reminder: Some(to_owner(
                    incident,
                    staff::still_overdue(incident, at, &self.base_url),
                )),
                then: None,
            },
            // The promise was kept meanwhile, or was already called late.
            Err(_) => JobEffects::default(),
        }
    }
}

/// A reminder to the incident's owner.
fn to_owner(incident: &Incident, (subject, text): (String, String)) -> StaffMail {
    StaffMail {
        to: incident.state.owner.email.to_string(),
        subject,
        text,
    }
}
