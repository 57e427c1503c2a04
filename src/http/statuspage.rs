//! The Statuspage-compatible public JSON under `/api/v2/`
//! (shared/reference/statuspage-v2.md), so that widgets, aggregators and
//! client libraries written for Statuspage read Candor unchanged. Candor's
//! own facts (owner, cause, ETA and its history, the promised next update)
//! ride along in a `candor` object that those clients ignore.

use std::time::Duration;

use axum::{
    extract::State,
    http::Method,
    routing::{any, get},
    Json, Router,
};
use jiff::{tz::TimeZone, Timestamp};
use serde::{Serialize, Serializer};
use tower_http::cors::{Any, CorsLayer};

use super::{cache::Until, error::ApiResult, AppState};
use crate::domain::{
    component::Component, facts::Overall, ComponentStatus, Entry, EntryClass, Impact, Incident,
    IncidentStatus, Kind,
};
use crate::store::{IncidentFilter, IncidentRecord};

/// How many incidents `incidents.json` lists, as Statuspage does.
const RECENT: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v2/summary.json", get(summary))
        .route("/api/v2/status.json", get(status))
        .route("/api/v2/components.json", get(components))
        .route("/api/v2/incidents.json", get(incidents))
        .route("/api/v2/incidents/unresolved.json", get(unresolved))
        .route("/api/v2/scheduled-maintenances.json", get(maintenances))
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(maintenances),
        )
        .route(
            "/api/v2/scheduled-maintenances/active.json",
            get(maintenances),
        )
        .route("/api/v2/{*rest}", any(super::api_not_found))
        .method_not_allowed_fallback(super::api_method_not_allowed)
        // Browsers on any site may read the public state (status widgets).
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::HEAD, Method::OPTIONS])
                .allow_headers(Any)
                .max_age(Duration::from_secs(24 * 60 * 60)),
        )
}

/// A timestamp as Statuspage writes it: RFC 3339 in UTC with milliseconds,
/// `2025-03-04T10:21:07.123Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Millis(pub Timestamp);

impl std::fmt::Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dt = TimeZone::UTC.to_datetime(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.millisecond()
        )
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn millis(at: Option<Timestamp>) -> Option<Millis> {
    at.map(Millis)
}

#[derive(Serialize)]
struct Page {
    id: String,
    name: String,
    url: String,
    time_zone: String,
    updated_at: Millis,
}

#[derive(Serialize)]
struct StatusJson {
    indicator: &'static str,
    description: &'static str,
}

#[derive(Serialize)]
struct ComponentJson {
    id: String,
    name: String,
    status: ComponentStatus,
    created_at: Millis,
    updated_at: Millis,
    position: i64,
    description: Option<String>,
    showcase: bool,
    start_date: String,
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    /// Only on a group: its members' ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<String>>,
}

#[derive(Serialize)]
struct IncidentJson {
    id: String,
    name: String,
    status: IncidentStatus,
    impact: Impact,
    created_at: Millis,
    updated_at: Millis,
    monitoring_at: Option<Millis>,
    resolved_at: Option<Millis>,
    started_at: Millis,
    shortlink: String,
    page_id: String,
    incident_updates: Vec<UpdateJson>,
    components: Vec<IncidentComponent>,
    candor: IncidentCandor,
}

#[derive(Serialize)]
struct IncidentComponent {
    id: String,
    name: String,
    status: ComponentStatus,
}

#[derive(Serialize)]
struct IncidentCandor {
    owner: String,
    cause: Option<String>,
    eta: Option<Millis>,
    /// Every ETA that was set, oldest first.
    eta_history: Vec<Millis>,
    next_update_at: Option<Millis>,
    overdue: bool,
    eta_passed: bool,
}

#[derive(Serialize)]
struct UpdateJson {
    id: String,
    incident_id: String,
    status: IncidentStatus,
    body: String,
    created_at: Millis,
    updated_at: Millis,
    display_at: Millis,
    affected_components: Vec<AffectedComponent>,
    deliver_notifications: bool,
    custom_tweet: Option<String>,
    tweet_id: Option<String>,
    candor: UpdateCandor,
}

#[derive(Serialize)]
struct AffectedComponent {
    code: String,
    name: String,
    old_status: ComponentStatus,
    new_status: ComponentStatus,
}

#[derive(Serialize)]
struct UpdateCandor {
    classes: Vec<EntryClass>,
    cause: Option<String>,
    eta: Option<Millis>,
    next_update_at: Option<Millis>,
    corrects: Option<String>,
    system: bool,
}

/// What every answer is built from: the page's identity and the clock.
struct Ctx<'a> {
    state: &'a AppState,
    page_id: String,
    components: &'a [Component],
    now: Timestamp,
}

/// A stable page id: the page name as a slug ("Acme IT" → "acme-it").
fn page_id(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "candor".into()
    } else {
        slug.into()
    }
}

