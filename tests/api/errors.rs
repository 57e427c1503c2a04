//! Refusals: every one has the same error shape, names the field at fault,
//! and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{id_of, mail_incident, unknown_id_like, TestApp, ADMIN_TOKEN};

#[tokio::test]
async fn a_broken_rule_names_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let incident = app.open_mail_incident(&smtp).await;
    let id = id_of(&incident);
    let before = app.snapshot().await;

    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = mail_incident(&smtp);
        change(&mut body);
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "an unknown field",
            with(&|b: &mut Value| b["severity"] = json!("high")),
            "severity",
        ),
        (
            "a bad impact",
            with(&|b: &mut Value| b["impact"] = json!("apocalyptic")),
            "impact",
        ),
        (
            "a bad status",
            with(&|b: &mut Value| b["status"] = json!("on_fire")),
            "status",
        ),
        (
            "a bad owner email",
            with(&|b: &mut Value| b["owner"]["email"] = json!("dana-at-acme")),
            "owner.email",
        ),
        (
            "no owner",
            with(&|b: &mut Value| {
                b.as_object_mut().unwrap().remove("owner");
            }),
            "owner",
        ),
        (
            "a blank owner name",
            with(&|b: &mut Value| b["owner"]["name"] = json!(" ")),
            "owner.name",
        ),
        (
            "no title",
            with(&|b: &mut Value| {
                b.as_object_mut().unwrap().remove("title");
            }),
            "title",
        ),
        (
            "a blank title",
            with(&|b: &mut Value| b["title"] = json!("   ")),
            "title",
        ),
        (
            "an unknown component",
            with(&|b: &mut Value| {
                b["components"] = json!({ unknown_id_like(&smtp): "partial_outage" })
            }),
            "components",
        ),
        (
            "a bad component status",
            with(&|b: &mut Value| b["components"] = json!({ &smtp: "kaput" })),
            "components.*",
        ),
        (
            "a next update in the past",
            with(&|b: &mut Value| {
                b.as_object_mut().unwrap().remove("next_update_in");
                b["next_update_at"] = json!("2026-03-04T08:00:00Z");
            }),
            "next_update_at",
        ),
        (
            "an ETA that is not a time",
            with(&|b: &mut Value| b["eta"] = json!("tomorrow")),
            "eta",
        ),
    ];

    let mut problems = Vec::new();
    for (what, body, field) in &cases {
        let reply = app.admin_post("/api/v1/incidents", body).await;
        if let Err(problem) = reply.check_error(422, "invalid", Some(field)) {
            problems.push(format!("open with {what}: {problem}"));
        }
    }
    let updates = format!("/api/v1/incidents/{id}/updates");
    let update_cases: Vec<(&str, Value, &str)> = vec![
        (
            "an unknown field",
            json!({"message": "m", "next_update_in": 30, "severity": "high"}),
            "severity",
        ),
        (
            "a bad impact",
            json!({"message": "m", "next_update_in": 30, "impact": "apocalyptic"}),
            "impact",
        ),
        (
            "a bad status",
            json!({"message": "m", "next_update_in": 30, "status": "on_fire"}),
            "status",
        ),
        (
            "a bad owner email",
            json!({"message": "m", "next_update_in": 30, "owner": {"name": "Sam", "email": "sam@"}}),
            "owner.email",
        ),
        ("no message", json!({"next_update_in": 30}), "message"),
        (
            "a blank message",
            json!({"message": "  ", "next_update_in": 30}),
            "message",
        ),
        (
            "an unknown component",
            json!({"message": "m", "next_update_in": 30, "components": { unknown_id_like(&smtp): "major_outage" }}),
            "components",
        ),
        (
            "an ETA that is not a time",
            json!({"message": "m", "next_update_in": 30, "eta": "soon"}),
            "eta",
        ),
    ];
    for (what, body, field) in &update_cases {
        let reply = app.admin_post(&updates, body).await;
        if let Err(problem) = reply.check_error(422, "invalid", Some(field)) {
            problems.push(format!("update with {what}: {problem}"));
        }
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

    app.stop().await;
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let before = app.snapshot().await;

    for (path, body) in [
        ("/api/v1/incidents".to_string(), r#"{"title": "Delayed"#),
        ("/api/v1/incidents".to_string(), "not json at all"),
        ("/api/v1/incidents".to_string(), ""),
        (
            format!("/api/v1/incidents/{id}/updates"),
            r#"{"message": "m",}"#,
        ),
        ("/api/v1/components".to_string(), "{"),
        (
            "/api/v1/components".to_string(),
            r#"{"name": "Wiki"} {"name": "Other"}"#,
        ),
        (
            "/api/v1/components".to_string(),
            r#"{"name": "Wiki"} garbage"#,
        ),
    ] {
        app.raw(Method::POST, &path)
            .admin()
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .assert_error(400, "malformed_json", None);
    }
    assert_eq!(app.snapshot().await, before);

    app.stop().await;
}

#[tokio::test]
async fn only_json_is_accepted() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let body = serde_json::to_vec(&mail_incident(&smtp)).unwrap();
    let before = app.snapshot().await;

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = app
            .raw(Method::POST, "/api/v1/incidents")
            .admin()
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        request
            .send()
            .await
            .assert_error(415, "unsupported_media_type", None);
    }
    app.raw(Method::PATCH, &format!("/api/v1/components/{smtp}"))
        .admin()
        .header("Content-Type", "text/plain")
        .body(r#"{"status": "major_outage"}"#)
        .send()
        .await
        .assert_error(415, "unsupported_media_type", None);
    assert_eq!(app.snapshot().await, before);

    // A charset parameter is still JSON.
    app.raw(Method::POST, "/api/v1/incidents")
        .admin()
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body)
        .send()
        .await
        .expect(201);

    app.stop().await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let before = app.snapshot().await;

    let mut big = mail_incident(&smtp);
    big["message"] = json!("x".repeat(64 * 1024 + 1));
    app.admin_post("/api/v1/incidents", &big)
        .await
        .assert_error(413, "payload_too_large", None);
    app.admin_post(
        &format!("/api/v1/incidents/{id}/updates"),
        &json!({"message": "y".repeat(100 * 1024), "next_update_in": 30}),
    )
    .await
    .assert_error(413, "payload_too_large", None);
    assert_eq!(app.snapshot().await, before);

    app.stop().await;
}

