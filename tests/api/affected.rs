//! "I'm affected": a reader reports a component or an open incident with
//! one button. Each reader counts once an hour per component or incident,
//! each network is rate limited, staff read the counts, and staff are
//! mailed (once an hour) when readers report a component the page shows as
//! working. Readers sit behind a trusted proxy that names them in
//! `X-Forwarded-For`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, visible_text, Reply, TestApp};

const STAFF: &str = "ops@acme.test";

async fn behind_proxy() -> TestApp {
    TestApp::spawn_with(|c| c.trusted_proxies = "127.0.0.1".into()).await
}

async fn with_staff(mailbox: &Mailbox) -> TestApp {
    let url = mailbox.url();
    TestApp::spawn_with(move |c| {
        c.trusted_proxies = "127.0.0.1".into();
        c.smtp_url = Some(candor::config::Secret::new(url));
        c.reports_to = Some(format!("IT Ops <{STAFF}>"));
    })
    .await
}

/// The button's POST, as from the reader at `reader`.
async fn report(app: &TestApp, path: &str, reader: &str) -> Reply {
    app.raw(Method::POST, path)
        .header("X-Forwarded-For", reader)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send()
        .await
}

#[track_caller]
fn assert_thanked(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    let text = visible_text(&reply.text);
    assert!(text.contains("Thank you — we have your report"), "{text}");
    text
}

async fn reports(app: &TestApp) -> Vec<Value> {
    let list = app.admin_get("/api/v1/reports").await.expect(200);
    list["items"].as_array().expect("items").clone()
}

fn counts_of<'a>(items: &'a [Value], id: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item["id"] == id)
        .unwrap_or_else(|| panic!("no reports on {id}: {items:?}"))
}

#[tokio::test]
async fn a_reader_counts_once_an_hour_and_each_reader_counts() {
    let app = behind_proxy().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let path = format!("/components/{smtp}/affected");
    let page = app.page_text("/").await;
    assert!(page.contains("I’m affected"), "{page}");
    let (_, html) = app.page("/").await;
    assert!(html.contains(&format!("action=\"{path}\"")), "{html}");

    let first = assert_thanked(&report(&app, &path, "203.0.113.5").await);
    assert!(first.contains("Outbound SMTP"), "{first}");
    // Nobody is mailed without `reports_to`, and the page does not say so.
    assert!(!first.contains("mailed"), "{first}");
    // The same reader again: taken politely, not counted, and told exactly
    // the same, so nobody learns what was counted.
    let again = assert_thanked(&report(&app, &path, "203.0.113.5").await);
    assert_eq!(first, again);
    let items = reports(&app).await;
    assert_eq!(counts_of(&items, &smtp)["last_hour"], 1, "{items:?}");

    // Another reader counts.
    app.advance_minutes(10);
    assert_thanked(&report(&app, &path, "198.51.100.7").await);
    let items = reports(&app).await;
    let counts = counts_of(&items, &smtp);
    assert_eq!(counts["kind"], "component");
    assert_eq!(counts["name"], "Outbound SMTP");
    assert_eq!(counts["status"], "operational");
    assert_eq!(counts["last_hour"], 2);
    assert_eq!(counts["last_day"], 2);
    assert_eq!(counts["first_report_at"], "2026-03-04T09:00:00Z");
    assert_eq!(counts["last_report_at"], "2026-03-04T09:10:00Z");

    // An hour after their first report, the first reader counts again.
    app.advance_minutes(50);
    assert_thanked(&report(&app, &path, "203.0.113.5").await);
    let items = reports(&app).await;
    let counts = counts_of(&items, &smtp);
    assert_eq!(counts["last_hour"], 2, "{counts}");
    assert_eq!(counts["last_day"], 3, "{counts}");
    assert_eq!(counts["last_report_at"], "2026-03-04T10:00:00Z");
    app.stop().await;
}

