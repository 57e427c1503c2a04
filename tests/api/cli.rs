//! The `candor` binary as an admin runs it: `serve` (the default), `migrate`,
//! `check`.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::helpers::mailbox::{free_port, Mailbox};
use crate::helpers::{candor_command, TestDatabase};

/// A running `candor` process, killed when the test ends however it ends.
struct Server {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(db: &TestDatabase, args: &[&str]) -> Self {
        let mut child = candor_command(&db.dir, &db.url)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start candor");
        let stdout = collect(child.stdout.take().expect("stdout"));
        let stderr = collect(child.stderr.take().expect("stderr"));
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits for `Candor listening on http://...`, then a moment more for
    /// anything printed right after; returns the URL and all of stdout.
    fn wait_until_listening(&mut self) -> (String, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let url = self.stdout.lock().unwrap().iter().find_map(|line| {
                line.split_once("Candor listening on ")
                    .map(|(_, url)| url.trim().trim_end_matches('/').to_string())
            });
            if let Some(url) = url {
                std::thread::sleep(Duration::from_millis(500));
                return (url, self.stdout.lock().unwrap().clone());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "candor exited with {status} before listening\n{}",
                    self.output()
                );
            }
            assert!(
                Instant::now() < deadline,
                "candor did not say it was listening\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap().join("\n"),
            self.stderr.lock().unwrap().join("\n")
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => sink.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    });
    lines
}

/// Every `cnd_...` secret in some lines of output.
fn tokens(lines: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for line in lines {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("cnd_") {
            let token: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            rest = &rest[i + token.len()..];
            found.push(token);
        }
    }
    found
}

async fn status_with_token(url: &str, token: &str) -> u16 {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{url}/api/v1/components"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}/api/v1/components: {e}"))
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_first_start_prints_an_admin_token_once() {
    let db = TestDatabase::create().await;

    let mut first = Server::start(&db, &["serve"]);
    let (url, stdout) = first.wait_until_listening();
    assert!(
        url.starts_with("http://127.0.0.1:"),
        "listening line: {url}"
    );
    let printed = tokens(&stdout);
    assert_eq!(
        printed.len(),
        1,
        "one new token on the first start\n{}",
        first.output()
    );
    let token = printed[0].clone();
    assert!(token.len() > 20, "a secret should be long: {token}");
    assert!(
        !first
            .stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(&token)),
        "the token is shown once, on stdout, never in the logs"
    );
    assert_eq!(
        status_with_token(&url, &token).await,
        200,
        "the printed token works"
    );
    assert_eq!(status_with_token(&url, "cnd_not-a-real-token").await, 401);
    drop(first);

    // A second start (no subcommand means serve) makes no new token, and
    // the first one still works.
    let mut second = Server::start(&db, &[]);
    let (url, stdout) = second.wait_until_listening();
    assert!(
        tokens(&stdout).is_empty(),
        "no token on a later start\n{}",
        second.output()
    );
    assert_eq!(
        status_with_token(&url, &token).await,
        200,
        "the first token still works"
    );
    drop(second);
}

/// `candor` with an admin token configured, and more environment.
fn start_with_token(db: &TestDatabase, env: &[(&str, &str)]) -> Server {
    let mut command = candor_command(&db.dir, &db.url);
    command
        .env("CANDOR_ADMIN_TOKEN", "configured-token")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start candor");
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    Server {
        child,
        stdout,
        stderr,
    }
}

#[tokio::test]
async fn with_an_admin_token_configured_no_token_is_made() {
    let db = TestDatabase::create().await;
    let mut server = start_with_token(&db, &[]);
    let (url, stdout) = server.wait_until_listening();
    assert!(
        tokens(&stdout).is_empty(),
        "no token printed\n{}",
        server.output()
    );
    assert!(
        !server.output().contains("configured-token"),
        "a configured secret never shows in output\n{}",
        server.output()
    );
    assert_eq!(status_with_token(&url, "configured-token").await, 200);
}

