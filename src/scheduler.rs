//! Kept promises (DESIGN.md §1.2, §1.3, §1.7): timed work from the database,
//! claimed with a lease so it survives restarts and runs once across
//! instances. At a promised update's time the owner is reminded; after the
//! grace period Candor says so in a system entry that subscribers receive;
//! a passed ETA and a due follow-up remind the owner too. Hourly, readers'
//! "I'm affected" reports past keeping and keys past their hour go.

use std::sync::Arc;

use jiff::SignedDuration;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::domain::promises::PromiseRules;
use crate::store::Store;

const LEASE: SignedDuration = SignedDuration::from_mins(2);

pub struct Scheduler {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The grace before Candor says an update is late, and the page's zone.
    pub rules: PromiseRules,
    /// Wakes the delivery worker after work that queued mail.
    pub wake: Arc<Notify>,
    /// Bumped after work that changed what the public pages say.
    pub page_changes: Arc<std::sync::atomic::AtomicU64>,
    pub pass: tokio::sync::Mutex<()>,
    /// When readers' old reports and keys were last deleted (`Default`:
    /// never yet).
    pub pruned_at: std::sync::Mutex<Option<jiff::Timestamp>>,
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

    /// Stops for a shutdown: the pass under way (if any) runs to its end,
    /// until `deadline`; then `task` (the one running `run`) is stopped
    /// between passes. A pass cut short at the deadline leaves its jobs
    /// leased: they run once their lease ends, here or elsewhere.
    pub async fn shut_down(
        &self,
        task: tokio::task::JoinHandle<()>,
        deadline: tokio::time::Instant,
    ) {
        let between_passes = tokio::time::timeout_at(deadline, self.pass.lock()).await;
        if between_passes.is_err() {
            tracing::warn!("shutdown_grace passed while timed work ran: it is cut short");
        }
        task.abort();
        let _ = task.await;
    }

    /// Runs every job that is due now; returns how many ran. What each
    /// does is decided by the domain (`promises::promise_due`) inside the
    /// job's transaction.
    pub async fn run_due(&self) -> anyhow::Result<usize> {
        let _pass = self.pass.lock().await;
        let now = self.clock.now();
        let jobs = self.store.claim_jobs(now, now + LEASE, 64).await?;
        for job in &jobs {
            if self.store.run_job(job, now, &self.rules).await? {
                tracing::info!(job = job.id, kind = ?job.kind, incident = %job.incident_id, "timed work done");
            }
        }
        self.prune_hourly(now).await?;
        if !jobs.is_empty() {
            self.page_changes
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            self.wake.notify_one();
        }
        Ok(jobs.len())
    }

    /// Readers' reports past keeping and keys past their hour go at least
    /// hourly, also when no new report comes to delete them.
    async fn prune_hourly(&self, now: jiff::Timestamp) -> anyhow::Result<()> {
        let due = {
            let pruned_at = self.pruned_at.lock().expect("not poisoned");
            pruned_at.is_none_or(|at| now - SignedDuration::from_hours(1) >= at)
        };
        if due {
            self.store.prune_reader_reports(now).await?;
            *self.pruned_at.lock().expect("not poisoned") = Some(now);
        }
        Ok(())
    }
}
