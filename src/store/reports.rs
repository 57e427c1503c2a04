//! What staff read about their incidents: delivery counts and failures,
//! readers' "still affected" reports, and owed follow-ups.

use async_trait::async_trait;

use super::audit::{anonymous, finish_write};
use super::backend::Backend;
use super::incidents::{incident, IncidentRow, INCIDENT_COLUMNS};
use super::query::{Conn, Sql};
use super::reminders::queue_reminder;
use super::stored::{from_opt_ms, ms};
use super::{AffectedReports, DeliveryFailure, EntryDeliveries, Result};
use crate::domain::promises::OwnerReminder;
use crate::domain::{DeliveryId, EntryId, Incident, IncidentId, SubscriberId};

#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn incident_deliveries(&self, incident_id: &IncidentId) -> Result<Vec<EntryDeliveries>>;
    /// Records a subscriber's "still affected" report, once; on the first
    /// report of this subscriber the owner is reminded, with the count.
    /// `false` when this subscriber had reported already.
    async fn report_still_affected(
        &self,
        incident_id: &IncidentId,
        subscriber_id: &SubscriberId,
        now: jiff::Timestamp,
    ) -> Result<bool>;
    async fn affected_reports(&self, incident_id: &IncidentId) -> Result<AffectedReports>;
    /// Incidents with unanswered reports, with their counts.
    async fn unanswered_reports(&self) -> Result<Vec<(IncidentId, AffectedReports)>>;
    /// Resolved incidents whose follow-up is owed, oldest due first.
    async fn owed_follow_ups(&self) -> Result<Vec<Incident>>;
}

#[derive(sqlx::FromRow)]
struct StateCount {
    entry_id: EntryId,
    state: String,
    n: i64,
}

/// An entry's fan-outs: delivery rows written, subscribers still to expand.
#[derive(sqlx::FromRow)]
struct FanoutCount {
    entry_id: EntryId,
    written: Option<i64>,
    queued: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct FailureRow {
    id: DeliveryId,
    entry_id: EntryId,
    subscriber_id: SubscriberId,
    address: String,
    state: String,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: Option<i64>,
    failing_since: Option<i64>,
    quarantined_at: Option<i64>,
}

impl TryFrom<FailureRow> for DeliveryFailure {
    type Error = super::StoreError;

    fn try_from(row: FailureRow) -> Result<Self> {
        let quarantined_at = from_opt_ms(row.quarantined_at)?;
        Ok(DeliveryFailure {
            failing_since: quarantined_at.and(from_opt_ms(row.failing_since)?),
            quarantined_at,
            delivery_id: row.id,
            subscriber_id: row.subscriber_id,
            address: row.address,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: if row.state == "failed" {
                from_opt_ms(row.next_attempt_at)?
            } else {
                None
            },
            state: row.state,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ReportCount {
    incident_id: IncidentId,
    total: i64,
    unanswered: Option<i64>,
}

#[async_trait]
impl<B: Backend> ReportStore for B {
    async fn incident_deliveries(&self, incident_id: &IncidentId) -> Result<Vec<EntryDeliveries>> {
        let mut conn = self.pool().acquire().await?;
        let _: (String,) = conn
            .fetch_one(Sql::new("SELECT id FROM incidents WHERE id = $1").bind(incident_id))
            .await?;
        let entries: Vec<(EntryId,)> = conn
            .fetch_all(
                Sql::new("SELECT id FROM entries WHERE incident_id = $1 ORDER BY seq DESC")
                    .bind(incident_id),
            )
            .await?;
        let mut report: Vec<EntryDeliveries> = entries
            .into_iter()
            .map(|(entry_id,)| EntryDeliveries {
                entry_id,
                pending: 0,
                sent: 0,
                failed: 0,
                dead: 0,
                failures: Vec::new(),
            })
            .collect();
        count_deliveries(&mut *conn, incident_id, &mut report).await?;
        let failures: Vec<FailureRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT d.id, d.entry_id, d.subscriber_id, s.address, d.state, d.attempts, \
                     d.last_error, d.next_attempt_at, s.failing_since, s.quarantined_at \
                     FROM deliveries d \
                     JOIN entries e ON e.id = d.entry_id \
                     JOIN subscribers s ON s.id = d.subscriber_id \
                     WHERE e.incident_id = $1 AND d.state IN ('failed', 'dead') \
                     ORDER BY d.id LIMIT 1000",
                )
                .bind(incident_id),
            )
            .await?;
        for row in failures {
            let entry_id = row.entry_id.clone();
            let failure = DeliveryFailure::try_from(row)?;
            if let Some(item) = report.iter_mut().find(|r| r.entry_id == entry_id) {
                item.failures.push(failure);
            }
        }
        Ok(report)
    }

    #[tracing::instrument(skip(self, now))]
    async fn report_still_affected(
        &self,
        incident_id: &IncidentId,
        subscriber_id: &SubscriberId,
        now: jiff::Timestamp,
    ) -> Result<bool> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let incident = incident(conn, incident_id).await?;
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO still_affected (incident_id, subscriber_id, reported_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (incident_id, subscriber_id) DO NOTHING",
                )
                .bind(incident_id)
                .bind(subscriber_id)
                .bind(ms(now)),
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        let (count,): (i64,) = conn
            .fetch_one(
                Sql::new("SELECT COUNT(*) AS n FROM still_affected WHERE incident_id = $1")
                    .bind(incident_id),
            )
            .await?;
        let reminder = OwnerReminder::StillAffected { count };
        queue_reminder(conn, &incident, reminder, now).await?;
        let actor = anonymous("subscriber");
        let detail = serde_json::json!({"subscriber": subscriber_id});
        finish_write(
            conn,
            &actor,
            now,
            "incident.still_affected",
            incident_id.as_str(),
            detail,
        )
        .await?;
        write.commit().await?;
        Ok(true)
    }

    async fn affected_reports(&self, incident_id: &IncidentId) -> Result<AffectedReports> {
        let mut conn = self.pool().acquire().await?;
        Ok(report_counts(&mut *conn, Some(incident_id))
            .await?
            .pop()
            .map(|(_, r)| r)
            .unwrap_or_default())
    }

    async fn unanswered_reports(&self) -> Result<Vec<(IncidentId, AffectedReports)>> {
        let mut conn = self.pool().acquire().await?;
        Ok(report_counts(&mut *conn, None)
            .await?
            .into_iter()
            .filter(|(_, r)| r.unanswered > 0)
            .collect())
    }

    async fn owed_follow_ups(&self) -> Result<Vec<Incident>> {
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all::<IncidentRow>(Sql::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE follow_up_owed_at IS NOT NULL \
             ORDER BY follow_up_owed_at, id LIMIT 500"
        )))
        .await?
        .into_iter()
        .map(Incident::try_from)
        .collect()
    }
}

