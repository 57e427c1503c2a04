//! Public pages for people: `/`, `/incidents/{id}`, `/history`.

use axum::{
    extract::{Path, State},
    http::header,
    response::IntoResponse,
    routing::get,
    Router,
};
use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use maud::Markup;

use super::{cache::Until, error::PageError, AppState};
use crate::domain::{
    component::Component,
    record::worst_first,
    uptime::{self, Transition},
    ComponentId, Incident, IncidentId, IncidentRecord, IncidentStatus, Kind,
};
use crate::store::{IncidentFilter, IncidentState, StoreError};
use crate::views::{self, index::IndexView, uptime::Row, PageContext};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/static/live.js", get(live_script))
        .route("/incidents/{id}", get(incident))
        .route("/history", get(history))
        .route("/static/candor.css", get(stylesheet))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/static/forms.js", get(forms_script))
        .fallback(not_found)
        .method_not_allowed_fallback(not_allowed)
}

async fn not_allowed() -> PageError {
    PageError::NotAllowed("This page can only be read. Staff post incidents through the admin API.")
}

/// A public page and until when it is true, or a page that explains what
/// went wrong.
type PageResult = Result<(Until, Markup), PageError>;

/// Incidents looked at for the uptime bars' tooltips: more than 90 days hold.
const UPTIME_INCIDENTS: i64 = 500;

fn failed(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => not_found_page(),
        err => PageError::store(&err, "public page"),
    }
}

fn not_found_page() -> PageError {
    PageError::NotFound("There is no page here. The incident may have a different address.")
}

async fn not_found() -> PageError {
    not_found_page()
}

/// The script that keeps `/` and incident pages current in an open tab.
const LIVE_SCRIPT: &str = include_str!("../../static/live.js");

async fn live_script() -> impl IntoResponse {
    (
        Until::default(),
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LIVE_SCRIPT,
    )
}

pub(crate) fn page_context(state: &AppState) -> PageContext<'_> {
    PageContext {
        page_name: &state.config.page_name,
        now: state.clock.now(),
        tz: &state.config.time_zone,
    }
}

#[tracing::instrument(skip_all)]
async fn index(State(state): State<AppState>) -> PageResult {
    let components = state.shown_components().await.map_err(failed)?;
    let mut open = state.store.open_incident_records().await.map_err(failed)?;
    worst_first(&mut open);
    let planned = planned_work(&state).await?;
    let ctx = page_context(&state);
    let week_ago = ctx.now - SignedDuration::from_hours(7 * 24);
    let recent = resolved_since(&state, week_ago).await?;

    let since = uptime::window_start(ctx.now, ctx.tz);
    let history = state.store.component_history(since).await.map_err(failed)?;
    let mut transitions: BTreeMap<&ComponentId, Vec<Transition>> = BTreeMap::new();
    for change in &history {
        transitions
            .entry(&change.component_id)
            .or_default()
            .push(Transition {
                at: change.at,
                from: change.from,
                to: change.to,
            });
    }
    let touched = open_since(&state, since).await?;
    let uptime = uptime_rows(&ctx, &components, &transitions, &touched);

    // Until a promise breaks, a near time moves a minute, a resolved
    // incident leaves the week, or an uptime bar or percentage moves.
    let until = open
        .iter()
        .chain(&planned)
        .fold(Until::dates(ctx.now, ctx.tz), |until, record| {
            until.words(&record.incident, ctx.now)
        })
        .and(
            recent
                .iter()
                .filter_map(|i| i.state.resolved_at)
                .map(|at| at + SignedDuration::from_hours(7 * 24))
                .min(),
        )
        .and(uptime.iter().filter_map(|row| row.uptime.next_change).min());
    let view = IndexView {
        components: &components,
        open: &open,
        planned: &planned,
        recently_resolved: &recent,
        uptime: &uptime,
    };
    Ok((until, views::index::page(&ctx, &view)))
}

