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
