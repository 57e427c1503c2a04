//! Candor started for one test: its address, its clock, and the background
//! work (outbox, scheduler) the test can pause and run by hand.

use std::{sync::Arc, time::Duration};

use candor::{
    app::Running,
    clock::ManualClock,
    config::{Config, Secret},
};
use jiff::{SignedDuration, Timestamp};

use super::{mailbox::Mailbox, TestDatabase};

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Every test starts at this instant: 10:00 CET on a Wednesday in March.
pub const START: &str = "2026-03-04T09:00:00Z";

pub fn at(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {text:?}: {e}"))
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    running: Option<Running>,
}

impl TestApp {
    /// Candor as the tests see it: Acme IT's page, in Berlin time, at `START`.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with a chance to change the configuration first.
    pub async fn spawn_with(change: impl FnOnce(&mut Config)) -> Self {
        let db = TestDatabase::create().await;
        let mut config = Config {
            database_url: db.url.clone(),
            listen: "127.0.0.1:0".into(),
            admin_token: Some(Secret::new(ADMIN_TOKEN)),
            time_zone: "Europe/Berlin".into(),
            page_name: "Acme IT".into(),
            mail_dir: db.dir.join("outbox"),
            // A test's stop waits this long at most for a hanging webhook
            // or mail server.
            shutdown_grace: "1s".into(),
            ..Config::default()
        };
        change(&mut config);
        let clock = Arc::new(ManualClock::new(at(START)));
        let settings = config
            .check()
            .unwrap_or_else(|e| panic!("a test configuration Candor refuses: {e}"));
        let running = candor::app::spawn(settings, clock.clone())
            .await
            .unwrap_or_else(|e| panic!("Candor did not start on {}: {e:#}", db.url));
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            // Below Candor's keep-alive timeout (5 s), so that the client
            // never reuses a connection the server is closing just then.
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client");
        Self {
            address: running.base_url.trim_end_matches('/').to_string(),
            clock,
            client,
            db,
            running: Some(running),
        }
    }

    /// Another Candor on this test's database, as behind a load balancer,
    /// with a clock of its own (set to this one's now), its own outbox
    /// folder and the given SMTP server, if any.
    pub async fn second_instance(
        &self,
        smtp_url: Option<String>,
    ) -> (candor::app::Running, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(self.now()));
        let config = Config {
            database_url: self.db.url.clone(),
            listen: "127.0.0.1:0".into(),
            admin_token: Some(Secret::new("second")),
            time_zone: "Europe/Berlin".into(),
            page_name: "Acme IT".into(),
            mail_dir: self.db.dir.join("outbox-2"),
            smtp_url: smtp_url.map(Secret::new),
            ..Config::default()
        };
        let settings = config.check().expect("a valid configuration");
        let running = candor::app::spawn(settings, clock.clone())
            .await
            .expect("a second instance");
        (running, clock)
    }

    /// Sends every delivery that is due now, as the worker would.
    pub async fn drain_outbox(&self) {
        let worker = self.running.as_ref().expect("running").worker();
        while worker.drain_once().await.expect("the outbox drains") > 0 {}
    }

    /// Stops the background worker: nothing is sent until the test calls
    /// `drain_outbox`.
    pub fn pause_worker(&self) {
        self.running.as_ref().expect("running").pause_worker();
    }

    /// Runs the timed work due at the test clock's now, then sends what it queued.
    pub async fn run_scheduler(&self) {
        let running = self.running.as_ref().expect("running");
        running
            .scheduler()
            .run_due()
            .await
            .expect("the scheduler runs");
        self.drain_outbox().await;
    }

    /// Shuts Candor down and throws its database away.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
        self.db.clean_up();
    }

    /// Closes Candor's database pool, as if the database went away.
    pub async fn close_database(&self) {
        self.running
            .as_ref()
            .expect("Candor is running")
            .close_database()
            .await;
    }

    /// How many times a public page has been rendered so far.
    pub fn page_renders(&self) -> u64 {
        self.running
            .as_ref()
            .expect("Candor is running")
            .page_renders()
    }

    /// SQLite: the database file cannot grow from now on, as on a full
    /// disk; `false` frees the space again. PostgreSQL: nothing happens.
    pub async fn simulate_full_disk(&self, full: bool) {
        self.running
            .as_ref()
            .expect("Candor is running")
            .simulate_full_disk(full)
            .await
            .expect("simulate a full disk");
    }

    // --- the clock -------------------------------------------------------

    pub fn now(&self) -> Timestamp {
        use candor::clock::Clock;
        self.clock.now()
    }

    pub fn advance_minutes(&self, minutes: i64) {
        self.clock.advance(SignedDuration::from_mins(minutes));
    }

    pub fn set_clock(&self, to: &str) {
        self.clock.set(at(to));
    }

    /// Candor sending mail to this SMTP server.
    pub async fn spawn_with_smtp(mailbox: &Mailbox) -> Self {
        let url = mailbox.url();
        Self::spawn_with(move |c| c.smtp_url = Some(Secret::new(url))).await
    }

    /// Runs SQL on the test's database from outside Candor, as another
    /// program (or an older Candor) would have.
    pub async fn run_sql(&self, sql: &str) {
        use sqlx::Connection as _;
        if self.db.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        } else {
            let mut db = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut db).await.unwrap();
            db.close().await.unwrap();
        }
    }

    /// A count (`SELECT COUNT(*) ...`), read from outside Candor.
    pub async fn count(&self, sql: &str) -> i64 {
        use sqlx::Connection as _;
        if self.db.url.starts_with("sqlite:") {
            let mut db = sqlx::SqliteConnection::connect(&self.db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
            db.close().await.unwrap();
            n
        } else {
            let mut db = sqlx::PgConnection::connect(&self.db.url).await.unwrap();
            let n = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
            db.close().await.unwrap();
            n
        }
    }

    /// Where this Candor listens (on loopback), whatever its `base_url` says.
    pub fn local_address(&self) -> String {
        format!(
            "http://{}",
            self.running.as_ref().expect("Candor is running").addr
        )
    }
}
