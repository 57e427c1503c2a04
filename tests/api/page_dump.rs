//! A realistic morning, rendered. With `CANDOR_PAGE_DUMP=<dir>` the pages are
//! written there for CI's HTML validator; without it the test still checks
//! that they say the right things.

use serde_json::json;

use crate::helpers::{assert_shows, id_of, unknown_id_like, visible_text, TestApp, PASSWORD};

pub struct Scenario {
    pub open_id: String,
    pub resolved_id: String,
}

/// Four components; a VPN incident opened and resolved; a mail incident
/// still open with a moved ETA and a corrected cause. Ends at 11:45 CET.
/// Staff messages hold no clock times, so any time on the page is Candor's.
pub async fn build_scenario(app: &TestApp) -> Scenario {
    let mut ids = Vec::new();
    for (position, name) in ["Outbound SMTP", "Mailboxes", "VPN", "Intranet"]
        .iter()
        .enumerate()
    {
        let created = app
            .admin_post(
                "/api/v1/components",
                &json!({"name": name, "description": format!("{name} for all offices"), "position": position + 1}),
            )
            .await
            .expect(201);
        ids.push(id_of(&created));
    }
    let (smtp, mailboxes, vpn) = (&ids[0], &ids[1], &ids[2]);

    let vpn_incident = app
        .open_incident(&json!({
            "title": "VPN drops connections",
            "impact": "minor",
            "status": "investigating",
            "owner": {"name": "Kim (Network)", "email": "kim@acme.test"},
            "next_update_in": 30,
            "components": {vpn: "degraded_performance"},
            "message": "Some people are thrown off the VPN every few minutes."
        }))
        .await;
    let resolved_id = id_of(&vpn_incident);
    app.advance_minutes(20);
    app.post_update(
        &resolved_id,
        &json!({"status": "identified", "cause": "A faulty firewall rule",
                "message": "A firewall rule from last night cuts idle connections.", "next_update_in": 30}),
    )
    .await;
    app.advance_minutes(20);
    app.post_update(
        &resolved_id,
        &json!({"status": "resolved", "message": "The rule was reverted. The VPN is stable again."}),
    )
    .await;

    app.advance_minutes(5); // 09:45Z
    let mail = app
        .open_incident(&json!({
            "title": "Delayed outbound email",
            "impact": "minor",
            "status": "investigating",
            "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"},
            "next_update_in": 30,
            "components": {smtp: "partial_outage", mailboxes: "degraded_performance"},
            "message": "Mail to outside addresses is **delayed**. Internal mail works."
        }))
        .await;
    let open_id = id_of(&mail);
    app.advance_minutes(15); // 10:00Z
    let identified = app
        .post_update(
            &open_id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "eta": "2026-03-04T14:00:00Z", "next_update_in": 30,
                    "message": "The relay's certificate expired. A new one is on its way."}),
        )
        .await;
    app.advance_minutes(20); // 10:20Z
    app.post_update(
        &open_id,
        &json!({"eta": "2026-03-04T15:00:00Z", "next_update_in": 30,
                "message": "The certificate authority is slow; we need an hour more."}),
    )
    .await;
    app.advance_minutes(22); // 10:42Z
    app.correct(
        &open_id,
        &json!({"corrects": identified["id"], "cause": "A DNS change",
                "message": "The cause given earlier was wrong: a DNS change broke the relay's lookups."}),
    )
    .await;
    app.advance_minutes(3); // 10:45Z = 11:45 CET
    Scenario {
        open_id,
        resolved_id,
    }
}

