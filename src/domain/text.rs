//! Validated text values. Each is built only through `parse`, and serde goes
//! through `parse` too, so a bad value is refused where it enters.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// Characters that draw nothing: a text made only of these (and spaces)
/// says nothing, however long it is.
fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}')
}

/// Bidirectional embeddings, overrides and isolates: they make text read
/// in another order than it is stored ("Trojan Source"), so a title could
/// say one thing on the page and another in a mail subject.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Line breaks of every kind, as a reader's software may break on them.
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Checks and normalises one text value. What it returns passes it again
/// unchanged (`clean(clean(x)) == clean(x)`), so every value a type accepts
/// is one it reads back from storage.
fn clean(field: &str, raw: &str, max: usize, multiline: bool) -> Result<String, DomainError> {
    let refuse = |why: &str| Err(DomainError::new(field, why));
    if !multiline && raw.trim().chars().any(is_line_break) {
        return refuse("must be one line: it must not contain a line break");
    }
    // One kind of line break in multi-line text: CR LF, a lone CR and the
    // Unicode line separators become LF, before anything is counted or
    // checked.
    let text = if multiline {
        raw.replace("\r\n", "\n")
            .replace(['\r', '\u{85}', '\u{2028}', '\u{2029}'], "\n")
    } else {
        raw.to_string()
    };
    let text = text.trim();
    if text.chars().all(is_invisible) {
        return refuse("must not be empty");
    }
    if text.chars().count() > max {
        return refuse(&format!("must be at most {max} characters"));
    }
    if text.chars().any(is_bidi_control) {
        return refuse("must not contain bidirectional override characters");
    }
    let allowed = |c: char| multiline && (c == '\n' || c == '\t');
    if text
        .chars()
        .any(|c| (c.is_control() || is_line_break(c)) && !allowed(c))
    {
        return refuse("must not contain control characters or unusual line breaks");
    }
    Ok(text.to_string())
}

