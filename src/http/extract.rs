//! Extractors that turn every way a request can be wrong into an `ApiError`
//! naming what is wrong, instead of axum's plain-text rejections.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{header::CONTENT_TYPE, request::Parts},
};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body. Wrong content type → 415, bad syntax → 400, a field of the
/// wrong shape or an unknown field → 422 naming the field, too big → 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(BODY_LIMIT)
            } else {
                ApiError::Malformed(rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => data_error(&path, &inner),
            _ => ApiError::Malformed(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    // One JSON value and nothing after it but white space: `{...} garbage`
    // is a client bug to report, not a body to half-read.
    deserializer.end().map_err(|err| {
        ApiError::Malformed(format!("the body has more after its JSON value: {err}"))
    })?;
    Ok(value)
}

/// A 422 naming the field. serde reports unknown fields at their parent, so
/// the unknown name is taken from the message.
fn data_error(path: &str, err: &serde_json::Error) -> ApiError {
    let text = err.to_string();
    let message = text.split(" at line ").next().unwrap_or(&text).to_string();
    let field = if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        join_path(path, name)
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        join_path(path, name)
    } else if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    // Domain parse errors read "title: must not be empty"; keep the reason.
    let message = match message.split_once(": ") {
        Some((_, reason)) if !message.starts_with("unknown") && !message.starts_with("invalid") => {
            reason.to_string()
        }
        _ => message,
    };
    ApiError::Invalid {
        field: (!field.is_empty()).then_some(field),
        message,
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent == name || parent.ends_with(&format!(".{name}")) {
        parent.to_string()
    } else if parent.is_empty() || parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// A query string; a bad value → 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(ApiQuery)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                ApiError::Invalid {
                    field: (path != ".").then_some(path),
                    message,
                }
            })
    }
}
