//! `/metrics`: the outbox, the timed work and the incidents for Prometheus,
//! behind the admin token, in a format `promtool check metrics` accepts.

use std::process::Stdio;

use reqwest::Method;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::helpers::{id_of, TestApp};

/// The value of the sample `name` (with its labels, as written).
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_say_what_waits_and_what_is_late_to_staff_only() {
    let app = TestApp::spawn().await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    for n in 0..3 {
        app.add_confirmed(&format!("reader{n}@example.test"), &[])
            .await;
    }
    id_of(&app.open_mail_incident(&smtp).await);
    app.admin_post(
        "/api/v1/maintenances",
        &json!({"title": "Relay patches", "scheduled_for": "2026-03-05T20:00:00Z",
                "scheduled_until": "2026-03-05T21:00:00Z", "components": [smtp],
                "owner": {"name": "Dana (IT Ops)", "email": "dana@acme.test"}}),
    )
    .await
    .expect(201);
    app.page("/").await;

    let refused = app.raw(Method::GET, "/metrics").send().await;
    assert_eq!(refused.status, 401, "{}", refused.text);
    assert!(refused.body["error"].is_object(), "{}", refused.text);

    let reply = app.raw(Method::GET, "/metrics").admin().send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.content_type(),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = &reply.text;
    assert_eq!(sample(text, "candor_incidents_open"), 1.0);
    assert_eq!(sample(text, "candor_incidents_overdue"), 0.0);
    assert_eq!(sample(text, "candor_maintenances_planned"), 1.0);
    // Two entries for three readers, not sent (the worker is paused): the
    // fan-outs wait, or their deliveries do.
    let waiting = sample(text, "candor_fanout_subscribers_waiting")
        + text
            .lines()
            .filter(|l| l.starts_with("candor_deliveries{") && l.contains("state=\"pending\""))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum::<f64>();
    assert_eq!(waiting, 6.0, "{text}");
    assert!(sample(text, "candor_page_renders_total") >= 1.0, "{text}");

    // The promised update is 30 minutes away; a minute past it, the job is
    // due and late, and the incident overdue.
    app.advance_minutes(32);
    let text = app.raw(Method::GET, "/metrics").admin().send().await.text;
    assert_eq!(sample(&text, "candor_incidents_overdue"), 1.0, "{text}");
    assert!(sample(&text, "candor_jobs_late") >= 1.0, "{text}");
    assert!(
        sample(&text, "candor_outbox_oldest_pending_seconds") >= 32.0 * 60.0
            || sample(&text, "candor_fanouts_waiting") > 0.0,
        "{text}"
    );

    // Sent, the mails leave the gauge (its rows are the ones still to
    // send) for the counter of what this instance sent.
    app.drain_outbox().await;
    let text = app.raw(Method::GET, "/metrics").admin().send().await.text;
    assert!(
        sample(&text, "candor_deliveries_sent_total{channel=\"email\"}") >= 6.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "candor_deliveries_sent_total{channel=\"webhook\"}"),
        0.0
    );
    assert!(
        !(text.lines()).any(|l| l.starts_with("candor_deliveries{") && l.contains("\"sent\"")),
        "{text}"
    );
    promtool_accepts(&text).await;
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_with_latency_and_sending_errors_by_kind() {
    // Mail to an SMTP server that is down; a webhook to a closed port.
    let down = crate::helpers::mailbox::Mailbox::down(crate::helpers::mailbox::free_port());
    let smtp_url = down.url();
    let app = TestApp::spawn_with(move |c| {
        c.smtp_url = Some(candor::config::Secret::new(smtp_url));
        c.webhook_allow_private = true;
    })
    .await;
    app.pause_worker();
    let smtp = app.create_component("Outbound SMTP").await;
    app.add_confirmed("reader@example.test", &[]).await;
    let closed = crate::helpers::mailbox::free_port();
    app.admin_post(
        "/api/v1/subscribers",
        &json!({"webhook": format!("http://127.0.0.1:{closed}/hook"), "components": []}),
    )
    .await
    .expect(201);
    let incident = id_of(&app.open_mail_incident(&smtp).await);
    app.drain_outbox().await;
    for _ in 0..3 {
        app.page(&format!("/incidents/{incident}")).await;
    }
    app.page("/no/such/page").await;

    let text = app.raw(Method::GET, "/metrics").admin().send().await.text;
    // The route's template, never the path with its id.
    let page =
        "candor_http_requests_total{method=\"GET\",route=\"/incidents/{id}\",status=\"200\"}";
    assert_eq!(sample(&text, page), 3.0, "{text}");
    assert!(!text.contains(&incident), "a path's id in a label:\n{text}");
    let opened =
        "candor_http_requests_total{method=\"POST\",route=\"/api/v1/incidents\",status=\"201\"}";
    assert_eq!(sample(&text, opened), 1.0, "{text}");
    let missing = "candor_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}";
    assert_eq!(sample(&text, missing), 1.0, "{text}");
    let labels = "method=\"GET\",route=\"/incidents/{id}\"";
    assert_eq!(
        sample(
            &text,
            &format!("candor_http_request_duration_seconds_count{{{labels}}}")
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("candor_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}}")
        ),
        3.0
    );
    assert!(
        sample(
            &text,
            &format!("candor_http_request_duration_seconds_sum{{{labels}}}")
        ) > 0.0
    );
    assert!(
        sample(&text, "candor_smtp_errors_total{kind=\"connect\"}") >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "candor_webhook_errors_total{kind=\"connect\"}") >= 1.0,
        "{text}"
    );
    promtool_accepts(&text).await;
    app.stop().await;
}

/// Names, types and help texts as Prometheus wants them (CI installs
/// promtool; elsewhere the check is skipped when it is missing).
async fn promtool_accepts(text: &str) {
    let Ok(mut promtool) = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool check skipped: promtool is not installed");
        return;
    };
    let mut stdin = promtool.stdin.take().unwrap();
    stdin.write_all(text.as_bytes()).await.unwrap();
    drop(stdin);
    let output = promtool.wait_with_output().await.unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool: {said}\n{text}"
    );
}
