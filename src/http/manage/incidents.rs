//! `/v1/pages/{page_id}/incidents`: open an incident or plan a maintenance
//! (`status: "scheduled"`), post an update with `PATCH`/`PUT` (a new status,
//! body or components is a new entry on the timeline), read, and the lists
//! (all, `unresolved`, `scheduled`, `upcoming`, `active_maintenance`).
//! Editing a posted update is refused: entries are never changed.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    routing::{get, patch},
    Extension, Json, Router,
};
use jiff::Timestamp;

use super::{
    bodies::{CandorMeta, IncidentBody, IncidentEnvelope},
    both, ctx,
    shapes::{self, Filled, Source, V1Incident},
    ItemPath, Paging,
};
use crate::domain::{
    component::Component, maintenance::MaintenanceUpdate, maintenance::ScheduleMaintenance,
    Command, IncidentId, IncidentRecord, IncidentStatus, Kind, Message, NextUpdate, OpenIncident,
    Owner, Patch, PostUpdate,
};
use crate::http::{
    auth::TokenOwner,
    error::{ApiError, ApiResult},
    extract::{ApiJson, ApiQuery},
    incidents::{not_found, write},
    AppState,
};
use crate::ids::new_id;
use crate::store::{Actor, IncidentFilter, IncidentState};

pub fn router() -> Router<AppState> {
    let mut router = both(
        Router::new(),
        "/pages/{page_id}/incidents",
        get(list).post(create),
    );
    for (path, which) in [
        ("unresolved", Which::Unresolved),
        ("scheduled", Which::Scheduled),
        ("upcoming", Which::Upcoming),
        ("active_maintenance", Which::ActiveMaintenance),
    ] {
        router = both(
            router,
            &format!("/pages/{{page_id}}/incidents/{path}"),
            get(move |state: State<AppState>, paging: ApiQuery<Paging>| {
                listed(state, paging, which)
            }),
        );
    }
    router
        .route(
            "/pages/{page_id}/incidents/{id}",
            get(read).patch(update).put(update),
        )
        .route(
            "/pages/{page_id}/incidents/{incident_id}/incident_updates/{id}",
            patch(edit_entry).put(edit_entry),
        )
}

/// Which incidents a list holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    All,
    /// Open incidents (not maintenance).
    Unresolved,
    /// Every maintenance.
    Scheduled,
    /// Maintenance not begun.
    Upcoming,
    /// Maintenance going on.
    ActiveMaintenance,
}

impl Which {
    fn filter(self) -> (Option<IncidentState>, Option<Kind>) {
        match self {
            Self::All => (None, None),
            Self::Unresolved => (Some(IncidentState::Open), Some(Kind::Incident)),
            Self::Scheduled => (None, Some(Kind::Maintenance)),
            Self::Upcoming | Self::ActiveMaintenance => {
                (Some(IncidentState::Open), Some(Kind::Maintenance))
            }
        }
    }

    fn holds(self, record: &IncidentRecord) -> bool {
        let status = record.incident.state.status;
        match self {
            Self::Upcoming => status == IncidentStatus::Scheduled,
            Self::ActiveMaintenance => {
                matches!(
                    status,
                    IncidentStatus::InProgress | IncidentStatus::Verifying
                )
            }
            _ => true,
        }
    }
}

async fn list(
    state: State<AppState>,
    paging: ApiQuery<Paging>,
) -> ApiResult<Json<Vec<V1Incident>>> {
    listed(state, paging, Which::All).await
}

