//! The Statuspage-compatible JSON under `/api/v2/`: the paths, fields and
//! values that Statuspage widgets and clients read
//! (shared/reference/statuspage-v2.md), plus Candor's `candor` facts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{at, entries, id_of, mail_incident, TestApp};

/// Every path and the top-level keys it must have.
const PATHS: [(&str, &[&str]); 8] = [
    (
        "/api/v2/summary.json",
        &[
            "page",
            "components",
            "incidents",
            "scheduled_maintenances",
            "status",
        ],
    ),
    ("/api/v2/status.json", &["page", "status"]),
    ("/api/v2/components.json", &["page", "components"]),
    ("/api/v2/incidents.json", &["page", "incidents"]),
    ("/api/v2/incidents/unresolved.json", &["page", "incidents"]),
    (
        "/api/v2/scheduled-maintenances.json",
        &["page", "scheduled_maintenances"],
    ),
    (
        "/api/v2/scheduled-maintenances/upcoming.json",
        &["page", "scheduled_maintenances"],
    ),
    (
        "/api/v2/scheduled-maintenances/active.json",
        &["page", "scheduled_maintenances"],
    ),
];

/// A public GET (no token) that must answer 200 with JSON.
async fn get(app: &TestApp, path: &str) -> Value {
    let reply = app.raw(Method::GET, path).send().await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    assert!(
        reply.content_type().starts_with("application/json"),
        "GET {path}: content-type {}",
        reply.content_type()
    );
    reply.body
}

/// The exact Statuspage timestamp form: `2026-03-04T09:00:00.000Z`.
#[track_caller]
fn assert_millis(value: &Value, expected: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected a timestamp string, got {value}"));
    assert_eq!(
        text.len(),
        24,
        "{text:?} is not of the form 2026-03-04T09:00:00.000Z"
    );
    assert_eq!(&text[19..20], ".", "{text:?} has no milliseconds");
    assert!(text.ends_with('Z'), "{text:?} does not end in Z");
    assert_eq!(
        text.parse::<jiff::Timestamp>().unwrap(),
        at(expected),
        "{text} != {expected}"
    );
}

fn status(body: &Value) -> (String, String) {
    (
        body["status"]["indicator"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
        body["status"]["description"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
    )
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list}"))
        .iter()
        .map(id_of)
        .collect()
}

#[tokio::test]
async fn every_path_answers_without_a_token_with_the_right_keys() {
    let app = TestApp::spawn().await;
    for (path, keys) in PATHS {
        let body = get(&app, path).await;
        let object = body.as_object().unwrap_or_else(|| panic!("{path}: {body}"));
        let mut got: Vec<&str> = object.keys().map(String::as_str).collect();
        got.sort();
        let mut want = keys.to_vec();
        want.sort();
        assert_eq!(got, want, "{path}");
        let page = &body["page"];
        assert_eq!(page["id"], "acme-it", "{path}");
        assert_eq!(page["name"], "Acme IT", "{path}");
        assert_eq!(page["url"], app.address.as_str(), "{path}");
        assert_eq!(page["time_zone"], "Europe/Berlin", "{path}");
        // Nothing has happened yet: the page is as new as the clock.
        assert_millis(&page["updated_at"], "2026-03-04T09:00:00Z");
        if let Some(list) = body.get("scheduled_maintenances") {
            assert_eq!(list, &json!([]), "{path}");
        }
        if let Some(list) = body.get("incidents") {
            assert_eq!(list, &json!([]), "{path}");
        }
    }
    let body = get(&app, "/api/v2/status.json").await;
    assert_eq!(
        status(&body),
        ("none".into(), "All Systems Operational".into())
    );

    // An unknown path under /api/v2 answers like the API, not with a page.
    let reply = app.raw(Method::GET, "/api/v2/nothing.json").send().await;
    reply.assert_error(404, "not_found", None);
    let reply = app
        .raw(Method::POST, "/api/v2/summary.json")
        .json(&json!({}))
        .send()
        .await;
    reply.assert_error(405, "method_not_allowed", None);
    app.stop().await;
}

#[tokio::test]
async fn any_site_may_read_it_from_a_browser() {
    let app = TestApp::spawn().await;
    for (path, _) in PATHS {
        let reply = app
            .raw(Method::GET, path)
            .header("Origin", "https://intranet.example.test")
            .send()
            .await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.headers["access-control-allow-origin"], "*",
            "GET {path}"
        );

        let preflight = app
            .raw(Method::OPTIONS, path)
            .header("Origin", "https://intranet.example.test")
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "accept")
            .send()
            .await;
        assert!(
            (200..300).contains(&preflight.status),
            "OPTIONS {path}: {}",
            preflight.status
        );
        assert_eq!(
            preflight.headers["access-control-allow-origin"], "*",
            "OPTIONS {path}"
        );
        let methods = preflight.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(methods.contains("GET"), "OPTIONS {path}: {methods}");
    }
    // The admin API is not opened to other sites.
    let reply = app
        .raw(Method::GET, "/api/v1/components")
        .admin()
        .header("Origin", "https://intranet.example.test")
        .send()
        .await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());
    app.stop().await;
}

