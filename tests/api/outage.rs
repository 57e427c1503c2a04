//! When the database goes away, Candor says so plainly and quickly (503
//! with `Retry-After`, JSON for the API, a page for people), and the public
//! pages keep their last good rendering, marked with when it was made.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_shows, id_of, mail_incident, visible_text, Reply, TestApp};

/// Everything said of an outage within the 2 s a reader may wait.
const PROMPT: Duration = Duration::from_secs(2);

async fn timed(request: crate::helpers::RawRequest<'_>) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = request.send().await;
    (reply, started.elapsed())
}

fn assert_retry_after(reply: &Reply) {
    let retry = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    assert!(
        retry.is_some_and(|s| (1..=120).contains(&s)),
        "a Retry-After in seconds, got {:?}",
        reply.headers.get("retry-after")
    );
}

#[tokio::test]
async fn the_admin_api_answers_503_with_retry_after_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.close_database().await;

    let requests = [
        app.raw(Method::POST, "/api/v1/incidents")
            .admin()
            .json(&mail_incident(&smtp)),
        app.raw(Method::GET, "/api/v1/incidents").admin(),
        app.raw(Method::PATCH, &format!("/api/v1/components/{smtp}"))
            .admin()
            .json(&json!({"status": "major_outage"})),
        app.raw(Method::POST, "/api/v1/components")
            .admin()
            .header("Idempotency-Key", "outage-1")
            .json(&json!({"name": "VPN"})),
    ];
    for request in requests {
        let (reply, took) = timed(request).await;
        reply.assert_error(503, "unavailable", None);
        assert_retry_after(&reply);
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("database"),
            "the message says what is wrong: {}",
            reply.text
        );
        assert!(took < PROMPT, "answered after {took:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_subscribe_form_answers_a_503_page_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.create_component("Outbound SMTP").await;
    app.close_database().await;

    let (form, took) = timed(app.raw(Method::GET, "/subscribe")).await;
    assert_eq!(form.status, 503, "{}", form.text);
    assert!(took < PROMPT, "answered after {took:?}");
    assert!(form.content_type().starts_with("text/html"));
    assert_retry_after(&form);
    assert_shows(&visible_text(&form.text), "does not answer just now");

    let (posted, took) = timed(
        app.raw(Method::POST, "/subscribe")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("email=reader%40example.test"),
    )
    .await;
    assert_eq!(posted.status, 503, "{}", posted.text);
    assert!(took < PROMPT, "answered after {took:?}");
    assert_retry_after(&posted);
    assert_shows(&visible_text(&posted.text), "Please try again in a minute");
    app.stop().await;
}

