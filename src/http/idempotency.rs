//! `Idempotency-Key` on admin POSTs: a retried POST with the same key and the
//! same body gets the first response and creates nothing new.

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{error::ApiError, extract::BODY_LIMIT, AppState};
use crate::store::{Actor, IdempotencyBegin};

pub async fn idempotent(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = request
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_owned));
    let (Method::POST, Some(key)) = (request.method().clone(), key) else {
        return Ok(next.run(request).await);
    };
    let key = key
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255)
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })?;
    let actor = request
        .extensions()
        .get::<Actor>()
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::TooLarge(BODY_LIMIT))?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str());
    hasher.update(b" ");
    hasher.update(parts.uri.path());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let hash = hex::encode(hasher.finalize());

    match state
        .store
        .idempotency_begin(&actor, &key, &hash, state.clock.now())
        .await?
    {
        IdempotencyBegin::New => {}
        IdempotencyBegin::Done { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyBegin::InProgress => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            ))
        }
        IdempotencyBegin::Mismatch => return Err(ApiError::IdempotencyKeyReused),
    }

    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(err) => {
            state.store.idempotency_abandon(&actor, &key).await?;
            return Err(ApiError::Internal(anyhow::anyhow!("response body: {err}")));
        }
    };
    if parts.status.is_server_error() {
        // Nothing was done; let a retry run again.
        state.store.idempotency_abandon(&actor, &key).await?;
    } else {
        let text = String::from_utf8_lossy(&bytes);
        state
            .store
            .idempotency_finish(&actor, &key, parts.status.as_u16(), &text)
            .await?;
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}
