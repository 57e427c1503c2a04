//! What `candor check` reads of a database without changing it: whether it
//! answers, which server it is, and which migrations it has against the
//! ones this build brings. One connection, no pool, no migration run.

use std::{collections::BTreeMap, path::PathBuf, str::FromStr, time::Duration};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;

use super::{Result, StoreError};

/// How long the check waits for the database to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database as the check found it.
#[derive(Debug)]
pub enum Inspection {
    /// A SQLite file that is not there yet: the first start makes it.
    Missing(PathBuf),
    /// A database that answered: its server (`SQLite 3.46.1`,
    /// `PostgreSQL 16.4`) and its migrations.
    Found {
        server: String,
        migrations: Migrations,
    },
}

/// The migrations a database has, against the ones this build brings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrations {
    /// How many this build brings.
    pub known: usize,
    /// How many the database records as applied.
    pub applied: usize,
    /// This build's versions the database does not have yet: the next
    /// start (or `candor migrate`) applies them.
    pub pending: Vec<i64>,
    /// Applied versions this build does not know: a newer Candor migrated
    /// the database, and this one refuses to start on it.
    pub unknown: Vec<i64>,
    /// Applied versions whose text differs from this build's.
    pub changed: Vec<i64>,
    /// Versions whose migration started and failed.
    pub failed: Vec<i64>,
}

/// Connects to the database `url` names and reads its migrations.
pub async fn inspect(url: &str) -> Result<Inspection> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres(url).await
    } else if url.starts_with("sqlite:") {
        sqlite(url).await
    } else {
        Err(StoreError::Other(anyhow::anyhow!(
            "database_url must start with sqlite: or postgres://"
        )))
    }
}

async fn sqlite(url: &str) -> Result<Inspection> {
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false);
    let path = options.get_filename().to_path_buf();
    if !path.exists() {
        return Ok(Inspection::Missing(path));
    }
    let mut conn = connect(SqliteConnection::connect_with(&options)).await?;
    let read = async {
        let (version,): (String,) = sqlx::query_as("SELECT sqlite_version()")
            .fetch_one(&mut conn)
            .await?;
        let (tables,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM sqlite_master \
             WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&mut conn)
        .await?;
        let applied = if tables == 0 {
            Vec::new()
        } else {
            sqlx::query_as(APPLIED).fetch_all(&mut conn).await?
        };
        Ok::<_, StoreError>(Inspection::Found {
            server: format!("SQLite {version}"),
            migrations: compare(&super::sqlite::MIGRATOR, applied),
        })
    }
    .await;
    let _ = conn.close().await;
    read
}

async fn postgres(url: &str) -> Result<Inspection> {
    let options = PgConnectOptions::from_str(url)?;
    let mut conn = connect(PgConnection::connect_with(&options)).await?;
    let read = async {
        let (version,): (String,) = sqlx::query_as("SELECT current_setting('server_version')")
            .fetch_one(&mut conn)
            .await?;
        let (exists,): (bool,) =
            sqlx::query_as("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut conn)
                .await?;
        let applied = if exists {
            sqlx::query_as(APPLIED).fetch_all(&mut conn).await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>(Inspection::Found {
            server: format!("PostgreSQL {version}"),
            migrations: compare(&super::postgres::MIGRATOR, applied),
        })
    }
    .await;
    let _ = conn.close().await;
    read
}

/// The migrator's own table, as sqlx writes it on both databases.
const APPLIED: &str = "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";

async fn connect<C>(connecting: impl std::future::Future<Output = sqlx::Result<C>>) -> Result<C> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(StoreError::Unavailable(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// This build's migrations beside the rows of `_sqlx_migrations`
/// (version, checksum, success).
fn compare(migrator: &Migrator, applied: Vec<(i64, Vec<u8>, bool)>) -> Migrations {
    let known: BTreeMap<i64, &[u8]> = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    let done: BTreeMap<i64, (Vec<u8>, bool)> = applied
        .into_iter()
        .map(|(version, checksum, success)| (version, (checksum, success)))
        .collect();
    Migrations {
        known: known.len(),
        applied: done.len(),
        pending: known
            .keys()
            .filter(|v| !done.contains_key(v))
            .copied()
            .collect(),
        unknown: done
            .keys()
            .filter(|v| !known.contains_key(v))
            .copied()
            .collect(),
        changed: done
            .iter()
            .filter(|(v, (sum, _))| known.get(v).is_some_and(|k| *k != sum.as_slice()))
            .map(|(v, _)| *v)
            .collect(),
        failed: done
            .iter()
            .filter(|(_, (_, success))| !success)
            .map(|(v, _)| *v)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_compared_by_version_and_checksum() {
        let migrator = &crate::store::sqlite::MIGRATOR;
        let ours: Vec<(i64, Vec<u8>, bool)> = migrator
            .iter()
            .map(|m| (m.version, m.checksum.to_vec(), true))
            .collect();
        let all = compare(migrator, ours.clone());
        assert_eq!(all.known, ours.len());
        assert!(all.pending.is_empty() && all.unknown.is_empty() && all.changed.is_empty());

        let mut older = ours[..2].to_vec();
        older[1].1 = vec![0];
        older[0].2 = false;
        older.push((99_999, vec![1], true));
        let found = compare(migrator, older);
        assert_eq!(found.applied, 3);
        assert_eq!(found.pending.len(), ours.len() - 2);
        assert_eq!(found.unknown, vec![99_999]);
        assert_eq!(found.changed, vec![ours[1].0]);
        assert_eq!(found.failed, vec![ours[0].0]);
    }
}
