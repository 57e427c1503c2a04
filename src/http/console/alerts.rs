//! `GET /admin/alerts` (staff): monitoring alerts and what became of each,
//! a page at a time (the same events as `GET /api/v1/alerts`).

use axum::extract::{Query, State};
use maud::Markup;
use serde::Deserialize;

use super::incidents::console;
use super::Staff;
use crate::domain::staff::Duty;
use crate::http::{error::PageError, AppState};
use crate::views::console::alerts::{self as view, AlertRow};

const PAGE: i64 = 100;

#[derive(Deserialize)]
pub struct PageQuery {
    /// `received_ms_id` of the last alert of the newer page.
    before: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn page(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<PageQuery>,
) -> Result<Markup, PageError> {
    staff.may(Duty::Post)?;
    let before = query.before.as_deref().and_then(|cursor| {
        let (at, id) = cursor.split_once('_')?;
        let at = jiff::Timestamp::from_millisecond(at.parse().ok()?).ok()?;
        Some((at, id.to_string()))
    });
    let events = state
        .store
        .alert_events(before, PAGE)
        .await
        .map_err(|e| PageError::store(&e, "console alerts"))?;
    let components = state
        .store
        .list_components()
        .await
        .map_err(|e| PageError::store(&e, "console alerts"))?;
    let rows: Vec<AlertRow<'_>> = events
        .iter()
        .map(|event| AlertRow {
            event,
            component: (event.component_id.as_ref())
                .and_then(|id| components.iter().find(|c| &c.id == id))
                .map(|c| c.name.as_str()),
        })
        .collect();
    let older = (events.len() as i64 == PAGE)
        .then(|| {
            events
                .last()
                .map(|e| format!("{}_{}", e.received_at.as_millisecond(), e.id))
        })
        .flatten();
    Ok(view::page(
        &console(&state, &staff),
        &rows,
        older.as_deref(),
    ))
}
