//! The end of every write: its audit row, the record of the idempotency
//! key that protects it, and the page version bump that tells the page
//! cache (and, on PostgreSQL, other instances) that something changed.

use super::query::{Conn, Sql};
use super::stored::ms;
use super::{Actor, Result, IDEMPOTENCY};

/// Who writes when Candor itself acts (scheduler, quarantine).
pub(crate) fn candor() -> Actor {
    Actor {
        name: "Candor".into(),
        ip: None,
    }
}

/// An actor with no person or token behind it (`public`, `cli`, `subscriber`).
pub(crate) fn anonymous(name: &str) -> Actor {
    Actor {
        name: name.into(),
        ip: None,
    }
}

/// The audit row alone, for a write no page shows (a console login).
pub(crate) async fn audit<C: Conn>(
    conn: &mut C,
    actor: &Actor,
    at: jiff::Timestamp,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<()> {
    conn.execute(
        Sql::new(
            "INSERT INTO audit_log (at, actor, ip, action, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(ms(at))
        .bind(&actor.name)
        .bind(&actor.ip)
        .bind(action)
        .bind(target)
        .bind(detail.to_string()),
    )
    .await?;
    Ok(())
}

pub(crate) async fn finish_write<C: Conn>(
    conn: &mut C,
    actor: &Actor,
    at: jiff::Timestamp,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> Result<()> {
    audit(conn, actor, at, action, target, &detail).await?;
    // The key that protects this write (if any) learns of it in this
    // transaction: committed together or not at all.
    if let Ok(scope) = IDEMPOTENCY.try_with(Clone::clone) {
        conn.execute(
            Sql::new(
                "UPDATE idempotency SET write_action = $1, write_target = $2, \
                 write_detail = $3 WHERE actor = $4 AND key = $5 AND write_action IS NULL",
            )
            .bind(action)
            .bind(target)
            .bind(detail.to_string())
            .bind(scope.actor)
            .bind(scope.key),
        )
        .await?;
    }
    conn.execute(Sql::new(
        "UPDATE meta SET value = value + 1 WHERE key = 'page_version'",
    ))
    .await?;
    conn.notify_change().await
}

/// One row of the audit log, as staff read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    pub detail: String,
}

#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// The newest `limit` rows of the audit log older than row `before`.
    async fn audit_log(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>>;
}

#[async_trait::async_trait]
impl<B: super::backend::Backend> AuditStore for B {
    async fn audit_log(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let mut conn = self.pool().acquire().await?;
        conn.fetch_all(
            Sql::new(
                "SELECT id, at, actor, ip, action, target, detail FROM audit_log \
                 WHERE id < $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit),
        )
        .await
    }
}
