//! Pure domain: types whose constructors validate, the incident state machine,
//! classification of entries, and the wording of facts. No I/O, no clock
//! reads: time is passed in.

pub mod alerts;
pub mod classify;
pub mod component;
pub mod error;
pub mod facts;
pub mod ids;
pub mod incident;
pub mod maintenance;
pub mod metrics;
pub mod promises;
pub mod reader_report;
pub mod record;
pub mod staff;
pub mod subscriber;
pub mod subscriber_import;
pub mod text;
pub mod uptime;
pub mod when;

pub use classify::EntryClass;
pub use component::ComponentStatus;
pub use error::DomainError;
pub use ids::{ComponentId, DeliveryId, EntryId, IncidentId, SubscriberId};
pub use incident::{
    Command, Context, Entry, Impact, Incident, IncidentState, IncidentStatus, Kind, NextUpdate,
    OpenIncident, Patch, PostCorrection, PostUpdate,
};
pub use record::IncidentRecord;
pub use text::{Cause, Description, Email, Message, Owner, PersonName, Title, WebhookUrl};
