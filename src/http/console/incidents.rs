//! The console's incident pages: open one, then update, resolve, reopen,
//! hand over, follow up and correct it. Each form is read into the same
//! domain command the admin API posts (`Incident::open`, `Incident::apply`
//! through the store), previewed by the same rules without being written,
//! and answered with a redirect once posted or with the form again, its
//! problems next to their fields, when not.

use std::collections::BTreeMap;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use jiff::{SignedDuration, Timestamp};
use maud::Markup;
use serde::{de::IntoDeserializer, Deserialize};

use super::form::{field_time, local_time, Form};
use super::submit::{submit, Outcome, Posting};
use super::Staff;
use crate::domain::staff::{Duty, StaffUser};
use crate::domain::{
    incident::PostPostmortem, Cause, Command, ComponentId, ComponentStatus, DomainError, EntryId,
    Incident, IncidentId, IncidentRecord, IncidentStatus, Message, NextUpdate, OpenIncident, Owner,
    Patch, PostCorrection, PostUpdate, Title,
};
use crate::http::{error::PageError, public::page_context, AppState};
use crate::store::StoreError;
use crate::views::console::incident::{
    self as view, DeliveryCounts, IncidentPage, Returned, Which,
};
use crate::views::console::incident_form::{self as form_view, Draft, Preview};
use crate::views::console::{Console, Problems};

pub(super) fn console<'a>(state: &'a AppState, staff: &'a Staff) -> Console<'a> {
    Console {
        page: page_context(state),
        user: &staff.user,
        csrf: &staff.csrf,
    }
}

pub(super) fn failed(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => PageError::NotFound(
            "There is no incident here. It may have a different address: see the dashboard.",
        ),
        err => PageError::store(&err, "console"),
    }
}

/// What each entry's mail and webhooks came to.
pub(super) async fn deliveries_by_entry(
    state: &AppState,
    id: &IncidentId,
) -> Result<BTreeMap<EntryId, DeliveryCounts>, PageError> {
    Ok(state
        .store
        .incident_deliveries(id)
        .await
        .map_err(failed)?
        .into_iter()
        .map(|d| {
            (
                d.entry_id,
                DeliveryCounts {
                    pending: d.pending,
                    sent: d.sent,
                    failed: d.failed,
                    dead: d.dead,
                    failures: d
                        .failures
                        .into_iter()
                        .map(|f| {
                            (
                                f.address,
                                f.state,
                                f.last_error.unwrap_or_else(|| "no reason given".into()),
                            )
                        })
                        .collect(),
                },
            )
        })
        .collect())
}

/// A value of one of the domain's enums by its API name (`major`).
pub(super) fn named<T: for<'de> Deserialize<'de>>(text: &str) -> Option<T> {
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(text)).ok()
}

/// The form field a domain rule names.
fn field_of(rule_field: &str) -> &str {
    match rule_field {
        "next_update_at" | "next_update_in" => "next_update",
        "owner" | "owner.name" | "owner.email" => "owner",
        "follow_up_at" => "follow_up",
        other => other,
    }
}

pub(super) fn problems_of(err: &DomainError) -> Problems {
    let mut problems = Problems::new();
    problems.insert(field_of(&err.field).to_string(), sentence(&err.message));
    problems
}

/// A rule's words as a sentence: capital first, full stop last.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut text = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// The form's values as typed.
fn draft_from(form: &Form) -> Draft {
    Draft {
        title: form.text("title"),
        impact: form.text("impact"),
        status: form.text("status"),
        components: form
            .with_prefix("component.")
            .map(|(id, status)| (ComponentId::new(id), status.trim().to_string()))
            .collect(),
        owner: form.text("owner"),
        cause: form.text("cause"),
        eta: form.text("eta"),
        next_update: form.text("next_update"),
        next_update_at: form.text("next_update_at"),
        message: form.get("message").unwrap_or("").to_string(),
        follow_up: form.text("follow_up"),
    }
}

/// Reads the parts every posting form shares, noting each problem.
pub(super) struct Reader<'a> {
    state: &'a AppState,
    pub now: Timestamp,
    pub problems: Problems,
}

