//! Subscribers: the public form's double opt-in, staff additions, and
//! changes through the domain's rules (confirm, unsubscribe, components).

use async_trait::async_trait;

use super::audit::{anonymous, finish_write};
use super::backend::{Backend, ConnOf};
use super::components::require_component;
use super::query::{Conn, Sql};
use super::stored::{enum_text, from_ms, from_opt_ms, ms, parse_enum};
use super::{Actor, Result, StoreError, SubscribeOutcome};
use crate::domain::subscriber::{Subscriber, SubscriberChange, SubscriberState};
use crate::domain::{ComponentId, SubscriberId};

#[async_trait]
pub trait SubscriberStore: Send + Sync {
    /// A subscription from the public form: new or pending addresses get a
    /// (new) confirmation mail queued; confirmed ones get nothing.
    async fn subscribe(
        &self,
        subscriber: &Subscriber,
        now: jiff::Timestamp,
    ) -> Result<SubscribeOutcome>;
    /// Adds a subscriber as staff (a conflict when the address exists);
    /// `secret` signs a webhook's deliveries.
    async fn add_subscriber(
        &self,
        subscriber: &Subscriber,
        secret: Option<&str>,
        actor: &Actor,
    ) -> Result<()>;
    /// Adds those of `subscribers` (one chunk of an imported list) whose
    /// address is new, in one transaction, and sends each new pending one a
    /// confirmation link; addresses there already, in whatever state, are
    /// left as they are. How many were added.
    async fn import_subscribers(
        &self,
        subscribers: &[Subscriber],
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<u64>;
    async fn get_subscriber(&self, id: &SubscriberId) -> Result<Subscriber>;
    /// Subscribers in id order, as `filter` selects them.
    async fn list_subscribers(&self, filter: &SubscriberFilter<'_>) -> Result<Vec<Subscriber>>;
    /// Changes a subscriber by the domain's rule for `change`
    /// (`Subscriber::apply`), in one transaction.
    async fn change_subscriber(
        &self,
        id: &SubscriberId,
        actor: &Actor,
        now: jiff::Timestamp,
        change: &SubscriberChange,
    ) -> Result<Subscriber>;
}

/// Which subscribers a list holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriberFilter<'a> {
    /// The last subscriber of the page before.
    pub after: Option<&'a SubscriberId>,
    pub limit: i64,
    /// Only addresses that begin with this, in any case.
    pub prefix: Option<&'a str>,
    pub state: Option<SubscriberState>,
    /// Only those told of this component (all of them, it, or its group).
    pub component: Option<&'a ComponentId>,
}

const SUBSCRIBER_COLUMNS: &str = "id, channel, address, state, all_components, created_at, \
     confirmed_at, unsubscribed_at, failing_since, last_error, quarantined_at";

#[derive(sqlx::FromRow)]
struct SubscriberRow {
    id: SubscriberId,
    channel: String,
    address: String,
    state: String,
    all_components: bool,
    created_at: i64,
    confirmed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    failing_since: Option<i64>,
    last_error: Option<String>,
    quarantined_at: Option<i64>,
}

impl SubscriberRow {
    /// The subscriber, with its choice of components (empty: all).
    fn into_subscriber(self, components: Vec<ComponentId>) -> Result<Subscriber> {
        Ok(Subscriber {
            id: self.id,
            channel: parse_enum(&self.channel)?,
            address: self.address,
            state: parse_enum(&self.state)?,
            components,
            created_at: from_ms(self.created_at)?,
            confirmed_at: from_opt_ms(self.confirmed_at)?,
            unsubscribed_at: from_opt_ms(self.unsubscribed_at)?,
            failing_since: from_opt_ms(self.failing_since)?,
            last_error: self.last_error,
            quarantined_at: from_opt_ms(self.quarantined_at)?,
        })
    }
}

#[async_trait]
impl<B: Backend> SubscriberStore for B {
    #[tracing::instrument(skip_all, fields(subscriber = %subscriber.id))]
    async fn subscribe(
        &self,
        subscriber: &Subscriber,
        now: jiff::Timestamp,
    ) -> Result<SubscribeOutcome> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let existing = conn
            .fetch_optional::<SubscriberRow>(
                Sql::new(format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers \
                     WHERE channel = $1 AND address = $2{}",
                    <ConnOf<B> as Conn>::FOR_UPDATE
                ))
                .bind(enum_text(&subscriber.channel))
                .bind(&subscriber.address),
            )
            .await?;
        let (id, outcome) = match existing {
            None => {
                write_subscriber(conn, subscriber, true).await?;
                queue_confirmation(conn, &subscriber.id, now).await?;
                (subscriber.id.clone(), SubscribeOutcome::ConfirmationQueued)
            }
            Some(row) => {
                let mut current = with_components(conn, row).await?;
                if current.subscribe_again(subscriber.components.clone()) {
                    write_subscriber(conn, &current, false).await?;
                    queue_confirmation(conn, &current.id, now).await?;
                    (current.id, SubscribeOutcome::ConfirmationQueued)
                } else {
                    (current.id, SubscribeOutcome::AlreadyConfirmed)
                }
            }
        };
        let actor = anonymous("public");
        let detail = serde_json::json!({});
        finish_write(
            conn,
            &actor,
            now,
            "subscriber.subscribe",
            id.as_str(),
            detail,
        )
        .await?;
        write.commit().await?;
        Ok(outcome)
    }

    #[tracing::instrument(skip_all, fields(subscriber = %subscriber.id))]
    async fn add_subscriber(
        &self,
        subscriber: &Subscriber,
        secret: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        write_subscriber(conn, subscriber, true)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("{} is subscribed already", subscriber.address))
                }
                other => other,
            })?;
        if let Some(secret) = secret {
            conn.execute(
                Sql::new("UPDATE subscribers SET secret = $1 WHERE id = $2")
                    .bind(secret)
                    .bind(&subscriber.id),
            )
            .await?;
        }
        if subscriber.state == SubscriberState::Pending {
            queue_confirmation(conn, &subscriber.id, subscriber.created_at).await?;
        }
        let detail =
            serde_json::json!({"confirmed": subscriber.state == SubscriberState::Confirmed});
        let at = subscriber.created_at;
        finish_write(
            conn,
            actor,
            at,
            "subscriber.add",
            subscriber.id.as_str(),
            detail,
        )
        .await?;
        write.commit().await
    }

    #[tracing::instrument(skip_all, fields(count = subscribers.len()))]
    async fn import_subscribers(
        &self,
        subscribers: &[Subscriber],
        actor: &Actor,
        now: jiff::Timestamp,
    ) -> Result<u64> {
        super::subscriber_import::import(self, subscribers, actor, now).await
    }

    async fn get_subscriber(&self, id: &SubscriberId) -> Result<Subscriber> {
        let mut conn = self.pool().acquire().await?;
        let row = conn
            .fetch_one::<SubscriberRow>(
                Sql::new(format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1"
                ))
                .bind(id),
            )
            .await?;
        with_components(&mut *conn, row).await
    }

    async fn list_subscribers(&self, filter: &SubscriberFilter<'_>) -> Result<Vec<Subscriber>> {
        let mut conn = self.pool().acquire().await?;
        let rows = conn
            .fetch_all::<SubscriberRow>(list_query::<ConnOf<B>>(filter))
            .await?;
        let mut subscribers = Vec::with_capacity(rows.len());
        for row in rows {
            subscribers.push(with_components(&mut *conn, row).await?);
        }
        Ok(subscribers)
    }

    #[tracing::instrument(skip(self, actor, now))]
    async fn change_subscriber(
        &self,
        id: &SubscriberId,
        actor: &Actor,
        now: jiff::Timestamp,
        change: &SubscriberChange,
    ) -> Result<Subscriber> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let row = conn
            .fetch_one::<SubscriberRow>(
                Sql::new(format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = $1{}",
                    <ConnOf<B> as Conn>::FOR_UPDATE
                ))
                .bind(id),
            )
            .await?;
        let before = with_components(conn, row).await?;
        let mut after = before.clone();
        after.apply(change, now)?;
        if after != before {
            write_subscriber(conn, &after, false).await?;
            let detail = serde_json::json!({"state": after.state, "components": after.components});
            finish_write(conn, actor, now, "subscriber.change", id.as_str(), detail).await?;
        }
        write.commit().await?;
        Ok(after)
    }
}

