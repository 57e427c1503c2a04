//! Admin API: components.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Extension, Json, Router,
};
use serde::Deserialize;

use super::{error::ApiResult, extract::ApiJson, AppState, List};
use crate::domain::{
    component::Component, ComponentId, ComponentStatus, Description, Patch, Title,
};
use crate::ids::new_id;
use crate::store::{Actor, ComponentEdit};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/components", get(list).post(create))
        .route("/components/{id}", get(read).patch(change))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewComponent {
    name: Title,
    description: Option<Description>,
    group_id: Option<ComponentId>,
    #[serde(default)]
    position: i64,
    status: Option<ComponentStatus>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentChange {
    name: Option<Title>,
    #[serde(default)]
    description: Patch<Description>,
    #[serde(default)]
    group_id: Patch<ComponentId>,
    position: Option<i64>,
    status: Option<ComponentStatus>,
    /// Why the status changes: told to subscribers with it.
    reason: Option<Description>,
}

fn patch_option<T, U>(patch: Patch<T>, f: impl Fn(T) -> U) -> Option<Option<U>> {
    match patch {
        Patch::Keep => None,
        Patch::Clear => Some(None),
        Patch::Set(value) => Some(Some(f(value))),
    }
}

#[tracing::instrument(skip_all)]
async fn list(State(state): State<AppState>) -> ApiResult<Json<List<Component>>> {
    Ok(Json(List::all(state.store.list_components().await?)))
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<NewComponent>,
) -> ApiResult<(StatusCode, Json<Component>)> {
    let now = state.clock.now();
    let component = Component {
        id: new_id(),
        name: body.name.into(),
        description: body.description.map(Into::into),
        group_id: body.group_id,
        position: body.position,
        status: body.status.unwrap_or(ComponentStatus::Operational),
        created_at: now,
        updated_at: now,
    };
    state.store.create_component(&component, &actor).await?;
    Ok((StatusCode::CREATED, Json(component)))
}

#[tracing::instrument(skip_all, fields(component = %id))]
async fn read(
    State(state): State<AppState>,
    Path(id): Path<ComponentId>,
) -> ApiResult<Json<Component>> {
    Ok(Json(state.store.get_component(&id).await?))
}

#[tracing::instrument(skip_all, fields(component = %id))]
async fn change(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<ComponentId>,
    ApiJson(body): ApiJson<ComponentChange>,
) -> ApiResult<Json<Component>> {
    let edit = ComponentEdit {
        name: body.name.map(Into::into),
        description: patch_option(body.description, String::from),
        group_id: patch_option(body.group_id, |g| g),
        position: body.position,
        status: body.status,
        reason: body.reason,
    };
    let component = state
        .store
        .edit_component(&id, &edit, &actor, state.clock.now())
        .await?;
    state.wake.notify_one();
    Ok(Json(component))
}
