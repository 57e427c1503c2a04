//! Readers' "I'm affected" reports (`domain::reader_report`): counted once
//! per reader and subject an hour, counted for staff, and a mail to staff
//! queued, in the report's transaction, when they point at a component the
//! page shows as working. Reports older than 30 days, and readers' keys
//! older than their hour, are deleted as new reports arrive and hourly by
//! the scheduler.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use jiff::Timestamp;

use super::backend::Backend;
use super::incidents::incident;
use super::query::{Conn, Sql};
use super::reminders::queue_readers_affected;
use super::stored::{from_ms, from_opt_ms, ms, parse_enum, StoredComponents};
use super::Result;
use crate::domain::reader_report::{
    counted_since, takes_reports, unseen, ReaderKey, ReadersAffected, ReportOutcome, Subject,
    COUNTED_ONCE_PER, KEPT_FOR, LOOKED_AT, STAFF_TOLD_AT_MOST_EVERY,
};
use crate::domain::{ComponentId, ComponentStatus};

/// One reader's report, as the handler made it.
#[derive(Debug, Clone)]
pub struct ReaderReport {
    pub subject: Subject,
    pub reader: ReaderKey,
    /// Whom to mail when the report is news to staff (`reports_to`);
    /// `None`: nobody, staff read `/api/v1/owed`.
    pub tell: Option<String>,
}

/// Readers' reports on one subject over the last 24 hours, for staff.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReportCounts {
    /// `component` or `incident`.
    pub kind: &'static str,
    pub id: String,
    /// The component's name or the incident's title.
    pub name: String,
    /// The component's or the incident's status now.
    pub status: String,
    pub last_hour: i64,
    pub last_day: i64,
    pub first_report_at: Timestamp,
    pub last_report_at: Timestamp,
}

#[async_trait]
pub trait ReaderReportStore: Send + Sync {
    /// Records a reader's report: counted unless the same reader reported
    /// the same subject within the hour; when it is news to staff, a mail
    /// is queued (at most one an hour per component). `NotFound` for an
    /// unknown component or incident.
    async fn report_affected(&self, report: &ReaderReport, now: Timestamp)
        -> Result<ReportOutcome>;
    /// Counts per subject reported in the last 24 hours, newest first.
    async fn reader_report_counts(&self, now: Timestamp) -> Result<Vec<ReportCounts>>;
    /// Components the page shows as working that readers report as
    /// affected, newest report first.
    async fn unseen_outages(&self, now: Timestamp) -> Result<Vec<ReadersAffected>>;
    /// Deletes reports past keeping and readers' keys past their hour,
    /// also when no new report comes (the scheduler, hourly).
    async fn prune_reader_reports(&self, now: Timestamp) -> Result<()>;
}

#[derive(sqlx::FromRow)]
struct CountRow {
    subject_kind: String,
    subject_id: String,
    last_day: i64,
    last_hour: Option<i64>,
    first_at: i64,
    last_at: i64,
}

#[derive(sqlx::FromRow)]
struct SinceRow {
    n: i64,
    first_at: Option<i64>,
    last_at: Option<i64>,
}

