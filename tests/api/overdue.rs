//! A broken promise is said out loud: after the grace period (15 min by
//! default) Candor itself posts that the update is late (DESIGN §1.2).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{assert_shows, classes, entries, id_of, TestApp};

#[tokio::test]
async fn a_late_update_gets_a_system_entry_after_the_grace_period() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    // Late, but within the grace period: no notice yet.
    app.advance_minutes(40);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        entries(&app.incident(&id).await).len(),
        1,
        "no notice within the grace period"
    );

    // Past 09:30 + 15 min. Nobody posts; Candor must notice by itself.
    app.advance_minutes(6);
    let deadline = Instant::now() + Duration::from_secs(20);
    let notice: Value = loop {
        let incident = app.incident(&id).await;
        if let Some(entry) = entries(&incident)
            .into_iter()
            .find(|e| classes(e).iter().any(|c| c == "overdue_notice"))
        {
            break entry;
        }
        assert!(
            Instant::now() < deadline,
            "no overdue_notice entry 16 min after the promised update: {incident}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(notice["system"], true);
    let message = notice["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("10:30 CET"),
        "the notice names the promised time: {message}"
    );
    assert!(
        message.contains("Dana (IT Ops)"),
        "the notice names the owner: {message}"
    );

    let page = app.page_text(&format!("/incidents/{id}")).await;
    assert_shows(&page, "The update promised for 10:30 CET is late");

    // One notice per broken promise, not one per poll.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = entries(&app.incident(&id).await)
        .iter()
        .filter(|e| classes(e).iter().any(|c| c == "overdue_notice"))
        .count();
    assert_eq!(count, 1);

    app.stop().await;
}
