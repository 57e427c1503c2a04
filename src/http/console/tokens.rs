//! `/admin/tokens` (admins): make an admin API token (its secret shown on
//! that answer only, never put in a URL) or revoke one at once.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::form::Form;
use super::incidents::{console, see_other};
use super::Staff;
use crate::domain::alerts::TokenScope;
use crate::domain::staff::Duty;
use crate::domain::Owner;
use crate::http::{error::PageError, AppState};
use crate::ids::{hash_token, new_id, new_token};
use crate::store::StoreError;
use crate::views::console::tokens::{self as view, TokenRow, TokensPage};

fn failed(err: StoreError) -> PageError {
    PageError::store(&err, "console tokens")
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// What the page says besides the list.
#[derive(Default)]
struct Said<'a> {
    created: Option<(&'a str, &'a str)>,
    notice: Option<&'a str>,
    problem: Option<&'a str>,
}

async fn render(state: &AppState, staff: &Staff, said: Said<'_>) -> Result<Response, PageError> {
    let tokens = state.store.list_tokens().await.map_err(failed)?;
    let rows: Vec<TokenRow<'_>> = tokens
        .iter()
        .map(|t| TokenRow {
            name: &t.name,
            scope: t.scope.as_str(),
            owner: t.owner.as_deref(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        })
        .collect();
    let status = if said.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = view::page(
        &console(state, staff),
        &TokensPage {
            tokens: &rows,
            created: said.created,
            notice: said.notice,
            problem: said.problem,
        },
    );
    Ok((status, page).into_response())
}

pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Result<Response, PageError> {
    staff.may(Duty::Administer)?;
    let notice = (query.done.as_deref() == Some("revoked"))
        .then_some("Revoked: it opens nothing from now on.");
    render(
        &state,
        &staff,
        Said {
            notice,
            ..Said::default()
        },
    )
    .await
}

/// The token the form asks for: its name, what it may do, and whom what it
/// opens names as owner where the caller cannot say (Statuspage's Manage
/// API has no owner; empty: nobody); or the problem, for the page.
fn asked(form: &Form) -> Result<(String, TokenScope, Option<Owner>), String> {
    let name = form.text("name");
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err("a token's name is 1 to 100 visible characters: say what uses it.".into());
    }
    let scope = TokenScope::parse(&form.text("scope")).map_err(|e| format!("{}.", e.message))?;
    let owner = match form.text("owner").trim() {
        "" => None,
        text => Some(Owner::parse_mailbox(text).map_err(|e| format!("owner: {}.", e.message))?),
    };
    Ok((name, scope, owner))
}

#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    let (name, scope, owner) = match asked(&form) {
        Ok(asked) => asked,
        Err(problem) => {
            let said = Said {
                problem: Some(&problem),
                ..Said::default()
            };
            return render(&state, &staff, said).await;
        }
    };
    let secret = new_token();
    let made = state
        .store
        .create_scoped_token(
            &new_id::<String>(),
            &name,
            &hash_token(&secret),
            scope,
            owner.as_ref(),
            state.clock.now(),
            &staff.actor,
        )
        .await;
    match made {
        Ok(()) => {
            render(
                &state,
                &staff,
                Said {
                    created: Some((&name, &secret)),
                    ..Said::default()
                },
            )
            .await
        }
        Err(StoreError::Conflict(message)) => {
            let problem = format!("{message}; revoke it first, or choose another name.");
            render(
                &state,
                &staff,
                Said {
                    problem: Some(&problem),
                    ..Said::default()
                },
            )
            .await
        }
        Err(err) => Err(failed(err)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn revoke(
    State(state): State<AppState>,
    staff: Staff,
    body: Bytes,
) -> Result<Response, PageError> {
    let form = staff.form(&body, Duty::Administer)?;
    match state
        .store
        .revoke_token(&form.text("name"), state.clock.now(), &staff.actor)
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => Ok(see_other("/admin/tokens?done=revoked".into())),
        Err(err) => Err(failed(err)),
    }
}