impl Reader<'_> {
    pub fn note(&mut self, field: &str, message: impl Into<String>) {
        self.problems
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn parsed<T>(&mut self, field: &str, parsed: Result<T, DomainError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(err) => {
                self.note(field, sentence(&err.message));
                None
            }
        }
    }

    pub fn time(&mut self, field: &str, raw: &str) -> Option<Timestamp> {
        match local_time(raw, &self.state.config.time_zone, self.now) {
            Ok(at) => at,
            Err(message) => {
                self.note(field, sentence(&format!("{raw:?} {message}")));
                None
            }
        }
    }

    fn components(&mut self, draft: &Draft) -> BTreeMap<ComponentId, ComponentStatus> {
        let mut chosen = BTreeMap::new();
        for (id, status) in &draft.components {
            if status.is_empty() {
                continue;
            }
            match ComponentStatus::parse(status) {
                Some(status) => {
                    chosen.insert(id.clone(), status);
                }
                None => self.note(
                    "components",
                    format!("{status:?} is not a component status."),
                ),
            }
        }
        chosen
    }

    fn next_update(&mut self, draft: &Draft) -> Option<NextUpdate> {
        match draft.next_update.as_str() {
            "at" => match self.time("next_update", &draft.next_update_at) {
                Some(at) => Some(NextUpdate::At(at)),
                None => {
                    self.note(
                        "next_update",
                        "Give the time of the next update, or choose 15, 30 or 60 minutes.",
                    );
                    None
                }
            },
            "" => {
                self.note(
                    "next_update",
                    "Say when the next update will come: 15, 30 or 60 minutes, or a time.",
                );
                None
            }
            minutes => match minutes.parse::<i64>() {
                Ok(minutes) => Some(NextUpdate::InMinutes(minutes)),
                Err(_) => {
                    self.note("next_update", "Choose 15, 30 or 60 minutes, or a time.");
                    None
                }
            },
        }
    }

    pub fn owner(&mut self, owner: &str, users: &[StaffUser]) -> Option<Owner> {
        match users.iter().find(|u| u.id == owner && !u.disabled) {
            Some(user) => Some(user.as_owner()),
            None => {
                self.note(
                    "owner",
                    "Choose who owns it: one named person, reminded when an update is due.",
                );
                None
            }
        }
    }
}

pub(super) fn reader(state: &AppState) -> Reader<'_> {
    Reader {
        state,
        now: state.clock.now(),
        problems: Problems::new(),
    }
}

/// After a write: the worker sends its mail now, and the public pages are
/// rendered again.
pub(super) fn posted(state: &AppState) {
    state.wake.notify_one();
    state
        .page_changes
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

pub(super) fn see_other(to: String) -> Response {
    Redirect::to(&to).into_response()
}

/// The active users, for the owner's choices.
pub(super) async fn users(state: &AppState) -> Result<Vec<StaffUser>, PageError> {
    let mut users = state.store.staff_users().await.map_err(failed)?;
    users.retain(|u| !u.disabled);
    Ok(users)
}

#[tracing::instrument(skip_all)]
pub async fn new_form(State(state): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    staff.may(Duty::Post)?;
    let components = state.store.list_components().await.map_err(failed)?;
    let users = users(&state).await?;
    let draft = Draft {
        impact: "minor".into(),
        status: "investigating".into(),
        owner: staff.user.id.clone(),
        next_update: "30".into(),
        ..Draft::default()
    };
    Ok(form_view::open_page(
        &console(&state, &staff),
        &components,
        &users,
        &draft,
        &Problems::new(),
        None,
    ))
}

#[tracing::instrument(skip_all)]
pub async fn open(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Post)?;
    let draft = draft_from(&form);
    let users = users(&state).await?;
    let mut read = reader(&state);
    let title = read.parsed("title", Title::parse(&draft.title));
    let impact = named(&draft.impact);
    if impact.is_none() {
        read.note(
            "impact",
            "Choose the impact: none, minor, major or critical.",
        );
    }
    let status = named::<IncidentStatus>(&draft.status).filter(|s| {
        matches!(
            s,
            IncidentStatus::Investigating | IncidentStatus::Identified | IncidentStatus::Monitoring
        )
    });
    if status.is_none() {
        read.note(
            "status",
            "Choose the status: investigating, identified or monitoring.",
        );
    }
    let components = read.components(&draft);
    let owner = read.owner(&draft.owner, &users);
    let cause = match draft.cause.as_str() {
        "" => Some(None),
        text => read.parsed("cause", Cause::parse(text)).map(Some),
    };
    let eta = read.time("eta", &draft.eta);
    let next_update = read.next_update(&draft);
    let message = match draft.message.trim() {
        "" => Message::parse(&format!(
            "We are aware of a problem: {}. We are looking into it.",
            draft.title.trim()
        )),
        text => Message::parse(text),
    };
    let message = read.parsed("message", message);
    let Reader { problems, .. } = read;
    let command = match (title, impact, status, owner, cause, message) {
        (Some(title), Some(impact), Some(status), Some(owner), Some(cause), Some(message))
            if problems.is_empty() =>
        {
            OpenIncident {
                title,
                impact,
                status,
                owner,
                cause,
                eta,
                next_update,
                components,
                message,
                started_at: None,
            }
        }
        _ => return open_again(&state, &staff, &users, &draft, &problems, None).await,
    };
    match submit(&state, &staff, &form, Posting::Open(command)).await? {
        Outcome::Posted(to) => Ok(to),
        Outcome::Again(problems, preview) => {
            open_again(
                &state,
                &staff,
                &users,
                &draft,
                &problems,
                preview.as_deref(),
            )
            .await
        }
    }
}

