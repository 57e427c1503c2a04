//! Storage: business operations, each owning its transaction, implemented
//! for SQLite and PostgreSQL. All SQL of Candor lives here.
//!
//! One file per business area holds its part of the `Store` trait and its
//! SQL, written once for any backend against `query::Conn`: `tokens`,
//! `components`, `incidents` and `entries`, `subscribers`, `fanout` and
//! `deliveries`, `reminders` (owners' mail in the outbox), `jobs`,
//! `idempotency`, `reports`, `reader_reports` (readers' "I'm affected"),
//! `meta` (the database itself), `staff` (console users and sessions). `audit` ends
//! every write; `stored` says how values sit in columns; `repair` reads
//! what older versions wrote. `sqlite` and
//! `postgres` hold only what differs: connecting, how a write transaction
//! begins, and hearing of other instances' writes (`backend::Backend`).

mod alerts;
mod audit;
mod backend;
mod components;
mod deliveries;
mod entries;
mod fanout;
mod idempotency;
mod incidents;
mod jobs;
mod meta;
mod metrics;
mod pool;
mod postgres;
mod query;
mod reader_reports;
mod reminders;
mod repair;
mod reports;
pub mod schema;
mod sqlite;
mod staff;
mod stored;
mod subscriber_import;
mod subscribers;
mod tokens;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;

use crate::domain::promises::OwnerReminder;
use crate::domain::{
    subscriber::SubscriberState, ComponentId, ComponentStatus, DeliveryId, DomainError, Entry,
    EntryId, Incident, IncidentId, Kind, SubscriberId,
};

pub use crate::domain::component::ComponentEdit;
/// The store fills the read model the views render; it is the domain's.
pub use crate::domain::IncidentRecord;
pub use alerts::AlertStore;
pub use audit::{AuditEntry, AuditStore};
pub use components::ComponentStore;
pub use deliveries::DeliveryStore;
pub use idempotency::IdempotencyStore;
pub use incidents::{Draft, IncidentStore};
pub use jobs::JobStore;
pub use meta::MetaStore;
pub use metrics::MetricsStore;
pub use postgres::PgStore;
pub use reader_reports::{ReaderReport, ReaderReportStore, ReportCounts};
pub use reports::ReportStore;
pub use sqlite::SqliteStore;
pub use staff::{NewSession, Session, StaffStore};
pub use subscribers::{SubscriberFilter, SubscriberStore};
pub use tokens::{TokenHolder, TokenInfo, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The database cannot be reached just now (no connection within the
    /// pool's acquire timeout, a closed pool, a lost connection): nothing
    /// the request did wrong, and worth trying again shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database: {0}")]
    Other(#[from] anyhow::Error),
}

/// PostgreSQL's SQLSTATE classes that mean "the server or the connection is
/// going away", not "this statement is wrong": 08 connection exception,
/// 57P operator intervention (shutdown, restart, too many connections is 53).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code == "53300"
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_string())
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(err.to_string()),
            sqlx::Error::Database(db) if db.code().is_some_and(|c| is_unavailable_code(&c)) => {
                StoreError::Unavailable(db.message().to_string())
            }
            _ => StoreError::Other(err.into()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Other(err.into())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        StoreError::Other(err.into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who did a write, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub ip: Option<String>,
}

/// What the store knows that a domain command needs, read inside the
/// command's transaction.
pub struct Snapshot {
    pub components: BTreeMap<ComponentId, (String, ComponentStatus)>,
    pub entry_ids: BTreeSet<EntryId>,
    /// Per component, the worst status the other open incidents give it.
    pub held_elsewhere: BTreeMap<ComponentId, ComponentStatus>,
}

impl Snapshot {
    /// The domain's context for a write, from what this snapshot read.
    pub fn context<'a>(
        &'a self,
        write: &'a crate::domain::incident::Write,
    ) -> crate::domain::incident::Context<'a> {
        write.context(&self.components, &self.entry_ids, &self.held_elsewhere)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentState {
    Open,
    Resolved,
}

#[derive(Debug, Clone)]
pub struct IncidentFilter {
    pub state: Option<IncidentState>,
    pub kind: Option<Kind>,
    /// Only incidents older than this (created_at, id) position.
    pub before: Option<(Timestamp, IncidentId)>,
    pub limit: i64,
}

/// The first response to a POST with an Idempotency-Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First time: go ahead, then call `idempotency_finish`.
    New,
    /// Seen with the same body: here is the stored response.
    Done { status: u16, body: String },
    /// Seen, and its first request is still running.
    InProgress,
    /// Seen with a different body.
    Mismatch,
    /// Seen, its first request was abandoned (a crash) after its write
    /// committed: what the write did (`action`, `target`, `detail` as in
    /// the audit log).
    Committed {
        action: String,
        target: String,
        detail: serde_json::Value,
    },
}

/// How long a key is kept: a retry within this time gets the first answer;
/// after it, the key may be used for a new request.
pub const IDEMPOTENCY_KEY_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// A key whose first request has run this long without an answer was
/// abandoned (the process died): a retry runs again, or learns what the
/// committed write did. Longer than any request may run.
pub const IDEMPOTENCY_ABANDONED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// The Idempotency-Key of the request being served, for the write it
/// protects to record itself in its own transaction.
#[derive(Debug, Clone)]
pub struct IdempotencyScope {
    pub actor: String,
    pub key: String,
}

tokio::task_local! {
    pub static IDEMPOTENCY: IdempotencyScope;
}

/// What a public subscribe request led to. The page says the same in every
/// case, so nobody learns whether an address is subscribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// A confirmation mail was queued.
    ConfirmationQueued,
    /// Already confirmed: nothing sent.
    AlreadyConfirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    Entry,
    Confirmation,
    /// A mail to staff: an owner reminder, written when it is sent (rows
    /// of an older Candor hold the words written when queued).
    Reminder,
    /// A component's status changed by staff, outside any incident.
    Component,
}

