//! Admin API: scheduled maintenance. A maintenance is an incident of kind
//! `maintenance` (DESIGN.md §2): its timeline, corrections and mails work
//! as an incident's; its plan and statuses are its own.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    incidents::{append, correct, write, CorrectionBody, EntryJson, IncidentJson},
    AppState, List,
};
use crate::domain::maintenance::{MaintenanceUpdate, ScheduleChange, ScheduleMaintenance};
use crate::domain::{
    Command, ComponentId, Incident, IncidentId, IncidentRecord, IncidentStatus, Kind, Message,
    Owner, Title,
};
use crate::ids::new_id;
use crate::store::{Actor, IncidentFilter, IncidentState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, schedule))
        .routes(routes!(read))
        .routes(routes!(update))
        .routes(routes!(correct_maintenance))
}

/// Correct an entry of a maintenance.
///
/// As for an incident: the correction stands beside the entry it corrects.
#[utoipa::path(post, path = "/maintenances/{id}/corrections", tag = "maintenances",
    params(("id" = String, Path, description = "The maintenance's id")),
    request_body = CorrectionBody,
    responses((status = 201, description = "The correction entry", body = EntryJson)))]
async fn correct_maintenance(
    state: State<AppState>,
    actor: Extension<Actor>,
    id: Path<IncidentId>,
    body: ApiJson<CorrectionBody>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    correct(state, actor, id, body).await
}

/// A maintenance's plan, beside the incident fields.
#[derive(Serialize, ToSchema)]
pub struct PlanJson {
    scheduled_for: Timestamp,
    scheduled_until: Timestamp,
    /// When its owner is reminded before it begins, as `1d`, `1h`, `15m`.
    #[serde(serialize_with = "durations")]
    #[schema(value_type = Vec<String>)]
    remind_before: Vec<i64>,
    auto_complete: bool,
    /// Every plan it had, oldest first (only with the timeline).
    #[serde(skip_serializing_if = "Option::is_none")]
    schedule_history: Option<Vec<ScheduleChange>>,
}

impl PlanJson {
    pub fn of(incident: &Incident, record: Option<&IncidentRecord>) -> Option<Self> {
        let plan = incident.state.schedule.as_ref()?;
        Some(Self {
            scheduled_for: plan.scheduled_for,
            scheduled_until: plan.scheduled_until,
            remind_before: plan.remind_before.clone(),
            auto_complete: plan.auto_complete,
            schedule_history: record.map(IncidentRecord::schedule_history),
        })
    }
}

/// Minutes as the API takes them: "1d", "2h", "90m".
fn duration_text(minutes: i64) -> String {
    match minutes {
        m if m % (24 * 60) == 0 => format!("{}d", m / (24 * 60)),
        m if m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

fn durations<S: Serializer>(minutes: &[i64], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(minutes.iter().map(|m| duration_text(*m)))
}

/// "1h", "30m", "2d" (or a number of minutes) as minutes.
fn parse_duration(text: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(
            "remind_before",
            format!("`{text}` is not a duration: write it as 30m, 1h or 2d"),
        )
    };
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let factor = match unit.trim() {
        "" | "m" | "min" => 1,
        "h" => 60,
        "d" => 24 * 60,
        _ => return Err(bad()),
    };
    number.checked_mul(factor).ok_or_else(bad)
}

/// Planned work, announced ahead.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    title: Title,
    /// When it begins (in the future).
    scheduled_for: Timestamp,
    /// When it ends (after it begins).
    scheduled_until: Timestamp,
    /// The components it touches: shown as under maintenance while it
    /// runs.
    #[serde(default)]
    components: Vec<ComponentId>,
    owner: Owner,
    /// Left out: "Planned maintenance: <title>."
    message: Option<Message>,
    /// When to remind its owner before it begins: `30m`, `1h`, `2d` (or
    /// minutes); default a day and an hour before.
    remind_before: Option<Vec<String>>,
    /// Complete it by itself at `scheduled_until`.
    #[serde(default)]
    auto_complete: bool,
}

impl TryFrom<ScheduleBody> for ScheduleMaintenance {
    type Error = ApiError;
    fn try_from(body: ScheduleBody) -> Result<Self, ApiError> {
        let message = match body.message {
            Some(message) => message,
            None => Message::parse(&format!("Planned maintenance: {}.", body.title))?,
        };
        let remind_before = body
            .remind_before
            .map(|list| list.iter().map(|t| parse_duration(t)).collect())
            .transpose()?;
        Ok(ScheduleMaintenance {
            title: body.title,
            scheduled_for: body.scheduled_for,
            scheduled_until: body.scheduled_until,
            components: body.components,
            owner: body.owner,
            message,
            remind_before,
            auto_complete: body.auto_complete,
        })
    }
}

/// Plan maintenance.
///
/// Announces it to the subscribers of its components.
#[utoipa::path(post, path = "/maintenances", tag = "maintenances", request_body = ScheduleBody,
    responses((status = 201, description = "The maintenance, with its first entry", body = IncidentJson)))]
#[tracing::instrument(skip_all)]
async fn schedule(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> ApiResult<(StatusCode, Json<IncidentJson>)> {
    let command = ScheduleMaintenance::try_from(body)?;
    let now = state.clock.now();
    let (incident, _) = state
        .store
        .schedule_maintenance(&new_id(), &command, &write(&state, &actor, now), &actor)
        .await?;
    state.wake.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(maintenance_json(&state, &incident.id).await?),
    ))
}

