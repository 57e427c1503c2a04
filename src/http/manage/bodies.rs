//! Request bodies as Statuspage wraps them (`{"incident": {…}}`), and
//! `metadata.candor`, where a script gives what Statuspage has no field for.
//! Fields Statuspage has and Candor's rules forbid are read so that they
//! can be refused (DESIGN.md §1 rule 10), never read and dropped.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::domain::{
    Cause, ComponentId, ComponentStatus, Email, Impact, IncidentStatus, Message, Owner, Title,
    WebhookUrl,
};
use crate::http::error::ApiError;

#[derive(Deserialize)]
pub struct ComponentEnvelope {
    pub component: ComponentBody,
}

#[derive(Deserialize)]
pub struct ComponentBody {
    pub name: Option<Title>,
    pub description: Option<crate::domain::Description>,
    pub status: Option<ComponentStatus>,
    pub group_id: Option<ComponentId>,
    pub showcase: Option<bool>,
    pub only_show_if_degraded: Option<bool>,
    pub position: Option<i64>,
}

impl ComponentBody {
    /// Candor shows every component, always: a hidden one is refused.
    pub fn refuse_hiding(&self) -> Result<(), ApiError> {
        if self.showcase == Some(false) {
            return Err(ApiError::invalid(
                "component.showcase",
                "Candor shows every component on the page; there is no hidden one",
            ));
        }
        if self.only_show_if_degraded == Some(true) {
            return Err(ApiError::invalid(
                "component.only_show_if_degraded",
                "Candor shows every component, working or not",
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
pub struct IncidentEnvelope {
    pub incident: IncidentBody,
}

#[derive(Deserialize)]
pub struct IncidentBody {
    pub name: Option<Title>,
    pub status: Option<IncidentStatus>,
    pub impact_override: Option<Impact>,
    pub body: Option<Message>,
    pub component_ids: Option<Vec<ComponentId>>,
    pub components: Option<BTreeMap<ComponentId, ComponentStatus>>,
    pub metadata: Option<BTreeMap<String, serde_json::Value>>,
    pub deliver_notifications: Option<bool>,
    pub backfilled: Option<bool>,
    pub scheduled_for: Option<Timestamp>,
    pub scheduled_until: Option<Timestamp>,
    pub scheduled_remind_prior: Option<bool>,
    pub scheduled_auto_in_progress: Option<bool>,
    pub scheduled_auto_completed: Option<bool>,
}

/// Statuspage's quiet paths, refused plainly.
pub fn refuse_quiet(deliver_notifications: Option<bool>, field: &str) -> Result<(), ApiError> {
    if deliver_notifications == Some(false) {
        return Err(ApiError::invalid(
            field,
            "Candor notifies subscribers of every change; there is no quiet update",
        ));
    }
    Ok(())
}

impl IncidentBody {
    pub fn refusals(&self) -> Result<(), ApiError> {
        refuse_quiet(self.deliver_notifications, "incident.deliver_notifications")?;
        if self.backfilled == Some(true) {
            return Err(ApiError::invalid(
                "incident.backfilled",
                "Candor posts incidents as they happen, with their subscribers told; \
                 there is no backfilled, unannounced one",
            ));
        }
        if self.scheduled_auto_in_progress == Some(false) {
            return Err(ApiError::invalid(
                "incident.scheduled_auto_in_progress",
                "Candor starts a maintenance at its scheduled time and says so; \
                 it does not wait for someone to start it",
            ));
        }
        Ok(())
    }

    /// `metadata.candor`, read; any other namespace is refused, since
    /// Candor keeps no metadata and a script reading it back would find
    /// nothing.
    pub fn candor(&self) -> Result<CandorMeta, ApiError> {
        let Some(metadata) = &self.metadata else {
            return Ok(CandorMeta::default());
        };
        if let Some(other) = metadata.keys().find(|k| k.as_str() != "candor") {
            return Err(ApiError::invalid(
                format!("incident.metadata.{other}"),
                "Candor keeps no metadata; it reads only `metadata.candor` \
                 (owner, next_update_in, cause, eta)",
            ));
        }
        match metadata.get("candor") {
            None => Ok(CandorMeta::default()),
            Some(value) => serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                ApiError::invalid(
                    format!("incident.metadata.candor.{}", e.path()),
                    e.inner().to_string(),
                )
            }),
        }
    }

    /// The affected components: `components` gives statuses; an id only in
    /// `component_ids` keeps the status it has (`current`).
    pub fn affected(
        &self,
        current: impl Fn(&ComponentId) -> Option<ComponentStatus>,
    ) -> Result<BTreeMap<ComponentId, ComponentStatus>, ApiError> {
        let mut map = self.components.clone().unwrap_or_default();
        for id in self.component_ids.iter().flatten() {
            if map.contains_key(id) {
                continue;
            }
            let status = current(id).ok_or_else(|| {
                ApiError::invalid(
                    "incident.component_ids",
                    format!("there is no component with id `{id}`"),
                )
            })?;
            map.insert(id.clone(), status);
        }
        Ok(map)
    }
}

/// What a script may tell Candor beyond Statuspage's fields.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CandorMeta {
    pub owner: Option<OwnerField>,
    pub next_update_in: Option<Minutes>,
    pub cause: Option<Cause>,
    pub eta: Option<Timestamp>,
}

/// `"Dana (IT Ops) <dana@acme.test>"` or `{"name": …, "email": …}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OwnerField {
    Object(Owner),
    Text(String),
}

impl OwnerField {
    pub fn owner(self) -> Result<Owner, ApiError> {
        match self {
            Self::Object(owner) => Ok(owner),
            Self::Text(text) => Owner::parse_mailbox(&text)
                .map_err(|e| ApiError::invalid("incident.metadata.candor.owner", e.message)),
        }
    }
}

/// Minutes as a number, or a duration: `45`, `"45m"`, `"2h"`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Minutes {
    Number(i64),
    Text(String),
}

impl Minutes {
    pub fn minutes(&self) -> Result<i64, ApiError> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Text(text) => crate::config::parse_duration(text)
                .map(|d| (d.as_secs() / 60) as i64)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "incident.metadata.candor.next_update_in",
                        format!("`{text}` is not minutes or a duration like 30m or 2h"),
                    )
                }),
        }
    }
}

#[derive(Deserialize)]
pub struct SubscriberEnvelope {
    pub subscriber: SubscriberBody,
}

#[derive(Deserialize)]
pub struct SubscriberBody {
    pub email: Option<Email>,
    pub endpoint: Option<WebhookUrl>,
    pub phone_number: Option<String>,
    pub phone_country: Option<String>,
    #[serde(default)]
    pub component_ids: Vec<ComponentId>,
    #[serde(default)]
    pub skip_confirmation_notification: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> IncidentBody {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn candor_metadata_is_read_and_other_namespaces_refused() {
        let b = body(serde_json::json!({"metadata": {"candor": {
            "owner": "Dana <dana@acme.test>", "next_update_in": "45m"}}}));
        let meta = b.candor().ok().unwrap();
        assert_eq!(meta.next_update_in.unwrap().minutes().ok(), Some(45));
        assert_eq!(
            meta.owner.unwrap().owner().ok().unwrap().email.as_str(),
            "dana@acme.test"
        );
        let b = body(serde_json::json!({"metadata": {"jira": {"key": "OPS-1"}}}));
        assert!(b.candor().is_err());
        let b = body(serde_json::json!({"metadata": {"candor": {"colour": "red"}}}));
        assert!(b.candor().is_err());
    }
}
