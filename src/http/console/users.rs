//! `GET /admin/users`, for admins.

use axum::extract::State;
use maud::Markup;

use super::incidents::console;
use super::Staff;
use crate::domain::staff::Duty;
use crate::http::{error::PageError, AppState};
use crate::views::console::users as view;

#[tracing::instrument(skip_all)]
pub async fn page(State(state): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    staff.may(Duty::Administer)?;
    let users = state
        .store
        .staff_users()
        .await
        .map_err(|e| PageError::store(&e, "console users"))?;
    Ok(view::page(&console(&state, &staff), &users))
}
