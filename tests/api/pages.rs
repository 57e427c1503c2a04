//! The public page, read as a person reads it: the words, in the page's time
//! zone, changing as the clock moves.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    assert_hides, assert_shows, at, clock_readings, id_of, position, text_outside_time_elements,
    time_elements, unknown_id_like, visible_text, TestApp,
};

#[tokio::test]
async fn a_quiet_page_says_all_systems_are_operational() {
    let app = TestApp::spawn().await;
    app.create_component("Outbound SMTP").await;

    let reply = app.raw(Method::GET, "/").send().await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type().starts_with("text/html"),
        "{}",
        reply.content_type()
    );
    let text = visible_text(&reply.text);
    assert_shows(&text, "Acme IT");
    assert_shows(&text, "All systems operational");
    assert_shows(&text, "Outbound SMTP");
    assert_hides(&text, "Next update by");

    app.stop().await;
}

#[tokio::test]
async fn the_banner_names_the_worst_component_status() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.create_component("Mailboxes").await;
    let banners = [
        "All systems operational",
        "Minor service outage",
        "Partial system outage",
        "Major system outage",
    ];

    let mut problems = Vec::new();
    for (status, banner) in [
        ("degraded_performance", "Minor service outage"),
        ("partial_outage", "Partial system outage"),
        ("major_outage", "Major system outage"),
        ("operational", "All systems operational"),
    ] {
        app.set_component_status(&smtp, status).await;
        let text = app.page_text("/").await;
        if !text.contains(banner) {
            problems.push(format!("with {status} the page does not say {banner:?}"));
        }
        for other in banners.iter().filter(|b| **b != banner) {
            if text.contains(other) {
                problems.push(format!("with {status} the page also says {other:?}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    app.stop().await;
}

#[tokio::test]
async fn every_component_shows_its_status_in_words() {
    let app = TestApp::spawn().await;
    // Plain words; for a degraded component the exact phrase is free.
    let statuses = [
        ("Outbound SMTP", "operational", "operational"),
        ("Mailboxes", "degraded_performance", "degraded"),
        ("VPN", "partial_outage", "partial outage"),
        ("Intranet", "major_outage", "major outage"),
        ("Printing", "under_maintenance", "under maintenance"),
    ];
    for (position, (name, status, _)) in statuses.iter().enumerate() {
        let created = app
            .admin_post(
                "/api/v1/components",
                &json!({"name": name, "position": position + 1}),
            )
            .await
            .expect(201);
        app.set_component_status(&id_of(&created), status).await;
    }

    let text = app.page_text("/").await;
    let lower = text.to_lowercase();
    let mut problems = Vec::new();
    for (i, (name, status, words)) in statuses.iter().enumerate() {
        // The words must follow the component's name, before the next one.
        let start = position(&lower, &name.to_lowercase());
        let end = statuses
            .get(i + 1)
            .and_then(|(next, _, _)| lower[start..].find(&next.to_lowercase()).map(|p| p + start))
            .unwrap_or_else(|| (start + 200).min(lower.len()));
        let segment = &lower[start..end];
        if !segment.contains(words) {
            problems.push(format!(
                "{name} ({status}) does not show {words:?}: {segment:?}"
            ));
        }
        if lower.contains(status) && status.contains('_') {
            problems.push(format!("the page shows the raw value {status:?}"));
        }
    }
    assert!(problems.is_empty(), "{}\npage: {text}", problems.join("\n"));

    app.stop().await;
}

#[tokio::test]
async fn an_open_incident_says_what_is_known_and_what_is_not() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;

    let (status, html) = app.page("/").await;
    assert_eq!(status, 200);
    let text = visible_text(&html);
    assert_shows(&text, "Delayed outbound email");
    assert_shows(&text, "Owner: Dana (IT Ops)");
    assert_shows(&text, "Cause: not yet known");
    assert_shows(&text, "No ETA yet");
    assert_shows(&text, "Next update by 10:30 CET");
    assert_shows(&text, "We are looking into delayed outbound email.");
    assert_shows(&text, "Partial system outage");
    assert_hides(&text, "All systems operational");
    assert_hides(&text, "overdue");

    // 10:30 CET is 09:30 UTC, and the markup says so.
    let promised: Vec<_> = time_elements(&html)
        .into_iter()
        .filter(|(_, shown)| shown.contains("10:30"))
        .collect();
    assert!(
        !promised.is_empty(),
        "10:30 is not in a <time> element: {html}"
    );
    for (datetime, shown) in promised {
        let datetime = datetime.unwrap_or_else(|| panic!("<time> {shown:?} has no datetime"));
        let instant: jiff::Timestamp = datetime.parse().unwrap_or_else(|e| {
            panic!("datetime {datetime:?} of {shown:?} is not an instant: {e}")
        });
        assert_eq!(
            instant,
            at("2026-03-04T09:30:00Z"),
            "{shown:?} has datetime {datetime:?}"
        );
    }

    app.stop().await;
}

#[tokio::test]
async fn the_page_says_an_update_is_overdue_once_the_clock_passes_it() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    app.advance_minutes(29);
    let text = app.page_text("/").await;
    assert_shows(&text, "Next update by 10:30 CET");
    assert_hides(&text, "Update overdue");

    // No request changes anything; only time passes.
    app.advance_minutes(2);
    for path in ["/".to_string(), format!("/incidents/{id}")] {
        let text = app.page_text(&path).await;
        assert_shows(&text, "Update overdue since 10:30 CET");
        assert_hides(&text, "Next update by 10:30");
    }

    // A new promise puts it right.
    app.post_update(
        &id,
        &json!({"message": "Sorry, still on it.", "next_update_in": 30}),
    )
    .await;
    let text = app.page_text("/").await;
    assert_shows(&text, "Next update by 11:01 CET");
    assert_hides(&text, "Update overdue");

    app.stop().await;
}

#[tokio::test]
async fn the_eta_shows_its_moves_and_says_when_it_has_passed() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "eta": "2026-03-04T15:00:00Z", "message": "Found it.", "next_update_in": 60}),
    )
    .await;
    let text = app.page_text("/").await;
    assert_shows(&text, "Cause: Expired relay certificate");
    assert_shows(&text, "ETA: 16:00 CET");
    assert_hides(&text, "No ETA yet");
    assert_hides(&text, "moved");

    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"eta": "2026-03-04T16:00:00Z", "message": "The new certificate takes longer.", "next_update_in": 60}),
    )
    .await;
    let text = app.page_text("/").await;
    assert_shows(&text, "ETA: 17:00 CET (was 16:00; moved once)");

    // 17:01 CET, nobody posted: the ETA has passed and the page says so.
    app.set_clock("2026-03-04T16:01:00Z");
    for path in ["/".to_string(), format!("/incidents/{id}")] {
        let text = app.page_text(&path).await;
        assert_shows(&text, "ETA 17:00 CET passed — no new estimate yet");
    }

    app.stop().await;
}

