//! `GET /metrics` for Prometheus, behind the admin API's bearer token: the
//! numbers say how much mail is waiting and whether promises run late,
//! which is staff's business, not the public's (Prometheus sends the token
//! with `authorization: {credentials: ...}` in its scrape config).

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};

use super::{error::ApiResult, AppState};
use crate::views::metrics;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

#[tracing::instrument(skip_all)]
async fn scrape(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let now = state.clock.now();
    let gauges = state.store.gauges(now).await?;
    Ok((
        [
            (header::CONTENT_TYPE, EXPOSITION),
            (header::CACHE_CONTROL, "no-store"),
        ],
        metrics::render(&gauges, now, state.page_cache.renders()),
    ))
}