/// Newest first, one page of them.
#[tracing::instrument(skip_all)]
async fn listed(
    State(state): State<AppState>,
    ApiQuery(paging): ApiQuery<Paging>,
    which: Which,
) -> ApiResult<Json<Vec<V1Incident>>> {
    let (page, per_page) = paging.page()?;
    let (open, kind) = which.filter();
    let wanted = paging.q.as_deref().map(str::to_lowercase);
    let mut records = Vec::new();
    let mut before = None;
    // Read in batches until the page is full: the store pages by position.
    loop {
        let batch = state
            .store
            .incident_records(&IncidentFilter {
                state: open,
                kind,
                before: before.clone(),
                limit: 200,
            })
            .await?;
        let done = batch.len() < 200;
        before = batch
            .last()
            .map(|r| (r.incident.created_at, r.incident.id.clone()));
        records.extend(batch.into_iter().filter(|r| {
            which.holds(r)
                && wanted
                    .as_deref()
                    .is_none_or(|q| r.incident.state.title.as_str().to_lowercase().contains(q))
        }));
        if done || records.len() >= page * per_page {
            break;
        }
    }
    let components = state.store.list_components().await?;
    let ctx = ctx(&state, &components);
    Ok(Json(
        shapes::page_of(records, page, per_page)
            .iter()
            .map(|r| shapes::incident(&ctx, r, Filled::default()))
            .collect(),
    ))
}

async fn shown(state: &AppState, id: &IncidentId, filled: Filled) -> ApiResult<V1Incident> {
    let record = state
        .store
        .get_incident(id)
        .await
        .map_err(|e| not_found(e, id))?;
    let components = state.store.list_components().await?;
    Ok(shapes::incident(&ctx(state, &components), &record, filled))
}

#[tracing::instrument(skip_all)]
async fn read(
    State(state): State<AppState>,
    Path(path): Path<ItemPath>,
) -> ApiResult<Json<V1Incident>> {
    let id = IncidentId::new(path.id());
    Ok(Json(shown(&state, &id, Filled::default()).await?))
}

/// The owner: `metadata.candor.owner`, else the token's.
fn owner(meta: &mut CandorMeta, token: &TokenOwner) -> ApiResult<Option<(Owner, Source)>> {
    if let Some(field) = meta.owner.take() {
        return Ok(Some((field.owner()?, Source::Metadata)));
    }
    Ok(token.0.clone().map(|owner| (owner, Source::Token)))
}

/// The next update: `metadata.candor.next_update_in`, else the setting
/// `default_next_update`.
fn next_update(
    meta: &CandorMeta,
    state: &AppState,
    now: Timestamp,
) -> ApiResult<(NextUpdate, Source)> {
    match &meta.next_update_in {
        Some(minutes) => Ok((NextUpdate::InMinutes(minutes.minutes()?), Source::Metadata)),
        None => Ok((
            NextUpdate::At(now + state.config.default_next_update),
            Source::DefaultNextUpdate,
        )),
    }
}

fn no_owner() -> ApiError {
    ApiError::invalid(
        "incident.metadata.candor.owner",
        "every incident has one named owner: give `metadata.candor.owner` \
         (\"Name <email>\"), or make the token with `candor token create NAME --owner`",
    )
}

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Extension(token): Extension<TokenOwner>,
    ApiJson(IncidentEnvelope { incident: body }): ApiJson<IncidentEnvelope>,
) -> ApiResult<(StatusCode, Json<V1Incident>)> {
    body.refusals()?;
    let mut meta = body.candor()?;
    let (owner, owner_from) = owner(&mut meta, &token)?.ok_or_else(no_owner)?;
    let now = state.clock.now();
    let title = body
        .name
        .clone()
        .ok_or_else(|| ApiError::invalid("incident.name", "an incident needs a name"))?;
    let components = state.store.list_components().await?;
    let planned = body.status == Some(IncidentStatus::Scheduled) || body.scheduled_for.is_some();
    let mut filled = Filled {
        owner_from: Some(owner_from),
        next_update_from: None,
    };
    let id: IncidentId = new_id();
    if planned {
        let command = schedule(&body, title, owner, &components)?;
        state
            .store
            .schedule_maintenance(&id, &command, &write(&state, &actor, now), &actor)
            .await?;
    } else {
        let status = body.status.unwrap_or(IncidentStatus::Investigating);
        let next = if status == IncidentStatus::Resolved {
            None
        } else {
            let (next, from) = next_update(&meta, &state, now)?;
            filled.next_update_from = Some(from);
            Some(next)
        };
        let message = match body.body.clone() {
            Some(message) => message,
            None => Message::parse(&format!(
                "We are aware of a problem: {title}. We are looking into it."
            ))?,
        };
        let command = OpenIncident {
            title,
            impact: body.impact_override.unwrap_or(crate::domain::Impact::Minor),
            status,
            owner,
            cause: meta.cause,
            eta: meta.eta,
            next_update: next,
            components: body.affected(|id| shapes::current_status(&components, id))?,
            message,
            started_at: None,
        };
        state
            .store
            .open_incident(&id, &command, &write(&state, &actor, now), &actor)
            .await?;
    }
    state.wake.notify_one();
    Ok((StatusCode::CREATED, Json(shown(&state, &id, filled).await?)))
}

