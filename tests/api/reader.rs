//! The public page as a reader in the middle of an outage needs it: the
//! worst incident first, only the latest word of each on `/`, groups that
//! show their members' outages, resolved incidents without stale promises,
//! a history with dates and causes, bylines with people's names, and a page
//! light enough for a bad connection.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_hides, assert_shows, id_of, mail_incident, position, TestApp};

/// Creates `name` in the group `group`.
async fn member(app: &TestApp, name: &str, group: &str) -> String {
    id_of(
        &app.admin_post(
            "/api/v1/components",
            &json!({"name": name, "group_id": group}),
        )
        .await
        .expect(201),
    )
}

/// An incident body: `title` on `component` at `status`, with `impact`.
fn incident(title: &str, impact: &str, component: &str, status: &str) -> Value {
    let mut body = mail_incident(component);
    body["title"] = json!(title);
    body["impact"] = json!(impact);
    body["components"] = json!({ component: status });
    body["message"] = json!(format!(
        "{title}: we are looking into it and will post here as soon as we know more. \
         Please do not open tickets for this; we know."
    ));
    body
}

/// Acme IT with 20 components (an Email group of three among them), a
/// minor SAP incident opened first and a major VPN incident ten minutes
/// later, each with three updates. Returns (SAP id, VPN id).
async fn two_outages(app: &TestApp) -> (String, String) {
    let email = app.create_component("Email").await;
    member(app, "Outbound SMTP", &email).await;
    member(app, "Webmail", &email).await;
    let sap = app.create_component("SAP").await;
    let vpn = app.create_component("VPN").await;
    for n in 1..=15 {
        app.create_component(&format!("Service number {n}")).await;
    }
    let sap_id = id_of(
        &app.open_incident(&incident(
            "SAP reports are slow",
            "minor",
            &sap,
            "degraded_performance",
        ))
        .await,
    );
    app.advance_minutes(10);
    let vpn_id = id_of(
        &app.open_incident(&incident(
            "VPN logins failing",
            "major",
            &vpn,
            "major_outage",
        ))
        .await,
    );
    for n in 1..=2 {
        app.advance_minutes(5);
        for id in [&sap_id, &vpn_id] {
            let update = json!({
                "message": format!("Update {n}: we have narrowed it down and are testing a fix on one server first."),
                "next_update_in": 30,
            });
            app.post_update(id, &update).await;
        }
    }
    (sap_id, vpn_id)
}

