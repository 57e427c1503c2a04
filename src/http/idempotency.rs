//! `Idempotency-Key` on admin POSTs: a retried POST with the same key and the
//! same body gets the first response and creates nothing new. Keys are kept
//! for 24 hours. The write a key protects records itself on the key in its
//! own transaction, so a retry after a crash learns what was done; a key
//! whose request died before writing anything is released.

use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

use super::{error::ApiError, extract::BODY_LIMIT, incidents, AppState};
use crate::domain::{ComponentId, EntryId, IncidentId};
use crate::store::{Actor, IdempotencyBegin, IdempotencyScope, IDEMPOTENCY};

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
    // An import is idempotent by itself (an address there already is left
    // as it is) and too large to keep: its key is not needed.
    if request.uri().path().ends_with("/subscribers/import") {
        return Ok(next.run(request).await);
    }
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
    // From the key's first row on, the request runs to its end in a task of
    // its own: a client that hangs up cannot cancel it between the key's
    // row and the write, or between the write's commit and the stored
    // answer, so its retry gets that answer instead of "in progress".
    tokio::spawn(run_once(state, next, parts, bytes, actor, key, hash))
        .await
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("idempotent request: {err}")))?
}

async fn run_once(
    state: AppState,
    next: Next,
    parts: axum::http::request::Parts,
    bytes: axum::body::Bytes,
    actor: String,
    key: String,
    hash: String,
) -> Result<Response, ApiError> {
    match state
        .store
        .idempotency_begin(&actor, &key, &hash, state.clock.now())
        .await?
    {
        IdempotencyBegin::New => {}
        IdempotencyBegin::Done { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            return Ok(replayed(status, body.into()));
        }
        IdempotencyBegin::InProgress => {
            return Err(ApiError::Conflict(
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .into(),
            ))
        }
        IdempotencyBegin::Mismatch => return Err(ApiError::IdempotencyKeyReused),
        IdempotencyBegin::Committed {
            action,
            target,
            detail,
        } => return committed_answer(&state, &action, &target, &detail).await,
    }

    let scope = IdempotencyScope {
        actor: actor.clone(),
        key: key.clone(),
    };
    IDEMPOTENCY
        .scope(scope, async move {
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
        })
        .await
}

fn replayed(status: StatusCode, body: Body) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// The answer to a retry whose first request committed its write and then
/// died before its answer was stored: what it created, read anew, in the
/// shape the first answer had.
async fn committed_answer(
    state: &AppState,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<Response, ApiError> {
    // The audit log names what was written by its id's text.
    let body = match (action, detail["entry"].as_str()) {
        ("incident.open", _) => {
            let incident = IncidentId::new(target);
            serde_json::to_string(&incidents::incident_json(state, &incident).await?)
        }
        ("incident.entry", Some(entry)) => {
            let (incident, entry) = (IncidentId::new(target), EntryId::new(entry));
            serde_json::to_string(&incidents::entry_json(state, &incident, &entry).await?)
        }
        ("component.create", _) => {
            let component = ComponentId::new(target);
            serde_json::to_string(&state.store.get_component(&component).await?)
        }
        _ => {
            return Err(ApiError::Conflict(format!(
                "this request was done before ({action} {target}), and its answer was lost"
            )))
        }
    }
    .map_err(|err| ApiError::Internal(err.into()))?;
    Ok(replayed(StatusCode::CREATED, Body::from(body)))
}