impl<'a> Ctx<'a> {
    fn new(state: &'a AppState, components: &'a [Component]) -> Self {
        Self {
            state,
            page_id: page_id(&state.config.page_name),
            components,
            now: state.clock.now(),
        }
    }

    /// `updated_at` is the newest change among the components and incidents.
    fn page<'i>(&self, incidents: impl IntoIterator<Item = &'i Incident>) -> Page {
        let newest = self
            .components
            .iter()
            .map(|c| c.updated_at)
            .chain(incidents.into_iter().map(|i| i.updated_at))
            .max()
            .unwrap_or(self.now);
        Page {
            id: self.page_id.clone(),
            name: self.state.config.page_name.clone(),
            url: self.state.base_url.to_string(),
            time_zone: self
                .state
                .tz
                .iana_name()
                .unwrap_or(self.state.config.time_zone.as_str())
                .to_string(),
            updated_at: Millis(newest),
        }
    }

    fn status<'i>(&self, open: impl IntoIterator<Item = &'i Incident>) -> StatusJson {
        let overall = Overall::of(
            open.into_iter().map(|i| i.state.impact),
            self.components.iter().map(|c| c.status),
        );
        StatusJson {
            indicator: overall.indicator(),
            description: overall.description(),
        }
    }

    fn components(&self) -> Vec<ComponentJson> {
        self.components
            .iter()
            .map(|c| {
                let members: Vec<String> = self
                    .components
                    .iter()
                    .filter(|m| m.group_id.as_deref() == Some(c.id.as_str()))
                    .map(|m| m.id.clone())
                    .collect();
                let group = !members.is_empty();
                ComponentJson {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    status: c.status,
                    created_at: Millis(c.created_at),
                    updated_at: Millis(c.updated_at),
                    position: c.position,
                    description: c.description.clone(),
                    showcase: true,
                    start_date: c
                        .created_at
                        .to_zoned(self.state.tz.clone())
                        .date()
                        .to_string(),
                    group_id: c.group_id.clone(),
                    page_id: self.page_id.clone(),
                    group,
                    only_show_if_degraded: false,
                    components: group.then_some(members),
                }
            })
            .collect()
    }

    fn component_name(&self, id: &str) -> String {
        self.components
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    fn incident(&self, record: &IncidentRecord) -> IncidentJson {
        let incident = &record.incident;
        let state = &incident.state;
        // Entries are newest first; the first move to monitoring is the oldest.
        let monitoring_at = record
            .entries
            .iter()
            .rev()
            .find(|e| e.state.status == IncidentStatus::Monitoring)
            .map(|e| Millis(e.posted_at));
        IncidentJson {
            id: incident.id.clone(),
            name: state.title.to_string(),
            status: state.status,
            impact: state.impact,
            created_at: Millis(incident.created_at),
            updated_at: Millis(incident.updated_at),
            monitoring_at,
            resolved_at: millis(state.resolved_at),
            started_at: Millis(state.started_at),
            shortlink: format!("{}/incidents/{}", self.state.base_url, incident.id),
            page_id: self.page_id.clone(),
            incident_updates: record.entries.iter().map(update).collect(),
            components: state
                .components
                .iter()
                .map(|(id, status)| IncidentComponent {
                    id: id.clone(),
                    name: self.component_name(id),
                    status: *status,
                })
                .collect(),
            candor: IncidentCandor {
                owner: state.owner.name.to_string(),
                cause: state.cause.as_ref().map(ToString::to_string),
                eta: millis(state.eta),
                eta_history: incident
                    .eta_history
                    .iter()
                    .filter_map(|change| change.eta.map(Millis))
                    .collect(),
                next_update_at: millis(state.next_update_at),
                overdue: incident.overdue(self.now),
                eta_passed: incident.eta_passed(self.now),
            },
        }
    }
}

fn update(entry: &Entry) -> UpdateJson {
    let at = Millis(entry.posted_at);
    UpdateJson {
        id: entry.id.clone(),
        incident_id: entry.incident_id.clone(),
        status: entry.state.status,
        body: entry.message.to_string(),
        created_at: at,
        updated_at: at,
        display_at: at,
        affected_components: entry
            .components
            .iter()
            .map(|c| AffectedComponent {
                code: c.id.clone(),
                name: c.name.clone(),
                old_status: c.old_status,
                new_status: c.new_status,
            })
            .collect(),
        // Candor has no silent updates (DESIGN.md §1.4).
        deliver_notifications: true,
        custom_tweet: None,
        tweet_id: None,
        candor: UpdateCandor {
            classes: entry.classes.clone(),
            cause: entry.state.cause.as_ref().map(ToString::to_string),
            eta: millis(entry.state.eta),
            next_update_at: millis(entry.state.next_update_at),
            corrects: entry.corrects.clone(),
            system: entry.system,
        },
    }
}