#[async_trait]
impl<B: Backend> ReaderReportStore for B {
    #[tracing::instrument(skip_all, fields(kind = report.subject.kind(), id = report.subject.id()))]
    async fn report_affected(
        &self,
        report: &ReaderReport,
        now: Timestamp,
    ) -> Result<ReportOutcome> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let name = match &report.subject {
            Subject::Component(id) => {
                let (name,): (String,) = conn
                    .fetch_one(Sql::new("SELECT name FROM components WHERE id = $1").bind(id))
                    .await?;
                name
            }
            Subject::Incident(id) => {
                let found = incident(conn, id).await?;
                if !takes_reports(&found) {
                    return Ok(ReportOutcome::Resolved);
                }
                found.state.title.to_string()
            }
        };
        prune(conn, now).await?;
        let counted = count_once(conn, report, now).await?;
        let mut staff_told = false;
        if let (true, Subject::Component(id), Some(to)) = (counted, &report.subject, &report.tell) {
            staff_told = tell_staff(conn, id, &name, to, now).await?;
        }
        write.commit().await?;
        Ok(ReportOutcome::Taken {
            name,
            counted,
            staff_told,
        })
    }

    async fn reader_report_counts(&self, now: Timestamp) -> Result<Vec<ReportCounts>> {
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<CountRow> = conn
            .fetch_all(
                Sql::new(
                    "SELECT subject_kind, subject_id, COUNT(*) AS last_day, \
                     SUM(CASE WHEN reported_at > $2 THEN 1 ELSE 0 END) AS last_hour, \
                     MIN(reported_at) AS first_at, MAX(reported_at) AS last_at \
                     FROM reader_reports WHERE reported_at > $1 \
                     GROUP BY subject_kind, subject_id \
                     ORDER BY last_at DESC, subject_kind, subject_id LIMIT 1000",
                )
                .bind(ms(now - LOOKED_AT))
                .bind(ms(now - COUNTED_ONCE_PER)),
            )
            .await?;
        let components = if rows.iter().any(|r| r.subject_kind == "component") {
            component_states(&mut *conn).await?
        } else {
            BTreeMap::new()
        };
        let mut counts = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(subject) = Subject::parse(&row.subject_kind, row.subject_id) else {
                continue;
            };
            let (name, status) = match &subject {
                Subject::Component(id) => match components.get(id) {
                    Some((name, status)) => (name.clone(), status.as_str().to_string()),
                    None => continue,
                },
                Subject::Incident(id) => match incident(&mut *conn, id).await {
                    Ok(found) => (
                        found.state.title.to_string(),
                        found.state.status.as_str().to_string(),
                    ),
                    Err(super::StoreError::NotFound) => continue,
                    Err(err) => return Err(err),
                },
            };
            counts.push(ReportCounts {
                kind: subject.kind(),
                id: subject.id().to_string(),
                name,
                status,
                last_hour: row.last_hour.unwrap_or(0),
                last_day: row.last_day,
                first_report_at: from_ms(row.first_at)?,
                last_report_at: from_ms(row.last_at)?,
            });
        }
        Ok(counts)
    }

    async fn unseen_outages(&self, now: Timestamp) -> Result<Vec<ReadersAffected>> {
        let mut conn = self.pool().acquire().await?;
        let reported: Vec<(ComponentId,)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT DISTINCT subject_id FROM reader_reports \
                     WHERE subject_kind = 'component' AND reported_at > $1",
                )
                .bind(ms(now - LOOKED_AT)),
            )
            .await?;
        if reported.is_empty() {
            return Ok(Vec::new());
        }
        let components = component_states(&mut *conn).await?;
        let covered = covered_components(&mut *conn).await?;
        let mut news = Vec::new();
        for (id,) in reported {
            let Some((name, _)) = components.get(&id) else {
                continue;
            };
            if let Some(item) = component_news(&mut *conn, &id, name, &covered, now).await? {
                news.push(item);
            }
        }
        news.sort_by(|a, b| b.last.cmp(&a.last).then(a.name.cmp(&b.name)));
        Ok(news)
    }

    async fn prune_reader_reports(&self, now: Timestamp) -> Result<()> {
        let mut write = self.begin_write().await?;
        prune(write.conn(), now).await?;
        write.commit().await
    }
}

/// Deletes reports past keeping, and readers' keys past their hour.
pub(crate) async fn prune<C: Conn>(conn: &mut C, now: Timestamp) -> Result<()> {
    conn.execute(
        Sql::new("DELETE FROM reader_reports WHERE reported_at < $1").bind(ms(now - KEPT_FOR)),
    )
    .await?;
    conn.execute(
        Sql::new("DELETE FROM reader_limits WHERE counted_at <= $1")
            .bind(ms(now - COUNTED_ONCE_PER)),
    )
    .await?;
    Ok(())
}

