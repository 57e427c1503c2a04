//! The database itself: reachability, the page version other instances
//! watch, and the key that signs links.

use std::sync::Arc;

use async_trait::async_trait;

use super::backend::Backend;
use super::query::{Conn, Sql};
use super::{Result, StoreError};

#[async_trait]
pub trait MetaStore: Send + Sync {
    /// Answers when the database answers.
    async fn ping(&self) -> Result<()>;
    /// Closes every connection; later calls fail.
    async fn close(&self);
    /// For tests: with `true`, SQLite refuses to grow its file from now on,
    /// as on a full disk ("database or disk is full"); `false` gives the
    /// space back. PostgreSQL ignores it.
    #[doc(hidden)]
    async fn simulate_full_disk(&self, full: bool) -> Result<()>;
    async fn page_version(&self) -> Result<i64>;
    /// Calls `on_change` each time a Candor process commits a write to the
    /// database, until the store is closed. PostgreSQL tells at
    /// once (LISTEN/NOTIFY); SQLite, for one process, returns at once and
    /// leaves it to `page_version`.
    async fn watch_changes(&self, on_change: Arc<dyn Fn() + Send + Sync>);
    /// The key that signs links in mails; made on first use.
    async fn signing_key(&self) -> Result<Vec<u8>>;
    /// SQLite: a consistent copy of the running database in the new file
    /// `path`, taken while Candor goes on serving and writing. PostgreSQL:
    /// refused, saying to use pg_dump.
    async fn backup(&self, path: &str) -> Result<()>;
}

#[async_trait]
impl<B: Backend> MetaStore for B {
    async fn backup(&self, path: &str) -> Result<()> {
        self.backup_into(path).await
    }

    async fn ping(&self) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        conn.execute(Sql::new("SELECT 1")).await?;
        Ok(())
    }

    async fn close(&self) {
        self.close_connections().await;
    }

    async fn simulate_full_disk(&self, full: bool) -> Result<()> {
        self.full_disk(full).await
    }

    async fn watch_changes(&self, on_change: Arc<dyn Fn() + Send + Sync>) {
        self.watch(on_change).await
    }

    #[tracing::instrument(skip_all)]
    async fn page_version(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await?;
        let (value,): (i64,) = conn
            .fetch_one(Sql::new(
                "SELECT value FROM meta WHERE key = 'page_version'",
            ))
            .await?;
        Ok(value)
    }

    #[tracing::instrument(skip_all)]
    async fn signing_key(&self) -> Result<Vec<u8>> {
        let mut conn = self.pool().acquire().await?;
        let candidate = hex::encode(rand::random::<[u8; 32]>());
        conn.execute(
            Sql::new(
                "INSERT INTO keys (name, value) VALUES ('link_signing', $1) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(candidate),
        )
        .await?;
        let (value,): (String,) = conn
            .fetch_one(Sql::new(
                "SELECT value FROM keys WHERE name = 'link_signing'",
            ))
            .await?;
        hex::decode(value).map_err(|e| StoreError::Other(e.into()))
    }
}
