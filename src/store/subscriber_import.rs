//! Imported subscribers: one chunk of a list added in one transaction,
//! addresses Candor has already left as they are.

use std::collections::HashMap;

use super::audit::finish_write;
use super::backend::Backend;
use super::query::{placeholders, Conn, Sql};
use super::stored::{enum_text, ms};
use super::{Actor, Result};
use crate::domain::subscriber::{Subscriber, SubscriberState};
use crate::domain::SubscriberId;

/// Rows a statement writes at most (9 arguments each: well within either
/// backend's limit on arguments).
const ROWS_PER_STATEMENT: usize = 500;

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
    let mut added = 0;
    for group in subscribers.chunks(ROWS_PER_STATEMENT) {
        let new = insert_new(conn, group, now).await?;
        added += new.len() as u64;
        let by_id: HashMap<&str, &Subscriber> = group.iter().map(|s| (s.id.as_str(), s)).collect();
        let new: Vec<&Subscriber> = new
            .iter()
            .filter_map(|(id,)| by_id.get(id.as_str()).copied())
            .collect();
        choose_components(conn, &new).await?;
        queue_confirmations(conn, &new, now).await?;
    }
    let detail = serde_json::json!({
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
    group: &[Subscriber],
    now: jiff::Timestamp,
) -> Result<Vec<(SubscriberId,)>> {
    const COLUMNS: usize = 9;
    let rows: Vec<String> = (0..group.len())
        .map(|i| format!("({})", placeholders(i * COLUMNS + 1, COLUMNS)))
        .collect();
    let mut sql = Sql::new(format!(
        "INSERT INTO subscribers (id, channel, address, state, all_components, created_at, \
         confirm_sent_at, confirmed_at, unsubscribed_at) VALUES {} \
         ON CONFLICT (channel, address) DO NOTHING RETURNING id",
        rows.join(", ")
    ));
    for s in group {
        let pending = s.state == SubscriberState::Pending;
        sql = sql
            .bind(&s.id)
            .bind(enum_text(&s.channel))
            .bind(&s.address)
            .bind(enum_text(&s.state))
            .bind(s.components.is_empty())
            .bind(ms(s.created_at))
            .bind(pending.then(|| ms(now)))
            .bind(s.confirmed_at.map(ms))
            .bind(s.unsubscribed_at.map(ms));
    }
    conn.fetch_all(sql).await
}

/// The components each new subscriber chose (none: every component).
async fn choose_components<C: Conn>(conn: &mut C, new: &[&Subscriber]) -> Result<()> {
    let pairs: Vec<(&SubscriberId, &crate::domain::ComponentId)> = new
        .iter()
        .flat_map(|s| s.components.iter().map(move |c| (&s.id, c)))
        .collect();
    for group in pairs.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..group.len())
            .map(|i| format!("({})", placeholders(i * 2 + 1, 2)))
            .collect();
        let mut sql = Sql::new(format!(
            "INSERT INTO subscriber_components (subscriber_id, component_id) VALUES {}",
            rows.join(", ")
        ));
        for (subscriber, component) in group {
            sql = sql.bind(*subscriber).bind(*component);
        }
        conn.execute(sql).await?;
    }
    Ok(())
}

/// A confirmation mail for each new pending subscriber.
async fn queue_confirmations<C: Conn>(
    conn: &mut C,
    new: &[&Subscriber],
    now: jiff::Timestamp,
) -> Result<()> {
    let pending: Vec<&SubscriberId> = new
        .iter()
        .filter(|s| s.state == SubscriberState::Pending)
        .map(|s| &s.id)
        .collect();
    for group in pending.chunks(ROWS_PER_STATEMENT) {
        let rows: Vec<String> = (0..group.len())
            .map(|i| {
                format!(
                    "('confirmation', NULL, ${}, 'email', 'pending', 0, $1, $1)",
                    i + 2
                )
            })
            .collect();
        let mut sql = Sql::new(format!(
            "INSERT INTO deliveries (kind, entry_id, subscriber_id, channel, state, attempts, \
             next_attempt_at, created_at) VALUES {}",
            rows.join(", ")
        ))
        .bind(ms(now));
        for id in group {
            sql = sql.bind(*id);
        }
        conn.execute(sql).await?;
    }
    Ok(())
}
