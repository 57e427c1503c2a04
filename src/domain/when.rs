//! Times as people type them, read in the page's time zone: a clock time
//! ("16:00"), a date and time, RFC 3339, or a span from now ("+2h",
//! "30m"). Pure: "now" is passed in.

use jiff::{civil, tz::TimeZone, SignedDuration, Timestamp};

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

/// A span from now as typed: `30m`, `+2h`, `90s`, `1d`, `1h30m`.
pub fn span(raw: &str) -> Option<SignedDuration> {
    let text = raw.trim().trim_start_matches('+');
    if text.is_empty() {
        return None;
    }
    let mut total = SignedDuration::ZERO;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            's' => SignedDuration::from_secs(n),
            'm' => SignedDuration::from_mins(n),
            'h' => SignedDuration::from_hours(n),
            'd' => SignedDuration::from_hours(n.checked_mul(24)?),
            _ => return None,
        };
        total = total.checked_add(unit)?;
    }
    number.is_empty().then_some(total)
}

/// A time as typed on a command line: a span from now, or an instant
/// (`local_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    In(SignedDuration),
    At(Timestamp),
}

/// Reads `raw` as a span from now or as an instant in the page's zone.
pub fn typed(raw: &str, tz: &TimeZone, now: Timestamp) -> Result<Typed, String> {
    if let Some(span) = span(raw) {
        return Ok(Typed::In(span));
    }
    match local_time(raw, tz, now)? {
        Some(at) => Ok(Typed::At(at)),
        None => Err("is empty".into()),
    }
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
    }

    #[test]
    fn spans_are_read_from_now() {
        assert_eq!(span("30m"), Some(SignedDuration::from_mins(30)));
        assert_eq!(span("+2h"), Some(SignedDuration::from_hours(2)));
        assert_eq!(span("1h30m"), Some(SignedDuration::from_mins(90)));
        assert_eq!(span("1d"), Some(SignedDuration::from_hours(24)));
        assert_eq!(span("16:00"), None);
        assert_eq!(span("30"), None);
        assert_eq!(span("soon"), None);
        let now: Timestamp = "2026-03-04T09:00:00Z".parse().unwrap();
        assert_eq!(
            typed("+2h", &cet(), now),
            Ok(Typed::In(SignedDuration::from_hours(2)))
        );
        assert_eq!(
            typed("16:00", &cet(), now),
            Ok(Typed::At("2026-03-04T15:00:00Z".parse().unwrap()))
        );
        assert!(typed("", &cet(), now).is_err());
    }
}