/// Fills in each entry's counts of deliveries by state.
async fn count_deliveries<C: Conn>(
    conn: &mut C,
    incident_id: &IncidentId,
    report: &mut [EntryDeliveries],
) -> Result<()> {
    // Without counting every row sent (a million for a large page):
    // each fan-out knows how many rows it wrote and how many
    // subscribers it has still to expand; rows not sent yet are few
    // and indexed; the others were sent.
    let fanouts: Vec<FanoutCount> = conn
        .fetch_all(
            Sql::new(
                "SELECT f.entry_id, CAST(SUM(f.delivery_rows) AS BIGINT) AS written, \
                 CAST(SUM(CASE WHEN f.expanded_at IS NULL THEN f.subscribers ELSE 0 END) \
                   AS BIGINT) AS queued \
                 FROM entries e JOIN fanouts f ON f.entry_id = e.id \
                 WHERE e.incident_id = $1 GROUP BY f.entry_id",
            )
            .bind(incident_id),
        )
        .await?;
    let unsent: Vec<StateCount> = conn
        .fetch_all(
            Sql::new(format!(
                "SELECT d.entry_id, d.state, COUNT(*) AS n \
                 FROM entries e JOIN deliveries d{} ON d.entry_id = e.id \
                 WHERE e.incident_id = $1 AND d.state IN ('pending', 'failed') \
                   AND d.state = 'pending' GROUP BY d.entry_id, d.state \
                 UNION ALL \
                 SELECT d.entry_id, d.state, COUNT(*) AS n \
                 FROM entries e JOIN deliveries d ON d.entry_id = e.id \
                 WHERE e.incident_id = $1 AND d.state IN ('failed', 'dead') \
                 GROUP BY d.entry_id, d.state",
                C::OPEN_DELIVERIES
            ))
            .bind(incident_id),
        )
        .await?;
    for item in report.iter_mut() {
        let Some(fanout) = fanouts.iter().find(|f| f.entry_id == item.entry_id) else {
            continue;
        };
        for count in unsent.iter().filter(|c| c.entry_id == item.entry_id) {
            match count.state.as_str() {
                "pending" => item.pending += count.n,
                "failed" => item.failed += count.n,
                _ => item.dead += count.n,
            }
        }
        let written = fanout.written.unwrap_or(0);
        item.sent = (written - item.pending - item.failed - item.dead).max(0);
        item.pending += fanout.queued.unwrap_or(0);
    }
    Ok(())
}

/// Report counts per incident (one incident, or all with reports).
async fn report_counts<C: Conn>(
    conn: &mut C,
    incident_id: Option<&IncidentId>,
) -> Result<Vec<(IncidentId, AffectedReports)>> {
    let counts: Vec<ReportCount> = conn
        .fetch_all(
            Sql::new(
                "SELECT r.incident_id, COUNT(*) AS total, \
                 SUM(CASE WHEN r.reported_at >= i.updated_at THEN 1 ELSE 0 END) AS unanswered \
                 FROM still_affected r JOIN incidents i ON i.id = r.incident_id \
                 WHERE ($1 = '' OR r.incident_id = $1) \
                 GROUP BY r.incident_id ORDER BY r.incident_id",
            )
            .bind(incident_id.map_or("", IncidentId::as_str)),
        )
        .await?;
    Ok(counts
        .into_iter()
        .map(|c| {
            let reports = AffectedReports {
                total: c.total,
                unanswered: c.unanswered.unwrap_or(0),
            };
            (c.incident_id, reports)
        })
        .collect())
}
