//! `Idempotency-Key`: a retried POST does not post twice.

use serde_json::json;

use crate::helpers::{entries, id_of, mail_incident, TestApp};

#[tokio::test]
async fn the_same_key_and_body_return_the_first_answer_and_create_nothing() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);

    let first = app
        .admin_post_with_key("/api/v1/incidents", "open-1", &body)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    app.advance_minutes(3);
    let again = app
        .admin_post_with_key("/api/v1/incidents", "open-1", &body)
        .await;
    assert_eq!(again.status, first.status);
    assert_eq!(
        again.body, first.body,
        "the retry gets the first answer, first times included"
    );
    assert_eq!(
        app.incidents("open").await.len(),
        1,
        "one incident, not two"
    );

    // Same for an update.
    let id = id_of(&first.body);
    let path = format!("/api/v1/incidents/{id}/updates");
    let update = json!({"message": "Still looking.", "next_update_in": 30});
    let first = app.admin_post_with_key(&path, "update-1", &update).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app.admin_post_with_key(&path, "update-1", &update).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(
        entries(&app.incident(&id).await).len(),
        2,
        "opened and one update"
    );

    // And for a component.
    let component = json!({"name": "Mailboxes"});
    let first = app
        .admin_post_with_key("/api/v1/components", "component-1", &component)
        .await;
    let again = app
        .admin_post_with_key("/api/v1/components", "component-1", &component)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(app.components().await.len(), 2);

    app.stop().await;
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);
    app.admin_post_with_key("/api/v1/incidents", "open-1", &body)
        .await
        .expect(201);
    let before = app.snapshot().await;

    let mut other = body.clone();
    other["title"] = json!("Something else entirely");
    app.admin_post_with_key("/api/v1/incidents", "open-1", &other)
        .await
        .assert_error(422, "idempotency_key_reused", None);
    assert_eq!(app.snapshot().await, before, "a reused key creates nothing");

    app.stop().await;
}

#[tokio::test]
async fn different_keys_are_different_requests() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);
    let a = app
        .admin_post_with_key("/api/v1/incidents", "key-a", &body)
        .await
        .expect(201);
    let b = app
        .admin_post_with_key("/api/v1/incidents", "key-b", &body)
        .await
        .expect(201);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(app.incidents("open").await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_request_under_a_key_is_refused_again_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["impact"] = json!("apocalyptic");
    let before = app.snapshot().await;
    let first = app
        .admin_post_with_key("/api/v1/incidents", "open-2", &body)
        .await;
    first.assert_error(422, "invalid", Some("impact"));
    let again = app
        .admin_post_with_key("/api/v1/incidents", "open-2", &body)
        .await;
    again.assert_error(422, "invalid", Some("impact"));
    assert_eq!(app.snapshot().await, before);
    app.stop().await;
}

#[tokio::test]
async fn a_key_is_kept_for_a_day_then_may_be_used_again() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);
    let first = app
        .admin_post_with_key("/api/v1/incidents", "daily", &body)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let mut other = body.clone();
    other["title"] = json!("VPN down");
    app.advance_minutes(23 * 60);
    let reused = app
        .admin_post_with_key("/api/v1/incidents", "daily", &other)
        .await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    app.advance_minutes(61);
    let fresh = app
        .admin_post_with_key("/api/v1/incidents", "daily", &other)
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.text);
    assert_eq!(fresh.body["title"], "VPN down");
}

/// What a crash between a write's commit and its stored answer leaves.
async fn lose_the_answer(app: &TestApp, key: &str) {
    app.run_sql(&format!(
        "UPDATE idempotency SET status_code = NULL, body = NULL WHERE key = '{key}'"
    ))
    .await;
}

#[tokio::test]
async fn a_retry_after_a_crash_learns_what_the_committed_write_did() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);
    let first = app
        .admin_post_with_key("/api/v1/incidents", "crash-open", &body)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    lose_the_answer(&app, "crash-open").await;
    // While the first request could still be running, a retry waits.
    let early = app
        .admin_post_with_key("/api/v1/incidents", "crash-open", &body)
        .await;
    assert_eq!(early.status, 409, "{}", early.text);
    app.advance_minutes(3);
    let again = app
        .admin_post_with_key("/api/v1/incidents", "crash-open", &body)
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body, first.body);
    assert_eq!(
        app.incidents("open").await.len(),
        1,
        "one incident, not two"
    );

    let id = id_of(&first.body);
    let path = format!("/api/v1/incidents/{id}/updates");
    let update = json!({"message": "Still looking.", "next_update_in": 30});
    let first = app
        .admin_post_with_key(&path, "crash-update", &update)
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    lose_the_answer(&app, "crash-update").await;
    app.advance_minutes(3);
    let again = app
        .admin_post_with_key(&path, "crash-update", &update)
        .await;
    assert_eq!((again.status, &again.body), (201, &first.body));
    assert_eq!(entries(&app.incident(&id).await).len(), 2);
}

#[tokio::test]
async fn a_key_whose_request_died_before_writing_is_released() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = mail_incident(&smtp);
    app.admin_post_with_key("/api/v1/incidents", "died", &body)
        .await
        .expect(201);
    // As if the first request died before its write committed.
    app.run_sql(
        "UPDATE idempotency SET status_code = NULL, body = NULL, write_action = NULL, \
         write_target = NULL WHERE key = 'died'",
    )
    .await;
    app.advance_minutes(3);
    let retry = app
        .admin_post_with_key("/api/v1/incidents", "died", &body)
        .await;
    assert_eq!(retry.status, 201, "the retry runs: {}", retry.text);
}

#[tokio::test]
async fn a_client_that_hangs_up_can_still_learn_the_answer() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = serde_json::to_string(&mail_incident(&smtp)).unwrap();
    for round in 0..10 {
        let key = format!("hang-up-{round}");
        let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
            .await
            .unwrap();
        let request = format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\n\r\n{body}",
            crate::helpers::ADMIN_TOKEN,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(round)).await;
        drop(stream);
        let mut answer = None;
        for _ in 0..100 {
            let retry = app
                .admin_post_with_key("/api/v1/incidents", &key, &mail_incident(&smtp))
                .await;
            if retry.status != 409 {
                answer = Some(retry.status);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(
            answer,
            Some(201),
            "round {round}: the key stayed in progress"
        );
    }
    assert_eq!(app.incidents("open").await.len(), 10);
}
