//! `GET /metrics` for Prometheus, behind the admin API's bearer token: the
//! numbers say how much mail is waiting and whether promises run late,
//! which is staff's business, not the public's (Prometheus sends the token
//! with `authorization: {credentials: ...}` in its scrape config).

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};

use super::{error::ApiResult, AppState};
use crate::views::metrics::{self, Scrape};

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

#[tracing::instrument(skip_all)]
async fn scrape(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let now = state.clock.now();
    let gauges = state.store.gauges(now).await?;
    let scrape = Scrape {
        oldest_pending_seconds: gauges
            .oldest_pending
            .map_or(0.0, |at| now.duration_since(at).as_secs_f64().max(0.0)),
        deliveries: gauges.deliveries,
        fanouts_waiting: gauges.fanouts_waiting,
        fanout_subscribers_waiting: gauges.fanout_subscribers_waiting,
        jobs_due: gauges.jobs_due,
        jobs_late: gauges.jobs_late,
        incidents_open: gauges.incidents_open,
        incidents_overdue: gauges.incidents_overdue,
        maintenances_planned: gauges.maintenances_planned,
        maintenances_running: gauges.maintenances_running,
        pool_size: gauges.pool_size,
        pool_idle: gauges.pool_idle,
        page_renders: state.page_cache.renders(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, EXPOSITION),
            (header::CACHE_CONTROL, "no-store"),
        ],
        metrics::render(&scrape),
    ))
}
