//! The outbox: deliveries claimed with a lease, sent outside any
//! transaction, then marked sent, failed (retried later) or dead.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;

use super::audit::{candor, finish_write};
use super::backend::Backend;
use super::entries::entry;
use super::fanout::{expand, next_fanout};
use super::query::{placeholders, Conn, Sql};
use super::reminders::claimed_reminders;
use super::stored::{from_ms, from_opt_ms, ms, parse_enum};
use super::{Claimed, ClaimedDelivery, DeliveryKind, News, Recipient, Result, StoreError};
use crate::domain::subscriber::{Channel, SubscriberState};
use crate::domain::{DeliveryId, Entry, EntryId, SubscriberId};

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Leases up to `limit` due deliveries until `lease_until`, looking
    /// from delivery `from` on (see `claim_floor`; 0 for all).
    async fn claim_deliveries(
        &self,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
        from: DeliveryId,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Where claims made before `horizon` may start looking: the oldest
    /// open delivery due by then and not leased past it, or, with none,
    /// the id after the newest delivery.
    async fn claim_floor(&self, horizon: jiff::Timestamp) -> Result<DeliveryId>;
    async fn mark_sent(&self, ids: &[DeliveryId], now: jiff::Timestamp) -> Result<()>;
    /// A failed attempt: retried at `retry_at`, or dead when `None`.
    async fn mark_failed(
        &self,
        id: DeliveryId,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> Result<()>;
    /// Gives back leased deliveries unsent, due at `until`: they wait behind
    /// an earlier mail to the same address that failed (not an attempt).
    async fn hold_back(&self, ids: &[DeliveryId], until: jiff::Timestamp) -> Result<()>;
    /// Gives back, unsent, deliveries this process claimed and will not
    /// send (it is shutting down), each given with the lease it was claimed
    /// until: they are due again at once, for another instance or this one
    /// after its restart, and the claim is not counted as an attempt. A
    /// row whose lease has changed since (it ended and another instance
    /// claimed it) or that was settled is left alone. Returns how many
    /// rows were given back; other instances are told.
    async fn release_deliveries(&self, claims: &[(DeliveryId, jiff::Timestamp)]) -> Result<u64>;
    /// A webhook delivery went through: sent, and its subscriber's record
    /// of failures is cleared.
    async fn webhook_sent(
        &self,
        id: DeliveryId,
        subscriber_id: &SubscriberId,
        now: jiff::Timestamp,
    ) -> Result<()>;
    /// A webhook delivery failed: retried at `retry_at` or dead when `None`,
    /// and counted against its subscriber. Once every try has failed for
    /// `quarantine_after`, the subscriber is quarantined and its open
    /// deliveries are given up (dead). Returns when it was quarantined, if
    /// it is.
    async fn webhook_failed(
        &self,
        id: DeliveryId,
        subscriber_id: &SubscriberId,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
        now: jiff::Timestamp,
        quarantine_after: jiff::SignedDuration,
    ) -> Result<Option<jiff::Timestamp>>;
}

/// What a claim reads of each delivery it leases.
pub(crate) const DELIVERY_COLUMNS: &str =
    "id, kind, entry_id, subscriber_id, address, payload, channel, attempts";

#[derive(sqlx::FromRow)]
pub(crate) struct DeliveryRow {
    pub id: DeliveryId,
    kind: String,
    entry_id: Option<EntryId>,
    pub(super) subscriber_id: Option<SubscriberId>,
    pub(super) address: Option<String>,
    pub(super) payload: Option<String>,
    channel: String,
    pub attempts: i64,
}

impl DeliveryRow {
    fn is_webhook(&self) -> bool {
        self.channel == "webhook"
    }

    pub(super) fn is_reminder(&self) -> bool {
        self.kind == "reminder"
    }
}

/// A subscriber as a claim looks it up, with when its confirmation link
/// was made.
#[derive(sqlx::FromRow)]
struct RecipientRow {
    id: SubscriberId,
    address: String,
    state: String,
    created_at: i64,
    confirm_sent_at: Option<i64>,
    secret: Option<String>,
    quarantined_at: Option<i64>,
}

/// Recipients looked up by a claim, by subscriber id, with the time their
/// confirmation link was made.
type Recipients = HashMap<SubscriberId, (Recipient, jiff::Timestamp)>;

#[async_trait]
impl<B: Backend> DeliveryStore for B {
    /// Claims in one write transaction (due rows, then fan-outs expanded
    /// while the batch has room), then reads what rendering needs outside it.
    #[tracing::instrument(skip(self, now, lease_until))]
    async fn claim_deliveries(
        &self,
        now: jiff::Timestamp,
        lease_until: jiff::Timestamp,
        limit: i64,
        from: DeliveryId,
    ) -> Result<Vec<ClaimedDelivery>> {
        let mut write = self.begin_write().await?;
        let claimed = claim_due(write.conn(), now, lease_until, limit, from).await?;
        let room = limit - claimed.len() as i64;
        let expanded =
            expand_fanouts(write.conn(), now, lease_until, room, claimed.is_empty()).await?;
        write.commit().await?;
        if claimed.is_empty() && expanded.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.pool().acquire().await?;
        // Rows claimed again (retries, confirmations, rows whose lease
        // ended) look their subscriber up now, as of this claim. So do
        // webhooks, for their secret. Fresh mail rows carry what they need.
        let rows: Vec<(DeliveryRow, bool)> = (claimed.into_iter().map(|row| (row, false)))
            .chain(expanded.into_iter().map(|row| {
                let fresh = !row.is_webhook();
                (row, fresh)
            }))
            .collect();
        let recipients = recipients(&mut *conn, &rows).await?;
        let (entries, unreadable) = entries(&mut *conn, &rows).await?;
        let mut reminders = claimed_reminders(&mut *conn, &rows).await?;
        drop(conn);
        let mut out = Vec::with_capacity(rows.len());
        for (row, fresh) in rows {
            if unreadable.contains(&row.id) {
                continue;
            }
            out.push(claimed_delivery(
                row,
                fresh,
                &recipients,
                &entries,
                &mut reminders,
            )?);
        }
        if !unreadable.is_empty() {
            let unreadable: Vec<DeliveryId> = unreadable.into_iter().collect();
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

    async fn claim_floor(&self, horizon: jiff::Timestamp) -> Result<DeliveryId> {
        let mut conn = self.pool().acquire().await?;
        claim_floor(&mut *conn, horizon).await
    }

    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    async fn mark_sent(&self, ids: &[DeliveryId], now: jiff::Timestamp) -> Result<()> {
        let set = "state = 'sent', sent_at = $1, lease_until = NULL, last_error = NULL";
        self.update_deliveries(set, now, ids).await
    }

    #[tracing::instrument(skip_all, fields(count = ids.len()))]
    async fn hold_back(&self, ids: &[DeliveryId], until: jiff::Timestamp) -> Result<()> {
        let set = "lease_until = NULL, next_attempt_at = $1, attempts = attempts - 1";
        self.update_deliveries(set, until, ids).await
    }

    #[tracing::instrument(skip_all, fields(count = claims.len()))]
    async fn release_deliveries(&self, claims: &[(DeliveryId, jiff::Timestamp)]) -> Result<u64> {
        let mut by_lease: BTreeMap<jiff::Timestamp, Vec<DeliveryId>> = BTreeMap::new();
        for (id, lease_until) in claims {
            by_lease.entry(*lease_until).or_default().push(*id);
        }
        let mut released = 0;
        let mut write = self.begin_write().await?;
        for (lease_until, ids) in by_lease {
            for chunk in ids.chunks(500) {
                let mut sql = Sql::new(format!(
                    "UPDATE deliveries SET lease_until = NULL, attempts = attempts - 1 \
                     WHERE lease_until = $1 AND state IN ('pending', 'failed') AND id IN ({})",
                    placeholders(2, chunk.len())
                ))
                .bind(ms(lease_until));
                for id in chunk {
                    sql = sql.bind(*id);
                }
                released += write.conn().execute(sql).await?;
            }
        }
        if released > 0 {
            write.conn().notify_change().await?;
        }
        write.commit().await?;
        Ok(released)
    }

    #[tracing::instrument(skip(self, error, retry_at))]
    async fn mark_failed(
        &self,
        id: DeliveryId,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        let error: String = error.chars().take(1000).collect();
        failed(write.conn(), id, &error, retry_at).await?;
        write.commit().await
    }

    #[tracing::instrument(skip(self, now))]
    async fn webhook_sent(
        &self,
        id: DeliveryId,
        subscriber_id: &SubscriberId,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        conn.execute(
            Sql::new(
                "UPDATE deliveries SET state = 'sent', sent_at = $1, lease_until = NULL, \
                 last_error = NULL WHERE id = $2",
            )
            .bind(ms(now))
            .bind(id),
        )
        .await?;
        conn.execute(
            Sql::new(
                "UPDATE subscribers SET failing_since = NULL, last_error = NULL \
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(subscriber_id),
        )
        .await?;
        write.commit().await
    }

    #[tracing::instrument(skip(self, error, retry_at, now, quarantine_after))]
    async fn webhook_failed(
        &self,
        id: DeliveryId,
        subscriber_id: &SubscriberId,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
        now: jiff::Timestamp,
        quarantine_after: jiff::SignedDuration,
    ) -> Result<Option<jiff::Timestamp>> {
        let error: String = error.chars().take(1000).collect();
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        failed(conn, id, &error, retry_at).await?;
        let (failing_since, quarantined_at): (i64, Option<i64>) = conn
            .fetch_one(
                Sql::new(
                    "UPDATE subscribers SET failing_since = COALESCE(failing_since, $1), \
                     last_error = $2 WHERE id = $3 RETURNING failing_since, quarantined_at",
                )
                .bind(ms(now))
                .bind(&error)
                .bind(subscriber_id),
            )
            .await?;
        if let Some(at) = quarantined_at {
            write.commit().await?;
            return Ok(Some(from_ms(at)?));
        }
        let since = from_ms(failing_since)?;
        if !crate::domain::subscriber::quarantine_due(since, now, quarantine_after) {
            write.commit().await?;
            return Ok(None);
        }
        quarantine(conn, subscriber_id, since, &error, now).await?;
        write.commit().await?;
        Ok(Some(now))
    }
}

/// See `DeliveryStore::claim_floor`; the same conditions as `claim_due`.
async fn claim_floor<C: Conn>(conn: &mut C, horizon: jiff::Timestamp) -> Result<DeliveryId> {
    let (floor,): (i64,) = conn
        .fetch_one(
            Sql::new(format!(
                "SELECT COALESCE((SELECT MIN(id) FROM deliveries{} \
                   WHERE state IN ('pending', 'failed') AND next_attempt_at <= $1 \
                   AND (lease_until IS NULL OR lease_until <= $1)), \
                 (SELECT MAX(id) + 1 FROM deliveries), 0)",
                C::OPEN_DELIVERIES
            ))
            .bind(ms(horizon)),
        )
        .await?;
    Ok(DeliveryId::new(floor))
}

/// Step 1 of a claim: leases rows that are due (new, retries, and rows
/// whose lease ended), oldest first, from `from` on.
async fn claim_due<C: Conn>(
    conn: &mut C,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
    limit: i64,
    from: DeliveryId,
) -> Result<Vec<DeliveryRow>> {
    conn.fetch_all(
        Sql::new(format!(
            "UPDATE deliveries SET lease_until = $1, attempts = attempts + 1 WHERE id IN \
             (SELECT id FROM deliveries{} WHERE id >= $4 AND state IN ('pending', 'failed') \
              AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
              ORDER BY id LIMIT $3{}) \
             RETURNING {DELIVERY_COLUMNS}",
            C::OPEN_DELIVERIES,
            C::SKIP_LOCKED
        ))
        .bind(ms(lease_until))
        .bind(ms(now))
        .bind(limit)
        .bind(from),
    )
    .await
}

/// Step 2: steps of fan-outs, oldest first, while the batch has `room`
/// (one always fits an empty batch): each writes the delivery rows of its
/// next subscribers. Returns the rows leased to this claim.
async fn expand_fanouts<C: Conn>(
    conn: &mut C,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
    room: i64,
    empty: bool,
) -> Result<Vec<DeliveryRow>> {
    let mut leased = Vec::new();
    while (leased.len() as i64) < room {
        let Some(fanout) = next_fanout(conn).await? else {
            break;
        };
        let taken = leased.len() as i64;
        let batch_empty = empty && taken == 0;
        if !batch_empty && taken + fanout.next_step() > room {
            break;
        }
        let rows = expand(conn, &fanout, now, lease_until).await?;
        // Only the leased ones are ours to send now.
        leased.extend(rows.into_iter().filter(|row| row.attempts > 0));
    }
    Ok(leased)
}

/// Step 3: the subscribers of rows that look theirs up, one query per 500.
async fn recipients<C: Conn>(conn: &mut C, rows: &[(DeliveryRow, bool)]) -> Result<Recipients> {
    let wanted: Vec<&SubscriberId> = rows
        .iter()
        .filter(|(_, fresh)| !fresh)
        .filter_map(|(row, _)| row.subscriber_id.as_ref())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut recipients = Recipients::new();
    for chunk in wanted.chunks(500) {
        let mut sql = Sql::new(format!(
            "SELECT id, address, state, created_at, confirm_sent_at, secret, quarantined_at \
             FROM subscribers WHERE id IN ({})",
            placeholders(1, chunk.len())
        ));
        for id in chunk {
            sql = sql.bind(*id);
        }
        for row in conn.fetch_all::<RecipientRow>(sql).await? {
            let link_made_at = from_ms(row.confirm_sent_at.unwrap_or(row.created_at))?;
            let recipient = Recipient {
                subscriber_id: row.id,
                address: row.address,
                state: parse_enum(&row.state)?,
                secret: row.secret,
                quarantined_at: from_opt_ms(row.quarantined_at)?,
            };
            recipients.insert(recipient.subscriber_id.clone(), (recipient, link_made_at));
        }
    }
    Ok(recipients)
}

/// Step 4: each entry the rows tell of, read once and shared; the rows of
/// an entry that cannot be read (logged once, with its id) are returned
/// apart, to be given up rather than fail every claim.
async fn entries<C: Conn>(
    conn: &mut C,
    rows: &[(DeliveryRow, bool)],
) -> Result<(HashMap<EntryId, Arc<Entry>>, BTreeSet<DeliveryId>)> {
    let mut entries: HashMap<EntryId, Arc<Entry>> = HashMap::new();
    let mut missing: BTreeSet<&EntryId> = BTreeSet::new();
    let mut unreadable = BTreeSet::new();
    for (row, _) in rows {
        let Some(entry_id) = row.entry_id.as_ref() else {
            continue;
        };
        if !entries.contains_key(entry_id) && !missing.contains(entry_id) {
            match entry(conn, entry_id).await {
                Ok(Some(found)) => {
                    entries.insert(entry_id.clone(), Arc::new(found));
                }
                _ => {
                    missing.insert(entry_id);
                }
            }
        }
        if missing.contains(entry_id) {
            unreadable.insert(row.id);
        }
    }
    Ok((entries, unreadable))
}

/// Step 6: what the worker needs of one delivery, from what was read.
/// Fresh rows of a fan-out are mail to a subscriber confirmed a moment ago.
fn claimed_delivery(
    row: DeliveryRow,
    fresh: bool,
    recipients: &Recipients,
    entries: &HashMap<EntryId, Arc<Entry>>,
    reminders: &mut HashMap<DeliveryId, Claimed>,
) -> Result<ClaimedDelivery> {
    let kind: DeliveryKind = parse_enum(&row.kind)?;
    let channel: Channel = parse_enum(&row.channel)?;
    let (id, attempts) = (row.id, row.attempts);
    let recipient = match (fresh, row.subscriber_id) {
        (true, Some(subscriber_id)) => {
            let address = row.address.ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!("delivery {id} has no address"))
            })?;
            let recipient = Recipient {
                subscriber_id,
                address,
                state: SubscriberState::Confirmed,
                secret: None,
                quarantined_at: None,
            };
            Some((recipient, None))
        }
        (false, Some(subscriber_id)) => (recipients.get(&subscriber_id))
            .map(|(recipient, link_made_at)| (recipient.clone(), Some(*link_made_at))),
        (_, None) => None,
    };
    let news = match (kind, row.payload) {
        (DeliveryKind::Reminder, _) => {
            let what =
                (reminders.remove(&id)).unwrap_or(Claimed::Unsendable("the reminder was not read"));
            return Ok(ClaimedDelivery { id, attempts, what });
        }
        (DeliveryKind::Entry, _) => (row.entry_id)
            .and_then(|id| entries.get(&id).cloned())
            .map(News::Entry)
            .ok_or("the entry is missing"),
        (DeliveryKind::Component, Some(p)) => Ok(News::Component(serde_json::from_str(&p)?)),
        (DeliveryKind::Component, None) => Err("the component change is missing"),
        (DeliveryKind::Confirmation, _) => match &recipient {
            Some((_, Some(link_made_at))) => Ok(News::Confirmation {
                link_made_at: *link_made_at,
            }),
            _ => Err("the confirmation link's time is missing"),
        },
    };
    let what = match (recipient, news) {
        (None, _) => Claimed::Unsendable("the subscriber is missing"),
        (Some(_), Err(why)) => Claimed::Unsendable(why),
        (Some((recipient, _)), Ok(news)) => match channel {
            Channel::Email => Claimed::Mail { recipient, news },
            Channel::Webhook => Claimed::Webhook { recipient, news },
        },
    };
    Ok(ClaimedDelivery { id, attempts, what })
}

