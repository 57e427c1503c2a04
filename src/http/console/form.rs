//! What a console form sent: `application/x-www-form-urlencoded` pairs,
//! repeated keys kept, and the times people type, read in the page's zone.

use jiff::{tz::TimeZone, Timestamp};

/// The pairs of a posted form, in order.
pub struct Form(Vec<(String, String)>);

/// At most this many fields are read: a form has a few dozen, and one
/// select per component.
const MAX_FIELDS: usize = 2000;

impl Form {
    pub fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .take(MAX_FIELDS)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, trimmed, or "".
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    /// Every `(rest, value)` of keys `prefix` + rest.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(key, value)| {
            key.strip_prefix(prefix).map(|rest| (rest, value.as_str()))
        })
    }
}

pub use crate::domain::when::local_time;

/// A time as a `datetime-local` field shows it, in the page's zone.
pub fn field_time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_kept() {
        let form = Form::parse(b"a=1&component.x=major_outage&component.y=&a=2&t=+hi+");
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.text("t"), "hi");
        let components: Vec<_> = form.with_prefix("component.").collect();
        assert_eq!(components, [("x", "major_outage"), ("y", "")]);
    }

    #[test]
    fn a_field_shows_a_time_in_the_pages_zone() {
        let cet = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            field_time("2026-03-04T15:00:00Z".parse().unwrap(), &cet),
            "2026-03-04T16:00"
        );
    }
}
