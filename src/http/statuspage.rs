//! The Statuspage-compatible public JSON under `/api/v2/`
//! (shared/reference/statuspage-v2.md), so that widgets, aggregators and
//! client libraries written for Statuspage read Candor unchanged. Candor's
//! own facts (owner, cause, ETA and its history, the promised next update)
//! ride along in a `candor` object that those clients ignore.

use axum::{
    extract::State,
    routing::{any, get},
    Json, Router,
};
use jiff::Timestamp;
use serde::Serialize;

use super::{cache::Until, error::ApiResult, AppState};
use crate::domain::{component::Component, Incident, IncidentRecord, Kind};
use crate::statuspage::{ComponentJson, Ctx, IncidentJson, Page, StatusJson};
use crate::store::IncidentFilter;

/// How many incidents `incidents.json` lists, as Statuspage does.
const RECENT: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/summary.json", get(summary))
        .route("/api/v2/status.json", get(status))
        .route("/api/v2/components.json", get(components))
        .route("/api/v2/incidents.json", get(incidents))
        .route("/api/v2/incidents/unresolved.json", get(unresolved))
        .route("/api/v2/scheduled-maintenances.json", get(maintenances))
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(maintenances),
        )
        .route(
            "/api/v2/scheduled-maintenances/active.json",
            get(maintenances),
        )
        .route("/api/v2/{*rest}", any(super::api_not_found))
        .method_not_allowed_fallback(super::api_method_not_allowed)
        // Browsers on any site may read the public state (status widgets).
        .layer(super::cors::PublicCors)
}

fn ctx<'a>(state: &'a AppState, components: &'a [Component]) -> Ctx<'a> {
    Ctx::new(
        &state.config.page_name,
        &state.base_url,
        &state.config.time_zone,
        &state.config.time_zone_name,
        components,
        state.clock.now(),
    )
}

/// Unresolved incidents (not maintenances), newest first.
async fn open_incidents(state: &AppState) -> ApiResult<Vec<IncidentRecord>> {
    let mut open = state.store.open_incident_records().await?;
    open.retain(|r| r.incident.kind == Kind::Incident);
    Ok(open)
}

/// The most recent incidents of any state, for `page.updated_at`.
async fn recent_incidents(state: &AppState) -> ApiResult<Vec<Incident>> {
    Ok(state.store.list_incidents(&recent_filter()).await?)
}

fn recent_filter() -> IncidentFilter {
    IncidentFilter {
        state: None,
        kind: Some(Kind::Incident),
        before: None,
        limit: RECENT,
    }
}

#[derive(Serialize)]
struct Summary {
    page: Page,
    components: Vec<ComponentJson>,
    incidents: Vec<IncidentJson>,
    scheduled_maintenances: Vec<IncidentJson>,
    status: StatusJson,
}

/// JSON tells of open incidents `overdue` and `eta_passed`: true until the
/// first of them flips.
fn until<'i>(incidents: impl IntoIterator<Item = &'i Incident>, now: Timestamp) -> Until {
    incidents
        .into_iter()
        .fold(Until::default(), |until, i| until.facts(i, now))
}

#[tracing::instrument(skip_all)]
async fn summary(State(state): State<AppState>) -> ApiResult<(Until, Json<Summary>)> {
    let components = state.shown_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = ctx(&state, &components);
    Ok((
        until(open.iter().map(|r| &r.incident), ctx.now),
        Json(Summary {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            components: ctx.components(),
            incidents: open.iter().map(|r| ctx.incident(r)).collect(),
            scheduled_maintenances: Vec::new(),
            status: ctx.status(open.iter().map(|r| &r.incident)),
        }),
    ))
}

#[derive(Serialize)]
struct StatusOnly {
    page: Page,
    status: StatusJson,
}

#[tracing::instrument(skip_all)]
async fn status(State(state): State<AppState>) -> ApiResult<(Until, Json<StatusOnly>)> {
    let components = state.shown_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = ctx(&state, &components);
    Ok((
        Until::default(),
        Json(StatusOnly {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            status: ctx.status(open.iter().map(|r| &r.incident)),
        }),
    ))
}

#[derive(Serialize)]
struct ComponentsOnly {
    page: Page,
    components: Vec<ComponentJson>,
}

#[tracing::instrument(skip_all)]
async fn components(State(state): State<AppState>) -> ApiResult<(Until, Json<ComponentsOnly>)> {
    let components = state.shown_components().await?;
    let recent = recent_incidents(&state).await?;
    let ctx = ctx(&state, &components);
    Ok((
        Until::default(),
        Json(ComponentsOnly {
            page: ctx.page(&recent),
            components: ctx.components(),
        }),
    ))
}

#[derive(Serialize)]
struct IncidentsOnly {
    page: Page,
    incidents: Vec<IncidentJson>,
}

#[tracing::instrument(skip_all)]
async fn incidents(State(state): State<AppState>) -> ApiResult<(Until, Json<IncidentsOnly>)> {
    let components = state.shown_components().await?;
    let records = state.store.incident_records(&recent_filter()).await?;
    let ctx = ctx(&state, &components);
    Ok((
        until(records.iter().map(|r| &r.incident), ctx.now),
        Json(IncidentsOnly {
            page: ctx.page(records.iter().map(|r| &r.incident)),
            incidents: records.iter().map(|r| ctx.incident(r)).collect(),
        }),
    ))
}

#[tracing::instrument(skip_all)]
async fn unresolved(State(state): State<AppState>) -> ApiResult<(Until, Json<IncidentsOnly>)> {
    let components = state.shown_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = ctx(&state, &components);
    Ok((
        until(open.iter().map(|r| &r.incident), ctx.now),
        Json(IncidentsOnly {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            incidents: open.iter().map(|r| ctx.incident(r)).collect(),
        }),
    ))
}

#[derive(Serialize)]
struct MaintenancesOnly {
    page: Page,
    scheduled_maintenances: Vec<IncidentJson>,
}

/// Candor has no scheduled maintenances yet: every list is empty.
#[tracing::instrument(skip_all)]
async fn maintenances(State(state): State<AppState>) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    let components = state.shown_components().await?;
    let recent = recent_incidents(&state).await?;
    let ctx = ctx(&state, &components);
    Ok((
        Until::default(),
        Json(MaintenancesOnly {
            page: ctx.page(&recent),
            scheduled_maintenances: Vec::new(),
        }),
    ))
}
