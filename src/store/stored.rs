//! How values are kept in columns: times as UTC milliseconds, enums as
//! their snake_case text, ids as their text, an incident's state as JSON.

use serde::de::DeserializeOwned;

use super::{Result, StoreError};
use crate::domain::incident::EtaChange;
use crate::domain::{ComponentId, DeliveryId, EntryId, IncidentId, IncidentState, SubscriberId};

/// Ids are read from TEXT columns as `String` is, on either backend, so that
/// row structs hold the domain's id types. (They are bound through
/// `query::Value`, as text.)
macro_rules! text_id_column {
    ($($id:ty),*) => {$(
        impl<DB: sqlx::Database> sqlx::Type<DB> for $id
        where
            String: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <String as sqlx::Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <String as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $id
        where
            String: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
                Ok(<$id>::new(<String as sqlx::Decode<'r, DB>>::decode(value)?))
            }
        }
    )*};
}

text_id_column!(IncidentId, EntryId, ComponentId, SubscriberId);

/// A delivery's id is read from its INTEGER (BIGINT) column as `i64` is.
impl<DB: sqlx::Database> sqlx::Type<DB> for DeliveryId
where
    i64: sqlx::Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as sqlx::Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as sqlx::Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for DeliveryId
where
    i64: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> std::result::Result<Self, sqlx::error::BoxDynError> {
        Ok(DeliveryId::new(<i64 as sqlx::Decode<'r, DB>>::decode(
            value,
        )?))
    }
}

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
    pub components: std::collections::BTreeMap<ComponentId, crate::domain::ComponentStatus>,
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
