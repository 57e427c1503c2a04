//! What a console form sent: `application/x-www-form-urlencoded` pairs,
//! repeated keys kept, and the times people type, read in the page's zone.

use jiff::{civil, tz::TimeZone, Timestamp};

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

/// A time as typed: empty is none; `YYYY-MM-DDTHH:MM` (a browser's
/// `datetime-local`) or `YYYY-MM-DD HH:MM` in the page's zone; `HH:MM`
/// today in that zone (tomorrow if that time has passed today); or RFC 3339.
pub fn local_time(raw: &str, tz: &TimeZone, now: Timestamp) -> Result<Option<Timestamp>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(at) = raw.parse::<Timestamp>() {
        return Ok(Some(at));
    }
    let bad = || "is not a time like 2026-03-04 16:00 or 16:00".to_string();
    // Only a time alone is a time today: jiff also reads a time out of a
    // date and time, whose date must then count.
    let time_alone = !raw.contains(['-', 'T', ' ']);
    let at = if let Some(time) = raw.parse::<civil::Time>().ok().filter(|_| time_alone) {
        let today = now.to_zoned(tz.clone()).date();
        let at = in_zone(today.to_datetime(time), tz).ok_or_else(bad)?;
        if at > now {
            at
        } else {
            let tomorrow = today.tomorrow().map_err(|_| bad())?;
            in_zone(tomorrow.to_datetime(time), tz).ok_or_else(bad)?
        }
    } else {
        let datetime = raw
            .replacen(' ', "T", 1)
            .parse::<civil::DateTime>()
            .map_err(|_| bad())?;
        in_zone(datetime, tz).ok_or_else(bad)?
    };
    Ok(Some(at))
}

fn in_zone(datetime: civil::DateTime, tz: &TimeZone) -> Option<Timestamp> {
    tz.to_ambiguous_zoned(datetime)
        .compatible()
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// A time as a `datetime-local` field shows it, in the page's zone.
pub fn field_time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cet() -> TimeZone {
        TimeZone::get("Europe/Berlin").unwrap()
    }

    #[test]
    fn times_are_read_in_the_pages_zone() {
        let now: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        let at = |raw| local_time(raw, &cet(), now).unwrap().unwrap().to_string();
        assert_eq!(at("2026-03-04T16:00"), "2026-03-04T15:00:00Z");
        assert_eq!(at("2026-03-04 16:00"), "2026-03-04T15:00:00Z");
        assert_eq!(
            at("2026-03-04T09:30"),
            "2026-03-04T08:30:00Z",
            "passed, as typed"
        );
        assert_eq!(at("16:00"), "2026-03-04T15:00:00Z");
        assert_eq!(
            at("09:30"),
            "2026-03-05T08:30:00Z",
            "passed today: tomorrow"
        );
        assert_eq!(at("2026-03-04T15:00:00Z"), "2026-03-04T15:00:00Z");
        assert_eq!(local_time("  ", &cet(), now), Ok(None));
        assert!(local_time("soon", &cet(), now).is_err());
        assert_eq!(
            field_time("2026-03-04T15:00:00Z".parse().unwrap(), &cet()),
            "2026-03-04T16:00"
        );
    }

    #[test]
    fn repeated_keys_are_kept() {
        let form = Form::parse(b"a=1&component.x=major_outage&component.y=&a=2&t=+hi+");
        assert_eq!(form.get("a"), Some("1"));
        assert_eq!(form.text("t"), "hi");
        let components: Vec<_> = form.with_prefix("component.").collect();
        assert_eq!(components, [("x", "major_outage"), ("y", "")]);
    }
}
