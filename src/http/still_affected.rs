//! The resolve mail's one-click "Still affected?" report: recorded once per
//! subscriber and incident, and mailed to the owner.

use axum::{
    extract::{Query, State},
    routing::get,
    Router,
};
use maud::Markup;
use serde::Deserialize;

use super::{error::PageError, public::page_context, AppState};
use crate::domain::{IncidentId, SubscriberId};
use crate::store::StoreError;
use crate::views::subscribe as view;

pub fn router() -> Router<AppState> {
    Router::new().route("/still-affected", get(ask).post(report))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// (subscriber, incident) from a signed token.
fn parse(state: &AppState, token: Option<&str>) -> Option<(SubscriberId, IncidentId)> {
    state.links.verify_still_affected(token?)
}

fn bad_link() -> PageError {
    PageError::BadLink(
        "This link is not valid. Use the link from the mail that said the incident was resolved.",
    )
}

#[tracing::instrument(skip_all)]
async fn ask(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Markup, PageError> {
    let token = query.token.unwrap_or_default();
    let (_, incident_id) = parse(&state, Some(&token)).ok_or_else(bad_link)?;
    let record = (state.store.get_incident(&incident_id).await).map_err(|_| bad_link())?;
    let title = record.incident.state.title.to_string();
    Ok(view::still_affected_confirm(
        &page_context(&state),
        &token,
        &title,
    ))
}

#[tracing::instrument(skip_all)]
async fn report(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
) -> Result<Markup, PageError> {
    let (subscriber_id, incident_id) =
        parse(&state, query.token.as_deref()).ok_or_else(bad_link)?;
    let now = state.clock.now();
    let result = state
        .store
        .report_still_affected(&incident_id, &subscriber_id, now)
        .await;
    result.map_err(|err| match err {
        StoreError::NotFound => bad_link(),
        err => PageError::store(&err, "still affected report"),
    })?;
    state.wake.notify_one();
    Ok(view::notice(
        &page_context(&state),
        "Thank you — we have been told",
        &["The owner of the incident has your report and will look again. You will get every update by mail.".into()],
        None,
    ))
}
