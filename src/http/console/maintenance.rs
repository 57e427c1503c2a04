//! Planned maintenance from the console: schedule it, then reschedule,
//! start, complete or cancel it, with the admin API's domain commands
//! (`Incident::schedule`, `MaintenanceUpdate`), previewed by the same rules.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::Markup;

use super::form::{field_time, Form};
use super::incidents::{console, deliveries_by_entry, failed, named, reader, users, CURRENT_OWNER};
use super::submit::{submit, Outcome, Posting};
use super::Staff;
use crate::domain::maintenance::{MaintenanceUpdate, ScheduleMaintenance, DEFAULT_REMINDERS};
use crate::domain::staff::{Duty, StaffUser};
use crate::domain::{
    Command, ComponentId, IncidentId, IncidentRecord, IncidentStatus, Message, Title,
};
use crate::http::{error::PageError, AppState};
use crate::views::console::incident::Returned;
use crate::views::console::incident_form::Preview;
use crate::views::console::maintenance::{self as view, MaintenancePage, PlanDraft};
use crate::views::console::Problems;

fn draft_from(form: &Form) -> PlanDraft {
    PlanDraft {
        title: form.text("title"),
        components: form
            .with_prefix("components")
            .filter(|(rest, _)| rest.is_empty())
            .map(|(_, id)| ComponentId::new(id))
            .collect(),
        owner: form.text("owner"),
        scheduled_for: form.text("scheduled_for"),
        scheduled_until: form.text("scheduled_until"),
        remind: form
            .with_prefix("remind")
            .filter(|(rest, _)| rest.is_empty())
            .map(|(_, minutes)| minutes.to_string())
            .collect(),
        auto_complete: form.get("auto_complete") == Some("on"),
        message: form.get("message").unwrap_or("").to_string(),
        status: form.text("status"),
    }
}

#[tracing::instrument(skip_all)]
pub async fn new_form(State(state): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    staff.may(Duty::Post)?;
    let components = state.store.list_components().await.map_err(failed)?;
    let users = users(&state).await?;
    let draft = PlanDraft {
        owner: staff.user.id.clone(),
        remind: DEFAULT_REMINDERS.iter().map(ToString::to_string).collect(),
        ..PlanDraft::default()
    };
    Ok(view::schedule_page(
        &console(&state, &staff),
        &components,
        &users,
        &draft,
        &Problems::new(),
        None,
    ))
}

async fn schedule_again(
    state: &AppState,
    staff: &Staff,
    users: &[StaffUser],
    draft: &PlanDraft,
    problems: &Problems,
    preview: Option<&Preview>,
) -> Result<Response, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = view::schedule_page(
        &console(state, staff),
        &components,
        users,
        draft,
        problems,
        preview,
    );
    Ok((status, page).into_response())
}

