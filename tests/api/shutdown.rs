//! A graceful stop loses nothing and sends nothing twice: the real
//! `candor` binary gets SIGTERM in the middle of a fan-out to 2,000
//! subscribers; it finishes the mail it was sending, gives back what it
//! had claimed and not sent, and exits. Started again with a lease far
//! longer than the test, it sends the rest at once: every subscriber gets
//! the mail exactly once.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, mail_incident, TestDatabase, ADMIN_TOKEN};
use crate::processes::{admin_post, client, without_colours, Process};

const SUBSCRIBERS: usize = 2_000;
/// The sink holds each mail this long, so that the fan-out takes seconds
/// and the signal lands in its middle.
const SINK_DELAY_MS: u64 = 15;
/// SIGTERM once this many mails arrived: past the first batch.
const STOP_AFTER: usize = 700;
/// Far longer than the test: a row left leased would not be sent in time.
const LEASE: &str = "30m";

#[tokio::test]
async fn sigterm_mid_fan_out_gives_back_the_unsent_and_a_restart_sends_each_once() {
    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start_bulk(SINK_DELAY_MS);
    let client = client();
    let env = [("CANDOR_DELIVERY_LEASE", LEASE)];

    let mut first = Process::start(&db, &mailbox, &env);
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
    while mailbox.count() < STOP_AFTER {
        assert!(
            Instant::now() < deadline,
            "only {} mails arrived before the stop:\n{}",
            mailbox.count(),
            first.output()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (status, took) = first.terminate(Duration::from_secs(20)).await;
    let at_stop = mailbox.count();
    assert!(
        status.success(),
        "candor exited with {status}:\n{}",
        first.output()
    );
    assert!(
        at_stop < SUBSCRIBERS,
        "the fan-out had finished ({at_stop} mails) before the stop; make the sink slower"
    );
    let given_back: u64 = first
        .lines_with("deliveries_given_back")
        .first()
        .map(|line| without_colours(line))
        .and_then(|line| {
            let rest = line.split("deliveries_given_back=").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count of what was given back:\n{}", first.output()));
    assert!(
        given_back > 0,
        "a stop mid fan-out had claimed mail it did not send:\n{}",
        first.output()
    );

    let restarted = Instant::now();
    let second = Process::start(&db, &mailbox, &env);
    let deliveries = format!("{}/api/v1/incidents/{incident_id}/deliveries", second.url);
    let deadline = Instant::now() + Duration::from_secs(60);
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
            "the restarted Candor did not finish the fan-out (the lease is {LEASE}): \
             {totals}, {} mails\n{}",
            mailbox.count(),
            second.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rest_took = restarted.elapsed();

    let mails = mailbox.mails();
    let mut by_reader: HashMap<&str, usize> = HashMap::new();
    for mail in &mails {
        assert_eq!(mail.to.len(), 1, "one recipient per mail: {:?}", mail.to);
        *by_reader.entry(mail.to[0].as_str()).or_default() += 1;
    }
    let missing = (0..SUBSCRIBERS)
        .map(|i| format!("reader{i:04}@example.test"))
        .filter(|address| !by_reader.contains_key(address.as_str()))
        .count();
    let twice: Vec<_> = by_reader.iter().filter(|(_, n)| **n > 1).collect();
    eprintln!(
        "shutdown test: SIGTERM after {at_stop} of {SUBSCRIBERS} mails, stopped in {took:?}, \
         {given_back} deliveries given back; the restart sent the rest in {rest_took:?}; \
         {missing} missing, {} sent twice",
        twice.len()
    );
    assert_eq!(missing, 0, "subscribers got nothing");
    assert!(twice.is_empty(), "mail sent twice: {twice:?}");
    assert_eq!(mails.len(), SUBSCRIBERS);
    drop(second);
}
