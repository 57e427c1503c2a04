//! Incidents: opened and updated by the domain (`Incident::open`,
//! `Incident::apply`) inside the store's own transaction, on what that
//! transaction read; the incident row caches the outcome of its entries.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;

use super::audit::finish_write;
use super::backend::Backend;
use super::entries::{entries_of, insert_entry};
use super::jobs::schedule_job;
use super::query::{Conn, Sql};
use super::repair::parse_stored;
use super::stored::{enum_text, from_ms, ms, parse_enum, StoredComponents, StoredState};
use super::{Actor, IncidentFilter, IncidentRecord, IncidentState, Result, Snapshot, StoreError};
use crate::domain::incident::{Command, Kind, OpenIncident, Write};
use crate::domain::maintenance::ScheduleMaintenance;
use crate::domain::{ComponentId, ComponentStatus, Entry, EntryId, Incident, IncidentId};

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Opens incident `id`: the domain decides (`Incident::open`) inside
    /// the write's transaction, on what that transaction read.
    async fn open_incident(
        &self,
        id: &IncidentId,
        command: &OpenIncident,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)>;
    /// Plans maintenance `id` (`Incident::schedule`), announced in the
    /// same transaction, its timed steps promised.
    async fn schedule_maintenance(
        &self,
        id: &IncidentId,
        command: &ScheduleMaintenance,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)>;
    /// Posts an update or a correction (`Incident::apply`), in one
    /// transaction with its entry, fan-out, jobs and audit row.
    async fn post_entry(
        &self,
        incident_id: &IncidentId,
        command: &Command,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)>;
    /// What `draft` would post, decided by the domain on what the store
    /// holds now, written nowhere: the console's preview.
    async fn preview_entry(&self, draft: &Draft, write: &Write) -> Result<(Incident, Entry)>;
    async fn get_incident(&self, id: &IncidentId) -> Result<IncidentRecord>;
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// Open incidents (not maintenance) with their timelines, newest first.
    async fn open_incident_records(&self) -> Result<Vec<IncidentRecord>>;
    /// The incidents the filter selects, each with its timeline, newest first.
    async fn incident_records(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRecord>>;
}

/// A write not posted yet, to preview.
#[derive(Debug, Clone)]
pub enum Draft {
    Open(OpenIncident),
    Schedule(ScheduleMaintenance),
    Entry(IncidentId, Command),
}

pub(crate) const INCIDENT_COLUMNS: &str = "id, kind, created_at, updated_at, last_seq, state";
/// The statuses after which nothing follows (`IncidentStatus::is_final`).
pub(crate) const FINAL: &str = "'resolved', 'completed', 'cancelled'";
/// Incidents and running maintenance, which hold their components; planned
/// work holds nothing until it begins.
pub(crate) const HOLDING: &str =
    "status NOT IN ('resolved', 'completed', 'cancelled', 'scheduled')";

#[derive(sqlx::FromRow)]
pub(crate) struct IncidentRow {
    id: IncidentId,
    kind: String,
    created_at: i64,
    updated_at: i64,
    last_seq: i64,
    state: String,
}

impl TryFrom<IncidentRow> for Incident {
    type Error = StoreError;

    /// Incidents an older Candor wrote are mended as they are read (repair.rs).
    fn try_from(row: IncidentRow) -> Result<Self> {
        let stored: StoredState = parse_stored("incident", row.id.as_str(), &row.state)?;
        Ok(Incident {
            kind: parse_enum(&row.kind)?,
            state: stored.state,
            eta_history: stored.eta_history,
            created_at: from_ms(row.created_at)?,
            updated_at: from_ms(row.updated_at)?,
            last_seq: row.last_seq,
            id: row.id,
        })
    }
}

#[async_trait]
impl<B: Backend> IncidentStore for B {
    #[tracing::instrument(skip(self, command, write, actor))]
    async fn open_incident(
        &self,
        id: &IncidentId,
        command: &OpenIncident,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)> {
        let mut tx = self.begin_write().await?;
        let conn = tx.conn();
        let snapshot = snapshot(conn, None).await?;
        let first = Incident::open(id.clone(), command.clone(), &snapshot.context(write))?;
        write_first(conn, &first, actor, "incident.open").await?;
        tx.commit().await?;
        Ok(first)
    }

    #[tracing::instrument(skip(self, command, write, actor))]
    async fn schedule_maintenance(
        &self,
        id: &IncidentId,
        command: &ScheduleMaintenance,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)> {
        let mut tx = self.begin_write().await?;
        let conn = tx.conn();
        let snapshot = snapshot(conn, None).await?;
        let first = Incident::schedule(id.clone(), command.clone(), &snapshot.context(write))?;
        write_first(conn, &first, actor, "maintenance.schedule").await?;
        tx.commit().await?;
        Ok(first)
    }