#[tokio::test]
async fn the_timeline_is_newest_first() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"message": "Second word from us.", "next_update_in": 30}),
    )
    .await;
    app.advance_minutes(10);
    app.post_update(
        &id,
        &json!({"message": "Third word from us.", "next_update_in": 30}),
    )
    .await;

    let text = app.page_text(&format!("/incidents/{id}")).await;
    let third = position(&text, "Third word from us.");
    let second = position(&text, "Second word from us.");
    let first = position(&text, "We are looking into delayed outbound email.");
    assert!(
        third < second && second < first,
        "newest first, got: {text}"
    );

    // `/` shows the latest entry only, and links to the others.
    let index = app.page_text("/").await;
    assert_shows(&index, "Third word from us.");
    assert_shows(&index, "2 earlier updates");
    assert!(!index.contains("Second word from us."), "{index}");
    assert!(!index.contains("We are looking into delayed"), "{index}");
    let (_, html) = app.page("/").await;
    assert!(
        html.contains(&format!("href=\"/incidents/{id}\">2 earlier updates</a>")),
        "{html}"
    );

    app.stop().await;
}

#[tokio::test]
async fn a_corrected_entry_keeps_its_text_and_points_to_its_correction() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(20);
    let wrong = app
        .post_update(
            &id,
            &json!({"status": "identified", "cause": "Expired relay certificate",
                    "message": "The relay certificate expired.", "next_update_in": 30}),
        )
        .await;
    app.advance_minutes(22);
    app.correct(
        &id,
        &json!({"corrects": wrong["id"], "message": "The cause given earlier was wrong: it was a DNS change.",
                "cause": "DNS change"}),
    )
    .await;

    let text = app.page_text(&format!("/incidents/{id}")).await;
    assert_shows(&text, "The relay certificate expired.");
    assert_shows(
        &text,
        "The cause given earlier was wrong: it was a DNS change.",
    );
    assert_shows(&text, "We are looking into delayed outbound email.");
    assert_shows(&text, "Corrected by the entry of 10:42");
    assert_shows(&text, "Cause: DNS change");
    // The marker sits with the entry it marks.
    let original = position(&text, "The relay certificate expired.");
    let marker = position(&text, "Corrected by the entry of 10:42");
    let opened = position(&text, "We are looking into delayed outbound email.");
    assert!(
        marker.abs_diff(original) < 300 && marker < opened,
        "the marker should sit with the corrected entry: {text}"
    );

    app.stop().await;
}

