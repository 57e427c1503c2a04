//! Opening, updating, resolving and reopening incidents through the admin API.

use serde_json::{json, Value};

use crate::helpers::{
    assert_classes, assert_ts, classes, entries, id_of, mail_incident, ts, unknown_id_like,
    TestApp, START,
};

#[tokio::test]
async fn an_incident_can_be_opened_with_nothing_known() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;

    let incident = app.open_mail_incident(&smtp).await;

    assert_eq!(incident["kind"], "incident");
    assert_eq!(incident["title"], "Delayed outbound email");
    assert_eq!(incident["impact"], "minor");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(
        incident["owner"],
        json!({"name": "Dana (IT Ops)", "email": "dana@acme.test"})
    );
    assert_eq!(incident["cause"], Value::Null, "unknown cause is null");
    assert_eq!(incident["eta"], Value::Null, "no ETA is null");
    assert_eq!(incident["eta_history"], json!([]));
    assert_ts(&incident["next_update_at"], "2026-03-04T09:30:00Z");
    assert_eq!(incident["overdue"], false);
    assert_ts(&incident["started_at"], START);
    assert_eq!(incident["resolved_at"], Value::Null);
    assert_eq!(incident["follow_up_at"], Value::Null);
    assert_ts(&incident["created_at"], START);
    assert_ts(&incident["updated_at"], START);
    assert_eq!(
        incident["components"],
        json!([{"id": app.component(&smtp).await["id"], "name": "Outbound SMTP", "status": "partial_outage"}])
    );

    let all = entries(&incident);
    assert_eq!(all.len(), 1, "{incident}");
    let opened = &all[0];
    assert_classes(opened, &["opened"], &["resolved", "reopened", "correction"]);
    assert!(opened["seq"].is_number(), "seq is a number: {opened}");
    assert_ts(&opened["posted_at"], START);
    assert!(opened["author"].is_string(), "author is named: {opened}");
    assert_eq!(opened["status"], "investigating");
    assert_eq!(opened["impact"], "minor");
    assert_eq!(opened["cause"], Value::Null);
    assert_eq!(opened["eta"], Value::Null);
    assert_ts(&opened["next_update_at"], "2026-03-04T09:30:00Z");
    assert_eq!(
        opened["message"],
        "We are looking into delayed outbound email."
    );
    assert_eq!(opened["corrects"], Value::Null);
    assert_eq!(opened["corrected_by"], Value::Null);
    assert_eq!(opened["system"], false);
    assert_eq!(opened["components"][0]["name"], "Outbound SMTP");
    assert_eq!(opened["components"][0]["old_status"], "operational");
    assert_eq!(opened["components"][0]["new_status"], "partial_outage");

    // The component itself now shows the outage, and GET shows what POST returned.
    assert_eq!(app.component(&smtp).await["status"], "partial_outage");
    let id = id_of(&incident);
    assert_eq!(app.incident(&id).await, incident);
    let open = app.incidents("open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["id"], incident["id"]);
    assert!(app.incidents("resolved").await.is_empty());

    app.stop().await;
}

#[tokio::test]
async fn a_title_an_owner_and_a_promise_are_enough_to_open() {
    let app = TestApp::spawn().await;
    let before = app.snapshot().await;

    let incident = app
        .open_incident(&json!({
            "title": "Printing fails",
            "owner": {"name": "Kim (Desk)", "email": "kim@acme.test"},
            "next_update_in": 15
        }))
        .await;
    assert_eq!(incident["title"], "Printing fails");
    assert_eq!(incident["cause"], Value::Null);
    assert_eq!(incident["eta"], Value::Null);
    assert_eq!(incident["components"], json!([]));
    assert_ts(&incident["next_update_at"], "2026-03-04T09:15:00Z");
    let opened = &entries(&incident)[0];
    assert_classes(opened, &["opened"], &[]);
    let message = opened["message"].as_str().unwrap_or_default();
    assert!(
        !message.trim().is_empty(),
        "readers get some words: {opened}"
    );
    assert_ne!(app.snapshot().await, before);

    app.stop().await;
}