#[tokio::test]
async fn components_show_groups_and_members() {
    let app = TestApp::spawn().await;
    let email = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Email", "position": 1}),
        )
        .await
        .expect(201);
    let email = id_of(&email);
    app.advance_minutes(1);
    let smtp = app
        .admin_post(
            "/api/v1/components",
            &json!({"name": "Outbound SMTP", "description": "Mail relay",
                    "group_id": email, "position": 2}),
        )
        .await
        .expect(201);
    let smtp = id_of(&smtp);
    app.advance_minutes(1);
    app.set_component_status(&smtp, "partial_outage").await;

    let body = get(&app, "/api/v2/components.json").await;
    assert_millis(&body["page"]["updated_at"], "2026-03-04T09:02:00Z");
    let components = body["components"].as_array().unwrap();
    assert_eq!(ids(&body["components"]), vec![email.clone(), smtp.clone()]);

    let group = &components[0];
    assert_eq!(group["name"], "Email");
    assert_eq!(group["group"], true);
    assert_eq!(group["components"], json!([smtp]));
    assert_eq!(group["group_id"], Value::Null);
    assert_eq!(group["description"], Value::Null);
    assert_eq!(group["position"], 1);

    let member = &components[1];
    let expected = json!({
        "id": smtp, "name": "Outbound SMTP", "status": "partial_outage",
        "created_at": "2026-03-04T09:01:00.000Z", "updated_at": "2026-03-04T09:02:00.000Z",
        "position": 2, "description": "Mail relay", "showcase": true,
        "start_date": "2026-03-04", "group_id": email, "page_id": "acme-it",
        "group": false, "only_show_if_degraded": false
    });
    assert_eq!(
        member, &expected,
        "a member has exactly Statuspage's fields"
    );

    // summary.json carries the same components.
    let summary = get(&app, "/api/v2/summary.json").await;
    assert_eq!(summary["components"], body["components"]);
    app.stop().await;
}