#[tokio::test]
async fn history_lists_resolved_incidents_by_month() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    app.advance_minutes(45);
    app.post_update(
        &id,
        &json!({"status": "resolved", "message": "Mail flows again."}),
    )
    .await;

    let (status, html) = app.page("/history").await;
    assert_eq!(status, 200);
    let text = visible_text(&html);
    let month = position(&text, "March 2026");
    let title = position(&text, "Delayed outbound email");
    assert!(month < title, "the incident sits under its month: {text}");
    assert!(
        html.contains(&format!("/incidents/{id}\"")),
        "history links to the incident: {html}"
    );

    // Resolved, the front page is calm again.
    let text = app.page_text("/").await;
    assert_shows(&text, "All systems operational");
    assert_hides(&text, "Next update by");

    // The incident's own page still tells the whole story.
    let text = app.page_text(&format!("/incidents/{id}")).await;
    assert_shows(&text, "Mail flows again.");
    assert_shows(&text, "We are looking into delayed outbound email.");

    app.stop().await;
}

#[tokio::test]
async fn an_unknown_incident_page_is_an_html_404() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);

    for path in [
        format!("/incidents/{}", unknown_id_like(&id)),
        "/incidents/no-such-thing".into(),
    ] {
        let reply = app.raw(Method::GET, &path).send().await;
        assert_eq!(reply.status, 404, "{path}");
        assert!(
            reply.content_type().starts_with("text/html"),
            "{path}: {}",
            reply.content_type()
        );
        assert!(
            reply.text.to_lowercase().contains("<html"),
            "{path}: a page, not {}",
            reply.text
        );
        assert!(reply.body.is_null(), "{path}: HTML, not JSON");
    }

    app.stop().await;
}

#[tokio::test]
async fn times_are_shown_in_the_pages_time_zone() {
    // Summer in Berlin.
    let app = TestApp::spawn().await;
    app.set_clock("2026-07-01T09:00:00Z");
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;
    assert_shows(&app.page_text("/").await, "Next update by 11:30 CEST");
    app.stop().await;

    // A page kept in UTC.
    let app = TestApp::spawn_with(|config| config.time_zone = "UTC".into()).await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;
    assert_shows(&app.page_text("/").await, "Next update by 09:30 UTC");
    app.stop().await;
}

#[tokio::test]
async fn every_time_shown_sits_in_a_time_element() {
    let app = TestApp::spawn().await;
    let scenario = crate::page_dump::build_scenario(&app).await;

    let mut problems = Vec::new();
    for path in [
        "/".to_string(),
        format!("/incidents/{}", scenario.open_id),
        format!("/incidents/{}", scenario.resolved_id),
        "/history".to_string(),
    ] {
        let (status, html) = app.page(&path).await;
        assert_eq!(status, 200, "{path}");
        let times = time_elements(&html);
        if times.is_empty() {
            problems.push(format!("{path}: no <time> element at all"));
        }
        for (datetime, shown) in times {
            match datetime {
                None => problems.push(format!("{path}: <time> {shown:?} has no datetime")),
                Some(value) if !is_html_datetime(&value) => {
                    problems.push(format!("{path}: <time> {shown:?} has datetime {value:?}"))
                }
                Some(_) => {}
            }
        }
        for reading in clock_readings(&text_outside_time_elements(&html)) {
            problems.push(format!("{path}: a time outside <time>: …{reading}…"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    app.stop().await;
}

/// An instant, a date, or a year and month: what Candor's pages need.
fn is_html_datetime(value: &str) -> bool {
    value.parse::<jiff::Timestamp>().is_ok()
        || value.parse::<jiff::civil::Date>().is_ok()
        || (value.len() == 7
            && value.as_bytes()[4] == b'-'
            && value[..4]
                .chars()
                .chain(value[5..].chars())
                .all(|c| c.is_ascii_digit()))
}

#[tokio::test]
async fn staff_text_is_escaped_and_markdown_is_made_safe() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = crate::helpers::mail_incident(&smtp);
    body["title"] = json!("Mail <script>alert(1)</script> & more");
    body["message"] = json!(
        "**Mail is slow.** <script>alert(2)</script> [details](javascript:alert(3)) <img src=x onerror=alert(4)>"
    );
    let id = id_of(&app.open_incident(&body).await);

    for path in ["/".to_string(), format!("/incidents/{id}")] {
        let (status, html) = app.page(&path).await;
        assert_eq!(status, 200);
        for bad in ["<script>alert", "javascript:", "onerror"] {
            assert!(!html.contains(bad), "{path} contains {bad:?}: {html}");
        }
        assert!(
            html.contains("<strong>Mail is slow.</strong>"),
            "{path}: Markdown is rendered: {html}"
        );
        assert_shows(
            &visible_text(&html),
            "Mail <script>alert(1)</script> & more",
        );
    }

    app.stop().await;
}
