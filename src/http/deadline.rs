//! Every request gets an answer in bounded time, and no write is cut short.
//!
//! A handler that takes longer than `request_timeout` (a database that does
//! not answer, a lock held elsewhere) answers 503 with `Retry-After`, as JSON
//! for the API and as a page for people, instead of leaving the client
//! hanging. A write runs in a task of its own: neither that timeout nor a
//! client that hangs up midway cancels it between its statements (a request
//! reset by its client once left SQLite's write lock held, issue 11).

use std::{future::Future, task::Poll};

use axum::{
    extract::Request,
    http::{header, HeaderValue, Method},
    response::{IntoResponse, Response},
};

use tracing::Instrument as _;

use super::{
    error::{ApiError, PageError},
    AppState,
};

/// How long an import of subscribers may take: a list of millions arrives
/// and is added over minutes, a chunk at a time, and is not cut short.
pub(super) const IMPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The path of the one request that may run for minutes.
pub(super) const IMPORT_PATH: &str = "/api/v1/subscribers/import";

/// What bounds a request's answer.
#[derive(Clone, Copy)]
pub(super) struct Kind {
    /// A write: it runs in a task of its own.
    writes: bool,
    /// For the API: JSON when it takes too long.
    api: bool,
    /// An import, bounded by `IMPORT_TIMEOUT` instead of `request_timeout`.
    import: bool,
}

pub(super) fn kind(request: &Request) -> Kind {
    let path = request.uri().path();
    let api = path.starts_with("/api/") || path.starts_with("/v1/") || path == "/healthz";
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    Kind {
        writes,
        api,
        import: writes && path == IMPORT_PATH,
    }
}

/// The handler's `answer`, or 503 when it takes longer than
/// `request_timeout`.
pub(super) async fn bounded<F>(state: &AppState, kind: Kind, answer: F) -> Response
where
    F: Future<Output = Response> + Send + 'static,
{
    let Kind {
        writes,
        api,
        import,
    } = kind;
    let limit = if import {
        IMPORT_TIMEOUT
    } else {
        state.config.connection_limits.request_timeout
    };
    let answer = if writes {
        let write = tokio::spawn(answer.in_current_span());
        match tokio::time::timeout(limit, write).await {
            Ok(Ok(response)) => Some(response),
            // A panic goes on to the panic layer outside, as if it
            // happened here; nothing else ends the task early but a
            // runtime shutting down.
            Ok(Err(err)) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Ok(Err(_)) | Err(_) => None,
        }
    } else {
        let mut answer = std::pin::pin!(answer);
        // A page from the cache is ready at once: no timer for it (making
        // one reads the clock and the runtime's handle).
        match std::future::poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx))).await {
            Poll::Ready(response) => Some(response),
            Poll::Pending => tokio::time::timeout(limit, answer).await.ok(),
        }
    };
    answer.unwrap_or_else(|| too_long(api, limit))
}

/// 503 with `Retry-After`: JSON for the API, a page for people.
fn too_long(api: bool, limit: std::time::Duration) -> Response {
    tracing::warn!(after = ?limit, "a request took too long and was answered 503");
    let mut response = if api {
        ApiError::TimedOut.into_response()
    } else {
        PageError::TimedOut.into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
