//! The honest wording of an incident's facts, shared by the page, mails and
//! feeds (shared/reference/voice.md). Pure: `now` and the zone are passed in.

use jiff::{tz::TimeZone, Timestamp, Zoned};

use super::{incident::Promise, ComponentStatus, Impact, Incident, IncidentState, IncidentStatus};

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
        m if !(-120..=120).contains(&m) => None,
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

/// "Sat 28 Nov, 00:12–00:41 CET", or with both dates when it crossed
/// midnight: "Sat 28 Nov 23:50 – Sun 29 Nov 01:10 CET". The year only when
/// not the current one.
pub fn span(from: Timestamp, to: Timestamp, now: Timestamp, tz: &TimeZone) -> String {
    let (from, to) = (from.to_zoned(tz.clone()), to.to_zoned(tz.clone()));
    let this_year = now.to_zoned(tz.clone()).year();
    let day = |at: &Zoned| {
        if at.year() == this_year {
            at.strftime("%a %-d %b").to_string()
        } else {
            at.strftime("%a %-d %b %Y").to_string()
        }
    };
    let zone = to.strftime("%Z");
    if from.date() == to.date() {
        format!(
            "{}, {}–{} {zone}",
            day(&from),
            from.strftime("%H:%M"),
            to.strftime("%H:%M")
        )
    } else {
        format!(
            "{} {} – {} {} {zone}",
            day(&from),
            from.strftime("%H:%M"),
            day(&to),
            to.strftime("%H:%M")
        )
    }
}

/// How long something lasted, in words: "under a minute", "41 min",
/// "2 h 41 min", "3 days 4 h".
pub fn duration(from: Timestamp, to: Timestamp) -> String {
    let minutes = (to.as_second() - from.as_second()).max(0) / 60;
    match minutes {
        0 => "under a minute".into(),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 && m % 60 == 0 => format!("{} h", m / 60),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m if (m / 60) % 24 == 0 => format!("{} days", m / (24 * 60)),
        m => format!("{} days {} h", m / (24 * 60), (m / 60) % 24),
    }
}

pub fn month_heading(at: Timestamp, tz: &TimeZone) -> String {
    at.to_zoned(tz.clone()).strftime("%B %Y").to_string()
}

/// A sentence of facts in which times are marked, so that a page can put
/// them in `<time>` and a mail can print them as they are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line(pub Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Time { at: Timestamp, shown: String },
}

impl Line {
    fn text(mut self, text: impl Into<String>) -> Self {
        self.0.push(Part::Text(text.into()));
        self
    }
    fn time(mut self, at: Timestamp, shown: String) -> Self {
        self.0.push(Part::Time { at, shown });
        self
    }
    /// A time with its relative distance in brackets when near.
    fn time_near(self, at: Timestamp, now: Timestamp, tz: &TimeZone) -> Self {
        let line = self.time(at, when(at, now, tz));
        match relative(at, now) {
            Some(rel) => line.text(format!(" ({rel})")),
            None => line,
        }
    }
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                Part::Text(text) => f.write_str(text)?,
                Part::Time { shown, .. } => f.write_str(shown)?,
            }
        }
        Ok(())
    }
}

pub fn owner_line(incident: &Incident) -> Line {
    Line::default().text(format!("Owner: {}", incident.state.owner.name))
}

pub fn cause_line(state: &IncidentState) -> Line {
    Line::default().text(match &state.cause {
        Some(cause) => format!("Cause: {cause}"),
        None if state.status == IncidentStatus::Resolved => "Cause: not stated".into(),
        None => "Cause: not yet known — we will say as soon as we know.".into(),
    })
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
pub fn eta_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Line {
    let Some(eta) = incident.state.eta else {
        return Line::default().text(if incident.is_resolved() {
            "No ETA was given"
        } else {
            "No ETA yet"
        });
    };
    if incident.eta_passed(now) {
        return Line::default()
            .text("ETA ")
            .time(eta, when(eta, now, tz))
            .text(" passed — no new estimate yet");
    }
    let line = Line::default().text("ETA: ").time_near(eta, now, tz);
    match eta_moves(incident) {
        (Some(was), moves) if moves > 0 => line
            .text(" (was ")
            .time(was, clock_time(was, tz))
            .text(format!("; moved {})", times(moves))),
        _ => line,
    }
}

/// "Next update by 10:30 CET (in 12 min)" or "Update overdue since 10:30 CET".
pub fn next_update_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Option<Line> {
    let at = incident
        .state
        .next_update_at
        .filter(|_| !incident.is_resolved())?;
    Some(if incident.overdue(now) {
        Line::default()
            .text("Update overdue since ")
            .time(at, when(at, now, tz))
            .text(format!(
                " — {} has been reminded",
                incident.state.owner.name
            ))
    } else {
        Line::default()
            .text("Next update by ")
            .time_near(at, now, tz)
    })
}

/// A promise to readers that an open incident has broken by now: the
/// promised update has not come, or the ETA passed without resolution.
/// Readers who never open the page (feeds) get it as a notice from Candor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// `Promise::NextUpdate` or `Promise::Eta`.
    pub promise: Promise,
    /// The promised time: the instant the promise broke.
    pub at: Timestamp,
    /// What a notice leads with, like a mail subject: "Update overdue".
    pub label: &'static str,
    /// What follows the title: "promised for 10:30 CET".
    pub headline: String,
    /// The page's own sentence: "Update overdue since 10:30 CET — Dana
    /// (IT Ops) has been reminded", "ETA 14:00 CET passed — no new estimate yet".
    pub line: Line,
    /// What ends it, so that a notice says when it will go.
    pub until: &'static str,
}

