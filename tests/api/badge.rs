//! What other sites show of Candor: the SVG badge of the page and of each
//! component, and the banner script `embed.js`.

use reqwest::Method;

use crate::helpers::{unknown_id_like, TestApp};

async fn svg(app: &TestApp, path: &str) -> String {
    let reply = app.raw(Method::GET, path).send().await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    assert!(
        reply.content_type().starts_with("image/svg+xml"),
        "{path}: {}",
        reply.content_type()
    );
    assert!(reply.text.starts_with("<?xml"), "{}", reply.text);
    assert!(reply.text.trim_end().ends_with("</svg>"), "{}", reply.text);
    reply.text
}

#[tokio::test]
async fn the_badges_say_the_state_in_the_banners_words() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let page = svg(&app, "/badge.svg").await;
    assert!(
        page.contains("<title>Acme IT: All systems operational</title>"),
        "{page}"
    );
    assert!(page.contains("role=\"img\""));
    let component = svg(&app, &format!("/components/{smtp}/badge.svg")).await;
    assert!(
        component.contains("<title>Outbound SMTP: Operational</title>"),
        "{component}"
    );

    app.open_mail_incident(&smtp).await;
    let page = svg(&app, "/badge.svg").await;
    assert!(
        page.contains("<title>Acme IT: Partial system outage</title>"),
        "{page}"
    );
    assert!(page.contains(">Partial system outage</text>"), "{page}");
    let component = svg(&app, &format!("/components/{smtp}/badge.svg")).await;
    assert!(
        component.contains("<title>Outbound SMTP: Partial outage</title>"),
        "{component}"
    );

    let missing = app
        .raw(
            Method::GET,
            &format!("/components/{}/badge.svg", unknown_id_like(&smtp)),
        )
        .send()
        .await;
    assert_eq!(missing.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn embed_js_knows_the_page_and_the_words() {
    let app = TestApp::spawn().await;
    let reply = app.raw(Method::GET, "/embed.js").send().await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.content_type().starts_with("text/javascript"),
        "{}",
        reply.content_type()
    );
    let script = reply.text;
    assert!(
        script.contains(&format!("var base = \"{}\";", app.address)),
        "{script}"
    );
    assert!(script.contains("/api/v2/status.json"));
    for words in [
        "\"none\":\"All systems operational\"",
        "\"minor\":\"Minor service outage\"",
        "\"major\":\"Partial system outage\"",
        "\"critical\":\"Major system outage\"",
        "\"maintenance\":\"Scheduled maintenance in progress\"",
    ] {
        assert!(script.contains(words), "{words} in {script}");
    }
    // Text only: the script never writes HTML it was sent.
    assert!(!script.contains("innerHTML"));
    app.stop().await;
}
