//! Monitoring alerts: each delivery is decided by the domain
//! (`alerts::plan`) in one transaction, on what that transaction read, and
//! written like a person's post (entry, fan-out, component history, jobs,
//! audit). Every alert is kept as an event, published or not.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use super::audit::finish_write;
use super::backend::Backend;
use super::entries::{entries_of, insert_entry};
use super::incidents::{
    incident, incident_for_update, snapshot, write_incident, IncidentRow, HOLDING, INCIDENT_COLUMNS,
};
use super::query::{Conn, Sql};
use super::stored::{from_ms, ms, parse_enum};
use super::{Actor, Result, StoreError};
use crate::domain::alerts::{self, Alert, AlertEvent, AlertRules, Candidate, Plan, Seen};
use crate::domain::incident::Write;
use crate::domain::{ComponentId, EntryId, Incident, IncidentId};
use crate::ids::new_id;

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Takes one delivery of a tool's alerts, in order, in one transaction:
    /// what became of each, as staff will see it. Alerts of one delivery
    /// belong together: one that finds no incident of its own joins the
    /// incident an earlier one of the delivery opened or joined.
    async fn receive_alerts(
        &self,
        alerts: &[Alert],
        rules: &AlertRules,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<Vec<AlertEvent>>;
    /// Alert events, newest first, older than `before` (received, id).
    async fn alert_events(
        &self,
        before: Option<(Timestamp, String)>,
        limit: i64,
    ) -> Result<Vec<AlertEvent>>;
}

#[derive(sqlx::FromRow)]
struct SeenRow {
    status: String,
    incident_id: Option<IncidentId>,
    changed_at: i64,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    received_at: i64,
    source: String,
    origin: String,
    alert_key: String,
    status: String,
    summary: Option<String>,
    severity: Option<String>,
    labels: String,
    component_id: Option<ComponentId>,
    incident_id: Option<IncidentId>,
    entry_id: Option<EntryId>,
    outcome: String,
}

impl TryFrom<EventRow> for AlertEvent {
    type Error = StoreError;
    fn try_from(row: EventRow) -> Result<Self> {
        Ok(AlertEvent {
            id: row.id,
            received_at: from_ms(row.received_at)?,
            source: parse_enum(&row.source)?,
            origin: row.origin,
            key: row.alert_key,
            status: parse_enum(&row.status)?,
            summary: row.summary,
            severity: row.severity,
            labels: serde_json::from_str(&row.labels)?,
            component_id: row.component_id,
            incident_id: row.incident_id,
            entry_id: row.entry_id,
            outcome: parse_enum(&row.outcome)?,
        })
    }
}

