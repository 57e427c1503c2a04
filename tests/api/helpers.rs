//! The test harness: one Candor per test, on a fresh database, with a clock
//! the test moves. Tests talk to it over HTTP only and read what users see.
//!
//! The backend comes from `CANDOR_TEST_DATABASE_URL`: unset means a fresh
//! SQLite file in a fresh temporary folder; a `postgres://` URL means a fresh
//! database `candor_test_<random>` on that server (`candor_test_<run>_<random>`
//! with `CANDOR_TEST_RUN` set), dropped again at the end.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::Duration,
};

use candor::{
    app::Running,
    clock::ManualClock,
    config::{Config, Secret},
};
use jiff::{SignedDuration, Timestamp};
use reqwest::{header::HeaderMap, Method};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, PgConnection};

use crate::mailbox::Mailbox;

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Every test starts at this instant: 10:00 CET on a Wednesday in March.
pub const START: &str = "2026-03-04T09:00:00Z";

pub fn at(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad test timestamp {text:?}: {e}"))
}

/// A JSON timestamp field as an instant, so `...:00Z` and `...:00.000Z` compare equal.
pub fn ts(value: &Value) -> Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 timestamp string, got {value}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{text:?} is not an RFC 3339 timestamp: {e}"))
}

pub fn assert_ts(value: &Value, expected: &str) {
    assert_eq!(ts(value), at(expected), "timestamp {value} != {expected}");
}

/// An id as it goes into a path, whether the API uses strings or numbers.
pub fn id_of(value: &Value) -> String {
    match &value["id"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => panic!("object has no usable id: {other} in {value}"),
    }
}

/// An id of the same shape as `id` that no object has.
pub fn unknown_id_like(id: &str) -> String {
    if let Ok(n) = id.parse::<i64>() {
        return (n + 1_000_000).to_string();
    }
    // Change the last hex-ish character so the shape (length, alphabet) stays.
    let mut chars: Vec<char> = id.chars().collect();
    let last = chars.last_mut().expect("empty id");
    *last = if *last == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

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
    fn clean_up(&mut self) {
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

/// One HTTP answer, as a user of the API sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Panics unless the status is `status`; returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self.body.clone()
    }

    /// Checks the one error shape every refusal uses.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, field: Option<&str>) {
        if let Err(problem) = self.check_error(status, code, field) {
            panic!("{problem}");
        }
    }

    /// Like `assert_error`, but says what is wrong instead of panicking,
    /// so a table of cases can report every mismatch at once.
    pub fn check_error(&self, status: u16, code: &str, field: Option<&str>) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.status != status {
            problems.push(format!("status {} (wanted {status})", self.status));
        }
        if !self.content_type().starts_with("application/json") {
            problems.push(format!(
                "content-type {:?} (wanted application/json)",
                self.content_type()
            ));
        }
        let error = &self.body["error"];
        if !error.is_object() {
            problems.push("no {\"error\": {...}} object".to_string());
        } else {
            if error["code"] != code {
                problems.push(format!("code {} (wanted {code:?})", error["code"]));
            }
            match error["message"].as_str() {
                Some(m) if !m.trim().is_empty() => {}
                _ => problems.push(format!(
                    "message {} (wanted a non-empty string)",
                    error["message"]
                )),
            }
            match (error.get("field"), field) {
                (None, _) => {
                    problems.push("no \"field\" key (wanted a string or null)".to_string())
                }
                (Some(Value::Null), None) => {}
                (Some(Value::String(got)), Some(want)) if field_matches(got, want) => {}
                (Some(got), want) => problems.push(format!("field {got} (wanted {want:?})")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}; body: {}", problems.join(", "), self.text))
        }
    }
}

/// `want` is a field name, or `parent.*` for the parent or any field inside it.
fn field_matches(got: &str, want: &str) -> bool {
    match want.strip_suffix(".*") {
        Some(parent) => got == parent || got.starts_with(&format!("{parent}.")),
        None => got == want,
    }
}

