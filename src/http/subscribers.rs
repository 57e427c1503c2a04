//! Admin API: subscribers, and what became of each delivery.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(super::subscriber_import::import))
        .routes(routes!(read, remove))
        .routes(routes!(enable))
        .routes(routes!(deliveries))
}

/// An email address, or a webhook URL (exactly one).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewSubscriber {
    email: Option<Email>,
    /// A URL to POST each change to, signed with a secret shown once.
    webhook: Option<WebhookUrl>,
    /// Component ids; empty (the default) means every component.
    #[serde(default)]
    components: Vec<ComponentId>,
    /// Staff may vouch for an address and skip the confirmation mail.
    #[serde(default)]
    confirmed: bool,
}

/// A subscriber just added; a webhook's signing secret is shown this once.
#[derive(Serialize, ToSchema)]
#[schema(as = AddedSubscriber)]
struct Added {
    #[serde(flatten)]
    subscriber: Subscriber,
    /// A webhook's signing secret (HMAC-SHA256 of each body), shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// The `next_cursor` of the page before.
    #[param(value_type = Option<String>)]
    cursor: Option<SubscriberId>,
    /// How many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// Only addresses that begin with this (in any case).
    address: Option<String>,
    /// Only subscribers in this state.
    #[param(inline)]
    state: Option<SubscriberState>,
    /// Only subscribers told of this component (all, it, or its group).
    #[param(value_type = Option<String>)]
    component: Option<ComponentId>,
}

/// What became of the mail and webhooks of each entry of an incident.
#[derive(Serialize, ToSchema)]
struct DeliveryReport {
    incident_id: IncidentId,
    totals: Totals,
    entries: Vec<EntryDeliveries>,
}

/// Deliveries by state: waiting or being retried, sent, failed for now,
/// given up.
#[derive(Serialize, Default, ToSchema)]
#[schema(as = DeliveryTotals)]
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

/// List subscribers.
///
/// In the order they were added; filter by the beginning of the address,
/// by state, or by component.
#[utoipa::path(get, path = "/subscribers", tag = "subscribers", params(ListQuery),
    responses((status = 200, description = "A page of subscribers", body = List<Subscriber>)))]
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

/// Add a subscriber.
///
/// An address gets a confirmation mail unless `confirmed` is true (staff
/// vouch for it); a webhook is checked and gets its signing secret, shown
/// in this answer only.
#[utoipa::path(post, path = "/subscribers", tag = "subscribers", request_body = NewSubscriber,
    responses((status = 201, description = "The subscriber added", body = Added)))]
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

/// Read a subscriber.
#[utoipa::path(get, path = "/subscribers/{id}", tag = "subscribers",
    params(("id" = String, Path, description = "The subscriber's id")),
    responses((status = 200, description = "The subscriber", body = Subscriber)))]
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

/// Remove a subscriber.
///
/// Removing a subscriber unsubscribes it: it gets nothing more, and what it
/// was sent stays on record.
#[utoipa::path(delete, path = "/subscribers/{id}", tag = "subscribers",
    params(("id" = String, Path, description = "The subscriber's id")),
    responses((status = 200, description = "The subscriber, unsubscribed", body = Subscriber)))]
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

/// Re-enable a quarantined webhook.
///
/// It is tried again from the next change on; what it missed while
/// quarantined is not sent.
#[utoipa::path(post, path = "/subscribers/{id}/enable", tag = "subscribers",
    params(("id" = String, Path, description = "The subscriber's id")),
    responses((status = 200, description = "The subscriber", body = Subscriber)))]
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

/// What became of an incident's mail.
///
/// Per entry: deliveries by state, and the failures with their reasons.
#[utoipa::path(get, path = "/incidents/{id}/deliveries", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, description = "The deliveries", body = DeliveryReport)))]
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