#[tokio::test]
async fn an_open_incident_takes_reports_and_a_resolved_one_says_so() {
    let app = behind_proxy().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let other = app.create_component("VPN").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let path = format!("/incidents/{id}/affected");
    for page in ["/", &format!("/incidents/{id}")] {
        let (_, html) = app.page(page).await;
        assert!(
            html.contains(&format!("action=\"{path}\"")),
            "{page}: {html}"
        );
    }

    let text = assert_thanked(&report(&app, &path, "203.0.113.5").await);
    assert!(text.contains("Delayed outbound email"), "{text}");
    app.advance_minutes(1);
    assert_thanked(
        &report(
            &app,
            &format!("/components/{other}/affected"),
            "203.0.113.5",
        )
        .await,
    );
    let items = reports(&app).await;
    let incident = counts_of(&items, &id);
    assert_eq!(incident["kind"], "incident");
    assert_eq!(incident["name"], "Delayed outbound email");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["last_hour"], 1);
    // It counts for the incident, not for its components; newest first.
    assert!(
        items.iter().all(|item| item["id"] != smtp.as_str()),
        "{items:?}"
    );
    assert_eq!(items[0]["id"], other.as_str(), "{items:?}");

    app.advance_minutes(1);
    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    let (_, html) = app.page(&format!("/incidents/{id}")).await;
    assert!(!html.contains(&path), "no button on a resolved incident");
    let reply = report(&app, &path, "198.51.100.7").await;
    assert_eq!(reply.status, 410, "{}", reply.text);
    assert!(
        visible_text(&reply.text).contains("This incident is resolved"),
        "{}",
        reply.text
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_components_and_incidents_get_a_page_not_an_error() {
    let app = behind_proxy().await;
    let smtp = app.create_component("Outbound SMTP").await;
    for (path, what) in [
        (
            "/components/nothing-here/affected",
            "There is no such component",
        ),
        (
            "/incidents/nothing-here/affected",
            "There is no such incident",
        ),
        ("/components/%FF%FE/affected", "There is no such component"),
    ] {
        let reply = report(&app, path, "203.0.113.5").await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert!(
            reply.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            visible_text(&reply.text).contains(what),
            "{path}: {}",
            reply.text
        );
    }
    // Opening the button's address, or posting from another site.
    let path = format!("/components/{smtp}/affected");
    let (status, html) = app.page(&path).await;
    assert_eq!(status, 405);
    assert!(visible_text(&html).contains("I’m affected"), "{html}");
    let cross = app
        .raw(Method::POST, &path)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await;
    assert_eq!(cross.status, 403, "{}", cross.text);
    assert!(reports(&app).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn too_many_reports_from_one_network_get_a_429_page() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_proxies = "127.0.0.1".into();
        c.report_limit_per_ip = "3/1m".into();
    })
    .await;
    let smtp = app.create_component("Outbound SMTP").await;
    let path = format!("/components/{smtp}/affected");
    for _ in 0..3 {
        assert_thanked(&report(&app, &path, "203.0.113.5").await);
    }
    // Addresses in one IPv6 /64 are one network.
    for reader in ["2001:db8::1", "2001:db8::2", "2001:db8::2"] {
        assert_thanked(&report(&app, &path, reader).await);
    }
    for reader in ["203.0.113.5", "2001:db8::3"] {
        let refused = report(&app, &path, reader).await;
        assert_eq!(refused.status, 429, "{}", refused.text);
        let text = visible_text(&refused.text);
        assert!(text.contains("Too many requests"), "{text}");
        assert!(text.contains("Please try again in a minute"), "{text}");
        let wait: u64 = refused.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    }
    // Another network is not held back, and a minute later this one is
    // welcome again.
    assert_thanked(&report(&app, &path, "198.51.100.7").await);
    app.advance_minutes(1);
    assert_thanked(&report(&app, &path, "203.0.113.5").await);
    app.stop().await;
}

