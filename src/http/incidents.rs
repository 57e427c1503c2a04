//! Admin API: incidents and their timeline. Entries can be added (updates,
//! corrections), never changed: no route here edits or deletes one.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
    Extension, Json, Router,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    AppState, List,
};
use crate::domain::{
    component::Component, incident::ComponentChange, incident::EtaChange, incident::PostPostmortem,
    incident::Write, Cause, Command, ComponentId, ComponentStatus, Entry, EntryClass, EntryId,
    Impact, Incident, IncidentId, IncidentRecord, IncidentStatus, Kind, Message, NextUpdate,
    OpenIncident, Owner, Patch, PostCorrection, PostUpdate, Title,
};
use crate::ids::new_id;
use crate::store::{Actor, IncidentFilter, IncidentState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents", get(list).post(open))
        .route("/incidents/{id}", get(read))
        .route("/incidents/{id}/updates", post(update))
        .route("/incidents/{id}/corrections", post(correct))
        .route("/incidents/{id}/postmortem", post(postmortem))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostmortemBody {
    message: Message,
}

#[tracing::instrument(skip_all, fields(incident = %id))]
async fn postmortem(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<IncidentId>,
    ApiJson(body): ApiJson<PostmortemBody>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    let command = Command::Postmortem(PostPostmortem {
        message: body.message,
    });
    append(&state, &actor, &id, command).await
}

fn next_update(
    at: Option<Timestamp>,
    minutes: Option<i64>,
) -> Result<Option<NextUpdate>, ApiError> {
    match (at, minutes) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "next_update_at",
            "give next_update_at or next_update_in, not both",
        )),
        (Some(at), None) => Ok(Some(NextUpdate::At(at))),
        (None, Some(minutes)) => Ok(Some(NextUpdate::InMinutes(minutes))),
        (None, None) => Ok(None),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: Title,
    impact: Option<Impact>,
    status: Option<IncidentStatus>,
    owner: Owner,
    cause: Option<Cause>,
    eta: Option<Timestamp>,
    next_update_at: Option<Timestamp>,
    next_update_in: Option<i64>,
    #[serde(default)]
    components: BTreeMap<ComponentId, ComponentStatus>,
    message: Option<Message>,
    started_at: Option<Timestamp>,
}