/// A maintenance with its timeline; 404 for an incident's id.
async fn maintenance_json(state: &AppState, id: &IncidentId) -> ApiResult<IncidentJson> {
    let not_found = || ApiError::NotFound(format!("there is no maintenance with id `{id}`"));
    let record = match state.store.get_incident(id).await {
        Err(crate::store::StoreError::NotFound) => return Err(not_found()),
        other => other?,
    };
    if record.incident.kind != Kind::Maintenance {
        return Err(not_found());
    }
    let components = state.store.list_components().await?;
    Ok(IncidentJson::new(
        &record.incident,
        Some(&record),
        &components,
        state.clock.now(),
    ))
}

/// Read a maintenance with all its entries.
#[utoipa::path(get, path = "/maintenances/{id}", tag = "maintenances",
    params(("id" = String, Path, description = "The maintenance's id")),
    responses((status = 200, description = "The maintenance, entries newest first", body = IncidentJson)))]
#[tracing::instrument(skip_all, fields(maintenance = %id))]
async fn read(
    State(state): State<AppState>,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<IncidentJson>> {
    maintenance_json(&state, &id).await.map(Json)
}

/// Which maintenances a list shows.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Which {
    Upcoming,
    Active,
    Past,
    All,
}

impl Which {
    fn holds(self, status: IncidentStatus) -> bool {
        match self {
            Self::Upcoming => status == IncidentStatus::Scheduled,
            Self::Active => matches!(
                status,
                IncidentStatus::InProgress | IncidentStatus::Verifying
            ),
            Self::Past => status.is_final(),
            Self::All => true,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `upcoming` (not begun), `active` (in progress or verifying), `past`,
    /// or `all` (the default).
    #[param(inline)]
    state: Option<Which>,
}

/// List maintenances.
///
/// Soonest first; the past ones latest first. At most 200.
#[utoipa::path(get, path = "/maintenances", tag = "maintenances", params(ListQuery),
    responses((status = 200, description = "The maintenances", body = List<IncidentJson>)))]
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<IncidentJson>>> {
    let which = query.state.unwrap_or(Which::All);
    let maintenances = state
        .store
        .list_incidents(&IncidentFilter {
            state: match which {
                Which::Upcoming | Which::Active => Some(IncidentState::Open),
                Which::Past => Some(IncidentState::Resolved),
                Which::All => None,
            },
            kind: Some(Kind::Maintenance),
            before: None,
            limit: 200,
        })
        .await?;
    let components = state.store.list_components().await?;
    let now = state.clock.now();
    let mut items: Vec<&Incident> = maintenances
        .iter()
        .filter(|m| which.holds(m.state.status))
        .collect();
    // Soonest first for what is to come; the latest first for the past.
    if which != Which::Past {
        items.sort_by_key(|m| m.state.schedule.as_ref().map(|p| p.scheduled_for));
    }
    Ok(Json(List::all(
        items
            .into_iter()
            .map(|m| IncidentJson::new(m, None, &components, now))
            .collect(),
    )))
}

/// The statuses staff may give a maintenance (an incident's are refused
/// while the body is read, with the ones that would do).
#[derive(Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = MaintenanceStatus)]
enum Status {
    Scheduled,
    InProgress,
    Verifying,
    Completed,
    Cancelled,
}

impl From<Status> for IncidentStatus {
    fn from(status: Status) -> Self {
        match status {
            Status::Scheduled => Self::Scheduled,
            Status::InProgress => Self::InProgress,
            Status::Verifying => Self::Verifying,
            Status::Completed => Self::Completed,
            Status::Cancelled => Self::Cancelled,
        }
    }
}

/// An update of a maintenance: say something, move it (before it begins
/// both times, after only the end), start, complete or cancel it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MaintenanceUpdateBody)]
struct UpdateBody {
    status: Option<Status>,
    scheduled_for: Option<Timestamp>,
    scheduled_until: Option<Timestamp>,
    owner: Option<Owner>,
    message: Message,
}

/// Post an update of a maintenance.
#[utoipa::path(post, path = "/maintenances/{id}/updates", tag = "maintenances",
    params(("id" = String, Path, description = "The maintenance's id")),
    request_body = UpdateBody,
    responses((status = 201, description = "The new entry", body = EntryJson)))]
#[tracing::instrument(skip_all, fields(maintenance = %id))]
async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<IncidentId>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    // An incident's id is refused by the domain (422, field `kind`).
    let command = Command::Maintenance(MaintenanceUpdate {
        status: body.status.map(Into::into),
        scheduled_for: body.scheduled_for,
        scheduled_until: body.scheduled_until,
        owner: body.owner,
        message: body.message,
    });
    append(&state, &actor, &id, command).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_write_alike() {
        assert_eq!(parse_duration("1h").unwrap(), 60);
        assert_eq!(parse_duration("30m").unwrap(), 30);
        assert_eq!(parse_duration("2d").unwrap(), 2880);
        assert_eq!(parse_duration("45").unwrap(), 45);
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(duration_text(60), "1h");
        assert_eq!(duration_text(2880), "2d");
        assert_eq!(duration_text(90), "90m");
    }
}
