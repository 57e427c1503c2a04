//! Timed work (DESIGN.md §3 "Scheduler"): rows with a due time, claimed
//! with a lease, so that promises survive restarts and run once across
//! instances.

use async_trait::async_trait;

use super::audit::{candor, finish_write};
use super::backend::Backend;
use super::entries::insert_entry;
use super::incidents::{incident_for_update, snapshot, write_incident};
use super::query::{Conn, Sql};
use super::reminders::queue_reminder;
use super::stored::{enum_text, from_ms, from_opt_ms, ms, parse_enum};
use super::{Job, Result};
use crate::domain::incident::{Promise, Write};
use crate::domain::promises::{promise_due, PromiseRules};
use crate::domain::IncidentId;
use crate::ids::new_id;

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Leases due jobs until `lease_until`.
    async fn claim_jobs(
        &self,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<Job>>;
    /// Runs a job once (`promises::promise_due` decides what it does): its
    /// effects and its completion commit together. `false` when another
    /// process completed it first.
    async fn run_job(&self, job: &Job, now: jiff::Timestamp, rules: &PromiseRules) -> Result<bool>;
    /// The earliest due time of work not done yet.
    async fn next_job_due(&self) -> Result<Option<jiff::Timestamp>>;
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    incident_id: IncidentId,
    ref_at: i64,
    due_at: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = super::StoreError;

    fn try_from(row: JobRow) -> Result<Self> {
        Ok(Job {
            id: row.id,
            kind: parse_enum(&row.kind)?,
            incident_id: row.incident_id,
            ref_at: from_ms(row.ref_at)?,
            due_at: from_ms(row.due_at)?,
        })
    }
}

#[async_trait]
impl<B: Backend> JobStore for B {
    #[tracing::instrument(skip(self, now, lease_until))]
    async fn claim_jobs(
        &self,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
    ) -> Result<Vec<Job>> {
        let mut write = self.begin_write().await?;
        let rows = claim_due(write.conn(), now, lease_until, limit).await?;
        write.commit().await?;
        let mut jobs = rows
            .into_iter()
            .map(Job::try_from)
            .collect::<Result<Vec<_>>>()?;
        jobs.sort_by_key(|j| (j.due_at, j.id));
        Ok(jobs)
    }

    #[tracing::instrument(skip_all, fields(job = job.id, incident = %job.incident_id))]
    async fn run_job(&self, job: &Job, now: jiff::Timestamp, rules: &PromiseRules) -> Result<bool> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let before = incident_for_update(conn, &job.incident_id).await?;
        let done = conn
            .execute(
                Sql::new(
                    "UPDATE jobs SET done_at = $1, lease_until = NULL \
                     WHERE id = $2 AND done_at IS NULL",
                )
                .bind(ms(now))
                .bind(job.id),
            )
            .await?;
        if done == 0 {
            return Ok(false);
        }
        let snapshot = snapshot(conn, Some(&job.incident_id)).await?;
        let by_candor = Write::candor(now, new_id());
        let ctx = snapshot.context(&by_candor);
        let effects = promise_due(&before, job.kind, job.ref_at, &ctx, rules);
        if let Some((incident, entry)) = &effects.entry {
            insert_entry(conn, entry).await?;
            write_incident(conn, incident, Some(before.last_seq)).await?;
            let detail = serde_json::json!({"entry": entry.id, "classes": entry.classes});
            let action = "incident.system_entry";
            finish_write(conn, &candor(), now, action, incident.id.as_str(), detail).await?;
        }
        if let Some(reminder) = effects.reminder {
            queue_reminder(conn, &before, reminder, now).await?;
        }
        if let Some((kind, ref_at, due_at)) = effects.then {
            schedule_job(conn, &job.incident_id, kind, ref_at, due_at).await?;
        }
        write.commit().await?;
        Ok(true)
    }

    async fn next_job_due(&self) -> Result<Option<jiff::Timestamp>> {
        let mut conn = self.pool().acquire().await?;
        let (due,): (Option<i64>,) = conn
            .fetch_one(Sql::new(
                "SELECT MIN(COALESCE(lease_until, due_at)) AS due FROM jobs WHERE done_at IS NULL",
            ))
            .await?;
        from_opt_ms(due)
    }
}

async fn claim_due<C: Conn>(
    conn: &mut C,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
    limit: i64,
) -> Result<Vec<JobRow>> {
    conn.fetch_all(
        Sql::new(format!(
            "UPDATE jobs SET lease_until = $1 WHERE id IN \
             (SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $2 \
              AND (lease_until IS NULL OR lease_until <= $2) ORDER BY due_at, id LIMIT $3{}) \
             RETURNING id, kind, incident_id, ref_at, due_at",
            C::SKIP_LOCKED
        ))
        .bind(ms(lease_until))
        .bind(ms(now))
        .bind(limit),
    )
    .await
}

/// Promises timed work, once per (incident, kind, promised time).
pub(crate) async fn schedule_job<C: Conn>(
    conn: &mut C,
    incident_id: &IncidentId,
    kind: Promise,
    ref_at: jiff::Timestamp,
    due_at: jiff::Timestamp,
) -> Result<()> {
    conn.execute(
        Sql::new(
            "INSERT INTO jobs (kind, incident_id, ref_at, due_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (incident_id, kind, ref_at) DO NOTHING",
        )
        .bind(enum_text(&kind))
        .bind(incident_id)
        .bind(ms(ref_at))
        .bind(ms(due_at)),
    )
    .await?;
    Ok(())
}