impl TryFrom<OpenBody> for OpenIncident {
    type Error = ApiError;
    fn try_from(body: OpenBody) -> Result<Self, ApiError> {
        let message = match body.message {
            Some(message) => message,
            None => Message::parse(&format!(
                "We are aware of a problem: {}. We are looking into it.",
                body.title
            ))?,
        };
        Ok(OpenIncident {
            next_update: next_update(body.next_update_at, body.next_update_in)?,
            title: body.title,
            impact: body.impact.unwrap_or(Impact::Minor),
            status: body.status.unwrap_or(IncidentStatus::Investigating),
            owner: body.owner,
            cause: body.cause,
            eta: body.eta,
            components: body.components,
            message,
            started_at: body.started_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    status: Option<IncidentStatus>,
    impact: Option<Impact>,
    title: Option<Title>,
    owner: Option<Owner>,
    #[serde(default)]
    cause: Patch<Cause>,
    #[serde(default)]
    eta: Patch<Timestamp>,
    next_update_at: Option<Timestamp>,
    next_update_in: Option<i64>,
    #[serde(default)]
    components: BTreeMap<ComponentId, ComponentStatus>,
    message: Message,
    follow_up_at: Option<Timestamp>,
}

impl TryFrom<UpdateBody> for PostUpdate {
    type Error = ApiError;
    fn try_from(body: UpdateBody) -> Result<Self, ApiError> {
        Ok(PostUpdate {
            next_update: next_update(body.next_update_at, body.next_update_in)?,
            status: body.status,
            impact: body.impact,
            title: body.title,
            owner: body.owner,
            cause: body.cause,
            eta: body.eta,
            components: body.components,
            message: body.message,
            follow_up_at: body.follow_up_at,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CorrectionBody {
    corrects: EntryId,
    message: Message,
    title: Option<Title>,
    impact: Option<Impact>,
    #[serde(default)]
    cause: Patch<Cause>,
    started_at: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<ListState>,
    kind: Option<Kind>,
    cursor: Option<String>,
    limit: Option<i64>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ListState {
    Open,
    Resolved,
    All,
}

/// An incident as the admin API shows it.
#[derive(Serialize)]
pub struct IncidentJson {
    id: IncidentId,
    kind: Kind,
    title: Title,
    impact: Impact,
    status: IncidentStatus,
    owner: Owner,
    cause: Option<Cause>,
    eta: Option<Timestamp>,
    eta_history: Vec<EtaChange>,
    next_update_at: Option<Timestamp>,
    overdue: bool,
    eta_passed: bool,
    started_at: Timestamp,
    resolved_at: Option<Timestamp>,
    follow_up_at: Option<Timestamp>,
    /// Resolved and the promised follow-up not posted yet.
    owes_follow_up: bool,
    follow_up_posted_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    components: Vec<AffectedJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    still_affected: Option<crate::store::AffectedReports>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entries: Option<Vec<EntryJson>>,
    /// A maintenance's plan.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) plan: Option<super::maintenances::PlanJson>,
}

#[derive(Serialize)]
struct AffectedJson {
    id: ComponentId,
    name: String,
    status: ComponentStatus,
}

#[derive(Serialize)]
pub struct EntryJson {
    id: EntryId,
    seq: i64,
    classes: Vec<EntryClass>,
    posted_at: Timestamp,
    author: String,
    status: IncidentStatus,
    impact: Impact,
    cause: Option<Cause>,
    eta: Option<Timestamp>,
    next_update_at: Option<Timestamp>,
    message: Message,
    corrects: Option<EntryId>,
    corrected_by: Option<EntryId>,
    system: bool,
    components: Vec<ComponentChange>,
}

impl EntryJson {
    fn new(entry: &Entry, corrected_by: Option<&Entry>) -> Self {
        Self {
            id: entry.id.clone(),
            seq: entry.seq,
            classes: entry.classes.clone(),
            posted_at: entry.posted_at,
            author: entry.author.clone(),
            status: entry.state.status,
            impact: entry.state.impact,
            cause: entry.state.cause.clone(),
            eta: entry.state.eta,
            next_update_at: entry.state.next_update_at,
            message: entry.message.clone(),
            corrects: entry.corrects.clone(),
            corrected_by: corrected_by.map(|e| e.id.clone()),
            system: entry.system,
            components: entry.components.clone(),
        }
    }
}

impl IncidentJson {
    pub(super) fn new(
        incident: &Incident,
        entries: Option<&IncidentRecord>,
        components: &[Component],
        now: Timestamp,
    ) -> Self {
        let state = &incident.state;
        let name_of = |id: &ComponentId| {
            components
                .iter()
                .find(|c| &c.id == id)
                .map_or_else(|| id.to_string(), |c| c.name.clone())
        };
        Self {
            id: incident.id.clone(),
            kind: incident.kind,
            title: state.title.clone(),
            impact: state.impact,
            status: state.status,
            owner: state.owner.clone(),
            cause: state.cause.clone(),
            eta: state.eta,
            eta_history: incident.eta_history.clone(),
            next_update_at: state.next_update_at,
            overdue: incident.overdue(now),
            eta_passed: incident.eta_passed(now),
            started_at: state.started_at,
            resolved_at: state.resolved_at,
            follow_up_at: state.follow_up_at,
            owes_follow_up: incident.owes_follow_up(),
            follow_up_posted_at: state.follow_up_posted_at,
            still_affected: None,
            created_at: incident.created_at,
            updated_at: incident.updated_at,
            components: state
                .components
                .iter()
                .map(|(id, status)| AffectedJson {
                    id: id.clone(),
                    name: name_of(id),
                    status: *status,
                })
                .collect(),
            plan: super::maintenances::PlanJson::of(incident, entries),
            entries: entries.map(|record| {
                record
                    .entries
                    .iter()
                    .map(|e| EntryJson::new(e, record.corrected_by(&e.id)))
                    .collect()
            }),
        }
    }
}

/// What a write by `actor` knows before the store reads anything.
pub(super) fn write(state: &AppState, actor: &Actor, now: Timestamp) -> Write {
    Write {
        now,
        author: actor.name.clone(),
        entry_id: new_id(),
        follow_up_after: state.config.follow_up_after,
    }
}

#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<List<IncidentJson>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 200"));
    }
    let before = match &query.cursor {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor)?),
    };
    let filter = IncidentFilter {
        state: match query.state {
            Some(ListState::Open) => Some(IncidentState::Open),
            Some(ListState::Resolved) => Some(IncidentState::Resolved),
            Some(ListState::All) | None => None,
        },
        kind: query.kind,
        before,
        limit: limit + 1,
    };
    let mut incidents = state.store.list_incidents(&filter).await?;
    let next_cursor = if incidents.len() as i64 > limit {
        incidents.truncate(limit as usize);
        incidents
            .last()
            .map(|i| format!("{}_{}", i.created_at.as_millisecond(), i.id))
    } else {
        None
    };
    let components = state.store.list_components().await?;
    let now = state.clock.now();
    Ok(Json(List {
        items: incidents
            .iter()
            .map(|i| IncidentJson::new(i, None, &components, now))
            .collect(),
        next_cursor,
    }))
}

fn parse_cursor(cursor: &str) -> Result<(Timestamp, IncidentId), ApiError> {
    let bad = || ApiError::invalid("cursor", "is not a cursor this API gave out");
    let (at, id) = cursor.split_once('_').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    let at = Timestamp::from_millisecond(at).map_err(|_| bad())?;
    Ok((at, IncidentId::new(id)))
}

#[tracing::instrument(skip_all)]
async fn open(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(body): ApiJson<OpenBody>,
) -> ApiResult<(StatusCode, Json<IncidentJson>)> {
    let command = OpenIncident::try_from(body)?;
    let now = state.clock.now();
    let (incident, _) = state
        .store
        .open_incident(&new_id(), &command, &write(&state, &actor, now), &actor)
        .await?;
    state.wake.notify_one();
    let record = state.store.get_incident(&incident.id).await?;
    let components = state.store.list_components().await?;
    let mut json = IncidentJson::new(&record.incident, Some(&record), &components, now);
    // The same shape as a read: a new incident has no reports yet.
    json.still_affected = Some(crate::store::AffectedReports::default());
    Ok((StatusCode::CREATED, Json(json)))
}

#[tracing::instrument(skip_all, fields(incident = %id))]
async fn read(
    State(state): State<AppState>,
    Path(id): Path<IncidentId>,
) -> ApiResult<Json<IncidentJson>> {
    incident_json(&state, &id).await.map(Json)
}

/// An incident as `GET /incidents/{id}` shows it.
pub(super) async fn incident_json(state: &AppState, id: &IncidentId) -> ApiResult<IncidentJson> {
    let record = state
        .store
        .get_incident(id)
        .await
        .map_err(|e| not_found(e, id))?;
    let components = state.store.list_components().await?;
    let mut json = IncidentJson::new(
        &record.incident,
        Some(&record),
        &components,
        state.clock.now(),
    );
    json.still_affected = Some(state.store.affected_reports(id).await?);
    Ok(json)
}

/// An entry as the POST that made it answered.
pub(super) async fn entry_json(
    state: &AppState,
    incident_id: &IncidentId,
    entry_id: &EntryId,
) -> ApiResult<EntryJson> {
    let record = state
        .store
        .get_incident(incident_id)
        .await
        .map_err(|e| not_found(e, incident_id))?;
    let entry = record
        .entries
        .iter()
        .find(|e| &e.id == entry_id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no entry with id `{entry_id}`")))?;
    Ok(EntryJson::new(entry, None))
}

pub(super) fn not_found(err: crate::store::StoreError, id: &IncidentId) -> ApiError {
    match err {
        crate::store::StoreError::NotFound => {
            ApiError::NotFound(format!("there is no incident with id `{id}`"))
        }
        other => other.into(),
    }
}

pub(super) async fn append(
    state: &AppState,
    actor: &Actor,
    id: &IncidentId,
    command: Command,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    let now = state.clock.now();
    let (_, entry) = state
        .store
        .post_entry(id, &command, &write(state, actor, now), actor)
        .await
        .map_err(|e| not_found(e, id))?;
    state.wake.notify_one();
    Ok((StatusCode::CREATED, Json(EntryJson::new(&entry, None))))
}

#[tracing::instrument(skip_all, fields(incident = %id))]
async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<IncidentId>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    let command = Command::Update(PostUpdate::try_from(body)?);
    append(&state, &actor, &id, command).await
}

#[tracing::instrument(skip_all, fields(incident = %id))]
pub(super) async fn correct(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<IncidentId>,
    ApiJson(body): ApiJson<CorrectionBody>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    let command = Command::Correction(PostCorrection {
        corrects: body.corrects,
        message: body.message,
        title: body.title,
        impact: body.impact,
        cause: body.cause,
        started_at: body.started_at,
    });
    append(&state, &actor, &id, command).await
}