#[tokio::test]
async fn the_next_update_can_be_given_as_a_time() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body.as_object_mut().unwrap().remove("next_update_in");
    body["next_update_at"] = json!("2026-03-04T09:45:00Z");
    body["started_at"] = json!("2026-03-04T08:40:00Z");

    let incident = app.open_incident(&body).await;
    assert_ts(&incident["next_update_at"], "2026-03-04T09:45:00Z");
    assert_ts(&incident["started_at"], "2026-03-04T08:40:00Z");
    // posted_at is the server's clock, not started_at.
    assert_ts(&entries(&incident)[0]["posted_at"], START);

    app.stop().await;
}

#[tokio::test]
async fn the_next_update_must_be_promised_in_the_future_within_seven_days() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    let updates = format!("/api/v1/incidents/{id}/updates");
    let before = app.snapshot().await;

    let mut problems = Vec::new();
    let refused: Vec<(&str, Value)> = vec![
        ("no next update", json!({"message": "Still looking."})),
        (
            "next update now",
            json!({"message": "m", "next_update_at": START}),
        ),
        (
            "next update in the past",
            json!({"message": "m", "next_update_at": "2026-03-04T08:59:00Z"}),
        ),
        (
            "next update in 0 min",
            json!({"message": "m", "next_update_in": 0}),
        ),
        (
            "next update in -5 min",
            json!({"message": "m", "next_update_in": -5}),
        ),
        (
            "7 days and 1 min ahead",
            json!({"message": "m", "next_update_in": 7 * 24 * 60 + 1}),
        ),
        (
            "8 days ahead",
            json!({"message": "m", "next_update_at": "2026-03-12T09:00:00Z"}),
        ),
        (
            "null next update",
            json!({"message": "m", "next_update_at": null}),
        ),
    ];
    for (what, body) in &refused {
        let reply = app.admin_post(&updates, body).await;
        if let Err(problem) = reply.check_error(422, "invalid", Some("next_update_at")) {
            problems.push(format!("update with {what}: {problem}"));
        }
    }
    // Opening follows the same rule.
    let mut open = mail_incident(&smtp);
    open.as_object_mut().unwrap().remove("next_update_in");
    let reply = app.admin_post("/api/v1/incidents", &open).await;
    if let Err(problem) = reply.check_error(422, "invalid", Some("next_update_at")) {
        problems.push(format!("open with no next update: {problem}"));
    }
    open["next_update_at"] = json!("2026-03-04T08:00:00Z");
    let reply = app.admin_post("/api/v1/incidents", &open).await;
    if let Err(problem) = reply.check_error(422, "invalid", Some("next_update_at")) {
        problems.push(format!("open with the next update in the past: {problem}"));
    }
    assert!(
        problems.is_empty(),
        "refusals not as promised:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "refused requests must change nothing"
    );

    // Exactly seven days ahead is allowed.
    let entry = app
        .post_update(
            &id,
            &json!({"message": "Long job.", "next_update_in": 7 * 24 * 60}),
        )
        .await;
    assert_ts(&entry["next_update_at"], "2026-03-11T09:00:00Z");

    app.stop().await;
}

