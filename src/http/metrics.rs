//! `GET /metrics` for Prometheus, behind the admin API's bearer token: the
//! numbers say how much mail is waiting and whether promises run late,
//! which is staff's business, not the public's (Prometheus sends the token
//! with `authorization: {credentials: ...}` in its scrape config).
//!
//! Also the layer that tells the edge which route a request matched
//! (`RouteLabelLayer`), so requests are counted by route template.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    response::{IntoResponse, Response},
    routing::{get, Route},
    Router,
};

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
        metrics::render(
            &gauges,
            now,
            state.page_cache.renders(),
            &state.counters.counts(),
        ),
    ))
}

/// On every route (`Router::route_layer`): the route template the request
/// matched goes on the answer, where the edge reads it for the counts (the
/// edge sees the request before the router matched it).
#[derive(Clone)]
pub(super) struct RouteLabelLayer;

impl tower::Layer<Route> for RouteLabelLayer {
    type Service = RouteLabel;

    fn layer(&self, inner: Route) -> RouteLabel {
        RouteLabel(inner)
    }
}

#[derive(Clone)]
pub(super) struct RouteLabel(Route);

/// The route's answer, with the template put on it.
pub(super) struct Labelled {
    answer: <Route as tower::Service<Request>>::Future,
    route: Option<MatchedPath>,
}

impl Future for Labelled {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Poll::Ready(answer) = Pin::new(&mut self.answer).poll(cx) else {
            return Poll::Pending;
        };
        let mut response = answer?;
        if let Some(route) = self.route.take() {
            response.extensions_mut().insert(route);
        }
        Poll::Ready(Ok(response))
    }
}

impl tower::Service<Request> for RouteLabel {
    type Response = Response;
    type Error = Infallible;
    type Future = Labelled;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        <Route as tower::Service<Request>>::poll_ready(&mut self.0, cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        Labelled {
            answer: self.0.call(request),
            route,
        }
    }
}
