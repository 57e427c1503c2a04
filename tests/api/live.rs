//! What `/` and incident pages give static/live.js, the script that keeps
//! them current in an open tab: the script itself, and the markup it reads
//! (`data-live-*`, see `views::parts::honesty_block`). The words it swaps in
//! are the server's own; the browser tests (browser.rs) run it.

use jiff::{SignedDuration, Timestamp};
use reqwest::Method;
use scraper::{Html, Selector};
use serde_json::{json, Value};

use crate::helpers::{id_of, mail_incident, visible_text, TestApp};

const NOSCRIPT_REFRESH: &str = r#"<noscript><meta http-equiv="refresh" content="60"></noscript>"#;

/// An incident with an ETA 45 minutes away and the next update due in 30.
async fn open_with_eta(app: &TestApp) -> Value {
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = mail_incident(&smtp);
    body["eta"] = json!((app.now() + SignedDuration::from_mins(45)).to_string());
    app.open_incident(&body).await
}

fn instant(value: &Value) -> Timestamp {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a time: {value}"))
}

/// Each element of `html` that `selector` finds: its attribute `name` and
/// its visible text.
fn live_items(html: &str, selector: &str, name: &str) -> Vec<(String, String)> {
    let document = Html::parse_document(html);
    let selector = Selector::parse(selector).expect("a valid selector");
    document
        .select(&selector)
        .map(|el| {
            (
                el.attr(name).unwrap_or_default().to_string(),
                visible_text(&el.html()),
            )
        })
        .collect()
}

/// The `data-live-then` of the honesty block's line that says `starts`.
fn then_of(html: &str, starts: &str) -> (Timestamp, String) {
    let document = Html::parse_document(html);
    let selector = Selector::parse(".honesty li[data-live-at]").expect("a valid selector");
    let line = document
        .select(&selector)
        .find(|li| visible_text(&li.html()).starts_with(starts))
        .unwrap_or_else(|| panic!("no live line {starts:?} in {html}"));
    let at = line.attr("data-live-at").unwrap_or_default();
    (
        at.parse()
            .unwrap_or_else(|e| panic!("data-live-at {at:?}: {e}")),
        line.attr("data-live-then").unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn open_pages_load_the_live_script_and_reload_each_minute_without_it() {
    let app = TestApp::spawn().await;
    let id = id_of(&open_with_eta(&app).await);
    for path in ["/".to_string(), format!("/incidents/{id}")] {
        let (status, html) = app.page(&path).await;
        assert_eq!(status, 200, "{path}");
        let head = &html[..html.find("</head>").expect("a head")];
        assert!(
            head.contains(r#"<script src="/static/live.js" defer></script>"#),
            "{path}: {head}"
        );
        assert!(head.contains(NOSCRIPT_REFRESH), "{path}: {head}");
    }
    // Pages with forms to fill, or nothing that changes by the minute,
    // neither reload nor run the script.
    for path in ["/history", "/subscribe", "/no-such-page"] {
        let (_, html) = app.page(path).await;
        assert!(!html.contains("<script"), "{path}: {html}");
        assert!(!html.contains("http-equiv"), "{path}: {html}");
    }

    let script = app.raw(Method::GET, "/static/live.js").send().await;
    assert_eq!(script.status, 200);
    assert_eq!(script.content_type(), "text/javascript; charset=utf-8");
    assert_eq!(script.headers["cache-control"], "public, max-age=3600");
    assert!(
        script.text.contains("/api/v2/summary.json"),
        "{}",
        script.text
    );
    let etag = script.headers["etag"].to_str().unwrap().to_string();
    let again = app
        .raw(Method::GET, "/static/live.js")
        .header("If-None-Match", &etag)
        .send()
        .await;
    assert_eq!(again.status, 304);
}

#[tokio::test]
async fn the_live_lines_say_at_their_instant_what_the_server_says_then() {
    let app = TestApp::spawn().await;
    let incident = open_with_eta(&app).await;
    let path = format!("/incidents/{}", id_of(&incident));
    let (_, html) = app.page(&path).await;

    let words = live_items(&html, ".honesty[data-live-words]", "data-live-words");
    assert_eq!(
        words.first().map(|(words, _)| words.as_str()),
        Some("120|now|in {m} min|in {h} h {m} min|{m} min ago|{h} h {m} min ago"),
        "{html}"
    );
    let relative = live_items(&html, ".honesty [data-live-rel]", "data-live-rel");
    let relative: Vec<(Timestamp, String)> = relative
        .into_iter()
        .map(|(at, text)| (at.parse().expect("an instant"), text))
        .collect();
    assert_eq!(
        relative,
        [
            (instant(&incident["eta"]), "(in 45 min)".to_string()),
            (
                instant(&incident["next_update_at"]),
                "(in 30 min)".to_string()
            ),
        ],
        "{html}"
    );

    let (due, overdue) = then_of(&html, "Next update by 10:30 CET");
    assert_eq!(due, instant(&incident["next_update_at"]));
    assert_eq!(
        overdue,
        "Update overdue since 10:30 CET — Dana (IT Ops) has been reminded"
    );
    let (eta, passed) = then_of(&html, "ETA: 10:45 CET");
    assert_eq!(eta, instant(&incident["eta"]));
    assert_eq!(passed, "ETA 10:45 CET passed — no new estimate yet");

    // At those instants the server says the very same words, and has
    // nothing left for the script to swap on those lines.
    app.advance_minutes(30);
    let (_, html) = app.page(&path).await;
    let text = visible_text(&html);
    assert!(text.contains(&overdue), "{text}");
    let left = live_items(&html, ".honesty [data-live-at]", "data-live-at");
    assert_eq!(left.len(), 1, "only the ETA's line: {left:?}");
    app.advance_minutes(15);
    let (_, html) = app.page(&path).await;
    assert!(visible_text(&html).contains(&passed), "{html}");
    assert!(!html.contains("data-live-at"), "{html}");
}

#[tokio::test]
async fn a_resolved_incident_has_nothing_to_count_down() {
    let app = TestApp::spawn().await;
    let incident = open_with_eta(&app).await;
    let id = id_of(&incident);
    app.post_update(
        &id,
        &json!({"status": "resolved", "message": "Mail flows again."}),
    )
    .await;
    let (_, html) = app.page(&format!("/incidents/{id}")).await;
    for attribute in ["data-live-at", "data-live-rel", "data-live-words"] {
        assert!(!html.contains(attribute), "{attribute}: {html}");
    }
}
