//! Admin API: components.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{error::ApiResult, extract::ApiJson, AppState, List};
use crate::domain::{
    component::Component, ComponentId, ComponentStatus, Description, Patch, Title,
};
use crate::ids::new_id;
use crate::store::{Actor, ComponentEdit};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, change))
}

/// A new component (or a group, which is a component others name as their
/// `group_id`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewComponent {
    name: Title,
    description: Option<Description>,
    /// The group it belongs to: a top-level component with no group of its
    /// own (groups are one level deep).
    group_id: Option<ComponentId>,
    /// Its place on the page, lowest first (default 0).
    #[serde(default)]
    position: i64,
    /// Default `operational`.
    status: Option<ComponentStatus>,
}

/// What changes; what is left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ComponentChange {
    name: Option<Title>,
    /// Null removes the description.
    #[serde(default)]
    #[schema(value_type = Option<Description>)]
    description: Patch<Description>,
    /// Null takes it out of its group.
    #[serde(default)]
    #[schema(value_type = Option<ComponentId>)]
    group_id: Patch<ComponentId>,
    position: Option<i64>,
    /// A new status, mailed to the component's subscribers.
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

/// List the components.
///
/// Every component and group, in page order (groups before their members).
#[utoipa::path(get, path = "/components", tag = "components",
    responses((status = 200, description = "The components", body = List<Component>)))]
#[tracing::instrument(skip_all)]
async fn list(State(state): State<AppState>) -> ApiResult<Json<List<Component>>> {
    Ok(Json(List::all(state.store.list_components().await?)))
}

/// Add a component.
#[utoipa::path(post, path = "/components", tag = "components", request_body = NewComponent,
    responses((status = 201, description = "The component made", body = Component)))]
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

/// Read a component.
#[utoipa::path(get, path = "/components/{id}", tag = "components",
    params(("id" = String, Path, description = "The component's id")),
    responses((status = 200, description = "The component", body = Component)))]
#[tracing::instrument(skip_all, fields(component = %id))]
async fn read(
    State(state): State<AppState>,
    Path(id): Path<ComponentId>,
) -> ApiResult<Json<Component>> {
    Ok(Json(state.store.get_component(&id).await?))
}

/// Change a component.
///
/// Rename it, move it, describe it, or set its status by hand with a
/// reason: a new status is mailed to the component's subscribers, with the
/// reason as "Why: …".
#[utoipa::path(patch, path = "/components/{id}", tag = "components",
    params(("id" = String, Path, description = "The component's id")),
    request_body = ComponentChange,
    responses((status = 200, description = "The component as it is now", body = Component)))]
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
