//! `/admin/components` (admins): add, change, group and order components,
//! and set a status by hand with its reason, which is mailed to the
//! component's subscribers like any change (the store's `edit_component`,
//! as the admin API's PATCH).

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::form::Form;
use super::incidents::{console, posted, see_other};
use super::Staff;
use crate::domain::component::Component;
use crate::domain::staff::Duty;
use crate::domain::{ComponentId, ComponentStatus, Description, DomainError, Title};
use crate::http::{error::PageError, AppState};
use crate::ids::new_id;
use crate::store::{ComponentEdit, StoreError};
use crate::views::console::components::{self as view, Refused};

fn failed(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => {
            PageError::NotFound("There is no such component. Reload the components page.")
        }
        err => PageError::store(&err, "console components"),
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    staff.may(Duty::Administer)?;
    let notice = match query.done.as_deref() {
        Some("added") => Some("Added. It shows on the page now."),
        Some("saved") => Some("Saved."),
        Some("status") => Some("Status set. Its subscribers are being told, with the reason."),
        _ => None,
    };
    again(&state, &staff, None, notice).await
}

async fn again(
    state: &AppState,
    staff: &Staff,
    refused: Option<Refused<'_>>,
    notice: Option<&str>,
) -> Result<Response, PageError> {
    let components = state.store.list_components().await.map_err(failed)?;
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = view::page(
        &console(state, staff),
        &components,
        refused.as_ref(),
        notice,
    );
    Ok((status, page).into_response())
}

/// A rule's words, capitalised, for the page.
fn words(err: &DomainError) -> String {
    let field = match err.field.as_str() {
        "group_id" => "group",
        other => other,
    };
    format!("{field}: {}.", err.message)
}

struct Fields {
    name: Title,
    description: Option<Description>,
    group: Option<ComponentId>,
    position: i64,
}

fn fields(form: &Form) -> Result<Fields, String> {
    let name = Title::parse(&form.text("name")).map_err(|e| format!("name: {}.", e.message))?;
    let description = match form.text("description").as_str() {
        "" => None,
        text => Some(Description::parse(text).map_err(|e| format!("description: {}.", e.message))?),
    };
    let group = match form.text("group").as_str() {
        "" => None,
        id => Some(ComponentId::new(id)),
    };
    let position = match form.text("position").as_str() {
        "" => 0,
        text => text
            .parse::<i64>()
            .map_err(|_| "position: must be a whole number.".to_string())?,
    };
    Ok(Fields {
        name,
        description,
        group,
        position,
    })
}

#[tracing::instrument(skip_all)]
pub async fn add(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    let fields = match fields(&form) {
        Ok(fields) => fields,
        Err(message) => {
            return again(
                &state,
                &staff,
                Some(Refused {
                    form: "new",
                    message: &message,
                }),
                None,
            )
            .await
        }
    };
    let now = state.clock.now();
    let component = Component {
        id: new_id(),
        name: fields.name.into(),
        description: fields.description.map(Into::into),
        group_id: fields.group,
        position: fields.position,
        status: ComponentStatus::Operational,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_component(&component, &staff.actor).await {
        Ok(()) => {
            posted(&state);
            Ok(see_other("/admin/components?done=added".into()))
        }
        Err(StoreError::Domain(err)) => {
            let message = words(&err);
            again(
                &state,
                &staff,
                Some(Refused {
                    form: "new",
                    message: &message,
                }),
                None,
            )
            .await
        }
        Err(err) => Err(failed(err)),
    }
}

/// Saves an edit; a broken rule comes back next to the form `key`.
async fn save(
    state: &AppState,
    staff: &Staff,
    id: &ComponentId,
    edit: &ComponentEdit,
    key: &str,
    done: &str,
) -> Result<Response, PageError> {
    match state
        .store
        .edit_component(id, edit, &staff.actor, state.clock.now())
        .await
    {
        Ok(_) => {
            posted(state);
            Ok(see_other(format!("/admin/components?done={done}")))
        }
        Err(StoreError::Domain(err)) => {
            let message = words(&err);
            again(
                state,
                staff,
                Some(Refused {
                    form: key,
                    message: &message,
                }),
                None,
            )
            .await
        }
        Err(err) => Err(failed(err)),
    }
}

#[tracing::instrument(skip_all, fields(component = %id))]
pub async fn change(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<ComponentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    let key = format!("edit-{id}");
    let fields = match fields(&form) {
        Ok(fields) => fields,
        Err(message) => {
            return again(
                &state,
                &staff,
                Some(Refused {
                    form: &key,
                    message: &message,
                }),
                None,
            )
            .await
        }
    };
    let edit = ComponentEdit {
        name: Some(fields.name.into()),
        description: Some(fields.description.map(Into::into)),
        group_id: Some(fields.group),
        position: Some(fields.position),
        status: None,
        reason: None,
    };
    save(&state, &staff, &id, &edit, &key, "saved").await
}

#[tracing::instrument(skip_all, fields(component = %id))]
pub async fn set_status(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<ComponentId>,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    let key = format!("status-{id}");
    let status = ComponentStatus::parse(&form.text("status"));
    let reason = Description::parse(&form.text("reason"));
    let (Some(status), Ok(reason)) = (status, reason) else {
        let message = "say which status, and why: the reason is told to its subscribers.";
        return again(
            &state,
            &staff,
            Some(Refused {
                form: &key,
                message,
            }),
            None,
        )
        .await;
    };
    let current = state.store.get_component(&id).await.map_err(failed)?;
    if current.status == status {
        let message = format!(
            "{} is {} already: nothing would change.",
            current.name,
            status.words().to_lowercase()
        );
        return again(
            &state,
            &staff,
            Some(Refused {
                form: &key,
                message: &message,
            }),
            None,
        )
        .await;
    }
    let edit = ComponentEdit {
        status: Some(status),
        reason: Some(reason),
        ..ComponentEdit::default()
    };
    save(&state, &staff, &id, &edit, &key, "status").await
}
