//! Monitoring alerts (issue 16): each tool's own webhook body (samples in
//! tests/fixtures/alerts, with where each came from) opens an honest
//! incident at once, says more only when things get worse, moves it to
//! monitoring when everything cleared, and steps aside once a person posts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{candor_command, entries, mailbox::Mailbox, Reply, TestApp};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/alerts/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn on_call(config: &mut candor::config::Config) {
    config.alerts.owner = Some("Dana (IT Ops) <dana@acme.test>".into());
    config
        .alerts
        .components
        .insert("Mail relay".into(), "Outbound SMTP".into());
}

/// Candor with someone on call, and the components the samples name.
async fn spawn() -> TestApp {
    let app = TestApp::spawn_with(on_call).await;
    for name in ["VPN", "Outbound SMTP", "Wiki"] {
        app.create_component(name).await;
    }
    app
}

impl TestApp {
    async fn post_alert(&self, path: &str, body: &Value) -> Vec<Value> {
        let reply = self.admin_post(path, body).await;
        reply.expect(200)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn outcomes(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect()
}

fn with_status(mut body: Value, status: &str) -> Value {
    body["status"] = json!(status);
    for alert in body["alerts"].as_array_mut().unwrap() {
        alert["status"] = json!(status);
    }
    body
}

#[tokio::test]
async fn an_alertmanager_alert_opens_an_honest_incident_on_the_page_and_in_the_mail() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::spawn_with(move |c| {
        on_call(c);
        c.smtp_url = Some(candor::config::Secret::new(url));
    })
    .await;
    let vpn = app.create_component("VPN").await;
    app.add_confirmed("reader@example.test", &[]).await;

    let events = app
        .post_alert(
            "/api/v1/alerts/alertmanager",
            &fixture("alertmanager-firing.json"),
        )
        .await;
    assert_eq!(outcomes(&events), ["opened"]);
    let incident_id = events[0]["incident_id"].as_str().unwrap();
    let incident = app.incident(incident_id).await;
    assert_eq!(incident["title"], "VPN gateway unreachable");
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major");
    assert_eq!(incident["cause"], Value::Null);
    assert_eq!(incident["eta"], Value::Null);
    assert_eq!(incident["owner"]["name"], "Dana (IT Ops)");
    assert_eq!(incident["next_update_at"], "2026-03-04T09:15:00Z");
    assert_eq!(incident["started_at"], "2026-03-04T08:58:45.828Z");
    assert_eq!(incident["components"][0]["id"], vpn.as_str());
    assert_eq!(incident["components"][0]["status"], "major_outage");
    let entry = &entries(&incident)[0];
    assert_eq!(entry["system"], true);
    assert_eq!(entry["author"], "Candor (from Alertmanager)");

    let page = app.page_text("/").await;
    assert!(page.contains("VPN gateway unreachable"), "{page}");
    assert!(page.contains("Cause: not yet known"), "{page}");
    assert!(page.contains("No ETA"), "{page}");
    let incident_page = app.page_text(&format!("/incidents/{incident_id}")).await;
    assert!(
        incident_page.contains("posted by Candor (from Alertmanager)"),
        "{incident_page}"
    );

    let mail = &mailbox.wait_for("reader@example.test", 1).await[0];
    assert!(
        mail.subject
            .starts_with("[New] VPN gateway unreachable — investigating, cause not yet known"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("We know VPN is failing"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("Posted by Candor (from Alertmanager)."),
        "{}",
        mail.text
    );
    assert!(mail.text.contains("Next update by 10:15"), "{}", mail.text);
    app.stop().await;
}

#[tokio::test]
async fn repeats_never_post_worse_alerts_do_and_clearing_means_monitoring_not_resolved() {
    let app = spawn().await;
    let firing = fixture("alertmanager-firing.json");
    let path = "/api/v1/alerts/alertmanager";
    // A warning first.
    let mut warning = firing.clone();
    warning["alerts"][0]["labels"]["severity"] = json!("warning");
    warning["alerts"][0]["fingerprint"] = json!("0000warning");
    let events = app.post_alert(path, &warning).await;
    assert_eq!(outcomes(&events), ["opened"]);
    let id = events[0]["incident_id"].as_str().unwrap().to_string();

    // Alertmanager re-sends the group: nothing new is said.
    for _ in 0..2 {
        app.advance_minutes(1);
        assert_eq!(
            outcomes(&app.post_alert(path, &warning).await),
            ["duplicate"]
        );
    }
    assert_eq!(entries(&app.incident(&id).await).len(), 1);

    // The critical alert makes it worse: one entry says so.
    let events = app.post_alert(path, &firing).await;
    assert_eq!(outcomes(&events), ["worsened"]);
    assert_eq!(events[0]["incident_id"], id.as_str());
    let incident = app.incident(&id).await;
    assert_eq!(entries(&incident).len(), 2);
    assert_eq!(incident["components"][0]["status"], "major_outage");
    assert_eq!(incident["impact"], "major");
    assert_eq!(app.incidents("open").await.len(), 1);

    // Both clear: the incident is monitoring, never resolved.
    app.advance_minutes(2);
    let events = app
        .post_alert(path, &with_status(firing.clone(), "resolved"))
        .await;
    assert_eq!(outcomes(&events), ["cleared"], "the warning still fires");
    let events = app
        .post_alert(path, &with_status(warning.clone(), "resolved"))
        .await;
    assert_eq!(outcomes(&events), ["monitoring"]);
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "monitoring");
    assert_eq!(incident["resolved_at"], Value::Null);
    assert_eq!(incident["components"][0]["status"], "operational");
    assert!(incident["next_update_at"].is_string());
    assert_eq!(
        entries(&incident)[0]["message"],
        "The alerts have cleared; we are watching before calling it resolved."
    );
    let repeat = app
        .post_alert(path, &with_status(warning, "resolved"))
        .await;
    assert_eq!(outcomes(&repeat), ["duplicate"]);
    assert_eq!(entries(&app.incident(&id).await).len(), 3);

    // It fires again within the flap window: the same incident, back to
    // investigating.
    app.advance_minutes(4);
    let events = app.post_alert(path, &firing).await;
    assert_eq!(outcomes(&events), ["returned"]);
    assert_eq!(events[0]["incident_id"], id.as_str());
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["components"][0]["status"], "major_outage");
    assert_eq!(app.incidents("open").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn once_a_person_posts_automation_steps_aside() {
    let app = spawn().await;
    let path = "/api/v1/alerts/alertmanager";
    let firing = fixture("alertmanager-firing.json");
    let events = app.post_alert(path, &firing).await;
    let id = events[0]["incident_id"].as_str().unwrap().to_string();
    app.post_update(
        &id,
        &json!({"status": "identified", "cause": "A failed gateway disk",
                "next_update_in": 30, "message": "Dana here: we found it."}),
    )
    .await;

    app.advance_minutes(1);
    let events = app
        .post_alert(path, &with_status(firing.clone(), "resolved"))
        .await;
    assert_eq!(outcomes(&events), ["person_in_charge"]);
    let incident = app.incident(&id).await;
    assert_eq!(incident["status"], "identified");
    assert_eq!(entries(&incident).len(), 2);

    // Later alert events are shown to staff only.
    let listed = app.admin_get("/api/v1/alerts").await.expect(200);
    assert_eq!(listed["items"][0]["outcome"], "person_in_charge");
    assert_eq!(listed["items"][0]["incident_id"], id.as_str());
    app.stop().await;
}

#[tokio::test]
async fn an_alert_that_names_no_component_is_shown_to_staff_and_never_published() {
    let app = spawn().await;
    let before = app.page_text("/").await;
    let mut printer = fixture("alertmanager-firing.json");
    printer["alerts"][0]["labels"]["service"] = json!("printer");
    printer["alerts"][0]["annotations"]["summary"] = json!("Printer out of paper");
    let events = app
        .post_alert("/api/v1/alerts/alertmanager", &printer)
        .await;
    assert_eq!(outcomes(&events), ["unmapped"]);
    assert!(app.incidents("open").await.is_empty());
    assert_eq!(app.page_text("/").await, before);
    let listed = app.admin_get("/api/v1/alerts").await.expect(200);
    let item = &listed["items"][0];
    assert_eq!(item["outcome"], "unmapped");
    assert_eq!(item["summary"], "Printer out of paper");
    assert_eq!(item["labels"]["service"], "printer");
    assert_eq!(item["source"], "alertmanager");
    // Staff only: not on the public API or feeds.
    let (status, _) = app.page("/api/v1/alerts").await;
    assert_eq!(status, 401);
    let feed = app.page("/feed.atom").await.1;
    assert!(!feed.contains("Printer"), "{feed}");
    app.stop().await;
}

#[tokio::test]
async fn an_alert_during_planned_maintenance_is_recorded_not_published() {
    let app = spawn().await;
    let vpn = app
        .components()
        .await
        .into_iter()
        .find(|c| c["name"] == "VPN")
        .unwrap();
    app.set_component_status(vpn["id"].as_str().unwrap(), "under_maintenance")
        .await;
    let events = app
        .post_alert(
            "/api/v1/alerts/alertmanager",
            &fixture("alertmanager-firing.json"),
        )
        .await;
    assert_eq!(outcomes(&events), ["maintenance"]);
    assert!(app.incidents("open").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn grafana_and_the_generic_shape_open_incidents_too() {
    let app = spawn().await;
    let events = app
        .post_alert("/api/v1/alerts/grafana", &fixture("grafana-firing.json"))
        .await;
    // The first names its component; the second names none Candor knows,
    // and is only recorded.
    assert_eq!(outcomes(&events), ["opened", "unmapped"]);
    let incident = app
        .incident(events[0]["incident_id"].as_str().unwrap())
        .await;
    assert_eq!(incident["title"], "This alert was triggered for zone us-1");
    assert_eq!(incident["components"][0]["name"], "Wiki");
    assert_eq!(entries(&incident)[0]["author"], "Candor (from Grafana)");

    let generic = json!({"source": "nagios", "key": "smtp-queue", "status": "firing",
                         "component": "Outbound SMTP", "severity": "warning"});
    let events = app.post_alert("/api/v1/alerts", &generic).await;
    assert_eq!(outcomes(&events), ["opened"]);
    let incident = app
        .incident(events[0]["incident_id"].as_str().unwrap())
        .await;
    assert_eq!(incident["title"], "Outbound SMTP is slow or unreliable");
    assert_eq!(incident["components"][0]["status"], "degraded_performance");
    assert_eq!(entries(&incident)[0]["author"], "Candor (from nagios)");
    app.stop().await;
}

#[tokio::test]
async fn uptime_kuma_down_up_in_json_or_form_data_and_its_test_button() {
    let app = spawn().await;
    let path = "/api/v1/alerts/uptime-kuma";
    let events = app
        .post_alert(path, &fixture("uptime-kuma-test.json"))
        .await;
    assert!(
        events.is_empty(),
        "the Test button does nothing: {events:?}"
    );
    let listed = app.admin_get("/api/v1/alerts").await.expect(200);
    assert_eq!(listed["items"], json!([]));

    let events = app
        .post_alert(path, &fixture("uptime-kuma-down.json"))
        .await;
    assert_eq!(outcomes(&events), ["opened"]);
    let id = events[0]["incident_id"].as_str().unwrap().to_string();
    let incident = app.incident(&id).await;
    assert_eq!(incident["components"][0]["name"], "Outbound SMTP");
    assert_eq!(incident["title"], "Outbound SMTP is partly failing");

    // Back up, in the form-data variant.
    app.advance_minutes(5);
    let up = serde_json::to_string(&fixture("uptime-kuma-up.json")).unwrap();
    let form = format!(
        "--kuma-boundary\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{up}\r\n--kuma-boundary--\r\n"
    );
    let reply = app
        .raw(Method::POST, path)
        .admin()
        .header(
            "Content-Type",
            "multipart/form-data; boundary=kuma-boundary",
        )
        .body(form)
        .send()
        .await;
    let events = reply.expect(200)["items"].as_array().cloned().unwrap();
    assert_eq!(outcomes(&events), ["monitoring"]);
    assert_eq!(app.incident(&id).await["status"], "monitoring");
    app.stop().await;
}

/// Runs `candor token create NAME --scope alerts`; its secret.
async fn alerts_token(app: &TestApp, name: &str) -> String {
    let output = tokio::process::Command::from(candor_command(&app.db.dir, &app.db.url))
        .args(["token", "create", name, "--scope", "alerts"])
        .output()
        .await
        .expect("run candor token create");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {:?}", output.stderr);
    assert!(stdout.contains("it may only post alerts"), "{stdout}");
    stdout.lines().last().unwrap().trim().to_string()
}

#[tokio::test]
async fn a_token_scoped_to_alerts_posts_alerts_and_nothing_else() {
    let app = spawn().await;
    let token = alerts_token(&app, "alertmanager").await;
    let reply = app
        .raw(Method::POST, "/api/v1/alerts/alertmanager")
        .token(&token)
        .json(&fixture("alertmanager-firing.json"))
        .send()
        .await;
    assert_eq!(
        outcomes(reply.expect(200)["items"].as_array().unwrap()),
        ["opened"]
    );
    for (method, path) in [
        (Method::GET, "/api/v1/incidents"),
        (Method::POST, "/api/v1/incidents"),
        (Method::GET, "/api/v1/alerts"),
        (Method::GET, "/api/v1/components"),
        (Method::GET, "/metrics"),
    ] {
        let reply = app
            .raw(method.clone(), path)
            .token(&token)
            .json(&json!({}))
            .send()
            .await;
        reply.assert_error(403, "forbidden", None);
    }
    // A wrong token is still a 401, and a full token may post alerts too
    // (every other test here posts with one).
    app.raw(Method::POST, "/api/v1/alerts")
        .token("cnd_wrong")
        .json(&json!({}))
        .send()
        .await
        .assert_error(401, "unauthorized", None);
    app.stop().await;
}

#[tokio::test]
async fn malformed_alerts_get_a_4xx_with_the_error_shape_never_a_500() {
    let app = spawn().await;
    let send = |path: &'static str, content_type: &'static str, body: Vec<u8>| {
        let app = &app;
        async move {
            app.raw(Method::POST, path)
                .admin()
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
        }
    };
    let json_type = "application/json";
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "/api/v1/alerts/alertmanager",
            json_type,
            b"{not json".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "/api/v1/alerts/alertmanager",
            json_type,
            br#"{"version": "4"}"#.to_vec(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts/alertmanager",
            json_type,
            serde_json::to_vec(&json!({"version": "3", "alerts": []})).unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts/alertmanager",
            json_type,
            serde_json::to_vec(&json!({"version": "4", "alerts": [{"status": "burning"}]}))
                .unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts/grafana",
            json_type,
            serde_json::to_vec(&fixture("alertmanager-firing.json")).unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts/grafana",
            "text/plain",
            b"hello".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "/api/v1/alerts/uptime-kuma",
            "text/plain",
            b"hello".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "/api/v1/alerts/uptime-kuma",
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "/api/v1/alerts/uptime-kuma",
            json_type,
            serde_json::to_vec(
                &json!({"heartbeat": {"status": 9}, "monitor": {"name": "x"}, "msg": ""}),
            )
            .unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts",
            json_type,
            serde_json::to_vec(&json!({"source": "nagios", "key": "", "status": "firing"}))
                .unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts",
            json_type,
            serde_json::to_vec(
                &json!({"source": "nagios", "key": "k", "status": "firing", "extra": 1}),
            )
            .unwrap(),
            422,
            "invalid",
        ),
        (
            "/api/v1/alerts",
            json_type,
            serde_json::to_vec(&json!({"source": "", "key": "k", "status": "resolved"})).unwrap(),
            422,
            "invalid",
        ),
    ];
    for (path, content_type, body, status, code) in cases {
        let reply: Reply = send(path, content_type, body).await;
        let error = &reply.body["error"];
        assert!(
            reply.status == status
                && error["code"] == code
                && error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{path} ({content_type}): wanted {status} {code}, got {} {}",
            reply.status,
            reply.text
        );
    }
    assert!(app.incidents("open").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_same_alert_delivered_twice_at_once_opens_one_incident() {
    let app = spawn().await;
    let body = fixture("alertmanager-firing.json");
    for round in 0..3 {
        let mut body = body.clone();
        body["alerts"][0]["fingerprint"] = json!(format!("fp-round-{round}"));
        body["alerts"][0]["labels"]["service"] = json!(["vpn", "wiki", "outbound smtp"][round]);
        let (a, b) = tokio::join!(
            app.admin_post("/api/v1/alerts/alertmanager", &body),
            app.admin_post("/api/v1/alerts/alertmanager", &body),
        );
        let mut seen = [a.expect(200), b.expect(200)]
            .iter()
            .map(|r| r["items"][0]["outcome"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        seen.sort();
        assert_eq!(seen, ["duplicate", "opened"], "round {round}");
    }
    assert_eq!(app.incidents("open").await.len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn the_promise_automation_made_is_kept_like_any_other() {
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::spawn_with(move |c| {
        on_call(c);
        c.smtp_url = Some(candor::config::Secret::new(url));
    })
    .await;
    app.create_component("VPN").await;
    let events = app
        .post_alert(
            "/api/v1/alerts/alertmanager",
            &fixture("alertmanager-firing.json"),
        )
        .await;
    let id = events[0]["incident_id"].as_str().unwrap().to_string();
    assert!(app
        .page_text("/")
        .await
        .contains("Next update by 10:15 CET"));

    // Nobody posts by 10:15: the page says so, the owner is reminded, and
    // after the grace the overdue notice goes out like any other entry.
    app.advance_minutes(15);
    app.run_scheduler().await;
    let page = app.page_text("/").await;
    assert!(page.contains("Update overdue since 10:15 CET"), "{page}");
    let reminder = &mailbox.wait_for("dana@acme.test", 1).await[0];
    assert!(
        reminder
            .subject
            .starts_with("[Update overdue] VPN gateway unreachable"),
        "{}",
        reminder.subject
    );
    app.advance_minutes(15);
    app.run_scheduler().await;
    let incident = app.incident(&id).await;
    assert!(entries(&incident)[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("The update promised for 10:15 CET is late."));
    app.stop().await;
}

/// Not a check but a measurement, run by `benches/alerts.sh` (skipped
/// unless `CANDOR_ALERT_BENCH` says how many alerts): from a webhook's
/// arrival to its incident on `/` and its mail handed to the SMTP server,
/// beside the admin API's own POST of the same incident. Prints median and
/// p99; asserts nothing about time.
#[tokio::test]
async fn latency_from_webhook_to_page_and_mail() {
    let Some(n) = std::env::var("CANDOR_ALERT_BENCH")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return;
    };
    let mailbox = Mailbox::start();
    let url = mailbox.url();
    let app = TestApp::spawn_with(move |c| {
        on_call(c);
        c.smtp_url = Some(candor::config::Secret::new(url));
    })
    .await;
    app.add_confirmed("reader@example.test", &[]).await;
    let mut components = Vec::new();
    for i in 0..n {
        components.push((
            app.create_component(&format!("Alerted {i}")).await,
            app.create_component(&format!("Posted {i}")).await,
        ));
    }
    let (mut by_alert, mut by_post) = (Vec::new(), Vec::new());
    let mut mails = 0;
    for (i, (alerted, posted)) in components.iter().enumerate() {
        let title = format!("Outage number {i} by alert");
        let alert = json!({"source": "bench", "key": format!("k{i}"), "status": "firing",
                           "component": alerted, "severity": "critical", "summary": title});
        let open = |title: &str| {
            json!({"title": title, "impact": "major", "owner": {"name": "Dana (IT Ops)",
                   "email": "dana@acme.test"}, "next_update_in": 15,
                   "components": {posted: "major_outage"},
                   "message": "We know it is failing and are looking into it."})
        };
        for (path, body, title, times) in [
            ("/api/v1/alerts", alert, title.clone(), &mut by_alert),
            (
                "/api/v1/incidents",
                open(&format!("Outage number {i} by post")),
                format!("Outage number {i} by post"),
                &mut by_post,
            ),
        ] {
            let sent = std::time::SystemTime::now();
            let started = std::time::Instant::now();
            let reply = app.admin_post(path, &body).await;
            assert!(reply.status < 300, "{}", reply.text);
            while !app.page("/").await.1.contains(&title) {}
            let on_page = started.elapsed();
            mails += 1;
            while mailbox.count() < mails {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            let handed = mailbox_file_time(&mailbox, mails)
                .duration_since(sent)
                .unwrap_or_default();
            times.push((on_page, handed));
        }
    }
    for (what, times) in [("alert webhook", &by_alert), ("admin POST", &by_post)] {
        let mut page: Vec<_> = times.iter().map(|t| t.0).collect();
        let mut mail: Vec<_> = times.iter().map(|t| t.1).collect();
        page.sort();
        mail.sort();
        let at = |v: &[std::time::Duration], q: f64| {
            v[((v.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0
        };
        println!(
            "alerts-bench: {what:13} n={n} on /: median {:.1} ms, p99 {:.1} ms; \
             mail handed to SMTP: median {:.1} ms, p99 {:.1} ms",
            at(&page, 0.5),
            at(&page, 0.99),
            at(&mail, 0.5),
            at(&mail, 0.99)
        );
    }
    app.stop().await;
}

/// When the SMTP server wrote the `n`th mail it received.
fn mailbox_file_time(mailbox: &Mailbox, n: usize) -> std::time::SystemTime {
    mailbox.mails()[n - 1].received_at()
}

/// Every place in a JSON value, as JSON pointers (the root left out).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                (
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    v,
                )
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{at}/{i}"), v))
            .collect(),
        _ => Vec::new(),
    };
    for (pointer, child) in children {
        out.push(pointer.clone());
        pointers(child, pointer, out);
    }
}

#[tokio::test]
async fn random_changes_to_each_tools_body_never_get_a_server_error() {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    let app = spawn().await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        (0usize..400).prop_map(|n| Value::from("x".repeat(n))),
        Just(json!("firing")),
        Just(json!("resolved")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"service": "vpn"})),
    ];
    let targets = [
        (
            "/api/v1/alerts/alertmanager",
            fixture("alertmanager-firing.json"),
        ),
        ("/api/v1/alerts/grafana", fixture("grafana-firing.json")),
        (
            "/api/v1/alerts/uptime-kuma",
            fixture("uptime-kuma-down.json"),
        ),
        (
            "/api/v1/alerts",
            json!({"source": "nagios", "key": "k", "status": "firing",
                   "component": "VPN", "summary": "VPN down", "labels": {"a": "b"}}),
        ),
    ];
    let mut answers = std::collections::BTreeMap::new();
    for round in 0..240 {
        let (path, base) = &targets[round % targets.len()];
        let mut body = base.clone();
        for _ in 0..(1 + round % 3) {
            let mut places = Vec::new();
            pointers(&body, String::new(), &mut places);
            let pick = (0..places.len()).new_tree(&mut runner).unwrap().current();
            let new = value.new_tree(&mut runner).unwrap().current();
            if let Some(slot) = body.pointer_mut(&places[pick]) {
                *slot = new;
            }
        }
        let reply = app.admin_post(path, &body).await;
        assert!(
            reply.status < 500 && (reply.status == 200 || reply.body["error"]["code"].is_string()),
            "{path} {body}: {} {}",
            reply.status,
            reply.text
        );
        *answers.entry(reply.status).or_insert(0) += 1;
    }
    println!("alerts fuzz: answers by status {answers:?}");
    app.stop().await;
}

#[tokio::test]
async fn staff_see_every_alert_in_the_console_readers_do_not() {
    let app = spawn().await;
    let mut printer = fixture("alertmanager-firing.json");
    printer["alerts"][0]["labels"]["service"] = json!("printer");
    printer["alerts"][0]["annotations"]["summary"] = json!("Printer out of paper");
    printer["alerts"][0]["fingerprint"] = json!("00printer");
    app.post_alert("/api/v1/alerts/alertmanager", &printer)
        .await;
    app.advance_minutes(1);
    app.post_alert(
        "/api/v1/alerts/alertmanager",
        &fixture("alertmanager-firing.json"),
    )
    .await;

    let anonymous = app.browser().get("/admin/alerts").await;
    assert_ne!(anonymous.status, 200);
    assert!(!anonymous.text().contains("Printer"));
    let mut dana = app.editor().await;
    let page = dana.get("/admin/alerts").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    for words in [
        "Printer out of paper",
        "Names no component Candor knows; not published",
        "VPN gateway unreachable",
        "Opened an incident",
    ] {
        assert!(text.contains(words), "{words:?} in {text}");
    }
    assert!(
        text.find("VPN gateway unreachable") < text.find("Printer out of paper"),
        "newest first: {text}"
    );
    app.stop().await;
}
