//! Webhook subscribers, against a real HTTP endpoint on a loopback port: the
//! Statuspage payload of every change, signed the Standard Webhooks way
//! with the subscriber's secret, retried with the same id when the endpoint
//! fails, and given up on 410 Gone.

use std::sync::{
    atomic::{AtomicU16, Ordering},
    Arc, Mutex,
};
use std::time::{Duration, Instant};

use axum::{body::Bytes, http::HeaderMap, http::StatusCode, routing::post, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use candor::config::{Config, Secret};

use crate::helpers::mailbox::Mailbox;
use crate::helpers::{id_of, TestApp};

/// Candor with webhooks allowed to loopback receivers (the tests' own).
async fn spawn_for_loopback() -> TestApp {
    TestApp::spawn_with(allow_loopback).await
}

fn allow_loopback(config: &mut Config) {
    config.webhook_allow_private = true;
}

/// A webhook receiver that accepts connections and never answers, like a
/// host whose application hangs.
struct Hanging {
    url: String,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let accepted: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        Self {
            url,
            accepted,
            task,
        }
    }

    async fn wait_for_connection(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.accepted.load(Ordering::SeqCst) == 0 {
            assert!(Instant::now() < deadline, "Candor never called the webhook");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One POST the endpoint received.
#[derive(Clone)]
struct Hook {
    headers: HeaderMap,
    raw: String,
    body: Value,
}

impl Hook {
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// A webhook receiver on a free loopback port, answering with `answer`.
struct Endpoint {
    url: String,
    received: Arc<Mutex<Vec<Hook>>>,
    answer: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    async fn start() -> Self {
        let received: Arc<Mutex<Vec<Hook>>> = Arc::default();
        let answer = Arc::new(AtomicU16::new(200));
        let (store, status) = (received.clone(), answer.clone());
        let app = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let (store, status) = (store.clone(), status.clone());
                async move {
                    let raw = String::from_utf8(body.to_vec()).expect("a UTF-8 body");
                    let body = serde_json::from_str(&raw).expect("a JSON body");
                    store.lock().unwrap().push(Hook { headers, raw, body });
                    StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the endpoint");
        });
        Self {
            url,
            received,
            answer,
            task,
        }
    }

    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn hooks(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, n: usize) -> Vec<Hook> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let hooks = self.hooks();
            if hooks.len() >= n {
                return hooks;
            }
            assert!(
                Instant::now() < deadline,
                "the endpoint got {} webhooks, expected {n}",
                hooks.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks the Standard Webhooks signature with the secret, independently of
/// Candor's own code.
fn assert_signed(hook: &Hook, secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let (id, timestamp) = (hook.header("webhook-id"), hook.header("webhook-timestamp"));
    mac.update(format!("{id}.{timestamp}.{}", hook.raw).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(hook.header("webhook-signature"), expected);
}

async fn add_webhook(app: &TestApp, endpoint: &Endpoint, components: &[&str]) -> Value {
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"webhook": endpoint.url, "components": components}),
    )
    .await
    .expect(201)
}

#[tokio::test]
async fn a_webhook_gets_every_change_signed_in_the_statuspage_shape() {
    let endpoint = Endpoint::start().await;
    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let added = add_webhook(&app, &endpoint, &[]).await;
    assert_eq!(added["channel"], "webhook");
    assert_eq!(added["state"], "confirmed");
    assert_eq!(added["address"], endpoint.url);
    let secret = added["secret"]
        .as_str()
        .expect("the secret, once")
        .to_string();
    let listed = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown only once: {listed}"
    );

    let incident = app.open_mail_incident(&smtp).await;
    let incident_id = id_of(&incident);
    app.drain_outbox().await;
    let hooks = endpoint.wait_for(1).await;
    let opened = &hooks[0];
    assert_signed(opened, &secret);
    assert_eq!(opened.header("content-type"), "application/json");
    let body = &opened.body;
    assert_eq!(body["incident"]["id"], incident_id);
    assert_eq!(body["incident"]["name"], incident["title"]);
    assert_eq!(body["incident"]["status"], "investigating");
    assert_eq!(
        body["incident"]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(body["page"]["id"], "acme-it");
    let status: Value = app
        .client
        .get(format!("{}/api/v2/status.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["page"]["status_indicator"],
        status["status"]["indicator"]
    );
    assert_eq!(body["page"]["status_description"], "Partial System Outage");
    let unsubscribe = body["meta"]["unsubscribe"].as_str().unwrap();
    assert!(
        unsubscribe.starts_with(&format!("{}/unsubscribe?token=", app.address)),
        "{unsubscribe}"
    );

    app.post_cause_found(&incident_id).await;
    app.set_component_status(&smtp, "major_outage").await;
    app.drain_outbox().await;
    let hooks = endpoint.wait_for(3).await;
    let update = &hooks[1].body;
    assert_signed(&hooks[1], &secret);
    assert_eq!(update["incident"]["status"], "identified");
    assert_eq!(
        update["incident"]["candor"]["cause"],
        "Expired relay certificate"
    );
    let updates = update["incident"]["incident_updates"].as_array().unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["body"], "We found it.", "newest first");
    let change = &hooks[2].body;
    assert_eq!(change["component_update"]["component_id"], smtp);
    assert_eq!(change["component_update"]["new_status"], "major_outage");
    assert_eq!(change["component"]["name"], "Outbound SMTP");
    assert_ne!(hooks[0].header("webhook-id"), hooks[1].header("webhook-id"));

    // POSTing to the payload's unsubscribe link (RFC 8058 one-click, no
    // login) ends the webhook's deliveries.
    let unsubscribe = hooks[2].body["meta"]["unsubscribe"].as_str().unwrap();
    let answer = app.client.post(unsubscribe).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let after = app
        .admin_get(&format!("/api/v1/subscribers/{}", id_of(&added)))
        .await
        .expect(200);
    assert_eq!(after["state"], "unsubscribed");
    app.post_update(
        &incident_id,
        &json!({"status": "monitoring", "cause": "Expired relay certificate",
                "next_update_in": 30, "message": "New certificate in place."}),
    )
    .await;
    app.drain_outbox().await;
    assert_eq!(endpoint.hooks().len(), 3, "nothing after unsubscribing");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_the_same_id() {
    let endpoint = Endpoint::start().await;
    endpoint.answer_with(503);
    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let secret = add_webhook(&app, &endpoint, &[]).await["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let incident = app.open_mail_incident(&smtp).await;
    let incident_id = id_of(&incident);
    app.drain_outbox().await;
    endpoint.wait_for(1).await;
    let failed = app.deliveries(&incident_id).await;
    assert_eq!(failed["totals"]["failed"], 1, "{failed}");
    let error = failed["entries"][0]["failures"][0]["last_error"]
        .as_str()
        .unwrap();
    assert!(error.contains("503"), "{error}");

    // An update meanwhile waits behind the opening's retry.
    app.post_cause_found(&incident_id).await;
    app.drain_outbox().await;
    assert_eq!(endpoint.hooks().len(), 1);

    endpoint.answer_with(204);
    app.advance_minutes(1);
    app.drain_outbox().await;
    let hooks = endpoint.wait_for(3).await;
    assert_eq!(hooks.len(), 3);
    assert_eq!(hooks[0].header("webhook-id"), hooks[1].header("webhook-id"));
    assert_eq!(
        hooks[0].body, hooks[1].body,
        "a retry says what the first try said, even after the update"
    );
    assert_signed(&hooks[1], &secret);
    assert_eq!(hooks[2].body["incident"]["status"], "identified");
    let updates = hooks[2].body["incident"]["incident_updates"].clone();
    assert_eq!(updates.as_array().unwrap().len(), 2);
    let sent = app.deliveries(&incident_id).await;
    assert_eq!(sent["totals"]["sent"], 2, "{sent}");
    assert_eq!(sent["totals"]["failed"], 0, "{sent}");
    app.stop().await;
}

#[tokio::test]
async fn an_endpoint_that_is_gone_is_not_tried_again() {
    let endpoint = Endpoint::start().await;
    endpoint.answer_with(410);
    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    add_webhook(&app, &endpoint, &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    endpoint.wait_for(1).await;
    let report = app.deliveries(&id_of(&incident)).await;
    assert_eq!(report["totals"]["dead"], 1, "{report}");
    app.advance_minutes(60);
    app.drain_outbox().await;
    assert_eq!(endpoint.hooks().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_of_one_component_hears_only_of_it() {
    let endpoint = Endpoint::start().await;
    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let vpn = app.create_component("VPN").await;
    add_webhook(&app, &endpoint, &[&vpn]).await;
    app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    assert_eq!(endpoint.hooks().len(), 0);
    app.set_component_status(&vpn, "degraded_performance").await;
    app.drain_outbox().await;
    let hooks = endpoint.wait_for(1).await;
    assert_eq!(hooks[0].body["component"]["id"], vpn);
    app.stop().await;
}

#[tokio::test]
async fn bad_webhook_subscriptions_are_refused() {
    let app = spawn_for_loopback().await;
    for (body, field) in [
        (json!({"webhook": "ftp://hooks.example.test/x"}), "webhook"),
        (
            json!({"webhook": "https://user:pw@hooks.example.test/x"}),
            "webhook",
        ),
        (json!({"webhook": "/relative"}), "webhook"),
        (
            json!({"webhook": "https://hooks.example.test/x", "email": "ops@example.test"}),
            "email",
        ),
        (json!({"components": []}), "email"),
    ] {
        app.admin_post("/api/v1/subscribers", &body)
            .await
            .assert_error(422, "invalid", Some(field));
    }
    // A loopback address: no name to resolve, nothing leaves the machine.
    let url = json!({"webhook": "http://127.0.0.1:9/x"});
    app.admin_post("/api/v1/subscribers", &url)
        .await
        .expect(201);
    app.admin_post("/api/v1/subscribers", &url)
        .await
        .assert_error(409, "conflict", None);
    app.stop().await;
}

#[tokio::test]
async fn a_hanging_webhook_does_not_delay_anyone_elses_mail() {
    let hanging = Hanging::start().await;
    let mailbox = Mailbox::start();
    let smtp_url = mailbox.url();
    let app = TestApp::spawn_with(move |c| {
        allow_loopback(c);
        c.smtp_url = Some(Secret::new(smtp_url));
    })
    .await;
    let smtp = app.create_component("Outbound SMTP").await;
    app.admin_post("/api/v1/subscribers", &json!({"webhook": hanging.url}))
        .await
        .expect(201);
    app.add_confirmed("ops@example.test", &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    mailbox.wait_for("ops@example.test", 1).await;
    hanging.wait_for_connection().await;

    // The webhook of the opening is still waiting for an answer.
    let posted = Instant::now();
    app.post_cause_found(&id_of(&incident)).await;
    mailbox.wait_for("ops@example.test", 2).await;
    let took = posted.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the update's mail took {took:?} behind a hanging webhook"
    );
    app.stop().await;
}

#[tokio::test]
async fn webhooks_to_this_host_or_the_intranet_are_refused_when_added() {
    let app = TestApp::spawn().await;
    for (url, kind) in [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://2130706433/hook", "loopback"),
        ("http://127.1/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
    ] {
        let reply = app
            .admin_post("/api/v1/subscribers", &json!({"webhook": url}))
            .await;
        reply.assert_error(422, "invalid", Some("webhook"));
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(kind), "{url}: {message}");
    }
    let listed = app.admin_get("/api/v1/subscribers").await.expect(200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");
    app.stop().await;

    // For receivers on an intranet: loopback and private ranges, but never
    // the unspecified address or link-local (a cloud's metadata service).
    let app = spawn_for_loopback().await;
    for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook"] {
        app.admin_post("/api/v1/subscribers", &json!({"webhook": url}))
            .await
            .expect(201);
    }
    for url in ["http://0.0.0.0:9/hook", "http://169.254.169.254/hook"] {
        app.admin_post("/api/v1/subscribers", &json!({"webhook": url}))
            .await
            .assert_error(422, "invalid", Some("webhook"));
    }
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_no_longer_allowed_is_refused_when_sent() {
    let endpoint = Endpoint::start().await;
    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    add_webhook(&app, &endpoint, &[]).await;
    let incident = app.open_mail_incident(&smtp).await;
    // The same database, now served with private receivers not allowed
    // (as when the setting is turned off, or a name turns private).
    // Its worker, on a thread of its own, takes the webhook at once.
    let (strict, _clock) = app.second_instance(None).await;
    let mut report = app.deliveries(&id_of(&incident)).await;
    for _ in 0..200 {
        if report["totals"]["pending"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        report = app.deliveries(&id_of(&incident)).await;
    }
    assert_eq!(endpoint.hooks().len(), 0, "the receiver was called");
    assert_eq!(report["totals"]["failed"], 1, "{report}");
    assert_eq!(
        report["entries"][0]["failures"][0]["last_error"],
        "refused: address not allowed"
    );
    strict.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn failures_are_reported_by_kind_without_what_the_receiver_said() {
    // A closed port, a receiver that redirects elsewhere (not followed),
    // and one that answers 500 with a body.
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let target = Endpoint::start().await;
    let redirect_to = target.url.clone();
    let app_routes = Router::new()
        .route(
            "/redirect",
            post(move || {
                let to = redirect_to.clone();
                async move { axum::response::Redirect::temporary(&to) }
            }),
        )
        .route(
            "/broken",
            post(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "db password is hunter2 at 10.0.0.7",
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app_routes).await.unwrap();
    });

    let app = spawn_for_loopback().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let mut expected = std::collections::BTreeMap::new();
    for (url, kind) in [
        (closed, "connection refused"),
        (format!("{base}/redirect"), "HTTP 307"),
        (format!("{base}/broken"), "HTTP 500"),
    ] {
        let added = app
            .admin_post("/api/v1/subscribers", &json!({"webhook": url}))
            .await
            .expect(201);
        expected.insert(id_of(&added), kind);
    }
    let incident = app.open_mail_incident(&smtp).await;
    app.drain_outbox().await;
    let report = app.deliveries(&id_of(&incident)).await;
    let failures = report["entries"][0]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3, "{report}");
    for failure in failures {
        let id = failure["subscriber_id"].as_str().unwrap();
        assert_eq!(failure["last_error"], expected[id], "{failure}");
    }
    assert_eq!(target.hooks().len(), 0, "the redirect was followed");
    server.abort();
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_failing_for_three_days_is_quarantined_until_staff_enable_it() {
    let endpoint = Endpoint::start().await;
    endpoint.answer_with(500);
    let mailbox = Mailbox::start();
    let smtp_url = mailbox.url();
    let app = TestApp::spawn_with(move |c| {
        allow_loopback(c);
        c.smtp_url = Some(Secret::new(smtp_url));
        // Only the entries this test posts.
        c.overdue_grace = "off".into();
    })
    .await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    let hook = id_of(&add_webhook(&app, &endpoint, &[]).await);
    app.add_confirmed("ops@example.test", &[]).await;
    let incident = id_of(&app.open_mail_incident(&smtp).await);
    let started = app.now();
    app.drain_outbox().await;
    let update = |n: i64| {
        json!({"status": "investigating", "next_update_in": 30,
               "message": format!("Still on it ({n}).")})
    };

    // Failing for 71 hours: still tried, and staff see since when.
    app.advance_minutes(71 * 60);
    app.post_update(&incident, &update(1)).await;
    app.drain_outbox().await;
    mailbox.wait_for("ops@example.test", 2).await;
    let failing = app
        .admin_get(&format!("/api/v1/subscribers/{hook}"))
        .await
        .expect(200);
    assert_eq!(failing["last_error"], "HTTP 500", "{failing}");
    assert_eq!(crate::helpers::ts(&failing["failing_since"]), started);
    assert!(failing.get("quarantined_at").is_none(), "{failing}");
    let tries = endpoint.hooks().len();
    assert!(tries >= 2, "{tries}");

    // A failure three days on: quarantined, its open deliveries given up.
    app.advance_minutes(60);
    app.drain_outbox().await;
    let listed = app.admin_get("/api/v1/subscribers").await.expect(200);
    let quarantined = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == hook.as_str())
        .unwrap()
        .clone();
    assert_eq!(quarantined["last_error"], "HTTP 500", "{quarantined}");
    assert_eq!(crate::helpers::ts(&quarantined["failing_since"]), started);
    assert_eq!(
        crate::helpers::ts(&quarantined["quarantined_at"]),
        app.now()
    );
    let tries = endpoint.hooks().len();
    let report = app.deliveries(&incident).await;
    assert_eq!(report["totals"]["failed"], 0, "{report}");
    assert_eq!(report["totals"]["pending"], 0, "{report}");
    let failure = &report["entries"][0]["failures"][0];
    assert_eq!(failure["subscriber_id"], hook.as_str());
    assert_eq!(failure["state"], "dead");
    assert!(
        failure["last_error"]
            .as_str()
            .unwrap()
            .starts_with("quarantined"),
        "{failure}"
    );
    assert_eq!(crate::helpers::ts(&failure["quarantined_at"]), app.now());

    // Quarantined: news still goes out by mail, the webhook is not tried.
    endpoint.answer_with(200);
    app.post_update(&incident, &update(2)).await;
    app.advance_minutes(24 * 60);
    app.drain_outbox().await;
    mailbox.wait_for("ops@example.test", 3).await;
    assert_eq!(
        endpoint.hooks().len(),
        tries,
        "a quarantined webhook was tried"
    );

    // Re-enabled: nothing old is sent, the next change is.
    let enabled = app
        .admin_post(&format!("/api/v1/subscribers/{hook}/enable"), &json!({}))
        .await
        .expect(200);
    assert!(enabled.get("quarantined_at").is_none(), "{enabled}");
    assert!(enabled.get("last_error").is_none(), "{enabled}");
    app.advance_minutes(24 * 60);
    app.drain_outbox().await;
    assert_eq!(endpoint.hooks().len(), tries, "old news was resent");
    app.post_update(&incident, &update(3)).await;
    app.drain_outbox().await;
    let hooks = endpoint.wait_for(tries + 1).await;
    assert_eq!(hooks.len(), tries + 1);
    let updates = hooks[tries].body["incident"]["incident_updates"].clone();
    assert_eq!(updates[0]["body"], "Still on it (3).");
    app.stop().await;
}
