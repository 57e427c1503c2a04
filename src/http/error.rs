//! The error types of the HTTP edge: `ApiError` answers
//! `{"error": {"code", "message", "field"}}`; `PageError` answers a page
//! for people.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("a valid API token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// The same, in the Statuspage Manage API's words.
    #[error(
        "a valid API key is required: send `Authorization: OAuth <key>` with a Candor API token"
    )]
    UnauthorizedOAuth,
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    /// With what to send instead.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    /// With the reason, for the log only.
    #[error("the database does not answer just now; try again in a few seconds")]
    Unavailable(String),
    #[error("the request took too long; a write may still complete, so retry with the same Idempotency-Key")]
    TimedOut,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
    /// A token that may not do this (an alerts-only token elsewhere).
    #[error("{0}")]
    Forbidden(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Every error the API answers, whatever its status.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// What kind of error, for programs: `malformed_json`, `unauthorized`,
    /// `forbidden`, `not_found`, `method_not_allowed`, `conflict`,
    /// `payload_too_large`, `unsupported_media_type`, `invalid`,
    /// `idempotency_key_reused`, `unavailable`, `timeout`, `internal`.
    pub code: &'a str,
    /// What is wrong, for people.
    pub message: String,
    /// The field or parameter at fault (`owner.email`, `limit`), when one is.
    #[schema(required = true)]
    pub field: Option<&'a str>,
}

/// Seconds a client is asked to wait when the database does not answer
/// (`Retry-After`): long enough not to hammer it, short enough that a
/// brief restart goes unnoticed.
pub const RETRY_AFTER_SECS: u32 = 5;

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Option<&str>) {
        match self {
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_json", None),
            Self::Unauthorized | Self::UnauthorizedOAuth => {
                (StatusCode::UNAUTHORIZED, "unauthorized", None)
            }
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                None,
            ),
            Self::Invalid { field, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                field.as_deref(),
            ),
            Self::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                None,
            ),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", None),
            Self::TimedOut => (StatusCode::SERVICE_UNAVAILABLE, "timeout", None),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", None),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", None),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        Self::Invalid {
            field: Some(err.field),
            message: err.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("no such object".into()),
            StoreError::Conflict(message) => Self::Conflict(message),
            StoreError::Domain(err) => err.into(),
            StoreError::Unavailable(reason) => Self::Unavailable(reason),
            StoreError::Other(err) => Self::Internal(err),
        }
    }
}

/// Why a response is a server error, for the log: carried in the
/// response's extensions and logged once by the `edge` middleware, so
/// that the page cache can answer with a last good rendering instead and
/// log a failing page once per state rather than on every request.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: std::sync::Arc<str>,
    /// The database does not answer: a warning, not a bug.
    pub unavailable: bool,
}

impl Failure {
    pub fn of_store(err: &StoreError, what: &str) -> Self {
        Self {
            message: format!("{what}: {err:#}").into(),
            unavailable: matches!(err, StoreError::Unavailable(_)),
        }
    }

    pub fn log(&self) {
        if self.unavailable {
            tracing::warn!(error = %self.message, "database unavailable");
        } else {
            tracing::error!(error = %self.message, "internal error");
        }
    }
}

