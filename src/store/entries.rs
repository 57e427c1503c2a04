//! Timeline entries: written once, never changed (see the test in mod.rs).
//! Writing one also promises its notifications (a fan-out) and moves the
//! components it changes, in the caller's transaction.

use std::collections::BTreeSet;

use super::components::set_component_status;
use super::fanout::fan_out;
use super::query::{Conn, Sql};
use super::repair::{parse_message, parse_stored};
use super::stored::{from_ms, ms};
use super::{DeliveryKind, Result};
use crate::domain::{ComponentId, Entry, EntryId, IncidentId};

const ENTRY_COLUMNS: &str = "e.id, e.incident_id, e.seq, e.posted_at, e.author, e.system, \
     e.corrects, e.classes, e.message, e.state, e.diff, e.components";

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: EntryId,
    incident_id: IncidentId,
    seq: i64,
    posted_at: i64,
    author: String,
    system: bool,
    corrects: Option<EntryId>,
    classes: String,
    message: String,
    state: String,
    diff: String,
    components: String,
}

impl TryFrom<EntryRow> for Entry {
    type Error = super::StoreError;

    /// Entries an older Candor wrote are mended as they are read (repair.rs).
    fn try_from(row: EntryRow) -> Result<Self> {
        let id = row.id;
        Ok(Entry {
            incident_id: row.incident_id,
            seq: row.seq,
            classes: serde_json::from_str(&row.classes)?,
            author: row.author,
            posted_at: from_ms(row.posted_at)?,
            message: parse_message(id.as_str(), &row.message)?,
            state: parse_stored("entry state of", id.as_str(), &row.state)?,
            diff: parse_stored("entry diff of", id.as_str(), &row.diff)?,
            components: parse_stored("entry components of", id.as_str(), &row.components)?,
            corrects: row.corrects,
            system: row.system,
            id,
        })
    }
}

/// The entries of one incident, newest first.
pub(crate) async fn entries_of<C: Conn>(
    conn: &mut C,
    incident_id: &IncidentId,
) -> Result<Vec<Entry>> {
    entries_where(conn, "e.incident_id = $1", incident_id.as_str()).await
}

/// One entry, if it is there and can be read.
pub(crate) async fn entry<C: Conn>(conn: &mut C, entry_id: &EntryId) -> Result<Option<Entry>> {
    Ok(entries_where(conn, "e.id = $1", entry_id.as_str())
        .await?
        .pop())
}

async fn entries_where<C: Conn>(conn: &mut C, condition: &str, value: &str) -> Result<Vec<Entry>> {
    conn.fetch_all::<EntryRow>(
        Sql::new(format!(
            "SELECT {ENTRY_COLUMNS} FROM entries e JOIN incidents i ON i.id = e.incident_id \
             WHERE {condition} ORDER BY e.incident_id, e.seq DESC"
        ))
        .bind(value),
    )
    .await?
    .into_iter()
    .map(Entry::try_from)
    .collect()
}

/// Appends an entry, with the components it concerns, the promise to tell
/// every matching confirmed subscriber, and the status changes it makes.
pub(crate) async fn insert_entry<C: Conn>(conn: &mut C, entry: &Entry) -> Result<()> {
    conn.execute(
        Sql::new(
            "INSERT INTO entries (id, incident_id, seq, posted_at, author, system, corrects, \
             classes, message, state, diff, components) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&entry.id)
        .bind(&entry.incident_id)
        .bind(entry.seq)
        .bind(ms(entry.posted_at))
        .bind(&entry.author)
        .bind(entry.system)
        .bind(entry.corrects.as_ref())
        .bind(serde_json::to_string(&entry.classes)?)
        .bind(entry.message.as_str())
        .bind(serde_json::to_string(&entry.state)?)
        .bind(serde_json::to_string(&entry.diff)?)
        .bind(serde_json::to_string(&entry.components)?),
    )
    .await?;
    let mut concerned: BTreeSet<&ComponentId> = entry.state.components.keys().collect();
    concerned.extend(entry.components.iter().map(|c| &c.id));
    for component in concerned {
        conn.execute(
            Sql::new("INSERT INTO entry_components (entry_id, component_id) VALUES ($1, $2)")
                .bind(&entry.id)
                .bind(component),
        )
        .await?;
    }
    fan_out(
        conn,
        DeliveryKind::Entry,
        entry.id.as_str(),
        None,
        entry.posted_at,
    )
    .await?;
    for change in &entry.components {
        let (from, to) = (change.old_status, change.new_status);
        let cause = Some(&entry.incident_id);
        set_component_status(
            conn,
            &change.id,
            from,
            to,
            entry.posted_at,
            if entry.state.schedule.is_some() {
                "maintenance"
            } else {
                "incident"
            },
            cause,
        )
        .await?;
    }
    Ok(())
}
