//! `GET /api/v1/owed`: what staff owe the people reading the page, now;
//! also components readers report as affected while the page shows them
//! as working.

use axum::{extract::State, Json};
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{error::ApiResult, AppState};
use crate::domain::IncidentId;
use crate::store::{AffectedReports, IncidentFilter, IncidentState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(owed))
}

/// What staff owe the readers now.
#[derive(Serialize, ToSchema)]
struct Owed {
    overdue_updates: Vec<OwedItem>,
    passed_etas: Vec<OwedItem>,
    follow_ups: Vec<OwedItem>,
    still_affected: Vec<OwedItem>,
    /// Components shown as operational, with no open incident, that
    /// readers report as affected: the earliest sign of an outage no
    /// monitor caught.
    readers_affected: Vec<ReadersAffectedItem>,
}

#[derive(Serialize, ToSchema)]
struct ReadersAffectedItem {
    component_id: crate::domain::ComponentId,
    name: String,
    /// Reports since its status last changed, at most 24 hours back.
    reports: i64,
    first_report_at: Timestamp,
    last_report_at: Timestamp,
}

/// One incident on which something is owed.
#[derive(Serialize, ToSchema)]
struct OwedItem {
    incident_id: IncidentId,
    title: String,
    owner: String,
    owner_email: String,
    /// The promised time (update, ETA or follow-up), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    promised_at: Option<Timestamp>,
    /// The promised time has passed.
    due: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reports: Option<AffectedReports>,
}

fn item(incident: &crate::domain::Incident, promised_at: Option<Timestamp>, due: bool) -> OwedItem {
    OwedItem {
        incident_id: incident.id.clone(),
        title: incident.state.title.to_string(),
        owner: incident.state.owner.name.to_string(),
        owner_email: incident.state.owner.email.to_string(),
        promised_at,
        due,
        reports: None,
    }
}

/// What staff owe now.
///
/// Overdue updates, passed ETAs, owed follow-ups, unanswered "still
/// affected" reports, and components readers report as affected while the
/// page shows them working.
#[utoipa::path(get, path = "/owed", tag = "owed",
    responses((status = 200, description = "What is owed", body = Owed)))]
#[tracing::instrument(skip_all)]
async fn owed(State(state): State<AppState>) -> ApiResult<Json<Owed>> {
    let now = state.clock.now();
    let open = state
        .store
        .list_incidents(&IncidentFilter {
            state: Some(IncidentState::Open),
            kind: None,
            before: None,
            limit: 1000,
        })
        .await?;
    let overdue_updates = open
        .iter()
        .filter(|i| i.overdue(now))
        .map(|i| item(i, i.state.next_update_at, true))
        .collect();
    let passed_etas = open
        .iter()
        .filter(|i| i.eta_passed(now))
        .map(|i| item(i, i.state.eta, true))
        .collect();
    let follow_ups = state
        .store
        .owed_follow_ups()
        .await?
        .iter()
        .map(|i| {
            item(
                i,
                i.state.follow_up_at,
                i.state.follow_up_at.is_some_and(|at| at <= now),
            )
        })
        .collect();
    let mut still_affected = Vec::new();
    for (incident_id, reports) in state.store.unanswered_reports().await? {
        let record = state.store.get_incident(&incident_id).await?;
        let mut entry = item(&record.incident, None, true);
        entry.reports = Some(reports);
        still_affected.push(entry);
    }
    let readers_affected = (state.store.unseen_outages(now).await?)
        .into_iter()
        .map(|news| ReadersAffectedItem {
            component_id: news.component_id,
            name: news.name,
            reports: news.count,
            first_report_at: news.since,
            last_report_at: news.last,
        })
        .collect();
    Ok(Json(Owed {
        overdue_updates,
        passed_etas,
        follow_ups,
        still_affected,
        readers_affected,
    }))
}