#[tokio::test]
async fn each_update_is_classified_from_what_changed() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    let step = |minutes: i64| {
        app.advance_minutes(minutes);
        app.now()
    };

    // Nothing but words and a new promise: a plain update.
    let now = step(10);
    let plain = app
        .post_update(
            &id,
            &json!({"message": "Still looking.", "next_update_in": 30}),
        )
        .await;
    assert_eq!(classes(&plain), vec!["update"], "{plain}");
    assert_eq!(ts(&plain["posted_at"]), now);
    assert_ts(&plain["next_update_at"], "2026-03-04T09:40:00Z");

    step(5);
    let cause = app
        .post_update(
            &id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "message": "Found it.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&cause, &["cause_identified"], &["update"]);
    assert_eq!(cause["status"], "identified");
    assert_eq!(cause["cause"], "Expired relay certificate");

    step(5);
    let eta_set = app
        .post_update(
            &id,
            &json!({"eta": "2026-03-04T15:00:00Z", "message": "ETA.", "next_update_in": 30}),
        )
        .await;
    assert_classes(
        &eta_set,
        &["eta_set"],
        &["eta_slipped", "eta_improved", "eta_withdrawn"],
    );
    assert_ts(&eta_set["eta"], "2026-03-04T15:00:00Z");
    assert_eq!(
        eta_set["cause"], "Expired relay certificate",
        "absent cause stays as it was"
    );

    step(5);
    let slipped = app
        .post_update(
            &id,
            &json!({"eta": "2026-03-04T16:00:00Z", "message": "Later.", "next_update_in": 30}),
        )
        .await;
    assert_classes(
        &slipped,
        &["eta_slipped"],
        &["eta_set", "eta_improved", "eta_withdrawn"],
    );

    step(5);
    let improved = app
        .post_update(
            &id,
            &json!({"eta": "2026-03-04T15:30:00Z", "message": "Sooner.", "next_update_in": 30}),
        )
        .await;
    assert_classes(
        &improved,
        &["eta_improved"],
        &["eta_set", "eta_slipped", "eta_withdrawn"],
    );

    step(5);
    let withdrawn = app
        .post_update(
            &id,
            &json!({"eta": null, "message": "No idea now.", "next_update_in": 30}),
        )
        .await;
    assert_classes(
        &withdrawn,
        &["eta_withdrawn"],
        &["eta_set", "eta_slipped", "eta_improved"],
    );
    assert_eq!(withdrawn["eta"], Value::Null);

    step(5);
    let raised = app
        .post_update(
            &id,
            &json!({"impact": "major", "message": "Worse.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&raised, &["impact_raised"], &["impact_lowered"]);
    assert_eq!(raised["impact"], "major");

    step(5);
    let lowered = app
        .post_update(
            &id,
            &json!({"impact": "minor", "message": "Better.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&lowered, &["impact_lowered"], &["impact_raised"]);

    step(5);
    let worse = app
        .post_update(
            &id,
            &json!({"components": {&smtp: "major_outage"}, "message": "Down.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&worse, &["components_worsened"], &["components_recovered"]);
    assert_eq!(worse["components"][0]["old_status"], "partial_outage");
    assert_eq!(worse["components"][0]["new_status"], "major_outage");
    assert_eq!(app.component(&smtp).await["status"], "major_outage");

    step(5);
    let better = app
        .post_update(
            &id,
            &json!({"components": {&smtp: "degraded_performance"}, "message": "Slow.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&better, &["components_recovered"], &["components_worsened"]);
    assert_eq!(app.component(&smtp).await["status"], "degraded_performance");

    step(5);
    let handed_over = app
        .post_update(
            &id,
            &json!({"owner": {"name": "Sam (Mail team)", "email": "sam@acme.test"},
                    "message": "Sam takes over.", "next_update_in": 30}),
        )
        .await;
    assert_classes(&handed_over, &["owner_changed"], &[]);

    let incident = app.incident(&id).await;
    assert_eq!(
        incident["owner"],
        json!({"name": "Sam (Mail team)", "email": "sam@acme.test"})
    );
    assert_eq!(incident["status"], "identified");
    assert_eq!(incident["impact"], "minor");
    assert_eq!(incident["cause"], "Expired relay certificate");
    assert_eq!(incident["eta"], Value::Null);
    assert_ts(&incident["updated_at"], "2026-03-04T10:00:00Z");
    assert_ts(&incident["next_update_at"], "2026-03-04T10:30:00Z");

    // The ETA's history, oldest first, each change with its time.
    let history = incident["eta_history"]
        .as_array()
        .expect("eta_history array")
        .clone();
    let etas: Vec<Value> = history.iter().map(|h| h["eta"].clone()).collect();
    let changed: Vec<_> = history.iter().map(|h| ts(&h["changed_at"])).collect();
    assert_eq!(etas.len(), 4, "{history:?}");
    assert_ts(&etas[0], "2026-03-04T15:00:00Z");
    assert_ts(&etas[1], "2026-03-04T16:00:00Z");
    assert_ts(&etas[2], "2026-03-04T15:30:00Z");
    assert_eq!(etas[3], Value::Null);
    assert_eq!(
        changed,
        ["09:20", "09:25", "09:30", "09:35"]
            .map(|t| crate::helpers::at(&format!("2026-03-04T{t}:00Z")))
            .to_vec()
    );

    // Entries newest first, numbered in order of posting.
    let all = entries(&incident);
    assert_eq!(all.len(), 12);
    assert_eq!(all[0]["id"], handed_over["id"]);
    assert_classes(&all[11], &["opened"], &[]);
    let seqs: Vec<i64> = all
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "seq falls from newest to oldest: {seqs:?}"
    );
    let posted: Vec<_> = all.iter().map(|e| ts(&e["posted_at"])).collect();
    assert!(
        posted.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {posted:?}"
    );

    app.stop().await;
}

#[tokio::test]
async fn a_cause_can_be_withdrawn_by_sending_null() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    app.post_update(
        &id,
        &json!({"cause": "DNS", "message": "m", "next_update_in": 30}),
    )
    .await;
    app.post_update(&id, &json!({"message": "m", "next_update_in": 30}))
        .await;
    assert_eq!(
        app.incident(&id).await["cause"],
        "DNS",
        "absent means unchanged"
    );
    let entry = app
        .post_update(
            &id,
            &json!({"cause": null, "message": "Not DNS after all.", "next_update_in": 30}),
        )
        .await;
    assert_eq!(entry["cause"], Value::Null);
    assert_eq!(
        app.incident(&id).await["cause"],
        Value::Null,
        "null means not known again"
    );

    app.stop().await;
}

#[tokio::test]
async fn resolving_sets_the_follow_up_and_frees_the_components() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let imap = app.create_component("Mailboxes").await;
    let mut body = mail_incident(&smtp);
    body["components"] = json!({&smtp: "partial_outage", &imap: "degraded_performance"});
    let id = id_of(&app.open_incident(&body).await);
    app.advance_minutes(90);

    // No next update is needed to resolve.
    let entry = app
        .post_update(
            &id,
            &json!({"status": "resolved", "message": "Mail flows again."}),
        )
        .await;
    assert_classes(&entry, &["resolved"], &["reopened"]);
    assert_eq!(entry["status"], "resolved");
    assert_eq!(entry["next_update_at"], Value::Null);
    assert_ts(&entry["posted_at"], "2026-03-04T10:30:00Z");

    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "resolved");
    assert_ts(&incident["resolved_at"], "2026-03-04T10:30:00Z");
    assert_ts(&incident["follow_up_at"], "2026-03-05T10:30:00Z");
    assert_eq!(incident["next_update_at"], Value::Null);
    assert_eq!(incident["overdue"], false);
    assert_eq!(app.component(&smtp).await["status"], "operational");
    assert_eq!(app.component(&imap).await["status"], "operational");
    let moved: Vec<(Value, Value)> = entry["components"]
        .as_array()
        .expect("entry components")
        .iter()
        .map(|c| (c["old_status"].clone(), c["new_status"].clone()))
        .collect();
    assert!(
        moved.contains(&(json!("partial_outage"), json!("operational"))),
        "{entry}"
    );
    assert!(
        moved.contains(&(json!("degraded_performance"), json!("operational"))),
        "{entry}"
    );

    assert!(app.incidents("open").await.is_empty());
    let resolved = app.incidents("resolved").await;
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["id"], incident["id"]);

    // Long after the promised update, a resolved incident is not overdue.
    app.advance_minutes(600);
    assert_eq!(app.incident(&id).await["overdue"], false);

    app.stop().await;
}

#[tokio::test]
async fn an_update_on_a_resolved_incident_reopens_the_same_incident() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(60);
    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    app.advance_minutes(60);

    let entry = app
        .post_update(
            &id,
            &json!({"status": "investigating", "components": {&smtp: "partial_outage"},
                    "message": "The delays are back.", "next_update_in": 20}),
        )
        .await;
    assert_classes(&entry, &["reopened"], &["resolved", "opened"]);

    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "investigating");
    assert_eq!(
        incident["resolved_at"],
        Value::Null,
        "an open incident is not resolved"
    );
    assert_ts(&incident["next_update_at"], "2026-03-04T11:20:00Z");
    assert_eq!(entries(&incident).len(), 3);
    assert_eq!(app.component(&smtp).await["status"], "partial_outage");
    let open = app.incidents("open").await;
    assert_eq!(open.len(), 1, "the same incident, not a new one");
    assert_eq!(id_of(&open[0]), id);
    assert!(app.incidents("resolved").await.is_empty());

    app.stop().await;
}

#[tokio::test]
async fn posted_at_is_the_servers_clock_and_cannot_be_sent() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(7);
    let before = app.snapshot().await;

    app.admin_post(
        &format!("/api/v1/incidents/{id}/updates"),
        &json!({"message": "Backdated.", "next_update_in": 30, "posted_at": "2026-03-04T08:00:00Z"}),
    )
    .await
    .assert_error(422, "invalid", Some("posted_at"));
    let mut open = mail_incident(&smtp);
    open["posted_at"] = json!("2026-03-04T08:00:00Z");
    app.admin_post("/api/v1/incidents", &open)
        .await
        .assert_error(422, "invalid", Some("posted_at"));
    assert_eq!(
        app.snapshot().await,
        before,
        "refused requests must change nothing"
    );

    let entry = app
        .post_update(&id, &json!({"message": "Now.", "next_update_in": 30}))
        .await;
    assert_ts(&entry["posted_at"], "2026-03-04T09:07:00Z");

    app.stop().await;
}

#[tokio::test]
async fn the_overdue_flag_follows_the_clock() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    app.advance_minutes(29);
    assert_eq!(
        app.incident(&id).await["overdue"],
        false,
        "at 09:29 the 09:30 update is not late"
    );
    app.advance_minutes(2);
    assert_eq!(
        app.incident(&id).await["overdue"],
        true,
        "at 09:31 the 09:30 update is late"
    );
    let open = app.incidents("open").await;
    assert_eq!(open[0]["overdue"], true, "the list says so too");

    app.post_update(
        &id,
        &json!({"message": "Sorry, still on it.", "next_update_in": 30}),
    )
    .await;
    assert_eq!(
        app.incident(&id).await["overdue"],
        false,
        "a new promise ends the lateness"
    );

    app.stop().await;
}

#[tokio::test]
async fn an_unknown_incident_is_404() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let missing = unknown_id_like(&id);
    let before = app.snapshot().await;

    for path in [
        format!("/api/v1/incidents/{missing}"),
        "/api/v1/incidents/no-such-incident".to_string(),
    ] {
        app.admin_get(&path)
            .await
            .assert_error(404, "not_found", None);
    }
    app.admin_post(
        &format!("/api/v1/incidents/{missing}/updates"),
        &json!({"message": "m", "next_update_in": 30}),
    )
    .await
    .assert_error(404, "not_found", None);
    app.admin_post(
        &format!("/api/v1/incidents/{missing}/corrections"),
        &json!({"corrects": "nosuchentry2", "message": "m"}),
    )
    .await
    .assert_error(404, "not_found", None);
    assert_eq!(app.snapshot().await, before);

    app.stop().await;
}