/// A failed attempt, in the caller's transaction: `failed` (retried at
/// `retry_at`) or `dead`.
async fn failed<C: Conn>(
    conn: &mut C,
    id: DeliveryId,
    error: &str,
    retry_at: Option<jiff::Timestamp>,
) -> Result<()> {
    conn.execute(
        Sql::new(
            "UPDATE deliveries SET state = $1, last_error = $2, lease_until = NULL, \
             next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4",
        )
        .bind(if retry_at.is_some() { "failed" } else { "dead" })
        .bind(error)
        .bind(retry_at.map(ms))
        .bind(id),
    )
    .await?;
    Ok(())
}

/// Stops trying a webhook that has failed for too long.
async fn quarantine<C: Conn>(
    conn: &mut C,
    subscriber_id: &SubscriberId,
    since: jiff::Timestamp,
    error: &str,
    now: jiff::Timestamp,
) -> Result<()> {
    conn.execute(
        Sql::new("UPDATE subscribers SET quarantined_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(subscriber_id),
    )
    .await?;
    // What it was still owed is given up, not sent later: staff re-enabling
    // it expect news from then on, not a backlog.
    conn.execute(
        Sql::new(
            "UPDATE deliveries SET state = 'dead', lease_until = NULL, last_error = $1 \
             WHERE subscriber_id = $2 AND state IN ('pending', 'failed')",
        )
        .bind(format!(
            "quarantined: every try failed since {since} (last: {error})"
        ))
        .bind(subscriber_id),
    )
    .await?;
    let detail = serde_json::json!({"failing_since": since, "last_error": error});
    finish_write(
        conn,
        &candor(),
        now,
        "subscriber.quarantine",
        subscriber_id.as_str(),
        detail,
    )
    .await
}

/// `UPDATE deliveries SET {set}` on many rows.
#[async_trait]
trait UpdateDeliveries {
    async fn update_deliveries(
        &self,
        set: &str,
        at: jiff::Timestamp,
        ids: &[DeliveryId],
    ) -> Result<()>;
}

#[async_trait]
impl<B: Backend> UpdateDeliveries for B {
    /// For these ids (`$1` is `at`), in one write transaction per 500 of them.
    async fn update_deliveries(
        &self,
        set: &str,
        at: jiff::Timestamp,
        ids: &[DeliveryId],
    ) -> Result<()> {
        for chunk in ids.chunks(500) {
            let mut sql = Sql::new(format!(
                "UPDATE deliveries SET {set} WHERE id IN ({})",
                placeholders(2, chunk.len())
            ))
            .bind(ms(at));
            for id in chunk {
                sql = sql.bind(*id);
            }
            let mut write = self.begin_write().await?;
            write.conn().execute(sql).await?;
            write.commit().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::claim_floor::ClaimFloor;
    use crate::delivery::worker::LEASE;
    use crate::store::sqlite::SqliteStore;

    /// Where a claim may start: the oldest open row that can come due by
    /// the horizon; rows sent, leased past it or due after it lie below.
    #[tokio::test]
    async fn the_claim_floor_is_the_oldest_row_that_can_come_due() {
        let dir = std::env::temp_dir().join(format!(
            "candor-floor-{}",
            crate::ids::random_alphanumeric(12)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/candor.db", dir.display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let now: jiff::Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        let horizon = ClaimFloor::horizon(now);
        let at = |secs: i64| ms(now + jiff::SignedDuration::from_secs(secs));
        let floor = || async { store.claim_floor(horizon).await.unwrap().get() };
        assert_eq!(floor().await, 0, "no deliveries at all");

        // (state, due in seconds, leased for seconds)
        let rows: [(&str, i64, Option<i64>); 5] = [
            ("sent", -60, None),
            ("failed", 3600, None),     // its retry is an hour away
            ("pending", -5, Some(120)), // being sent
            ("pending", -5, Some(-1)),  // its lease ended
            ("pending", -5, None),
        ];
        for (state, due, lease) in rows {
            sqlx::query(
                "INSERT INTO deliveries (kind, address, channel, state, next_attempt_at, \
                 lease_until, created_at) VALUES ('entry', 'a@example.test', 'email', ?, ?, ?, ?)",
            )
            .bind(state)
            .bind(at(due))
            .bind(lease.map(at))
            .bind(at(-60))
            .execute(store.pool())
            .await
            .unwrap();
        }
        assert_eq!(floor().await, 4, "the row whose lease ended");
        let claimed = store
            .claim_deliveries(now, now + LEASE, 10, DeliveryId::new(4))
            .await
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|d| d.id.get()).collect();
        assert_eq!(ids, vec![4, 5]);
        assert_eq!(floor().await, 6, "all leased: past the newest");

        // A retry coming due within the horizon counts.
        sqlx::query("UPDATE deliveries SET next_attempt_at = ? WHERE id = 2")
            .bind(at(0) + 500)
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(floor().await, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