#[async_trait]
impl<B: Backend> AlertStore for B {
    #[tracing::instrument(skip_all, fields(alerts = alerts.len()))]
    async fn receive_alerts(
        &self,
        alerts: &[Alert],
        rules: &AlertRules,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<Vec<AlertEvent>> {
        let mut tx = self.begin_write().await?;
        let conn = tx.conn();
        let mut events = Vec::with_capacity(alerts.len());
        let mut batch: Option<IncidentId> = None;
        for (index, alert) in alerts.iter().enumerate() {
            // Events of one delivery share their time; the id keeps their
            // order (newest first: the later alert of the delivery).
            let id = format!("{now}-{index:04}-{}", new_id::<String>(), now = ms(now));
            let event = receive(conn, alert, rules, now, actor, batch.as_ref(), id).await?;
            batch = event.incident_id.clone().or(batch);
            events.push(event);
        }
        let detail = serde_json::json!({
            "alerts": events.len(),
            "posted": events.iter().filter(|e| e.entry_id.is_some()).count(),
        });
        let source = alerts.first().map_or("alerts", |a| a.source.as_str());
        finish_write(conn, actor, now, "alerts.receive", source, detail).await?;
        tx.commit().await?;
        Ok(events)
    }

    async fn alert_events(
        &self,
        before: Option<(Timestamp, String)>,
        limit: i64,
    ) -> Result<Vec<AlertEvent>> {
        let (before_at, before_id) = match &before {
            Some((at, id)) => (ms(*at), id.as_str()),
            None => (-1, ""),
        };
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all::<EventRow>(
            Sql::new(
                "SELECT id, received_at, source, origin, alert_key, status, summary, severity, \
                 labels, component_id, incident_id, entry_id, outcome FROM alert_events \
                 WHERE ($1 < 0 OR received_at < $1 OR (received_at = $1 AND id < $2)) \
                 ORDER BY received_at DESC, id DESC LIMIT $3",
            )
            .bind(before_at)
            .bind(before_id)
            .bind(limit),
        )
        .await?
        .into_iter()
        .map(AlertEvent::try_from)
        .collect()
    }
}

/// One alert: read, decide, write, record.
async fn receive<C: Conn>(
    conn: &mut C,
    alert: &Alert,
    rules: &AlertRules,
    now: Timestamp,
    actor: &Actor,
    batch: Option<&IncidentId>,
    id: String,
) -> Result<AlertEvent> {
    // Locks every component first (PostgreSQL), as every incident write
    // does: two deliveries of the same alert at once (Alertmanager retries,
    // and its cluster members each send) are decided one after the other,
    // the second seeing what the first wrote.
    let components = snapshot(conn, None).await?.components;
    let target = rules.target(alert, &components);
    let seen = seen(conn, alert).await?;
    let own = match seen.as_ref().and_then(|s| s.incident.as_ref()) {
        Some(id) => candidate(conn, id, alert).await?,
        None => None,
    };
    let covering = match &target {
        Some(target) => match holding(conn, &target.component).await?.or(batch.cloned()) {
            Some(id) => candidate(conn, &id, alert).await?,
            None => None,
        },
        None => None,
    };
    let plan = alerts::plan(
        alert,
        target.as_ref(),
        seen.as_ref(),
        own.as_ref(),
        covering.as_ref(),
        rules,
        now,
    );
    let write = Write {
        now,
        author: alert.author(),
        entry_id: new_id(),
        follow_up_after: SignedDuration::ZERO,
    };
    let entry = match &plan {
        Plan::Record { .. } => None,
        Plan::Open(_) => {
            let snapshot = snapshot(conn, None).await?;
            let written = alerts::write(&plan, new_id(), None, &snapshot.context(&write))?;
            let Some((incident, entry)) = written else {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "an opening wrote nothing"
                )));
            };
            write_incident(conn, &incident, None).await?;
            insert_entry(conn, &entry).await?;
            let detail = serde_json::json!({"entry": entry.id, "alert": alert.key});
            finish_write(
                conn,
                actor,
                now,
                "incident.open",
                incident.id.as_str(),
                detail,
            )
            .await?;
            Some(entry)
        }
        Plan::Update { incident: id, .. } => {
            let before = incident_for_update(conn, id).await?;
            let snapshot = snapshot(conn, Some(id)).await?;
            let written =
                alerts::write(&plan, id.clone(), Some(&before), &snapshot.context(&write))?;
            let Some((incident, entry)) = written else {
                return Err(StoreError::Other(anyhow::anyhow!(
                    "an update wrote nothing"
                )));
            };
            insert_entry(conn, &entry).await?;
            write_incident(conn, &incident, Some(before.last_seq)).await?;
            let detail = serde_json::json!({
                "entry": entry.id, "classes": entry.classes, "alert": alert.key,
            });
            finish_write(conn, actor, now, "incident.entry", id.as_str(), detail).await?;
            Some(entry)
        }
    };
    let incident_id = match (&plan, &entry) {
        (_, Some(entry)) => Some(entry.incident_id.clone()),
        (Plan::Record { incident, .. }, None) => incident.clone(),
        _ => None,
    };
    let event = AlertEvent {
        id,
        received_at: now,
        source: alert.source,
        origin: alert.origin.clone(),
        key: alert.key.clone(),
        status: alert.status,
        summary: alert.summary.clone(),
        severity: alert.severity.clone(),
        labels: alert.labels.clone(),
        component_id: target.map(|t| t.component),
        incident_id,
        entry_id: entry.map(|e| e.id),
        outcome: plan.outcome(),
    };
    remember(conn, &event, seen.as_ref()).await?;
    Ok(event)
}

