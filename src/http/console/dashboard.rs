//! `GET /admin`: open incidents worst first, maintenance, and what is owed.

use axum::extract::State;
use maud::Markup;

use super::incidents::{console, deliveries_by_entry};
use super::Staff;
use crate::domain::record::worst_first;
use crate::http::{error::PageError, public::planned_work, AppState};
use crate::views::console::dashboard::{self as view, Dashboard};

fn failed(err: crate::store::StoreError) -> PageError {
    PageError::store(&err, "console dashboard")
}

#[tracing::instrument(skip_all)]
pub async fn page(State(state): State<AppState>, staff: Staff) -> Result<Markup, PageError> {
    let now = state.clock.now();
    let mut open = state.store.open_incident_records().await.map_err(failed)?;
    worst_first(&mut open);
    let mut incidents = Vec::with_capacity(open.len());
    for record in open {
        let latest = match record.entries.first() {
            Some(entry) => deliveries_by_entry(&state, &record.incident.id)
                .await?
                .remove(&entry.id),
            None => None,
        };
        incidents.push((record, latest));
    }
    let maintenance = planned_work(&state).await?;
    let follow_ups = state.store.owed_follow_ups().await.map_err(failed)?;
    let mut still_affected = Vec::new();
    for (id, reports) in state.store.unanswered_reports().await.map_err(failed)? {
        let record = state.store.get_incident(&id).await.map_err(failed)?;
        still_affected.push((record.incident, reports.unanswered));
    }
    let readers_affected: Vec<(String, i64)> =
        (state.store.unseen_outages(now).await.map_err(failed)?)
            .into_iter()
            .map(|news| (news.name, news.count))
            .collect();
    Ok(view::page(
        &console(&state, &staff),
        &Dashboard {
            incidents: &incidents,
            maintenance: &maintenance,
            follow_ups: &follow_ups,
            still_affected: &still_affected,
            readers_affected: &readers_affected,
        },
    ))
}
