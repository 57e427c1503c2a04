//! Imported subscribers: one chunk of a list added in one transaction,
//! addresses Candor has already left as they are. Each statement takes the
//! whole chunk as one JSON argument (`Conn::json_rows`).

use std::collections::HashMap;

use serde_json::json;

use super::audit::finish_write;
use super::backend::Backend;
use super::query::{Conn, Sql};
use super::stored::{enum_text, ms};
use super::{Actor, Result};
use crate::domain::subscriber::{Subscriber, SubscriberState};
use crate::domain::SubscriberId;

/// Adds those of `subscribers` whose address is new, in one transaction;
/// each new pending one is sent a confirmation link. How many were added.
pub(super) async fn import<B: Backend>(
    backend: &B,
    subscribers: &[Subscriber],
    actor: &Actor,
    now: jiff::Timestamp,
) -> Result<u64> {
    let mut write = backend.begin_write().await?;
    let conn = write.conn();
    let new = insert_new(conn, subscribers, now).await?;
    let added = new.len() as u64;
    let by_id: HashMap<&str, &Subscriber> =
        subscribers.iter().map(|s| (s.id.as_str(), s)).collect();
    let new: Vec<&Subscriber> = new
        .iter()
        .filter_map(|(id,)| by_id.get(id.as_str()).copied())
        .collect();
    choose_components(conn, &new).await?;
    queue_confirmations(conn, &new, now).await?;
    let detail = json!({
        "added": added,
        "already_there": subscribers.len() as u64 - added,
    });
    finish_write(conn, actor, now, "subscriber.import", "", detail).await?;
    write.commit().await?;
    Ok(added)
}

/// Inserts the subscribers whose address is not there yet; their ids.
async fn insert_new<C: Conn>(
    conn: &mut C,
    subscribers: &[Subscriber],
    now: jiff::Timestamp,
) -> Result<Vec<(SubscriberId,)>> {
    // In id order: on SQLite subscribers are stored in id order
    // (migration 0016), and a chunk's random ids written one after the
    // other in that order touch the table's pages in turn rather than at
    // random.
    let mut in_id_order: Vec<&Subscriber> = subscribers.iter().collect();
    in_id_order.sort_unstable_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    let rows: Vec<serde_json::Value> = in_id_order
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "channel": enum_text(&s.channel),
                "address": s.address,
                "state": enum_text(&s.state),
                "all_components": s.components.is_empty(),
                "created_at": ms(s.created_at),
                "confirm_sent_at": (s.state == SubscriberState::Pending).then(|| ms(now)),
                "confirmed_at": s.confirmed_at.map(ms),
            })
        })
        .collect();
    let from = C::json_rows(
        "$1",
        &[
            ("id", "text"),
            ("channel", "text"),
            ("address", "text"),
            ("state", "text"),
            ("all_components", "boolean"),
            ("created_at", "bigint"),
            ("confirm_sent_at", "bigint"),
            ("confirmed_at", "bigint"),
        ],
    );
    // `WHERE true`: SQLite reads ON CONFLICT after a bare SELECT's FROM
    // as part of a join otherwise.
    conn.fetch_all(
        Sql::new(format!(
            "INSERT INTO subscribers (id, channel, address, state, all_components, created_at, \
             confirm_sent_at, confirmed_at) \
             SELECT r.id, r.channel, r.address, r.state, r.all_components, r.created_at, \
             r.confirm_sent_at, r.confirmed_at FROM {from} WHERE true \
             ON CONFLICT (channel, address) DO NOTHING RETURNING id"
        ))
        .bind(serde_json::Value::Array(rows).to_string()),
    )
    .await
}

/// The components each new subscriber chose (none: every component).
async fn choose_components<C: Conn>(conn: &mut C, new: &[&Subscriber]) -> Result<()> {
    let rows: Vec<serde_json::Value> = new
        .iter()
        .flat_map(|s| {
            s.components
                .iter()
                .map(move |c| json!({"subscriber_id": s.id, "component_id": c}))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let from = C::json_rows("$1", &[("subscriber_id", "text"), ("component_id", "text")]);
    conn.execute(
        Sql::new(format!(
            "INSERT INTO subscriber_components (subscriber_id, component_id) \
             SELECT r.subscriber_id, r.component_id FROM {from}"
        ))
        .bind(serde_json::Value::Array(rows).to_string()),
    )
    .await?;
    Ok(())
}

/// A confirmation mail for each new pending subscriber.
async fn queue_confirmations<C: Conn>(
    conn: &mut C,
    new: &[&Subscriber],
    now: jiff::Timestamp,
) -> Result<()> {
    let rows: Vec<serde_json::Value> = new
        .iter()
        .filter(|s| s.state == SubscriberState::Pending)
        .map(|s| json!({"subscriber_id": s.id}))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let from = C::json_rows("$1", &[("subscriber_id", "text")]);
    conn.execute(
        Sql::new(format!(
            "INSERT INTO deliveries (kind, entry_id, subscriber_id, channel, state, attempts, \
             next_attempt_at, created_at) \
             SELECT 'confirmation', NULL, r.subscriber_id, 'email', 'pending', 0, $2, $2 \
             FROM {from}"
        ))
        .bind(serde_json::Value::Array(rows).to_string())
        .bind(ms(now)),
    )
    .await?;
    Ok(())
}
