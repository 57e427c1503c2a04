//! The resolve mail's one-click "Still affected?" report: recorded once per
//! subscriber and incident, and mailed to the owner.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;

use super::{public::page_context, status_page, AppState};
use crate::domain::{IncidentId, SubscriberId};
use crate::store::{StaffMail, StoreError};
use crate::views::{mail, subscribe as view};

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

fn bad_link(state: &AppState) -> Response {
    status_page(
        StatusCode::BAD_REQUEST,
        state,
        "This link is not valid. Use the link from the mail that said the incident was resolved.",
    )
}

async fn ask(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    let Some((_, incident_id)) = parse(&state, Some(&token)) else {
        return bad_link(&state);
    };
    let title = match state.store.get_incident(&incident_id).await {
        Ok(record) => record.incident.state.title.to_string(),
        Err(_) => return bad_link(&state),
    };
    view::still_affected_confirm(&page_context(&state), &token, &title).into_response()
}

async fn report(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let Some((subscriber_id, incident_id)) = parse(&state, query.token.as_deref()) else {
        return bad_link(&state);
    };
    let now = state.clock.now();
    let base_url = state.base_url.clone();
    let result = state
        .store
        .report_still_affected(&incident_id, &subscriber_id, now, &|incident, count| {
            let (subject, text) = mail::staff::still_affected(incident, count, &base_url);
            StaffMail {
                to: incident.state.owner.email.to_string(),
                subject,
                text,
            }
        })
        .await;
    match result {
        Ok(_) => {
            state.wake.notify_one();
            view::notice(
                &page_context(&state),
                "Thank you — we have been told",
                &["The owner of the incident has your report and will look again. You will get every update by mail.".into()],
                None,
            )
            .into_response()
        }
        Err(StoreError::NotFound) => bad_link(&state),
        Err(err) => super::store_failure_page(&state, &err, "still affected report"),
    }
}
