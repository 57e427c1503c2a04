//! Importing a list of subscribers: reading CSV or JSON lines into
//! subscribers to add, and the refusals (with their line numbers) of lines
//! that cannot be. Pure: the lines come in, what to add and what to report
//! go out; the store adds them and says which were there already.
//!
//! CSV has a header naming its columns: `email` (required), `components`
//! (names or ids separated by `;`; empty or absent: every component) and
//! `confirmed` (`true`/`yes`/`1` for a list that already opted in
//! elsewhere; otherwise the address is sent a confirmation link). One
//! record per line. JSON lines: one object a line with the same keys
//! (`components` a list or a `;`-separated string, `confirmed` a boolean).

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::component::Component;
use super::subscriber::Subscriber;
use super::{ComponentId, DomainError, Email, SubscriberId};

/// The refusals a report lists in full; beyond these it only counts.
pub const REFUSALS_LISTED: usize = 1000;

/// The longest line read; a longer one is refused (no address needs it).
pub const LONGEST_LINE: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

impl Format {
    /// The format a request's `Content-Type` names.
    pub fn from_media_type(media: &str) -> Option<Format> {
        let essence = media.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            "application/jsonl"
            | "application/x-ndjson"
            | "application/x-jsonlines"
            | "application/jsonlines"
            | "application/json-lines" => Some(Format::JsonLines),
            _ => None,
        }
    }
}

/// Where each column of a CSV file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    email: usize,
    components: Option<usize>,
    confirmed: Option<usize>,
}

impl Columns {
    /// The header line's fields; the import stops here when it has no
    /// `email` column (every line after it would be refused).
    pub fn from_header<'a>(fields: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let mut email = None;
        let mut components = None;
        let mut confirmed = None;
        for (i, field) in fields.into_iter().enumerate() {
            let name = field
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase();
            let slot = match name.as_str() {
                "email" | "address" | "email_address" => &mut email,
                "components" => &mut components,
                "confirmed" => &mut confirmed,
                _ => continue,
            };
            if slot.is_some() {
                return Err(DomainError::new(
                    "file",
                    format!("the header names the column `{name}` twice"),
                ));
            }
            *slot = Some(i);
        }
        let email = email.ok_or_else(|| {
            DomainError::new(
                "file",
                "the first line must name the columns: `email`, and optionally \
                 `components` and `confirmed` (e.g. `email,components,confirmed`)",
            )
        })?;
        Ok(Columns {
            email,
            components,
            confirmed,
        })
    }
}

/// One line as read: an address, its components as written, and whether
/// it has opted in already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub number: u64,
    pub email: String,
    pub components: Vec<String>,
    pub confirmed: bool,
}

/// A line that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Refusal {
    pub line: u64,
    pub reason: String,
}

impl Refusal {
    pub fn new(line: u64, reason: impl Into<String>) -> Self {
        Refusal {
            line,
            reason: reason.into(),
        }
    }
}

/// What one line of a file was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// The CSV header, naming the columns.
    Header,
    Line(Line),
    Refused(Refusal),
}

/// Reads a file line by line: for CSV the header first, then one
/// subscriber a line.
pub struct Reading {
    format: Format,
    columns: Option<Columns>,
    csv: csv_core::Reader,
}

impl Reading {
    pub fn new(format: Format) -> Self {
        Reading {
            format,
            columns: None,
            csv: csv_core::Reader::new(),
        }
    }

    /// Line `number` (counted from 1, blank lines included); an error only
    /// when a CSV file does not begin with a header that names `email`.
    pub fn line(&mut self, number: u64, text: &str) -> Result<Read, DomainError> {
        match self.format {
            Format::JsonLines => Ok(match json_line(number, text) {
                Ok(line) => Read::Line(line),
                Err(refusal) => Read::Refused(refusal),
            }),
            Format::Csv => {
                let fields = csv_fields(&mut self.csv, text);
                match &self.columns {
                    None => {
                        self.columns =
                            Some(Columns::from_header(fields.iter().map(String::as_str))?);
                        Ok(Read::Header)
                    }
                    Some(columns) => {
                        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
                        Ok(match csv_line(columns, number, &fields) {
                            Ok(line) => Read::Line(line),
                            Err(refusal) => Read::Refused(refusal),
                        })
                    }
                }
            }
        }
    }
}

/// The fields of one CSV line (RFC 4180 quoting; a record is one line).
fn csv_fields(reader: &mut csv_core::Reader, text: &str) -> Vec<String> {
    use csv_core::ReadRecordResult;
    reader.reset();
    // Unquoting only shortens a field, and a line of n bytes has at most
    // n + 1 fields: neither buffer can fill up.
    let mut output = vec![0u8; text.len() + 1];
    let mut ends = vec![0usize; text.len() + 2];
    let (mut input, mut written, mut ended) = (text.as_bytes(), 0, 0);
    loop {
        // The line holds no newline: the first call reads all of it.
        let (result, _, out, end) =
            reader.read_record(input, &mut output[written..], &mut ends[ended..]);
        written += out;
        ended += end;
        match result {
            // Then the end of the input: the last field ends with it.
            ReadRecordResult::InputEmpty => input = &[],
            ReadRecordResult::Record | ReadRecordResult::End => break,
            ReadRecordResult::OutputFull | ReadRecordResult::OutputEndsFull => {
                return vec![text.to_string()]
            }
        }
    }
    let mut start = 0;
    ends[..ended]
        .iter()
        .map(|&end| {
            let field = String::from_utf8_lossy(&output[start..end]).into_owned();
            start = end;
            field
        })
        .collect()
}