#[tokio::test]
async fn the_indicator_follows_the_worst_component_status() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.create_component("Mailboxes").await;
    for (component_status, indicator, description) in [
        ("degraded_performance", "minor", "Minor Service Outage"),
        ("partial_outage", "major", "Partial System Outage"),
        ("major_outage", "critical", "Major System Outage"),
        (
            "under_maintenance",
            "maintenance",
            "Service Under Maintenance",
        ),
        ("operational", "none", "All Systems Operational"),
    ] {
        app.set_component_status(&smtp, component_status).await;
        for path in ["/api/v2/status.json", "/api/v2/summary.json"] {
            let body = get(&app, path).await;
            assert_eq!(
                status(&body),
                (indicator.to_string(), description.to_string()),
                "{path} with a component {component_status}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_indicator_follows_the_worst_open_impact() {
    let app = TestApp::spawn().await;
    app.create_component("Outbound SMTP").await;
    // An open incident of impact `none` (a notice) leaves the indicator at
    // `none`, as on Statuspage; the page banner agrees (domain::facts::Overall).
    for (impact, indicator, description) in [
        ("none", "none", "All Systems Operational"),
        ("minor", "minor", "Minor Service Outage"),
        ("major", "major", "Partial System Outage"),
        ("critical", "critical", "Major System Outage"),
    ] {
        let incident = app
            .open_incident(&json!({
                "title": format!("A {impact} problem"),
                "impact": impact,
                "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
                "next_update_in": 30,
            }))
            .await;
        let body = get(&app, "/api/v2/status.json").await;
        assert_eq!(
            status(&body),
            (indicator.to_string(), description.to_string()),
            "with one open {impact} incident"
        );
        let summary = get(&app, "/api/v2/summary.json").await;
        assert_eq!(summary["status"], body["status"]);
        assert_eq!(summary["incidents"][0]["impact"], impact);

        app.post_update(
            &id_of(&incident),
            &json!({"status": "resolved", "message": "Fixed."}),
        )
        .await;
        let body = get(&app, "/api/v2/status.json").await;
        assert_eq!(
            status(&body),
            ("none".into(), "All Systems Operational".into()),
            "after resolving the {impact} incident"
        );
    }

    // The worst of several open incidents wins.
    for impact in ["minor", "critical", "major"] {
        app.open_incident(&json!({
            "title": format!("A {impact} problem"),
            "impact": impact,
            "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
            "next_update_in": 30,
        }))
        .await;
    }
    let body = get(&app, "/api/v2/status.json").await;
    assert_eq!(status(&body).0, "critical");
    app.stop().await;
}

#[tokio::test]
async fn an_incident_has_statuspage_fields_and_candor_facts() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let opened = app.open_mail_incident(&smtp).await;
    let id = id_of(&opened);
    app.advance_minutes(20);
    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "eta": "2026-03-04T12:00:00Z", "next_update_in": 30,
                "message": "The relay certificate expired."}),
    )
    .await;
    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T13:00:00Z", "next_update_in": 30,
                "message": "Renewal takes longer."}),
    )
    .await;
    let admin = app.incident(&id).await;
    let admin_entries = entries(&admin);

    let summary = get(&app, "/api/v2/summary.json").await;
    assert_millis(&summary["page"]["updated_at"], "2026-03-04T09:30:00Z");
    assert_eq!(summary["incidents"].as_array().unwrap().len(), 1);
    let incident = &summary["incidents"][0];
    assert_eq!(incident["id"], id.as_str());
    assert_eq!(incident["name"], "Delayed outbound email");
    assert_eq!(incident["status"], "identified");
    assert_eq!(incident["impact"], "minor");
    assert_millis(&incident["created_at"], "2026-03-04T09:00:00Z");
    assert_millis(&incident["updated_at"], "2026-03-04T09:30:00Z");
    assert_millis(&incident["started_at"], "2026-03-04T09:00:00Z");
    assert_eq!(incident["monitoring_at"], Value::Null);
    assert_eq!(incident["resolved_at"], Value::Null);
    assert_eq!(
        incident["shortlink"],
        format!("{}/incidents/{id}", app.address)
    );
    assert_eq!(incident["page_id"], "acme-it");
    assert_eq!(
        incident["components"],
        json!([{"id": smtp, "name": "Outbound SMTP", "status": "partial_outage"}])
    );
    assert_eq!(
        incident["candor"],
        json!({
            "owner": "Dana (IT Ops)",
            "cause": "Expired relay certificate",
            "eta": "2026-03-04T13:00:00.000Z",
            "eta_history": ["2026-03-04T12:00:00.000Z", "2026-03-04T13:00:00.000Z"],
            "next_update_at": "2026-03-04T10:00:00.000Z",
            "overdue": false,
            "eta_passed": false
        })
    );

    // Updates: one per entry, newest first, as the admin API lists them.
    let updates = incident["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 3);
    assert_eq!(
        ids(&incident["incident_updates"]),
        admin_entries.iter().map(id_of).collect::<Vec<_>>()
    );
    let newest = &updates[0];
    assert_eq!(
        newest,
        &json!({
            "id": id_of(&admin_entries[0]), "incident_id": id, "status": "identified",
            "body": "Renewal takes longer.",
            "created_at": "2026-03-04T09:30:00.000Z", "updated_at": "2026-03-04T09:30:00.000Z",
            "display_at": "2026-03-04T09:30:00.000Z",
            "affected_components": [], "deliver_notifications": true,
            "custom_tweet": null, "tweet_id": null,
            "candor": {"classes": ["eta_slipped"], "cause": "Expired relay certificate",
                       "eta": "2026-03-04T13:00:00.000Z",
                       "next_update_at": "2026-03-04T10:00:00.000Z",
                       "corrects": null, "system": false}
        })
    );
    let first = &updates[2];
    assert_eq!(first["status"], "investigating");
    assert_eq!(first["body"], "We are looking into delayed outbound email.");
    assert_millis(&first["display_at"], "2026-03-04T09:00:00Z");
    assert_eq!(
        first["affected_components"],
        json!([{"code": smtp, "name": "Outbound SMTP",
                "old_status": "operational", "new_status": "partial_outage"}])
    );
    assert_eq!(first["candor"]["classes"], json!(["opened"]));
    assert_eq!(first["candor"]["cause"], Value::Null);
    assert_eq!(first["candor"]["eta"], Value::Null);

    // The same incident, the same way, in the other lists.
    let unresolved = get(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"][0], *incident);
    let all = get(&app, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0], *incident);

    // Promises broken show as they break, by the clock alone.
    app.set_clock("2026-03-04T10:01:00Z");
    let body = get(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(body["incidents"][0]["candor"]["overdue"], true);
    assert_eq!(body["incidents"][0]["candor"]["eta_passed"], false);
    app.post_update(
        &id,
        &json!({"status": "monitoring", "next_update_in": 240, "message": "Renewed; watching."}),
    )
    .await;
    app.set_clock("2026-03-04T13:01:00Z");
    let body = get(&app, "/api/v2/incidents/unresolved.json").await;
    let incident = &body["incidents"][0];
    assert_eq!(incident["candor"]["overdue"], false);
    assert_eq!(incident["candor"]["eta_passed"], true);
    assert_millis(&incident["monitoring_at"], "2026-03-04T10:01:00Z");
    app.stop().await;
}

#[tokio::test]
async fn resolved_incidents_leave_the_unresolved_lists() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let old = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(5);
    app.post_update(
        &old,
        &json!({"status": "monitoring", "next_update_in": 30, "message": "Watching."}),
    )
    .await;
    app.advance_minutes(5);
    app.post_update(&old, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    app.advance_minutes(5);
    let open = id_of(
        &app.open_incident(&json!({
            "title": "VPN drops",
            "impact": "major",
            "owner": {"name": "Sam (Network)", "email": "sam@acme.test"},
            "next_update_in": 15,
        }))
        .await,
    );

    let all = get(&app, "/api/v2/incidents.json").await;
    assert_eq!(ids(&all["incidents"]), vec![open.clone(), old.clone()]);
    let resolved = &all["incidents"][1];
    assert_eq!(resolved["status"], "resolved");
    assert_millis(&resolved["resolved_at"], "2026-03-04T09:10:00Z");
    assert_millis(&resolved["monitoring_at"], "2026-03-04T09:05:00Z");
    assert_eq!(resolved["candor"]["next_update_at"], Value::Null);
    assert_eq!(resolved["candor"]["overdue"], false);
    // Resolving gave the component back.
    assert_eq!(resolved["components"][0]["status"], "operational");
    assert_eq!(
        resolved["incident_updates"][0]["affected_components"],
        json!([{"code": smtp, "name": "Outbound SMTP",
                "old_status": "partial_outage", "new_status": "operational"}])
    );
    assert_eq!(
        resolved["incident_updates"][0]["candor"]["classes"],
        json!(["resolved", "components_recovered"])
    );

    let unresolved = get(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(ids(&unresolved["incidents"]), vec![open.clone()]);
    let summary = get(&app, "/api/v2/summary.json").await;
    assert_eq!(ids(&summary["incidents"]), vec![open.clone()]);
    assert_eq!(status(&summary).0, "major");
    assert_eq!(summary["components"][0]["status"], "operational");
    app.stop().await;
}

#[tokio::test]
async fn incidents_json_lists_the_fifty_most_recent() {
    let app = TestApp::spawn().await;
    let mut opened = Vec::new();
    for n in 0..52 {
        let mut body = mail_incident("unused");
        body["components"] = json!({});
        body["title"] = json!(format!("Problem {n}"));
        opened.push(id_of(&app.open_incident(&body).await));
        app.advance_minutes(1);
    }
    let all = get(&app, "/api/v2/incidents.json").await;
    let newest_first: Vec<String> = opened.iter().rev().take(50).cloned().collect();
    assert_eq!(ids(&all["incidents"]), newest_first);
    let unresolved = get(&app, "/api/v2/incidents/unresolved.json").await;
    assert_eq!(unresolved["incidents"].as_array().unwrap().len(), 52);
    app.stop().await;
}
