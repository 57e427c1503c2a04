//! Text that breaks a rule is refused where it enters, and text already
//! stored (by an older Candor) never takes the page or later writes down.

use serde_json::{json, Value};

use crate::helpers::*;

fn incident_titled(title: &str, owner: &str, component_id: &str) -> Value {
    let mut body = mail_incident(component_id);
    body["title"] = json!(title);
    body["owner"]["name"] = json!(owner);
    body
}

#[tokio::test]
async fn a_lone_carriage_return_in_a_one_line_field_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound mail").await;
    for (title, owner, field) in [
        ("Mail\rdelays", "Dana (IT Ops)", "title"),
        ("Mail delays", "Dana\r(IT Ops)", "owner.name"),
        ("Mail\u{2028}delays", "Dana (IT Ops)", "title"),
    ] {
        app.admin_post("/api/v1/incidents", &incident_titled(title, owner, &smtp))
            .await
            .assert_error(422, "invalid", Some(field));
    }
    assert!(app.incidents("open").await.is_empty());
    // The site still works, and so do writes.
    assert_eq!(app.page("/").await.0, 200);
    app.open_incident(&mail_incident(&smtp)).await;
    assert_eq!(app.page("/api/v2/summary.json").await.0, 200);
}

#[tokio::test]
async fn titles_that_show_nothing_or_read_backwards_are_refused() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound mail").await;
    for title in ["\u{200B}\u{200D}\u{FEFF}", "Invoice \u{202E}fdp.exe"] {
        app.admin_post(
            "/api/v1/incidents",
            &incident_titled(title, "Dana (IT Ops)", &smtp),
        )
        .await
        .assert_error(422, "invalid", Some("title"));
    }
}

/// What an older Candor stored before line breaks were refused: the
/// title and owner of an incident and its first entry hold a bare "\n".
async fn store_a_title_with_a_line_break(app: &TestApp, incident_id: &str) {
    let nl = if app.db.url.starts_with("sqlite:") {
        "char(92) || 'n'"
    } else {
        "chr(92) || 'n'"
    };
    app.run_sql(&format!(
        "UPDATE incidents SET state = replace(replace(state, 'Delayed outbound', 'Delayed' || {nl} || 'outbound'), \
           'Dana (IT Ops)', 'Dana' || {nl} || '(IT Ops)') WHERE id = '{incident_id}';
         UPDATE entries SET state = replace(state, 'Delayed outbound', 'Delayed' || {nl} || 'outbound') \
           WHERE incident_id = '{incident_id}';"
    ))
    .await;
}

#[tokio::test]
async fn a_title_stored_with_a_line_break_breaks_neither_the_pages_nor_later_writes() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound mail").await;
    let vpn = app.create_component("VPN").await;
    let poisoned = id_of(&app.open_incident(&mail_incident(&smtp)).await);
    let mut other = mail_incident(&vpn);
    other["title"] = json!("VPN down");
    let other = id_of(&app.open_incident(&other).await);
    store_a_title_with_a_line_break(&app, &poisoned).await;

    // Every reader's view answers, with the title on one line.
    for path in [
        "/",
        &format!("/incidents/{poisoned}"),
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/feed.atom",
        "/feed.rss",
    ] {
        let (status, body) = app.page(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.contains("Delayed outbound email"), "{path}: {body}");
    }
    let listed = app.incidents("open").await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        app.incident(&poisoned).await["owner"]["name"],
        "Dana (IT Ops)"
    );

    // Writes to the other incident and to this one go on.
    app.post_update(
        &other,
        &json!({"message": "Still on it.", "next_update_in": 30}),
    )
    .await;
    app.post_update(
        &poisoned,
        &json!({"message": "Found it.", "next_update_in": 30, "cause": "A full queue"}),
    )
    .await;
    app.admin_post("/api/v1/components", &json!({"name": "Wiki"}))
        .await
        .expect(201);
}

#[tokio::test]
async fn an_entry_that_cannot_be_read_stops_only_its_own_mail() {
    let mailbox = crate::helpers::mailbox::Mailbox::start();
    let app = TestApp::spawn_with_smtp(&mailbox).await;
    let smtp = app.create_component("Outbound mail").await;
    app.add_confirmed("reader@example.test", &[]).await;
    app.pause_worker();
    let broken = id_of(&app.open_incident(&mail_incident(&smtp)).await);
    app.run_sql(&format!(
        "UPDATE entries SET diff = 'not json' WHERE incident_id = '{broken}'"
    ))
    .await;
    let mut other = mail_incident(&smtp);
    other["title"] = json!("VPN down");
    app.open_incident(&other).await;
    app.drain_outbox().await;

    let mails = mailbox.wait_for("reader@example.test", 1).await;
    assert!(
        mails[0].subject.contains("VPN down"),
        "{}",
        mails[0].subject
    );
    let report = app.deliveries(&broken).await;
    assert_eq!(report["totals"]["dead"], 1, "{report}");
}