/// A CSV record's fields, by the header's columns.
pub fn csv_line(columns: &Columns, number: u64, fields: &[&str]) -> Result<Line, Refusal> {
    let field = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|f| f.trim());
    let email = field(Some(columns.email)).unwrap_or("");
    let components = field(columns.components).map_or_else(Vec::new, split_components);
    let confirmed = match field(columns.confirmed) {
        None => false,
        Some(text) => yes_or_no(text).ok_or_else(|| {
            Refusal::new(
                number,
                format!("confirmed: `{text}` is not true or false (true, yes, 1, false, no, 0 or empty)"),
            )
        })?,
    };
    Ok(Line {
        number,
        email: email.to_string(),
        components,
        confirmed,
    })
}

/// One JSON line: `{"email": …, "components": […] or "a;b", "confirmed": …}`.
pub fn json_line(number: u64, text: &str) -> Result<Line, Refusal> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Refusal::new(number, format!("not a JSON object: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| Refusal::new(number, "not a JSON object"))?;
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "email" | "components" | "confirmed"))
    {
        return Err(Refusal::new(
            number,
            format!("unknown key `{key}` (expected email, components, confirmed)"),
        ));
    }
    let email = match object.get("email") {
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        _ => return Err(Refusal::new(number, "email: missing or not a string")),
    };
    let components = match object.get("components") {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => split_components(s),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| Refusal::new(number, "components: each must be a string"))
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect(),
        Some(_) => {
            return Err(Refusal::new(
                number,
                "components: a list of names or ids, or one string separated by `;`",
            ))
        }
    };
    let confirmed = match object.get("confirmed") {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(_) => return Err(Refusal::new(number, "confirmed: must be true or false")),
    };
    Ok(Line {
        number,
        email,
        components,
        confirmed,
    })
}

fn split_components(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn yes_or_no(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" | "" => Some(false),
        _ => None,
    }
}

/// Components as a list names them: by id, or by name in any case.
pub struct ComponentNames {
    by_key: HashMap<String, ComponentId>,
}

impl ComponentNames {
    pub fn new(components: &[Component]) -> Self {
        let mut by_key = HashMap::with_capacity(components.len() * 2);
        for c in components {
            by_key.insert(c.name.trim().to_lowercase(), c.id.clone());
        }
        // An id wins over a name that happens to look like it.
        for c in components {
            by_key.insert(c.id.as_str().to_lowercase(), c.id.clone());
        }
        ComponentNames { by_key }
    }

    fn resolve(&self, written: &str) -> Option<&ComponentId> {
        self.by_key.get(&written.trim().to_lowercase())
    }
}

/// The subscriber a line stands for, or why it cannot be one.
pub fn subscriber(
    line: Line,
    names: &ComponentNames,
    id: SubscriberId,
    now: Timestamp,
) -> Result<Subscriber, Refusal> {
    let email = Email::parse(&line.email).map_err(|_| {
        let shown: String = line.email.chars().take(80).collect();
        if shown.is_empty() {
            Refusal::new(line.number, "email: empty")
        } else {
            Refusal::new(
                line.number,
                format!("email: `{shown}` is not a valid email address"),
            )
        }
    })?;
    let mut components = Vec::with_capacity(line.components.len());
    for written in &line.components {
        let id = names.resolve(written).ok_or_else(|| {
            Refusal::new(
                line.number,
                format!("components: there is no component `{written}` (by name or id)"),
            )
        })?;
        components.push(id.clone());
    }
    components.sort();
    components.dedup();
    Ok(Subscriber::email(
        id,
        &email,
        components,
        line.confirmed,
        now,
    ))
}

/// What an import did: counts, and the refused lines (the first
/// `REFUSALS_LISTED` of them in full).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = ImportReport)]
pub struct Report {
    /// Lines read after the header (blank lines not counted).
    pub lines: u64,
    pub added: u64,
    /// Addresses Candor had already (whatever their state: an address that
    /// unsubscribed stays unsubscribed), or that came twice in the file.
    pub already_there: u64,
    pub refused: u64,
    pub refusals: Vec<Refusal>,
}

