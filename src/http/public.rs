//! Public pages for people: `/`, `/incidents/{id}`, `/history`.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use jiff::SignedDuration;
use maud::Markup;

use super::{status_page, AppState};
use crate::store::{IncidentFilter, IncidentState, StoreError};
use crate::views::{self, index::IndexView, PageContext};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/incidents/{id}", get(incident))
        .route("/history", get(history))
        .route("/static/candor.css", get(stylesheet))
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
}

async fn not_allowed(State(state): State<AppState>) -> Response {
    status_page(
        StatusCode::METHOD_NOT_ALLOWED,
        &state,
        "This page can only be read. Staff post incidents through the admin API.",
    )
}

/// A public page or a page that explains what went wrong.
type PageResult = Result<Markup, Response>;

fn failed(state: &AppState, err: StoreError) -> Response {
    match err {
        StoreError::NotFound => not_found_page(state),
        err => {
            tracing::error!(error = %err, "public page");
            status_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                state,
                "The status page could not be built just now. Please try again in a minute.",
            )
        }
    }
}

fn not_found_page(state: &AppState) -> Response {
    status_page(
        StatusCode::NOT_FOUND,
        state,
        "There is no page here. The incident may have a different address.",
    )
}

async fn not_found(State(state): State<AppState>) -> Response {
    not_found_page(&state)
}

pub(crate) fn page_context(state: &AppState) -> PageContext<'_> {
    PageContext {
        page_name: &state.config.page_name,
        now: state.clock.now(),
        tz: &state.tz,
    }
}

async fn index(State(state): State<AppState>) -> PageResult {
    let fail = |e| failed(&state, e);
    let components = state.store.list_components().await.map_err(fail)?;
    let open = state.store.open_incident_records().await.map_err(fail)?;
    let ctx = page_context(&state);
    let week_ago = ctx.now - SignedDuration::from_hours(7 * 24);
    let recent = state
        .store
        .list_incidents(&IncidentFilter {
            state: Some(IncidentState::Resolved),
            kind: None,
            before: None,
            limit: 10,
        })
        .await
        .map_err(fail)?
        .into_iter()
        .filter(|i| i.state.resolved_at.is_some_and(|at| at >= week_ago))
        .collect::<Vec<_>>();
    let view = IndexView {
        components: &components,
        open: &open,
        recently_resolved: &recent,
    };
    Ok(views::index::page(&ctx, &view))
}

async fn incident(State(state): State<AppState>, Path(id): Path<String>) -> PageResult {
    let fail = |e| failed(&state, e);
    let record = state.store.get_incident(&id).await.map_err(fail)?;
    let components = state.store.list_components().await.map_err(fail)?;
    Ok(views::incident::page(
        &page_context(&state),
        &record,
        &components,
    ))
}

async fn history(State(state): State<AppState>) -> PageResult {
    let resolved = state
        .store
        .list_incidents(&IncidentFilter {
            state: Some(IncidentState::Resolved),
            kind: None,
            before: None,
            limit: 500,
        })
        .await
        .map_err(|e| failed(&state, e))?;
    Ok(views::history::page(&page_context(&state), &resolved))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::layout::STYLESHEET,
    )
}