/// The statement that lists `filter`'s subscribers: only the conditions
/// asked for, so that each can use its index (by state and id; by the
/// lower-cased address, a prefix as the range of what begins with it).
fn list_query<C: Conn>(filter: &SubscriberFilter<'_>) -> Sql {
    let mut conditions = vec!["id > $1".to_string()];
    let mut args: Vec<String> = Vec::new();
    let mut next = |value: String| {
        args.push(value);
        format!("${}", args.len() + 2)
    };
    if let Some(prefix) = filter.prefix.filter(|p| !p.is_empty()) {
        let low = prefix.to_lowercase();
        // Every text that begins with `low` sorts, byte by byte, from `low`
        // up to `low` followed by the last character there is.
        let high = format!("{low}\u{10FFFF}");
        let column = format!("lower(address){}", C::BYTEWISE);
        conditions.push(format!("{column} >= {}", next(low)));
        conditions.push(format!("{column} < {}", next(high)));
    }
    if let Some(state) = filter.state {
        conditions.push(format!("state = {}", next(enum_text(&state))));
    }
    if let Some(component) = filter.component {
        let p = next(component.as_str().to_string());
        conditions.push(format!(
            "(all_components OR EXISTS (SELECT 1 FROM subscriber_components sc \
             WHERE sc.subscriber_id = subscribers.id AND (sc.component_id = {p} \
             OR sc.component_id = (SELECT group_id FROM components WHERE id = {p}))))"
        ));
    }
    let mut sql = Sql::new(format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE {} ORDER BY id LIMIT $2",
        conditions.join(" AND ")
    ))
    .bind(filter.after.map_or("", SubscriberId::as_str))
    .bind(filter.limit);
    for arg in args {
        sql = sql.bind(arg);
    }
    sql
}

