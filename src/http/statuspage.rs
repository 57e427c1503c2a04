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
use crate::domain::{component::Component, Incident, IncidentRecord, IncidentStatus, Kind};
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
        .route("/api/v2/scheduled-maintenances.json", get(all_maintenances))
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(upcoming_maintenances),
        )
        .route(
            "/api/v2/scheduled-maintenances/active.json",
            get(active_maintenances),
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
    let planned = maintenance_records(&state, true, |s| upcoming(s) || active(s)).await?;
    let ctx = ctx(&state, &components);
    Ok((
        until(open.iter().map(|r| &r.incident), ctx.now)
            .and(maintenance_until(&planned, ctx.now).instant()),
        Json(Summary {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            components: ctx.components(),
            incidents: open.iter().map(|r| ctx.incident(r)).collect(),
            scheduled_maintenances: planned.iter().map(|r| ctx.incident(r)).collect(),
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

/// Maintenances the filter selects, each with its timeline: upcoming
/// soonest first, the others newest first.
async fn maintenance_records(
    state: &AppState,
    open: bool,
    keep: fn(IncidentStatus) -> bool,
) -> ApiResult<Vec<IncidentRecord>> {
    let mut records = state
        .store
        .incident_records(&IncidentFilter {
            state: open.then_some(crate::store::IncidentState::Open),
            kind: Some(Kind::Maintenance),
            before: None,
            limit: RECENT,
        })
        .await?;
    records.retain(|r| keep(r.incident.state.status));
    if open {
        records.sort_by_key(|r| r.incident.state.schedule.as_ref().map(|p| p.scheduled_for));
    }
    Ok(records)
}

fn upcoming(status: IncidentStatus) -> bool {
    status == IncidentStatus::Scheduled
}

fn active(status: IncidentStatus) -> bool {
    matches!(
        status,
        IncidentStatus::InProgress | IncidentStatus::Verifying
    )
}

/// Maintenances in Statuspage's shape, until one of them moves by itself.
async fn maintenances(
    state: &AppState,
    open: bool,
    keep: fn(IncidentStatus) -> bool,
) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    let components = state.shown_components().await?;
    let recent = recent_incidents(state).await?;
    let records = maintenance_records(state, open, keep).await?;
    let ctx = ctx(state, &components);
    Ok((
        maintenance_until(&records, ctx.now),
        Json(MaintenancesOnly {
            page: ctx.page(&recent),
            scheduled_maintenances: records.iter().map(|r| ctx.incident(r)).collect(),
        }),
    ))
}

/// A list of maintenances is true until one of them starts or ends.
fn maintenance_until(records: &[IncidentRecord], now: Timestamp) -> Until {
    records
        .iter()
        .filter_map(|r| r.incident.state.schedule.as_ref())
        .flat_map(|p| [p.scheduled_for, p.scheduled_until])
        .filter(|at| *at > now)
        .min()
        .map_or_else(Until::default, Until::at)
}

#[tracing::instrument(skip_all)]
async fn all_maintenances(
    State(state): State<AppState>,
) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    maintenances(&state, false, |_| true).await
}

#[tracing::instrument(skip_all)]
async fn upcoming_maintenances(
    State(state): State<AppState>,
) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    maintenances(&state, true, upcoming).await
}

#[tracing::instrument(skip_all)]
async fn active_maintenances(
    State(state): State<AppState>,
) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    maintenances(&state, true, active).await
}