#[tokio::test]
async fn staff_are_mailed_once_an_hour_when_the_page_shows_the_component_working() {
    let mailbox = Mailbox::start();
    let app = with_staff(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let path = format!("/components/{smtp}/affected");
    let thanks = assert_thanked(&report(&app, &path, "203.0.113.5").await);
    assert!(thanks.contains("are mailed at once"), "{thanks}");
    let mails = mailbox.wait_for(STAFF, 1).await;
    assert_eq!(
        mails[0].subject,
        "[Readers affected] Outbound SMTP — 1 report since 10:00 CET, shown as operational"
    );
    assert!(
        mails[0].text.contains("no open incident names it"),
        "{}",
        mails[0].text
    );

    // More reports within the hour: counted, not mailed.
    for (minutes, reader) in [(5, "198.51.100.7"), (20, "192.0.2.9")] {
        app.advance_minutes(minutes);
        assert_thanked(&report(&app, &path, reader).await);
    }
    app.drain_outbox().await;
    assert_eq!(mailbox.mails_to(STAFF).len(), 1, "one mail an hour");
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    let unseen = &owed["readers_affected"][0];
    assert_eq!(unseen["component_id"], smtp.as_str(), "{owed}");
    assert_eq!(unseen["name"], "Outbound SMTP");
    assert_eq!(unseen["reports"], 3);
    assert_eq!(unseen["first_report_at"], "2026-03-04T09:00:00Z");
    assert_eq!(unseen["last_report_at"], "2026-03-04T09:25:00Z");

    // An hour after the first mail, the next report mails again, with all
    // of them.
    app.advance_minutes(35);
    assert_thanked(&report(&app, &path, "192.0.2.10").await);
    let mails = mailbox.wait_for(STAFF, 2).await;
    assert_eq!(
        mails[1].subject,
        "[Readers affected] Outbound SMTP — 4 reports since 10:00 CET, shown as operational"
    );
    assert!(
        mails[1].text.contains("the latest at 11:00 CET"),
        "{}",
        mails[1].text
    );
    app.stop().await;
}

#[tokio::test]
async fn staff_are_not_mailed_about_a_component_an_open_incident_names() {
    let mailbox = Mailbox::start();
    let app = with_staff(&mailbox).await;
    let smtp = app.create_component("Outbound SMTP").await;
    let path = format!("/components/{smtp}/affected");
    let id = id_of(&app.open_mail_incident(&smtp).await);
    // The page shows the outage.
    assert_thanked(&report(&app, &path, "203.0.113.5").await);
    // A fix is being watched: the component shows as working, but the
    // open incident still names it.
    app.advance_minutes(5);
    app.post_update(
        &id,
        &json!({"status": "monitoring", "components": {&smtp: "operational"},
                "next_update_in": 30, "message": "A fix is in; we are watching it."}),
    )
    .await;
    assert_thanked(&report(&app, &path, "198.51.100.7").await);
    app.drain_outbox().await;
    assert!(mailbox.mails_to(STAFF).is_empty(), "no mail while covered");
    let owed = app.admin_get("/api/v1/owed").await.expect(200);
    assert_eq!(owed["readers_affected"], json!([]), "{owed}");
    assert_eq!(counts_of(&reports(&app).await, &smtp)["last_hour"], 2);

    // Resolved, no incident names it: reports are news again, counted
    // from its last change of status (the outage's report left out).
    app.advance_minutes(5);
    app.post_update(&id, &json!({"status": "resolved", "message": "Fixed."}))
        .await;
    app.advance_minutes(5);
    assert_thanked(&report(&app, &path, "192.0.2.9").await);
    let mails = mailbox.wait_for(STAFF, 1).await;
    assert_eq!(
        mails[0].subject,
        "[Readers affected] Outbound SMTP — 2 reports since 10:05 CET, shown as operational"
    );
    app.stop().await;
}

/// Rows of a table, read from outside Candor.
async fn rows(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT COUNT(*) FROM {table}")).await
}

#[tokio::test]
async fn readers_keys_go_after_their_hour_and_reports_after_thirty_days() {
    let app = behind_proxy().await;
    let smtp = app.create_component("Outbound SMTP").await;
    assert_thanked(&report(&app, &format!("/components/{smtp}/affected"), "203.0.113.5").await);
    app.run_scheduler().await;
    assert_eq!(rows(&app, "reader_limits").await, 1);
    assert_eq!(rows(&app, "reader_reports").await, 1);

    // No new report comes; the scheduler deletes what is past its time.
    app.advance_minutes(61);
    app.run_scheduler().await;
    assert_eq!(rows(&app, "reader_limits").await, 0, "the key is gone");
    assert_eq!(rows(&app, "reader_reports").await, 1, "the report stays");
    assert_eq!(counts_of(&reports(&app).await, &smtp)["last_day"], 1);

    app.advance_minutes(30 * 24 * 60);
    app.run_scheduler().await;
    assert_eq!(rows(&app, "reader_reports").await, 0);
    assert!(reports(&app).await.is_empty());
    app.stop().await;
}