/// What a component delivery tells: one status change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ComponentNotice {
    pub component_id: ComponentId,
    pub name: String,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
    pub at: Timestamp,
    /// Why, when staff said (older rows have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A delivery the worker has leased, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: DeliveryId,
    /// Tries so far, this one included.
    pub attempts: i64,
    pub what: Claimed,
}

/// What a claimed delivery is, by kind.
#[derive(Debug, Clone)]
pub enum Claimed {
    /// A mail to a subscriber.
    Mail { recipient: Recipient, news: News },
    /// A call of a subscriber's webhook.
    Webhook { recipient: Recipient, news: News },
    /// A mail to a member of staff (an owner reminder).
    Staff { to: String, mail: StaffMessage },
    /// What it needs is gone (its subscriber, its content): it is given up
    /// with this reason.
    Unsendable(&'static str),
}

/// What a subscriber is told.
#[derive(Debug, Clone)]
pub enum News {
    /// An entry, shared by every delivery of it in the batch.
    Entry(Arc<Entry>),
    /// The confirmation link, valid from when it was made.
    Confirmation { link_made_at: Timestamp },
    /// A component's status changed by staff.
    Component(ComponentNotice),
}

/// The subscriber a delivery goes to, as the claim found them.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub subscriber_id: SubscriberId,
    pub address: String,
    pub state: SubscriberState,
    /// What a webhook subscriber's deliveries are signed with.
    pub secret: Option<String>,
    /// A quarantined webhook: nothing is tried until staff re-enable it.
    pub quarantined_at: Option<Timestamp>,
}

/// Delivery counts of one entry, for staff.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EntryDeliveries {
    pub entry_id: EntryId,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub dead: i64,
    pub failures: Vec<DeliveryFailure>,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryFailure {
    pub delivery_id: DeliveryId,
    pub subscriber_id: SubscriberId,
    pub address: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    /// A quarantined webhook subscriber: since when every try failed, and
    /// when Candor stopped trying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantined_at: Option<Timestamp>,
}

/// One change of a component's public status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub component_id: ComponentId,
    pub at: Timestamp,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
    /// `incident`, `maintenance` or `manual`.
    pub cause_kind: String,
    pub cause_id: Option<IncidentId>,
}

/// What a mail to staff says, as its claim read it.
#[derive(Debug, Clone)]
pub enum StaffMessage {
    /// A reminder to an incident's owner, with the incident as the claim
    /// found it, written when it is sent; its times read as they did when
    /// Candor decided to remind (`decided_at`).
    Reminder {
        incident: Box<Incident>,
        reminder: OwnerReminder,
        decided_at: Timestamp,
    },
    /// Words an older Candor wrote when it queued the mail.
    Written { subject: String, text: String },
    /// Readers report a component the page shows as working
    /// (`reader_report`), as of `decided_at`.
    ReadersAffected {
        report: crate::domain::reader_report::ReadersAffected,
        decided_at: Timestamp,
    },
}

/// Timed work that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: crate::domain::incident::Promise,
    pub incident_id: IncidentId,
    /// The promised time the job is about.
    pub ref_at: Timestamp,
    pub due_at: Timestamp,
}

/// "Still affected" reports on one incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AffectedReports {
    pub total: i64,
    /// Reports newer than the incident's latest entry: nobody answered yet.
    pub unanswered: i64,
}

/// Every business operation of the store, by area; each owns its
/// transaction. Implemented once for any `backend::Backend` (the files
/// named after the areas), held as `Arc<dyn Store>`.
pub trait Store:
    MetaStore
    + TokenStore
    + ComponentStore
    + IncidentStore
    + SubscriberStore
    + DeliveryStore
    + ReportStore
    + ReaderReportStore
    + JobStore
    + IdempotencyStore
    + MetricsStore
    + StaffStore
    + AuditStore
    + AlertStore
    + 'static
{
}

impl<T> Store for T where
    T: MetaStore
        + TokenStore
        + ComponentStore
        + IncidentStore
        + SubscriberStore
        + DeliveryStore
        + ReportStore
        + ReaderReportStore
        + JobStore
        + IdempotencyStore
        + MetricsStore
        + StaffStore
        + AuditStore
        + AlertStore
        + 'static
{
}

/// Connects to the database the URL names and brings its schema up to date.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Other(anyhow::anyhow!(
            "database_url must start with sqlite: or postgres://"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// An unreachable database is a 503 to try again, not a 500 bug.
    #[test]
    fn a_database_that_does_not_answer_is_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(
                matches!(StoreError::from(err), StoreError::Unavailable(_)),
                "unavailable"
            );
        }
        assert!(super::is_unavailable_code("08006"));
        assert!(super::is_unavailable_code("57P01"));
        assert!(!super::is_unavailable_code("23505"));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::ColumnNotFound("x".into())),
            StoreError::Other(_)
        ));
    }

    /// Timeline entries are append-only: no statement in the store may change
    /// or delete an entry row.
    #[test]
    fn no_query_changes_an_entry() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
        for file in std::fs::read_dir(dir).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap().to_lowercase();
            let squashed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
            for forbidden in [
                "update entries",
                "delete from entries",
                "replace into entries",
            ] {
                assert!(
                    !squashed.contains(forbidden) || path.ends_with("mod.rs"),
                    "{} contains `{forbidden}`",
                    path.display()
                );
            }
        }
    }
}