/// One uptime row per component in display order; a group's row counts
/// its members' outages too (`uptime::of_group`).
fn uptime_rows<'a>(
    ctx: &PageContext<'_>,
    components: &'a [Component],
    transitions: &BTreeMap<&ComponentId, Vec<Transition>>,
    touched: &'a [Incident],
) -> Vec<Row<'a>> {
    let own = |id: &ComponentId| transitions.get(id).map_or(&[][..], Vec::as_slice);
    views::uptime::groups(components)
        .into_iter()
        .flat_map(|(top, members)| {
            let top_row = Row {
                component: top,
                uptime: if members.is_empty() {
                    uptime::of_component(top, own(&top.id), touched, ctx.now, ctx.tz)
                } else {
                    uptime::of_group(top, &members, own, touched, ctx.now, ctx.tz)
                },
            };
            let member_rows = members.into_iter().map(move |member| Row {
                component: member,
                uptime: uptime::of_component(member, own(&member.id), touched, ctx.now, ctx.tz),
            });
            std::iter::once(top_row)
                .chain(member_rows)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Maintenance not over yet: what is in progress first, then what is
/// planned, soonest first.
pub(super) async fn planned_work(state: &AppState) -> Result<Vec<IncidentRecord>, PageError> {
    let mut planned = state
        .store
        .incident_records(&IncidentFilter {
            state: Some(IncidentState::Open),
            kind: Some(Kind::Maintenance),
            before: None,
            limit: 100,
        })
        .await
        .map_err(failed)?;
    planned.sort_by_key(|r| {
        let status = r.incident.state.status;
        let start = r.incident.state.schedule.as_ref().map(|p| p.scheduled_for);
        (status == IncidentStatus::Scheduled, start)
    });
    Ok(planned)
}

/// The last ten incidents resolved, those resolved since `since`.
async fn resolved_since(state: &AppState, since: Timestamp) -> Result<Vec<Incident>, PageError> {
    let resolved = state
        .store
        .list_incidents(&IncidentFilter {
            state: Some(IncidentState::Resolved),
            kind: Some(Kind::Incident),
            before: None,
            limit: 10,
        })
        .await
        .map_err(failed)?;
    Ok(resolved
        .into_iter()
        .filter(|i| i.state.resolved_at.is_some_and(|at| at >= since))
        .collect())
}

/// Incidents open at some time since `since` (the uptime bars' tooltips;
/// planned work is not an incident).
async fn open_since(state: &AppState, since: Timestamp) -> Result<Vec<Incident>, PageError> {
    let incidents = state
        .store
        .list_incidents(&IncidentFilter {
            state: None,
            kind: Some(Kind::Incident),
            before: None,
            limit: UPTIME_INCIDENTS,
        })
        .await
        .map_err(failed)?;
    Ok(incidents
        .into_iter()
        .filter(|i| i.state.resolved_at.is_none_or(|at| at >= since))
        .collect())
}

#[tracing::instrument(skip_all, fields(incident = %id))]
async fn incident(State(state): State<AppState>, Path(id): Path<IncidentId>) -> PageResult {
    let record = state.store.get_incident(&id).await.map_err(failed)?;
    let components = state.shown_components().await.map_err(failed)?;
    let ctx = page_context(&state);
    let until = Until::dates(ctx.now, ctx.tz).words(&record.incident, ctx.now);
    Ok((until, views::incident::page(&ctx, &record, &components)))
}

#[tracing::instrument(skip_all)]
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
        .map_err(failed)?;
    let ctx = page_context(&state);
    Ok((
        Until::dates(ctx.now, ctx.tz),
        views::history::page(&ctx, &resolved),
    ))
}

async fn stylesheet() -> impl IntoResponse {
    (
        Until::default(),
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::layout::STYLESHEET,
    )
}

/// The icon, also at `/favicon.ico`, where browsers look without a link.
async fn favicon() -> impl IntoResponse {
    (
        Until::default(),
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        views::layout::FAVICON,
    )
}

/// The subscribe and manage forms' script (ticks a group's components).
async fn forms_script() -> impl IntoResponse {
    (
        Until::default(),
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        views::subscribe::FORMS_SCRIPT,
    )
}