/// What Candor knew of this alert, locked for this write.
async fn seen<C: Conn>(conn: &mut C, alert: &Alert) -> Result<Option<Seen>> {
    let row = conn
        .fetch_optional::<SeenRow>(
            Sql::new(format!(
                "SELECT status, incident_id, changed_at FROM alerts \
                 WHERE source = $1 AND alert_key = $2{}",
                C::FOR_UPDATE
            ))
            .bind(alert.source.as_str())
            .bind(&alert.key),
        )
        .await?;
    row.map(|row| {
        Ok(Seen {
            status: parse_enum(&row.status)?,
            incident: row.incident_id,
            changed_at: from_ms(row.changed_at)?,
        })
    })
    .transpose()
}

/// The newest open incident (not maintenance) holding the component.
async fn holding<C: Conn>(conn: &mut C, component: &ComponentId) -> Result<Option<IncidentId>> {
    let rows: Vec<IncidentRow> = conn
        .fetch_all(Sql::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {HOLDING} AND kind = 'incident' \
             ORDER BY created_at DESC, id DESC"
        )))
        .await?;
    for row in rows {
        let incident = Incident::try_from(row)?;
        if incident.state.components.contains_key(component) {
            return Ok(Some(incident.id));
        }
    }
    Ok(None)
}

/// An incident as the rules need to see it; `None` if it is gone.
async fn candidate<C: Conn>(
    conn: &mut C,
    id: &IncidentId,
    alert: &Alert,
) -> Result<Option<Candidate>> {
    let incident = match incident(conn, id).await {
        Ok(incident) => incident,
        Err(StoreError::NotFound) => return Ok(None),
        Err(err) => return Err(err),
    };
    let entries = entries_of(conn, id).await?;
    let (others_firing,): (i64,) = conn
        .fetch_one(
            Sql::new(
                "SELECT COUNT(*) FROM alerts WHERE incident_id = $1 AND status = 'firing' \
                 AND NOT (source = $2 AND alert_key = $3)",
            )
            .bind(id)
            .bind(alert.source.as_str())
            .bind(&alert.key),
        )
        .await?;
    let held_elsewhere = snapshot(conn, Some(id)).await?.held_elsewhere;
    Ok(Some(Candidate {
        person_posted: alerts::person_posted(&entries),
        others_firing: usize::try_from(others_firing).unwrap_or(0),
        held_elsewhere,
        incident,
    }))
}

/// Keeps the event, and what Candor now knows of the alert.
async fn remember<C: Conn>(conn: &mut C, event: &AlertEvent, seen: Option<&Seen>) -> Result<()> {
    let at = ms(event.received_at);
    let changed_at = match seen {
        Some(seen) if seen.status == event.status => ms(seen.changed_at),
        _ => at,
    };
    // A repeat keeps the incident it belonged to.
    let incident = event
        .incident_id
        .as_ref()
        .or(seen.and_then(|s| s.incident.as_ref()));
    let (source, status) = (event.source.as_str(), event.status.as_str());
    // An upsert: with no component to lock, two deliveries of one unmapped
    // alert at once both get here, and the second must not fail.
    conn.execute(
        Sql::new(
            "INSERT INTO alerts (source, alert_key, status, incident_id, changed_at, seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source, alert_key) DO UPDATE SET \
             status = excluded.status, incident_id = excluded.incident_id, \
             changed_at = excluded.changed_at, seen_at = excluded.seen_at",
        )
        .bind(source)
        .bind(&event.key)
        .bind(status)
        .bind(incident)
        .bind(changed_at)
        .bind(at),
    )
    .await?;
    conn.execute(
        Sql::new(
            "INSERT INTO alert_events (id, received_at, source, origin, alert_key, status, \
             summary, severity, labels, component_id, incident_id, entry_id, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&event.id)
        .bind(at)
        .bind(source)
        .bind(&event.origin)
        .bind(&event.key)
        .bind(status)
        .bind(&event.summary)
        .bind(&event.severity)
        .bind(serde_json::to_string(&event.labels)?)
        .bind(event.component_id.as_ref())
        .bind(event.incident_id.as_ref())
        .bind(event.entry_id.as_ref())
        .bind(super::stored::enum_text(&event.outcome)),
    )
    .await?;
    Ok(())
}
