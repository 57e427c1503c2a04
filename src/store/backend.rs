//! What each backend supplies to the store operations, which are written
//! once (in the files named after their business areas) for any backend:
//! its pool, how a write transaction begins, and how it hears of other
//! instances' writes.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Database, Pool, Transaction};
use tokio::sync::MutexGuard;

use super::query::Conn;
use super::Result;

/// The connection type of backend `B`.
pub(crate) type ConnOf<B> = <<B as Backend>::Db as Database>::Connection;

#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    type Db: Database<Connection: Conn>;

    fn pool(&self) -> &Pool<Self::Db>;
    /// A transaction for a write (SQLite: one writer at a time, holding its
    /// lock from the start; PostgreSQL: rows are locked as they are read).
    async fn begin_write(&self) -> Result<Write<'_, Self::Db>>;
    /// Closes its connections: a graceful shutdown's last step.
    async fn close_connections(&self) {
        self.pool().close().await;
    }
    /// Calls `on_change` for each write another process commits.
    async fn watch(&self, on_change: Arc<dyn Fn() + Send + Sync>);
    /// Tests only: see `Store::simulate_full_disk`.
    async fn full_disk(&self, full: bool) -> Result<()>;
    /// A consistent copy of the whole database in a new file at `path`
    /// (see `MetaStore::backup`).
    async fn backup_into(&self, path: &str) -> Result<()>;
}

/// A write transaction, and (SQLite) the in-process writer lock it holds.
pub(crate) struct Write<'a, DB: Database> {
    // Declared first, dropped first: an abandoned transaction's rollback is
    // under way before the next writer may begin.
    tx: Transaction<'a, DB>,
    _guard: Option<MutexGuard<'a, ()>>,
}

impl<'a, DB: Database> Write<'a, DB> {
    pub fn new(tx: Transaction<'a, DB>, guard: Option<MutexGuard<'a, ()>>) -> Self {
        Self { tx, _guard: guard }
    }

    pub fn conn(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