#[tokio::test]
async fn the_worst_incident_comes_first_and_shows_only_its_latest_entry() {
    let app = TestApp::spawn().await;
    let (sap, vpn) = two_outages(&app).await;

    let text = app.page_text("/").await;
    let major = position(&text, "VPN logins failing");
    let minor = position(&text, "SAP reports are slow");
    assert!(
        major < minor,
        "the major VPN incident must come first: {text}"
    );
    assert_shows(&text, "Update 2: we have narrowed it down");
    assert_hides(&text, "Update 1: we have narrowed it down");
    assert_shows(&text, "2 earlier updates");
    // The incident's own page keeps every entry.
    let full = app.page_text(&format!("/incidents/{vpn}")).await;
    assert_shows(&full, "Update 1: we have narrowed it down");
    assert_shows(&full, "VPN logins failing: we are looking into it");

    // Same impact: the one with the worse component status first.
    let sap_component = app
        .components()
        .await
        .into_iter()
        .find(|c| c["name"] == "SAP")
        .unwrap();
    let sap_component = id_of(&sap_component);
    app.post_update(
        &sap,
        &json!({"impact": "major", "components": {&sap_component: "partial_outage"},
                "message": "Worse than we thought.", "next_update_in": 30}),
    )
    .await;
    let text = app.page_text("/").await;
    assert!(
        position(&text, "VPN logins failing") < position(&text, "SAP reports are slow"),
        "major outage before partial outage at equal impact: {text}"
    );
    // Same impact and component status: the older one first.
    app.post_update(
        &sap,
        &json!({"components": {&sap_component: "major_outage"},
                "message": "SAP is down.", "next_update_in": 30}),
    )
    .await;
    let text = app.page_text("/").await;
    assert!(
        position(&text, "SAP reports are slow") < position(&text, "VPN logins failing"),
        "the older first among equals: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_group_shows_the_worst_state_of_its_members_everywhere() {
    let app = TestApp::spawn().await;
    let email = app.create_component("Email").await;
    let smtp = member(&app, "Outbound SMTP", &email).await;
    member(&app, "Webmail", &email).await;
    // All well: the group folds its members away.
    let folded = scraper::Selector::parse("ul.components details.members").unwrap();
    let (_, html) = app.page("/").await;
    let page = scraper::Html::parse_document(&html);
    let details = page.select(&folded).next().expect("the group folds");
    assert!(details.value().attr("open").is_none(), "{html}");
    app.advance_minutes(60);
    app.open_incident(&incident(
        "Mail is not leaving",
        "major",
        &smtp,
        "major_outage",
    ))
    .await;
    app.advance_minutes(30);

    // summary.json and components.json: the group is in major outage.
    for path in ["/api/v2/summary.json", "/api/v2/components.json"] {
        let body = app.raw(Method::GET, path).send().await.expect(200);
        let group = body["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == email.as_str())
            .unwrap_or_else(|| panic!("no group in {path}: {body}"))
            .clone();
        assert_eq!(group["status"], "major_outage", "{path}: {group}");
    }
    // The admin API keeps what staff set on the group itself.
    assert_eq!(app.component(&email).await["status"], "operational");

    // The page: the group's badge in the list, and its uptime row.
    let (_, html) = app.page("/").await;
    let page = scraper::Html::parse_document(&html);
    let first = scraper::Selector::parse("ul.components > li").unwrap();
    let group = page
        .select(&first)
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert!(group.starts_with("Email Major outage"), "{group}");
    // A member is down: the group is open.
    let details = page.select(&folded).next().unwrap();
    assert!(details.value().attr("open").is_some(), "{html}");
    let rows = scraper::Selector::parse(".uptime-row").unwrap();
    let row = page
        .select(&rows)
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert!(row.contains("Email"), "{row}");
    assert!(
        !row.contains("100% uptime"),
        "the group's row shows its member's outage: {row}"
    );
    assert!(row.contains("major outage"), "{row}");

    // The group's badge.
    let badge = app
        .raw(Method::GET, &format!("/components/{email}/badge.svg"))
        .send()
        .await;
    assert!(badge.text.contains("Major outage"), "{}", badge.text);
    app.stop().await;
}

#[tokio::test]
async fn a_resolved_incident_says_when_and_how_long_not_an_eta() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["eta"] = json!("2026-03-04T12:00:00Z");
    let id = id_of(&app.open_incident(&body).await);
    app.advance_minutes(29);
    app.post_update(
        &id,
        &json!({"status": "resolved", "cause": "An expired certificate on the relay",
                "components": {smtp: "operational"}, "message": "Mail flows again."}),
    )
    .await;

    // The facts at the top: resolved when, after how long; no ETA and no
    // promise of a next update. (The old entries keep what they said.)
    let (_, html) = app.page(&format!("/incidents/{id}")).await;
    let page = scraper::Html::parse_document(&html);
    let honesty = scraper::Selector::parse("ul.honesty").unwrap();
    let facts = page
        .select(&honesty)
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert_hides(&facts, "ETA");
    assert_hides(&facts, "Next update");
    assert_shows(&facts, "29 min after it began");
    // One label per entry: "Resolved", not also "Recovering".
    let meta = scraper::Selector::parse("li.entry p.meta").unwrap();
    let newest = page
        .select(&meta)
        .next()
        .unwrap()
        .text()
        .collect::<String>();
    assert!(newest.starts_with("Resolved "), "{newest}");
    assert_eq!(newest.matches("Resolved").count(), 1, "{newest}");
    assert!(!newest.contains("Recovering"), "{newest}");
    app.stop().await;
}

#[tokio::test]
async fn history_lists_dates_duration_impact_and_cause() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(29);
    app.post_update(
        &id,
        &json!({"status": "resolved", "cause": "An expired certificate on the relay",
                "message": "Mail flows again."}),
    )
    .await;
    let started = crate::helpers::at(app.incident(&id).await["started_at"].as_str().unwrap());
    let day = started
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .strftime("%a %-d %b")
        .to_string();

    let text = app.page_text("/history").await;
    assert_shows(&text, "Delayed outbound email — Minor impact");
    assert_shows(&text, &format!("{day}, "));
    assert_shows(&text, "(29 min)");
    assert_shows(&text, "Cause: An expired certificate on the relay");
    app.stop().await;
}