/// The subscriber of `row`, with the components it chose.
async fn with_components<C: Conn>(conn: &mut C, row: SubscriberRow) -> Result<Subscriber> {
    let components = if row.all_components {
        Vec::new()
    } else {
        let rows: Vec<(ComponentId,)> = conn
            .fetch_all(
                Sql::new(
                    "SELECT component_id FROM subscriber_components WHERE subscriber_id = $1 \
                     ORDER BY component_id",
                )
                .bind(&row.id),
            )
            .await?;
        rows.into_iter().map(|(id,)| id).collect()
    };
    row.into_subscriber(components)
}

/// Writes a subscriber's state and choice of components.
async fn write_subscriber<C: Conn>(
    conn: &mut C,
    subscriber: &Subscriber,
    insert: bool,
) -> Result<()> {
    let state = enum_text(&subscriber.state);
    let all = subscriber.components.is_empty();
    if insert {
        conn.execute(
            Sql::new(
                "INSERT INTO subscribers (id, channel, address, state, all_components, \
                 created_at, confirmed_at, unsubscribed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&subscriber.id)
            .bind(enum_text(&subscriber.channel))
            .bind(&subscriber.address)
            .bind(state)
            .bind(all)
            .bind(ms(subscriber.created_at))
            .bind(subscriber.confirmed_at.map(ms))
            .bind(subscriber.unsubscribed_at.map(ms)),
        )
        .await?;
    } else {
        conn.execute(
            Sql::new(
                "UPDATE subscribers SET state = $1, all_components = $2, confirmed_at = $3, \
                 unsubscribed_at = $4, failing_since = $5, last_error = $6, \
                 quarantined_at = $7 WHERE id = $8",
            )
            .bind(state)
            .bind(all)
            .bind(subscriber.confirmed_at.map(ms))
            .bind(subscriber.unsubscribed_at.map(ms))
            .bind(subscriber.failing_since.map(ms))
            .bind(&subscriber.last_error)
            .bind(subscriber.quarantined_at.map(ms))
            .bind(&subscriber.id),
        )
        .await?;
        conn.execute(
            Sql::new("DELETE FROM subscriber_components WHERE subscriber_id = $1")
                .bind(&subscriber.id),
        )
        .await?;
    }
    for component in &subscriber.components {
        require_component(conn, component, "components").await?;
        conn.execute(
            Sql::new(
                "INSERT INTO subscriber_components (subscriber_id, component_id) VALUES ($1, $2)",
            )
            .bind(&subscriber.id)
            .bind(component),
        )
        .await?;
    }
    Ok(())
}

/// Queues a (new) confirmation mail; its link is valid from `now`.
async fn queue_confirmation<C: Conn>(
    conn: &mut C,
    subscriber_id: &SubscriberId,
    now: jiff::Timestamp,
) -> Result<()> {
    conn.execute(
        Sql::new("UPDATE subscribers SET confirm_sent_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(subscriber_id),
    )
    .await?;
    conn.execute(
        Sql::new(
            "INSERT INTO deliveries (kind, entry_id, subscriber_id, channel, state, attempts, \
             next_attempt_at, created_at) \
             VALUES ('confirmation', NULL, $1, 'email', 'pending', 0, $2, $2)",
        )
        .bind(subscriber_id)
        .bind(ms(now)),
    )
    .await?;
    Ok(())
}
