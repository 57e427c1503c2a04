//! The Statuspage v2 JSON shapes (shared/reference/statuspage-v2.md), for
//! the public `/api/v2/` answers and for webhooks. Candor's own facts
//! (owner, cause, ETA and its history, the promised next update) ride along
//! in a `candor` object that Statuspage clients ignore.

use jiff::{tz::TimeZone, Timestamp};
use serde::{Serialize, Serializer};

use crate::domain::{
    component::Component, facts::Overall, ComponentId, ComponentStatus, Entry, EntryClass, EntryId,
    Incident, IncidentId, IncidentRecord, IncidentStatus,
};

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

pub fn millis(at: Option<Timestamp>) -> Option<Millis> {
    at.map(Millis)
}

#[derive(Serialize)]
pub struct Page {
    pub id: String,
    pub name: String,
    pub url: String,
    pub time_zone: String,
    pub updated_at: Millis,
}

#[derive(Serialize)]
pub struct StatusJson {
    pub indicator: &'static str,
    pub description: &'static str,
}

#[derive(Serialize)]
pub struct ComponentJson {
    pub id: ComponentId,
    pub name: String,
    pub status: ComponentStatus,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub position: i64,
    pub description: Option<String>,
    pub showcase: bool,
    pub start_date: String,
    pub group_id: Option<ComponentId>,
    pub page_id: String,
    pub group: bool,
    pub only_show_if_degraded: bool,
    /// Only on a group: its members' ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentId>>,
}

#[derive(Serialize)]
pub struct IncidentJson {
    pub id: IncidentId,
    pub name: String,
    pub status: IncidentStatus,
    /// An incident's impact, or `maintenance`.
    pub impact: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<Millis>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub monitoring_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub started_at: Millis,
    pub shortlink: String,
    pub page_id: String,
    pub incident_updates: Vec<UpdateJson>,
    pub components: Vec<IncidentComponent>,
    pub candor: IncidentCandor,
}

#[derive(Serialize)]
pub struct IncidentComponent {
    pub id: ComponentId,
    pub name: String,
    pub status: ComponentStatus,
}

#[derive(Serialize)]
pub struct IncidentCandor {
    pub owner: String,
    pub cause: Option<String>,
    pub eta: Option<Millis>,
    /// Every ETA that was set, oldest first.
    pub eta_history: Vec<Millis>,
    pub next_update_at: Option<Millis>,
    pub overdue: bool,
    pub eta_passed: bool,
}

#[derive(Serialize)]
pub struct UpdateJson {
    pub id: EntryId,
    pub incident_id: IncidentId,
    pub status: IncidentStatus,
    pub body: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub display_at: Millis,
    pub affected_components: Vec<AffectedComponent>,
    pub deliver_notifications: bool,
    pub custom_tweet: Option<String>,
    pub tweet_id: Option<String>,
    pub candor: UpdateCandor,
}

#[derive(Serialize)]
pub struct AffectedComponent {
    pub code: ComponentId,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Serialize)]
pub struct UpdateCandor {
    pub classes: Vec<EntryClass>,
    pub cause: Option<String>,
    pub eta: Option<Millis>,
    pub next_update_at: Option<Millis>,
    pub corrects: Option<EntryId>,
    pub system: bool,
}

/// What every answer is built from: the page's identity and the clock.
pub struct Ctx<'a> {
    pub page_name: &'a str,
    /// Without a trailing slash.
    pub base_url: &'a str,
    pub tz: &'a TimeZone,
    /// The configured zone's name, for a zone that has no IANA name.
    pub time_zone: &'a str,
    pub page_id: String,
    pub components: &'a [Component],
    pub now: Timestamp,
}

/// A stable page id: the page name as a slug ("Acme IT" → "acme-it").
pub fn page_id(name: &str) -> String {
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
    pub fn new(
        page_name: &'a str,
        base_url: &'a str,
        tz: &'a TimeZone,
        time_zone: &'a str,
        components: &'a [Component],
        now: Timestamp,
    ) -> Self {
        Self {
            page_name,
            base_url,
            tz,
            time_zone,
            page_id: page_id(page_name),
            components,
            now,
        }
    }

    /// `updated_at` is the newest change among the components and incidents.
    pub fn page<'i>(&self, incidents: impl IntoIterator<Item = &'i Incident>) -> Page {
        let newest = self
            .components
            .iter()
            .map(|c| c.updated_at)
            .chain(incidents.into_iter().map(|i| i.updated_at))
            .max()
            .unwrap_or(self.now);
        Page {
            id: self.page_id.clone(),
            name: self.page_name.to_string(),
            url: self.base_url.to_string(),
            time_zone: self.tz.iana_name().unwrap_or(self.time_zone).to_string(),
            updated_at: Millis(newest),
        }
    }

    pub fn status<'i>(&self, open: impl IntoIterator<Item = &'i Incident>) -> StatusJson {
        let overall = Overall::of(
            open.into_iter().map(|i| i.state.impact),
            self.components.iter().map(|c| c.status),
        );
        StatusJson {
            indicator: overall.indicator(),
            description: overall.description(),
        }
    }

    /// Every component once, in Statuspage's shape: groups one level deep
    /// (stored data that nests deeper shows under its top-most group).
    pub fn components(&self) -> Vec<ComponentJson> {
        let mut group_of: std::collections::HashMap<&ComponentId, &ComponentId> =
            Default::default();
        let mut members_of: std::collections::HashMap<&ComponentId, Vec<ComponentId>> =
            Default::default();
        for (top, members) in crate::domain::component::grouped(self.components) {
            for member in members {
                group_of.insert(&member.id, &top.id);
                members_of
                    .entry(&top.id)
                    .or_default()
                    .push(member.id.clone());
            }
        }
        self.components
            .iter()
            .map(|c| {
                let members = members_of.remove(&c.id).unwrap_or_default();
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
                    start_date: c.created_at.to_zoned(self.tz.clone()).date().to_string(),
                    group_id: group_of.get(&c.id).map(|&g| g.clone()),
                    page_id: self.page_id.clone(),
                    group,
                    only_show_if_degraded: false,
                    components: group.then_some(members),
                }
            })
            .collect()
    }

    pub fn component_name(&self, id: &ComponentId) -> String {
        self.components
            .iter()
            .find(|c| &c.id == id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    pub fn incident(&self, record: &IncidentRecord) -> IncidentJson {
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
            // Statuspage has no cancelled maintenance: it is over.
            status: match state.status {
                IncidentStatus::Cancelled => IncidentStatus::Completed,
                status => status,
            },
            impact: match state.schedule {
                Some(_) => "maintenance",
                None => state.impact.as_str(),
            },
            scheduled_for: state.schedule.as_ref().map(|p| Millis(p.scheduled_for)),
            scheduled_until: state.schedule.as_ref().map(|p| Millis(p.scheduled_until)),
            created_at: Millis(incident.created_at),
            updated_at: Millis(incident.updated_at),
            monitoring_at,
            resolved_at: millis(state.resolved_at),
            started_at: Millis(state.started_at),
            shortlink: format!("{}/incidents/{}", self.base_url, incident.id),
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

pub fn update(entry: &Entry) -> UpdateJson {
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
