//! What other sites show of Candor: the SVG status badge of the page and of
//! each component, and `/embed.js`, a script that shows the banner.

use axum::{
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde_json::json;

use super::{cache::Until, error::PageError, AppState};
use crate::domain::facts::Overall;
use crate::domain::ComponentId;
use crate::store::StoreError;
use crate::views::badge;

const SVG: &str = "image/svg+xml; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const EMBED: &str = include_str!("../../static/embed.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/badge.svg", get(overall))
        .route("/components/{id}/badge.svg", get(component))
        .route("/embed.js", get(embed))
}

fn failed(err: StoreError) -> PageError {
    match err {
        StoreError::NotFound => {
            PageError::NotFound("There is no component here. It may have a different address.")
        }
        err => PageError::store(&err, "badge"),
    }
}

async fn current(state: &AppState) -> Result<Overall, StoreError> {
    let components = state.shown_components().await?;
    let open = state.store.open_incident_records().await?;
    Ok(Overall::of(
        open.iter().map(|r| r.incident.state.impact),
        components.iter().map(|c| c.status),
    ))
}

/// The state of the whole page, as the banner says it.
#[tracing::instrument(skip_all)]
async fn overall(State(state): State<AppState>) -> Result<Response, PageError> {
    let overall = current(&state).await.map_err(failed)?;
    let svg = badge::svg(
        &state.config.page_name,
        overall.words(),
        badge::overall_colour(overall),
    );
    Ok((
        Until::default(),
        [(header::CONTENT_TYPE, SVG)],
        svg.into_string(),
    )
        .into_response())
}

#[tracing::instrument(skip_all, fields(component = %id))]
async fn component(
    State(state): State<AppState>,
    Path(id): Path<ComponentId>,
) -> Result<Response, PageError> {
    // A group's badge is as bad as its worst member, as on the page.
    let component = state
        .shown_components()
        .await
        .map_err(failed)?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| failed(StoreError::NotFound))?;
    let svg = badge::svg(
        &component.name,
        component.status.words(),
        badge::status_colour(component.status),
    );
    Ok((
        Until::default(),
        [(header::CONTENT_TYPE, SVG)],
        svg.into_string(),
    )
        .into_response())
}

/// The banner script, with this page's address and Candor's own words for
/// each Statuspage indicator.
#[tracing::instrument(skip_all)]
async fn embed(State(state): State<AppState>) -> Response {
    let all = [
        Overall::Operational,
        Overall::Minor,
        Overall::Partial,
        Overall::Major,
        Overall::Maintenance,
    ];
    let words: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .map(|o| (o.indicator().to_string(), json!(o.words())))
        .collect();
    let colours: serde_json::Map<String, serde_json::Value> = all
        .iter()
        .map(|o| (o.indicator().to_string(), json!(badge::overall_colour(*o))))
        .collect();
    let base = json!(state.base_url.as_ref()).to_string();
    let script = EMBED
        .replace("__CANDOR_BASE__", &base)
        .replace(
            "__CANDOR_WORDS__",
            &serde_json::Value::Object(words).to_string(),
        )
        .replace(
            "__CANDOR_COLOURS__",
            &serde_json::Value::Object(colours).to_string(),
        );
    (Until::default(), [(header::CONTENT_TYPE, JS)], script).into_response()
}
