//! Reading rows that an older Candor wrote and today's rules refuse.
//!
//! Before one-line fields refused a lone carriage return, such a title or
//! owner name was stored with a line break in it; reading the row back
//! then failed, and every page and write that read it failed with it. Rows
//! are never rewritten (entries are append-only), so they are mended as
//! they are read: a line break in a one-line field reads as a space, and
//! bidirectional controls (refused since) are dropped. Each
//! mended or unreadable row is logged once, with its id.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The JSON keys that hold one-line text (titles, person and component names).
const ONE_LINE_KEYS: [&str; 2] = ["title", "name"];

/// Parses stored JSON; if today's rules refuse it, parses it again with
/// the line breaks of one-line fields read as spaces. Either way a failure
/// or a mend is logged once for `(what, id)`.
pub(crate) fn parse_stored<T: DeserializeOwned>(
    what: &str,
    id: &str,
    text: &str,
) -> super::Result<T> {
    let strict = match serde_json::from_str(text) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    let mended = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|mut value| mend(&mut value, false).then_some(value));
    if let Some(value) = mended {
        if let Ok(parsed) = serde_json::from_value(value) {
            log_once(what, id, &format!("read mended ({strict})"));
            return Ok(parsed);
        }
    }
    log_once(what, id, &format!("cannot be read: {strict}"));
    Err(super::StoreError::Other(anyhow::anyhow!(
        "stored {what} {id} cannot be read: {strict}"
    )))
}

/// Mends every string: drops bidirectional controls, and in one-line
/// fields reads line breaks as spaces; true when anything changed.
fn mend(value: &mut Value, one_line: bool) -> bool {
    match value {
        Value::String(text) => {
            let mended = mend_text(text, one_line);
            let changed = mended != *text;
            *text = mended;
            changed
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| mend(item, one_line) | changed),
        Value::Object(fields) => fields.iter_mut().fold(false, |changed, (key, item)| {
            mend(item, one_line || ONE_LINE_KEYS.contains(&key.as_str())) | changed
        }),
        _ => false,
    }
}

/// What an older Candor stored, as today's rules take it.
pub(crate) fn mend_text(text: &str, one_line: bool) -> String {
    let kept = text
        .chars()
        .filter(|c| !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'));
    if one_line {
        let flat: String = kept
            .map(|c| {
                if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        flat.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        kept.collect()
    }
}

/// A stored message (Markdown, kept as text), mended if need be.
pub(crate) fn parse_message(id: &str, text: &str) -> super::Result<crate::domain::Message> {
    use crate::domain::Message;
    match Message::parse(text) {
        Ok(message) => Ok(message),
        Err(strict) => match Message::parse(&mend_text(text, false)) {
            Ok(message) => {
                log_once("entry message of", id, &format!("read mended ({strict})"));
                Ok(message)
            }
            Err(_) => {
                log_once("entry message of", id, &format!("cannot be read: {strict}"));
                Err(super::StoreError::Other(anyhow::anyhow!(
                    "stored message of entry {id} cannot be read: {strict}"
                )))
            }
        },
    }
}

/// Logs a problem with one stored row the first time it is seen in this
/// process, not on every read of it (pages read it on every rendering).
pub(crate) fn log_once(what: &str, id: &str, problem: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let key = format!("{what} {id}");
    let first = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .map(|mut seen| seen.insert(key))
        .unwrap_or(true);
    if first {
        tracing::error!(row = what, id, "stored {what} {id} {problem}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Owner, Title};

    #[derive(Debug, serde::Deserialize)]
    struct Row {
        title: Title,
        owner: Owner,
    }

    #[test]
    fn one_line_fields_stored_with_a_line_break_read_as_one_line() {
        let row: Row = parse_stored(
            "incident",
            "i1",
            r#"{"title": "Mail\ndelays\n", "owner": {"name": "Dana\r\n(IT)", "email": "d@acme.test"}}"#,
        )
        .unwrap();
        assert_eq!(row.title.as_str(), "Mail delays");
        assert_eq!(row.owner.name.as_str(), "Dana (IT)");
    }

    #[test]
    fn other_text_keeps_its_lines_and_garbage_stays_an_error() {
        let mut value: Value =
            serde_json::from_str(r#"{"message": "a\nb", "cause": "c\nd"}"#).unwrap();
        assert!(!mend(&mut value, false));
        assert!(parse_stored::<Owner>("owner", "o1", "{not json").is_err());
    }
}
