//! Public pages are rendered once per state and served from memory: strong
//! ETags and 304s, HEAD, gzip and brotli, and new bytes as soon as the state
//! changes — by a POST, or by the clock making a promise late.

use std::io::Read as _;

use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{assert_hides, assert_shows, id_of, visible_text, TestApp};

/// One answer with its raw bytes (no decoding of any kind).
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    fn etag(&self) -> String {
        let etag = self.header("etag");
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 10,
            "a strong ETag, not {etag:?}"
        );
        etag
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }
}

async fn fetch(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Raw {
    let mut request = app
        .client
        .request(method.clone(), format!("{}{path}", app.address));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    Raw {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("read the body").to_vec(),
    }
}

async fn get(app: &TestApp, path: &str) -> Raw {
    fetch(app, Method::GET, path, &[]).await
}

/// A page with an open incident: its id, the component's, and every public
/// path worth keeping.
async fn scene(app: &TestApp) -> (String, String, Vec<String>) {
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let paths = [
        "/",
        &format!("/incidents/{id}"),
        "/history",
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
        "/feed.atom",
        "/feed.rss",
        &format!("/components/{smtp}/feed.atom"),
        "/badge.svg",
        &format!("/components/{smtp}/badge.svg"),
        "/embed.js",
    ]
    .map(str::to_string)
    .to_vec();
    (id, smtp, paths)
}

#[tokio::test]
async fn every_public_page_answers_304_to_its_etag() {
    let app = TestApp::spawn().await;
    let (_, _, paths) = scene(&app).await;
    for path in &paths {
        let first = get(&app, path).await;
        assert_eq!(first.status, 200, "GET {path}");
        let etag = first.etag();
        assert_eq!(
            first.header("cache-control"),
            "public, max-age=30",
            "{path}"
        );
        assert!(!first.header("last-modified").is_empty(), "{path}");
        assert!(
            first
                .header("vary")
                .to_lowercase()
                .contains("accept-encoding")
                || first
                    .headers
                    .get_all("vary")
                    .iter()
                    .any(|v| v.to_str().unwrap_or("").contains("accept-encoding")),
            "{path} varies by Accept-Encoding"
        );

        let again = get(&app, path).await;
        assert_eq!(again.body, first.body, "{path}: same state, same bytes");
        assert_eq!(again.etag(), etag, "{path}");

        let revalidated = fetch(&app, Method::GET, path, &[("If-None-Match", &etag)]).await;
        assert_eq!(revalidated.status, 304, "{path} with If-None-Match");
        assert!(revalidated.body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(revalidated.etag(), etag, "{path}");
        assert_eq!(revalidated.header("cache-control"), "public, max-age=30");

        let listed = format!("\"nope\", {etag}");
        let revalidated = fetch(&app, Method::GET, path, &[("If-None-Match", &listed)]).await;
        assert_eq!(revalidated.status, 304, "{path} with a list of tags");

        let other = fetch(&app, Method::GET, path, &[("If-None-Match", "\"nope\"")]).await;
        assert_eq!(other.status, 200, "{path} with another tag");
        assert_eq!(other.body, first.body);

        let since = first.header("last-modified");
        let by_date = fetch(&app, Method::GET, path, &[("If-Modified-Since", &since)]).await;
        assert_eq!(by_date.status, 304, "{path} with If-Modified-Since");
    }
    app.stop().await;
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    let app = TestApp::spawn().await;
    let (_, _, paths) = scene(&app).await;
    for path in &paths {
        // HEAD first, so that it is also right when it renders the page.
        let head = fetch(&app, Method::HEAD, path, &[]).await;
        let get = get(&app, path).await;
        assert_eq!(head.status, 200, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path} has no body");
        for name in ["etag", "content-type", "last-modified", "cache-control"] {
            assert_eq!(head.header(name), get.header(name), "HEAD {path}: {name}");
        }
        assert_eq!(
            head.header("content-length"),
            get.body.len().to_string(),
            "HEAD {path}: the length of the GET body"
        );
    }
    app.stop().await;
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .expect("valid brotli");
    out
}

#[tokio::test]
async fn gzip_and_brotli_bodies_decode_to_the_same_bytes() {
    let app = TestApp::spawn().await;
    let (_, _, paths) = scene(&app).await;
    for path in &paths {
        let plain = get(&app, path).await;
        assert_eq!(plain.header("content-encoding"), "", "{path}");
        if plain.body.len() < 1000 {
            continue; // Small answers may not be worth compressing.
        }
        let gz = fetch(&app, Method::GET, path, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(gz.header("content-encoding"), "gzip", "{path}");
        assert_eq!(gunzip(&gz.body), plain.body, "{path}: gzip");
        assert!(gz.body.len() < plain.body.len());
        assert_eq!(gz.header("content-length"), gz.body.len().to_string());

        let br = fetch(
            &app,
            Method::GET,
            path,
            &[("Accept-Encoding", "gzip, deflate, br")],
        )
        .await;
        assert_eq!(br.header("content-encoding"), "br", "{path}");
        assert_eq!(unbrotli(&br.body), plain.body, "{path}: brotli");

        let refused = fetch(
            &app,
            Method::GET,
            path,
            &[("Accept-Encoding", "br;q=0, gzip")],
        )
        .await;
        assert_eq!(refused.header("content-encoding"), "gzip", "{path}");

        // Each coding has its own strong tag, and any of them revalidates.
        let tags = [plain.etag(), gz.etag(), br.etag()];
        assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);
        for tag in &tags {
            let again = fetch(
                &app,
                Method::GET,
                path,
                &[("Accept-Encoding", "br"), ("If-None-Match", tag)],
            )
            .await;
            assert_eq!(again.status, 304, "{path} with {tag}");
            assert_eq!(again.etag(), tags[2]);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_post_makes_the_next_get_return_new_bytes_and_a_new_etag() {
    let app = TestApp::spawn().await;
    let (id, smtp, paths) = scene(&app).await;
    let mut before = Vec::new();
    for path in &paths {
        before.push(get(&app, path).await);
    }

    app.advance_minutes(5);
    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "next_update_in": 30, "message": "The relay's certificate expired."}),
    )
    .await;

    // Everything that shows the incident changed; the rest may not have.
    let changed = [
        "/",
        &format!("/incidents/{id}"),
        "/api/v2/summary.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/feed.atom",
        "/feed.rss",
    ];
    for (path, old) in paths.iter().zip(&before) {
        let new = fetch(&app, Method::GET, path, &[("If-None-Match", &old.etag())]).await;
        if changed.contains(&path.as_str()) {
            assert_eq!(new.status, 200, "{path} after the update");
            assert_ne!(new.body, old.body, "{path}: new bytes");
            assert_ne!(new.etag(), old.etag(), "{path}: a new ETag");
        } else if new.status == 200 {
            assert_ne!(new.etag(), old.etag(), "{path}: new tag, new bytes");
        }
    }
    let page = visible_text(&get(&app, &format!("/incidents/{id}")).await.text());
    assert_shows(&page, "Cause: Expired relay certificate");

    // A component changed by staff shows at once too.
    let badge = get(&app, "/badge.svg").await.text();
    app.set_component_status(&smtp, "major_outage").await;
    let after = get(&app, "/badge.svg").await.text();
    assert_ne!(after, badge);
    assert!(after.contains("Major system outage"), "{after}");
    app.stop().await;
}

#[tokio::test]
async fn a_broken_promise_shows_without_any_post() {
    let app = TestApp::spawn().await;
    let (id, _, _) = scene(&app).await;
    let page = visible_text(&get(&app, "/").await.text());
    assert_shows(&page, "Next update by 10:30 CET (in 30 min)");
    let summary: Value =
        serde_json::from_slice(&get(&app, "/api/v2/summary.json").await.body).expect("JSON");
    assert_eq!(summary["incidents"][0]["candor"]["overdue"], false);

    // A minute later the distance is a minute shorter.
    app.advance_minutes(1);
    let page = visible_text(&get(&app, "/").await.text());
    assert_shows(&page, "Next update by 10:30 CET (in 29 min)");

    // At 10:30 the promise is broken, and every page says so at once.
    app.set_clock("2026-03-04T09:30:00Z");
    for path in ["/", &format!("/incidents/{id}")] {
        let page = visible_text(&get(&app, path).await.text());
        assert_shows(&page, "Update overdue since 10:30 CET");
        assert_hides(&page, "Next update by 10:30");
    }
    let summary: Value =
        serde_json::from_slice(&get(&app, "/api/v2/summary.json").await.body).expect("JSON");
    assert_eq!(summary["incidents"][0]["candor"]["overdue"], true);
    app.stop().await;
}

#[tokio::test]
async fn a_passing_eta_shows_without_any_post() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let mut body = crate::helpers::mail_incident(&smtp);
    body["eta"] = json!("2026-03-04T09:20:00Z");
    body["next_update_in"] = json!(60);
    let id = id_of(&app.open_incident(&body).await);
    let path = format!("/incidents/{id}");
    assert_shows(
        &visible_text(&get(&app, &path).await.text()),
        "ETA: 10:20 CET",
    );

    app.set_clock("2026-03-04T09:20:00Z");
    let page = visible_text(&get(&app, &path).await.text());
    assert_shows(&page, "ETA 10:20 CET passed — no new estimate yet");
    app.stop().await;
}

#[tokio::test]
async fn a_query_string_is_not_kept_but_answered() {
    let app = TestApp::spawn().await;
    scene(&app).await;
    let plain = get(&app, "/api/v2/status.json").await;
    let with_query = get(&app, "/api/v2/status.json?cachebust=1").await;
    assert_eq!(with_query.status, 200);
    assert_eq!(with_query.body, plain.body);
    app.stop().await;
}

#[tokio::test]
async fn a_kept_page_is_served_without_the_database() {
    let app = TestApp::spawn().await;
    let (id, _, _) = scene(&app).await;
    let paths = ["/", "/api/v2/summary.json", &format!("/incidents/{id}")];
    let mut before = Vec::new();
    for path in paths {
        before.push(get(&app, path).await);
    }
    app.close_database().await;
    for (path, old) in paths.iter().zip(&before) {
        let now = get(&app, path).await;
        assert_eq!(now.status, 200, "{path} with the database gone");
        assert_eq!(now.body, old.body, "{path}");
    }
    app.stop().await;
}

/// Two instances on one database, as behind a load balancer: a POST to one
/// changes the other's cached page too. On PostgreSQL the other hears of it
/// at once (LISTEN/NOTIFY), well before its once-a-second look at
/// `page_version`; on SQLite (one process is the rule) that look is what
/// finds it.
#[tokio::test]
async fn a_write_on_one_instance_reaches_the_other_instances_pages() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let postgres = app.db.url.starts_with("postgres");

    let (second, _clock) = app.second_instance(None).await;
    let other = format!("http://{}/", second.addr);
    let page = |client: reqwest::Client, url: String| async move {
        client
            .get(url)
            .send()
            .await
            .expect("GET / on the second instance")
            .text()
            .await
            .expect("a page")
    };
    // Rendered (and its version looked at) just now, then cached.
    assert_hides(
        &page(app.client.clone(), other.clone()).await,
        "Expired relay certificate",
    );

    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "Expired relay certificate",
                "next_update_in": 30, "message": "Found it."}),
    )
    .await;
    let posted = std::time::Instant::now();
    let within = std::time::Duration::from_millis(if postgres { 400 } else { 3_000 });
    loop {
        let text = page(app.client.clone(), other.clone()).await;
        if visible_text(&text).contains("Expired relay certificate") {
            break;
        }
        assert!(
            posted.elapsed() < within,
            "the second instance still shows the old page after {:?}",
            posted.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    second.shutdown().await;
    app.stop().await;
}

/// Only a write that went through makes the pages stale: a refused one
/// (no token, a wrong token, a broken rule) changed nothing, so anyone
/// could otherwise make every reader's next request render the page again.
#[tokio::test]
async fn a_refused_write_does_not_make_the_pages_render_again() {
    let app = TestApp::spawn().await;
    let (_, smtp, _) = scene(&app).await;
    let first = get(&app, "/").await;
    assert_eq!(first.status, 200);
    let rendered = app.page_renders();

    let anonymous = app
        .raw(Method::POST, "/api/v1/x")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let wrong_token = app
        .raw(Method::POST, "/api/v1/incidents")
        .token("not-a-token")
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(wrong_token.status, 401, "{}", wrong_token.text);
    let broken_rule = app
        .admin_post(
            "/api/v1/incidents",
            &json!({"title": "No promise", "impact": "minor", "status": "investigating",
                    "owner": {"name": "Dana", "email": "dana@acme.test"},
                    "components": {smtp.as_str(): "partial_outage"}, "message": "x"}),
        )
        .await;
    assert_eq!(broken_rule.status, 422, "{}", broken_rule.text);

    let again = get(&app, "/").await;
    assert_eq!(again.body, first.body);
    assert_eq!(
        app.page_renders(),
        rendered,
        "a refused request made the page render again"
    );

    // A write that went through still shows at once.
    app.set_component_status(&smtp, "major_outage").await;
    let after = get(&app, "/").await;
    assert_ne!(after.body, first.body);
    assert_eq!(app.page_renders(), rendered + 1);
    app.stop().await;
}

/// A query string is not part of a page: `/?x=N` is `/`, kept once, so a
/// flood of made-up queries costs at most the one rendering of `/`.
#[tokio::test]
async fn a_flood_of_made_up_queries_renders_the_page_at_most_once() {
    let app = TestApp::spawn().await;
    scene(&app).await;
    let before = app.page_renders();
    let mut bodies = std::collections::BTreeSet::new();
    for n in 0..100 {
        let reply = get(&app, &format!("/?x={n}")).await;
        assert_eq!(reply.status, 200, "/?x={n}");
        bodies.insert(reply.body);
    }
    let renders = app.page_renders() - before;
    assert!(
        renders <= 1,
        "100 made-up queries cost {renders} renderings"
    );
    assert_eq!(bodies.len(), 1, "every query got the same page");
    let plain = get(&app, "/").await;
    assert!(bodies.contains(&plain.body), "the page with a query is `/`");
    assert_eq!(app.page_renders() - before, renders);
    app.stop().await;
}

/// Components a large organisation may list: far beyond Statuspage's 1,100.
const MANY: usize = 5_000;

/// `/` with thousands of components: 200, every component's name and
/// state on it, light enough to serve, and kept like any other page.
#[tokio::test]
async fn the_page_holds_five_thousand_components() {
    use futures::StreamExt as _;
    let app = TestApp::spawn().await;
    let started = std::time::Instant::now();
    // 50 groups of 99 members each, made through the API a few at a time.
    let groups: Vec<String> = futures::stream::iter(0..50)
        .map(|g| {
            let app = &app;
            async move { app.create_component(&format!("Site {g:02}")).await }
        })
        .buffered(8)
        .collect()
        .await;
    let members = MANY - groups.len();
    let created: Vec<Value> = futures::stream::iter(0..members)
        .map(|n| {
            let app = &app;
            let group = groups[n % groups.len()].clone();
            async move {
                app.admin_post(
                    "/api/v1/components",
                    &json!({"name": format!("Printer {n:04}"), "group_id": group}),
                )
                .await
                .expect(201)
            }
        })
        .buffered(8)
        .collect()
        .await;
    eprintln!(
        "{MANY} components created through the API in {:?}",
        started.elapsed()
    );
    let broken = id_of(&created[4_321]);
    app.set_component_status(&broken, "major_outage").await;

    let rendered = std::time::Instant::now();
    let page = get(&app, "/").await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let gzip = fetch(&app, Method::GET, "/", &[("Accept-Encoding", "gzip")]).await;
    eprintln!(
        "/ with {MANY} components: {} bytes, {} gzipped, rendered in {:?}",
        page.body.len(),
        gzip.body.len(),
        rendered.elapsed()
    );
    let html = page.text();
    let text = visible_text(&html);
    for g in 0..50 {
        assert!(
            html.contains(&format!("Site {g:02}")),
            "Site {g:02} is missing"
        );
    }
    for n in 0..members {
        assert!(
            html.contains(&format!("Printer {n:04}")),
            "Printer {n:04} is missing"
        );
    }
    assert_shows(&text, "Printer 4321 Major outage");
    assert!(
        page.body.len() < 2 * 1024 * 1024,
        "/ weighs {} bytes",
        page.body.len()
    );

    let renders = app.page_renders();
    let again = get(&app, "/").await;
    assert_eq!(again.body, page.body);
    assert_eq!(app.page_renders(), renders, "served from the cache");
    app.stop().await;
}

/// Whatever a write leaves in the database, readers of `/` never get a
/// server error while a good rendering of it exists. (A lone carriage
/// return in a title was once stored and then refused on every read; if
/// the write is refused instead, the page simply stays as it is.)
#[tokio::test]
async fn an_unreadable_row_never_takes_the_page_down() {
    let app = TestApp::spawn().await;
    let (_, smtp, _) = scene(&app).await;
    assert_eq!(get(&app, "/").await.status, 200);
    let mut poisoned = crate::helpers::mail_incident(&smtp);
    poisoned["title"] = json!("Mail\rdelays");
    let written = app.admin_post("/api/v1/incidents", &poisoned).await;
    eprintln!("the write answered {}", written.status);

    // Long enough for the page to notice any change (its store is asked
    // once a second), and for its words to move a minute.
    app.advance_minutes(1);
    let until = std::time::Instant::now() + std::time::Duration::from_millis(1_500);
    let mut last = get(&app, "/").await;
    while std::time::Instant::now() < until {
        assert_eq!(last.status, 200, "{}", last.text());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        last = get(&app, "/").await;
    }
    assert_eq!(last.status, 200, "{}", last.text());
    let text = visible_text(&last.text());
    assert_shows(&text, "Outbound SMTP");
    if written.status >= 500 {
        assert_shows(&text, "This page could not be refreshed since");
    }
    app.stop().await;
}