/// Unresolved incidents (not maintenances), newest first.
async fn open_incidents(state: &AppState) -> ApiResult<Vec<IncidentRecord>> {
    let mut open = state.store.open_incident_records().await?;
    open.retain(|r| r.incident.kind == Kind::Incident);
    Ok(open)
}

/// The most recent incidents of any state, for `page.updated_at`.
async fn recent_incidents(state: &AppState) -> ApiResult<Vec<Incident>> {
    Ok(state.store.list_incidents(&recent_filter()).await?)
}

fn recent_filter() -> IncidentFilter {
    IncidentFilter {
        state: None,
        kind: Some(Kind::Incident),
        before: None,
        limit: RECENT,
    }
}

#[derive(Serialize)]
struct Summary {
    page: Page,
    components: Vec<ComponentJson>,
    incidents: Vec<IncidentJson>,
    scheduled_maintenances: Vec<IncidentJson>,
    status: StatusJson,
}

/// JSON tells of open incidents `overdue` and `eta_passed`: true until the
/// first of them flips.
fn until<'i>(incidents: impl IntoIterator<Item = &'i Incident>, now: Timestamp) -> Until {
    incidents
        .into_iter()
        .fold(Until::default(), |until, i| until.facts(i, now))
}

async fn summary(State(state): State<AppState>) -> ApiResult<(Until, Json<Summary>)> {
    let components = state.store.list_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        until(open.iter().map(|r| &r.incident), ctx.now),
        Json(Summary {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            components: ctx.components(),
            incidents: open.iter().map(|r| ctx.incident(r)).collect(),
            scheduled_maintenances: Vec::new(),
            status: ctx.status(open.iter().map(|r| &r.incident)),
        }),
    ))
}

#[derive(Serialize)]
struct StatusOnly {
    page: Page,
    status: StatusJson,
}

async fn status(State(state): State<AppState>) -> ApiResult<(Until, Json<StatusOnly>)> {
    let components = state.store.list_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        Until::default(),
        Json(StatusOnly {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            status: ctx.status(open.iter().map(|r| &r.incident)),
        }),
    ))
}

#[derive(Serialize)]
struct ComponentsOnly {
    page: Page,
    components: Vec<ComponentJson>,
}

async fn components(State(state): State<AppState>) -> ApiResult<(Until, Json<ComponentsOnly>)> {
    let components = state.store.list_components().await?;
    let recent = recent_incidents(&state).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        Until::default(),
        Json(ComponentsOnly {
            page: ctx.page(&recent),
            components: ctx.components(),
        }),
    ))
}

#[derive(Serialize)]
struct IncidentsOnly {
    page: Page,
    incidents: Vec<IncidentJson>,
}

async fn incidents(State(state): State<AppState>) -> ApiResult<(Until, Json<IncidentsOnly>)> {
    let components = state.store.list_components().await?;
    let records = state.store.incident_records(&recent_filter()).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        until(records.iter().map(|r| &r.incident), ctx.now),
        Json(IncidentsOnly {
            page: ctx.page(records.iter().map(|r| &r.incident)),
            incidents: records.iter().map(|r| ctx.incident(r)).collect(),
        }),
    ))
}

async fn unresolved(State(state): State<AppState>) -> ApiResult<(Until, Json<IncidentsOnly>)> {
    let components = state.store.list_components().await?;
    let open = open_incidents(&state).await?;
    let recent = recent_incidents(&state).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        until(open.iter().map(|r| &r.incident), ctx.now),
        Json(IncidentsOnly {
            page: ctx.page(recent.iter().chain(open.iter().map(|r| &r.incident))),
            incidents: open.iter().map(|r| ctx.incident(r)).collect(),
        }),
    ))
}

#[derive(Serialize)]
struct MaintenancesOnly {
    page: Page,
    scheduled_maintenances: Vec<IncidentJson>,
}

/// Candor has no scheduled maintenances yet: every list is empty.
async fn maintenances(State(state): State<AppState>) -> ApiResult<(Until, Json<MaintenancesOnly>)> {
    let components = state.store.list_components().await?;
    let recent = recent_incidents(&state).await?;
    let ctx = Ctx::new(&state, &components);
    Ok((
        Until::default(),
        Json(MaintenancesOnly {
            page: ctx.page(&recent),
            scheduled_maintenances: Vec::new(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds_and_z() {
        let at: Timestamp = "2025-03-04T10:21:07.123456Z".parse().unwrap();
        assert_eq!(Millis(at).to_string(), "2025-03-04T10:21:07.123Z");
        let at: Timestamp = "2025-03-04T11:21:07+01:00".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&Millis(at)).unwrap(),
            "\"2025-03-04T10:21:07.000Z\""
        );
    }

    #[test]
    fn page_ids_are_slugs() {
        assert_eq!(page_id("Acme IT"), "acme-it");
        assert_eq!(page_id("  Ünïcode -- Status! "), "ünïcode-status");
        assert_eq!(page_id("Status"), "status");
        assert_eq!(page_id("—"), "candor");
    }
}
