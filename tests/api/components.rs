//! Components: what the page lists, and what incidents affect.

use serde_json::json;

use crate::helpers::{assert_ts, id_of, mail_incident, unknown_id_like, TestApp, START};

#[tokio::test]
async fn a_new_component_is_operational_and_listed() {
    let app = TestApp::spawn().await;

    let created = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Outbound mail", "description": "SMTP relay", "position": 1}),
        )
        .await
        .expect(201);

    assert_eq!(created["name"], "Outbound mail");
    assert_eq!(created["description"], "SMTP relay");
    assert_eq!(created["group_id"], serde_json::Value::Null);
    assert_eq!(created["position"], 1);
    assert_eq!(created["status"], "operational");
    assert_ts(&created["created_at"], START);
    assert_ts(&created["updated_at"], START);

    let id = id_of(&created);
    assert_eq!(
        app.component(&id).await,
        created,
        "GET shows what POST returned"
    );

    let list = app.admin_get("/api/v1/components").await.expect(200);
    assert_eq!(list["next_cursor"], serde_json::Value::Null);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["items"][0], created);

    app.stop().await;
}

#[tokio::test]
async fn a_component_can_sit_in_a_group() {
    let app = TestApp::spawn().await;
    let group = app.create_component("Mail").await;

    let child = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Outbound mail", "group_id": group}),
        )
        .await
        .expect(201);
    assert_eq!(id_of(&json!({"id": child["group_id"]})), group);

    let before = app.snapshot().await;
    app.admin_post(
        "/api/v1/components",
        &json!({"name": "Inbound mail", "group_id": unknown_id_like(&group)}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    assert_eq!(
        app.snapshot().await,
        before,
        "a refused component must not be stored"
    );

    app.stop().await;
}

#[tokio::test]
async fn patch_changes_name_position_and_status() {
    let app = TestApp::spawn().await;
    let id = app.create_component("Outbound mail").await;
    app.advance_minutes(5);

    let changed = app
        .admin_patch(
            &format!("/api/v1/components/{id}"),
            &json!({"name": "Outbound email", "description": "The relay", "position": 7, "status": "major_outage"}),
        )
        .await
        .expect(200);
    assert_eq!(changed["name"], "Outbound email");
    assert_eq!(changed["description"], "The relay");
    assert_eq!(changed["position"], 7);
    assert_eq!(changed["status"], "major_outage");
    assert_ts(&changed["created_at"], START);
    assert_ts(&changed["updated_at"], "2026-03-04T09:05:00Z");
    assert_eq!(app.component(&id).await, changed);

    // Only what is sent changes.
    let again = app
        .admin_patch(
            &format!("/api/v1/components/{id}"),
            &json!({"status": "operational"}),
        )
        .await
        .expect(200);
    assert_eq!(again["name"], "Outbound email");
    assert_eq!(again["position"], 7);
    assert_eq!(again["status"], "operational");

    app.stop().await;
}

#[tokio::test]
async fn every_component_status_is_accepted() {
    let app = TestApp::spawn().await;
    let id = app.create_component("Outbound mail").await;
    for status in [
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
        "operational",
    ] {
        let changed = app.set_component_status(&id, status).await;
        assert_eq!(changed["status"], status);
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_component_requests_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let id = app.create_component("Outbound mail").await;
    let before = app.snapshot().await;

    let mut problems = Vec::new();
    let cases = [
        ("POST", "/api/v1/components".to_string(), json!({}), "name"),
        (
            "POST",
            "/api/v1/components".to_string(),
            json!({"name": ""}),
            "name",
        ),
        (
            "POST",
            "/api/v1/components".to_string(),
            json!({"name": "  "}),
            "name",
        ),
        (
            "POST",
            "/api/v1/components".to_string(),
            json!({"name": "X", "colour": "red"}),
            "colour",
        ),
        (
            "POST",
            "/api/v1/components".to_string(),
            json!({"name": "X", "status": "on_fire"}),
            "status",
        ),
        (
            "PATCH",
            format!("/api/v1/components/{id}"),
            json!({"status": "on_fire"}),
            "status",
        ),
        (
            "PATCH",
            format!("/api/v1/components/{id}"),
            json!({"name": ""}),
            "name",
        ),
        (
            "PATCH",
            format!("/api/v1/components/{id}"),
            json!({"colour": "red"}),
            "colour",
        ),
    ];
    for (method, path, body, field) in cases {
        let reply = if method == "POST" {
            app.admin_post(&path, &body).await
        } else {
            app.admin_patch(&path, &body).await
        };
        if let Err(problem) = reply.check_error(422, "invalid", Some(field)) {
            problems.push(format!("{method} {path} {body}: {problem}"));
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
async fn an_unknown_component_is_404() {
    let app = TestApp::spawn().await;
    let id = app.create_component("Outbound mail").await;
    let missing = unknown_id_like(&id);

    app.admin_get(&format!("/api/v1/components/{missing}"))
        .await
        .assert_error(404, "not_found", None);
    app.admin_patch(
        &format!("/api/v1/components/{missing}"),
        &json!({"status": "major_outage"}),
    )
    .await
    .assert_error(404, "not_found", None);
    app.admin_get("/api/v1/components/no-such-component")
        .await
        .assert_error(404, "not_found", None);

    app.stop().await;
}

/// A component two open incidents hold down stays down until both are
/// resolved: resolving one gives it the status the other still claims, not
/// "operational" (the page would say it works while an incident says not).
#[tokio::test]
async fn a_component_held_by_two_incidents_recovers_only_when_both_are_resolved() {
    let app = TestApp::spawn().await;
    let vpn = app.create_component("VPN").await;
    let incident = |title: &str, status: &str| {
        let mut body = mail_incident(&vpn);
        body["title"] = json!(title);
        body["components"] = json!({ vpn.as_str(): status });
        body
    };
    let outage = id_of(
        &app.open_incident(&incident("VPN down in Berlin", "major_outage"))
            .await,
    );
    let slow = id_of(
        &app.open_incident(&incident("VPN slow in Paris", "degraded_performance"))
            .await,
    );
    assert_eq!(app.component(&vpn).await["status"], "degraded_performance");

    let resolve = json!({"status": "resolved", "message": "Fixed."});
    app.post_update(&slow, &resolve).await;
    assert_eq!(
        app.component(&vpn).await["status"],
        "major_outage",
        "Berlin's incident still holds the VPN down"
    );
    assert!(app.page_text("/").await.contains("Major outage"));

    app.post_update(&outage, &resolve).await;
    assert_eq!(app.component(&vpn).await["status"], "operational");

    // The other way round: the worse one resolved first leaves the milder.
    let outage = id_of(
        &app.open_incident(&incident("VPN down again", "major_outage"))
            .await,
    );
    let slow = id_of(
        &app.open_incident(&incident("VPN slow again", "degraded_performance"))
            .await,
    );
    app.post_update(&outage, &resolve).await;
    assert_eq!(app.component(&vpn).await["status"], "degraded_performance");
    app.post_update(&slow, &resolve).await;
    assert_eq!(app.component(&vpn).await["status"], "operational");
    app.stop().await;
}

#[tokio::test]
async fn groups_are_one_level_deep_and_cannot_loop() {
    let app = TestApp::spawn().await;
    let mail = app.create_component("Mail").await;
    let network = app.create_component("Network").await;
    let outbound = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Outbound mail", "group_id": mail}),
        )
        .await
        .expect(201);
    let outbound = id_of(&outbound);
    // Into a member: a second level.
    app.admin_post(
        "/api/v1/components",
        &json!({"name": "Relay", "group_id": outbound}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    app.admin_patch(
        &format!("/api/v1/components/{network}"),
        &json!({"group_id": outbound}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    // A group into another group, and the loop that would close.
    app.admin_patch(
        &format!("/api/v1/components/{mail}"),
        &json!({"group_id": network}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    app.admin_patch(
        &format!("/api/v1/components/{mail}"),
        &json!({"group_id": outbound}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    app.admin_patch(
        &format!("/api/v1/components/{mail}"),
        &json!({"group_id": mail}),
    )
    .await
    .assert_error(422, "invalid", Some("group_id"));
    // Moving a member to another group is fine.
    let moved = app
        .admin_patch(
            &format!("/api/v1/components/{outbound}"),
            &json!({"group_id": network}),
        )
        .await
        .expect(200);
    assert_eq!(moved["group_id"], json!(network));
}

#[tokio::test]
async fn components_nested_deeper_by_older_data_are_all_shown() {
    let app = TestApp::spawn().await;
    let a = app.create_component("Campus").await;
    let b = app.create_component("Building B").await;
    let c = app.create_component("Floor 3 wifi").await;
    let d = app.create_component("Loop one").await;
    let e = app.create_component("Loop two").await;
    app.run_sql(&format!(
        "UPDATE components SET group_id = '{a}' WHERE id = '{b}';
         UPDATE components SET group_id = '{b}' WHERE id = '{c}';
         UPDATE components SET group_id = '{e}' WHERE id = '{d}';
         UPDATE components SET group_id = '{d}' WHERE id = '{e}';
         UPDATE meta SET value = value + 1 WHERE key = 'page_version';"
    ))
    .await;
    app.set_component_status(&c, "major_outage").await;
    let page = app.page_text("/").await;
    for name in [
        "Campus",
        "Building B",
        "Floor 3 wifi",
        "Loop one",
        "Loop two",
    ] {
        crate::helpers::assert_shows(&page, name);
    }
    crate::helpers::assert_shows(&page, "Major outage");
    let summary = app.page("/api/v2/summary.json").await.1;
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let listed = summary["components"].as_array().unwrap();
    assert_eq!(listed.len(), 5, "{summary}");
    let floor = listed.iter().find(|x| x["id"] == json!(c)).unwrap();
    assert_eq!(
        floor["group_id"],
        json!(a),
        "shown under its top-most group"
    );
    assert_eq!(floor["status"], "major_outage");
}

#[tokio::test]
async fn staff_list_subscribers_by_address_state_and_component() {
    let app = TestApp::spawn().await;
    let network = app.create_component("Network").await;
    let vpn = id_of(
        &app.admin_post(
            "/api/v1/components",
            &json!({"name": "VPN", "group_id": network}),
        )
        .await
        .expect(201),
    );
    let mail = app.create_component("Mail").await;
    app.add_confirmed("all@example.test", &[]).await;
    app.add_confirmed("vpn@example.test", &[&vpn]).await;
    app.add_confirmed("network@example.test", &[&network]).await;
    app.add_confirmed("mail@example.test", &[&mail]).await;
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"email": "Pending@Example.test"}),
    )
    .await
    .expect(201);
    let addresses = |list: serde_json::Value| -> Vec<String> {
        let mut found: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["address"].as_str().unwrap().to_string())
            .collect();
        found.sort();
        found
    };
    let told_of_vpn = app
        .admin_get(&format!(
            "/api/v1/subscribers?component={vpn}&state=confirmed"
        ))
        .await
        .expect(200);
    assert_eq!(
        addresses(told_of_vpn),
        [
            "all@example.test",
            "network@example.test",
            "vpn@example.test"
        ]
    );
    let pending = app
        .admin_get("/api/v1/subscribers?state=pending")
        .await
        .expect(200);
    assert_eq!(addresses(pending), ["pending@example.test"]);
    let by_prefix = app
        .admin_get("/api/v1/subscribers?address=PEND")
        .await
        .expect(200);
    assert_eq!(addresses(by_prefix), ["pending@example.test"]);
    // A wildcard typed is a character like any other.
    let wildcard = app
        .admin_get("/api/v1/subscribers?address=%25")
        .await
        .expect(200);
    assert!(addresses(wildcard).is_empty());
    app.admin_get("/api/v1/subscribers?state=asleep")
        .await
        .assert_error(422, "invalid", Some("state"));
}