#[tokio::test]
async fn timeline_entries_and_incidents_cannot_be_changed_or_deleted() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let before = app.snapshot().await;
    let edit = json!({"message": "Nothing happened here.", "title": "Nothing"});

    let mut problems = Vec::new();
    let cases = [
        (Method::DELETE, format!("/api/v1/incidents/{id}")),
        (Method::PUT, format!("/api/v1/incidents/{id}")),
        (Method::PATCH, format!("/api/v1/incidents/{id}")),
        (Method::POST, format!("/api/v1/incidents/{id}")),
        (Method::PUT, format!("/api/v1/incidents/{id}/updates")),
        (Method::PATCH, format!("/api/v1/incidents/{id}/updates")),
        (Method::DELETE, format!("/api/v1/incidents/{id}/updates")),
        (Method::PUT, format!("/api/v1/incidents/{id}/corrections")),
        (
            Method::DELETE,
            format!("/api/v1/incidents/{id}/corrections"),
        ),
        (Method::DELETE, "/api/v1/incidents".to_string()),
        (Method::DELETE, format!("/api/v1/components/{smtp}")),
    ];
    for (method, path) in cases {
        let reply = app
            .raw(method.clone(), &path)
            .admin()
            .json(&edit)
            .send()
            .await;
        if let Err(problem) = reply.check_error(405, "method_not_allowed", None) {
            problems.push(format!("{method} {path}: {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "not refused as promised:\n{}",
        problems.join("\n")
    );
    assert_eq!(
        app.snapshot().await,
        before,
        "nothing may be edited or deleted"
    );

    app.stop().await;
}

#[tokio::test]
async fn an_unknown_api_path_is_404_with_the_error_shape() {
    let app = TestApp::spawn().await;
    app.admin_get("/api/v1/nothing-here")
        .await
        .assert_error(404, "not_found", None);
    app.admin_post("/api/v1/nothing-here", &json!({}))
        .await
        .assert_error(404, "not_found", None);
    app.stop().await;
}

#[tokio::test]
async fn a_follow_up_is_promised_within_a_month() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let path = format!("/api/v1/incidents/{id}/updates");
    for far in ["9999-12-30T00:00:00Z", "2026-04-04T09:00:01Z"] {
        app.admin_post(
            &path,
            &json!({"status": "resolved", "message": "Fixed.", "follow_up_at": far}),
        )
        .await
        .assert_error(422, "invalid", Some("follow_up_at"));
    }
    let resolved = app
        .admin_post(
            &path,
            &json!({"status": "resolved", "message": "Fixed.", "follow_up_at": "2026-03-11T09:00:00Z"}),
        )
        .await
        .expect(201);
    assert_eq!(resolved["status"], "resolved");
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = TestApp::spawn().await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let reply = app
            .raw(Method::GET, "/api/v1/components")
            .header("Authorization", &format!("{scheme} {ADMIN_TOKEN}"))
            .send()
            .await;
        reply.expect(200);
    }
}
