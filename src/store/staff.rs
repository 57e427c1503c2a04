//! Staff accounts, their console sessions and set-password links. Session
//! and link secrets are stored as their SHA-256, passwords as argon2id
//! hashes made before they reach the store.

use async_trait::async_trait;
use jiff::Timestamp;

use super::audit::audit;
use super::backend::Backend;
use super::query::{Conn, Sql};
use super::stored::{from_ms, ms, parse_enum};
use super::{Actor, Result, StoreError};
use crate::domain::staff::{session_expiry, Role, StaffUser};
use crate::domain::{Email, PersonName};

/// A session as a request finds it: whose, and the token its forms carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: StaffUser,
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// A session to begin at login.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: String,
    pub csrf: String,
    pub now: Timestamp,
}

#[async_trait]
pub trait StaffStore: Send + Sync {
    /// A new user (`Conflict` when the address has one already), with a
    /// password hash or none yet.
    async fn create_staff_user(
        &self,
        user: &StaffUser,
        password_hash: Option<&str>,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<()>;
    /// Disables the user and ends their sessions at once (`NotFound`).
    async fn disable_staff_user(&self, email: &Email, now: Timestamp, actor: &Actor) -> Result<()>;
    /// The user with this login address, with their password hash.
    async fn staff_login(&self, email: &Email) -> Result<Option<(StaffUser, Option<String>)>>;
    /// Every user, enabled ones first, by name.
    async fn staff_users(&self) -> Result<Vec<StaffUser>>;
    /// Begins a session after a login, and audits it.
    async fn start_session(&self, session: &NewSession, actor: &Actor) -> Result<()>;
    /// The live session with this hash, its user enabled; a use extends it.
    async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>>;
    /// Ends a session (logout); ending one that is gone is no error.
    async fn end_session(&self, id_hash: &str, now: Timestamp, actor: &Actor) -> Result<()>;
    /// A one-time link to set the user's password, replacing any other.
    async fn create_password_link(
        &self,
        email: &Email,
        hash: &str,
        expires_at: Timestamp,
    ) -> Result<StaffUser>;
    /// The enabled user a live link is for.
    async fn password_link_user(&self, hash: &str, now: Timestamp) -> Result<Option<StaffUser>>;
    /// Sets the password through a live link and spends it (`NotFound`
    /// when the link is spent, expired or its user disabled).
    async fn use_password_link(
        &self,
        hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<StaffUser>;
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    name: String,
    role: String,
    password_hash: Option<String>,
    disabled_at: Option<i64>,
}

impl UserRow {
    fn user(&self) -> Result<StaffUser> {
        let bad = |e: crate::domain::DomainError| StoreError::Other(anyhow::anyhow!("{e}"));
        Ok(StaffUser {
            id: self.id.clone(),
            email: Email::parse(&self.email).map_err(bad)?,
            name: PersonName::parse(&self.name).map_err(bad)?,
            role: parse_enum::<Role>(&self.role)?,
            disabled: self.disabled_at.is_some(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    #[sqlx(flatten)]
    user: UserRow,
    csrf: String,
    created_at: i64,
    seen_at: i64,
    expires_at: i64,
}

const USER_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.password_hash, u.disabled_at";

#[async_trait]
impl<B: Backend> StaffStore for B {
    #[tracing::instrument(skip_all)]
    async fn create_staff_user(
        &self,
        user: &StaffUser,
        password_hash: Option<&str>,
        now: Timestamp,
        actor: &Actor,
    ) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        conn.execute(
            Sql::new(
                "INSERT INTO staff_users (id, email, name, role, password_hash, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(user.id.as_str())
            .bind(user.email.as_str())
            .bind(user.name.as_str())
            .bind(user.role.as_str())
            .bind(password_hash)
            .bind(ms(now)),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(format!(
                "there is a user with the address {} already",
                user.email
            )),
            other => other,
        })?;
        let detail = serde_json::json!({"name": user.name, "role": user.role});
        audit(
            conn,
            actor,
            now,
            "user.create",
            user.email.as_str(),
            &detail,
        )
        .await?;
        write.commit().await
    }

    #[tracing::instrument(skip_all)]
    async fn disable_staff_user(&self, email: &Email, now: Timestamp, actor: &Actor) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let found: Option<(String,)> = conn
            .fetch_optional(
                Sql::new("SELECT id FROM staff_users WHERE email = $1").bind(email.as_str()),
            )
            .await?;
        let Some((id,)) = found else {
            return Err(StoreError::NotFound);
        };
        conn.execute(
            Sql::new(
                "UPDATE staff_users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL",
            )
            .bind(ms(now))
            .bind(id.as_str()),
        )
        .await?;
        conn.execute(Sql::new("DELETE FROM staff_sessions WHERE user_id = $1").bind(id.as_str()))
            .await?;
        conn.execute(
            Sql::new("DELETE FROM staff_password_links WHERE user_id = $1").bind(id.as_str()),
        )
        .await?;
        audit(
            conn,
            actor,
            now,
            "user.disable",
            email.as_str(),
            &serde_json::json!({}),
        )
        .await?;
        write.commit().await
    }

    async fn staff_login(&self, email: &Email) -> Result<Option<(StaffUser, Option<String>)>> {
        let mut conn = self.pool().acquire().await?;
        let row: Option<UserRow> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT {USER_COLUMNS} FROM staff_users u WHERE u.email = $1"
                ))
                .bind(email.as_str()),
            )
            .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((row.user()?, row.password_hash.clone()))),
        }
    }

    async fn staff_users(&self) -> Result<Vec<StaffUser>> {
        let mut conn = self.pool().acquire().await?;
        let rows: Vec<UserRow> = conn
            .fetch_all(Sql::new(format!(
                "SELECT {USER_COLUMNS} FROM staff_users u \
                 ORDER BY u.disabled_at IS NOT NULL, u.name, u.email"
            )))
            .await?;
        rows.iter().map(UserRow::user).collect()
    }

    #[tracing::instrument(skip_all)]
    async fn start_session(&self, session: &NewSession, actor: &Actor) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        // Sessions that ran out go as new ones begin.
        conn.execute(
            Sql::new("DELETE FROM staff_sessions WHERE expires_at < $1").bind(ms(session.now)),
        )
        .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO staff_sessions (id_hash, user_id, csrf, created_at, seen_at, expires_at, ip) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6)",
            )
            .bind(session.id_hash.as_str())
            .bind(session.user_id.as_str())
            .bind(session.csrf.as_str())
            .bind(ms(session.now))
            .bind(ms(session_expiry(session.now, session.now)))
            .bind(&actor.ip),
        )
        .await?;
        audit(
            conn,
            actor,
            session.now,
            "user.login",
            &actor.name,
            &serde_json::json!({}),
        )
        .await?;
        write.commit().await
    }

    async fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<Session>> {
        let mut conn = self.pool().acquire().await?;
        let row: Option<SessionRow> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT {USER_COLUMNS}, s.csrf, s.created_at, s.seen_at, s.expires_at \
                     FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id \
                     WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL"
                ))
                .bind(id_hash)
                .bind(ms(now)),
            )
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let now_ms = ms(now);
        let mut expires_at = from_ms(row.expires_at)?;
        // Extended at most once a minute, so that reads stay reads.
        if now_ms - row.seen_at > 60_000 {
            expires_at = session_expiry(from_ms(row.created_at)?, now);
            conn.execute(
                Sql::new(
                    "UPDATE staff_sessions SET seen_at = $1, expires_at = $2 WHERE id_hash = $3",
                )
                .bind(now_ms)
                .bind(ms(expires_at))
                .bind(id_hash),
            )
            .await?;
        }
        Ok(Some(Session {
            user: row.user.user()?,
            csrf: row.csrf,
            expires_at,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn end_session(&self, id_hash: &str, now: Timestamp, actor: &Actor) -> Result<()> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let ended = conn
            .execute(Sql::new("DELETE FROM staff_sessions WHERE id_hash = $1").bind(id_hash))
            .await?;
        if ended > 0 {
            audit(
                conn,
                actor,
                now,
                "user.logout",
                &actor.name,
                &serde_json::json!({}),
            )
            .await?;
        }
        write.commit().await
    }

    #[tracing::instrument(skip_all)]
    async fn create_password_link(
        &self,
        email: &Email,
        hash: &str,
        expires_at: Timestamp,
    ) -> Result<StaffUser> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let row: Option<UserRow> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT {USER_COLUMNS} FROM staff_users u \
                     WHERE u.email = $1 AND u.disabled_at IS NULL"
                ))
                .bind(email.as_str()),
            )
            .await?;
        let user = row.ok_or(StoreError::NotFound)?.user()?;
        conn.execute(
            Sql::new("DELETE FROM staff_password_links WHERE user_id = $1").bind(user.id.as_str()),
        )
        .await?;
        conn.execute(
            Sql::new(
                "INSERT INTO staff_password_links (hash, user_id, expires_at) VALUES ($1, $2, $3)",
            )
            .bind(hash)
            .bind(user.id.as_str())
            .bind(ms(expires_at)),
        )
        .await?;
        write.commit().await?;
        Ok(user)
    }

    async fn password_link_user(&self, hash: &str, now: Timestamp) -> Result<Option<StaffUser>> {
        let mut conn = self.pool().acquire().await?;
        let row: Option<UserRow> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT {USER_COLUMNS} FROM staff_password_links l \
                     JOIN staff_users u ON u.id = l.user_id \
                     WHERE l.hash = $1 AND l.expires_at > $2 AND u.disabled_at IS NULL"
                ))
                .bind(hash)
                .bind(ms(now)),
            )
            .await?;
        row.as_ref().map(UserRow::user).transpose()
    }

    #[tracing::instrument(skip_all)]
    async fn use_password_link(
        &self,
        hash: &str,
        password_hash: &str,
        now: Timestamp,
    ) -> Result<StaffUser> {
        let mut write = self.begin_write().await?;
        let conn = write.conn();
        let row: Option<UserRow> = conn
            .fetch_optional(
                Sql::new(format!(
                    "SELECT {USER_COLUMNS} FROM staff_password_links l \
                     JOIN staff_users u ON u.id = l.user_id \
                     WHERE l.hash = $1 AND l.expires_at > $2 AND u.disabled_at IS NULL"
                ))
                .bind(hash)
                .bind(ms(now)),
            )
            .await?;
        let user = row.ok_or(StoreError::NotFound)?.user()?;
        // Spent whoever wins a race for it: only one sets the password.
        let spent = conn
            .execute(Sql::new("DELETE FROM staff_password_links WHERE hash = $1").bind(hash))
            .await?;
        if spent == 0 {
            return Err(StoreError::NotFound);
        }
        conn.execute(
            Sql::new("UPDATE staff_users SET password_hash = $1 WHERE id = $2")
                .bind(password_hash)
                .bind(user.id.as_str()),
        )
        .await?;
        // A new password ends the sessions the old one began.
        conn.execute(
            Sql::new("DELETE FROM staff_sessions WHERE user_id = $1").bind(user.id.as_str()),
        )
        .await?;
        let actor = Actor {
            name: user.name.to_string(),
            ip: None,
        };
        audit(
            conn,
            &actor,
            now,
            "user.password",
            user.email.as_str(),
            &serde_json::json!({}),
        )
        .await?;
        write.commit().await?;
        Ok(user)
    }
}