/// The schema of a text type: not empty, at most `max` characters once
/// trimmed, on one line unless `multiline`.
fn text_schema(
    max: usize,
    multiline: bool,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let lines = if multiline {
        "Line breaks are kept"
    } else {
        "One line"
    };
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .description(Some(format!(
            "{lines}; at most {max} characters after leading and trailing white space is \
             trimmed; not blank; no control or bidirectional override characters."
        )))
        .into()
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

        /// In the API's OpenAPI document: a string, with the rule `parse`
        /// keeps in words (the length is counted after trimming, which a
        /// schema's `maxLength` cannot say).
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                text_schema($max, $multiline)
            }
        }

        impl utoipa::ToSchema for $name {}

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
    /// Only what can be delivered: a plain ASCII local part (no quoted
    /// strings or comments, which many relays and Candor's mailer refuse) at
    /// a host name (no address literal such as `[127.0.0.1]`).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::new("email", "is not a valid email address");
        let text = raw.trim();
        if text.len() > 254 || text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid());
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(invalid)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(atext));
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        let domain_ok =
            (domain.contains('.') || domain == "localhost") && domain.split('.').all(label_ok);
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        match (
            text.parse::<email_address::EmailAddress>(),
            text.parse::<lettre::Address>(),
        ) {
            (Ok(_), Ok(_)) => Ok(Self(text.to_string())),
            _ => Err(invalid()),
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .description(Some(
                "An email address: a plain ASCII local part at a host name, at most 254 \
                 characters.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

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

impl utoipa::PartialSchema for WebhookUrl {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
            .description(Some(
                "An absolute http:// or https:// URL with a host and no user name or \
                 password, at most 2,000 characters.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for WebhookUrl {}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    pub name: PersonName,
    pub email: Email,
}

impl Owner {
    /// `Dana (IT Ops) <dana@acme.test>`: a person's name as readers see it
    /// (which need not be a valid mail phrase) and their address.
    pub fn parse_mailbox(text: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::new(
                "owner",
                format!("`{text}` is not like `Dana (IT Ops) <dana@acme.test>`"),
            )
        };
        let (name, email) = text
            .trim()
            .strip_suffix('>')
            .and_then(|rest| rest.rsplit_once('<'))
            .ok_or_else(bad)?;
        Ok(Owner {
            name: PersonName::parse(name.trim())?,
            email: Email::parse(email.trim())?,
        })
    }

    /// The owner as `parse_mailbox` reads it.
    pub fn mailbox(&self) -> String {
        format!("{} <{}>", self.name, self.email)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_reads_and_writes_as_name_and_address() {
        let owner = Owner::parse_mailbox(" Dana (IT Ops) <dana@acme.test> ").unwrap();
        assert_eq!(owner.name.as_str(), "Dana (IT Ops)");
        assert_eq!(owner.mailbox(), "Dana (IT Ops) <dana@acme.test>");
        assert_eq!(Owner::parse_mailbox(&owner.mailbox()).unwrap(), owner);
        assert!(Owner::parse_mailbox("dana@acme.test").is_err());
        assert!(Owner::parse_mailbox("<dana@acme.test>").is_err());
    }

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

    #[test]
    fn a_lone_carriage_return_is_a_line_break_in_one_line_fields() {
        for raw in [
            "Mail\rdelays",
            "Mail\u{2028}delays",
            "Mail\u{85}delays",
            "a\u{0B}b",
        ] {
            let err = Title::parse(raw).unwrap_err();
            assert_eq!(err.field, "title", "{raw:?}");
            assert!(PersonName::parse(raw).is_err(), "{raw:?}");
        }
        // Surrounding blanks are trimmed, as before: a title pasted with its
        // newline is still one line.
        assert_eq!(
            Title::parse("Mail delays\r\n").unwrap().as_str(),
            "Mail delays"
        );
    }

    #[test]
    fn multi_line_fields_turn_every_carriage_return_into_one_line_break() {
        let m = Message::parse("one\rtwo\r\nthree").unwrap();
        assert_eq!(m.as_str(), "one\ntwo\nthree");
        assert_eq!(Message::parse(m.as_str()).unwrap(), m);
    }

    #[test]
    fn invisible_and_reordering_text_is_refused() {
        assert!(Title::parse("\u{200B}\u{200D}\u{FEFF}").is_err());
        assert!(Title::parse(" \u{2060} ").is_err());
        assert!(Title::parse("Invoice \u{202E}fdp.exe").is_err());
        assert!(Message::parse("a \u{2066}b\u{2069}").is_err());
        // Joiners inside real words stay (emoji sequences, some scripts).
        assert!(Title::parse("VPN \u{1F469}\u{200D}\u{1F4BB} down").is_ok());
    }

    #[test]
    fn addresses_are_only_ones_that_can_be_delivered() {
        for bad in [
            "\"a,b\"@example.com",
            "a@[127.0.0.1]",
            "a(comment)@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} was accepted");
        }
        for good in [
            "dana+ops@acme.test",
            "o'neil@example.co.uk",
            "ops@localhost",
        ] {
            assert!(Email::parse(good).is_ok(), "{good} was refused");
        }
    }

    /// A value a type accepts is one it reads back: `parse` of its own
    /// output gives the same value, for every text type.
    fn reads_back<T: PartialEq + fmt::Debug>(
        raw: &str,
        parse: impl Fn(&str) -> Result<T, DomainError>,
        as_str: impl Fn(&T) -> String,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        if let Ok(value) = parse(raw) {
            let again = parse(&as_str(&value));
            proptest::prop_assert_eq!(again.as_ref(), Ok(&value), "input {:?}", raw);
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn every_accepted_value_reads_back(
            raw in "(?s)[ \\r\\n\\t\u{0}-\u{7f}\u{85}\u{a0}\u{200b}-\u{200f}\u{2028}\u{2029}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{feff}@.\"\\[\\]é中]{0,40}"
        ) {
            reads_back(&raw, Title::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Cause::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, PersonName::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Description::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Message::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Email::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, WebhookUrl::parse, |v| v.as_str().to_string())?;
        }

        #[test]
        fn any_string_reads_back(raw in proptest::prelude::any::<String>()) {
            reads_back(&raw, Title::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, PersonName::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Message::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, Email::parse, |v| v.as_str().to_string())?;
            reads_back(&raw, WebhookUrl::parse, |v| v.as_str().to_string())?;
        }

        #[test]
        fn stored_values_read_back_through_serde(raw in "(?s)[a-z \\r\\n]{1,12}") {
            if let Ok(title) = Title::parse(&raw) {
                let json = serde_json::to_string(&title).unwrap();
                proptest::prop_assert_eq!(serde_json::from_str::<Title>(&json).unwrap(), title);
            }
            if let Ok(message) = Message::parse(&raw) {
                let json = serde_json::to_string(&message).unwrap();
                proptest::prop_assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
            }
        }
    }
}
