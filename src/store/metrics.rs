//! What `/metrics` reads from the database at scrape time: the outbox, the
//! fan-outs, the timed work, the incidents, and the pool.

use async_trait::async_trait;

use super::backend::Backend;
use super::query::{Conn, Sql};
use super::stored::{from_opt_ms, ms};
use super::Result;
use crate::domain::metrics::Gauges;

/// Four sums, each `NULL` when no row is open.
type Counts = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);

#[async_trait]
pub trait MetricsStore: Send + Sync {
    async fn gauges(&self, now: jiff::Timestamp) -> Result<Gauges>;
}

#[async_trait]
impl<B: Backend> MetricsStore for B {
    async fn gauges(&self, now: jiff::Timestamp) -> Result<Gauges> {
        let mut conn = self.pool().acquire().await?;
        let conn = &mut *conn;
        let (deliveries, oldest) = unsent(conn).await?;
        let (fanouts, fanout_subscribers): (i64, Option<i64>) = conn
            .fetch_one(Sql::new(
                "SELECT COUNT(*), CAST(SUM(subscribers) AS BIGINT) FROM fanouts WHERE expanded_at IS NULL",
            ))
            .await?;
        let (jobs_due, jobs_late): (i64, Option<i64>) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*), CAST(SUM(CASE WHEN due_at <= $2 THEN 1 ELSE 0 END) AS BIGINT) FROM jobs \
                     WHERE done_at IS NULL AND due_at <= $1",
                )
                .bind(ms(now))
                .bind(ms(now) - 60_000),
            )
            .await?;
        let (open, overdue, planned, running): Counts = conn
            .fetch_one(
                Sql::new(format!(
                    "SELECT \
                     CAST(SUM(CASE WHEN kind = 'incident' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN kind = 'incident' AND next_update_at <= $1 \
                       THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN status = 'scheduled' THEN 1 ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN status IN ('in_progress', 'verifying') \
                       THEN 1 ELSE 0 END) AS BIGINT) \
                     FROM incidents WHERE status NOT IN ({})",
                    super::incidents::FINAL
                ))
                .bind(ms(now)),
            )
            .await?;
        Ok(Gauges {
            deliveries,
            oldest_pending: from_opt_ms(oldest)?,
            fanouts_waiting: fanouts,
            fanout_subscribers_waiting: fanout_subscribers.unwrap_or(0),
            jobs_due,
            jobs_late: jobs_late.unwrap_or(0),
            incidents_open: open.unwrap_or(0),
            incidents_overdue: overdue.unwrap_or(0),
            maintenances_planned: planned.unwrap_or(0),
            maintenances_running: running.unwrap_or(0),
            pool_size: self.pool().size(),
            pool_idle: self.pool().num_idle(),
        })
    }
}

/// The outbox's rows not sent, by channel and state, and when the oldest
/// pending one was queued: through the partial indexes that hold only such
/// rows. The sent ones are most of the table (every mail ever), and
/// counting them took a scan of it at each scrape.
async fn unsent<C: Conn>(conn: &mut C) -> Result<(Vec<(String, String, i64)>, Option<i64>)> {
    let mut deliveries: Vec<(String, String, i64)> = conn
        .fetch_all(Sql::new(format!(
            "SELECT channel, state, COUNT(*) FROM deliveries{} \
             WHERE state IN ('pending', 'failed') GROUP BY channel, state",
            C::OPEN_DELIVERIES
        )))
        .await?;
    let dead: Vec<(String, String, i64)> = conn
        .fetch_all(Sql::new(
            "SELECT channel, state, COUNT(*) FROM deliveries \
             WHERE state IN ('failed', 'dead') GROUP BY channel, state",
        ))
        .await?;
    deliveries.extend(dead.into_iter().filter(|(_, state, _)| state == "dead"));
    deliveries.sort();
    let (oldest,): (Option<i64>,) = conn
        .fetch_one(Sql::new(format!(
            "SELECT MIN(created_at) FROM deliveries{} \
             WHERE state IN ('pending', 'failed') AND state = 'pending'",
            C::OPEN_DELIVERIES
        )))
        .await?;
    Ok((deliveries, oldest))
}
