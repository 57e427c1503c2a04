//! `/v1/pages/{page_id}/components`: create, list, read, change (a status
//! change is mailed to the component's subscribers, as on the admin API),
//! and delete one that no timeline names.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::get,
    Extension, Json, Router,
};

use super::{
    bodies::ComponentEnvelope,
    both, ctx,
    shapes::{self, V1Component},
    ItemPath, Paging,
};
use crate::domain::{component::Component, ComponentId, ComponentStatus};
use crate::http::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    AppState,
};
use crate::ids::new_id;
use crate::store::{Actor, ComponentEdit, StoreError};

pub fn router() -> Router<AppState> {
    let router = Router::new();
    let router = both(
        router,
        "/pages/{page_id}/components",
        get(list).post(create),
    );
    router.route(
        "/pages/{page_id}/components/{id}",
        get(read).patch(change).put(change).delete(delete),
    )
}

fn not_found(err: StoreError, id: &str) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::NotFound(format!("there is no component with id `{id}`")),
        other => other.into(),
    }
}

async fn shown(state: &AppState, id: &ComponentId) -> ApiResult<V1Component> {
    let all = state.store.list_components().await?;
    shapes::component(&ctx(state, &all), id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no component with id `{id}`")))
}

#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> ApiResult<Json<Vec<V1Component>>> {
    let (page, per_page) = paging.page()?;
    let all = state.store.list_components().await?;
    let items = shapes::components(&ctx(&state, &all));
    Ok(Json(shapes::page_of(items, page, per_page)))
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(ComponentEnvelope { component: body }): ApiJson<ComponentEnvelope>,
) -> ApiResult<(StatusCode, Json<V1Component>)> {
    body.refuse_hiding()?;
    let name = body
        .name
        .ok_or_else(|| ApiError::invalid("component.name", "a component needs a name"))?;
    let now = state.clock.now();
    let component = Component {
        id: new_id(),
        name: name.into(),
        description: body.description.map(Into::into),
        group_id: body.group_id,
        position: body.position.unwrap_or(0),
        status: body.status.unwrap_or(ComponentStatus::Operational),
        created_at: now,
        updated_at: now,
    };
    state.store.create_component(&component, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(shown(&state, &component.id).await?),
    ))
}

#[tracing::instrument(skip_all)]
async fn read(
    State(state): State<AppState>,
    Path(path): Path<ItemPath>,
) -> ApiResult<Json<V1Component>> {
    let id = ComponentId::new(path.id());
    Ok(Json(shown(&state, &id).await?))
}

#[tracing::instrument(skip_all)]
async fn change(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(path): Path<ItemPath>,
    ApiJson(ComponentEnvelope { component: body }): ApiJson<ComponentEnvelope>,
) -> ApiResult<Json<V1Component>> {
    body.refuse_hiding()?;
    let id = ComponentId::new(path.id());
    let edit = ComponentEdit {
        name: body.name.map(Into::into),
        description: body.description.map(|d| Some(d.into())),
        group_id: body.group_id.map(Some),
        position: body.position,
        status: body.status,
        reason: None,
    };
    state
        .store
        .edit_component(&id, &edit, &actor, state.clock.now())
        .await
        .map_err(|e| not_found(e, id.as_str()))?;
    state.wake.notify_one();
    Ok(Json(shown(&state, &id).await?))
}

#[tracing::instrument(skip_all)]
async fn delete(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(path): Path<ItemPath>,
) -> ApiResult<StatusCode> {
    let id = ComponentId::new(path.id());
    state
        .store
        .delete_component(&id, &actor, state.clock.now())
        .await
        .map_err(|e| not_found(e, id.as_str()))?;
    Ok(StatusCode::NO_CONTENT)
}