/// The promises `incident` has broken by `now`, the earliest first, in the
/// words of the page (`next_update_line`, `eta_line`).
pub fn broken_promises(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Vec<Broken> {
    let mut broken = Vec::new();
    if let (true, Some(at), Some(line)) = (
        incident.overdue(now),
        incident.state.next_update_at,
        next_update_line(incident, now, tz),
    ) {
        broken.push(Broken {
            promise: Promise::NextUpdate,
            at,
            label: "Update overdue",
            headline: format!("promised for {}", when(at, now, tz)),
            line,
            until: "It is withdrawn as soon as staff post an update.",
        });
    }
    if let (true, Some(at)) = (incident.eta_passed(now), incident.state.eta) {
        broken.push(Broken {
            promise: Promise::Eta,
            at,
            label: "ETA passed",
            headline: format!("{}, no new estimate yet", when(at, now, tz)),
            line: eta_line(incident, now, tz),
            until: "It is withdrawn as soon as staff give a new estimate, \
                    withdraw this one, or resolve the incident.",
        });
    }
    broken.sort_by_key(|b| b.at);
    broken
}

/// What one entry said, for its place in the timeline.
pub fn entry_facts(state: &IncidentState, now: Timestamp, tz: &TimeZone) -> Line {
    if let Some(plan) = &state.schedule {
        // Planned work: the plan as this entry left it.
        let (from, until) = (plan.scheduled_for, plan.scheduled_until);
        return Line::default()
            .text("Planned: ")
            .time(from, span(from, until, now, tz));
    }
    if state.status == IncidentStatus::Resolved {
        // Resolved: what was fixed matters, not the estimate it had.
        return cause_line(state);
    }
    let mut line = cause_line(state).text(" · ");
    line = match state.eta {
        Some(eta) => line.text("ETA: ").time(eta, when(eta, now, tz)),
        None => line.text("No ETA"),
    };
    if let Some(next) = state.next_update_at {
        line = line
            .text(" · Next update promised by ")
            .time(next, when(next, now, tz));
    }
    line
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
            Some(1) => Overall::Minor,
            // An open incident of no impact (a notice) does not darken the banner.
            _ => Overall::Operational,
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
        if worst == Overall::Operational && statuses.contains(&ComponentStatus::UnderMaintenance) {
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

    /// The Statuspage `status.description`: Statuspage's exact words, which
    /// widgets and clients show as they are.
    pub fn description(self) -> &'static str {
        match self {
            Overall::Operational => "All Systems Operational",
            Overall::Minor => "Minor Service Outage",
            Overall::Partial => "Partial System Outage",
            Overall::Major => "Major System Outage",
            Overall::Maintenance => "Service Under Maintenance",
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

/// A maintenance's plan in words: "Planned: Sat 5 Dec, 22:00–23:00 CET",
/// "Planned to end at 23:00 CET (in 20 min)", or, once it outlasts its
/// plan, "Planned to end at 23:00 CET — still in progress". `None` for an
/// incident, or a maintenance that is over.
pub fn plan_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Option<Line> {
    let plan = incident.state.schedule.as_ref()?;
    let (from, until) = (plan.scheduled_for, plan.scheduled_until);
    match incident.state.status {
        IncidentStatus::Scheduled => {
            let line = Line::default()
                .text("Planned: ")
                .time(from, span(from, until, now, tz));
            Some(match relative(from, now) {
                Some(rel) => line.text(format!(" (starts {rel})")),
                None => line,
            })
        }
        s if s.is_final() => None,
        _ if incident.overrunning(now) => Some(
            Line::default()
                .text("Planned to end at ")
                .time(until, when(until, now, tz))
                .text(" — still in progress"),
        ),
        _ => Some(
            Line::default()
                .text("Planned to end at ")
                .time_near(until, now, tz),
        ),
    }
}

/// "Completed 22:41 CET, 19 min early" or "Cancelled 20:00 CET": how a
/// maintenance ended. `None` until it has.
pub fn ended_line(incident: &Incident, now: Timestamp, tz: &TimeZone) -> Option<Line> {
    let plan = incident.state.schedule.as_ref()?;
    let at = incident.state.resolved_at?;
    let line = match incident.state.status {
        IncidentStatus::Completed => Line::default()
            .text("Completed ")
            .time(at, when(at, now, tz)),
        IncidentStatus::Cancelled => Line::default()
            .text("Cancelled ")
            .time(at, when(at, now, tz)),
        _ => return None,
    };
    Some(
        if incident.state.status == IncidentStatus::Completed && at < plan.scheduled_until {
            line.text(format!(
                ", {} before the planned end",
                duration(at, plan.scheduled_until)
            ))
        } else {
            line
        },
    )
}

#[cfg(test)]
mod tests {
    use super::duration;

    #[test]
    fn durations_read_as_a_person_says_them() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let from = at("2026-03-04T08:00:00Z");
        assert_eq!(duration(from, at("2026-03-04T08:00:40Z")), "under a minute");
        assert_eq!(duration(from, at("2026-03-04T08:41:00Z")), "41 min");
        assert_eq!(duration(from, at("2026-03-04T10:00:00Z")), "2 h");
        assert_eq!(duration(from, at("2026-03-04T10:41:00Z")), "2 h 41 min");
        assert_eq!(duration(from, at("2026-03-07T08:00:00Z")), "3 days");
        assert_eq!(duration(from, at("2026-03-07T12:10:00Z")), "3 days 4 h");
    }
}
