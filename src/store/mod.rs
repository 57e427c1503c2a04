//! Storage: one trait of business operations, each owning its transaction,
//! implemented for SQLite and PostgreSQL. All SQL of Candor lives here.

mod pool;
mod postgres;
mod repair;
mod sql;
mod sqlite;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::domain::{
    component::Component,
    subscriber::{Channel, Subscriber, SubscriberState},
    ComponentStatus, DomainError, Entry, Incident, Kind,
};

/// The store fills the read model the views render; it is the domain's.
pub use crate::domain::IncidentRecord;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

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
    pub components: BTreeMap<String, (String, ComponentStatus)>,
    pub entry_ids: BTreeSet<String>,
    /// Per component, the worst status the other open incidents give it.
    pub held_elsewhere: BTreeMap<String, ComponentStatus>,
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
    pub before: Option<(Timestamp, String)>,
    pub limit: i64,
}

/// A change of a component by staff.
#[derive(Debug, Clone, Default)]
pub struct ComponentEdit {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub group_id: Option<Option<String>>,
    pub position: Option<i64>,
    pub status: Option<ComponentStatus>,
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
    /// A mail to staff (an owner reminder), rendered when it was queued.
    Reminder,
    /// A component's status changed by staff, outside any incident.
    Component,
}

/// What a component delivery tells: one status change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ComponentNotice {
    pub component_id: String,
    pub name: String,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
    pub at: Timestamp,
}

/// A delivery the worker has leased, with what it needs to render it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub kind: DeliveryKind,
    pub attempts: i64,
    pub channel: Channel,
    /// `None` for mail to staff.
    pub recipient: Option<Recipient>,
    /// Where mail to staff goes, and what it says.
    pub staff_mail: Option<StaffMail>,
    pub component_notice: Option<ComponentNotice>,
    /// When the subscriber's confirmation link was made (confirmations).
    pub confirm_sent_at: Option<Timestamp>,
    /// Shared by every delivery of the entry in the batch.
    pub entry: Option<Arc<Entry>>,
}

/// The subscriber a delivery goes to, as the claim found them.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub subscriber_id: String,
    pub address: String,
    pub state: SubscriberState,
    /// What a webhook subscriber's deliveries are signed with.
    pub secret: Option<String>,
    /// A quarantined webhook: nothing is tried until staff re-enable it.
    pub quarantined_at: Option<Timestamp>,
}

/// Delivery counts of one entry, for staff.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EntryDeliveries {
    pub entry_id: String,
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
    pub dead: i64,
    pub failures: Vec<DeliveryFailure>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryFailure {
    pub delivery_id: i64,
    pub subscriber_id: String,
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
    pub component_id: String,
    pub at: Timestamp,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
    /// `incident`, `maintenance` or `manual`.
    pub cause_kind: String,
    pub cause_id: Option<String>,
}

/// A mail to a member of staff, written when it is queued.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StaffMail {
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// Timed work that came due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: crate::domain::incident::Promise,
    pub incident_id: String,
    /// The promised time the job is about.
    pub ref_at: Timestamp,
    pub due_at: Timestamp,
}

/// What running a job does, all in one transaction.
#[derive(Debug, Default)]
pub struct JobEffects {
    pub entry: Option<(Incident, Entry)>,
    pub reminder: Option<StaffMail>,
    /// Further work: (kind, promised time, due time).
    pub then: Option<(crate::domain::incident::Promise, Timestamp, Timestamp)>,
}

pub type JobFn<'a> =
    dyn Fn(&Incident, &Snapshot) -> std::result::Result<JobEffects, DomainError> + Send + Sync + 'a;

/// "Still affected" reports on one incident.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AffectedReports {
    pub total: i64,
    /// Reports newer than the incident's latest entry: nobody answered yet.
    pub unanswered: i64,
}

pub type StaffMailFn<'a> = dyn Fn(&Incident, i64) -> StaffMail + Send + Sync + 'a;