#[tracing::instrument(skip_all)]
pub async fn schedule(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Post)?;
    let draft = draft_from(&form);
    let users = users(&state).await?;
    let mut read = reader(&state);
    let title = read.parsed("title", Title::parse(&draft.title));
    let owner = read.owner(&draft.owner, &users);
    let scheduled_for = read.time("scheduled_for", &draft.scheduled_for);
    let scheduled_until = read.time("scheduled_until", &draft.scheduled_until);
    if scheduled_for.is_none() {
        read.note("scheduled_for", "Say when the work starts.");
    }
    if scheduled_until.is_none() {
        read.note("scheduled_until", "Say when the work ends.");
    }
    let mut remind_before = Vec::new();
    for minutes in &draft.remind {
        match minutes.parse::<i64>() {
            Ok(minutes) => remind_before.push(minutes),
            Err(_) => read.note("remind", "Choose the reminders from the list."),
        }
    }
    let message = match draft.message.trim() {
        "" => Message::parse(&format!("Planned maintenance: {}.", draft.title.trim())),
        text => Message::parse(text),
    };
    let message = read.parsed("message", message);
    let problems = std::mem::take(&mut read.problems);
    let command = match (title, owner, scheduled_for, scheduled_until, message) {
        (Some(title), Some(owner), Some(scheduled_for), Some(scheduled_until), Some(message))
            if problems.is_empty() =>
        {
            ScheduleMaintenance {
                title,
                scheduled_for,
                scheduled_until,
                components: draft.components.clone(),
                owner,
                message,
                remind_before: Some(remind_before),
                auto_complete: draft.auto_complete,
            }
        }
        _ => return schedule_again(&state, &staff, &users, &draft, &problems, None).await,
    };
    match submit(&state, &staff, &form, Posting::Schedule(command)).await? {
        Outcome::Posted(to) => Ok(to),
        Outcome::Again(problems, preview) => {
            schedule_again(
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

/// The plan as it stands, as the update form shows it.
fn current_draft(
    state: &AppState,
    record: &IncidentRecord,
    users: &mut Vec<StaffUser>,
) -> PlanDraft {
    let incident = &record.incident;
    let s = &incident.state;
    let tz = &state.config.time_zone;
    let owner = super::incidents::owner_choice(&s.owner, users);
    let (scheduled_for, scheduled_until) = s
        .schedule
        .as_ref()
        .map(|plan| {
            (
                field_time(plan.scheduled_for, tz),
                field_time(plan.scheduled_until, tz),
            )
        })
        .unwrap_or_default();
    PlanDraft {
        title: s.title.to_string(),
        owner,
        scheduled_for,
        scheduled_until,
        ..PlanDraft::default()
    }
}

/// A maintenance's console page, with a form come back or not.
pub(super) async fn page(
    state: &AppState,
    staff: &Staff,
    record: &IncidentRecord,
    update: Option<(&PlanDraft, &Problems, Option<&Preview>)>,
    correction: Option<Returned<'_>>,
    notice: Option<&str>,
) -> Result<Response, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    let mut users = users(state).await?;
    let current = current_draft(state, record, &mut users);
    let deliveries = deliveries_by_entry(state, &record.incident.id).await?;
    let refused = update.is_some_and(|(_, problems, _)| !problems.is_empty())
        || correction.as_ref().is_some_and(|r| !r.problems.is_empty());
    let status = if refused {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = view::page(
        &console(state, staff),
        &MaintenancePage {
            record,
            components: &components,
            users: &users,
            deliveries: &deliveries,
            current: &current,
            update,
            correction,
            notice,
        },
    );
    Ok((status, page).into_response())
}

/// `POST /admin/maintenances/{id}/updates`: say something, move the
/// times, start, complete or cancel.
#[tracing::instrument(skip_all, fields(maintenance = %id))]
pub async fn update(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<IncidentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Post)?;
    let record = state.store.get_incident(&id).await.map_err(failed)?;
    let draft = draft_from(&form);
    let mut users = users(&state).await?;
    let shown = current_draft(&state, &record, &mut users);
    let mut read = reader(&state);
    let status = match draft.status.as_str() {
        "" => None,
        text => match named::<IncidentStatus>(text) {
            Some(status) => Some(status),
            None => {
                read.note("status", "Choose what happens from the list.");
                None
            }
        },
    };
    let owner = if draft.owner == CURRENT_OWNER || draft.owner == shown.owner {
        None
    } else {
        read.owner(&draft.owner, &users)
    };
    // Only a time that was changed moves (the form shows them to the minute).
    let scheduled_for = if draft.scheduled_for == shown.scheduled_for {
        None
    } else {
        read.time("scheduled_for", &draft.scheduled_for)
    };
    let scheduled_until = if draft.scheduled_until == shown.scheduled_until {
        None
    } else {
        read.time("scheduled_until", &draft.scheduled_until)
    };
    let message = read.parsed("message", Message::parse(&draft.message));
    let problems = std::mem::take(&mut read.problems);
    let (Some(message), true) = (message, problems.is_empty()) else {
        return page(
            &state,
            &staff,
            &record,
            Some((&draft, &problems, None)),
            None,
            None,
        )
        .await;
    };
    let command = Command::Maintenance(MaintenanceUpdate {
        status,
        scheduled_for,
        scheduled_until,
        owner,
        message,
    });
    match submit(&state, &staff, &form, Posting::Entry(id, command)).await? {
        Outcome::Posted(to) => Ok(to),
        Outcome::Again(problems, preview) => {
            page(
                &state,
                &staff,
                &record,
                Some((&draft, &problems, preview.as_deref())),
                None,
                None,
            )
            .await
        }
    }
}
