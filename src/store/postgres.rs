//! PostgreSQL: for several instances behind a load balancer. Writers to one
//! incident serialise on its row lock (`FOR UPDATE`).

use std::{str::FromStr, time::Duration};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use super::backend::{Backend, Write};
use super::query::CHANGES_CHANNEL as CHANNEL;
use super::{Result, StoreError};

pub struct PgStore {
    pool: PgPool,
}

/// How long a request waits for a connection before the store reports
/// itself unavailable: well under the 2 s in which Candor promises an answer.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1_500);

pub(super) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self> {
        // No JIT: Candor's statements are short, and compiling the fan-out's
        // INSERT ... SELECT cost more than running it (0.9 s of 2.2 s at
        // 100,000 subscribers).
        let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // When the server is away, a request learns it within this
            // (then answers 503) instead of holding the reader for 5 s or
            // more; a healthy pool hands a connection out in microseconds.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_release(super::pool::release_unless_in_transaction)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Backend for PgStore {
    type Db = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Write<'_, Postgres>> {
        Ok(Write::new(self.pool.begin().await?, None))
    }

    /// Listens for writes (this process's own too: one more rendering of the
    /// pages per write costs less than telling them apart); after a lost
    /// connection it reports a change (what was said meanwhile is lost) and
    /// listens again.
    async fn watch(&self, on_change: std::sync::Arc<dyn Fn() + Send + Sync>) {
        loop {
            let listening = async {
                let mut listener = PgListener::connect_with(&self.pool).await?;
                listener.listen(CHANNEL).await?;
                loop {
                    listener.recv().await?;
                    on_change();
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            if let Err(err) = listening.await {
                if self.pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %err, "listening for other instances' writes");
                on_change();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// A full disk is simulated on SQLite only.
    async fn backup_into(&self, _path: &str) -> Result<()> {
        Err(StoreError::Conflict(
            "PostgreSQL is backed up with its own tools: pg_dump --format=custom, \
             restored with pg_restore (see deploy/README.md)"
                .into(),
        ))
    }

    async fn full_disk(&self, _full: bool) -> Result<()> {
        Ok(())
    }
}