    #[tracing::instrument(skip(self, command, write, actor))]
    async fn post_entry(
        &self,
        incident_id: &IncidentId,
        command: &Command,
        write: &Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)> {
        let mut tx = self.begin_write().await?;
        let conn = tx.conn();
        let before = incident_for_update(conn, incident_id).await?;
        let snapshot = snapshot(conn, Some(incident_id)).await?;
        let (incident, entry) = before.apply(command.clone(), &snapshot.context(write))?;
        insert_entry(conn, &entry).await?;
        write_incident(conn, &incident, Some(before.last_seq)).await?;
        let detail = serde_json::json!({"entry": entry.id, "classes": entry.classes});
        finish_write(
            conn,
            actor,
            entry.posted_at,
            "incident.entry",
            incident.id.as_str(),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((incident, entry))
    }

    async fn preview_entry(&self, draft: &Draft, write: &Write) -> Result<(Incident, Entry)> {
        // Read in a transaction that is rolled back: nothing is written,
        // and the snapshot is consistent.
        let mut tx = self.begin_write().await?;
        let conn = tx.conn();
        let outcome = match draft {
            Draft::Open(command) => {
                let snapshot = snapshot(conn, None).await?;
                Incident::open(
                    IncidentId::new("preview"),
                    command.clone(),
                    &snapshot.context(write),
                )?
            }
            Draft::Schedule(command) => {
                let snapshot = snapshot(conn, None).await?;
                Incident::schedule(
                    IncidentId::new("preview"),
                    command.clone(),
                    &snapshot.context(write),
                )?
            }
            Draft::Entry(id, command) => {
                let before = incident(conn, id).await?;
                let snapshot = snapshot(conn, Some(id)).await?;
                before.apply(command.clone(), &snapshot.context(write))?
            }
        };
        drop(tx);
        Ok(outcome)
    }

    async fn get_incident(&self, id: &IncidentId) -> Result<IncidentRecord> {
        let mut conn = self.pool().acquire().await?;
        let incident = incident(&mut *conn, id).await?;
        let mut entries = entries_of(&mut *conn, id).await?;
        // An entry committed between the two reads belongs to a newer state.
        entries.retain(|e| e.seq <= incident.last_seq);
        Ok(IncidentRecord { incident, entries })
    }

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        let state = filter.state.map(|s| match s {
            IncidentState::Open => "open",
            IncidentState::Resolved => "resolved",
        });
        let kind = filter.kind.map(|k| enum_text(&k));
        let (before_at, before_id) = match &filter.before {
            Some((at, id)) => (Some(ms(*at)), Some(id.as_str())),
            None => (None, None),
        };
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all::<IncidentRow>(
            Sql::new(format!(
                "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE \
                 ($1 = 'any' OR ($1 = 'open' AND status NOT IN ({FINAL})) \
                    OR ($1 = 'resolved' AND status IN ({FINAL}))) \
                 AND ($2 = 'any' OR kind = $2) \
                 AND ($3 < 0 OR created_at < $3 OR (created_at = $3 AND id < $4)) \
                 ORDER BY created_at DESC, id DESC LIMIT $5"
            ))
            .bind(state.unwrap_or("any"))
            .bind(kind.unwrap_or_else(|| "any".into()))
            .bind(before_at.unwrap_or(-1))
            .bind(before_id.unwrap_or_default())
            .bind(filter.limit),
        )
        .await?
        .into_iter()
        .map(Incident::try_from)
        .collect()
    }

    async fn open_incident_records(&self) -> Result<Vec<IncidentRecord>> {
        self.incident_records(&IncidentFilter {
            state: Some(IncidentState::Open),
            kind: Some(Kind::Incident),
            before: None,
            limit: 1000,
        })
        .await
    }

    async fn incident_records(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRecord>> {
        let incidents = self.list_incidents(filter).await?;
        let mut conn = self.pool().acquire().await?;
        let mut records = Vec::with_capacity(incidents.len());
        for incident in incidents {
            let mut entries = entries_of(&mut *conn, &incident.id).await?;
            entries.retain(|e| e.seq <= incident.last_seq);
            records.push(IncidentRecord { incident, entries });
        }
        Ok(records)
    }
}

/// A new incident (or maintenance) and its first entry, with the audit row
/// of `action`.
async fn write_first<C: Conn>(
    conn: &mut C,
    (incident, entry): &(Incident, Entry),
    actor: &Actor,
    action: &str,
) -> Result<()> {
    write_incident(conn, incident, None).await?;
    insert_entry(conn, entry).await?;
    let detail = serde_json::json!({"entry": entry.id});
    finish_write(
        conn,
        actor,
        entry.posted_at,
        action,
        incident.id.as_str(),
        detail,
    )
    .await
}

/// One incident as it is now.
pub(crate) async fn incident<C: Conn>(conn: &mut C, id: &IncidentId) -> Result<Incident> {
    conn.fetch_one::<IncidentRow>(
        Sql::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
        ))
        .bind(id),
    )
    .await?
    .try_into()
}

