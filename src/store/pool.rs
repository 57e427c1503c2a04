//! What the connection pools check when a connection comes back: one left
//! inside a transaction is closed, never handed to the next caller.
//!
//! Two ways this happened (issue 11): a COMMIT that failed on a full disk,
//! after which SQLite had already rolled back, so the ROLLBACK on drop failed
//! too and the driver still counted an open transaction ("attempted to call
//! begin_with at non-zero transaction depth" on every later write); and a
//! request cancelled between `BEGIN IMMEDIATE` and the driver's check of it,
//! which left no `Transaction` to roll back while the connection held
//! SQLite's write lock ("database is locked" for everyone after it).
//! Closing such a connection ends its transaction; the pool opens a new one.

use futures::future::BoxFuture;
use sqlx::{pool::PoolConnectionMetadata, Connection};

/// `after_release`: `true` keeps the connection, `false` closes it.
pub(crate) fn release_unless_in_transaction<C: Connection>(
    conn: &mut C,
    _meta: PoolConnectionMetadata,
) -> BoxFuture<'_, sqlx::Result<bool>> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        // A dropped transaction's ROLLBACK may still be on its way to
        // SQLite's worker thread; a ping waits for it, in order.
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!("closing a database connection left inside a transaction");
            return Ok(false);
        }
        Ok(true)
    })
}
