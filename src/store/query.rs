//! One statement with its arguments, and the connection trait that runs it
//! on either backend. Store code is written once against `Conn`, as plain
//! (generic) Rust: a compile error is reported once, and rows are read
//! into `#[derive(sqlx::FromRow)]` structs.

use std::borrow::Cow;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use super::Result;
use crate::domain::{ComponentId, DeliveryId, EntryId, IncidentId, SubscriberId};

/// An argument, by the SQL type it is bound as (the Rust type picks it,
/// as `Query::bind` does).
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_owned()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        Value::Text(v.clone())
    }
}
/// Ids are bound as their text.
macro_rules! text_id_value {
    ($($id:ty),*) => {$(
        impl From<&$id> for Value {
            fn from(v: &$id) -> Self {
                Value::Text(Some(v.as_str().to_owned()))
            }
        }
        impl From<Option<&$id>> for Value {
            fn from(v: Option<&$id>) -> Self {
                Value::Text(v.map(|v| v.as_str().to_owned()))
            }
        }
    )*};
}
text_id_value!(IncidentId, EntryId, ComponentId, SubscriberId);

impl From<DeliveryId> for Value {
    fn from(v: DeliveryId) -> Self {
        Value::Int(Some(v.get()))
    }
}
impl From<Option<DeliveryId>> for Value {
    fn from(v: Option<DeliveryId>) -> Self {
        Value::Int(v.map(DeliveryId::get))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}
impl From<Option<i64>> for Value {
    fn from(v: Option<i64>) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A statement (`$1`, `$2`, … placeholders on both backends) and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    text: Cow<'static, str>,
    args: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<Cow<'static, str>>) -> Self {
        Self {
            text: text.into(),
            args: Vec::new(),
        }
    }

    pub fn bind(mut self, value: impl Into<Value>) -> Self {
        self.args.push(value.into());
        self
    }
}

/// `$start, $start+1, …` for an IN list of `count` values.
pub(crate) fn placeholders(start: usize, count: usize) -> String {
    (start..start + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row struct either backend can read.
pub(crate) trait Rows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Rows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A database connection (or open transaction) of either backend.
#[async_trait]
pub(crate) trait Conn: Send {
    /// Appended to a SELECT that a write reads and then changes.
    const FOR_UPDATE: &'static str;
    /// Appended to a claim's SELECT, so that instances claim apart.
    const SKIP_LOCKED: &'static str;
    /// After `FROM deliveries` in a claim (see sqlite.rs).
    const OPEN_DELIVERIES: &'static str;
    /// After a text expression, so that it compares byte by byte (as an
    /// index made so orders it): SQLite always does.
    const BYTEWISE: &'static str;

    /// Runs a statement; how many rows it changed.
    async fn execute(&mut self, sql: Sql) -> Result<u64>;
    async fn fetch_all<T: Rows>(&mut self, sql: Sql) -> Result<Vec<T>>;
    async fn fetch_optional<T: Rows>(&mut self, sql: Sql) -> Result<Option<T>>;
    /// The one row; `StoreError::NotFound` when there is none.
    async fn fetch_one<T: Rows>(&mut self, sql: Sql) -> Result<T>;
    /// Tells other instances, when (and only if) this transaction commits,
    /// that the data changed.
    async fn notify_change(&mut self) -> Result<()>;
}

/// `Conn` for one backend's connection type: the only code written per
/// backend, as the argument types differ; `$extra` holds its own items.
macro_rules! impl_conn {
    ($conn:ty, { $($extra:tt)* }) => {
        #[async_trait]
        impl Conn for $conn {
            $($extra)*

            async fn execute(&mut self, sql: Sql) -> Result<u64> {
                Ok(impl_conn!(@query sql).execute(&mut *self).await?.rows_affected())
            }

            async fn fetch_all<T: Rows>(&mut self, sql: Sql) -> Result<Vec<T>> {
                let rows = impl_conn!(@query sql).fetch_all(&mut *self).await?;
                Ok(rows.iter().map(T::from_row).collect::<sqlx::Result<_>>()?)
            }

            async fn fetch_optional<T: Rows>(&mut self, sql: Sql) -> Result<Option<T>> {
                let row = impl_conn!(@query sql).fetch_optional(&mut *self).await?;
                Ok(row.as_ref().map(T::from_row).transpose()?)
            }

            async fn fetch_one<T: Rows>(&mut self, sql: Sql) -> Result<T> {
                let row = impl_conn!(@query sql).fetch_one(&mut *self).await?;
                Ok(T::from_row(&row)?)
            }
        }
    };
    (@query $sql:ident) => {{
        let mut query = sqlx::query(&$sql.text);
        for value in &$sql.args {
            query = match value {
                Value::Text(v) => query.bind(v.as_deref()),
                Value::Int(v) => query.bind(*v),
                Value::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

impl_conn!(sqlx::SqliteConnection, {
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";
    /// SQLite's planner does not see that the claim's `state IN (...)`
    /// matches the partial index's condition; named, it reads the open rows
    /// in id order instead of sorting every row of the table.
    const OPEN_DELIVERIES: &'static str = " INDEXED BY deliveries_open";
    const BYTEWISE: &'static str = "";

    /// One process: its own writes bump its pages directly.
    async fn notify_change(&mut self) -> Result<()> {
        Ok(())
    }
});

/// The channel on which each committed write is announced.
pub(crate) const CHANGES_CHANNEL: &str = "candor_changes";

impl_conn!(sqlx::PgConnection, {
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const OPEN_DELIVERIES: &'static str = "";
    const BYTEWISE: &'static str = " COLLATE \"C\"";

    /// PostgreSQL delivers the notice to the listeners at commit.
    async fn notify_change(&mut self) -> Result<()> {
        self.execute(Sql::new("SELECT pg_notify($1, '')").bind(CHANGES_CHANNEL))
            .await?;
        Ok(())
    }
});