/// The open form again: with its problems (422) or its preview (200).
async fn open_again(
    state: &AppState,
    staff: &Staff,
    users: &[StaffUser],
    draft: &Draft,
    problems: &Problems,
    preview: Option<&Preview>,
) -> Result<Response, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = form_view::open_page(
        &console(state, staff),
        &components,
        users,
        draft,
        problems,
        preview,
    );
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct PageQuery {
    posted: Option<EntryId>,
}

#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    let record = state.store.get_incident(&id).await.map_err(failed)?;
    let notice = query.posted.and_then(|posted| {
        record.entries.iter().find(|e| e.id == posted).map(|entry| {
            format!(
                "Posted as \u{201c}{}\u{201d}. Subscribers are being told now; the deliveries are under the entry.",
                crate::domain::classify::lead(&entry.classes).label()
            )
        })
    });
    incident_page(&state, &staff, &record, None, notice.as_deref()).await
}

/// The incident's console page, with a form come back (`returned`) or not.
async fn incident_page(
    state: &AppState,
    staff: &Staff,
    record: &IncidentRecord,
    returned: Option<Returned<'_>>,
    notice: Option<&str>,
) -> Result<Response, PageError> {
    if record.incident.kind == crate::domain::Kind::Maintenance {
        return super::maintenance::page(state, staff, record, None, returned, notice).await;
    }
    let components = state.store.list_components().await.map_err(failed)?;
    let mut users = users(state).await?;
    let current = current_draft(state, &record.incident, &mut users);
    let deliveries = deliveries_by_entry(state, &record.incident.id).await?;
    let status = match &returned {
        Some(r) if !r.problems.is_empty() => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let page = view::page(
        &console(state, staff),
        &IncidentPage {
            record,
            components: &components,
            users: &users,
            deliveries: &deliveries,
            current: &current,
            returned,
            notice,
        },
    );
    Ok((status, page).into_response())
}

/// The incident as it stands, as the update form shows it. An owner who
/// has no console account (set through the API) stays a choice.
fn current_draft(state: &AppState, incident: &Incident, users: &mut Vec<StaffUser>) -> Draft {
    let s = &incident.state;
    let owner = owner_choice(&s.owner, users);
    let tz = &state.config.time_zone;
    Draft {
        title: s.title.to_string(),
        impact: s.impact.as_str().into(),
        status: if incident.is_resolved() {
            "investigating".into()
        } else {
            s.status.as_str().into()
        },
        components: s
            .components
            .iter()
            .map(|(id, status)| (id.clone(), status.as_str().to_string()))
            .collect(),
        owner,
        cause: s.cause.as_ref().map_or(String::new(), ToString::to_string),
        eta: s.eta.map_or(String::new(), |eta| field_time(eta, tz)),
        next_update: "30".into(),
        next_update_at: String::new(),
        message: String::new(),
        follow_up: String::new(),
    }
}

/// The incident's page with the form `which` back, and why it was not
/// posted.
async fn back(
    state: &AppState,
    staff: &Staff,
    record: &IncidentRecord,
    which: Which,
    draft: &Draft,
    problems: &Problems,
) -> Result<Response, PageError> {
    let returned = Returned {
        which,
        draft,
        problems,
        preview: None,
    };
    incident_page(state, staff, record, Some(returned), None).await
}

/// The owner's choice in the form: their user id, or, for an owner with
/// no console account (set through the API), a choice that keeps them,
/// put first among `users`.
pub(super) fn owner_choice(owner: &Owner, users: &mut Vec<StaffUser>) -> String {
    match users.iter().find(|u| u.email == owner.email) {
        Some(user) => user.id.clone(),
        None => {
            users.insert(
                0,
                StaffUser {
                    id: CURRENT_OWNER.into(),
                    email: owner.email.clone(),
                    name: owner.name.clone(),
                    role: crate::domain::staff::Role::Editor,
                    disabled: false,
                },
            );
            CURRENT_OWNER.into()
        }
    }
}

/// The owner's choice that keeps the owner as they are.
pub(super) const CURRENT_OWNER: &str = "current";

/// Reads a form posted to an incident, checks its token and the role, and
/// loads the incident.
async fn posted_to(
    state: &AppState,
    staff: &Staff,
    id: &IncidentId,
    body: &[u8],
) -> Result<(Form, IncidentRecord), PageError> {
    let form = staff.form(body, Duty::Post)?;
    let record = state.store.get_incident(id).await.map_err(failed)?;
    Ok((form, record))
}

/// Previews or posts `command` on the incident; on a broken rule, or for
/// a preview, its page again with the form as it was sent.
async fn post_or_preview(
    state: &AppState,
    staff: &Staff,
    record: &IncidentRecord,
    form: &Form,
    which: Which,
    draft: &Draft,
    command: Command,
) -> Result<Response, PageError> {
    let posting = Posting::Entry(record.incident.id.clone(), command);
    match submit(state, staff, form, posting).await? {
        Outcome::Posted(to) => Ok(to),
        Outcome::Again(problems, preview) => {
            let returned = Returned {
                which,
                draft,
                problems: &problems,
                preview: preview.as_deref(),
            };
            incident_page(state, staff, record, Some(returned), None).await
        }
    }
}

/// `POST /admin/incidents/{id}/updates`: an update, a hand-over (a new
/// owner), or a reopening of a resolved incident.
#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, record) = posted_to(&state, &staff, &id, &body).await?;
    let draft = draft_from(&form);
    let incident = &record.incident;
    let current = &incident.state;
    let mut users = users(&state).await?;
    let shown = current_draft(&state, incident, &mut users);
    let mut read = reader(&state);
    let status = named::<IncidentStatus>(&draft.status).filter(|s| {
        matches!(
            s,
            IncidentStatus::Investigating | IncidentStatus::Identified | IncidentStatus::Monitoring
        )
    });
    if status.is_none() {
        read.note(
            "status",
            "Choose the status: investigating, identified or monitoring.",
        );
    }
    let impact = named(&draft.impact);
    if impact.is_none() {
        read.note(
            "impact",
            "Choose the impact: none, minor, major or critical.",
        );
    }
    let owner = if draft.owner == CURRENT_OWNER || draft.owner == shown.owner {
        None
    } else {
        read.owner(&draft.owner, &users)
    };
    // Only what changed from what the form showed: an untouched field
    // keeps its value (an ETA shown to the minute stays as it was).
    let cause = if draft.cause == shown.cause {
        Patch::Keep
    } else if draft.cause.is_empty() {
        Patch::Clear
    } else {
        read.parsed("cause", Cause::parse(&draft.cause))
            .map_or(Patch::Keep, Patch::Set)
    };
    let eta = if draft.eta == shown.eta {
        Patch::Keep
    } else {
        match read.time("eta", &draft.eta) {
            Some(at) => Patch::Set(at),
            None if draft.eta.is_empty() => Patch::Clear,
            None => Patch::Keep,
        }
    };
    let components = read.components(&draft);
    let next_update = read.next_update(&draft);
    let message = read.parsed("message", Message::parse(&draft.message));
    let problems = std::mem::take(&mut read.problems);
    let (Some(status), Some(impact), Some(message), true) =
        (status, impact, message, problems.is_empty())
    else {
        return back(&state, &staff, &record, Which::Update, &draft, &problems).await;
    };
    let command = Command::Update(PostUpdate {
        status: (status != current.status).then_some(status),
        impact: (impact != current.impact).then_some(impact),
        title: None,
        owner,
        cause,
        eta,
        next_update,
        components,
        message,
        follow_up_at: None,
    });
    post_or_preview(
        &state,
        &staff,
        &record,
        &form,
        Which::Update,
        &draft,
        command,
    )
    .await
}

