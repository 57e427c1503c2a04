//! A fresh database for each test, and the `candor` binary's environment.
//!
//! The backend comes from `CANDOR_TEST_DATABASE_URL`: unset means a fresh
//! SQLite file in a fresh temporary folder; a `postgres://` URL means a fresh
//! database `candor_test_<random>` on that server (`candor_test_<run>_<random>`
//! with `CANDOR_TEST_RUN` set), dropped again at the end.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use sqlx::{Connection, Executor, PgConnection};

fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// Environment for running the `candor` binary: none of the caller's
/// `CANDOR_*` variables leak in (the test runner itself may have
/// `CANDOR_TEST_DATABASE_URL` or `CANDOR_PAGE_DUMP` set).
pub fn candor_command(dir: &Path, database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_candor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CANDOR_") {
            command.env_remove(key);
        }
    }
    command
        .current_dir(dir)
        .env("CANDOR_DATABASE_URL", database_url)
        .env("CANDOR_LISTEN", "127.0.0.1:0")
        .env("CANDOR_MAIL_DIR", dir.join("outbox"))
        .stdin(Stdio::null());
    command
}

/// A fresh database for one test, and the folder that goes with it.
pub struct TestDatabase {
    pub url: String,
    pub dir: PathBuf,
    postgres: Option<Postgres>,
    dropped: bool,
}

struct Postgres {
    server_url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let dir = std::env::temp_dir().join(format!("candor-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("create the test's temporary folder");
        match std::env::var("CANDOR_TEST_DATABASE_URL") {
            Err(_) => Self {
                url: format!("sqlite://{}", dir.join("candor.db").display()),
                dir,
                postgres: None,
                dropped: false,
            },
            Ok(server_url) if server_url.trim().is_empty() => {
                panic!("CANDOR_TEST_DATABASE_URL is set but empty; unset it for SQLite")
            }
            Ok(server_url) => {
                assert!(
                    server_url.starts_with("postgres://")
                        || server_url.starts_with("postgresql://"),
                    "CANDOR_TEST_DATABASE_URL must be a postgres:// URL, got {server_url:?}"
                );
                // CANDOR_TEST_RUN names the run (CI drops what its own run
                // left behind, and nothing of another's).
                let name = match std::env::var("CANDOR_TEST_RUN") {
                    Ok(run)
                        if !run.is_empty() && run.chars().all(|c| c.is_ascii_alphanumeric()) =>
                    {
                        format!("candor_test_{run}_{}", random_suffix())
                    }
                    _ => format!("candor_test_{}", random_suffix()),
                };
                let mut connection = PgConnection::connect(&server_url)
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "CANDOR_TEST_DATABASE_URL={server_url} cannot be reached ({e}). \
                         Start PostgreSQL or unset the variable to test on SQLite."
                        )
                    });
                connection
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
                let _ = connection.close().await;
                Self {
                    url: with_database(&server_url, &name),
                    dir,
                    postgres: Some(Postgres { server_url, name }),
                    dropped: false,
                }
            }
        }
    }

    /// Drops the PostgreSQL database and removes the folder. Runs on its own
    /// thread and runtime so it also works from `Drop` after a panic.
    pub(super) fn clean_up(&mut self) {
        if self.dropped {
            return;
        }
        self.dropped = true;
        if let Some(pg) = &self.postgres {
            let server_url = pg.server_url.clone();
            let name = pg.name.clone();
            let result = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime to drop the test database");
                runtime.block_on(async move {
                    let mut connection = PgConnection::connect(&server_url).await?;
                    connection
                        .execute(
                            format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str(),
                        )
                        .await?;
                    connection.close().await
                })
            })
            .join();
            if let Ok(Err(e)) = result {
                eprintln!("warning: could not drop test database {}: {e}", pg.name);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.clean_up();
    }
}

/// `postgres://user@host:port/test?x=y` with the database name replaced.
fn with_database(server_url: &str, name: &str) -> String {
    let (base, query) = match server_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let without_db = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{without_db}/{name}?{query}"),
        None => format!("{without_db}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_the_new_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "candor_test_1"),
            "postgres://postgres@127.0.0.1:5432/candor_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