#[tokio::test]
async fn migrate_can_run_twice() {
    let db = TestDatabase::create().await;
    for round in 1..=2 {
        let output = candor_command(&db.dir, &db.url)
            .arg("migrate")
            .output()
            .expect("run candor migrate");
        assert!(
            output.status.success(),
            "candor migrate (round {round}) failed: {}\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test]
async fn the_client_variables_do_not_upset_the_server_commands() {
    // An admin who set CANDOR_URL and CANDOR_TOKEN for `candor incident …`
    // (DESIGN §4) can still run `candor migrate` in the same shell.
    let db = TestDatabase::create().await;
    let output = candor_command(&db.dir, &db.url)
        .env("CANDOR_URL", "http://127.0.0.1:8080")
        .env("CANDOR_TOKEN", "cnd_example")
        .arg("migrate")
        .output()
        .expect("run candor migrate");
    assert!(
        output.status.success(),
        "candor migrate with CANDOR_URL and CANDOR_TOKEN set failed: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn capability_tokens_never_reach_the_log() {
    let db = TestDatabase::create().await;
    let mut server = start_with_token(&db, &[("RUST_LOG", "trace")]);
    let (url, _) = server.wait_until_listening();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for path in [
        "/unsubscribe?token=SECRET-unsubscribe-token",
        "/subscribe/confirm?token=SECRET-confirm-token",
        "/subscription?token=SECRET-manage-token",
    ] {
        client.get(format!("{url}{path}")).send().await.unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let output = server.output();
    assert!(
        output.contains("/unsubscribe"),
        "requests are logged\n{output}"
    );
    assert!(!output.contains("SECRET-"), "a token was logged\n{output}");
}

/// `candor check` with `env` on top of the test's database; its exit
/// status and its stdout and stderr together.
fn check(db: &TestDatabase, env: &[(&str, &str)]) -> (bool, String) {
    let output = candor_command(&db.dir, &db.url)
        .envs(env.iter().copied())
        .arg("check")
        .output()
        .expect("run candor check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn check_passes_on_a_good_configuration_and_tells_the_schema_state() {
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start();
    let smtp = mailbox.url();
    let env = [("CANDOR_SMTP_URL", smtp.as_str())];

    // Before the first start: nothing is made, and nothing is wrong.
    let (passed, before) = check(&db, &env);
    assert!(passed, "check before the first start:\n{before}");
    assert!(
        before.contains("does not exist yet") || before.contains("to apply: 0001"),
        "a new database is named as such:\n{before}"
    );

    let migrated = candor_command(&db.dir, &db.url)
        .arg("migrate")
        .output()
        .expect("run candor migrate");
    assert!(migrated.status.success(), "candor migrate failed");
    let (passed, after) = check(&db, &env);
    assert!(passed, "check after migrate:\n{after}");
    for words in [
        "every setting is valid",
        "the schema is up to date",
        &format!("the SMTP server at 127.0.0.1:{}", mailbox.port),
        "NOOP, QUIT",
        "in order",
    ] {
        assert!(after.contains(words), "`{words}` in:\n{after}");
    }
    assert_eq!(mailbox.count(), 0, "the check sends no mail");
}

#[tokio::test]
async fn check_fails_on_a_bad_setting_and_names_it() {
    let db = TestDatabase::create().await;
    let (passed, text) = check(&db, &[("CANDOR_RETRY_SCHEDULE", "30s,soon")]);
    assert!(!passed, "a bad setting passed:\n{text}");
    assert!(
        text.contains("Configuration: PROBLEM") && text.contains("`retry_schedule`: `soon`"),
        "the key and the value are named:\n{text}"
    );
    assert!(text.contains("found 1 problem"), "{text}");
}

#[tokio::test]
async fn check_fails_when_the_database_cannot_be_reached() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let url = format!("postgres://candor:hunter2@127.0.0.1:{port}/candor");
    let (passed, text) = check(&db, &[("CANDOR_DATABASE_URL", url.as_str())]);
    assert!(!passed, "an unreachable database passed:\n{text}");
    assert!(
        text.contains(&format!(
            "Database: PROBLEM: cannot use postgres://candor:***@127.0.0.1:{port}/candor"
        )),
        "the database is named, without its password:\n{text}"
    );
    assert!(!text.contains("hunter2"), "the password is shown:\n{text}");
}

#[tokio::test]
async fn check_fails_when_the_smtp_server_does_not_listen() {
    let db = TestDatabase::create().await;
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{port}");
    let (passed, text) = check(&db, &[("CANDOR_SMTP_URL", smtp.as_str())]);
    assert!(
        !passed,
        "an SMTP server that does not listen passed:\n{text}"
    );
    assert!(
        text.contains(&format!(
            "Mail: PROBLEM: the SMTP server at 127.0.0.1:{port}: cannot connect"
        )),
        "the SMTP server is named:\n{text}"
    );
}
