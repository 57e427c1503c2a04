//! Idempotency keys: the first response to a POST, kept a day, and what
//! its write did if the process died before it could answer.

use async_trait::async_trait;

use super::backend::Backend;
use super::query::{Conn, Sql};
use super::stored::{from_ms, ms};
use super::{IdempotencyBegin, Result, IDEMPOTENCY_ABANDONED_AFTER, IDEMPOTENCY_KEY_LIFETIME};

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: jiff::Timestamp,
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

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_hash: String,
    status_code: Option<i64>,
    body: Option<String>,
    created_at: i64,
    write_action: Option<String>,
    write_target: Option<String>,
    write_detail: Option<String>,
}

#[async_trait]
impl<B: Backend> IdempotencyStore for B {
    #[tracing::instrument(skip_all)]
    async fn idempotency_begin(
        &self,
        actor: &str,
        key: &str,
        request_hash: &str,
        now: jiff::Timestamp,
    ) -> Result<IdempotencyBegin> {
        let mut conn = self.pool().acquire().await?;
        // Keys live a day; one whose first request was abandoned with
        // nothing written is released at once.
        conn.execute(
            Sql::new(
                "DELETE FROM idempotency WHERE actor = $1 AND key = $2 AND (created_at < $3 \
                 OR (status_code IS NULL AND write_action IS NULL AND created_at < $4))",
            )
            .bind(actor)
            .bind(key)
            .bind(ms(now - IDEMPOTENCY_KEY_LIFETIME))
            .bind(ms(now - IDEMPOTENCY_ABANDONED_AFTER)),
        )
        .await?;
        let inserted = conn
            .execute(
                Sql::new(
                    "INSERT INTO idempotency (actor, key, request_hash, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
                )
                .bind(actor)
                .bind(key)
                .bind(request_hash)
                .bind(ms(now)),
            )
            .await?;
        if inserted == 1 {
            return Ok(IdempotencyBegin::New);
        }
        let row: KeyRow = conn
            .fetch_one(
                Sql::new(
                    "SELECT request_hash, status_code, body, created_at, write_action, \
                     write_target, write_detail FROM idempotency WHERE actor = $1 AND key = $2",
                )
                .bind(actor)
                .bind(key),
            )
            .await?;
        let abandoned = from_ms(row.created_at)? < now - IDEMPOTENCY_ABANDONED_AFTER;
        Ok(
            match (
                row.request_hash == request_hash,
                row.status_code,
                row.body,
                row.write_action,
            ) {
                (false, ..) => IdempotencyBegin::Mismatch,
                (true, Some(status), Some(body), _) => IdempotencyBegin::Done {
                    status: u16::try_from(status).unwrap_or(500),
                    body,
                },
                (true, _, _, Some(action)) if abandoned => IdempotencyBegin::Committed {
                    action,
                    target: row.write_target.unwrap_or_default(),
                    detail: (row.write_detail)
                        .and_then(|d| serde_json::from_str(&d).ok())
                        .unwrap_or_default(),
                },
                (true, ..) => IdempotencyBegin::InProgress,
            },
        )
    }

    #[tracing::instrument(skip_all, fields(status = status))]
    async fn idempotency_finish(
        &self,
        actor: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        conn.execute(
            Sql::new(
                "UPDATE idempotency SET status_code = $1, body = $2 WHERE actor = $3 AND key = $4",
            )
            .bind(i64::from(status))
            .bind(body)
            .bind(actor)
            .bind(key),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    async fn idempotency_abandon(&self, actor: &str, key: &str) -> Result<()> {
        let mut conn = self.pool().acquire().await?;
        conn.execute(
            Sql::new(
                "DELETE FROM idempotency WHERE actor = $1 AND key = $2 AND status_code IS NULL",
            )
            .bind(actor)
            .bind(key),
        )
        .await?;
        Ok(())
    }
}
