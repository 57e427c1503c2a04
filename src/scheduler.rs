//! Kept promises (DESIGN.md §1.2, §1.3, §1.7): timed work from the database,
//! claimed with a lease so it survives restarts and runs once across
//! instances. What each promise does when its time comes is the domain's
//! (`domain::promises`), decided inside the store's transaction.

use std::sync::Arc;

use jiff::{tz::TimeZone, SignedDuration};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::domain::incident::Write;
use crate::domain::promises::PromiseSettings;
use crate::ids::new_id;
use crate::store::Store;

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
        let settings = PromiseSettings {
            grace: self.grace,
            tz: self.tz.clone(),
            base_url: self.base_url.clone(),
        };
        for job in &jobs {
            // Written by Candor, which promises no follow-up of its own.
            let write = Write {
                now,
                author: "Candor".into(),
                entry_id: new_id(),
                follow_up_after: SignedDuration::ZERO,
            };
            let ran = self.store.run_job(job, &write, &settings).await?;
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
}