/// A maintenance from Statuspage's scheduled fields.
fn schedule(
    body: &IncidentBody,
    title: crate::domain::Title,
    owner: Owner,
    components: &[Component],
) -> ApiResult<ScheduleMaintenance> {
    let scheduled_for = body.scheduled_for.ok_or_else(|| {
        ApiError::invalid("incident.scheduled_for", "a maintenance needs its start")
    })?;
    let scheduled_until = body.scheduled_until.ok_or_else(|| {
        ApiError::invalid("incident.scheduled_until", "a maintenance needs its end")
    })?;
    let message = match body.body.clone() {
        Some(message) => message,
        None => Message::parse(&format!("Planned maintenance: {title}."))?,
    };
    Ok(ScheduleMaintenance {
        title,
        scheduled_for,
        scheduled_until,
        components: body
            .affected(|id| shapes::current_status(components, id))?
            .into_keys()
            .collect(),
        owner,
        message,
        // Statuspage reminds 60 minutes before, as Candor does by default.
        remind_before: match body.scheduled_remind_prior {
            Some(false) => Some(Vec::new()),
            _ => None,
        },
        auto_complete: body.scheduled_auto_completed.unwrap_or(false),
    })
}

#[tracing::instrument(skip_all)]
async fn update(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(path): Path<ItemPath>,
    ApiJson(IncidentEnvelope { incident: body }): ApiJson<IncidentEnvelope>,
) -> ApiResult<Json<V1Incident>> {
    body.refusals()?;
    let id = IncidentId::new(path.id());
    let mut meta = body.candor()?;
    let record = state
        .store
        .get_incident(&id)
        .await
        .map_err(|e| not_found(e, &id))?;
    // Only a named owner changes the owner: the token's is for new ones.
    let owner = match meta.owner.take() {
        Some(field) => Some(field.owner()?),
        None => None,
    };
    let message = body.body.clone().ok_or_else(|| {
        ApiError::invalid(
            "incident.body",
            "every change is posted as an entry that subscribers are sent: say in `body` what changed",
        )
    })?;
    let now = state.clock.now();
    let components = state.store.list_components().await?;
    let mut filled = Filled {
        owner_from: owner.is_some().then_some(Source::Metadata),
        next_update_from: None,
    };
    let command = if record.incident.kind == Kind::Maintenance {
        Command::Maintenance(MaintenanceUpdate {
            status: body.status,
            scheduled_for: body.scheduled_for,
            scheduled_until: body.scheduled_until,
            owner,
            message,
        })
    } else {
        let after = body.status.unwrap_or(record.incident.state.status);
        let next = if after == IncidentStatus::Resolved {
            None
        } else {
            let (next, from) = next_update(&meta, &state, now)?;
            filled.next_update_from = Some(from);
            Some(next)
        };
        Command::Update(PostUpdate {
            status: body.status,
            impact: body.impact_override,
            title: body.name.clone(),
            owner,
            cause: meta.cause.map_or(Patch::Keep, Patch::Set),
            eta: meta.eta.map_or(Patch::Keep, Patch::Set),
            next_update: next,
            components: body.affected(|id| shapes::current_status(&components, id))?,
            message,
            follow_up_at: None,
        })
    };
    state
        .store
        .post_entry(&id, &command, &write(&state, &actor, now), &actor)
        .await
        .map_err(|e| not_found(e, &id))?;
    state.wake.notify_one();
    Ok(Json(shown(&state, &id, filled).await?))
}

/// Editing a posted update is what Candor never does (DESIGN.md §1 rule 5).
async fn edit_entry() -> ApiError {
    ApiError::invalid(
        "incident_update",
        "posted entries are never edited; post a correction",
    )
}
