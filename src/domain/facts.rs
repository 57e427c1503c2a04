//! The honest wording of an incident's facts, shared by the page, mails and
//! feeds (shared/reference/voice.md). Pure: `now` and the zone are passed in.

use jiff::{tz::TimeZone, Timestamp, Zoned};

use super::{ComponentStatus, Impact, Incident};

/// "10:30 CET" today, "4 Mar 10:30 CET" this year, "4 Mar 2025 10:30 CET" before.
pub fn when(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let at = at.to_zoned(tz.clone());
    let now = now.to_zoned(tz.clone());
    if at.date() == now.date() {
        at.strftime("%H:%M %Z").to_string()
    } else if at.year() == now.year() {
        at.strftime("%-d %b %H:%M %Z").to_string()
    } else {
        at.strftime("%-d %b %Y %H:%M %Z").to_string()
    }
}

/// "10:30", for times whose day and zone are already clear.
pub fn clock_time(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%H:%M").to_string()
}

/// "in 12 min", "7 min ago": only when near (within two hours).
pub fn relative(at: Timestamp, now: Timestamp) -> Option<String> {
    let minutes = (at.as_second() - now.as_second()) / 60;
    let text = |m: i64| {
        if m >= 60 {
            format!("{} h {} min", m / 60, m % 60)
        } else {
            format!("{m} min")
        }
    };
    match minutes {
        m if m > 120 || m < -120 => None,
        0 => Some("now".into()),
        m if m > 0 => Some(format!("in {}", text(m))),
        m => Some(format!("{} ago", text(-m))),
    }
}

/// `when` plus the relative time in brackets when near.
pub fn when_with_relative(at: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    match relative(at, now) {
        Some(rel) => format!("{} ({rel})", when(at, now, tz)),
        None => when(at, now, tz),
    }
}

pub fn month_heading(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%B %Y").to_string()
}

pub fn owner_line(incident: &Incident) -> String {
    format!("Owner: {}", incident.state.owner.name)
}

pub fn cause_line(incident: &Incident) -> String {
    match &incident.state.cause {
        Some(cause) => format!("Cause: {cause}"),
        None if incident.is_resolved() => "Cause: not stated".into(),
        None => "Cause: not yet known — we will say as soon as we know.".into(),
    }
}

fn times(n: usize) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// How the ETA moved: the previous estimate, and how many times it moved.
pub fn eta_moves(incident: &Incident) -> (Option<Timestamp>, usize) {
    let values: Vec<Option<Timestamp>> = incident.eta_history.iter().map(|c| c.eta).collect();
    let moves = values
        .windows(2)
        .filter(|w| w[0].is_some() && w[1].is_some())
        .count();
    let current = incident.state.eta;
    let previous = values
        .iter()
        .rev()
        .flatten()
        .find(|eta| Some(**eta) != current)
        .copied();
    (previous, moves)
}

/// "ETA: 16:00 CET (was 14:00; moved once)", "No ETA yet", or the passed ETA.
pub fn eta_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> String {
    let Some(eta) = incident.state.eta else {
        return if incident.is_resolved() {
            "No ETA was given".into()
        } else {
            "No ETA yet".into()
        };
    };
    if incident.eta_passed(now) {
        return format!("ETA {} passed — no new estimate yet", when(eta, now, tz));
    }
    let (previous, moves) = eta_moves(incident);
    match previous {
        Some(was) if moves > 0 => format!(
            "ETA: {} (was {}; moved {})",
            when_with_relative(eta, now, tz),
            clock_time(was, tz),
            times(moves)
        ),
        _ => format!("ETA: {}", when_with_relative(eta, now, tz)),
    }
}

/// "Next update by 10:30 CET (in 12 min)" or "Update overdue since 10:30 CET".
pub fn next_update_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Option<String> {
    let at = incident.state.next_update_at.filter(|_| !incident.is_resolved())?;
    Some(if incident.overdue(now) {
        format!(
            "Update overdue since {} — {} has been reminded",
            when(at, now, tz),
            incident.state.owner.name
        )
    } else {
        format!("Next update by {}", when_with_relative(at, now, tz))
    })
}

/// The overall state in words, from the worst impact and component status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overall {
    Operational,
    Minor,
    Partial,
    Major,
    Maintenance,
}

impl Overall {
    pub fn of(
        open_impacts: impl IntoIterator<Item = Impact>,
        components: impl IntoIterator<Item = ComponentStatus>,
    ) -> Overall {
        let worst_impact = open_impacts.into_iter().map(Impact::rank).max();
        let statuses: Vec<ComponentStatus> = components.into_iter().collect();
        let worst_component = statuses.iter().map(|s| s.severity()).max().unwrap_or(0);
        let by_component = match worst_component {
            4 => Overall::Major,
            3 => Overall::Partial,
            2 => Overall::Minor,
            _ => Overall::Operational,
        };
        let by_impact = match worst_impact {
            Some(3) => Overall::Major,
            Some(2) => Overall::Partial,
            Some(_) => Overall::Minor,
            None => Overall::Operational,
        };
        let rank = |o: Overall| match o {
            Overall::Operational | Overall::Maintenance => 0,
            Overall::Minor => 1,
            Overall::Partial => 2,
            Overall::Major => 3,
        };
        let worst = if rank(by_impact) >= rank(by_component) {
            by_impact
        } else {
            by_component
        };
        if worst == Overall::Operational
            && statuses.contains(&ComponentStatus::UnderMaintenance)
        {
            Overall::Maintenance
        } else {
            worst
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Overall::Operational => "All systems operational",
            Overall::Minor => "Minor service outage",
            Overall::Partial => "Partial system outage",
            Overall::Major => "Major system outage",
            Overall::Maintenance => "Scheduled maintenance in progress",
        }
    }

    /// The Statuspage `status.indicator`.
    pub fn indicator(self) -> &'static str {
        match self {
            Overall::Operational => "none",
            Overall::Minor => "minor",
            Overall::Partial => "major",
            Overall::Major => "critical",
            Overall::Maintenance => "maintenance",
        }
    }

    pub fn css(self) -> &'static str {
        self.indicator()
    }
}

/// Convenience for views: the zoned time for `<time datetime>`.
pub fn zoned(at: Timestamp, tz: &TimeZone) -> Zoned {
    at.to_zoned(tz.clone())
}
