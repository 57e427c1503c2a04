//! Logs as a collector reads them: `CANDOR_LOG_FORMAT=json` makes every
//! line one JSON object.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{candor_command, TestDatabase};
use crate::processes::{client, Process};

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start();
    let candor = Process::start(
        &db,
        &mailbox,
        &[
            ("CANDOR_LOG_FORMAT", "json"),
            ("RUST_LOG", "candor=debug,warn"),
        ],
    );
    let page = client()
        .get(format!("{}/healthz", candor.url))
        .send()
        .await
        .expect("GET /healthz");
    assert_eq!(page.status().as_u16(), 200);
    std::thread::sleep(Duration::from_millis(300));

    let output = candor.output();
    // stdout carries what Candor says to the admin (where it listens);
    // every other line is a log line.
    let logs: Vec<Value> = output
        .lines()
        .filter(|line| !line.starts_with("Candor listening on "))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}\n{output}"))
        })
        .collect();
    assert!(!logs.is_empty(), "some lines were logged:\n{output}");
    for log in &logs {
        for key in ["timestamp", "level", "target", "fields"] {
            assert!(log.get(key).is_some(), "`{key}` in {log}");
        }
    }
    assert!(
        logs.iter().any(|log| log.to_string().contains("/healthz")),
        "the request is logged:\n{output}"
    );
}

#[tokio::test]
async fn in_json_the_reason_a_start_failed_is_a_log_line_too() {
    let (_, lines) = a_start_that_fails(&[]).await;
    let last = lines.last().expect("a log line says why it stopped");
    assert_eq!(last["level"], "ERROR", "{last}");
    assert_eq!(last["fields"]["message"], "candor stopped", "{last}");
    let error = last["fields"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot listen on 127.0.0.1:not-a-port"),
        "{last}"
    );
}

#[tokio::test]
async fn an_unknown_log_format_stops_the_start() {
    let db = TestDatabase::create().await;
    let output = candor_command(&db.dir, &db.url)
        .env("CANDOR_LOG_FORMAT", "yaml")
        .arg("migrate")
        .output()
        .expect("run candor migrate");
    assert!(
        !output.status.success(),
        "an unknown log format was ignored"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CANDOR_LOG_FORMAT is `yaml`; it may be `text` (the default) or `json`"),
        "{stderr}"
    );
}

/// A `RUST_LOG` Candor does not understand is said so in a log line of its
/// own, and the default filter holds: the logs do not go quiet.
#[tokio::test]
async fn a_log_filter_not_understood_is_said_and_the_default_holds() {
    let (stderr, lines) = a_start_that_fails(&[("RUST_LOG", "candor=loud")]).await;
    let said = lines
        .iter()
        .find(|line| line["fields"]["rust_log"] == "candor=loud")
        .unwrap_or_else(|| panic!("a line says RUST_LOG was not understood:\n{stderr}"));
    assert_eq!(said["level"], "WARN", "{said}");
    let message = said["fields"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("candor=info,warn"), "{said}");
    let last = lines.last().expect("a log line says why it stopped");
    assert_eq!(last["fields"]["message"], "candor stopped", "{last}");
}

/// `candor serve` with JSON logs on an address it cannot listen on: its
/// stderr, and each line of it read as JSON.
async fn a_start_that_fails(env: &[(&str, &str)]) -> (String, Vec<Value>) {
    let db = TestDatabase::create().await;
    let output = candor_command(&db.dir, &db.url)
        .env("CANDOR_LOG_FORMAT", "json")
        .env("CANDOR_LISTEN", "127.0.0.1:not-a-port")
        .envs(env.iter().copied())
        .arg("serve")
        .output()
        .expect("run candor serve");
    assert!(!output.status.success(), "candor started on a bad address");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}\n{stderr}"))
        })
        .collect();
    (stderr, lines)
}
