//! The SQL of every store operation, written once and stamped out for each
//! backend by `sql_store!` (both backends take `$N` placeholders). Each
//! backend supplies `begin_write` (SQLite serialises writers itself;
//! PostgreSQL locks rows) and `FOR_UPDATE`.

use serde::de::DeserializeOwned;

use super::{Result, StoreError};
use crate::domain::incident::EtaChange;
use crate::domain::IncidentState;

/// What the `incidents.state` column holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredState {
    pub state: IncidentState,
    pub eta_history: Vec<EtaChange>,
}

/// The part of `incidents.state` a write to another incident reads.
#[derive(serde::Deserialize)]
pub(crate) struct StoredComponents {
    pub state: StoredComponentsOnly,
}

#[derive(serde::Deserialize)]
pub(crate) struct StoredComponentsOnly {
    pub components: std::collections::BTreeMap<String, crate::domain::ComponentStatus>,
}

/// Parses a snake_case enum stored as text.
pub(crate) fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored value `{text}`: {e}")))
}

/// Who an entry is for, written once for the POST and the worker (`$1` is
/// the entry's id): confirmed subscribers of every component, or of one it
/// concerns, or of any when it concerns none.
///
/// `s.state || ''` keeps planners off the index on `state`: both statements
/// walk subscribers in id order (the worker a range of 500 of them), and
/// SQLite, without statistics, would otherwise read every confirmed
/// subscriber for each range.
pub(crate) const ENTRY_AUDIENCE: &str = "s.state || '' = 'confirmed' AND (s.all_components \
     OR NOT EXISTS (SELECT 1 FROM entry_components ec WHERE ec.entry_id = $1) \
     OR EXISTS (SELECT 1 FROM subscriber_components sc JOIN entry_components ec \
                ON ec.component_id = sc.component_id \
                WHERE sc.subscriber_id = s.id AND ec.entry_id = $1))";

/// Who hears of a component's status change by staff (`$1` is its id).
pub(crate) const COMPONENT_AUDIENCE: &str = "s.state || '' = 'confirmed' AND (s.all_components \
     OR EXISTS (SELECT 1 FROM subscriber_components sc \
                WHERE sc.subscriber_id = s.id AND sc.component_id = $1))";

/// Subscribers per fan-out row: the POST writes one row per this many, the
/// worker expands one row into that many deliveries.
pub(crate) const FANOUT_SIZE: i64 = 500;

pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("not a unit enum: {other:?}"),
    }
}

macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        type Conn = <$db as sqlx::Database>::Connection;
        type DbRow = <$db as sqlx::Database>::Row;

        const INCIDENT_COLUMNS: &str = "id, kind, created_at, updated_at, last_seq, state";
        const ENTRY_COLUMNS: &str = "e.id, e.incident_id, e.seq, e.posted_at, e.author, e.system, \
             e.corrects, e.classes, e.message, e.state, e.diff, e.components";
        /// What a claim reads of each delivery it leases.
        const DELIVERY_COLUMNS: &str =
            "id, kind, entry_id, subscriber_id, address, payload, channel, attempts";
        const COMPONENT_COLUMNS: &str =
            "id, name, description, group_id, position, status, created_at, updated_at";

        impl $store {
            fn incident_from_row(row: &DbRow) -> $crate::store::Result<$crate::domain::Incident> {
                use sqlx::Row;
                let id: String = row.try_get("id")?;
                let stored: $crate::store::sql::StoredState = $crate::store::repair::parse_stored(
                    "incident",
                    &id,
                    &row.try_get::<String, _>("state")?,
                )?;
                Ok($crate::domain::Incident {
                    id,
                    kind: $crate::store::sql::parse_enum(&row.try_get::<String, _>("kind")?)?,
                    state: stored.state,
                    eta_history: stored.eta_history,
                    created_at: $crate::store::from_ms(row.try_get("created_at")?)?,
                    updated_at: $crate::store::from_ms(row.try_get("updated_at")?)?,
                    last_seq: row.try_get("last_seq")?,
                })
            }

            fn entry_from_row(row: &DbRow) -> $crate::store::Result<$crate::domain::Entry> {
                use sqlx::Row;
                let id: String = row.try_get("id")?;
                let stored = |column: &str| -> $crate::store::Result<String> {
                    Ok(row.try_get::<String, _>(column)?)
                };
                Ok($crate::domain::Entry {
                    incident_id: row.try_get("incident_id")?,
                    seq: row.try_get("seq")?,
                    classes: serde_json::from_str(&row.try_get::<String, _>("classes")?)?,
                    author: row.try_get("author")?,
                    posted_at: $crate::store::from_ms(row.try_get("posted_at")?)?,
                    message: $crate::store::repair::parse_message(&id, &stored("message")?)?,
                    state: $crate::store::repair::parse_stored("entry state of", &id, &stored("state")?)?,
                    diff: $crate::store::repair::parse_stored("entry diff of", &id, &stored("diff")?)?,
                    components: $crate::store::repair::parse_stored("entry components of", &id, &stored("components")?)?,
                    corrects: row.try_get("corrects")?,
                    system: row.try_get("system")?,
                    id,
                })
            }

            fn component_from_row(
                row: &DbRow,
            ) -> $crate::store::Result<$crate::domain::component::Component> {
                use sqlx::Row;
                Ok($crate::domain::component::Component {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    description: row.try_get("description")?,
                    group_id: row.try_get("group_id")?,
                    position: row.try_get("position")?,
                    status: $crate::store::sql::parse_enum(&row.try_get::<String, _>("status")?)?,
                    created_at: $crate::store::from_ms(row.try_get("created_at")?)?,
                    updated_at: $crate::store::from_ms(row.try_get("updated_at")?)?,
                })
            }

            async fn snapshot(
                conn: &mut Conn,
                incident_id: Option<&str>,
            ) -> $crate::store::Result<$crate::store::Snapshot> {
                use sqlx::Row;
                let mut components = std::collections::BTreeMap::new();
                // Locked first: a write that changes components waits for
                // any other in flight, then reads the incidents as they are
                // after it (two incidents resolving at once must not each
                // leave a component held down by the other).
                for row in sqlx::query(&format!(
                    "SELECT id, name, status FROM components ORDER BY id{}",
                    Self::FOR_UPDATE
                ))
                .fetch_all(&mut *conn)
                .await?
                {
                    let status = $crate::store::sql::parse_enum(&row.try_get::<String, _>("status")?)?;
                    components.insert(row.try_get("id")?, (row.try_get("name")?, status));
                }
                let mut entry_ids = std::collections::BTreeSet::new();
                if let Some(id) = incident_id {
                    for row in sqlx::query("SELECT id FROM entries WHERE incident_id = $1")
                        .bind(id)
                        .fetch_all(&mut *conn)
                        .await?
                    {
                        entry_ids.insert(row.try_get("id")?);
                    }
                }
                let mut held_elsewhere: std::collections::BTreeMap<String, $crate::domain::ComponentStatus> =
                    std::collections::BTreeMap::new();
                for row in sqlx::query(
                    "SELECT state FROM incidents WHERE status <> 'resolved' AND id <> $1",
                )
                .bind(incident_id.unwrap_or_default())
                .fetch_all(&mut *conn)
                .await?
                {
                    // Only the components: no other incident's title or
                    // owner can stop this write, however it was stored.
                    let stored: $crate::store::sql::StoredComponents =
                        serde_json::from_str(&row.try_get::<String, _>("state")?)?;
                    for (component, status) in stored.state.components {
                        let held = held_elsewhere.entry(component).or_insert(status);
                        if status.severity() > held.severity() {
                            *held = status;
                        }
                    }
                }
                Ok($crate::store::Snapshot {
                    components,
                    entry_ids,
                    held_elsewhere,
                })
            }

            async fn write_incident(
                conn: &mut Conn,
                incident: &$crate::domain::Incident,
                previous_seq: Option<i64>,
            ) -> $crate::store::Result<()> {
                let stored = serde_json::to_string(&$crate::store::sql::StoredState {
                    state: incident.state.clone(),
                    eta_history: incident.eta_history.clone(),
                })?;
                let status = incident.state.status.as_str();
                let impact = incident.state.impact.as_str();
                let resolved_at = incident.state.resolved_at.map($crate::store::ms);
                let follow_up_owed_at = incident
                    .state
                    .follow_up_at
                    .filter(|_| incident.owes_follow_up())
                    .map($crate::store::ms);
                let next_update_at = incident.state.next_update_at.map($crate::store::ms);
                match previous_seq {
                    None => {
                        sqlx::query(
                            "INSERT INTO incidents (id, kind, status, impact, created_at, updated_at, \
                             resolved_at, next_update_at, last_seq, state, follow_up_owed_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                        )
                        .bind(&incident.id)
                        .bind($crate::store::sql::enum_text(&incident.kind))
                        .bind(status)
                        .bind(impact)
                        .bind($crate::store::ms(incident.created_at))
                        .bind($crate::store::ms(incident.updated_at))
                        .bind(resolved_at)
                        .bind(next_update_at)
                        .bind(incident.last_seq)
                        .bind(stored)
                        .bind(follow_up_owed_at)
                        .execute(&mut *conn)
                        .await?;
                    }
                    Some(previous) => {
                        // The incident row is a cache of its entries' outcome; the
                        // sequence check makes a lost update impossible.
                        let done = sqlx::query(
                            "UPDATE incidents SET status = $1, impact = $2, updated_at = $3, \
                             resolved_at = $4, next_update_at = $5, last_seq = $6, state = $7, \
                             follow_up_owed_at = $10 WHERE id = $8 AND last_seq = $9",
                        )
                        .bind(status)
                        .bind(impact)
                        .bind($crate::store::ms(incident.updated_at))
                        .bind(resolved_at)
                        .bind(next_update_at)
                        .bind(incident.last_seq)
                        .bind(stored)
                        .bind(&incident.id)
                        .bind(previous)
                        .bind(follow_up_owed_at)
                        .execute(&mut *conn)
                        .await?;
                        if done.rows_affected() != 1 {
                            return Err($crate::store::StoreError::Conflict(
                                "the incident changed meanwhile; retry".into(),
                            ));
                        }
                    }
                }
                for (kind, at) in incident.promises() {
                    Self::schedule_job(conn, &incident.id, kind, at, at).await?;
                }
                Ok(())
            }

            async fn insert_entry(
                conn: &mut Conn,
                entry: &$crate::domain::Entry,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO entries (id, incident_id, seq, posted_at, author, system, corrects, \
                     classes, message, state, diff, components) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&entry.id)
                .bind(&entry.incident_id)
                .bind(entry.seq)
                .bind($crate::store::ms(entry.posted_at))
                .bind(&entry.author)
                .bind(entry.system)
                .bind(&entry.corrects)
                .bind(serde_json::to_string(&entry.classes)?)
                .bind(entry.message.as_str())
                .bind(serde_json::to_string(&entry.state)?)
                .bind(serde_json::to_string(&entry.diff)?)
                .bind(serde_json::to_string(&entry.components)?)
                .execute(&mut *conn)
                .await?;
                // The components this entry concerns, then the promise to tell
                // every matching confirmed subscriber: it commits with the entry.
                let mut concerned: std::collections::BTreeSet<&str> =
                    entry.state.components.keys().map(String::as_str).collect();
                concerned.extend(entry.components.iter().map(|c| c.id.as_str()));
                for component in concerned {
                    sqlx::query("INSERT INTO entry_components (entry_id, component_id) VALUES ($1, $2)")
                        .bind(&entry.id)
                        .bind(component)
                        .execute(&mut *conn)
                        .await?;
                }
                Self::fan_out(
                    conn,
                    $crate::store::DeliveryKind::Entry,
                    &entry.id,
                    None,
                    entry.posted_at,
                )
                .await?;
                for change in &entry.components {
                    Self::set_component_status(
                        conn,
                        &change.id,
                        change.old_status,
                        change.new_status,
                        entry.posted_at,
                        "incident",
                        Some(&entry.incident_id),
                    )
                    .await?;
                }
                Ok(())
            }

            async fn set_component_status(
                conn: &mut Conn,
                id: &str,
                from: $crate::domain::ComponentStatus,
                to: $crate::domain::ComponentStatus,
                at: jiff::Timestamp,
                cause_kind: &str,
                cause_id: Option<&str>,
            ) -> $crate::store::Result<()> {
                sqlx::query("UPDATE components SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(to.as_str())
                    .bind($crate::store::ms(at))
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO component_history (component_id, at, from_status, to_status, \
                     cause_kind, cause_id) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind($crate::store::ms(at))
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(cause_kind)
                .bind(cause_id)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// The audit row and the page version bump that end every write.
            async fn finish_write(
                conn: &mut Conn,
                actor: &$crate::store::Actor,
                at: jiff::Timestamp,
                action: &str,
                target: &str,
                detail: serde_json::Value,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, ip, action, target, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind($crate::store::ms(at))
                .bind(&actor.name)
                .bind(&actor.ip)
                .bind(action)
                .bind(target)
                .bind(detail.to_string())
                .execute(&mut *conn)
                .await?;
                // The key that protects this write (if any) learns of it in
                // this transaction: committed together or not at all.
                if let Ok(scope) = $crate::store::IDEMPOTENCY.try_with(Clone::clone) {
                    sqlx::query(
                        "UPDATE idempotency SET write_action = $1, write_target = $2, \
                         write_detail = $3 WHERE actor = $4 AND key = $5 AND write_action IS NULL",
                    )
                    .bind(action)
                    .bind(target)
                    .bind(detail.to_string())
                    .bind(&scope.actor)
                    .bind(&scope.key)
                    .execute(&mut *conn)
                    .await?;
                }
                sqlx::query("UPDATE meta SET value = value + 1 WHERE key = 'page_version'")
                    .execute(&mut *conn)
                    .await?;
                Self::notify_change(conn).await?;
                Ok(())
            }

            async fn entries_where(
                conn: &mut Conn,
                condition: &str,
                bind: Option<&str>,
            ) -> $crate::store::Result<Vec<$crate::domain::Entry>> {
                let sql = format!(
                    "SELECT {ENTRY_COLUMNS} FROM entries e JOIN incidents i ON i.id = e.incident_id \
                     WHERE {condition} ORDER BY e.incident_id, e.seq DESC"
                );
                let mut query = sqlx::query(&sql);
                if let Some(value) = bind {
                    query = query.bind(value);
                }
                query
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(Self::entry_from_row)
                    .collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> $crate::store::Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn simulate_full_disk(&self, full: bool) -> $crate::store::Result<()> {
                self.full_disk(full).await
            }

            async fn watch_changes(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
                self.watch(on_change).await
            }

            async fn page_version(&self) -> $crate::store::Result<i64> {
                use sqlx::Row;
                let row = sqlx::query("SELECT value FROM meta WHERE key = 'page_version'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("value")?)
            }

            async fn create_token(
                &self,
                id: &str,
                name: &str,
                hash: &str,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                let (_guard, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_tokens (id, name, hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(id)
                .bind(name)
                .bind(hash)
                .bind($crate::store::ms(now))
                .execute(&mut *tx)
                .await
                .map_err(|e| match $crate::store::StoreError::from(e) {
                    $crate::store::StoreError::Conflict(_) => $crate::store::StoreError::Conflict(
                        format!("an active token named `{name}` exists already"),
                    ),
                    other => other,
                })?;
                let actor = $crate::store::Actor { name: "cli".into(), ip: None };
                Self::finish_write(&mut tx, &actor, now, "token.create", name, serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_token(&self, name: &str, now: jiff::Timestamp) -> $crate::store::Result<()> {
                let (_guard, mut tx) = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                )
                .bind($crate::store::ms(now))
                .bind(name)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::store::StoreError::NotFound);
                }
                let actor = $crate::store::Actor { name: "cli".into(), ip: None };
                Self::finish_write(&mut tx, &actor, now, "token.revoke", name, serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn active_token_count(&self) -> $crate::store::Result<i64> {
                use sqlx::Row;
                let row = sqlx::query("SELECT COUNT(*) AS n FROM api_tokens WHERE revoked_at IS NULL")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(row.try_get("n")?)
            }

            async fn authenticate(
                &self,
                hash: &str,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<Option<String>> {
                use sqlx::Row;
                let Some(row) = sqlx::query(
                    "SELECT name, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?
                else {
                    return Ok(None);
                };
                let name: String = row.try_get("name")?;
                let last_used: Option<i64> = row.try_get("last_used_at")?;
                let now_ms = $crate::store::ms(now);
                // Marked at most once a minute, so that reads stay reads.
                if last_used.is_none_or(|at| now_ms - at > 60_000) {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2")
                        .bind(now_ms)
                        .bind(hash)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(Some(name))
            }

            async fn create_component(
                &self,
                component: &$crate::domain::component::Component,
                actor: &$crate::store::Actor,
            ) -> $crate::store::Result<()> {
                let (_guard, mut tx) = self.begin_write().await?;
                let group = Self::group_of(&mut tx, component.group_id.as_deref()).await?;
                $crate::domain::component::check_group(&component.id, group.as_ref(), false)?;
                sqlx::query(
                    "INSERT INTO components (id, name, description, group_id, position, status, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&component.id)
                .bind(&component.name)
                .bind(&component.description)
                .bind(&component.group_id)
                .bind(component.position)
                .bind(component.status.as_str())
                .bind($crate::store::ms(component.created_at))
                .bind($crate::store::ms(component.updated_at))
                .execute(&mut *tx)
                .await?;
                Self::finish_write(
                    &mut tx,
                    actor,
                    component.created_at,
                    "component.create",
                    &component.id,
                    serde_json::to_value(component)?,
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_components(
                &self,
            ) -> $crate::store::Result<Vec<$crate::domain::component::Component>> {
                sqlx::query(&format!(
                    "SELECT {COMPONENT_COLUMNS} FROM components ORDER BY position, created_at, id"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::component_from_row)
                .collect()
            }

            async fn get_component(
                &self,
                id: &str,
            ) -> $crate::store::Result<$crate::domain::component::Component> {
                let row = sqlx::query(&format!("SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
                Self::component_from_row(&row)
            }

            async fn component_history(
                &self,
                since: jiff::Timestamp,
            ) -> $crate::store::Result<Vec<$crate::store::StatusChange>> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT h.component_id, h.at, h.from_status, h.to_status, h.cause_kind, h.cause_id \
                     FROM component_history h WHERE h.at >= $1 \
                        OR h.id = (SELECT MAX(p.id) FROM component_history p \
                                   WHERE p.component_id = h.component_id AND p.at < $1) \
                     ORDER BY h.at, h.id",
                )
                .bind($crate::store::ms(since))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::store::StatusChange {
                            component_id: row.try_get("component_id")?,
                            at: $crate::store::from_ms(row.try_get("at")?)?,
                            from: $crate::store::sql::parse_enum(&row.try_get::<String, _>("from_status")?)?,
                            to: $crate::store::sql::parse_enum(&row.try_get::<String, _>("to_status")?)?,
                            cause_kind: row.try_get("cause_kind")?,
                            cause_id: row.try_get("cause_id")?,
                        })
                    })
                    .collect()
            }

            async fn edit_component(
                &self,
                id: &str,
                edit: &$crate::store::ComponentEdit,
                actor: &$crate::store::Actor,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<$crate::domain::component::Component> {
                let (_guard, mut tx) = self.begin_write().await?;
                let row = sqlx::query(&format!(
                    "SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1{}",
                    Self::FOR_UPDATE
                ))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                let before = Self::component_from_row(&row)?;
                let mut after = before.clone();
                if let Some(name) = &edit.name {
                    after.name = name.clone();
                }
                if let Some(description) = &edit.description {
                    after.description = description.clone();
                }
                if let Some(group_id) = &edit.group_id {
                    let group = Self::group_of(&mut tx, group_id.as_deref()).await?;
                    let members: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM components WHERE group_id = $1")
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                    $crate::domain::component::check_group(id, group.as_ref(), members > 0)?;
                    after.group_id = group_id.clone();
                }
                if let Some(position) = edit.position {
                    after.position = position;
                }
                if let Some(status) = edit.status {
                    after.status = status;
                }
                if after == before {
                    return Ok(before);
                }
                after.updated_at = now;
                sqlx::query(
                    "UPDATE components SET name = $1, description = $2, group_id = $3, position = $4, \
                     updated_at = $5 WHERE id = $6",
                )
                .bind(&after.name)
                .bind(&after.description)
                .bind(&after.group_id)
                .bind(after.position)
                .bind($crate::store::ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if after.status != before.status {
                    Self::set_component_status(&mut tx, id, before.status, after.status, now, "manual", None)
                        .await?;
                    // No quiet path: the component's subscribers are told, in this transaction.
                    let notice = $crate::store::ComponentNotice {
                        component_id: id.to_string(),
                        name: after.name.clone(),
                        from: before.status,
                        to: after.status,
                        at: now,
                    };
                    Self::fan_out(
                        &mut tx,
                        $crate::store::DeliveryKind::Component,
                        id,
                        Some(serde_json::to_string(&notice)?),
                        now,
                    )
                    .await?;
                }
                Self::finish_write(
                    &mut tx,
                    actor,
                    now,
                    "component.edit",
                    id,
                    serde_json::json!({"before": before, "after": after}),
                )
                .await?;
                tx.commit().await?;
                Ok(after)
            }

            async fn open_incident(
                &self,
                id: &str,
                command: &$crate::domain::incident::OpenIncident,
                write: &$crate::domain::incident::Write,
                actor: &$crate::store::Actor,
            ) -> $crate::store::Result<($crate::domain::Incident, $crate::domain::Entry)> {
                let (_guard, mut tx) = self.begin_write().await?;
                let snapshot = Self::snapshot(&mut tx, None).await?;
                let (incident, entry) = $crate::domain::Incident::open(
                    id.to_string(),
                    command.clone(),
                    &snapshot.context(write),
                )?;
                Self::write_incident(&mut tx, &incident, None).await?;
                Self::insert_entry(&mut tx, &entry).await?;
                Self::finish_write(
                    &mut tx,
                    actor,
                    entry.posted_at,
                    "incident.open",
                    &incident.id,
                    serde_json::json!({"entry": entry.id}),
                )
                .await?;
                tx.commit().await?;
                Ok((incident, entry))
            }

            async fn post_entry(
                &self,
                incident_id: &str,
                command: &$crate::domain::incident::Command,
                write: &$crate::domain::incident::Write,
                actor: &$crate::store::Actor,
            ) -> $crate::store::Result<($crate::domain::Incident, $crate::domain::Entry)> {
                let (_guard, mut tx) = self.begin_write().await?;
                let row = sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{}",
                    Self::FOR_UPDATE
                ))
                .bind(incident_id)
                .fetch_one(&mut *tx)
                .await?;
                let before = Self::incident_from_row(&row)?;
                let snapshot = Self::snapshot(&mut tx, Some(incident_id)).await?;
                let (incident, entry) = before.apply(command.clone(), &snapshot.context(write))?;
                Self::insert_entry(&mut tx, &entry).await?;
                Self::write_incident(&mut tx, &incident, Some(before.last_seq)).await?;
                Self::finish_write(
                    &mut tx,
                    actor,
                    entry.posted_at,
                    "incident.entry",
                    &incident.id,
                    serde_json::json!({"entry": entry.id, "classes": entry.classes}),
                )
                .await?;
                tx.commit().await?;
                Ok((incident, entry))
            }

            async fn get_incident(&self, id: &str) -> $crate::store::Result<$crate::store::IncidentRecord> {
                let mut conn = self.pool.acquire().await?;
                let row = sqlx::query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                let incident = Self::incident_from_row(&row)?;
                let mut entries = Self::entries_where(&mut conn, "e.incident_id = $1", Some(id)).await?;
                // An entry committed between the two reads belongs to a newer state.
                entries.retain(|e| e.seq <= incident.last_seq);
                Ok($crate::store::IncidentRecord { incident, entries })
            }

            async fn list_incidents(
                &self,
                filter: &$crate::store::IncidentFilter,
            ) -> $crate::store::Result<Vec<$crate::domain::Incident>> {
                let state = filter.state.map(|s| match s {
                    $crate::store::IncidentState::Open => "open",
                    $crate::store::IncidentState::Resolved => "resolved",
                });
                let kind = filter.kind.map(|k| $crate::store::sql::enum_text(&k));
                let (before_at, before_id) = match &filter.before {
                    Some((at, id)) => (Some($crate::store::ms(*at)), Some(id.clone())),
                    None => (None, None),
                };
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE \
                     ($1 = 'any' OR ($1 = 'open' AND status <> 'resolved') \
                        OR ($1 = 'resolved' AND status = 'resolved')) \
                     AND ($2 = 'any' OR kind = $2) \
                     AND ($3 < 0 OR created_at < $3 OR (created_at = $3 AND id < $4)) \
                     ORDER BY created_at DESC, id DESC LIMIT $5"
                ))
                .bind(state.unwrap_or("any"))
                .bind(kind.unwrap_or_else(|| "any".into()))
                .bind(before_at.unwrap_or(-1))
                .bind(before_id.unwrap_or_default())
                .bind(filter.limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::incident_from_row)
                .collect()
            }

            async fn open_incident_records(
                &self,
            ) -> $crate::store::Result<Vec<$crate::store::IncidentRecord>> {
                self.incident_records(&$crate::store::IncidentFilter {
                    state: Some($crate::store::IncidentState::Open),
                    kind: None,
                    before: None,
                    limit: 1000,
                })
                .await
            }

            async fn incident_records(
                &self,
                filter: &$crate::store::IncidentFilter,
            ) -> $crate::store::Result<Vec<$crate::store::IncidentRecord>> {
                let incidents = self.list_incidents(filter).await?;
                let mut conn = self.pool.acquire().await?;
                let mut records = Vec::with_capacity(incidents.len());
                for incident in incidents {
                    let mut entries =
                        Self::entries_where(&mut conn, "e.incident_id = $1", Some(&incident.id)).await?;
                    entries.retain(|e| e.seq <= incident.last_seq);
                    records.push($crate::store::IncidentRecord { incident, entries });
                }
                Ok(records)
            }

            async fn signing_key(&self) -> $crate::store::Result<Vec<u8>> {
                use sqlx::Row;
                let candidate = hex::encode(rand::random::<[u8; 32]>());
                sqlx::query(
                    "INSERT INTO keys (name, value) VALUES ('link_signing', $1) ON CONFLICT (name) DO NOTHING",
                )
                .bind(&candidate)
                .execute(&self.pool)
                .await?;
                let row = sqlx::query("SELECT value FROM keys WHERE name = 'link_signing'")
                    .fetch_one(&self.pool)
                    .await?;
                hex::decode(row.try_get::<String, _>("value")?)
                    .map_err(|e| $crate::store::StoreError::Other(e.into()))
            }

            async fn subscribe(
                &self,
                subscriber: &$crate::domain::subscriber::Subscriber,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<$crate::store::SubscribeOutcome> {
                let (_guard, mut tx) = self.begin_write().await?;
                let existing = sqlx::query(&format!(
                    "SELECT * FROM subscribers WHERE channel = $1 AND address = $2{}",
                    Self::FOR_UPDATE
                ))
                .bind($crate::store::sql::enum_text(&subscriber.channel))
                .bind(&subscriber.address)
                .fetch_optional(&mut *tx)
                .await?;
                let (id, outcome) = match existing {
                    None => {
                        Self::write_subscriber(&mut tx, subscriber, true).await?;
                        Self::queue_confirmation(&mut tx, &subscriber.id, now).await?;
                        (subscriber.id.clone(), $crate::store::SubscribeOutcome::ConfirmationQueued)
                    }
                    Some(row) => {
                        let mut current = Self::subscriber_from_row(&mut tx, &row).await?;
                        if !current.subscribe_again(subscriber.components.clone()) {
                            (current.id, $crate::store::SubscribeOutcome::AlreadyConfirmed)
                        } else {
                            Self::write_subscriber(&mut tx, &current, false).await?;
                            Self::queue_confirmation(&mut tx, &current.id, now).await?;
                            (current.id, $crate::store::SubscribeOutcome::ConfirmationQueued)
                        }
                    }
                };
                let actor = $crate::store::Actor { name: "public".into(), ip: None };
                Self::finish_write(&mut tx, &actor, now, "subscriber.subscribe", &id, serde_json::json!({}))
                    .await?;
                tx.commit().await?;
                Ok(outcome)
            }

            async fn add_subscriber(
                &self,
                subscriber: &$crate::domain::subscriber::Subscriber,
                secret: Option<&str>,
                actor: &$crate::store::Actor,
            ) -> $crate::store::Result<()> {
                use $crate::domain::subscriber::SubscriberState;
                let (_guard, mut tx) = self.begin_write().await?;
                Self::write_subscriber(&mut tx, subscriber, true)
                    .await
                    .map_err(|e| match e {
                        $crate::store::StoreError::Conflict(_) => $crate::store::StoreError::Conflict(
                            format!("{} is subscribed already", subscriber.address),
                        ),
                        other => other,
                    })?;
                if let Some(secret) = secret {
                    sqlx::query("UPDATE subscribers SET secret = $1 WHERE id = $2")
                        .bind(secret)
                        .bind(&subscriber.id)
                        .execute(&mut *tx)
                        .await?;
                }
                if subscriber.state == SubscriberState::Pending {
                    Self::queue_confirmation(&mut tx, &subscriber.id, subscriber.created_at).await?;
                }
                Self::finish_write(
                    &mut tx,
                    actor,
                    subscriber.created_at,
                    "subscriber.add",
                    &subscriber.id,
                    serde_json::json!({"confirmed": subscriber.state == SubscriberState::Confirmed}),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn get_subscriber(
                &self,
                id: &str,
            ) -> $crate::store::Result<$crate::domain::subscriber::Subscriber> {
                let mut conn = self.pool.acquire().await?;
                let row = sqlx::query("SELECT * FROM subscribers WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?;
                Self::subscriber_from_row(&mut conn, &row).await
            }

            async fn list_subscribers(
                &self,
                after: Option<&str>,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::domain::subscriber::Subscriber>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query("SELECT * FROM subscribers WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after.unwrap_or(""))
                    .bind(limit)
                    .fetch_all(&mut *conn)
                    .await?;
                let mut subscribers = Vec::with_capacity(rows.len());
                for row in &rows {
                    subscribers.push(Self::subscriber_from_row(&mut conn, row).await?);
                }
                Ok(subscribers)
            }

            async fn change_subscriber(
                &self,
                id: &str,
                actor: &$crate::store::Actor,
                now: jiff::Timestamp,
                change: &$crate::store::SubscriberFn<'_>,
            ) -> $crate::store::Result<$crate::domain::subscriber::Subscriber> {
                let (_guard, mut tx) = self.begin_write().await?;
                let row = sqlx::query(&format!("SELECT * FROM subscribers WHERE id = $1{}", Self::FOR_UPDATE))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                let before = Self::subscriber_from_row(&mut tx, &row).await?;
                let mut after = before.clone();
                change(&mut after)?;
                if after != before {
                    Self::write_subscriber(&mut tx, &after, false).await?;
                    Self::finish_write(
                        &mut tx,
                        actor,
                        now,
                        "subscriber.change",
                        id,
                        serde_json::json!({"state": after.state, "components": after.components}),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(after)
            }

            async fn claim_deliveries(
                &self,
                now: jiff::Timestamp,
                lease_until: jiff::Timestamp,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::ClaimedDelivery>> {
                use sqlx::Row;
                let now_ms = $crate::store::ms(now);
                let (_guard, mut tx) = self.begin_write().await?;
                let claimed = sqlx::query(&format!(
                    "UPDATE deliveries SET lease_until = $1, attempts = attempts + 1 WHERE id IN \
                     (SELECT id FROM deliveries{} WHERE state IN ('pending', 'failed') \
                      AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
                      ORDER BY id LIMIT $3{}) \
                     RETURNING {DELIVERY_COLUMNS}",
                    Self::OPEN_DELIVERIES,
                    Self::SKIP_LOCKED
                ))
                .bind($crate::store::ms(lease_until))
                .bind(now_ms)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                // Then fan-outs, oldest first, while the batch has room: each
                // becomes its subscribers' delivery rows, leased to us, and is
                // marked expanded in the same transaction. Their rows carry
                // the address each subscriber had, confirmed, at this moment.
                let mut expanded = Vec::new();
                while ((claimed.len() + expanded.len()) as i64) < limit {
                    let Some(fanout) = sqlx::query(&format!(
                        "SELECT id, kind, entry_id, component_id, payload, first_subscriber, \
                         last_subscriber, subscribers, posted_at FROM fanouts \
                         WHERE expanded_at IS NULL ORDER BY id LIMIT 1{}",
                        Self::SKIP_LOCKED
                    ))
                    .fetch_optional(&mut *tx)
                    .await?
                    else {
                        break;
                    };
                    let subscribers: i64 = fanout.try_get("subscribers")?;
                    let taken = (claimed.len() + expanded.len()) as i64;
                    if taken > 0 && taken + subscribers > limit {
                        break;
                    }
                    let fanout_id: i64 = fanout.try_get("id")?;
                    let kind: String = fanout.try_get("kind")?;
                    let entry_id: Option<String> = fanout.try_get("entry_id")?;
                    let (audience, key) = if kind == "entry" {
                        ($crate::store::sql::ENTRY_AUDIENCE, entry_id.clone())
                    } else {
                        (
                            $crate::store::sql::COMPONENT_AUDIENCE,
                            fanout.try_get::<Option<String>, _>("component_id")?,
                        )
                    };
                    // Those who still match, and were confirmed by the time it
                    // was posted (ids are random: later ones fall in the range).
                    // Whoever has an earlier mail waiting for its retry gets
                    // this one after it: not leased, due when that retry is.
                    // (An earlier mail claimed just above, in this batch, is
                    // sent first and holds this one back if it fails again.)
                    let rows = sqlx::query(&format!(
                        "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, channel, \
                         state, attempts, next_attempt_at, lease_until, created_at, fanout_id) \
                         SELECT $2, $3, x.id, x.address, $4, x.channel, 'pending', \
                           CASE WHEN x.behind IS NULL THEN 1 ELSE 0 END, COALESCE(x.behind, $5), \
                           CASE WHEN x.behind IS NULL THEN $6 END, $5, $7 \
                         FROM (SELECT s.id, s.address, s.channel, \
                                 (SELECT MAX(o.next_attempt_at) FROM deliveries o \
                                  WHERE o.subscriber_id = s.id AND o.state = 'failed' \
                                  AND (o.lease_until IS NULL OR o.lease_until <> $6)) AS behind \
                               FROM subscribers s WHERE s.id >= $8 AND s.id <= $9 \
                               AND s.confirmed_at <= $5 AND {audience}) x \
                         ORDER BY x.id \
                         RETURNING {DELIVERY_COLUMNS}"
                    ))
                    .bind(key)
                    .bind(&kind)
                    .bind(&entry_id)
                    .bind(fanout.try_get::<Option<String>, _>("payload")?)
                    .bind(fanout.try_get::<i64, _>("posted_at")?)
                    .bind($crate::store::ms(lease_until))
                    .bind(fanout_id)
                    .bind(fanout.try_get::<String, _>("first_subscriber")?)
                    .bind(fanout.try_get::<String, _>("last_subscriber")?)
                    .fetch_all(&mut *tx)
                    .await?;
                    let ids = rows
                        .iter()
                        .map(|row| row.try_get::<i64, _>("id"))
                        .collect::<std::result::Result<Vec<i64>, _>>()?;
                    sqlx::query(
                        "UPDATE fanouts SET expanded_at = $1, first_delivery = $2, last_delivery = $3 \
                         WHERE id = $4",
                    )
                    .bind(now_ms)
                    .bind(ids.iter().min().copied())
                    .bind(ids.iter().max().copied())
                    .bind(fanout_id)
                    .execute(&mut *tx)
                    .await?;
                    // Only the leased ones are ours to send now.
                    for row in rows {
                        if row.try_get::<i64, _>("attempts")? > 0 {
                            expanded.push(row);
                        }
                    }
                }
                tx.commit().await?;
                drop(_guard);
                if claimed.is_empty() && expanded.is_empty() {
                    return Ok(Vec::new());
                }
                let mut conn = self.pool.acquire().await?;
                // Rows claimed again (retries, confirmations, rows whose lease
                // ended) look their subscriber up now, as of this claim; one
                // query per 500 of them. So do webhooks, for their secret.
                let webhook = |row: &DbRow| {
                    row.try_get::<String, _>("channel").is_ok_and(|c| c == "webhook")
                };
                let mut recipients: std::collections::HashMap<
                    String,
                    ($crate::store::Recipient, jiff::Timestamp),
                > = std::collections::HashMap::new();
                let wanted: Vec<String> = claimed
                    .iter()
                    .chain(expanded.iter().filter(|row| webhook(row)))
                    .filter_map(|row| row.try_get::<Option<String>, _>("subscriber_id").ok().flatten())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                for chunk in wanted.chunks(500) {
                    let sql = format!(
                        "SELECT id, address, state, created_at, confirm_sent_at, secret, quarantined_at \
                         FROM subscribers \
                         WHERE id IN ({})",
                        Self::placeholders(1, chunk.len())
                    );
                    let mut query = sqlx::query(&sql);
                    for id in chunk {
                        query = query.bind(id);
                    }
                    for srow in query.fetch_all(&mut *conn).await? {
                        let sent: Option<i64> = srow.try_get("confirm_sent_at")?;
                        let link_made_at =
                            $crate::store::from_ms(sent.unwrap_or(srow.try_get("created_at")?))?;
                        let recipient = $crate::store::Recipient {
                            subscriber_id: srow.try_get("id")?,
                            address: srow.try_get("address")?,
                            state: $crate::store::sql::parse_enum(&srow.try_get::<String, _>("state")?)?,
                            secret: srow.try_get("secret")?,
                            quarantined_at: srow
                                .try_get::<Option<i64>, _>("quarantined_at")?
                                .map($crate::store::from_ms)
                                .transpose()?,
                        };
                        recipients.insert(recipient.subscriber_id.clone(), (recipient, link_made_at));
                    }
                }
                let mut entries: std::collections::HashMap<
                    String,
                    std::sync::Arc<$crate::domain::Entry>,
                > = std::collections::HashMap::new();
                let mut out = Vec::with_capacity(claimed.len() + expanded.len());
                // Deliveries of an entry that cannot be read (logged once, with
                // its id): dead, rather than a claim that fails for everyone.
                let mut unreadable: Vec<i64> = Vec::new();
                let rows = claimed
                    .iter()
                    .map(|row| (row, false))
                    .chain(expanded.iter().map(|row| (row, !webhook(row))));
                for (row, fresh) in rows {
                    let entry_id: Option<String> = row.try_get("entry_id")?;
                    let subscriber_id: Option<String> = row.try_get("subscriber_id")?;
                    let entry = match entry_id {
                        Some(entry_id) => Some(match entries.get(&entry_id) {
                            Some(entry) => entry.clone(),
                            None => {
                                let found =
                                    Self::entries_where(&mut conn, "e.id = $1", Some(&entry_id)).await;
                                let Some(entry) = found.ok().and_then(|mut found| found.pop()) else {
                                    unreadable.push(row.try_get("id")?);
                                    continue;
                                };
                                let entry = std::sync::Arc::new(entry);
                                entries.insert(entry_id, entry.clone());
                                entry
                            }
                        }),
                        None => None,
                    };
                    let (recipient, confirm_sent_at) = match (fresh, subscriber_id) {
                        (true, Some(subscriber_id)) => (
                            Some($crate::store::Recipient {
                                subscriber_id,
                                address: row.try_get("address")?,
                                state: $crate::domain::subscriber::SubscriberState::Confirmed,
                                secret: None,
                                quarantined_at: None,
                            }),
                            None,
                        ),
                        (false, Some(id)) => match recipients.get(&id) {
                            Some((recipient, link_made_at)) => {
                                (Some(recipient.clone()), Some(*link_made_at))
                            }
                            None => (None, None),
                        },
                        (_, None) => (None, None),
                    };
                    let kind: $crate::store::DeliveryKind =
                        $crate::store::sql::parse_enum(&row.try_get::<String, _>("kind")?)?;
                    let payload: Option<String> = row.try_get("payload")?;
                    let (mut staff_mail, mut component_notice) = (None, None);
                    match (kind, payload) {
                        ($crate::store::DeliveryKind::Reminder, Some(p)) => {
                            staff_mail = Some(serde_json::from_str(&p)?)
                        }
                        ($crate::store::DeliveryKind::Component, Some(p)) => {
                            component_notice = Some(serde_json::from_str(&p)?)
                        }
                        _ => {}
                    }
                    out.push($crate::store::ClaimedDelivery {
                        id: row.try_get("id")?,
                        kind,
                        component_notice,
                        attempts: row.try_get("attempts")?,
                        channel: $crate::store::sql::parse_enum(&row.try_get::<String, _>("channel")?)?,
                        recipient,
                        staff_mail,
                        confirm_sent_at,
                        entry,
                    });
                }
                if !unreadable.is_empty() {
                    drop(conn);
                    self.update_deliveries(
                        "state = 'dead', lease_until = NULL, next_attempt_at = $1, \
                         last_error = 'its entry could not be read (see the log)'",
                        now,
                        &unreadable,
                    )
                    .await?;
                }
                // RETURNING has no order; deliveries are sent in the order they were queued.
                out.sort_by_key(|d| d.id);
                Ok(out)
            }

            async fn mark_sent(&self, ids: &[i64], now: jiff::Timestamp) -> $crate::store::Result<()> {
                self.update_deliveries(
                    "state = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL",
                    now,
                    ids,
                )
                .await
            }

            async fn hold_back(
                &self,
                ids: &[i64],
                until: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                self.update_deliveries(
                    "lease_until = NULL, next_attempt_at = $1, attempts = attempts - 1",
                    until,
                    ids,
                )
                .await
            }

            async fn mark_failed(
                &self,
                id: i64,
                error: &str,
                retry_at: Option<jiff::Timestamp>,
            ) -> $crate::store::Result<()> {
                let (_guard, mut tx) = self.begin_write().await?;
                let state = if retry_at.is_some() { "failed" } else { "dead" };
                sqlx::query(
                    "UPDATE deliveries SET state = $1, last_error = $2, lease_until = NULL, \
                     next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4",
                )
                .bind(state)
                .bind(error.chars().take(1000).collect::<String>())
                .bind(retry_at.map($crate::store::ms))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn incident_deliveries(
                &self,
                incident_id: &str,
            ) -> $crate::store::Result<Vec<$crate::store::EntryDeliveries>> {
                use sqlx::Row;
                let mut conn = self.pool.acquire().await?;
                sqlx::query("SELECT id FROM incidents WHERE id = $1")
                    .bind(incident_id)
                    .fetch_one(&mut *conn)
                    .await?;
                let mut report: Vec<$crate::store::EntryDeliveries> = sqlx::query(
                    "SELECT id FROM entries WHERE incident_id = $1 ORDER BY seq DESC",
                )
                .bind(incident_id)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| {
                    Ok($crate::store::EntryDeliveries {
                        entry_id: r.try_get("id")?,
                        ..Default::default()
                    })
                })
                .collect::<$crate::store::Result<_>>()?;
                // Expanded fan-outs by their rows' states; the others count
                // as pending, one per subscriber they stand for.
                let counts = sqlx::query(
                    "SELECT f.entry_id, d.state, COUNT(*) AS n FROM entries e \
                     JOIN fanouts f ON f.entry_id = e.id \
                     JOIN deliveries d ON d.id >= f.first_delivery AND d.id <= f.last_delivery \
                       AND d.fanout_id = f.id \
                     WHERE e.incident_id = $1 GROUP BY f.entry_id, d.state \
                     UNION ALL \
                     SELECT f.entry_id, 'pending' AS state, CAST(SUM(f.subscribers) AS BIGINT) AS n \
                     FROM entries e JOIN fanouts f ON f.entry_id = e.id \
                     WHERE e.incident_id = $1 AND f.expanded_at IS NULL GROUP BY f.entry_id",
                )
                .bind(incident_id)
                .fetch_all(&mut *conn)
                .await?;
                for row in counts {
                    let entry_id: String = row.try_get("entry_id")?;
                    let state: String = row.try_get("state")?;
                    let n: i64 = row.try_get("n")?;
                    if let Some(item) = report.iter_mut().find(|r| r.entry_id == entry_id) {
                        match state.as_str() {
                            "pending" => item.pending += n,
                            "sent" => item.sent += n,
                            "failed" => item.failed += n,
                            _ => item.dead += n,
                        }
                    }
                }
                for row in sqlx::query(
                    "SELECT d.id, d.entry_id, d.subscriber_id, s.address, d.state, d.attempts, \
                     d.last_error, d.next_attempt_at, s.failing_since, s.quarantined_at \
                     FROM deliveries d \
                     JOIN entries e ON e.id = d.entry_id JOIN subscribers s ON s.id = d.subscriber_id \
                     WHERE e.incident_id = $1 AND d.state IN ('failed', 'dead') ORDER BY d.id LIMIT 1000",
                )
                .bind(incident_id)
                .fetch_all(&mut *conn)
                .await?
                {
                    let entry_id: String = row.try_get("entry_id")?;
                    let state: String = row.try_get("state")?;
                    let opt = |name: &str| -> $crate::store::Result<Option<jiff::Timestamp>> {
                        row.try_get::<Option<i64>, _>(name)?
                            .map($crate::store::from_ms)
                            .transpose()
                    };
                    let quarantined_at = opt("quarantined_at")?;
                    let failure = $crate::store::DeliveryFailure {
                        failing_since: quarantined_at.and(opt("failing_since")?),
                        quarantined_at,
                        delivery_id: row.try_get("id")?,
                        subscriber_id: row.try_get("subscriber_id")?,
                        address: row.try_get("address")?,
                        attempts: row.try_get("attempts")?,
                        last_error: row.try_get("last_error")?,
                        next_attempt_at: if state == "failed" {
                            Some($crate::store::from_ms(row.try_get("next_attempt_at")?)?)
                        } else {
                            None
                        },
                        state,
                    };
                    if let Some(item) = report.iter_mut().find(|r| r.entry_id == entry_id) {
                        item.failures.push(failure);
                    }
                }
                Ok(report)
            }

            async fn webhook_sent(
                &self,
                id: i64,
                subscriber_id: &str,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                let (_guard, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "UPDATE deliveries SET state = 'sent', sent_at = $1, lease_until = NULL, \
                     last_error = NULL WHERE id = $2",
                )
                .bind($crate::store::ms(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE subscribers SET failing_since = NULL, last_error = NULL \
                     WHERE id = $1 AND failing_since IS NOT NULL",
                )
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn webhook_failed(
                &self,
                id: i64,
                subscriber_id: &str,
                error: &str,
                retry_at: Option<jiff::Timestamp>,
                now: jiff::Timestamp,
                quarantine_after: jiff::SignedDuration,
            ) -> $crate::store::Result<Option<jiff::Timestamp>> {
                use sqlx::Row;
                let error: String = error.chars().take(1000).collect();
                let (_guard, mut tx) = self.begin_write().await?;
                sqlx::query(
                    "UPDATE deliveries SET state = $1, last_error = $2, lease_until = NULL, \
                     next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4",
                )
                .bind(if retry_at.is_some() { "failed" } else { "dead" })
                .bind(&error)
                .bind(retry_at.map($crate::store::ms))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let row = sqlx::query(
                    "UPDATE subscribers SET failing_since = COALESCE(failing_since, $1), \
                     last_error = $2 WHERE id = $3 RETURNING failing_since, quarantined_at",
                )
                .bind($crate::store::ms(now))
                .bind(&error)
                .bind(subscriber_id)
                .fetch_one(&mut *tx)
                .await?;
                if let Some(at) = row.try_get::<Option<i64>, _>("quarantined_at")? {
                    tx.commit().await?;
                    return Ok(Some($crate::store::from_ms(at)?));
                }
                let since = $crate::store::from_ms(row.try_get("failing_since")?)?;
                if !$crate::domain::subscriber::quarantine_due(since, now, quarantine_after) {
                    tx.commit().await?;
                    return Ok(None);
                }
                sqlx::query("UPDATE subscribers SET quarantined_at = $1 WHERE id = $2")
                    .bind($crate::store::ms(now))
                    .bind(subscriber_id)
                    .execute(&mut *tx)
                    .await?;
                // What it was still owed is given up, not sent later: staff
                // re-enabling it expect news from then on, not a backlog.
                sqlx::query(
                    "UPDATE deliveries SET state = 'dead', lease_until = NULL, last_error = $1 \
                     WHERE subscriber_id = $2 AND state IN ('pending', 'failed')",
                )
                .bind(format!(
                    "quarantined: every try failed since {since} (last: {error})"
                ))
                .bind(subscriber_id)
                .execute(&mut *tx)
                .await?;
                let candor = $crate::store::Actor { name: "Candor".into(), ip: None };
                Self::finish_write(
                    &mut tx,
                    &candor,
                    now,
                    "subscriber.quarantine",
                    subscriber_id,
                    serde_json::json!({"failing_since": since, "last_error": error}),
                )
                .await?;
                tx.commit().await?;
                Ok(Some(now))
            }

            async fn report_still_affected(
                &self,
                incident_id: &str,
                subscriber_id: &str,
                now: jiff::Timestamp,
                mail: &$crate::store::StaffMailFn<'_>,
            ) -> $crate::store::Result<bool> {
                use sqlx::Row;
                let (_guard, mut tx) = self.begin_write().await?;
                let row = sqlx::query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
                    .bind(incident_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let incident = Self::incident_from_row(&row)?;
                let inserted = sqlx::query(
                    "INSERT INTO still_affected (incident_id, subscriber_id, reported_at) \
                     VALUES ($1, $2, $3) ON CONFLICT (incident_id, subscriber_id) DO NOTHING",
                )
                .bind(incident_id)
                .bind(subscriber_id)
                .bind($crate::store::ms(now))
                .execute(&mut *tx)
                .await?;
                if inserted.rows_affected() == 0 {
                    return Ok(false);
                }
                let count: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM still_affected WHERE incident_id = $1",
                )
                .bind(incident_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("n")?;
                Self::queue_staff_mail(&mut tx, &mail(&incident, count), now).await?;
                let actor = $crate::store::Actor { name: "subscriber".into(), ip: None };
                Self::finish_write(
                    &mut tx,
                    &actor,
                    now,
                    "incident.still_affected",
                    incident_id,
                    serde_json::json!({"subscriber": subscriber_id}),
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn affected_reports(
                &self,
                incident_id: &str,
            ) -> $crate::store::Result<$crate::store::AffectedReports> {
                Ok(self
                    .unanswered_or_all(Some(incident_id))
                    .await?
                    .pop()
                    .map(|(_, r)| r)
                    .unwrap_or_default())
            }

            async fn unanswered_reports(
                &self,
            ) -> $crate::store::Result<Vec<(String, $crate::store::AffectedReports)>> {
                Ok(self
                    .unanswered_or_all(None)
                    .await?
                    .into_iter()
                    .filter(|(_, r)| r.unanswered > 0)
                    .collect())
            }

            async fn owed_follow_ups(&self) -> $crate::store::Result<Vec<$crate::domain::Incident>> {
                sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE follow_up_owed_at IS NOT NULL \
                     ORDER BY follow_up_owed_at, id LIMIT 500"
                ))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(Self::incident_from_row)
                .collect()
            }

            async fn claim_jobs(
                &self,
                now: jiff::Timestamp,
                lease_until: jiff::Timestamp,
                limit: i64,
            ) -> $crate::store::Result<Vec<$crate::store::Job>> {
                use sqlx::Row;
                let (_guard, mut tx) = self.begin_write().await?;
                let rows = sqlx::query(&format!(
                    "UPDATE jobs SET lease_until = $1 WHERE id IN \
                     (SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $2 \
                      AND (lease_until IS NULL OR lease_until <= $2) ORDER BY due_at, id LIMIT $3{}) \
                     RETURNING id, kind, incident_id, ref_at, due_at",
                    Self::SKIP_LOCKED
                ))
                .bind($crate::store::ms(lease_until))
                .bind($crate::store::ms(now))
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut jobs = rows
                    .iter()
                    .map(|row| {
                        Ok($crate::store::Job {
                            id: row.try_get("id")?,
                            kind: $crate::store::sql::parse_enum(&row.try_get::<String, _>("kind")?)?,
                            incident_id: row.try_get("incident_id")?,
                            ref_at: $crate::store::from_ms(row.try_get("ref_at")?)?,
                            due_at: $crate::store::from_ms(row.try_get("due_at")?)?,
                        })
                    })
                    .collect::<$crate::store::Result<Vec<_>>>()?;
                jobs.sort_by_key(|j| (j.due_at, j.id));
                Ok(jobs)
            }

            async fn run_job(
                &self,
                job: &$crate::store::Job,
                now: jiff::Timestamp,
                run: &$crate::store::JobFn<'_>,
            ) -> $crate::store::Result<bool> {
                let (_guard, mut tx) = self.begin_write().await?;
                let row = sqlx::query(&format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1{}",
                    Self::FOR_UPDATE
                ))
                .bind(&job.incident_id)
                .fetch_one(&mut *tx)
                .await?;
                let done = sqlx::query(
                    "UPDATE jobs SET done_at = $1, lease_until = NULL WHERE id = $2 AND done_at IS NULL",
                )
                .bind($crate::store::ms(now))
                .bind(job.id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                let before = Self::incident_from_row(&row)?;
                let snapshot = Self::snapshot(&mut tx, Some(&job.incident_id)).await?;
                let effects = run(&before, &snapshot)?;
                let candor = $crate::store::Actor { name: "Candor".into(), ip: None };
                if let Some((incident, entry)) = &effects.entry {
                    Self::insert_entry(&mut tx, entry).await?;
                    Self::write_incident(&mut tx, incident, Some(before.last_seq)).await?;
                    Self::finish_write(
                        &mut tx,
                        &candor,
                        now,
                        "incident.system_entry",
                        &incident.id,
                        serde_json::json!({"entry": entry.id, "classes": entry.classes}),
                    )
                    .await?;
                }
                if let Some(mail) = &effects.reminder {
                    Self::queue_staff_mail(&mut tx, mail, now).await?;
                }
                if let Some((kind, ref_at, due_at)) = effects.then {
                    Self::schedule_job(&mut tx, &job.incident_id, kind, ref_at, due_at).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn next_job_due(&self) -> $crate::store::Result<Option<jiff::Timestamp>> {
                use sqlx::Row;
                let row = sqlx::query(
                    "SELECT MIN(COALESCE(lease_until, due_at)) AS due FROM jobs WHERE done_at IS NULL",
                )
                .fetch_one(&self.pool)
                .await?;
                row.try_get::<Option<i64>, _>("due")?
                    .map($crate::store::from_ms)
                    .transpose()
            }

            async fn idempotency_begin(
                &self,
                actor: &str,
                key: &str,
                request_hash: &str,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<$crate::store::IdempotencyBegin> {
                use sqlx::Row;
                // Keys live a day; one whose first request was abandoned
                // with nothing written is released at once.
                sqlx::query(
                    "DELETE FROM idempotency WHERE actor = $1 AND key = $2 AND (created_at < $3 \
                     OR (status_code IS NULL AND write_action IS NULL AND created_at < $4))",
                )
                .bind(actor)
                .bind(key)
                .bind($crate::store::ms(now - $crate::store::IDEMPOTENCY_KEY_LIFETIME))
                .bind($crate::store::ms(now - $crate::store::IDEMPOTENCY_ABANDONED_AFTER))
                .execute(&self.pool)
                .await?;
                let inserted = sqlx::query(
                    "INSERT INTO idempotency (actor, key, request_hash, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
                )
                .bind(actor)
                .bind(key)
                .bind(request_hash)
                .bind($crate::store::ms(now))
                .execute(&self.pool)
                .await?;
                if inserted.rows_affected() == 1 {
                    return Ok($crate::store::IdempotencyBegin::New);
                }
                let row = sqlx::query(
                    "SELECT request_hash, status_code, body, created_at, write_action, write_target, \
                     write_detail FROM idempotency WHERE actor = $1 AND key = $2",
                )
                .bind(actor)
                .bind(key)
                .fetch_one(&self.pool)
                .await?;
                let stored_hash: String = row.try_get("request_hash")?;
                let status: Option<i64> = row.try_get("status_code")?;
                let body: Option<String> = row.try_get("body")?;
                let abandoned = $crate::store::from_ms(row.try_get("created_at")?)?
                    < now - $crate::store::IDEMPOTENCY_ABANDONED_AFTER;
                let written: Option<String> = row.try_get("write_action")?;
                Ok(match (stored_hash == request_hash, status, body, written) {
                    (false, ..) => $crate::store::IdempotencyBegin::Mismatch,
                    (true, Some(status), Some(body), _) => $crate::store::IdempotencyBegin::Done {
                        status: u16::try_from(status).unwrap_or(500),
                        body,
                    },
                    (true, _, _, Some(action)) if abandoned => {
                        let detail: Option<String> = row.try_get("write_detail")?;
                        $crate::store::IdempotencyBegin::Committed {
                            action,
                            target: row.try_get::<Option<String>, _>("write_target")?.unwrap_or_default(),
                            detail: detail
                                .and_then(|d| serde_json::from_str(&d).ok())
                                .unwrap_or_default(),
                        }
                    }
                    (true, ..) => $crate::store::IdempotencyBegin::InProgress,
                })
            }

            async fn idempotency_finish(
                &self,
                actor: &str,
                key: &str,
                status: u16,
                body: &str,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "UPDATE idempotency SET status_code = $1, body = $2 WHERE actor = $3 AND key = $4",
                )
                .bind(i64::from(status))
                .bind(body)
                .bind(actor)
                .bind(key)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn idempotency_abandon(&self, actor: &str, key: &str) -> $crate::store::Result<()> {
                sqlx::query(
                    "DELETE FROM idempotency WHERE actor = $1 AND key = $2 AND status_code IS NULL",
                )
                .bind(actor)
                .bind(key)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }

        impl $store {
            /// Report counts per incident (one incident, or all with reports).
            async fn unanswered_or_all(
                &self,
                incident_id: Option<&str>,
            ) -> $crate::store::Result<Vec<(String, $crate::store::AffectedReports)>> {
                use sqlx::Row;
                sqlx::query(
                    "SELECT r.incident_id, COUNT(*) AS total, \
                     SUM(CASE WHEN r.reported_at >= i.updated_at THEN 1 ELSE 0 END) AS unanswered \
                     FROM still_affected r JOIN incidents i ON i.id = r.incident_id \
                     WHERE ($1 = '' OR r.incident_id = $1) GROUP BY r.incident_id ORDER BY r.incident_id",
                )
                .bind(incident_id.unwrap_or(""))
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok((
                        row.try_get("incident_id")?,
                        $crate::store::AffectedReports {
                            total: row.try_get("total")?,
                            unanswered: row.try_get::<Option<i64>, _>("unanswered")?.unwrap_or(0),
                        },
                    ))
                })
                .collect()
            }

            async fn subscriber_from_row(
                conn: &mut Conn,
                row: &DbRow,
            ) -> $crate::store::Result<$crate::domain::subscriber::Subscriber> {
                use sqlx::Row;
                let id: String = row.try_get("id")?;
                let all: bool = row.try_get("all_components")?;
                let components = if all {
                    Vec::new()
                } else {
                    sqlx::query(
                        "SELECT component_id FROM subscriber_components WHERE subscriber_id = $1 \
                         ORDER BY component_id",
                    )
                    .bind(&id)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("component_id"))
                    .collect::<Result<_, _>>()?
                };
                Self::subscriber_fields(row, components)
            }

            /// A subscriber from its row, with the given component choice.
            fn subscriber_fields(
                row: &DbRow,
                components: Vec<String>,
            ) -> $crate::store::Result<$crate::domain::subscriber::Subscriber> {
                use sqlx::Row;
                let opt = |name: &str| -> $crate::store::Result<Option<jiff::Timestamp>> {
                    row.try_get::<Option<i64>, _>(name)?
                        .map($crate::store::from_ms)
                        .transpose()
                };
                Ok($crate::domain::subscriber::Subscriber {
                    id: row.try_get("id")?,
                    channel: $crate::store::sql::parse_enum(&row.try_get::<String, _>("channel")?)?,
                    address: row.try_get("address")?,
                    state: $crate::store::sql::parse_enum(&row.try_get::<String, _>("state")?)?,
                    components,
                    created_at: $crate::store::from_ms(row.try_get("created_at")?)?,
                    confirmed_at: opt("confirmed_at")?,
                    unsubscribed_at: opt("unsubscribed_at")?,
                    failing_since: opt("failing_since")?,
                    last_error: row.try_get("last_error")?,
                    quarantined_at: opt("quarantined_at")?,
                })
            }

            /// Writes a subscriber's state and choice of components.
            async fn write_subscriber(
                conn: &mut Conn,
                subscriber: &$crate::domain::subscriber::Subscriber,
                insert: bool,
            ) -> $crate::store::Result<()> {
                let state = $crate::store::sql::enum_text(&subscriber.state);
                let all = subscriber.components.is_empty();
                if insert {
                    sqlx::query(
                        "INSERT INTO subscribers (id, channel, address, state, all_components, created_at, \
                         confirmed_at, unsubscribed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&subscriber.id)
                    .bind($crate::store::sql::enum_text(&subscriber.channel))
                    .bind(&subscriber.address)
                    .bind(&state)
                    .bind(all)
                    .bind($crate::store::ms(subscriber.created_at))
                    .bind(subscriber.confirmed_at.map($crate::store::ms))
                    .bind(subscriber.unsubscribed_at.map($crate::store::ms))
                    .execute(&mut *conn)
                    .await?;
                } else {
                    sqlx::query(
                        "UPDATE subscribers SET state = $1, all_components = $2, confirmed_at = $3, \
                         unsubscribed_at = $4, failing_since = $5, last_error = $6, \
                         quarantined_at = $7 WHERE id = $8",
                    )
                    .bind(&state)
                    .bind(all)
                    .bind(subscriber.confirmed_at.map($crate::store::ms))
                    .bind(subscriber.unsubscribed_at.map($crate::store::ms))
                    .bind(subscriber.failing_since.map($crate::store::ms))
                    .bind(&subscriber.last_error)
                    .bind(subscriber.quarantined_at.map($crate::store::ms))
                    .bind(&subscriber.id)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query("DELETE FROM subscriber_components WHERE subscriber_id = $1")
                        .bind(&subscriber.id)
                        .execute(&mut *conn)
                        .await?;
                }
                for component in &subscriber.components {
                    Self::require_component(conn, component, "components").await?;
                    sqlx::query(
                        "INSERT INTO subscriber_components (subscriber_id, component_id) VALUES ($1, $2)",
                    )
                    .bind(&subscriber.id)
                    .bind(component)
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            }

            /// Promises, in the caller's transaction, that everyone `key` (an
            /// entry's or a component's id) is for will be told: one
            /// `fanouts` row per `FANOUT_SIZE` of them, in subscriber-id order,
            /// written by one statement. The worker expands them.
            async fn fan_out(
                conn: &mut Conn,
                kind: $crate::store::DeliveryKind,
                key: &str,
                payload: Option<String>,
                posted_at: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                let (audience, entry_id, component_id) = match kind {
                    $crate::store::DeliveryKind::Entry => {
                        ($crate::store::sql::ENTRY_AUDIENCE, Some(key), None)
                    }
                    _ => ($crate::store::sql::COMPONENT_AUDIENCE, None, Some(key)),
                };
                sqlx::query(&format!(
                    "INSERT INTO fanouts (kind, entry_id, component_id, payload, first_subscriber, \
                     last_subscriber, subscribers, posted_at) \
                     SELECT $2, $3, $4, $5, MIN(m.id), MAX(m.id), COUNT(*), $6 FROM \
                     (SELECT s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / {} AS part \
                      FROM subscribers s WHERE {audience}) m \
                     GROUP BY m.part ORDER BY m.part",
                    $crate::store::sql::FANOUT_SIZE
                ))
                .bind(key)
                .bind($crate::store::sql::enum_text(&kind))
                .bind(entry_id)
                .bind(component_id)
                .bind(payload)
                .bind($crate::store::ms(posted_at))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn queue_confirmation(
                conn: &mut Conn,
                subscriber_id: &str,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                sqlx::query("UPDATE subscribers SET confirm_sent_at = $1 WHERE id = $2")
                    .bind($crate::store::ms(now))
                    .bind(subscriber_id)
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO deliveries (kind, entry_id, subscriber_id, channel, state, attempts, \
                     next_attempt_at, created_at) VALUES ('confirmation', NULL, $1, 'email', 'pending', 0, $2, $2)",
                )
                .bind(subscriber_id)
                .bind($crate::store::ms(now))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Queues a mail to staff in the outbox, in the caller's transaction.
            async fn queue_staff_mail(
                conn: &mut Conn,
                mail: &$crate::store::StaffMail,
                now: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, channel, \
                     state, attempts, next_attempt_at, created_at) \
                     VALUES ('reminder', NULL, NULL, $1, $2, 'email', 'pending', 0, $3, $3)",
                )
                .bind(&mail.to)
                .bind(serde_json::to_string(mail)?)
                .bind($crate::store::ms(now))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn schedule_job(
                conn: &mut Conn,
                incident_id: &str,
                kind: $crate::domain::incident::Promise,
                ref_at: jiff::Timestamp,
                due_at: jiff::Timestamp,
            ) -> $crate::store::Result<()> {
                sqlx::query(
                    "INSERT INTO jobs (kind, incident_id, ref_at, due_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (incident_id, kind, ref_at) DO NOTHING",
                )
                .bind($crate::store::sql::enum_text(&kind))
                .bind(incident_id)
                .bind($crate::store::ms(ref_at))
                .bind($crate::store::ms(due_at))
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// `UPDATE deliveries SET {set}` for these ids (`$1` is `at`), in one
            /// write transaction per 500 of them.
            async fn update_deliveries(
                &self,
                set: &str,
                at: jiff::Timestamp,
                ids: &[i64],
            ) -> $crate::store::Result<()> {
                for chunk in ids.chunks(500) {
                    let sql = format!(
                        "UPDATE deliveries SET {set} WHERE id IN ({})",
                        Self::placeholders(2, chunk.len())
                    );
                    let mut query = sqlx::query(&sql).bind($crate::store::ms(at));
                    for id in chunk {
                        query = query.bind(*id);
                    }
                    let (_guard, mut tx) = self.begin_write().await?;
                    query.execute(&mut *tx).await?;
                    tx.commit().await?;
                }
                Ok(())
            }

            /// `$1, $2, …` for an IN list starting at `$start`.
            fn placeholders(start: usize, count: usize) -> String {
                (start..start + count)
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }

            async fn require_component(
                conn: &mut Conn,
                id: &str,
                field: &str,
            ) -> $crate::store::Result<()> {
                let found = sqlx::query("SELECT id FROM components WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
                match found {
                    Some(_) => Ok(()),
                    None => Err($crate::domain::DomainError::new(
                        field,
                        format!("there is no component with id `{id}`"),
                    )
                    .into()),
                }
            }

            /// The group a component is to go in, read in the write's
            /// transaction (locked, so two moves cannot make a loop).
            async fn group_of(
                conn: &mut Conn,
                id: Option<&str>,
            ) -> $crate::store::Result<Option<$crate::domain::component::Component>> {
                let Some(id) = id else {
                    return Ok(None);
                };
                let found = sqlx::query(&format!(
                    "SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1{}",
                    Self::FOR_UPDATE
                ))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                match found {
                    Some(row) => Ok(Some(Self::component_from_row(&row)?)),
                    None => Err($crate::domain::DomainError::new(
                        "group_id",
                        format!("there is no component with id `{id}`"),
                    )
                    .into()),
                }
            }
        }
    };
}

pub(crate) use sql_store;
