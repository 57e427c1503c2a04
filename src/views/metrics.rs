//! `/metrics` in Prometheus's text exposition format (version 0.0.4): a
//! `# HELP` and a `# TYPE` line per metric, then its samples.

use std::fmt::Write;

use jiff::Timestamp;

use crate::counters::{Counts, LATENCY_BUCKETS};
use crate::domain::metrics::Gauges;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// The exposition text: the database's gauges as of `now`, the public
/// pages rendered since the start (`page_renders`; the others came from
/// the page cache), and what this process counted since its start.
pub fn render(gauges: &Gauges, now: Timestamp, page_renders: u64, counts: &Counts) -> String {
    let mut out = String::with_capacity(8192);
    out.push_str(
        "# HELP candor_deliveries Rows of the outbox (mail and webhooks) not sent, by channel and \
         state: pending, failed (waiting for a retry) or dead (given up). The sent ones are \
         candor_deliveries_sent_total.\n\
         # TYPE candor_deliveries gauge\n",
    );
    for (channel, state, count) in &gauges.deliveries {
        let _ = writeln!(
            out,
            "candor_deliveries{{channel=\"{channel}\",state=\"{state}\"}} {count}"
        );
    }
    let oldest_pending = gauges
        .oldest_pending
        .map_or(0.0, |at| now.duration_since(at).as_secs_f64().max(0.0));
    let rows: [(&str, &str, f64); 11] = [
        (
            "candor_outbox_oldest_pending_seconds",
            "How long the oldest pending delivery has waited (0 when none waits).",
            oldest_pending,
        ),
        (
            "candor_fanouts_waiting",
            "Fan-outs (one per update or status change) not yet fully expanded into deliveries.",
            gauges.fanouts_waiting as f64,
        ),
        (
            "candor_fanout_subscribers_waiting",
            "Subscribers the waiting fan-outs have still to reach (counted when posted).",
            gauges.fanout_subscribers_waiting as f64,
        ),
        (
            "candor_jobs_due",
            "Timed work (kept promises, maintenance steps) due now and not done.",
            gauges.jobs_due as f64,
        ),
        (
            "candor_jobs_late",
            "Timed work due for more than a minute and not done.",
            gauges.jobs_late as f64,
        ),
        (
            "candor_incidents_open",
            "Open incidents (maintenance not counted).",
            gauges.incidents_open as f64,
        ),
        (
            "candor_incidents_overdue",
            "Open incidents whose promised update has not come.",
            gauges.incidents_overdue as f64,
        ),
        (
            "candor_maintenances_planned",
            "Maintenance announced and not begun.",
            gauges.maintenances_planned as f64,
        ),
        (
            "candor_maintenances_running",
            "Maintenance in progress or being verified.",
            gauges.maintenances_running as f64,
        ),
        (
            "candor_db_pool_connections",
            "Database connections the pool holds.",
            f64::from(gauges.pool_size),
        ),
        (
            "candor_db_pool_idle_connections",
            "Database connections in the pool not in use.",
            gauges.pool_idle as f64,
        ),
    ];
    for (name, help, value) in rows {
        metric(&mut out, name, "gauge", help, value);
    }
    metric(
        &mut out,
        "candor_page_renders_total",
        "counter",
        "Public pages rendered since the start; the others were answered from the page cache.",
        page_renders,
    );
    render_counts(&mut out, counts);
    out
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Requests by route and status, their latency, and the sending errors.
fn render_counts(out: &mut String, counts: &Counts) {
    out.push_str(
        "# HELP candor_http_requests_total HTTP requests answered since the start, by method, \
         route (the matched template; unmatched for none) and status.\n\
         # TYPE candor_http_requests_total counter\n",
    );
    for (route, method, requests) in &counts.requests {
        let route = label(route);
        for (status, n) in &requests.statuses {
            let _ = writeln!(
                out,
                "candor_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    out.push_str(
        "# HELP candor_http_request_duration_seconds Time to answer an HTTP request (to the \
         answer's head), by method and route.\n\
         # TYPE candor_http_request_duration_seconds histogram\n",
    );
    for (route, method, requests) in &counts.requests {
        let labels = format!("method=\"{method}\",route=\"{}\"", label(route));
        let mut cumulative = 0;
        for (le, n) in LATENCY_BUCKETS.iter().zip(requests.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "candor_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "candor_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
             candor_http_request_duration_seconds_sum{{{labels}}} {}\n\
             candor_http_request_duration_seconds_count{{{labels}}} {}",
            requests.count, requests.seconds, requests.count
        );
    }
    out.push_str(
        "# HELP candor_deliveries_sent_total Deliveries this instance marked sent since its start \
         (a mail the SMTP server took, a webhook answered 2xx), by channel.\n\
         # TYPE candor_deliveries_sent_total counter\n",
    );
    for (channel, n) in &counts.sent {
        let _ = writeln!(
            out,
            "candor_deliveries_sent_total{{channel=\"{channel}\"}} {n}"
        );
    }
    for (name, help, errors) in [
        (
            "candor_smtp_errors_total",
            "Mails the SMTP server did not take, by kind (connect, tls, auth, timeout, \
             rejected: a final 5xx answer, deferred: a 4xx answer or a broken conversation, \
             file: writing to mail_dir, unsendable: no valid mail to send).",
            &counts.smtp_errors,
        ),
        (
            "candor_webhook_errors_total",
            "Webhook POSTs that failed, by kind (timeout, connect, reset, dns, \
             refused_address, http_4xx, http_410, http_5xx, http_other, secret, unsendable, other).",
            &counts.webhook_errors,
        ),
    ] {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n");
        for (kind, n) in errors {
            let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {n}");
        }
    }
}
