//! Until when a rendering is true: the next instant its words change by
//! themselves.

use axum::response::{IntoResponseParts, ResponseParts};
use jiff::{tz::TimeZone, Timestamp};

use crate::domain::{uptime, Incident};

/// Until when a rendering says only true things. The cache keeps a response
/// only if its handler adds one (as a response part); `Until::default()`
/// means "until the state changes".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Until(Option<Timestamp>);

impl Until {
    pub fn at(at: Timestamp) -> Self {
        Self(Some(at))
    }

    pub fn instant(self) -> Option<Timestamp> {
        self.0
    }

    /// The earlier of the two.
    pub fn and(self, at: Option<Timestamp>) -> Self {
        match (self.0, at) {
            (Some(a), Some(b)) => Self(Some(a.min(b))),
            (a, b) => Self(a.or(b)),
        }
    }

    /// Times are written relative to today ("10:30 CET" today, "4 Mar 10:30
    /// CET" on another day), so every page with times changes at midnight.
    pub fn dates(now: Timestamp, tz: &TimeZone) -> Self {
        Self(uptime::next_midnight(now, tz))
    }

    /// What is said of an open incident in JSON: `overdue`, `eta_passed`.
    pub fn facts(self, incident: &Incident, now: Timestamp) -> Self {
        self.and(incident.next_change_after(now))
    }

    /// What is said of an open incident in words: the facts, and the
    /// distance to its promised update and ETA ("in 12 min").
    pub fn words(self, incident: &Incident, now: Timestamp) -> Self {
        if incident.is_resolved() {
            return self;
        }
        incident
            .promised_times()
            .into_iter()
            .flatten()
            .fold(self.facts(incident, now), |until, at| {
                until.and(relative_changes_after(at, now))
            })
    }
}

impl IntoResponseParts for Until {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// The next instant at which `facts::relative(at, now)` ("in 12 min",
/// "7 min ago", shown within two hours) reads differently, to the second.
pub fn relative_changes_after(at: Timestamp, now: Timestamp) -> Option<Timestamp> {
    // Mirrors `facts::relative`: whole minutes of (at − now) in whole
    // seconds, truncated toward zero, shown from −120 to 120.
    const SHOWN_UNTIL: i64 = 121 * 60 - 1;
    let (now_s, d) = (now.as_second(), at.as_second() - now.as_second());
    let delay = if d > SHOWN_UNTIL {
        // Comes into view at "in 2 h 0 min".
        d - SHOWN_UNTIL
    } else if d >= 60 {
        d % 60 + 1
    } else if d > 0 {
        // "now" lasts from 59 s before to 59 s after.
        d + 60
    } else if -d / 60 <= 120 {
        60 * (-d / 60 + 1) + d
    } else {
        return None;
    };
    Timestamp::from_second(now_s + delay).ok()
}
