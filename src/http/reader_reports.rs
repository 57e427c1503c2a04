//! `GET /api/v1/reports`: readers' "I'm affected" reports per component
//! and per incident, over the last hour and the last 24 hours, newest
//! activity first.

use axum::{extract::State, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{error::ApiResult, AppState, List};
use crate::store::ReportCounts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(reports))
}

/// Readers' "I'm affected" reports.
///
/// Per component and per incident, over the last hour and the last 24
/// hours, newest activity first.
#[utoipa::path(get, path = "/reports", tag = "reports",
    responses((status = 200, description = "Report counts", body = List<ReportCounts>)))]
#[tracing::instrument(skip_all)]
async fn reports(State(state): State<AppState>) -> ApiResult<Json<List<ReportCounts>>> {
    let counts = state.store.reader_report_counts(state.clock.now()).await?;
    Ok(Json(List::all(counts)))
}
