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

/// Subscribers one expansion step writes delivery rows for at most: the
/// worker's batch takes one step.
const FANOUT_SIZE: i64 = 500;

/// Subscribers, in id order, one step of a fan-out reads at most to find
/// its `FANOUT_SIZE`: an update for a component few subscribe to walks a
/// large table in short write transactions, not in one long one.
const STEP_WINDOW: i64 = 5_000;

/// Promises, in the caller's transaction, that everyone `key` (an entry's
/// or a component's id) is for will be told: one `fanouts` row, whatever
/// their number, with how many they are (none: no row). The worker
/// expands it later, a step at a time (`expand`).
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
             SELECT $2, $3, $4, $5, '', '', COUNT(*), $6 FROM subscribers s \
             WHERE {audience} HAVING COUNT(*) > 0"
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

/// A fan-out not fully expanded yet.
#[derive(sqlx::FromRow)]
pub(crate) struct Fanout {
    id: i64,
    kind: String,
    entry_id: Option<String>,
    component_id: Option<String>,
    payload: Option<String>,
    /// Its range of subscriber ids: from (inclusive) …
    first_subscriber: String,
    /// … to (inclusive; '' for the end of the table).
    last_subscriber: String,
    /// The last subscriber a step expanded: the next starts after it.
    expanded_through: Option<String>,
    /// How many subscribers it has still to expand, at most.
    subscribers: i64,
    posted_at: i64,
}

impl Fanout {
    /// The most delivery rows its next step can write.
    pub fn next_step(&self) -> i64 {
        self.subscribers.clamp(1, FANOUT_SIZE)
    }
}

/// The oldest fan-out not fully expanded (PostgreSQL: nor being expanded).
pub(crate) async fn next_fanout<C: Conn>(conn: &mut C) -> Result<Option<Fanout>> {
    conn.fetch_optional(Sql::new(format!(
        "SELECT id, kind, entry_id, component_id, payload, first_subscriber, \
         last_subscriber, expanded_through, subscribers, posted_at FROM fanouts \
         WHERE expanded_at IS NULL ORDER BY id LIMIT 1{}",
        C::SKIP_LOCKED
    )))
    .await
}

/// One step of a fan-out, in the caller's transaction: delivery rows for
/// the next (up to) `FANOUT_SIZE` subscribers it is for, in id order,
/// leased until `lease_until`, and the fan-out moved past them (marked
/// expanded after its last step). The rows carry the address each
/// subscriber had, confirmed, at this moment. Returns every row written
/// (a row whose `attempts` is 0 waits behind an earlier mail to the same
/// subscriber, and is not leased).
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
    // Where this step starts: after the last step's last subscriber, or
    // at the fan-out's first (one bound: SQLite walks an index from the
    // first of two).
    let (after, from) = match &fanout.expanded_through {
        Some(through) => (">", through),
        None => (">=", &fanout.first_subscriber),
    };
    // Where this step stops reading: the fan-out's own end, or for one
    // that runs to the end of the table, `STEP_WINDOW` subscribers on
    // (none: fewer are left).
    let (end, window) = if fanout.last_subscriber.is_empty() {
        let end: Option<(String,)> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT s.id FROM subscribers s WHERE s.id {after} $2 \
                     ORDER BY s.id LIMIT 1 OFFSET $1"
                ))
                .bind(STEP_WINDOW - 1)
                .bind(from),
            )
            .await?;
        (end.map(|(id,)| id), true)
    } else {
        (Some(fanout.last_subscriber.clone()), false)
    };
    // Those who still match, and were confirmed by the time it was posted
    // (ids are random: later ones fall in the range). Whoever has an
    // earlier mail waiting for its retry gets this one after it: not
    // leased, due when that retry is. (An earlier mail claimed in this
    // batch is sent first and holds this one back if it fails again.)
    let mut insert = Sql::new(format!(
        "INSERT INTO deliveries (kind, entry_id, subscriber_id, address, payload, \
         channel, state, attempts, next_attempt_at, lease_until, created_at, fanout_id) \
         SELECT $2, $3, x.id, x.address, $4, x.channel, 'pending', \
           CASE WHEN x.behind IS NULL THEN 1 ELSE 0 END, COALESCE(x.behind, $5), \
           CASE WHEN x.behind IS NULL THEN $6 END, $5, $7 \
         FROM (SELECT s.id, s.address, s.channel, \
                 (SELECT MAX(o.next_attempt_at) FROM deliveries o \
                  WHERE o.subscriber_id = s.id AND o.state = 'failed' \
                  AND (o.lease_until IS NULL OR o.lease_until <> $6)) AS behind \
               FROM subscribers s WHERE s.id {after} $8 {} \
               AND s.confirmed_at <= $5 AND {audience} \
               ORDER BY s.id LIMIT {FANOUT_SIZE}) x \
         ORDER BY x.id \
         RETURNING {DELIVERY_COLUMNS}",
        if end.is_some() { "AND s.id <= $9" } else { "" }
    ))
    .bind(key)
    .bind(&fanout.kind)
    .bind(&fanout.entry_id)
    .bind(&fanout.payload)
    .bind(fanout.posted_at)
    .bind(ms(lease_until))
    .bind(fanout.id)
    .bind(from);
    if let Some(end) = &end {
        insert = insert.bind(end);
    }
    let rows: Vec<DeliveryRow> = conn.fetch_all(insert).await?;
    // A full step may have left some behind; a short one read all there
    // was up to `end`, and only a window's end leaves more after it.
    let through = if rows.len() as i64 == FANOUT_SIZE {
        rows.iter()
            .filter_map(|row| row.subscriber_id.as_ref())
            .max()
            .map(|id| id.as_str().to_owned())
    } else if window {
        end
    } else {
        None
    };
    let written = rows.len() as i64;
    let ids = rows.iter().map(|row| row.id);
    conn.execute(
        Sql::new(
            "UPDATE fanouts SET expanded_through = COALESCE($1, expanded_through), \
             expanded_at = CASE WHEN $1 IS NULL THEN $2 END, \
             subscribers = CASE WHEN $1 IS NULL THEN 0 \
               WHEN subscribers > $3 THEN subscribers - $3 ELSE 0 END, \
             delivery_rows = delivery_rows + $3, \
             first_delivery = COALESCE(first_delivery, $4), \
             last_delivery = COALESCE($5, last_delivery) \
             WHERE id = $6",
        )
        .bind(through)
        .bind(ms(now))
        .bind(written)
        .bind(ids.clone().min())
        .bind(ids.max())
        .bind(fanout.id),
    )
    .await?;
    Ok(rows)
}
