//! Admin API tokens: stored as the SHA-256 of their secret.

use async_trait::async_trait;

use super::audit::{anonymous, finish_write};
use super::backend::Backend;
use super::query::{Conn, Sql};
use super::stored::ms;
use super::stored::parse_enum;
use super::{Actor, Result, StoreError};
use crate::domain::alerts::TokenScope;
use crate::domain::Owner;

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn create_token(
        &self,
        id: &str,
        name: &str,
        hash: &str,
        now: jiff::Timestamp,
    ) -> Result<()>;
    /// Revokes the active token named `name` (`NotFound` when none is).
    async fn revoke_token(&self, name: &str, now: jiff::Timestamp, actor: &Actor) -> Result<()>;
    /// The active tokens, by name (never their secrets: only hashes are kept).
    async fn list_tokens(&self) -> Result<Vec<TokenInfo>>;
    async fn active_token_count(&self) -> Result<i64>;
    /// The name of the active token with this hash, marking it used.
    async fn authenticate(&self, hash: &str, now: jiff::Timestamp) -> Result<Option<String>> {
        Ok(self
            .authenticate_scoped(hash, now)
            .await?
            .map(|holder| holder.name))
    }
    /// A token limited to a scope (`candor token create NAME --scope
    /// alerts`), speaking for `owner` if given (`--owner`).
    #[allow(clippy::too_many_arguments)]
    async fn create_scoped_token(
        &self,
        id: &str,
        name: &str,
        hash: &str,
        scope: TokenScope,
        owner: Option<&Owner>,
        now: jiff::Timestamp,
        actor: &Actor,
    ) -> Result<()>;
    /// The active token with this hash, marking it used.
    async fn authenticate_scoped(
        &self,
        hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<TokenHolder>>;
}

/// Who presents a token: its name, what it may do, and the person it
/// speaks for, if it was made with one.
#[derive(Debug, Clone)]
pub struct TokenHolder {
    pub name: String,
    pub scope: TokenScope,
    pub owner: Option<Owner>,
}

/// An active token as staff see it.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub name: String,
    pub scope: TokenScope,
    /// The person it speaks for (`--owner`), as `Name <email>`.
    pub owner: Option<String>,
    pub created_at: jiff::Timestamp,
    pub last_used_at: Option<jiff::Timestamp>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    name: String,
    scope: String,
    owner: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TokenUse {
    name: String,
    scope: String,
    owner: Option<String>,
    last_used_at: Option<i64>,
}

#[async_trait]
impl<B: Backend> TokenStore for B {
    async fn create_token(
        &self,
        id: &str,
        name: &str,
        hash: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        self.create_scoped_token(
            id,
            name,
            hash,
            TokenScope::All,
            None,
            now,
            &anonymous("cli"),
        )
        .await
    }

    #[tracing::instrument(skip(self, id, hash, actor))]
    async fn create_scoped_token(
        &self,
        id: &str,
        name: &str,
        hash: &str,
        scope: TokenScope,
        owner: Option<&Owner>,
        now: jiff::Timestamp,
        actor: &Actor,
    ) -> Result<()> {
        let owner = owner.map(Owner::mailbox);
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        conn.execute(
            Sql::new(
                "INSERT INTO api_tokens (id, name, hash, created_at, scope, owner) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(name)
            .bind(hash)
            .bind(ms(now))
            .bind(scope.as_str())
            .bind(owner.as_deref()),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("an active token named `{name}` exists already"))
            }
            other => other,
        })?;
        finish_write(
            conn,
            actor,
            now,
            "token.create",
            name,
            serde_json::json!({"scope": scope, "owner": owner}),
        )
        .await?;
        write.commit().await
    }

    #[tracing::instrument(skip(self, actor))]
    async fn revoke_token(&self, name: &str, now: jiff::Timestamp, actor: &Actor) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let revoked = conn
            .execute(
                Sql::new(
                    "UPDATE api_tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                )
                .bind(ms(now))
                .bind(name),
            )
            .await?;
        if revoked == 0 {
            return Err(StoreError::NotFound);
        }
        finish_write(
            conn,
            actor,
            now,
            "token.revoke",
            name,
            serde_json::json!({}),
        )
        .await?;
        write.commit().await
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<TokenRow> = conn
            .fetch_all(Sql::new(
                "SELECT name, scope, owner, created_at, last_used_at FROM api_tokens \
                 WHERE revoked_at IS NULL ORDER BY name",
            ))
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(TokenInfo {
                    scope: parse_enum(&row.scope)?,
                    owner: row.owner,
                    created_at: super::stored::from_ms(row.created_at)?,
                    last_used_at: super::stored::from_opt_ms(row.last_used_at)?,
                    name: row.name,
                })
            })
            .collect()
    }

    async fn active_token_count(&self) -> Result<i64> {
        let mut conn = self.pool().acquire().await?;
        let (n,): (i64,) = conn
            .fetch_one(Sql::new(
                "SELECT COUNT(*) AS n FROM api_tokens WHERE revoked_at IS NULL",
            ))
            .await?;
        Ok(n)
    }

    #[tracing::instrument(skip_all)]
    async fn authenticate_scoped(
        &self,
        hash: &str,
        now: jiff::Timestamp,
    ) -> Result<Option<TokenHolder>> {
        let mut conn = self.pool().acquire().await?;
        let Some(token) = conn
            .fetch_optional::<TokenUse>(
                Sql::new(
                    "SELECT name, scope, owner, last_used_at FROM api_tokens \
                     WHERE hash = $1 AND revoked_at IS NULL",
                )
                .bind(hash),
            )
            .await?
        else {
            return Ok(None);
        };
        let now_ms = ms(now);
        // Marked at most once a minute, so that reads stay reads.
        if token.last_used_at.is_none_or(|at| now_ms - at > 60_000) {
            conn.execute(
                Sql::new("UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2")
                    .bind(now_ms)
                    .bind(hash),
            )
            .await?;
        }
        // A stored owner that no longer reads as one (an older rule) is
        // no owner: the caller asks for one instead of guessing.
        let owner = token
            .owner
            .as_deref()
            .and_then(|text| Owner::parse_mailbox(text).ok());
        Ok(Some(TokenHolder {
            name: token.name,
            scope: parse_enum(&token.scope)?,
            owner,
        }))
    }
}
