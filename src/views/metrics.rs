//! `/metrics` in Prometheus's text exposition format (version 0.0.4): a
//! `# HELP` and a `# TYPE` line per metric, then its samples.

use std::fmt::Write;

/// What one scrape shows, gathered by the handler.
pub struct Scrape {
    /// (channel, state, count) of the outbox's rows.
    pub deliveries: Vec<(String, String, i64)>,
    /// Seconds the oldest pending delivery has waited (0: none waits).
    pub oldest_pending_seconds: f64,
    pub fanouts_waiting: i64,
    pub fanout_subscribers_waiting: i64,
    pub jobs_due: i64,
    pub jobs_late: i64,
    pub incidents_open: i64,
    pub incidents_overdue: i64,
    pub maintenances_planned: i64,
    pub maintenances_running: i64,
    pub pool_size: u32,
    pub pool_idle: usize,
    /// Public pages rendered since the start (the rest came from the cache).
    pub page_renders: u64,
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// The exposition text.
pub fn render(scrape: &Scrape) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str(
        "# HELP candor_deliveries Rows of the outbox (mail and webhooks) by channel and state.\n\
         # TYPE candor_deliveries gauge\n",
    );
    for (channel, state, count) in &scrape.deliveries {
        let _ = writeln!(
            out,
            "candor_deliveries{{channel=\"{channel}\",state=\"{state}\"}} {count}"
        );
    }
    let gauges: [(&str, &str, f64); 11] = [
        (
            "candor_outbox_oldest_pending_seconds",
            "How long the oldest pending delivery has waited (0 when none waits).",
            scrape.oldest_pending_seconds,
        ),
        (
            "candor_fanouts_waiting",
            "Fan-outs written but not yet expanded into deliveries.",
            scrape.fanouts_waiting as f64,
        ),
        (
            "candor_fanout_subscribers_waiting",
            "Subscribers the waiting fan-outs stand for.",
            scrape.fanout_subscribers_waiting as f64,
        ),
        (
            "candor_jobs_due",
            "Timed work (kept promises, maintenance steps) due now and not done.",
            scrape.jobs_due as f64,
        ),
        (
            "candor_jobs_late",
            "Timed work due for more than a minute and not done.",
            scrape.jobs_late as f64,
        ),
        (
            "candor_incidents_open",
            "Open incidents (maintenance not counted).",
            scrape.incidents_open as f64,
        ),
        (
            "candor_incidents_overdue",
            "Open incidents whose promised update has not come.",
            scrape.incidents_overdue as f64,
        ),
        (
            "candor_maintenances_planned",
            "Maintenance announced and not begun.",
            scrape.maintenances_planned as f64,
        ),
        (
            "candor_maintenances_running",
            "Maintenance in progress or being verified.",
            scrape.maintenances_running as f64,
        ),
        (
            "candor_db_pool_connections",
            "Database connections the pool holds.",
            f64::from(scrape.pool_size),
        ),
        (
            "candor_db_pool_idle_connections",
            "Database connections in the pool not in use.",
            scrape.pool_idle as f64,
        ),
    ];
    for (name, help, value) in gauges {
        metric(&mut out, name, "gauge", help, value);
    }
    metric(
        &mut out,
        "candor_page_renders_total",
        "counter",
        "Public pages rendered since the start; the others were answered from the page cache.",
        scrape.page_renders,
    );
    out
}
