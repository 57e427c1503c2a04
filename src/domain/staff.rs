//! Staff who post from the console: their roles, what each role may do,
//! and the rules for passwords and sessions. Hashing and storing are done
//! elsewhere; this says what is allowed.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{DomainError, Email, PersonName};

/// What a person may do in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Posts incidents and maintenance: opens, updates, corrects, resolves.
    Editor,
    /// Also manages components, subscribers, API tokens and users.
    Admin,
}

impl Role {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw.trim() {
            "editor" => Ok(Self::Editor),
            "admin" => Ok(Self::Admin),
            _ => Err(DomainError::new("role", "must be editor or admin")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::Editor => "Editor",
            Self::Admin => "Admin",
        }
    }

    /// Whether this role may do `what`.
    pub fn may(self, what: Duty) -> bool {
        match what {
            Duty::Post => true,
            Duty::Administer => self == Self::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the console lets people do, by the role it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    /// Incidents and maintenance.
    Post,
    /// Components, subscribers, tokens, users, the audit log.
    Administer,
}

/// A person with a console account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub id: String,
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    pub disabled: bool,
}

impl StaffUser {
    /// As an incident's owner: the person answerable for it.
    pub fn as_owner(&self) -> super::Owner {
        super::Owner {
            name: self.name.clone(),
            email: self.email.clone(),
        }
    }
}

/// How a login address is compared: trimmed and lower-cased, so that
/// `Dana@Acme.test` logs in as `dana@acme.test`.
pub fn login_address(raw: &str) -> Result<Email, DomainError> {
    Email::parse(&raw.trim().to_lowercase())
}

/// A password as typed, before it is hashed: long enough to resist
/// guessing, short enough that hashing it costs nothing extra.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Fewer characters than this are refused (NIST SP 800-63B asks for at
/// least 8; a console that can post to every subscriber asks for more).
pub const PASSWORD_MIN: usize = 12;
const PASSWORD_MAX: usize = 1024;

impl Password {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let length = raw.chars().count();
        if length < PASSWORD_MIN {
            return Err(DomainError::new(
                "password",
                format!("must be at least {PASSWORD_MIN} characters long"),
            ));
        }
        if length > PASSWORD_MAX {
            return Err(DomainError::new(
                "password",
                format!("must be at most {PASSWORD_MAX} characters long"),
            ));
        }
        if raw.trim() != raw {
            return Err(DomainError::new(
                "password",
                "must not start or end with spaces (a pasted line break, say)",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How long a console session lasts without use; each use extends it.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_hours(12);
/// How long a session lasts at most, however busy: a stolen cookie does
/// not live for ever.
pub const SESSION_MAX: SignedDuration = SignedDuration::from_hours(24 * 7);
/// How long a set-password link works.
pub const PASSWORD_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(72);

/// When a session used at `now`, begun at `created_at`, expires.
pub fn session_expiry(created_at: Timestamp, now: Timestamp) -> Timestamp {
    let idle = now.saturating_add(SESSION_IDLE).unwrap_or(now);
    let max = created_at.saturating_add(SESSION_MAX).unwrap_or(created_at);
    idle.min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_only_admins_administer() {
        assert_eq!(Role::parse("editor").unwrap(), Role::Editor);
        assert_eq!(Role::parse(" admin ").unwrap(), Role::Admin);
        assert_eq!(Role::parse("root").unwrap_err().field, "role");
        assert!(Role::Editor.may(Duty::Post));
        assert!(!Role::Editor.may(Duty::Administer));
        assert!(Role::Admin.may(Duty::Administer));
    }

    #[test]
    fn passwords_are_long_enough_and_never_printed() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("correct horse\n").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let password = Password::parse("correct horse battery").unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn login_addresses_ignore_case() {
        assert_eq!(
            login_address(" Dana@Acme.TEST ").unwrap().as_str(),
            "dana@acme.test"
        );
        assert!(login_address("dana").is_err());
    }

    #[test]
    fn sessions_slide_but_end_within_a_week() {
        let start: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        assert_eq!(
            session_expiry(start, start),
            start.checked_add(SESSION_IDLE).unwrap()
        );
        let late = start
            .checked_add(SignedDuration::from_hours(24 * 7 - 1))
            .unwrap();
        assert_eq!(
            session_expiry(start, late),
            start.checked_add(SESSION_MAX).unwrap()
        );
    }
}
