//! SQLite: the zero-set-up default, for one instance. WAL mode, a busy
//! timeout, and writers serialised in-process so that no transaction has to
//! upgrade a read lock (`BEGIN IMMEDIATE` under one mutex).

use std::{str::FromStr, time::Duration};

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::sql::sql_store;
use super::Result;

pub struct SqliteStore {
    pool: SqlitePool,
    write_lock: Mutex<()>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    const SKIP_LOCKED: &'static str = "";
    const FOR_UPDATE: &'static str = "";
    /// SQLite's planner does not see that the claim's `state IN (...)`
    /// matches the partial index's condition; named, it reads the open rows
    /// in id order instead of sorting every row of the table.
    const OPEN_DELIVERIES: &'static str = " INDEXED BY deliveries_open";

    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Reads from the operating system's page cache without a copy
            // per page (a fan-out reads every subscriber), and a larger
            // cache of its own per connection for what is being written.
            .pragma("mmap_size", "268435456")
            .pragma("cache_size", "-16384");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self {
            pool,
            write_lock: Mutex::new(()),
        })
    }

    /// One process: its own writes bump its pages directly.
    async fn watch(&self, _on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {}

    async fn notify_change(_conn: &mut sqlx::SqliteConnection) -> Result<()> {
        Ok(())
    }

    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Sqlite>)> {
        let guard = self.write_lock.lock().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok((Some(guard), tx))
    }
}

sql_store!(SqliteStore, sqlx::Sqlite);