#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn resolve(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, record) = posted_to(&state, &staff, &id, &body).await?;
    let draft = draft_from(&form);
    let mut read = reader(&state);
    let message = read.parsed("message", Message::parse(&draft.message));
    let follow_up_at = match draft.follow_up.parse::<i64>() {
        Ok(hours) if (1..=720).contains(&hours) => {
            Some(read.now + SignedDuration::from_hours(hours))
        }
        _ => {
            read.note("follow_up", "Choose when the follow-up will come.");
            None
        }
    };
    let (Some(message), Some(follow_up_at)) = (message, follow_up_at) else {
        let problems = read.problems;
        return back(&state, &staff, &record, Which::Resolve, &draft, &problems).await;
    };
    let command = Command::Update(PostUpdate {
        status: Some(IncidentStatus::Resolved),
        impact: None,
        title: None,
        owner: None,
        cause: Patch::Keep,
        eta: Patch::Keep,
        next_update: None,
        components: BTreeMap::new(),
        message,
        follow_up_at: Some(follow_up_at),
    });
    post_or_preview(
        &state,
        &staff,
        &record,
        &form,
        Which::Resolve,
        &draft,
        command,
    )
    .await
}

#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn correct(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, record) = posted_to(&state, &staff, &id, &body).await?;
    let draft = draft_from(&form);
    let corrects = EntryId::new(form.text("corrects"));
    if !record.entries.iter().any(|e| e.id == corrects) {
        return Err(PageError::NotFound(
            "There is no such entry on this incident to correct. Reload the incident's page.",
        ));
    }
    let mut read = reader(&state);
    let message = read.parsed("message", Message::parse(&draft.message));
    let title = match draft.title.as_str() {
        "" => Some(None),
        text => read.parsed("title", Title::parse(text)).map(Some),
    };
    let cause = match draft.cause.as_str() {
        "" => Some(Patch::Keep),
        text => read.parsed("cause", Cause::parse(text)).map(Patch::Set),
    };
    let which = Which::Correct(corrects.clone());
    let (Some(message), Some(title), Some(cause)) = (message, title, cause) else {
        let problems = read.problems;
        return back(&state, &staff, &record, which, &draft, &problems).await;
    };
    let command = Command::Correction(PostCorrection {
        corrects,
        message,
        title,
        impact: None,
        cause,
        started_at: None,
    });
    post_or_preview(&state, &staff, &record, &form, which, &draft, command).await
}

#[tracing::instrument(skip_all, fields(incident = %id))]
pub async fn postmortem(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let (form, record) = posted_to(&state, &staff, &id, &body).await?;
    let draft = draft_from(&form);
    let mut read = reader(&state);
    let Some(message) = read.parsed("message", Message::parse(&draft.message)) else {
        let problems = read.problems;
        return back(
            &state,
            &staff,
            &record,
            Which::Postmortem,
            &draft,
            &problems,
        )
        .await;
    };
    let command = Command::Postmortem(PostPostmortem { message });
    post_or_preview(
        &state,
        &staff,
        &record,
        &form,
        Which::Postmortem,
        &draft,
        command,
    )
    .await
}
