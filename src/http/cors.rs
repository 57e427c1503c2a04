//! Any site may read the public state from a browser (status widgets):
//! `Access-Control-Allow-Origin: *` on the Statuspage JSON, and answers to
//! its preflight requests.
//!
//! What `tower_http::cors::CorsLayer` with `Any` did, in a layer that is
//! free to clone: axum clones a route's whole stack for every request, and
//! that layer's clone (its lists of methods and headers) cost every request
//! for `/api/v2/` about 3% of its CPU, cached or not (`benches/http.sh`).

use std::{
    convert::Infallible,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use futures::{
    future::{Either, Ready},
    FutureExt as _,
};

/// Preflight answers may be kept a day.
const MAX_AGE: &str = "86400";

#[derive(Clone, Copy)]
pub(super) struct PublicCors;

impl<S> tower::Layer<S> for PublicCors {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors(inner)
    }
}

#[derive(Clone)]
pub(super) struct Cors<S>(S);

type Answered<F> =
    futures::future::Map<F, fn(Result<Response, Infallible>) -> Result<Response, Infallible>>;

impl<S> tower::Service<Request> for Cors<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, Answered<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() == Method::OPTIONS
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Either::Left(futures::future::ready(Ok(preflight())));
        }
        Either::Right(self.0.call(request).map(with_headers as fn(_) -> _))
    }
}

fn with_headers(answer: Result<Response, Infallible>) -> Result<Response, Infallible> {
    answer.map(|mut response| {
        add_common(response.headers_mut());
        response
    })
}

fn add_common(headers: &mut HeaderMap) {
    headers.append(
        header::VARY,
        HeaderValue::from_static(
            "origin, access-control-request-method, access-control-request-headers",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

fn preflight() -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    add_common(headers);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,HEAD,OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(MAX_AGE),
    );
    response
}
