//! SQLite: the zero-set-up default, for one instance. WAL mode, a busy
//! timeout, and writers serialised in-process so that no transaction has to
//! upgrade a read lock (`BEGIN IMMEDIATE` under one mutex).

use std::{
    str::FromStr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};
use tokio::sync::Mutex;

use super::backend::{Backend, Write};
use super::Result;

pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one connection every write transaction runs on. A connection
    /// drops its whole page cache when it sees another one's commit, so
    /// with writes spread over the pool each of them read the pages it
    /// needed again (a fifth of SQLite's CPU time during a fan-out); the
    /// writer's own commits leave its cache as it is.
    writer: SqlitePool,
    write_lock: Mutex<()>,
    /// Tests only: the `max_page_count` every connection applies when it is
    /// handed out (0: never set, nothing to do), to simulate a full disk.
    page_limit: Arc<AtomicU64>,
}

/// SQLite's own ceiling on `max_page_count`: no limit.
const NO_PAGE_LIMIT: u64 = 4_294_967_294;

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

impl SqliteStore {
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // No mmap: a mapped file counts in the process's memory as far
            // as it is read (300 MB during a fan-out to a million), and
            // every page read through it is set up again (a tenth of the
            // CPU time per mail). Each connection caches 4 MB of pages
            // instead.
            .pragma("mmap_size", "0")
            .pragma("cache_size", "-4096")
            // A statement's rows cross from SQLite's thread in one go: with
            // sqlx's 50 that thread stops ten times for a claim of 512.
            .row_buffer_size(1024);
        let page_limit = Arc::new(AtomicU64::new(0));
        let pool = pool_options(8, &page_limit)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&pool).await?;
        let writer = pool_options(1, &page_limit).connect_with(options).await?;
        Ok(Self {
            pool,
            writer,
            write_lock: Mutex::new(()),
            page_limit,
        })
    }
}

/// A pool of up to `connections`, each applying the simulated full disk's
/// page limit.
fn pool_options(connections: u32, page_limit: &Arc<AtomicU64>) -> SqlitePoolOptions {
    let (on_connect, on_acquire) = (page_limit.clone(), page_limit.clone());
    SqlitePoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            let pages = on_connect.load(Ordering::Acquire);
            Box::pin(async move { apply_page_limit(conn, pages).await })
        })
        .before_acquire(move |conn, _| {
            let pages = on_acquire.load(Ordering::Acquire);
            Box::pin(async move { apply_page_limit(conn, pages).await.map(|()| true) })
        })
        .after_release(super::pool::release_unless_in_transaction)
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Write<'_, Sqlite>> {
        let guard = self.write_lock.lock().await;
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Write::new(tx, Some(guard)))
    }

    async fn close_connections(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }

    /// One process: its own writes bump its pages directly.
    async fn watch(&self, _on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {}

    /// Caps the file at its current size on every connection handed out
    /// from now on (`PRAGMA max_page_count` holds per connection), or lifts
    /// the cap.
    /// `VACUUM INTO`: one read transaction, so the copy is the database as
    /// of one instant, while writers go on; the file must not exist yet.
    async fn backup_into(&self, path: &str) -> Result<()> {
        sqlx::query("VACUUM INTO ?1")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn full_disk(&self, full: bool) -> Result<()> {
        let pages = if full {
            let (count,): (i64,) = sqlx::query_as("PRAGMA page_count")
                .fetch_one(&self.pool)
                .await?;
            u64::try_from(count).unwrap_or(1).max(1)
        } else {
            NO_PAGE_LIMIT
        };
        self.page_limit.store(pages, Ordering::Release);
        Ok(())
    }
}

/// Applies a simulated full disk's page limit (0: none ever set).
async fn apply_page_limit(conn: &mut sqlx::SqliteConnection, pages: u64) -> sqlx::Result<()> {
    if pages != 0 {
        sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
            .execute(conn)
            .await?;
    }
    Ok(())
}
