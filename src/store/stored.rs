//! How values are kept in columns: times as UTC milliseconds, enums as
//! their snake_case text, an incident's state as JSON.

use serde::de::DeserializeOwned;

use super::{Result, StoreError};
use crate::domain::incident::EtaChange;
use crate::domain::IncidentState;

/// What the `incidents.state` column holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct StoredState {
    pub state: IncidentState,
    pub eta_history: Vec<EtaChange>,
}

/// The part of `incidents.state` a write to another incident reads.
#[derive(serde::Deserialize)]
pub(crate) struct StoredComponents {
    pub state: StoredComponentsOnly,
}

#[derive(serde::Deserialize)]
pub(crate) struct StoredComponentsOnly {
    pub components: std::collections::BTreeMap<String, crate::domain::ComponentStatus>,
}

/// Parses a snake_case enum stored as text.
pub(crate) fn parse_enum<T: DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|e| StoreError::Other(anyhow::anyhow!("stored value `{text}`: {e}")))
}

pub(crate) fn enum_text<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => panic!("not a unit enum: {other:?}"),
    }
}

pub(crate) fn ms(at: jiff::Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn from_ms(value: i64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(value).map_err(|e| StoreError::Other(e.into()))
}

pub(crate) fn from_opt_ms(value: Option<i64>) -> Result<Option<jiff::Timestamp>> {
    value.map(from_ms).transpose()
}
