//! Admin API: incidents and their timeline. Entries can be added (updates,
//! corrections), never changed: no route here edits or deletes one.

use std::collections::BTreeMap;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Extension, Json,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, open))
        .routes(routes!(read))
        .routes(routes!(update))
        .routes(routes!(correct))
        .routes(routes!(postmortem))
}

/// The follow-up: what happened and what will change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PostmortemBody {
    message: Message,
}

/// Post the follow-up of a resolved incident.
///
/// What happened and what will change, as promised when it was resolved.
#[utoipa::path(post, path = "/incidents/{id}/postmortem", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id")),
    request_body = PostmortemBody,
    responses((status = 201, description = "The follow-up entry", body = EntryJson)))]
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

/// A new incident. The next update is promised with `next_update_at` or
/// `next_update_in`, not both.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: Title,
    /// Default `minor`.
    impact: Option<Impact>,
    /// Default `investigating`.
    status: Option<IncidentStatus>,
    /// The one person answerable for it.
    owner: Owner,
    /// Left out or null: "Cause: not yet known".
    cause: Option<Cause>,
    /// Left out or null: "No ETA yet"; else when it should work again
    /// (in the future).
    eta: Option<Timestamp>,
    /// When the next update will come (in the future, at most 7 days
    /// ahead).
    next_update_at: Option<Timestamp>,
    /// The next update in this many minutes.
    #[schema(minimum = 1, maximum = 10080)]
    next_update_in: Option<i64>,
    /// What each affected component's status becomes, by component id.
    #[serde(default)]
    components: BTreeMap<ComponentId, ComponentStatus>,
    /// Left out: "We are aware of a problem: <title>. We are looking into
    /// it."
    message: Option<Message>,
    /// When it began, if before now.
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

/// An update: a new entry on the timeline. Any field of the open body may
/// change; what is left out stays. The next update is required unless the
/// status becomes `resolved`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    /// `resolved` resolves it; a new status on a resolved incident reopens
    /// it.
    status: Option<IncidentStatus>,
    impact: Option<Impact>,
    title: Option<Title>,
    /// A new owner hands it over.
    owner: Option<Owner>,
    /// Null: the cause is not known after all ("Cause: not yet known").
    #[serde(default)]
    #[schema(value_type = Option<Cause>)]
    cause: Patch<Cause>,
    /// Null withdraws the ETA ("No ETA yet"); a new one moves it, and the
    /// move is shown.
    #[serde(default)]
    #[schema(value_type = Option<Timestamp>)]
    eta: Patch<Timestamp>,
    next_update_at: Option<Timestamp>,
    #[schema(minimum = 1, maximum = 10080)]
    next_update_in: Option<i64>,
    #[serde(default)]
    components: BTreeMap<ComponentId, ComponentStatus>,
    message: Message,
    /// On resolving: when the follow-up will be posted (default: the
    /// setting `follow_up_after` from now).
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

/// A correction: it stands beside the entry it corrects, which stays
/// readable.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CorrectionBody {
    /// The id of the entry that was wrong.
    corrects: EntryId,
    message: Message,
    title: Option<Title>,
    impact: Option<Impact>,
    /// The right cause, or null: not known after all.
    #[serde(default)]
    #[schema(value_type = Option<Cause>)]
    cause: Patch<Cause>,
    started_at: Option<Timestamp>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Open or resolved ones only (default `all`).
    #[param(inline)]
    state: Option<ListState>,
    /// Incidents or maintenances only (default both).
    #[param(inline)]
    kind: Option<Kind>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
    /// How many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[derive(Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ListState {
    Open,
    Resolved,
    All,
}

/// An incident as the admin API shows it.
#[derive(Serialize, ToSchema)]
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

#[derive(Serialize, ToSchema)]
struct AffectedJson {
    id: ComponentId,
    name: String,
    status: ComponentStatus,
}

/// One entry of an incident's timeline: never changed once posted.
#[derive(Serialize, ToSchema)]
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

/// List incidents.
///
/// Newest first, maintenances included unless `kind` says otherwise; each
/// without its entries (read one for those).
#[utoipa::path(get, path = "/incidents", tag = "incidents", params(ListQuery),
    responses((status = 200, description = "A page of incidents", body = List<IncidentJson>)))]
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

/// Open an incident.
///
/// Posts its first entry and tells the subscribers of its components.
#[utoipa::path(post, path = "/incidents", tag = "incidents", request_body = OpenBody,
    responses((status = 201, description = "The incident, with its first entry", body = IncidentJson)))]
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

/// Read an incident with all its entries.
#[utoipa::path(get, path = "/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id")),
    responses((status = 200, description = "The incident, entries newest first", body = IncidentJson)))]
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

/// Post an update.
///
/// A new entry; what it changes is classed (ETA slipped, severity raised,
/// resolved, reopened, …) and mailed as such.
#[utoipa::path(post, path = "/incidents/{id}/updates", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id")),
    request_body = UpdateBody,
    responses((status = 201, description = "The new entry", body = EntryJson)))]
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

/// Correct an entry.
///
/// Posted entries are never edited: a correction stands beside the entry
/// it corrects.
#[utoipa::path(post, path = "/incidents/{id}/corrections", tag = "incidents",
    params(("id" = String, Path, description = "The incident's id")),
    request_body = CorrectionBody,
    responses((status = 201, description = "The correction entry", body = EntryJson)))]
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
