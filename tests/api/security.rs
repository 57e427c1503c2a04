//! What keeps readers safe: headers on every answer, no cross-site form
//! posts, and nothing in a message that loads from elsewhere.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn every_page_forbids_scripts_framing_and_sniffing() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound mail").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    for path in [
        "/".to_string(),
        format!("/incidents/{id}"),
        "/history".into(),
        "/subscribe".into(),
        "/no-such-page".into(),
    ] {
        let reply = app.raw(Method::GET, &path).send().await;
        let header = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp:?}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp:?}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp:?}");
        // The live page's own script file, and nothing else (no inline, no eval).
        assert!(csp.contains("script-src 'self';"), "{path}: {csp:?}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(
            header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        assert_eq!(header("strict-transport-security"), "", "{path}: http only");
    }
    let json = app.raw(Method::GET, "/api/v2/summary.json").send().await;
    assert_eq!(json.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn an_https_page_tells_browsers_to_stay_on_https() {
    let app = TestApp::spawn_with(|c| c.base_url = Some("https://status.acme.test".into())).await;
    // Asked on loopback, where it listens; its public address is never asked.
    let reply = app.client.get(app.local_address()).send().await.unwrap();
    assert_eq!(
        reply.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

async fn post_form(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = app
        .client
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=reader%40example.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn public_forms_refuse_posts_from_other_sites() {
    let app = TestApp::spawn().await;
    let evil = [("origin", "https://evil.example.test")];
    let cross = [("sec-fetch-site", "cross-site")];
    for path in [
        "/subscribe",
        "/subscribe/confirm?token=x",
        "/still-affected?token=x",
    ] {
        assert_eq!(post_form(&app, path, &evil).await, 403, "{path}");
        assert_eq!(post_form(&app, path, &cross).await, 403, "{path}");
    }
    let list = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    // From the page itself, or from a client that says nothing, it works.
    let own = app.address.clone();
    assert_eq!(
        post_form(&app, "/subscribe", &[("origin", &own)]).await,
        200
    );
    assert_eq!(
        post_form(&app, "/subscribe", &[("sec-fetch-site", "same-origin")]).await,
        200
    );
    // The one-click unsubscribe comes from mail programs: never refused as cross-site.
    assert_ne!(post_form(&app, "/unsubscribe?token=x", &cross).await, 403);
}

#[tokio::test]
async fn images_in_a_message_are_links_that_load_nothing() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound mail").await;
    let mut body = mail_incident(&smtp);
    body["message"] = json!(
        "See ![the graph](https://tracker.example.test/g.png) and <img src=\"https://tracker.example.test/h.png\">"
    );
    let id = id_of(&app.open_incident(&body).await);
    for path in [format!("/incidents/{id}"), "/".into(), "/feed.atom".into()] {
        let (status, page) = app.page(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !page.contains("<img") && !page.contains("&lt;img"),
            "{path}: {page}"
        );
        assert!(
            page.contains("tracker.example.test/g.png"),
            "{path}: shown as a link"
        );
    }
}