#[tokio::test]
async fn bylines_name_the_owner_not_the_token() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let text = app.page_text(&format!("/incidents/{id}")).await;
    assert_shows(&text, "by Dana (IT Ops)");
    assert_hides(&text, "by admin");
    app.stop().await;
}

#[tokio::test]
async fn the_not_found_page_has_the_site_around_it_and_there_is_a_favicon() {
    let app = TestApp::spawn().await;
    let (status, html) = app.page("/no-such-page").await;
    assert_eq!(status, 404);
    let page = scraper::Html::parse_document(&html);
    let nav = scraper::Selector::parse("header.site nav a[href='/history']").unwrap();
    assert!(page.select(&nav).next().is_some(), "{html}");
    let icon = scraper::Selector::parse("link[rel=icon]").unwrap();
    let href = page
        .select(&icon)
        .next()
        .and_then(|l| l.value().attr("href"))
        .unwrap_or_else(|| panic!("no favicon link: {html}"))
        .to_string();
    for path in [href.as_str(), "/favicon.ico"] {
        let icon = app.raw(Method::GET, path).send().await;
        assert_eq!(icon.status, 200, "{path}");
        assert!(
            icon.content_type().starts_with("image/"),
            "{path}: {}",
            icon.content_type()
        );
    }
    // Every page links it.
    let (_, index) = app.page("/").await;
    assert!(
        index.contains(&format!("rel=\"icon\" href=\"{href}\"")) || index.contains("rel=\"icon\""),
        "{index}"
    );
    app.stop().await;
}

/// The body of `/` as sent with `encoding` (no decoding on our side).
async fn weight(app: &TestApp, encoding: &str) -> usize {
    let response = app
        .client
        .get(format!("{}/", app.address))
        .header("accept-encoding", encoding)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let sent = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_else(|| "identity".into());
    assert_eq!(sent, encoding);
    response.bytes().await.unwrap().len()
}

#[tokio::test]
async fn the_page_stays_light_during_an_outage() {
    let app = TestApp::spawn().await;
    two_outages(&app).await;
    // A day later, the bars show yesterday's outage too.
    app.advance_minutes(24 * 60);
    let plain = weight(&app, "identity").await;
    let brotli = weight(&app, "br").await;
    let gzip = weight(&app, "gzip").await;
    eprintln!("page weight, 20 components and two open incidents: {plain} B, gzip {gzip} B, brotli {brotli} B");
    assert!(plain <= 40 * 1024, "{plain} bytes: over the 40 KB budget");
    assert!(
        brotli <= 8 * 1024,
        "{brotli} bytes with brotli: over the 8 KB budget"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_thousand_components_stay_under_a_megabyte() {
    let app = TestApp::spawn().await;
    two_outages(&app).await;
    let mut groups = Vec::new();
    for g in 0..20 {
        groups.push(app.create_component(&format!("Site {g}")).await);
    }
    // 20 components so far, 20 groups: 960 members make 1,000.
    for n in 0..960 {
        member(
            &app,
            &format!("Building {n} printers and network"),
            &groups[n % groups.len()],
        )
        .await;
    }
    assert_eq!(app.components().await.len(), 1000);
    let plain = weight(&app, "identity").await;
    eprintln!("page weight, 1,000 components: {plain} B");
    assert!(plain <= 1024 * 1024, "{plain} bytes: over the 1 MB budget");
    app.stop().await;
}