impl Report {
    pub fn refuse(&mut self, refusal: Refusal) {
        self.refused += 1;
        if self.refusals.len() < REFUSALS_LISTED {
            self.refusals.push(refusal);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::subscriber::SubscriberState;
    use crate::domain::ComponentStatus;

    fn component(id: &str, name: &str) -> Component {
        Component {
            id: ComponentId::from(id.to_string()),
            name: name.to_string(),
            description: None,
            group_id: None,
            position: 0,
            status: ComponentStatus::Operational,
            created_at: Timestamp::UNIX_EPOCH,
            updated_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn names() -> ComponentNames {
        ComponentNames::new(&[
            component("vpn1", "VPN"),
            component("mail2", "Outbound mail"),
        ])
    }

    #[test]
    fn a_header_needs_an_email_column_once() {
        let columns = Columns::from_header(["Email", " components ", "confirmed"]).unwrap();
        assert_eq!(columns.email, 0);
        assert_eq!(columns.components, Some(1));
        assert!(Columns::from_header(["name", "components"]).is_err());
        assert!(Columns::from_header(["email", "email"]).is_err());
        // A byte-order mark before the first name is not part of it.
        assert!(Columns::from_header(["\u{feff}email"]).is_ok());
    }

    #[test]
    fn csv_lines_name_components_by_name_or_id() {
        let columns = Columns::from_header(["email", "components", "confirmed"]).unwrap();
        let line = csv_line(&columns, 2, &["Ann@Acme.test", "vpn; outbound MAIL", "yes"]).unwrap();
        assert!(line.confirmed);
        let s = subscriber(
            line,
            &names(),
            SubscriberId::from("s1".to_string()),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(s.address, "ann@acme.test");
        assert_eq!(s.state, SubscriberState::Confirmed);
        assert_eq!(s.components.len(), 2);
        let line = csv_line(&columns, 3, &["bo@acme.test", "mail2", ""]).unwrap();
        let s = subscriber(
            line,
            &names(),
            SubscriberId::from("s2".to_string()),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(s.state, SubscriberState::Pending);
        assert_eq!(s.components, vec![ComponentId::from("mail2".to_string())]);
    }

    #[test]
    fn refusals_carry_the_line_and_the_reason() {
        let columns = Columns::from_header(["email", "components", "confirmed"]).unwrap();
        let refused = csv_line(&columns, 7, &["a@acme.test", "", "maybe"]).unwrap_err();
        assert_eq!(refused.line, 7);
        assert!(refused.reason.contains("maybe"), "{}", refused.reason);
        let line = csv_line(&columns, 8, &["not-an-address", "", ""]).unwrap();
        let refused = subscriber(
            line,
            &names(),
            SubscriberId::from("x".to_string()),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap_err();
        assert_eq!(refused.line, 8);
        assert!(refused.reason.contains("not-an-address"));
        let line = csv_line(&columns, 9, &["a@acme.test", "printers", ""]).unwrap();
        let refused = subscriber(
            line,
            &names(),
            SubscriberId::from("x".to_string()),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap_err();
        assert!(refused.reason.contains("printers"));
    }

    #[test]
    fn json_lines_take_lists_or_strings() {
        let line = json_line(
            1,
            r#"{"email":"a@acme.test","components":["VPN"],"confirmed":true}"#,
        )
        .unwrap();
        assert_eq!(line.components, vec!["VPN"]);
        assert!(line.confirmed);
        let line = json_line(2, r#"{"email":"a@acme.test","components":"vpn;mail2"}"#).unwrap();
        assert_eq!(line.components.len(), 2);
        assert!(json_line(3, "[1]").is_err());
        assert!(json_line(4, r#"{"email":"a@acme.test","name":"Ann"}"#).is_err());
        assert!(json_line(5, r#"{"email":"a@acme.test","confirmed":"yes"}"#).is_err());
        assert!(json_line(6, "{").is_err());
    }

    #[test]
    fn a_csv_file_begins_with_its_header() {
        let mut reading = Reading::new(Format::Csv);
        assert_eq!(
            reading.line(1, "email,\"components\"").unwrap(),
            Read::Header
        );
        match reading
            .line(2, "\"a@acme.test\",\"VPN;Outbound mail\"")
            .unwrap()
        {
            Read::Line(line) => assert_eq!(line.components, vec!["VPN", "Outbound mail"]),
            other => panic!("{other:?}"),
        }
        let mut reading = Reading::new(Format::Csv);
        assert!(reading.line(1, "a@acme.test,VPN").is_err());
        let mut reading = Reading::new(Format::JsonLines);
        assert!(matches!(reading.line(1, "nope").unwrap(), Read::Refused(r) if r.line == 1));
    }

    #[test]
    fn a_report_lists_the_first_refusals_and_counts_them_all() {
        let mut report = Report::default();
        for i in 0..(REFUSALS_LISTED as u64 + 5) {
            report.refuse(Refusal::new(i, "no"));
        }
        assert_eq!(report.refused, REFUSALS_LISTED as u64 + 5);
        assert_eq!(report.refusals.len(), REFUSALS_LISTED);
    }

    #[test]
    fn media_types_name_the_format() {
        assert_eq!(
            Format::from_media_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::from_media_type("application/x-ndjson"),
            Some(Format::JsonLines)
        );
        assert_eq!(Format::from_media_type("application/json"), None);
    }
}
