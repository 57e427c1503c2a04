//! Admin API: subscribers, and what became of each delivery.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
    Extension, Json, Router,
};
use serde::{Deserialize, Serialize};

use super::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    AppState, List,
};
use crate::domain::{
    subscriber::{Subscriber, SubscriberChange, SubscriberState},
    ComponentId, Email, IncidentId, SubscriberId, WebhookUrl,
};
use crate::ids::new_id;
use crate::store::{Actor, EntryDeliveries, StoreError, SubscriberFilter};
use crate::webhook_address;
use crate::webhook_secret;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscribers", get(list).post(add))
        .route(
            "/subscribers/import",
            post(super::subscriber_import::import),
        )
        .route("/subscribers/{id}", get(read).delete(remove))
        .route("/subscribers/{id}/enable", post(enable))
        .route("/incidents/{id}/deliveries", get(deliveries))
}

/// An email address, or a webhook URL (exactly one).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSubscriber {
    email: Option<Email>,
    webhook: Option<WebhookUrl>,
    #[serde(default)]
    components: Vec<ComponentId>,
    /// Staff may vouch for an address and skip the confirmation mail.
    #[serde(default)]
    confirmed: bool,
}

/// A subscriber just added; a webhook's signing secret is shown this once.
#[derive(Serialize)]
struct Added {
    #[serde(flatten)]
    subscriber: Subscriber,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The last subscriber of the page before.
    cursor: Option<SubscriberId>,
    limit: Option<i64>,
    /// Only addresses that begin with this (in any case).
    address: Option<String>,
    /// Only subscribers in this state.
    state: Option<SubscriberState>,
    /// Only subscribers told of this component (all, it, or its group).
    component: Option<ComponentId>,
}

#[derive(Serialize)]
struct DeliveryReport {
    incident_id: IncidentId,
    totals: Totals,
    entries: Vec<EntryDeliveries>,
}

#[derive(Serialize, Default)]
struct Totals {
    pending: i64,
    sent: i64,
    failed: i64,
    dead: i64,
}

fn not_found(err: StoreError, what: &str, id: &str) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::NotFound(format!("there is no {what} with id `{id}`")),
        other => other.into(),
    }
}

#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<Subscriber>>> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let mut items = state
        .store
        .list_subscribers(&SubscriberFilter {
            after: query.cursor.as_ref(),
            limit: limit + 1,
            prefix: query.address.as_deref(),
            state: query.state,
            component: query.component.as_ref(),
        })
        .await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|s| s.id.to_string())
    } else {
        None
    };
    Ok(Json(List { items, next_cursor }))
}

#[tracing::instrument(skip_all)]
async fn add(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<NewSubscriber>,
) -> ApiResult<(StatusCode, Json<Added>)> {
    let now = state.clock.now();
    let mut components = body.components;
    components.sort();
    components.dedup();
    let (subscriber, secret) = match (body.email, body.webhook) {
        (Some(email), None) => (
            Subscriber::email(new_id(), &email, components, body.confirmed, now),
            None,
        ),
        (None, Some(url)) => {
            webhook_address::check_new(url.as_str(), state.config.webhook_allow_private)
                .await
                .map_err(|why| ApiError::invalid("webhook", why))?;
            (
                Subscriber::webhook(new_id(), &url, components, now),
                Some(webhook_secret::new_secret()),
            )
        }
        _ => {
            return Err(ApiError::invalid(
                "email",
                "give either `email` or `webhook` (a URL to POST each change to)",
            ))
        }
    };
    state
        .store
        .add_subscriber(&subscriber, secret.as_deref(), &actor)
        .await?;
    state.wake.notify_one();
    Ok((StatusCode::CREATED, Json(Added { subscriber, secret })))
}

#[tracing::instrument(skip_all, fields(subscriber = %id))]
async fn read(
    State(state): State<AppState>,
    Path(id): Path<SubscriberId>,
) -> ApiResult<Json<Subscriber>> {
    let subscriber = state
        .store
        .get_subscriber(&id)
        .await
        .map_err(|e| not_found(e, "subscriber", id.as_str()))?;
    Ok(Json(subscriber))
}

/// Removing a subscriber unsubscribes it: it gets nothing more, and what it
/// was sent stays on record.
#[tracing::instrument(skip_all, fields(subscriber = %id))]
async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<SubscriberId>,
) -> ApiResult<Json<Subscriber>> {
    let now = state.clock.now();
    let subscriber = state
        .store
        .change_subscriber(&id, &actor, now, &SubscriberChange::Unsubscribe)
        .await
        .map_err(|e| not_found(e, "subscriber", id.as_str()))?;
    Ok(Json(subscriber))
}

/// Re-enables a quarantined webhook: it is tried again from the next change
/// on; what it missed while quarantined is not sent.
#[tracing::instrument(skip_all, fields(subscriber = %id))]
async fn enable(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<SubscriberId>,
) -> ApiResult<Json<Subscriber>> {
    let now = state.clock.now();
    let subscriber = state
        .store
        .change_subscriber(&id, &actor, now, &SubscriberChange::Enable)
        .await
        .map_err(|e| not_found(e, "subscriber", id.as_str()))?;
    Ok(Json(subscriber))
}

#[tracing::instrument(skip_all, fields(incident = %id))]
async fn deliveries(
    State(state): State<AppState>,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<DeliveryReport>> {
    let entries = state
        .store
        .incident_deliveries(&id)
        .await
        .map_err(|e| not_found(e, "incident", id.as_str()))?;
    let mut totals = Totals::default();
    for e in &entries {
        totals.pending += e.pending;
        totals.sent += e.sent;
        totals.failed += e.failed;
        totals.dead += e.dead;
    }
    Ok(Json(DeliveryReport {
        incident_id: id,
        totals,
        entries,
    }))
}
