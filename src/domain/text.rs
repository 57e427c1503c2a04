//! Validated text values. Each is built only through `parse`, and serde goes
//! through `parse` too, so a bad value is refused where it enters.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

fn clean(field: &str, raw: &str, max: usize, multiline: bool) -> Result<String, DomainError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(DomainError::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(DomainError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    let bad_control = |c: char| c.is_control() && !(multiline && (c == '\n' || c == '\t'));
    if text.chars().filter(|&c| c != '\r').any(bad_control) {
        return Err(DomainError::new(
            field,
            "must not contain control characters",
        ));
    }
    // CR only ever appears as part of a line break; keep one kind of line break.
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal, $multiline:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                clean($field, raw, $max, $multiline).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(raw: String) -> Result<Self, DomainError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// An incident or component title: one line.
    Title, "title", 200, false
);
text_type!(
    /// What caused it, once known. `Option<Cause>::None` means "not yet known".
    Cause, "cause", 1000, true
);
text_type!(
    /// A person as users should read it: "Dana (IT Ops)".
    PersonName, "owner.name", 120, false
);
text_type!(
    /// A component's description.
    Description, "description", 1000, true
);
text_type!(
    /// The Markdown body of a timeline entry, as staff wrote it.
    Message, "message", 20000, true
);

/// An email address, syntactically valid and safe to put in a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let text = raw.trim();
        if text.len() > 254 || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(DomainError::new("email", "is not a valid email address"));
        }
        match text.parse::<email_address::EmailAddress>() {
            Ok(addr) if addr.domain().contains('.') || addr.domain() == "localhost" => {
                Ok(Self(text.to_string()))
            }
            _ => Err(DomainError::new("email", "is not a valid email address")),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, DomainError> {
        Self::parse(&raw)
    }
}

/// Where a webhook subscriber's deliveries are POSTed: an absolute `http` or
/// `https` URL with a host, no user name or password (they would sit in
/// logs and reports), at most 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = |why: &str| DomainError::new("webhook", why);
        let text = raw.trim();
        if text.len() > 2000 {
            return Err(invalid("is longer than 2,000 characters"));
        }
        let url =
            url::Url::parse(text).map_err(|e| invalid(&format!("is not an absolute URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("must be an http:// or https:// URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(invalid("must name a host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "must not carry a user name or password; Candor signs each delivery instead",
            ));
        }
        Ok(Self(url.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = DomainError;
    fn try_from(raw: String) -> Result<Self, DomainError> {
        Self::parse(&raw)
    }
}

impl From<WebhookUrl> for String {
    fn from(value: WebhookUrl) -> String {
        value.0
    }
}

impl From<Email> for String {
    fn from(value: Email) -> String {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The one named person answerable for an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub name: PersonName,
    pub email: Email,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(
            Title::parse("  Mail delays ").unwrap().as_str(),
            "Mail delays"
        );
        assert_eq!(Title::parse("   ").unwrap_err().field, "title");
        assert!(Title::parse(&"x".repeat(201)).is_err());
        assert!(Title::parse(&"x".repeat(200)).is_ok());
    }

    #[test]
    fn one_line_fields_refuse_line_breaks() {
        assert!(Title::parse("Mail\r\nBcc: evil@example.test").is_err());
        assert!(PersonName::parse("Dana\nX-Header: y").is_err());
    }

    #[test]
    fn messages_keep_lines_but_normalise_breaks() {
        let m = Message::parse("line one\r\nline two").unwrap();
        assert_eq!(m.as_str(), "line one\nline two");
        assert!(Message::parse("bell\u{7}").is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert!(Email::parse("dana@acme.test").is_ok());
        assert!(Email::parse("dana").is_err());
        assert!(Email::parse("dana@acme.test\r\nBcc: x@y.test").is_err());
        assert!(Email::parse("da na@acme.test").is_err());
    }

    #[test]
    fn serde_goes_through_parse() {
        let err = serde_json::from_str::<Title>("\"\"").unwrap_err();
        assert!(err.to_string().contains("must not be empty"));
    }
}
