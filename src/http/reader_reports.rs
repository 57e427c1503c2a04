//! `GET /api/v1/reports`: readers' "I'm affected" reports per component
//! and per incident, over the last hour and the last 24 hours, newest
//! activity first.

use axum::{extract::State, routing::get, Json, Router};

use super::{error::ApiResult, AppState, List};
use crate::store::ReportCounts;

pub fn router() -> Router<AppState> {
    Router::new().route("/reports", get(reports))
}

#[tracing::instrument(skip_all)]
async fn reports(State(state): State<AppState>) -> ApiResult<Json<List<ReportCounts>>> {
    let counts = state.store.reader_report_counts(state.clock.now()).await?;
    Ok(Json(List::all(counts)))
}