#[tokio::test]
async fn pages_for_the_validator() {
    let app = TestApp::spawn().await;
    let scenario = build_scenario(&app).await;
    let missing = unknown_id_like(&scenario.open_id);

    let pages = [
        ("index.html", "/".to_string(), 200),
        (
            "incident.html",
            format!("/incidents/{}", scenario.open_id),
            200,
        ),
        ("history.html", "/history".to_string(), 200),
        ("not-found.html", format!("/incidents/{missing}"), 404),
        ("api-docs.html", "/api/docs".to_string(), 200),
    ];
    let mut fetched = Vec::new();
    for (file, path, expected) in &pages {
        let (status, html) = app.page(path).await;
        assert_eq!(status, *expected, "GET {path}: {html}");
        fetched.push((file, html));
    }

    dump(&fetched);

    let index = visible_text(&fetched[0].1);
    assert_shows(&index, "Acme IT");
    assert_shows(&index, "Partial system outage");
    assert_shows(&index, "Delayed outbound email");
    assert_shows(&index, "Owner: Dana (IT Ops)");
    assert_shows(&index, "Cause: A DNS change");
    assert_shows(&index, "ETA: 16:00 CET (was 15:00; moved once)");
    assert_shows(&index, "Next update by 11:50 CET");

    let incident = visible_text(&fetched[1].1);
    assert_shows(
        &incident,
        "The relay's certificate expired. A new one is on its way.",
    );
    assert_shows(&incident, "Corrected by the entry of 11:42");
    assert_shows(
        &incident,
        "Mail to outside addresses is delayed. Internal mail works.",
    );

    let history = visible_text(&fetched[2].1);
    assert_shows(&history, "March 2026");
    assert_shows(&history, "VPN drops connections");

    app.stop().await;
}

/// Writes the pages to `CANDOR_PAGE_DUMP`, when it is set.
fn dump(pages: &[(&&str, String)]) {
    if let Some(dir) = std::env::var_os("CANDOR_PAGE_DUMP") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("create the page dump folder");
        for (file, html) in pages {
            std::fs::write(dir.join(file), html).expect("write a page");
        }
        eprintln!("wrote {} pages to {}", pages.len(), dir.display());
    }
}

/// The console's pages in the same morning: the login page, the
/// dashboard, the open form with its problems, and the open incident with
/// a preview of an update.
#[tokio::test]
async fn console_pages_for_the_validator() {
    let app = TestApp::spawn().await;
    let scenario = build_scenario(&app).await;
    app.create_user("dana@acme.test", "Dana (IT Ops)", "admin", Some(PASSWORD))
        .await;
    let login = app.browser().get("/admin/login").await;
    assert_eq!(login.status, 200);
    let mut dana = app.logged_in("dana@acme.test").await;
    let dashboard = dana.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    let problems = dana
        .submit(
            "/admin/incidents/new",
            "/admin/incidents",
            &[("title", ""), ("next_update", "")],
        )
        .await;
    assert_eq!(problems.status, 422);
    let path = format!("/admin/incidents/{}", scenario.open_id);
    let preview = dana
        .submit(
            &path,
            &format!("{path}/updates"),
            &[
                ("message", "Still waiting for the certificate."),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text());
    let users = dana.get("/admin/users").await;
    assert_eq!(users.status, 200);
    let components = dana.get("/admin/components").await;
    assert_eq!(components.status, 200);
    let subscribers = dana.get("/admin/subscribers").await;
    assert_eq!(subscribers.status, 200);
    let audit = dana.get("/admin/audit").await;
    assert_eq!(audit.status, 200);
    let maintenance = dana.get("/admin/maintenances/new").await;
    assert_eq!(maintenance.status, 200);
    let tokens = dana.get("/admin/tokens").await;
    assert_eq!(tokens.status, 200);
    let alerts = dana.get("/admin/alerts").await;
    assert_eq!(alerts.status, 200);
    dump(&[
        (&"console-login.html", login.html),
        (&"console-dashboard.html", dashboard.html),
        (&"console-open-problems.html", problems.html),
        (&"console-incident-preview.html", preview.html),
        (&"console-users.html", users.html),
        (&"console-components.html", components.html),
        (&"console-subscribers.html", subscribers.html),
        (&"console-audit.html", audit.html),
        (&"console-maintenance.html", maintenance.html),
        (&"console-tokens.html", tokens.html),
        (&"console-alerts.html", alerts.html),
    ]);
    app.stop().await;
}
