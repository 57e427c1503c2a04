//! PostgreSQL: for several instances behind a load balancer. Writers to one
//! incident serialise on its row lock (`FOR UPDATE`).

use std::{str::FromStr, time::Duration};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::MutexGuard;

use super::sql::sql_store;
use super::Result;

pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl PgStore {
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const OPEN_DELIVERIES: &'static str = "";

    pub async fn connect(url: &str) -> Result<Self> {
        // No JIT: Candor's statements are short, and compiling the fan-out's
        // INSERT ... SELECT cost more than running it (0.9 s of 2.2 s at
        // 100,000 subscribers).
        let options = PgConnectOptions::from_str(url)?.options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Postgres>)> {
        Ok((None, self.pool.begin().await?))
    }
}

sql_store!(PgStore, sqlx::Postgres);
