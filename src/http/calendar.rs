//! `/maintenance.ics` and `/components/{id}/maintenance.ics`: planned
//! maintenance for calendar apps (`views::calendar`). Cached like the pages
//! until something changes.

use axum::{
    extract::{rejection::PathRejection, Path, State},
    http::header,
    response::IntoResponse,
    routing::get,
    Router,
};

use super::{cache::Until, error::PageError, AppState};
use crate::domain::{component::grouped, ComponentId, IncidentRecord, Kind};
use crate::store::{IncidentFilter, StoreError};
use crate::views::calendar::{self, Calendar};

/// Maintenances in a calendar: the most recent this many (past ones stay,
/// so that a cancelled one is seen as cancelled).
const MAINTENANCES: i64 = 200;

const ICS: &str = "text/calendar; charset=utf-8";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/maintenance.ics", get(all))
        .route("/components/{id}/maintenance.ics", get(component))
        .method_not_allowed_fallback(not_allowed)
}

async fn not_allowed() -> PageError {
    PageError::NotAllowed("A calendar can only be read; calendar apps subscribe to it.")
}

fn unknown_component() -> PageError {
    PageError::NotFound("There is no component here. It may have a different address.")
}

fn failed(err: StoreError) -> PageError {
    PageError::store(&err, "calendar")
}

async fn maintenances(state: &AppState) -> Result<Vec<IncidentRecord>, PageError> {
    state
        .store
        .incident_records(&IncidentFilter {
            state: None,
            kind: Some(Kind::Maintenance),
            before: None,
            limit: MAINTENANCES,
        })
        .await
        .map_err(failed)
}

async fn respond(
    state: &AppState,
    records: &[IncidentRecord],
) -> Result<impl IntoResponse + use<>, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    let host = url::Url::parse(&state.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "candor".into());
    let calendar = Calendar {
        page_name: &state.config.page_name,
        base_url: &state.base_url,
        host: &host,
        components: &components,
    };
    Ok((
        Until::default(),
        [(header::CONTENT_TYPE, ICS)],
        calendar::render(&calendar, records),
    ))
}

#[tracing::instrument(skip_all)]
async fn all(State(state): State<AppState>) -> Result<impl IntoResponse, PageError> {
    let records = maintenances(&state).await?;
    respond(&state, &records).await
}

/// The maintenances of one component, or of a group and its members.
#[tracing::instrument(skip_all)]
async fn component(
    State(state): State<AppState>,
    id: Result<Path<ComponentId>, PathRejection>,
) -> Result<impl IntoResponse, PageError> {
    // An address that is not even text names no component.
    let Ok(Path(id)) = id else {
        return Err(unknown_component());
    };
    let components = state.store.list_components().await.map_err(failed)?;
    let Some((top, members)) = grouped(&components)
        .into_iter()
        .find(|(top, members)| top.id == id || members.iter().any(|m| m.id == id))
    else {
        return Err(unknown_component());
    };
    let concerned: Vec<&ComponentId> = if top.id == id {
        std::iter::once(&top.id)
            .chain(members.iter().map(|m| &m.id))
            .collect()
    } else {
        // A member's calendar has its own work and its group's.
        vec![&id, &top.id]
    };
    let mut records = maintenances(&state).await?;
    records.retain(|r| {
        concerned
            .iter()
            .any(|c| r.incident.state.components.contains_key(*c))
    });
    respond(&state, &records).await
}