/// A request with whatever method, headers and body a test needs.
pub struct RawRequest<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl RawRequest<'_> {
    pub fn admin(self) -> Self {
        self.token(ADMIN_TOKEN)
    }
    pub fn token(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }
    pub fn json(self, value: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(serde_json::to_vec(value).expect("serialise test JSON"))
    }
    pub async fn send(self) -> Reply {
        let url = format!("{}{}", self.app.address, self.path);
        let mut request = self.app.client.request(self.method.clone(), &url);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = self.body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url} failed: {e}", self.method));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read the response body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            body,
        }
    }
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
            ..Config::default()
        };
        change(&mut config);
        let clock = Arc::new(ManualClock::new(at(START)));
        let running = candor::app::spawn(config, clock.clone())
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
        let running = candor::app::spawn(config, clock.clone())
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

    // --- raw HTTP --------------------------------------------------------

    pub fn raw(&self, method: Method, path: &str) -> RawRequest<'_> {
        RawRequest {
            app: self,
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub async fn admin_get(&self, path: &str) -> Reply {
        self.raw(Method::GET, path).admin().send().await
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> Reply {
        self.raw(Method::POST, path).admin().json(body).send().await
    }

    pub async fn admin_post_with_key(&self, path: &str, key: &str, body: &Value) -> Reply {
        self.raw(Method::POST, path)
            .admin()
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
    }

    pub async fn admin_patch(&self, path: &str, body: &Value) -> Reply {
        self.raw(Method::PATCH, path)
            .admin()
            .json(body)
            .send()
            .await
    }

    /// A public page: status and HTML.
    pub async fn page(&self, path: &str) -> (u16, String) {
        let reply = self.raw(Method::GET, path).send().await;
        (reply.status, reply.text)
    }

    /// A public page that must be there; returns its visible text.
    pub async fn page_text(&self, path: &str) -> String {
        let (status, html) = self.page(path).await;
        assert_eq!(status, 200, "GET {path}: {html}");
        visible_text(&html)
    }

    // --- the product's words ---------------------------------------------

    pub async fn create_component(&self, name: &str) -> String {
        let body = self
            .admin_post("/api/v1/components", &json!({ "name": name }))
            .await
            .expect(201);
        id_of(&body)
    }

    pub async fn component(&self, id: &str) -> Value {
        self.admin_get(&format!("/api/v1/components/{id}"))
            .await
            .expect(200)
    }

    pub async fn set_component_status(&self, id: &str, status: &str) -> Value {
        self.admin_patch(
            &format!("/api/v1/components/{id}"),
            &json!({ "status": status }),
        )
        .await
        .expect(200)
    }

    pub async fn open_incident(&self, body: &Value) -> Value {
        self.admin_post("/api/v1/incidents", body).await.expect(201)
    }

    pub async fn post_update(&self, incident_id: &str, body: &Value) -> Value {
        self.admin_post(&format!("/api/v1/incidents/{incident_id}/updates"), body)
            .await
            .expect(201)
    }

    pub async fn correct(&self, incident_id: &str, body: &Value) -> Value {
        self.admin_post(
            &format!("/api/v1/incidents/{incident_id}/corrections"),
            body,
        )
        .await
        .expect(201)
    }

    pub async fn incident(&self, id: &str) -> Value {
        self.admin_get(&format!("/api/v1/incidents/{id}"))
            .await
            .expect(200)
    }

    pub async fn incidents(&self, state: &str) -> Vec<Value> {
        let list = self
            .admin_get(&format!("/api/v1/incidents?state={state}"))
            .await
            .expect(200);
        list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items array in {list}"))
            .clone()
    }

    pub async fn components(&self) -> Vec<Value> {
        let list = self.admin_get("/api/v1/components").await.expect(200);
        list["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items array in {list}"))
            .clone()
    }

    /// Everything an admin can read: components, and every incident with all
    /// its entries. Compared before and after a refused request.
    pub async fn snapshot(&self) -> Value {
        let mut incidents = Vec::new();
        for state in ["open", "resolved"] {
            for item in self.incidents(state).await {
                incidents.push(self.incident(&id_of(&item)).await);
            }
        }
        json!({ "components": self.components().await, "incidents": incidents })
    }

    /// Opens the usual incident: delayed mail, nothing known yet, next
    /// update in 30 minutes, the component partly down.
    pub async fn open_mail_incident(&self, component_id: &str) -> Value {
        self.open_incident(&mail_incident(component_id)).await
    }

    /// Posts the usual update to it: the cause is found.
    pub async fn post_cause_found(&self, incident_id: &str) -> Value {
        self.post_update(
            incident_id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "next_update_in": 30, "message": "We found it."}),
        )
        .await
    }

    // --- subscribers and what they were sent ------------------------------

    /// Candor sending mail to this SMTP server.
    pub async fn spawn_with_smtp(mailbox: &Mailbox) -> Self {
        let url = mailbox.url();
        Self::spawn_with(move |c| c.smtp_url = Some(Secret::new(url))).await
    }

    /// A subscriber added by staff, confirmed (no components: everything).
    pub async fn add_confirmed(&self, email: &str, components: &[&str]) -> Value {
        self.admin_post(
            "/api/v1/subscribers",
            &json!({"email": email, "components": components, "confirmed": true}),
        )
        .await
        .expect(201)
    }

    /// The delivery report of an incident, as staff read it.
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

    /// Where this Candor listens (on loopback), whatever its `base_url` says.
    pub fn local_address(&self) -> String {
        format!(
            "http://{}",
            self.running.as_ref().expect("Candor is running").addr
        )
    }

    pub async fn deliveries(&self, incident_id: &str) -> Value {
        self.admin_get(&format!("/api/v1/incidents/{incident_id}/deliveries"))
            .await
            .expect(200)
    }
}

