//! `/v1/pages/{page_id}/subscribers`: add an address or a webhook
//! `endpoint`, list, and unsubscribe (`DELETE`). Candor sends mail and
//! webhooks only: a phone number is refused.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{delete, get},
    Extension, Json, Router,
};

use super::{
    bodies::SubscriberEnvelope,
    both,
    shapes::{self, V1Subscriber},
    ItemPath, Paging,
};
use crate::domain::subscriber::{Subscriber, SubscriberChange, SubscriberState};
use crate::domain::SubscriberId;
use crate::http::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    AppState,
};
use crate::ids::new_id;
use crate::store::{Actor, StoreError, SubscriberFilter};
use crate::webhook_address;
use crate::webhook_secret;

pub fn router() -> Router<AppState> {
    let router = both(
        Router::new(),
        "/pages/{page_id}/subscribers",
        get(list).post(create),
    );
    router.route("/pages/{page_id}/subscribers/{id}", delete(unsubscribe))
}

#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<Paging>,
) -> ApiResult<Json<Vec<V1Subscriber>>> {
    let (page, per_page) = query.page()?;
    let keep = |s: &Subscriber| match query.state.as_deref().unwrap_or("active") {
        "all" => Ok(true),
        "unsubscribed" => Ok(s.state == SubscriberState::Unsubscribed),
        "active" => Ok(s.state != SubscriberState::Unsubscribed),
        _ => Err(ApiError::invalid(
            "state",
            "is one of active, unsubscribed, all",
        )),
    };
    let mut chosen = Vec::new();
    let mut after: Option<SubscriberId> = None;
    loop {
        let batch = state
            .store
            .list_subscribers(&SubscriberFilter {
                after: after.as_ref(),
                limit: 500,
                prefix: None,
                state: None,
                component: None,
            })
            .await?;
        let done = batch.len() < 500;
        after = batch.last().map(|s| s.id.clone());
        for subscriber in batch {
            if keep(&subscriber)? {
                chosen.push(subscriber);
            }
        }
        if done || chosen.len() >= page * per_page {
            break;
        }
    }
    let components = state.store.list_components().await?;
    Ok(Json(
        shapes::page_of(chosen, page, per_page)
            .iter()
            .map(|s| shapes::subscriber(s, &components, None))
            .collect(),
    ))
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(SubscriberEnvelope { subscriber: body }): ApiJson<SubscriberEnvelope>,
) -> ApiResult<(StatusCode, Json<V1Subscriber>)> {
    if body.phone_number.is_some() || body.phone_country.is_some() {
        return Err(ApiError::invalid(
            "subscriber.phone_number",
            "Candor sends email and webhooks only; give `email` or `endpoint`",
        ));
    }
    let now = state.clock.now();
    let mut components = body.component_ids;
    components.sort();
    components.dedup();
    let (subscriber, secret) = match (body.email, body.endpoint) {
        (Some(email), None) => (
            Subscriber::email(
                new_id(),
                &email,
                components,
                body.skip_confirmation_notification,
                now,
            ),
            None,
        ),
        (None, Some(url)) => {
            webhook_address::check_new(url.as_str(), state.config.webhook_allow_private)
                .await
                .map_err(|why| ApiError::invalid("subscriber.endpoint", why))?;
            (
                Subscriber::webhook(new_id(), &url, components, now),
                Some(webhook_secret::new_secret()),
            )
        }
        _ => {
            return Err(ApiError::invalid(
                "subscriber.email",
                "give either `email` or `endpoint` (a URL to POST each change to)",
            ))
        }
    };
    state
        .store
        .add_subscriber(&subscriber, secret.as_deref(), &actor)
        .await?;
    state.wake.notify_one();
    let all = state.store.list_components().await?;
    Ok((
        StatusCode::CREATED,
        Json(shapes::subscriber(&subscriber, &all, secret)),
    ))
}

/// Unsubscribes: nothing more is sent, and what was sent stays on record.
#[tracing::instrument(skip_all)]
async fn unsubscribe(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(path): Path<ItemPath>,
) -> ApiResult<Json<V1Subscriber>> {
    let id = SubscriberId::new(path.id());
    let subscriber = state
        .store
        .change_subscriber(
            &id,
            &actor,
            state.clock.now(),
            &SubscriberChange::Unsubscribe,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::NotFound(format!("there is no subscriber with id `{id}`"))
            }
            other => other.into(),
        })?;
    let all = state.store.list_components().await?;
    Ok(Json(shapes::subscriber(&subscriber, &all, None)))
}