/// The pages' words change by themselves (an open incident's "in 30 min"
/// moves every minute), so their renderings expire with the database
/// gone: readers then get the last good bytes, HTML marked with when it
/// was made, and a page never rendered says 503, never 500.
#[tokio::test]
async fn the_public_pages_keep_their_last_good_rendering_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    let smtp = app.create_component("Outbound SMTP").await;
    let id = id_of(&app.open_mail_incident(&smtp).await);
    let html_paths = ["/".to_string(), format!("/incidents/{id}")];
    let other_paths = [
        "/api/v2/summary.json",
        "/api/v2/incidents/unresolved.json",
        "/feed.atom",
    ];
    let mut before = Vec::new();
    for path in html_paths.iter().map(String::as_str).chain(other_paths) {
        let reply = app.raw(Method::GET, path).send().await;
        assert_eq!(reply.status, 200, "{path}");
        before.push(reply);
    }

    app.close_database().await;
    app.advance_minutes(3); // 10:03 in Berlin: every rendering is out of date.

    for (path, old) in html_paths.iter().zip(&before) {
        let (reply, took) = timed(app.raw(Method::GET, path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(took < PROMPT, "{path} answered after {took:?}");
        let text = visible_text(&reply.text);
        assert_shows(&text, "This page could not be refreshed since 10:00 CET");
        assert_shows(&text, "Delayed outbound email");
        assert_shows(&text, "Outbound SMTP");
        assert_ne!(reply.text, old.text, "{path} is marked");
        // Revalidation must not hand back the unmarked bytes.
        let etag = reply.headers["etag"].to_str().unwrap().to_string();
        let old_etag = old.headers["etag"].to_str().unwrap().to_string();
        assert_ne!(
            etag, old_etag,
            "{path}: the marked page has a tag of its own"
        );
    }
    for (path, old) in other_paths.iter().zip(&before[html_paths.len()..]) {
        let (reply, took) = timed(app.raw(Method::GET, path)).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert!(took < PROMPT, "{path} answered after {took:?}");
        assert_eq!(reply.text, old.text, "{path} keeps its last good bytes");
    }

    // Readers keep reading; the database is asked again now and then,
    // not on every request.
    let renders = app.page_renders();
    for _ in 0..50 {
        let reply = app.raw(Method::GET, "/").send().await;
        assert_eq!(reply.status, 200);
    }
    assert!(
        app.page_renders() - renders <= 1,
        "{} renderings for 50 reads",
        app.page_renders() - renders
    );

    // A page that was never rendered has nothing to fall back on.
    let (history, took) = timed(app.raw(Method::GET, "/history")).await;
    assert_eq!(history.status, 503, "{}", history.text);
    assert!(took < PROMPT, "answered after {took:?}");
    assert_retry_after(&history);
    let (v2, _) = timed(app.raw(Method::GET, "/api/v2/components.json")).await;
    v2.assert_error(503, "unavailable", None);
    assert_retry_after(&v2);
    app.stop().await;
}

/// A page whose rendering fails is logged once per state of the pages,
/// not once per reader: the log must stay readable when readers pile in.
#[tokio::test]
async fn a_failing_page_is_logged_once_not_on_every_request() {
    use crate::helpers::mailbox::Mailbox;
    use crate::helpers::TestDatabase;
    use crate::processes::{admin_post, client, Process};

    let db = TestDatabase::create().await;
    let mailbox = Mailbox::start();
    let candor = Process::start(&db, &mailbox, &[]);
    let client = client();
    let component = admin_post(
        &client,
        &format!("{}/api/v1/components", candor.url),
        &json!({"name": "Outbound SMTP"}),
    )
    .await;
    let smtp = id_of(&component);
    let page = |client: reqwest::Client, url: String| async move {
        let reply = client.get(url).send().await.expect("GET /");
        (reply.status().as_u16(), reply.text().await.expect("a page"))
    };
    let home = format!("{}/", candor.url);
    assert_eq!(page(client.clone(), home.clone()).await.0, 200);

    // A row the page cannot read (a lone carriage return in a title was
    // once stored and then refused on every read).
    let mut poisoned = mail_incident(&smtp);
    poisoned["title"] = json!("Mail\rdelays");
    let written = client
        .post(format!("{}/api/v1/incidents", candor.url))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .json(&poisoned)
        .send()
        .await
        .expect("POST /api/v1/incidents");
    if written.status().is_client_error() {
        // Refused as it should be: nothing unreadable was stored.
        return;
    }
    // Readers for longer than one retry of the rendering.
    let until = Instant::now() + Duration::from_secs(7);
    let mut reads = 0;
    while Instant::now() < until {
        let (status, html) = page(client.clone(), home.clone()).await;
        assert_eq!(status, 200, "{html}");
        reads += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, html) = page(client.clone(), home.clone()).await;
    assert_shows(
        &visible_text(&html),
        "This page could not be refreshed since",
    );
    let logged = candor.lines_with("public page");
    assert!(
        logged.len() <= 1,
        "{} log lines for {reads} reads:\n{}",
        logged.len(),
        logged.join("\n")
    );
}

/// A TCP relay on loopback to the test's PostgreSQL that can go silent:
/// connections stay open and nothing passes, as in a network partition
/// (a closed pool or a refused connection fail at once; this does not).
struct Relay {
    address: std::net::SocketAddr,
    silent: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    held: std::sync::Arc<std::sync::Mutex<Vec<tokio::net::TcpStream>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn to(upstream: String) -> Self {
        use tokio::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (silent, _) = tokio::sync::watch::channel(false);
        let silent = std::sync::Arc::new(silent);
        let held: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>> = Default::default();
        let task = {
            let (silent, held) = (silent.clone(), held.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let mut quiet = silent.subscribe();
                    if *quiet.borrow() {
                        held.lock().unwrap().push(client);
                        continue;
                    }
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        continue;
                    };
                    let held = held.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = quiet.wait_for(|s| *s) => {
                                held.lock().unwrap().extend([client, server]);
                            }
                        }
                    });
                }
            })
        };
        Self {
            address,
            silent,
            held,
            task,
        }
    }

    fn go_silent(&self) {
        self.silent.send_replace(true);
    }

    /// Closes every held connection, so that Candor can shut down.
    fn stop(self) {
        self.task.abort();
        self.held.lock().unwrap().clear();
    }
}

/// `postgres://user@host:port/db?x` → `host:port`, and the URL with `to`
/// in its place.
fn through(url: &str, to: std::net::SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    };
    (host, format!("{scheme}://{user}{to}{path}"))
}

#[tokio::test]
async fn a_postgres_that_goes_silent_is_reported_within_two_seconds() {
    let Ok(server) = std::env::var("CANDOR_TEST_DATABASE_URL") else {
        return; // SQLite has no network to lose.
    };
    let (upstream, _) = through(&server, "127.0.0.1:1".parse().unwrap());
    let relay = Relay::to(upstream).await;
    let address = relay.address;
    let app =
        TestApp::spawn_with(move |c| c.database_url = through(&c.database_url, address).1).await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.open_mail_incident(&smtp).await;
    assert_eq!(app.page("/").await.0, 200);

    relay.go_silent();
    app.advance_minutes(3);

    let (reply, took) = timed(app.raw(Method::GET, "/")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(took < PROMPT, "/ answered after {took:?}");
    assert_shows(
        &visible_text(&reply.text),
        "This page could not be refreshed since 10:00 CET",
    );

    let (reply, took) = timed(
        app.raw(Method::POST, "/api/v1/incidents")
            .admin()
            .json(&mail_incident(&smtp)),
    )
    .await;
    reply.assert_error(503, "unavailable", None);
    assert_retry_after(&reply);
    assert!(took < PROMPT, "the admin API answered after {took:?}");

    let (reply, took) = timed(app.raw(Method::GET, "/subscribe")).await;
    assert_eq!(reply.status, 503, "{}", reply.text);
    assert!(took < PROMPT, "/subscribe answered after {took:?}");

    relay.stop();
    app.stop().await;
}
