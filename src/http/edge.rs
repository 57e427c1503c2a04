//! What every request passes once: its span is opened, cross-site form
//! posts are refused, the handler runs within `request_timeout`
//! (`deadline.rs`), a server error is logged once, and the security headers
//! go on the answer (`security.rs`).
//!
//! A tower layer of its own rather than `axum::middleware::from_fn`: that
//! boxes and clones the rest of the stack on every request, which a cached
//! page paid for in CPU (`benches/http.sh`).

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use futures::{future::BoxFuture, FutureExt as _};
use tracing::Instrument as _;

use super::{deadline, error, security, AppState};

#[derive(Clone)]
pub(super) struct EdgeLayer(pub(super) AppState);

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            state: self.0.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub(super) struct Edge<S> {
    state: AppState,
    inner: S,
}

impl<S> tower::Service<Request> for Edge<S>
where
    S: tower::Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Method and path, never the query string, which carries capability
        // tokens (`/unsubscribe?token=…`) that would then sit in every log.
        let span = tracing::debug_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
        );
        let _entered = span.enter();
        if let Some(refused) = security::refuse_cross_site(&self.state, &request) {
            let (method, status) = (request.method().as_str(), refused.status().as_u16());
            (self.state.counters).request(method, crate::counters::UNMATCHED, status, 0.0);
            return Box::pin(std::future::ready(Ok(refused)));
        }
        let state = self.state.clone();
        let kind = deadline::kind(&request);
        let (method, started) = (request.method().clone(), std::time::Instant::now());
        let answer = self.inner.call(request).map(|answer| match answer {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        });
        drop(_entered);
        Box::pin(
            async move {
                let mut response = deadline::bounded(&state, kind, answer).await;
                match response.extensions().get::<error::Failure>() {
                    Some(failure) => failure.log(),
                    // A 503 for a request that took too long was logged
                    // where it was made.
                    None if response.status().is_server_error()
                        && response.status() != StatusCode::SERVICE_UNAVAILABLE =>
                    {
                        tracing::error!(status = response.status().as_u16(), "server error");
                    }
                    None => {}
                }
                tracing::debug!(status = response.status().as_u16(), "answered");
                let route = response.extensions().get::<axum::extract::MatchedPath>();
                state.counters.request(
                    method.as_str(),
                    route.map_or(crate::counters::UNMATCHED, |r| r.as_str()),
                    response.status().as_u16(),
                    started.elapsed().as_secs_f64(),
                );
                error::render_page(&mut response, &state.config.page_name);
                security::add_headers(&mut response, &state);
                Ok(response)
            }
            .instrument(span),
        )
    }
}