/// Counts the report unless this reader's key counted for this subject
/// within the hour (one statement, so two at once count once).
async fn count_once<C: Conn>(conn: &mut C, report: &ReaderReport, now: Timestamp) -> Result<bool> {
    let subject = &report.subject;
    let counted = conn
        .execute(
            Sql::new(
                "INSERT INTO reader_limits (subject_kind, subject_id, reader, counted_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (subject_kind, subject_id, reader) \
                 DO UPDATE SET counted_at = excluded.counted_at \
                 WHERE reader_limits.counted_at <= $5",
            )
            .bind(subject.kind())
            .bind(subject.id())
            .bind(report.reader.as_str())
            .bind(ms(now))
            .bind(ms(now - COUNTED_ONCE_PER)),
        )
        .await?
        > 0;
    if counted {
        conn.execute(
            Sql::new(
                "INSERT INTO reader_reports (subject_kind, subject_id, reported_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(subject.kind())
            .bind(subject.id())
            .bind(ms(now)),
        )
        .await?;
    }
    Ok(counted)
}

/// Queues the mail to staff when the reports on a component are news to
/// them and they were not told of it within the hour.
async fn tell_staff<C: Conn>(
    conn: &mut C,
    id: &ComponentId,
    name: &str,
    to: &str,
    now: Timestamp,
) -> Result<bool> {
    let covered = covered_components(conn).await?;
    let Some(news) = component_news(conn, id, name, &covered, now).await? else {
        return Ok(false);
    };
    let due = conn
        .execute(
            Sql::new(
                "INSERT INTO reader_report_mails (component_id, mailed_at) VALUES ($1, $2) \
                 ON CONFLICT (component_id) DO UPDATE SET mailed_at = excluded.mailed_at \
                 WHERE reader_report_mails.mailed_at <= $3",
            )
            .bind(id)
            .bind(ms(now))
            .bind(ms(now - STAFF_TOLD_AT_MOST_EVERY)),
        )
        .await?
        > 0;
    if due {
        queue_readers_affected(conn, to, news, now).await?;
    }
    Ok(due)
}

/// The reports on a component that are news to staff (`reader_report::
/// unseen`), counted since its status last changed (at most a day back).
async fn component_news<C: Conn>(
    conn: &mut C,
    id: &ComponentId,
    name: &str,
    covered: &BTreeSet<ComponentId>,
    now: Timestamp,
) -> Result<Option<ReadersAffected>> {
    // The component, its members and its group.
    let family: Vec<(ComponentId, String)> = conn
        .fetch_all(
            Sql::new(
                "SELECT id, status FROM components WHERE id = $1 OR group_id = $1 \
                 OR id = (SELECT group_id FROM components WHERE id = $1)",
            )
            .bind(id),
        )
        .await?;
    let statuses = (family.iter())
        .map(|(_, status)| parse_enum::<ComponentStatus>(status))
        .collect::<Result<Vec<_>>>()?;
    let named = family.iter().any(|(member, _)| covered.contains(member));
    if !unseen(statuses, named) {
        return Ok(None);
    }
    let (changed,): (Option<i64>,) = conn
        .fetch_one(
            Sql::new("SELECT MAX(at) AS at FROM component_history WHERE component_id = $1")
                .bind(id),
        )
        .await?;
    let since = counted_since(now, from_opt_ms(changed)?);
    let row: SinceRow = conn
        .fetch_one(
            Sql::new(
                "SELECT COUNT(*) AS n, MIN(reported_at) AS first_at, MAX(reported_at) AS last_at \
                 FROM reader_reports \
                 WHERE subject_kind = 'component' AND subject_id = $1 AND reported_at >= $2",
            )
            .bind(id)
            .bind(ms(since)),
        )
        .await?;
    let (Some(first), Some(last)) = (from_opt_ms(row.first_at)?, from_opt_ms(row.last_at)?) else {
        return Ok(None);
    };
    Ok(Some(ReadersAffected {
        component_id: id.clone(),
        name: name.to_string(),
        count: row.n,
        since: first,
        last,
    }))
}

/// Components an open incident (or running maintenance) names.
async fn covered_components<C: Conn>(conn: &mut C) -> Result<BTreeSet<ComponentId>> {
    let open: Vec<(String,)> = conn
        .fetch_all(Sql::new(format!(
            "SELECT state FROM incidents WHERE {}",
            super::incidents::HOLDING
        )))
        .await?;
    let mut covered = BTreeSet::new();
    for (state,) in open {
        let stored: StoredComponents = serde_json::from_str(&state)?;
        covered.extend(stored.state.components.into_keys());
    }
    Ok(covered)
}

/// Every component's name and status.
async fn component_states<C: Conn>(
    conn: &mut C,
) -> Result<BTreeMap<ComponentId, (String, ComponentStatus)>> {
    let rows: Vec<(ComponentId, String, String)> = conn
        .fetch_all(Sql::new("SELECT id, name, status FROM components"))
        .await?;
    rows.into_iter()
        .map(|(id, name, status)| Ok((id, (name, parse_enum(&status)?))))
        .collect()
}
