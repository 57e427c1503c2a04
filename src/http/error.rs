//! The one error type of the HTTP edge. API errors answer
//! `{"error": {"code", "message", "field"}}`; page errors answer a page.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::domain::DomainError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("a valid API token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    #[error("{0}")]
    NotFound(String),
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("send the body as application/json")]
    UnsupportedMediaType,
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
}

pub type ApiResult<T> = Result<T, ApiError>;

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
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", None),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", None),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", None),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None),
            Self::UnsupportedMediaType => (
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
            Json(json!({"error": {"code": code, "message": self.to_string(), "field": field}})),
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