pub type SubscriberFn<'a> =
    dyn Fn(&mut Subscriber) -> std::result::Result<(), DomainError> + Send + Sync + 'a;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database answers.
    async fn ping(&self) -> Result<()>;
    /// Closes every connection; later calls fail.
    async fn close(&self);
    /// For tests: with `true`, SQLite refuses to grow its file from now on,
    /// as on a full disk ("database or disk is full"); `false` gives the
    /// space back. PostgreSQL ignores it.
    #[doc(hidden)]
    async fn simulate_full_disk(&self, full: bool) -> Result<()>;
    async fn page_version(&self) -> Result<i64>;
    /// Calls `on_change` each time a Candor process commits a write to the
    /// database, until the store is closed. PostgreSQL tells at
    /// once (LISTEN/NOTIFY); SQLite, for one process, returns at once and
    /// leaves it to `page_version`.
    async fn watch_changes(&self, on_change: Arc<dyn Fn() + Send + Sync>);

    async fn create_token(&self, id: &str, name: &str, hash: &str, now: Timestamp) -> Result<()>;
    async fn revoke_token(&self, name: &str, now: Timestamp) -> Result<()>;
    async fn active_token_count(&self) -> Result<i64>;
    /// The name of the active token with this hash, marking it used.
    async fn authenticate(&self, hash: &str, now: Timestamp) -> Result<Option<String>>;

    async fn create_component(&self, component: &Component, actor: &Actor) -> Result<()>;
    async fn list_components(&self) -> Result<Vec<Component>>;
    async fn get_component(&self, id: &str) -> Result<Component>;
    /// Every status change of every component since `since`, oldest first,
    /// plus, per component, the last change before `since` (its state then).
    async fn component_history(&self, since: Timestamp) -> Result<Vec<StatusChange>>;
    async fn edit_component(
        &self,
        id: &str,
        edit: &ComponentEdit,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Component>;

    /// Opens incident `id`: the domain decides (`Incident::open`) inside
    /// the write's transaction, on what that transaction read.
    async fn open_incident(
        &self,
        id: &str,
        command: &crate::domain::incident::OpenIncident,
        write: &crate::domain::incident::Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)>;
    /// Posts an update or a correction (`Incident::apply`), in one
    /// transaction with its entry, fan-out, jobs and audit row.
    async fn post_entry(
        &self,
        incident_id: &str,
        command: &crate::domain::incident::Command,
        write: &crate::domain::incident::Write,
        actor: &Actor,
    ) -> Result<(Incident, Entry)>;
    async fn get_incident(&self, id: &str) -> Result<IncidentRecord>;
    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>>;
    /// Open incidents with their timelines, newest first.
    async fn open_incident_records(&self) -> Result<Vec<IncidentRecord>>;
    /// The incidents the filter selects, each with its timeline, newest first.
    async fn incident_records(&self, filter: &IncidentFilter) -> Result<Vec<IncidentRecord>>;

    /// The key that signs links in mails; made on first use.
    async fn signing_key(&self) -> Result<Vec<u8>>;

    /// A subscription from the public form: new or pending addresses get a
    /// (new) confirmation mail queued; confirmed ones get nothing.
    async fn subscribe(&self, subscriber: &Subscriber, now: Timestamp) -> Result<SubscribeOutcome>;
    /// A subscriber added by staff; a conflict when the address exists.
    /// Adds a subscriber as staff; `secret` signs a webhook's deliveries.
    async fn add_subscriber(
        &self,
        subscriber: &Subscriber,
        secret: Option<&str>,
        actor: &Actor,
    ) -> Result<()>;
    async fn get_subscriber(&self, id: &str) -> Result<Subscriber>;
    async fn list_subscribers(&self, after: Option<&str>, limit: i64) -> Result<Vec<Subscriber>>;
    /// Changes a subscriber through a domain rule, in one transaction.
    async fn change_subscriber(
        &self,
        id: &str,
        actor: &Actor,
        now: Timestamp,
        change: &SubscriberFn<'_>,
    ) -> Result<Subscriber>;

    /// Leases up to `limit` due deliveries until `lease_until`.
    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>>;
    async fn mark_sent(&self, ids: &[i64], now: Timestamp) -> Result<()>;
    /// A failed attempt: retried at `retry_at`, or dead when `None`.
    async fn mark_failed(&self, id: i64, error: &str, retry_at: Option<Timestamp>) -> Result<()>;
    /// Gives back leased deliveries unsent, due at `until`: they wait behind
    /// an earlier mail to the same address that failed (not an attempt).
    async fn hold_back(&self, ids: &[i64], until: Timestamp) -> Result<()>;
    async fn incident_deliveries(&self, incident_id: &str) -> Result<Vec<EntryDeliveries>>;
    /// A webhook delivery went through: sent, and its subscriber's record
    /// of failures is cleared.
    async fn webhook_sent(&self, id: i64, subscriber_id: &str, now: Timestamp) -> Result<()>;
    /// A webhook delivery failed: retried at `retry_at` or dead when `None`,
    /// and counted against its subscriber. Once every try has failed for
    /// `quarantine_after`, the subscriber is quarantined and its open
    /// deliveries are given up (dead). Returns when it was quarantined, if
    /// it is.
    async fn webhook_failed(
        &self,
        id: i64,
        subscriber_id: &str,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
        quarantine_after: jiff::SignedDuration,
    ) -> Result<Option<Timestamp>>;

    /// Records a subscriber's "still affected" report, once; on the first
    /// report of this subscriber the owner is mailed (`mail` gets the count).
    /// `false` when this subscriber had reported already.
    async fn report_still_affected(
        &self,
        incident_id: &str,
        subscriber_id: &str,
        now: Timestamp,
        mail: &StaffMailFn<'_>,
    ) -> Result<bool>;
    async fn affected_reports(&self, incident_id: &str) -> Result<AffectedReports>;
    /// Incidents with unanswered reports, with their counts.
    async fn unanswered_reports(&self) -> Result<Vec<(String, AffectedReports)>>;
    /// Resolved incidents whose follow-up is owed, oldest due first.
    async fn owed_follow_ups(&self) -> Result<Vec<Incident>>;

    /// Leases due jobs until `lease_until`.
    async fn claim_jobs(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
    ) -> Result<Vec<Job>>;
    /// Runs a job once: its effects and its completion commit together.
    /// `false` when another process completed it first.
    async fn run_job(&self, job: &Job, now: Timestamp, run: &JobFn<'_>) -> Result<bool>;
    /// The earliest due time of work not done yet.
    async fn next_job_due(&self) -> Result<Option<Timestamp>>;

    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<IdempotencyBegin>;
    async fn idempotency_finish(
        &self,
        actor: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()>;
    /// Forgets a key whose request failed, so that a retry runs again.
    async fn idempotency_abandon(&self, actor: &str, key: &str) -> Result<()>;
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

pub(crate) fn ms(at: Timestamp) -> i64 {
    at.as_millisecond()
}

pub(crate) fn from_ms(value: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(value).map_err(|e| StoreError::Other(e.into()))
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
