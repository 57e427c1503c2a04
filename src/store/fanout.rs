//! Fan-out: the promise, written with an entry (or a component's status
//! change), to tell everyone it concerns. One `fanouts` row stands for up
//! to `FANOUT_SIZE` subscribers in id order; the delivery worker expands
//! one row at a time into delivery rows leased to itself.

use super::deliveries::{DeliveryRow, DELIVERY_COLUMNS};
use super::query::{Conn, Sql};
use super::stored::{enum_text, ms};
use super::{DeliveryKind, Result};

/// Who an entry is for, written once for the POST and the worker (`$1` is
/// the entry's id): confirmed subscribers of every component, or of one it
/// concerns or a group one of those is in, or of any when it concerns none.
///
/// A subscription to a group covers every component in it, those added
/// later too: the components an entry concerns count with every group
/// above them (`concerned`, in both statements). Data from before groups
/// were one level deep may nest deeper, or even loop: `UNION` (not
/// `UNION ALL`) ends the walk at a component already seen. The set does
/// not depend on the subscriber, so it is worked out once per statement.
///
/// `s.state || ''` keeps planners off the index on `state`: both statements
/// walk subscribers in id order (the worker a range of 500 of them), and
/// SQLite, without statistics, would otherwise read every confirmed
/// subscriber for each range.
const ENTRY_AUDIENCE: &str = "s.state || '' = 'confirmed' AND (s.all_components \
     OR NOT EXISTS (SELECT 1 FROM entry_components ec WHERE ec.entry_id = $1) \
     OR EXISTS (SELECT 1 FROM subscriber_components sc \
                WHERE sc.subscriber_id = s.id AND sc.component_id IN (\
                  WITH RECURSIVE concerned(id) AS (\
                    SELECT ec.component_id FROM entry_components ec WHERE ec.entry_id = $1 \
                    UNION SELECT c.group_id FROM concerned JOIN components c ON c.id = concerned.id \
                    WHERE c.group_id IS NOT NULL) \
                  SELECT id FROM concerned)))";

/// Who hears of a component's status change by staff (`$1` is its id):
/// its subscribers and those of its group.
const COMPONENT_AUDIENCE: &str = "s.state || '' = 'confirmed' AND (s.all_components \
     OR EXISTS (SELECT 1 FROM subscriber_components sc \
                WHERE sc.subscriber_id = s.id AND sc.component_id IN (\
                  WITH RECURSIVE concerned(id) AS (\
                    SELECT CAST($1 AS TEXT) \
                    UNION SELECT c.group_id FROM concerned JOIN components c ON c.id = concerned.id \
                    WHERE c.group_id IS NOT NULL) \
                  SELECT id FROM concerned)))";

/// Subscribers per fan-out row: the POST writes one row per this many, the
/// worker expands one row into that many deliveries.
const FANOUT_SIZE: i64 = 500;

/// Promises, in the caller's transaction, that everyone `key` (an entry's
/// or a component's id) is for will be told: one `fanouts` row per
/// `FANOUT_SIZE` of them, in subscriber-id order, written by one statement.
pub(crate) async fn fan_out<C: Conn>(
    conn: &mut C,
    kind: DeliveryKind,
    key: &str,
    payload: Option<String>,
    posted_at: jiff::Timestamp,
) -> Result<()> {
    let (audience, entry_id, component_id) = match kind {
        DeliveryKind::Entry => (ENTRY_AUDIENCE, Some(key), None),
        _ => (COMPONENT_AUDIENCE, None, Some(key)),
    };
    conn.execute(
        Sql::new(format!(
            "INSERT INTO fanouts (kind, entry_id, component_id, payload, first_subscriber, \
             last_subscriber, subscribers, posted_at) \
             SELECT $2, $3, $4, $5, MIN(m.id), MAX(m.id), COUNT(*), $6 FROM \
             (SELECT s.id, (ROW_NUMBER() OVER (ORDER BY s.id) - 1) / {FANOUT_SIZE} AS part \
              FROM subscribers s WHERE {audience}) m \
             GROUP BY m.part ORDER BY m.part"
        ))
        .bind(key)
        .bind(enum_text(&kind))
        .bind(entry_id)
        .bind(component_id)
        .bind(payload)
        .bind(ms(posted_at)),
    )
    .await?;
    Ok(())
}

/// A fan-out row not expanded yet.
#[derive(sqlx::FromRow)]
pub(crate) struct Fanout {
    id: i64,
    kind: String,
    entry_id: Option<String>,
    component_id: Option<String>,
    payload: Option<String>,
    first_subscriber: String,
    last_subscriber: String,
    /// How many subscribers it stands for.
    pub subscribers: i64,
    posted_at: i64,
}

/// The oldest fan-out nobody has expanded (PostgreSQL: nor is expanding).
pub(crate) async fn next_fanout<C: Conn>(conn: &mut C) -> Result<Option<Fanout>> {
    conn.fetch_optional(Sql::new(format!(
        "SELECT id, kind, entry_id, component_id, payload, first_subscriber, \
         last_subscriber, subscribers, posted_at FROM fanouts \
         WHERE expanded_at IS NULL ORDER BY id LIMIT 1{}",
        C::SKIP_LOCKED
    )))
    .await
}

/// Expands a fan-out into its subscribers' delivery rows, leased until
/// `lease_until`, and marks it expanded, in the caller's transaction; the
/// rows carry the address each subscriber had, confirmed, at this moment.
/// Returns every row written (a row whose `attempts` is 0 waits behind an
/// earlier mail to the same subscriber, and is not leased).
pub(crate) async fn expand<C: Conn>(
    conn: &mut C,
    fanout: &Fanout,
    now: jiff::Timestamp,
    lease_until: jiff::Timestamp,
) -> Result<Vec<DeliveryRow>> {
    let (audience, key) = if fanout.kind == "entry" {
        (ENTRY_AUDIENCE, &fanout.entry_id)
    } else {
        (COMPONENT_AUDIENCE, &fanout.component_id)
    };
    // Those who still match, and were confirmed by the time it was posted
    // (ids are random: later ones fall in the range). Whoever has an
    // earlier mail waiting for its retry gets this one after it: not
    // leased, due when that retry is. (An earlier mail claimed in this
    // batch is sent first and holds this one back if it fails again.)
    let rows: Vec<DeliveryRow> = conn
        .fetch_all(
            Sql::new(format!(
                "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, \
                 channel, state, attempts, next_attempt_at, lease_until, created_at, fanout_id) \
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
            .bind(&fanout.kind)
            .bind(&fanout.entry_id)
            .bind(&fanout.payload)
            .bind(fanout.posted_at)
            .bind(ms(lease_until))
            .bind(fanout.id)
            .bind(&fanout.first_subscriber)
            .bind(&fanout.last_subscriber),
        )
        .await?;
    let ids = rows.iter().map(|row| row.id);
    conn.execute(
        Sql::new(
            "UPDATE fanouts SET expanded_at = $1, first_delivery = $2, last_delivery = $3 \
             WHERE id = $4",
        )
        .bind(ms(now))
        .bind(ids.clone().min())
        .bind(ids.max())
        .bind(fanout.id),
    )
    .await?;
    Ok(rows)
}
