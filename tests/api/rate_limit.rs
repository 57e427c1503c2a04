//! The public subscribe form is rate limited per IP address and per email
//! address, and says so on a readable page (429) instead of mailing a flood
//! of confirmation links. The limits run on the app's clock: tests move it.

use crate::helpers::{visible_text, TestApp};

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    content_type: String,
    text: String,
}

async fn subscribe(app: &TestApp, email: &str) -> Answer {
    subscribe_via(app, email, None).await
}

/// As through a proxy that says the client is `forwarded_for`.
async fn subscribe_via(app: &TestApp, email: &str, forwarded_for: Option<&str>) -> Answer {
    let mut request = app
        .client
        .post(format!("{}/subscribe", app.address))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    let reply = request
        .body(format!("email={}", email.replace('@', "%40")))
        .send()
        .await
        .expect("POST /subscribe");
    let status = reply.status().as_u16();
    let header = |name: &str| {
        reply
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let retry_after = header("retry-after").map(|v| v.parse().expect("Retry-After in seconds"));
    let content_type = header("content-type").unwrap_or_default();
    let text = visible_text(&reply.text().await.expect("body"));
    Answer {
        status,
        retry_after,
        content_type,
        text,
    }
}

#[track_caller]
fn assert_accepted(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.text.contains("Check your inbox"), "{}", answer.text);
}

#[track_caller]
fn assert_refused(answer: &Answer, reason: &str) {
    assert_eq!(answer.status, 429, "{}", answer.text);
    assert!(
        answer.content_type.starts_with("text/html"),
        "a page, not {:?}",
        answer.content_type
    );
    assert!(answer.text.contains("Too many requests"), "{}", answer.text);
    assert!(answer.text.contains(reason), "{}", answer.text);
    assert!(
        answer.text.contains("Please try again in"),
        "{}",
        answer.text
    );
    assert!(
        answer.retry_after.is_some_and(|s| s > 0),
        "Retry-After: {:?}",
        answer.retry_after
    );
}

/// Confirmation mails written so far (no SMTP server: `.eml` files).
async fn confirmations(app: &TestApp) -> usize {
    app.drain_outbox().await;
    std::fs::read_dir(app.db.dir.join("outbox"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn the_sixth_request_from_one_ip_in_a_minute_gets_a_429_page() {
    let app = TestApp::spawn().await;
    for n in 1..=5 {
        assert_accepted(&subscribe(&app, &format!("reader{n}@example.test")).await);
    }
    let sixth = subscribe(&app, "reader6@example.test").await;
    assert_refused(&sixth, "from your network");
    assert!(sixth.retry_after.unwrap() <= 60, "{:?}", sixth.retry_after);
    assert_eq!(
        confirmations(&app).await,
        5,
        "the refused address got nothing"
    );

    // A minute later the network may subscribe again.
    app.advance_minutes(1);
    assert_accepted(&subscribe(&app, "reader6@example.test").await);
    app.stop().await;
}

#[tokio::test]
async fn one_address_is_limited_while_others_still_work_until_the_ip_limit() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        assert_accepted(&subscribe(&app, "target@example.test").await);
    }
    // Case does not make it another address.
    let fourth = subscribe(&app, "Target@Example.test").await;
    assert_refused(&fourth, "for this address");
    // Another address still works: the fifth request from this IP.
    assert_accepted(&subscribe(&app, "other@example.test").await);
    // The sixth is over the IP limit, whatever the address.
    assert_refused(
        &subscribe(&app, "third@example.test").await,
        "from your network",
    );
    assert_eq!(confirmations(&app).await, 4);

    // A minute later the network is welcome again, but that address waits
    // for the hour's allowance to come back (one every 20 minutes).
    app.advance_minutes(1);
    assert_accepted(&subscribe(&app, "third@example.test").await);
    let again = subscribe(&app, "target@example.test").await;
    assert_refused(&again, "for this address");
    assert!(again.text.contains("in 19 minutes"), "{}", again.text);
    app.advance_minutes(19);
    assert_accepted(&subscribe(&app, "target@example.test").await);
    app.stop().await;
}

#[tokio::test]
async fn limits_are_configurable_and_can_be_off() {
    let app = TestApp::spawn_with(|c| {
        c.subscribe_limit_per_ip = "off".into();
        c.subscribe_limit_per_address = "1/1d".into();
    })
    .await;
    for n in 1..=12 {
        assert_accepted(&subscribe(&app, &format!("reader{n}@example.test")).await);
    }
    assert_refused(
        &subscribe(&app, "reader1@example.test").await,
        "for this address",
    );
    app.stop().await;
}

/// Behind a load balancer every request comes from its address: with the
/// balancer trusted, each client it names has a limit of its own.
#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let app = TestApp::spawn_with(|c| c.trusted_proxies = "127.0.0.1".into()).await;
    for n in 1..=5 {
        let answer = subscribe_via(&app, &format!("a{n}@example.test"), Some("203.0.113.5")).await;
        assert_accepted(&answer);
    }
    let sixth = subscribe_via(&app, "a6@example.test", Some("203.0.113.5")).await;
    assert_refused(&sixth, "from your network");
    // Another reader behind the same balancer is not held back.
    assert_accepted(&subscribe_via(&app, "b1@example.test", Some("198.51.100.7")).await);
    app.stop().await;
}

/// From a peer nobody trusts, `X-Forwarded-For` is the client's own claim:
/// a new made-up address per request does not get around the limit.
#[tokio::test]
async fn an_untrusted_peer_cannot_dodge_the_limit_with_forwarded_for() {
    let app = TestApp::spawn().await;
    for n in 1..=5 {
        let forged = format!("203.0.113.{n}");
        assert_accepted(&subscribe_via(&app, &format!("a{n}@example.test"), Some(&forged)).await);
    }
    let sixth = subscribe_via(&app, "a6@example.test", Some("203.0.113.99")).await;
    assert_refused(&sixth, "from your network");
    app.stop().await;
}
