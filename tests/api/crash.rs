//! The outbox survives a crash: the real `candor` binary is killed with
//! SIGKILL in the middle of a fan-out to 2,000 subscribers and started again
//! on the same database. Every subscriber gets the entry; what was sent twice
//! (mail that left before the kill but was not yet marked sent) is counted
//! and stays below one batch.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use candor::delivery::worker::BATCH;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, mail_incident, TestDatabase, ADMIN_TOKEN};
use crate::processes::{admin_post, Process};

const SUBSCRIBERS: usize = 2_000;
/// The sink holds each mail this long: 16 connections then take a few
/// seconds for the fan-out, so the kill lands in the middle of it.
const SINK_DELAY_MS: u64 = 15;
/// Kill once this many mails arrived: past the first batch, inside another.
const KILL_AFTER: usize = 700;
/// A short lease, so the restarted process takes the killed batch back in
/// seconds instead of the default two minutes.
const LEASE: &str = "2s";

#[tokio::test]
async fn a_fan_out_killed_midway_reaches_everyone_after_a_restart() {
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start_bulk(SINK_DELAY_MS);
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");

    let mut first = Process::start(&db, &mailbox, &[("CANDOR_DELIVERY_LEASE", LEASE)]);
    let api = format!("{}/api/v1", first.url);
    let component = admin_post(
        &client,
        &format!("{api}/components"),
        &json!({"name": "Outbound SMTP"}),
    )
    .await;
    // Opened before anyone subscribed: only the update below is mailed.
    let incident = admin_post(
        &client,
        &format!("{api}/incidents"),
        &mail_incident(&id_of(&component)),
    )
    .await;
    let incident_id = id_of(&incident);
    futures::stream::iter(0..SUBSCRIBERS)
        .map(|i| {
            let (client, api) = (&client, &api);
            async move {
                admin_post(
                    client,
                    &format!("{api}/subscribers"),
                    &json!({"email": format!("reader{i:04}@example.test"), "confirmed": true}),
                )
                .await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;

    admin_post(
        &client,
        &format!("{api}/incidents/{incident_id}/updates"),
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "next_update_in": 30, "message": "We found it."}),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while mailbox.count() < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "only {} mails arrived before the kill:\n{}",
            mailbox.count(),
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill();
    let at_kill = mailbox.count();
    assert!(
        at_kill < SUBSCRIBERS,
        "the fan-out had finished ({at_kill} mails) before the kill; make the sink slower"
    );

    let second = Process::start(&db, &mailbox, &[("CANDOR_DELIVERY_LEASE", LEASE)]);
    let deliveries = format!("{}/api/v1/incidents/{incident_id}/deliveries", second.url);
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let report: Value = client
            .get(&deliveries)
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("GET deliveries")
            .json()
            .await
            .expect("deliveries JSON");
        let totals = &report["totals"];
        if totals["sent"] == SUBSCRIBERS && totals["pending"] == 0 && totals["failed"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted Candor did not finish the fan-out: {totals}, {} mails\n{}",
            mailbox.count(),
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mails = mailbox.mails();
    let mut by_reader: HashMap<&str, Vec<&str>> = HashMap::new();
    for mail in &mails {
        assert_eq!(mail.to.len(), 1, "one recipient per mail: {:?}", mail.to);
        assert!(
            mail.subject.contains("Delayed outbound email"),
            "only the update is mailed: {:?}",
            mail.subject
        );
        by_reader
            .entry(mail.to[0].as_str())
            .or_default()
            .push(mail.header("Message-ID").expect("Message-ID"));
    }
    let missing: Vec<String> = (0..SUBSCRIBERS)
        .map(|i| format!("reader{i:04}@example.test"))
        .filter(|address| !by_reader.contains_key(address.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} subscribers got nothing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(by_reader.len(), SUBSCRIBERS, "mail to strangers");
    // A copy sent twice carries the same Message-ID, so a reader's mail
    // program shows it once.
    for (reader, ids) in &by_reader {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "{reader} got different Message-IDs for one delivery: {ids:?}"
        );
    }
    let duplicates = mails.len() - SUBSCRIBERS;
    eprintln!(
        "crash test: killed after {at_kill} of {SUBSCRIBERS} mails; \
         {duplicates} sent twice (batch size {BATCH})"
    );
    assert!(
        (duplicates as i64) < BATCH,
        "{duplicates} mails were sent twice, a batch is {BATCH}"
    );
    drop(second);
}
