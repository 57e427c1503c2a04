//! What `/metrics` tells Prometheus, as data: the store reads it from the
//! database, the view writes it in Prometheus's format.

/// The database's side of the metrics, as of one scrape.
#[derive(Debug, Default)]
pub struct Gauges {
    /// (channel, state, count) of the outbox's rows.
    pub deliveries: Vec<(String, String, i64)>,
    /// When the oldest row still pending was queued.
    pub oldest_pending: Option<jiff::Timestamp>,
    /// Fan-outs not yet expanded, and the subscribers they stand for.
    pub fanouts_waiting: i64,
    pub fanout_subscribers_waiting: i64,
    /// Timed work due now, and due for more than a minute (late).
    pub jobs_due: i64,
    pub jobs_late: i64,
    /// Open incidents (not maintenance), and those whose promised update
    /// has not come.
    pub incidents_open: i64,
    pub incidents_overdue: i64,
    /// Maintenance planned and running.
    pub maintenances_planned: i64,
    pub maintenances_running: i64,
    /// Connections the pool holds, and how many of them are idle.
    pub pool_size: u32,
    pub pool_idle: usize,
}