/// The body of the usual incident.
pub fn mail_incident(component_id: &str) -> Value {
    json!({
        "title": "Delayed outbound email",
        "impact": "minor",
        "status": "investigating",
        "owner": { "name": "Dana (IT Ops)", "email": "dana@acme.test" },
        "next_update_in": 30,
        "components": { component_id: "partial_outage" },
        "message": "We are looking into delayed outbound email."
    })
}

/// Classes of an entry as strings.
pub fn classes(entry: &Value) -> Vec<String> {
    entry["classes"]
        .as_array()
        .unwrap_or_else(|| panic!("entry has no classes array: {entry}"))
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect()
}

#[track_caller]
pub fn assert_classes(entry: &Value, present: &[&str], absent: &[&str]) {
    let got = classes(entry);
    for class in present {
        assert!(
            got.iter().any(|c| c == class),
            "class {class:?} missing from {got:?} in {entry}"
        );
    }
    for class in absent {
        assert!(
            !got.iter().any(|c| c == class),
            "class {class:?} should not be in {got:?} in {entry}"
        );
    }
}

pub fn entries(incident: &Value) -> Vec<Value> {
    incident["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("incident has no entries array: {incident}"))
        .clone()
}

// --- reading pages as a person does ------------------------------------

/// The text a reader sees: tags removed (block tags become spaces),
/// entities decoded, whitespace collapsed.
pub fn visible_text(html: &str) -> String {
    let html = remove_elements(html, "script");
    let html = remove_elements(&html, "style");
    let mut text = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        if is_block_tag(tag) {
            text.push(' ');
        }
        rest = &rest[open + close + 1..];
    }
    text.push_str(rest);
    let text = decode_entities(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_block_tag(tag: &str) -> bool {
    let name: String = tag
        .trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    matches!(
        name.as_str(),
        "p" | "div"
            | "br"
            | "li"
            | "ul"
            | "ol"
            | "dl"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "thead"
            | "tbody"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "main"
            | "nav"
            | "aside"
            | "blockquote"
            | "pre"
            | "hr"
            | "title"
            | "body"
            | "head"
            | "html"
            | "figure"
            | "figcaption"
            | "details"
            | "summary"
    )
}

fn remove_elements(html: &str, name: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut out = String::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find(&open).map(|i| i + at) {
        out.push_str(&html[at..start]);
        match lower[start..].find(&close) {
            Some(end) => at = start + end + close.len(),
            None => {
                at = html.len();
                break;
            }
        }
    }
    out.push_str(&html[at.min(html.len())..]);
    out
}

pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // `;` is ASCII, so its byte position is a char boundary.
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            "mdash" => Some('—'),
            "ndash" => Some('–'),
            "middot" => Some('·'),
            "hellip" => Some('…'),
            _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                u32::from_str_radix(&entity[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `<time>` element: its `datetime` attribute (if any) and its text.
pub fn time_elements(html: &str) -> Vec<(Option<String>, String)> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<time").map(|i| i + at) {
        let after = lower.as_bytes().get(start + 5).copied().unwrap_or(b'>');
        if !(after == b'>' || after.is_ascii_whitespace()) {
            at = start + 5;
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let tag = &html[start..tag_end];
        let datetime = attribute(tag, "datetime");
        let Some(close) = lower[tag_end..].find("</time>").map(|i| i + tag_end) else {
            break;
        };
        found.push((datetime, visible_text(&html[tag_end + 1..close])));
        at = close + 7;
    }
    found
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name).map(|i| i + from) {
        let before_ok = i > 0 && lower.as_bytes()[i - 1].is_ascii_whitespace();
        let rest = &tag[i + name.len()..];
        let rest_trim = rest.trim_start();
        if before_ok && rest_trim.starts_with('=') {
            let value = rest_trim[1..].trim_start();
            return Some(match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or("").to_string(),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            });
        }
        from = i + name.len();
    }
    None
}

/// The visible text with every `<time>` element taken out, to check that no
/// time is shown outside one.
pub fn text_outside_time_elements(html: &str) -> String {
    visible_text(&remove_elements(html, "time"))
}

/// `HH:MM` clock readings in a text.
pub fn clock_readings(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    for i in 0..chars.len().saturating_sub(4) {
        let w = &chars[i..i + 5];
        let digit_before = i > 0 && chars[i - 1].is_ascii_digit();
        if !digit_before
            && w[0].is_ascii_digit()
            && w[1].is_ascii_digit()
            && w[2] == ':'
            && w[3].is_ascii_digit()
            && w[4].is_ascii_digit()
        {
            let from = i.saturating_sub(30);
            let to = (i + 30).min(chars.len());
            found.push(chars[from..to].iter().collect());
        }
    }
    found
}

/// Position of `needle` in `text`, or a panic that shows the page.
#[track_caller]
pub fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not found on the page: {text}"))
}

#[track_caller]
pub fn assert_shows(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "page should show {needle:?}; it shows: {text}"
    );
}

#[track_caller]
pub fn assert_hides(text: &str, needle: &str) {
    assert!(
        !text.contains(needle),
        "page should not show {needle:?}; it shows: {text}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_text_reads_like_a_person() {
        let html = "<dl><dt>Owner:</dt><dd>Dana &amp; co</dd></dl><p>Next update by \
                    <time datetime=\"2026-03-04T09:30:00Z\">10:30 CET</time> (in 12&nbsp;min)</p>";
        assert_eq!(
            visible_text(html),
            "Owner: Dana & co Next update by 10:30 CET (in 12 min)"
        );
        assert_eq!(
            time_elements(html),
            vec![(
                Some("2026-03-04T09:30:00Z".to_string()),
                "10:30 CET".to_string()
            )]
        );
        assert_eq!(
            text_outside_time_elements(html),
            "Owner: Dana & co Next update by (in 12 min)"
        );
        assert_eq!(
            clock_readings("at 10:30 and 123:45"),
            vec!["at 10:30 and 123:45".to_string()]
        );
    }

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
