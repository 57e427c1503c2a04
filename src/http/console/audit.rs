//! `GET /admin/audit` (admins): the audit log, newest first, a page at a time.

use axum::extract::{Query, State};
use maud::Markup;
use serde::Deserialize;

use super::incidents::console;
use super::Staff;
use crate::domain::staff::Duty;
use crate::http::{error::PageError, AppState};
use crate::views::console::audit::{self as view, AuditRow};

const PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct PageQuery {
    before: Option<i64>,
}

#[tracing::instrument(skip_all)]
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Result<Markup, PageError> {
    staff.may(Duty::Administer)?;
    let entries = state
        .store
        .audit_log(query.before, PAGE)
        .await
        .map_err(|e| PageError::store(&e, "console audit log"))?;
    let rows: Vec<AuditRow<'_>> = entries
        .iter()
        .map(|e| AuditRow {
            at: jiff::Timestamp::from_millisecond(e.at).unwrap_or_default(),
            actor: &e.actor,
            ip: e.ip.as_deref(),
            action: &e.action,
            target: &e.target,
            detail: &e.detail,
        })
        .collect();
    let older = (entries.len() as i64 == PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(view::page(&console(&state, &staff), &rows, older))
}