/// Asks the client to come back once the database may answer again.
pub fn retry_later(response: &mut Response) {
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(RETRY_AFTER_SECS),
    );
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, field) = self.parts();
        let failure = match &self {
            Self::Internal(err) => Some(Failure {
                message: format!("{err:?}").into(),
                unavailable: false,
            }),
            Self::Unavailable(reason) => Some(Failure {
                message: reason.as_str().into(),
                unavailable: true,
            }),
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code,
                    message: self.to_string(),
                    field,
                },
            }),
        )
            .into_response();
        if let Some(failure) = failure {
            response.extensions_mut().insert(failure);
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// What went wrong, as a page for people (the API answers `ApiError`).
/// Its response carries the status, `Retry-After` where waiting helps, and
/// a server error's `Failure`; the page itself is filled in by the `edge`
/// middleware (`render_page`), which knows the page's name.
#[derive(Debug)]
pub enum PageError {
    /// 404, saying what is not here.
    NotFound(&'static str),
    /// 405, saying what can be done here.
    NotAllowed(&'static str),
    /// 400: a signed link that is not valid, saying where a good one is.
    BadLink(&'static str),
    /// 403: a form posted from another site.
    Forbidden(&'static str),
    /// 410: what was asked about is over (a resolved incident).
    Gone(&'static str),
    /// 503: the handler took longer than `request_timeout`.
    TimedOut,
    /// 503: the database does not answer.
    Unavailable(Failure),
    /// 500: the page could not be built.
    Internal(Failure),
}

impl PageError {
    /// A store failure, for the callers' own pages of `NotFound` and broken
    /// rules are theirs to choose: 503 when the database does not answer,
    /// else 500.
    pub fn store(err: &StoreError, what: &str) -> Self {
        let failure = Failure::of_store(err, what);
        if failure.unavailable {
            Self::Unavailable(failure)
        } else {
            Self::Internal(failure)
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::NotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadLink(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Gone(_) => StatusCode::GONE,
            Self::TimedOut | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &'static str {
        match self {
            Self::NotFound(message)
            | Self::NotAllowed(message)
            | Self::BadLink(message)
            | Self::Forbidden(message)
            | Self::Gone(message) => message,
            Self::TimedOut => "This took too long. Please try again in a moment.",
            Self::Unavailable(_) => {
                "The status database does not answer just now. Please try again in a minute."
            }
            Self::Internal(_) => {
                "This page could not be built just now. Please try again in a minute."
            }
        }
    }

    /// The whole page at once, for the edge's own answers, which come after
    /// `render_page` would have run.
    pub fn page(self, page_name: &str) -> Response {
        let mut response = self.into_response();
        render_page(&mut response, page_name);
        response
    }
}

/// The words of an error page, waiting in its response for `render_page`.
#[derive(Debug, Clone, Copy)]
struct PageMessage(&'static str);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = status.into_response();
        response
            .extensions_mut()
            .insert(PageMessage(self.message()));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            retry_later(&mut response);
        }
        if let Self::Unavailable(failure) | Self::Internal(failure) = self {
            response.extensions_mut().insert(failure);
        }
        response
    }
}

/// Puts the page into a `PageError`'s response, with the page's name (the
/// error itself does not know it); any other response stays as it is.
pub fn render_page(response: &mut Response, page_name: &str) {
    let Some(PageMessage(message)) = response.extensions_mut().remove::<PageMessage>() else {
        return;
    };
    let page = crate::views::error::page(page_name, response.status().as_u16(), message);
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    *response.body_mut() = axum::body::Body::from(page.into_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_page_error_is_rendered_with_the_page_name() {
        let response = PageError::BadLink("Use the link from your latest mail.").page("Acme IT");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[axum::http::header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let html = body(response).await;
        assert!(
            html.contains("Use the link from your latest mail."),
            "{html}"
        );
        assert!(html.contains("Acme IT"), "{html}");
    }

    #[tokio::test]
    async fn a_store_failure_page_carries_its_failure_and_asks_to_retry() {
        let unavailable = StoreError::Unavailable("connection refused".into());
        let response = PageError::store(&unavailable, "public page").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response
            .headers()
            .contains_key(axum::http::header::RETRY_AFTER));
        assert!(response.extensions().get::<Failure>().unwrap().unavailable);

        let other = StoreError::Other(anyhow::anyhow!("disk on fire"));
        let response = PageError::store(&other, "public page").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!response.extensions().get::<Failure>().unwrap().unavailable);
    }

    #[tokio::test]
    async fn other_responses_are_left_alone() {
        let mut response = (StatusCode::NOT_FOUND, "plain").into_response();
        render_page(&mut response, "Acme IT");
        assert_eq!(body(response).await, "plain");
    }
}