/// One incident, locked (PostgreSQL) for the write that reads it.
pub(crate) async fn incident_for_update<C: Conn>(
    conn: &mut C,
    id: &IncidentId,
) -> Result<Incident> {
    conn.fetch_one::<IncidentRow>(
        Sql::new(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{}",
            C::FOR_UPDATE
        ))
        .bind(id),
    )
    .await?
    .try_into()
}

#[derive(sqlx::FromRow)]
struct ComponentState {
    id: ComponentId,
    name: String,
    status: String,
}

/// What the domain needs to decide a write, read in its transaction.
pub(crate) async fn snapshot<C: Conn>(
    conn: &mut C,
    incident_id: Option<&IncidentId>,
) -> Result<Snapshot> {
    let mut components = BTreeMap::new();
    // Locked first: a write that changes components waits for any other in
    // flight, then reads the incidents as they are after it (two incidents
    // resolving at once must not each leave a component held down by the
    // other).
    let rows: Vec<ComponentState> = conn
        .fetch_all(Sql::new(format!(
            "SELECT id, name, status FROM components ORDER BY id{}",
            C::FOR_UPDATE
        )))
        .await?;
    for row in rows {
        let status: ComponentStatus = parse_enum(&row.status)?;
        components.insert(row.id, (row.name, status));
    }
    let mut entry_ids = BTreeSet::new();
    if let Some(id) = incident_id {
        let rows: Vec<(EntryId,)> = conn
            .fetch_all(Sql::new("SELECT id FROM entries WHERE incident_id = $1").bind(id))
            .await?;
        entry_ids.extend(rows.into_iter().map(|(id,)| id));
    }
    let mut held_elsewhere: BTreeMap<ComponentId, ComponentStatus> = BTreeMap::new();
    let others: Vec<(String,)> = conn
        .fetch_all(
            Sql::new(format!(
                "SELECT state FROM incidents WHERE {HOLDING} AND id <> $1"
            ))
            .bind(incident_id.map_or("", IncidentId::as_str)),
        )
        .await?;
    for (state,) in others {
        // Only the components: no other incident's title or owner can stop
        // this write, however it was stored.
        let stored: StoredComponents = serde_json::from_str(&state)?;
        for (component, status) in stored.state.components {
            let held = held_elsewhere.entry(component).or_insert(status);
            if status.severity() > held.severity() {
                *held = status;
            }
        }
    }
    Ok(Snapshot {
        components,
        entry_ids,
        held_elsewhere,
    })
}

/// Writes the incident row (new when `previous_seq` is `None`) and the
/// timed work its promises call for.
pub(crate) async fn write_incident<C: Conn>(
    conn: &mut C,
    incident: &Incident,
    previous_seq: Option<i64>,
) -> Result<()> {
    let stored = serde_json::to_string(&StoredState {
        state: incident.state.clone(),
        eta_history: incident.eta_history.clone(),
    })?;
    let status = incident.state.status.as_str();
    let impact = incident.state.impact.as_str();
    let resolved_at = incident.state.resolved_at.map(ms);
    let follow_up_owed_at = (incident.state.follow_up_at)
        .filter(|_| incident.owes_follow_up())
        .map(ms);
    let next_update_at = incident.state.next_update_at.map(ms);
    match previous_seq {
        None => {
            conn.execute(
                Sql::new(
                    "INSERT INTO incidents (id, kind, status, impact, created_at, updated_at, \
                     resolved_at, next_update_at, last_seq, state, follow_up_owed_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&incident.id)
                .bind(enum_text(&incident.kind))
                .bind(status)
                .bind(impact)
                .bind(ms(incident.created_at))
                .bind(ms(incident.updated_at))
                .bind(resolved_at)
                .bind(next_update_at)
                .bind(incident.last_seq)
                .bind(stored)
                .bind(follow_up_owed_at),
            )
            .await?;
        }
        Some(previous) => {
            // The incident row is a cache of its entries' outcome; the
            // sequence check makes a lost update impossible.
            let updated = conn
                .execute(
                    Sql::new(
                        "UPDATE incidents SET status = $1, impact = $2, updated_at = $3, \
                         resolved_at = $4, next_update_at = $5, last_seq = $6, state = $7, \
                         follow_up_owed_at = $10 WHERE id = $8 AND last_seq = $9",
                    )
                    .bind(status)
                    .bind(impact)
                    .bind(ms(incident.updated_at))
                    .bind(resolved_at)
                    .bind(next_update_at)
                    .bind(incident.last_seq)
                    .bind(stored)
                    .bind(&incident.id)
                    .bind(previous)
                    .bind(follow_up_owed_at),
                )
                .await?;
            if updated != 1 {
                return Err(StoreError::Conflict(
                    "the incident changed meanwhile; retry".into(),
                ));
            }
        }
    }
    for (kind, at) in incident.promises() {
        schedule_job(conn, &incident.id, kind, at, at).await?;
    }
    Ok(())
}
