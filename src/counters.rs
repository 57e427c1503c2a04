//! What this process counts for `/metrics`, in memory since its start:
//! requests by method, route and status with their latency, and the SMTP
//! and webhook errors by kind. Each instance counts its own; Prometheus
//! adds them up across instances (`sum by (route) (...)`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Upper bounds of the latency buckets, in seconds: a page from the cache
/// takes well under a millisecond, a write a few, a slow one seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The route of a request that matched none (a 404), or whose answer came
/// from before the router (a cross-site refusal, a deadline's 503).
pub const UNMATCHED: &str = "unmatched";

#[derive(Default)]
pub struct Counters {
    /// Per route template, per method.
    requests: Mutex<HashMap<Arc<str>, HashMap<&'static str, Requests>>>,
    smtp_errors: Mutex<BTreeMap<&'static str, u64>>,
    webhook_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Deliveries marked sent, by channel.
    sent: Mutex<BTreeMap<&'static str, u64>>,
}

/// The requests of one method and route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requests {
    /// (status, count), in the order first seen.
    pub statuses: Vec<(u16, u64)>,
    /// How many took at most each of `LATENCY_BUCKETS` (not cumulative).
    pub buckets: [u64; LATENCY_BUCKETS.len()],
    /// Seconds, all of them together.
    pub seconds: f64,
    pub count: u64,
}

/// Everything counted, as of one scrape, in a stable order.
#[derive(Debug, Default)]
pub struct Counts {
    /// (route, method, its requests).
    pub requests: Vec<(String, &'static str, Requests)>,
    pub smtp_errors: Vec<(&'static str, u64)>,
    pub webhook_errors: Vec<(&'static str, u64)>,
    /// Deliveries marked sent, by channel: `email` and `webhook` always.
    pub sent: Vec<(&'static str, u64)>,
}

/// The method as a label: the usual ones, and `other` for the rest (a
/// client may send any word).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT",
    ];
    KNOWN
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Counters {
    /// One request answered: its method, the route template it matched
    /// (`/incidents/{id}`, never the path itself, or `UNMATCHED`), its
    /// status and how long the answer took.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let mut requests = lock(&self.requests);
        let per_method = match requests.get_mut(route) {
            Some(per_method) => per_method,
            None => requests.entry(Arc::from(route)).or_default(),
        };
        let counts = per_method.entry(method).or_default();
        match counts.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => counts.statuses.push((status, 1)),
        }
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|le| seconds <= *le) {
            counts.buckets[bucket] += 1;
        }
        counts.seconds += seconds;
        counts.count += 1;
    }

    /// A mail the SMTP server did not take, by kind (`connect`, `timeout`,
    /// `rejected`, `deferred`, ...).
    pub fn smtp_error(&self, kind: &'static str) {
        *lock(&self.smtp_errors).entry(kind).or_default() += 1;
    }

    /// A webhook POST that failed, by kind (`timeout`, `connect`,
    /// `http_5xx`, ...).
    pub fn webhook_error(&self, kind: &'static str) {
        *lock(&self.webhook_errors).entry(kind).or_default() += 1;
    }

    /// Deliveries marked sent (`email` or `webhook`).
    pub fn sent(&self, channel: &'static str, n: u64) {
        *lock(&self.sent).entry(channel).or_default() += n;
    }

    pub fn counts(&self) -> Counts {
        let mut requests: Vec<(String, &'static str, Requests)> = lock(&self.requests)
            .iter()
            .flat_map(|(route, per_method)| {
                per_method
                    .iter()
                    .map(|(method, counts)| (route.to_string(), *method, counts.clone()))
            })
            .collect();
        requests.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        for (_, _, counts) in &mut requests {
            counts.statuses.sort_unstable();
        }
        Counts {
            requests,
            smtp_errors: lock(&self.smtp_errors)
                .iter()
                .map(|(k, n)| (*k, *n))
                .collect(),
            webhook_errors: (lock(&self.webhook_errors).iter())
                .map(|(k, n)| (*k, *n))
                .collect(),
            sent: {
                let sent = lock(&self.sent);
                ["email", "webhook"]
                    .into_iter()
                    .map(|channel| (channel, sent.get(channel).copied().unwrap_or(0)))
                    .collect()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_by_route_method_and_status_with_latency() {
        let counters = Counters::default();
        counters.request("GET", "/incidents/{id}", 200, 0.0003);
        counters.request("GET", "/incidents/{id}", 200, 0.02);
        counters.request("GET", "/incidents/{id}", 404, 7.0);
        counters.request("BREW", UNMATCHED, 405, 0.001);
        counters.smtp_error("timeout");
        counters.smtp_error("timeout");
        let counts = counters.counts();
        let (route, method, get) = &counts.requests[0];
        assert_eq!((route.as_str(), *method), ("/incidents/{id}", "GET"));
        assert_eq!(get.statuses, vec![(200, 2), (404, 1)]);
        assert_eq!(get.count, 3);
        assert_eq!(get.buckets[0], 1);
        assert_eq!(get.buckets[5], 1);
        // Past the last bucket: only in the count (and +Inf).
        assert_eq!(get.buckets.iter().sum::<u64>(), 2);
        assert_eq!(counts.requests[1].1, "other");
        assert_eq!(counts.smtp_errors, vec![("timeout", 2)]);
    }
}
