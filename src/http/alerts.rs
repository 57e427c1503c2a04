//! Admin API: monitoring alerts. Each tool posts its own webhook body
//! unchanged; the store decides and writes in one transaction (the rules
//! are the domain's, `domain::alerts`), so an alert's incident reaches the
//! page and the subscribers' outbox before the tool hears 200.

mod payloads;

use axum::{
    body::Bytes,
    extract::State,
    http::{header::CONTENT_TYPE, HeaderMap},
    Extension, Json,
};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult},
    extract::{parse_json, ApiJson, ApiQuery},
    AppState, List,
};
use crate::domain::alerts::{Alert, AlertEvent, AlertSource};
use crate::store::Actor;
use payloads::{form_field, GenericBody, GroupedBody, KumaBody, KumaForm};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, generic))
        .routes(routes!(alertmanager))
        .routes(routes!(grafana))
        .routes(routes!(uptime_kuma))
}

/// Takes the alerts of one delivery; wakes the worker if anything posted.
async fn receive(
    state: &AppState,
    actor: &Actor,
    alerts: Vec<Alert>,
) -> ApiResult<Json<List<AlertEvent>>> {
    if alerts.is_empty() {
        return Ok(Json(List::all(Vec::new())));
    }
    let events = state
        .store
        .receive_alerts(&alerts, &state.config.alerts, state.clock.now(), actor)
        .await?;
    if events.iter().any(|e| e.entry_id.is_some()) {
        state.wake.notify_one();
    }
    Ok(Json(List::all(events)))
}

/// Receive Prometheus Alertmanager's webhook.
///
/// Alertmanager's own body (`version: "4"`), unchanged. A firing alert
/// whose `candor_component` label names a component opens (or joins) an
/// incident at once; a cleared one moves it to monitoring. An alerts-only
/// token may post here.
#[utoipa::path(post, path = "/alerts/alertmanager", tag = "alerts", request_body = GroupedBody,
    responses((status = 200, description = "What became of each alert", body = List<AlertEvent>)))]
#[tracing::instrument(skip_all)]
async fn alertmanager(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<GroupedBody>,
) -> ApiResult<Json<List<AlertEvent>>> {
    let alerts = body.into_alerts(AlertSource::Alertmanager, "4")?;
    receive(&state, &actor, alerts).await
}

/// Receive Grafana's webhook contact point.
///
/// Grafana's own body (`version: "1"`), unchanged; as for Alertmanager.
#[utoipa::path(post, path = "/alerts/grafana", tag = "alerts", request_body = GroupedBody,
    responses((status = 200, description = "What became of each alert", body = List<AlertEvent>)))]
#[tracing::instrument(skip_all)]
async fn grafana(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<GroupedBody>,
) -> ApiResult<Json<List<AlertEvent>>> {
    let alerts = body.into_alerts(AlertSource::Grafana, "1")?;
    receive(&state, &actor, alerts).await
}

/// Receive Uptime Kuma's webhook notification.
///
/// JSON, or Uptime Kuma's form-data variant (one field, `data`, with the
/// same JSON). Down opens an incident, up moves it to monitoring; pending,
/// maintenance and the Test button change nothing.
#[utoipa::path(post, path = "/alerts/uptime-kuma", tag = "alerts",
    request_body(content(
        (KumaBody = "application/json"),
        (KumaForm = "multipart/form-data"),
    )),
    responses((status = 200, description = "What became of the alert", body = List<AlertEvent>)))]
#[tracing::instrument(skip_all)]
async fn uptime_kuma(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<List<AlertEvent>>> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let body: KumaBody = match mime.as_str() {
        "application/json" => parse_json(&body)?,
        "multipart/form-data" => {
            let data = form_field(&body, content_type, "data").ok_or_else(|| {
                ApiError::Malformed(
                    "the form has no field `data` holding Uptime Kuma's JSON".into(),
                )
            })?;
            // The form itself is whole; what is wrong is its field's value.
            parse_json(data).map_err(|err| match err {
                ApiError::Malformed(message) => ApiError::invalid("data", message),
                other => other,
            })?
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as application/json",
            ))
        }
    };
    receive(&state, &actor, body.into_alerts()?).await
}

/// Receive an alert from any other tool or script.
#[utoipa::path(post, path = "/alerts", tag = "alerts", request_body = GenericBody,
    responses((status = 200, description = "What became of the alert", body = List<AlertEvent>)))]
#[tracing::instrument(skip_all)]
async fn generic(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<GenericBody>,
) -> ApiResult<Json<List<AlertEvent>>> {
    let alert = Alert::try_from(body)?;
    receive(&state, &actor, vec![alert]).await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// How many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// List the alerts received.
///
/// Every alert as it came and what became of it, newest first: for staff
/// only, unmapped ones included.
#[utoipa::path(get, path = "/alerts", tag = "alerts", params(ListQuery),
    responses((status = 200, description = "A page of alerts", body = List<AlertEvent>)))]
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<AlertEvent>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 200"));
    }
    let before = match &query.cursor {
        None => None,
        Some(cursor) => {
            let bad = || ApiError::invalid("cursor", "is not a cursor this API gave out");
            let (at, id) = cursor.split_once('_').ok_or_else(bad)?;
            let at = at.parse::<i64>().map_err(|_| bad())?;
            Some((
                Timestamp::from_millisecond(at).map_err(|_| bad())?,
                id.to_string(),
            ))
        }
    };
    let mut events = state.store.alert_events(before, limit + 1).await?;
    let next_cursor = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events
            .last()
            .map(|e| format!("{}_{}", e.received_at.as_millisecond(), e.id))
    } else {
        None
    };
    Ok(Json(List {
        items: events,
        next_cursor,
    }))
}
