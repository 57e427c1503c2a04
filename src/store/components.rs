//! Components, their status history (the source of uptime), and staff
//! edits, which notify the component's subscribers.

use async_trait::async_trait;

use super::audit::finish_write;
use super::backend::Backend;
use super::fanout::fan_out;
use super::query::{Conn, Sql};
use super::stored::{from_ms, ms, parse_enum};
use super::{Actor, ComponentNotice, DeliveryKind, Result, StatusChange};
use crate::domain::component::{Component, ComponentEdit};
use crate::domain::{ComponentId, ComponentStatus, DomainError, IncidentId};

#[async_trait]
pub trait ComponentStore: Send + Sync {
    async fn create_component(&self, component: &Component, actor: &Actor) -> Result<()>;
    async fn list_components(&self) -> Result<Vec<Component>>;
    async fn get_component(&self, id: &ComponentId) -> Result<Component>;
    /// Every status change of every component since `since`, oldest first,
    /// plus, per component, the last change before `since` (its state then).
    async fn component_history(&self, since: jiff::Timestamp) -> Result<Vec<StatusChange>>;
    async fn edit_component(
        &self,
        id: &ComponentId,
        edit: &ComponentEdit,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<Component>;
    /// Deletes a component that no incident or maintenance ever named
    /// (`NotFound`; `Conflict` saying why not: a timeline names it, or it
    /// is a group with members). Its subscribers' choice of it and its
    /// manual status history go with it.
    async fn delete_component(
        &self,
        id: &ComponentId,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<Component>;
}

const COMPONENT_COLUMNS: &str =
    "id, name, description, group_id, position, status, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct ComponentRow {
    id: ComponentId,
    name: String,
    description: Option<String>,
    group_id: Option<ComponentId>,
    position: i64,
    status: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ComponentRow> for Component {
    type Error = super::StoreError;

    fn try_from(row: ComponentRow) -> Result<Self> {
        Ok(Component {
            id: row.id,
            name: row.name,
            description: row.description,
            group_id: row.group_id,
            position: row.position,
            status: parse_enum(&row.status)?,
            created_at: from_ms(row.created_at)?,
            updated_at: from_ms(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct StatusChangeRow {
    component_id: ComponentId,
    at: i64,
    from_status: String,
    to_status: String,
    cause_kind: String,
    cause_id: Option<IncidentId>,
}

impl TryFrom<StatusChangeRow> for StatusChange {
    type Error = super::StoreError;

    fn try_from(row: StatusChangeRow) -> Result<Self> {
        Ok(StatusChange {
            component_id: row.component_id,
            at: from_ms(row.at)?,
            from: parse_enum(&row.from_status)?,
            to: parse_enum(&row.to_status)?,
            cause_kind: row.cause_kind,
            cause_id: row.cause_id,
        })
    }
}

#[async_trait]
impl<B: Backend> ComponentStore for B {
    #[tracing::instrument(skip_all, fields(component = %component.id))]
    async fn create_component(&self, component: &Component, actor: &Actor) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let group = group_of(conn, component.group_id.as_ref()).await?;
        crate::domain::component::check_group(&component.id, group.as_ref(), false)?;
        conn.execute(
            Sql::new(
                "INSERT INTO components (id, name, description, group_id, position, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&component.id)
            .bind(&component.name)
            .bind(&component.description)
            .bind(component.group_id.as_ref())
            .bind(component.position)
            .bind(component.status.as_str())
            .bind(ms(component.created_at))
            .bind(ms(component.updated_at)),
        )
        .await?;
        let detail = serde_json::to_value(component)?;
        let at = component.created_at;
        finish_write(
            conn,
            actor,
            at,
            "component.create",
            component.id.as_str(),
            detail,
        )
        .await?;
        write.commit().await
    }

    async fn list_components(&self) -> Result<Vec<Component>> {
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all::<ComponentRow>(Sql::new(format!(
            "SELECT {COMPONENT_COLUMNS} FROM components ORDER BY position, created_at, id"
        )))
        .await?
        .into_iter()
        .map(Component::try_from)
        .collect()
    }

    async fn get_component(&self, id: &ComponentId) -> Result<Component> {
        let mut conn = self.pool().acquire().await?;
        conn.fetch_one::<ComponentRow>(
            Sql::new(format!(
                "SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1"
            ))
            .bind(id),
        )
        .await?
        .try_into()
    }

    async fn component_history(&self, since: jiff::Timestamp) -> Result<Vec<StatusChange>> {
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all::<StatusChangeRow>(
            Sql::new(
                "SELECT h.component_id, h.at, h.from_status, h.to_status, h.cause_kind, \
                 h.cause_id FROM component_history h WHERE h.at >= $1 \
                    OR h.id = (SELECT MAX(p.id) FROM component_history p \
                               WHERE p.component_id = h.component_id AND p.at < $1) \
                 ORDER BY h.at, h.id",
            )
            .bind(ms(since)),
        )
        .await?
        .into_iter()
        .map(StatusChange::try_from)
        .collect()
    }

    #[tracing::instrument(skip(self, edit, actor, now))]
    async fn edit_component(
        &self,
        id: &ComponentId,
        edit: &ComponentEdit,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<Component> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let before = component_for_update(conn, id).await?;
        let (group, has_members) = match &edit.group_id {
            Some(group_id) => (
                group_of(conn, group_id.as_ref()).await?,
                has_members(conn, id).await?,
            ),
            None => (None, false),
        };
        let Some(after) = before.edited(edit, group.as_ref(), has_members, now)? else {
            return Ok(before);
        };
        conn.execute(
            Sql::new(
                "UPDATE components SET name = $1, description = $2, group_id = $3, \
                 position = $4, updated_at = $5 WHERE id = $6",
            )
            .bind(&after.name)
            .bind(&after.description)
            .bind(after.group_id.as_ref())
            .bind(after.position)
            .bind(ms(now))
            .bind(id),
        )
        .await?;
        if after.status != before.status {
            set_component_status(conn, id, before.status, after.status, now, "manual", None)
                .await?;
            // No quiet path: the component's subscribers are told, in this transaction.
            let notice = ComponentNotice {
                component_id: id.clone(),
                name: after.name.clone(),
                from: before.status,
                to: after.status,
                at: now,
                reason: edit.reason.as_ref().map(ToString::to_string),
            };
            let payload = Some(serde_json::to_string(&notice)?);
            fan_out(conn, DeliveryKind::Component, id.as_str(), payload, now).await?;
        }
        let detail = serde_json::json!({"before": before, "after": after, "reason": edit.reason});
        finish_write(conn, actor, now, "component.edit", id.as_str(), detail).await?;
        write.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(skip(self, actor, now))]
    async fn delete_component(
        &self,
        id: &ComponentId,
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<Component> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let component = component_for_update(conn, id).await?;
        // Timelines are never rewritten (DESIGN.md §1.5): an entry that
        // names the component must go on naming one.
        let (named,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT (SELECT COUNT(DISTINCT e.incident_id) FROM entry_components ec \
                     JOIN entries e ON e.id = ec.entry_id WHERE ec.component_id = $1) \
                     + (SELECT COUNT(*) FROM component_history \
                        WHERE component_id = $1 AND cause_kind <> 'manual')",
                )
                .bind(id),
            )
            .await?;
        if named > 0 {
            return Err(super::StoreError::Conflict(format!(
                "`{}` is named in the timeline of an incident or maintenance, and timelines \
                 are never rewritten; it cannot be deleted (rename it, or move it out of sight \
                 in a group, instead)",
                component.name
            )));
        }
        if has_members(conn, id).await? {
            return Err(super::StoreError::Conflict(format!(
                "`{}` is a group with members; move them out of it first",
                component.name
            )));
        }
        // Nobody who asked to hear of it loses that without being asked.
        let (listening,): (i64,) = conn
            .fetch_one(
                Sql::new(
                    "SELECT COUNT(*) FROM subscriber_components sc \
                     JOIN subscribers s ON s.id = sc.subscriber_id \
                     WHERE sc.component_id = $1 AND s.state <> 'unsubscribed'",
                )
                .bind(id),
            )
            .await?;
        if listening > 0 {
            return Err(super::StoreError::Conflict(format!(
                "{listening} subscriber(s) chose to hear of `{}`; it cannot be deleted \
                 while they do",
                component.name
            )));
        }
        for sql in [
            "DELETE FROM subscriber_components WHERE component_id = $1",
            "DELETE FROM component_history WHERE component_id = $1",
            "DELETE FROM reader_report_mails WHERE component_id = $1",
            "DELETE FROM components WHERE id = $1",
        ] {
            conn.execute(Sql::new(sql).bind(id)).await?;
        }
        let detail = serde_json::to_value(&component)?;
        finish_write(conn, actor, now, "component.delete", id.as_str(), detail).await?;
        write.commit().await?;
        Ok(component)
    }
}

/// A component's new status and the history row behind uptime, in the
/// caller's transaction.
pub(crate) async fn set_component_status<C: Conn>(
    conn: &mut C,
    id: &ComponentId,
    from: ComponentStatus,
    to: ComponentStatus,
    at: jiff::Timestamp,
    cause_kind: &str,
    cause_id: Option<&IncidentId>,
) -> Result<()> {
    conn.execute(
        Sql::new("UPDATE components SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(ms(at))
            .bind(id),
    )
    .await?;
    conn.execute(
        Sql::new(
            "INSERT INTO component_history (component_id, at, from_status, to_status, \
             cause_kind, cause_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(ms(at))
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(cause_kind)
        .bind(cause_id),
    )
    .await?;
    Ok(())
}

/// Refuses (as a rule broken in `field`) a component id that does not exist.
pub(crate) async fn require_component<C: Conn>(
    conn: &mut C,
    id: &ComponentId,
    field: &str,
) -> Result<()> {
    let found: Option<(String,)> = conn
        .fetch_optional(Sql::new("SELECT id FROM components WHERE id = $1").bind(id))
        .await?;
    match found {
        Some(_) => Ok(()),
        None => {
            Err(DomainError::new(field, format!("there is no component with id `{id}`")).into())
        }
    }
}

async fn has_members<C: Conn>(conn: &mut C, id: &ComponentId) -> Result<bool> {
    let (members,): (i64,) = conn
        .fetch_one(Sql::new("SELECT COUNT(*) FROM components WHERE group_id = $1").bind(id))
        .await?;
    Ok(members > 0)
}

/// A component a write is about to change, locked until it commits
/// (`StoreError::NotFound` when there is none).
async fn component_for_update<C: Conn>(conn: &mut C, id: &ComponentId) -> Result<Component> {
    conn.fetch_one::<ComponentRow>(
        Sql::new(format!(
            "SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1{}",
            C::FOR_UPDATE
        ))
        .bind(id),
    )
    .await?
    .try_into()
}

/// The group a component is to go in, read in the write's transaction
/// (locked, so two moves cannot make a loop).
async fn group_of<C: Conn>(conn: &mut C, id: Option<&ComponentId>) -> Result<Option<Component>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let found = conn
        .fetch_optional::<ComponentRow>(
            Sql::new(format!(
                "SELECT {COMPONENT_COLUMNS} FROM components WHERE id = $1{}",
                C::FOR_UPDATE
            ))
            .bind(id),
        )
        .await?;
    match found {
        Some(row) => Ok(Some(row.try_into()?)),
        None => Err(
            DomainError::new("group_id", format!("there is no component with id `{id}`")).into(),
        ),
    }
}
