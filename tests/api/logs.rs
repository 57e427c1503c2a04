//! Logs as a collector reads them: `CANDOR_LOG_FORMAT=json` makes every
//! line one JSON object.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::mailbox::Mailbox;
use crate::helpers::TestDatabase;
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
