//! Uptime of a component over the last 90 days, from its status history:
//! per day (in the page's time zone) the minutes of partial and major
//! outage and the incidents that touched it, and the share of the time
//! without either. Pure: the history, `now` and the zone are passed in.

use jiff::{civil::Date, tz::TimeZone, Timestamp, ToSpan};

use super::{component::Component, ComponentId, ComponentStatus, Incident};

/// How many days the bars cover, today included.
pub const DAYS: i64 = 90;

const MINUTE_MS: i64 = 60_000;

/// One change of a component's status, from its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub at: Timestamp,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
}

/// What a day's bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The component did not exist yet.
    NoData,
    Operational,
    /// Some partial outage, no major one.
    Partial,
    /// Some major outage.
    Major,
}

/// One day of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Day<'a> {
    pub date: Date,
    /// Whole minutes, rounded up: twenty seconds of outage are "1 min", not
    /// nothing.
    pub partial_minutes: i64,
    pub major_minutes: i64,
    /// False for days before the component existed.
    pub tracked: bool,
    /// Incidents affecting the component that were open during the day,
    /// oldest first.
    pub incidents: Vec<&'a Incident>,
}

impl Day<'_> {
    pub fn level(&self) -> Level {
        if !self.tracked {
            Level::NoData
        } else if self.major_minutes > 0 {
            Level::Major
        } else if self.partial_minutes > 0 {
            Level::Partial
        } else {
            Level::Operational
        }
    }
}

/// The bars and the percentage of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Uptime<'a> {
    /// `DAYS` days, oldest first, today last.
    pub days: Vec<Day<'a>>,
    /// Hundredths of a percent of the tracked time without partial or major
    /// outage (10000 = 100%), as of the start of the current minute. Rounded
    /// down, and never 10000 when there was any outage. `None` when no time
    /// was tracked yet.
    pub basis_points: Option<u32>,
    /// Days with data (the component may be younger than the window).
    pub tracked_days: usize,
    /// The next instant at which anything above changes without a new
    /// status change: midnight, the next minute of an ongoing outage, the
    /// next step of the percentage.
    pub next_change: Option<Timestamp>,
}

impl Uptime<'_> {
    /// "99.95%", "100%", or `None` without data.
    pub fn percent(&self) -> Option<String> {
        self.basis_points.map(|bp| match bp {
            10_000 => "100%".to_string(),
            bp => format!("{}.{:02}%", bp / 100, bp % 100),
        })
    }
}

fn is_down(status: ComponentStatus) -> bool {
    matches!(
        status,
        ComponentStatus::PartialOutage | ComponentStatus::MajorOutage
    )
}

fn day_start(date: Date, tz: &TimeZone) -> Option<Timestamp> {
    date.to_zoned(tz.clone()).ok().map(|z| z.timestamp())
}

/// The first instant of the first day the bars show.
pub fn window_start(now: Timestamp, tz: &TimeZone) -> Timestamp {
    let today = now.to_zoned(tz.clone()).date();
    today
        .checked_sub((DAYS - 1).days())
        .ok()
        .and_then(|first| day_start(first, tz))
        .unwrap_or(now)
}

/// The first instant of tomorrow in the zone.
pub fn next_midnight(now: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let today = now.to_zoned(tz.clone()).date();
    today.tomorrow().ok().and_then(|d| day_start(d, tz))
}

fn ms_between(from: Timestamp, to: Timestamp) -> i64 {
    (to.as_millisecond() - from.as_millisecond()).max(0)
}

fn ceil_minutes(ms: i64) -> i64 {
    (ms + MINUTE_MS - 1) / MINUTE_MS
}

/// Hundredths of a percent of `tracked` without `down`, rounded down; never
/// 100% when there was any outage in the window (`any_down`).
fn basis_points(tracked: i64, down: i64, any_down: bool) -> Option<u32> {
    if tracked <= 0 {
        return None;
    }
    let up = i128::from((tracked - down).max(0));
    let raw = (up * 10_000 / i128::from(tracked)) as u32;
    Some(if any_down { raw.min(9_999) } else { raw })
}

/// A stretch of time in one status.
struct Segment {
    from: Timestamp,
    to: Timestamp,
    status: ComponentStatus,
}

/// The statuses from `start` to `now`, from `transitions` oldest first (the
/// last one before `start`, if any, gives the status at `start`).
fn segments(
    current: ComponentStatus,
    transitions: &[Transition],
    start: Timestamp,
    now: Timestamp,
) -> Vec<Segment> {
    let mut status = transitions.first().map_or(current, |t| t.from);
    let mut cursor = start;
    let mut out = Vec::new();
    for t in transitions {
        if t.at > now {
            break;
        }
        if t.at > cursor {
            out.push(Segment {
                from: cursor,
                to: t.at,
                status,
            });
            cursor = t.at;
        }
        status = t.to;
    }
    if now > cursor {
        out.push(Segment {
            from: cursor,
            to: now,
            status,
        });
    }
    out
}

/// The uptime of `component` as of `now`. `transitions` are its own status
/// changes, oldest first; `incidents` may be any incidents (those that list
/// the component are kept).
pub fn of_component<'a>(
    component: &Component,
    transitions: &[Transition],
    incidents: &'a [Incident],
    now: Timestamp,
    tz: &TimeZone,
) -> Uptime<'a> {
    let history = History {
        ids: vec![&component.id],
        status: component.status,
        created_at: component.created_at,
        transitions,
    };
    of_history(&history, incidents, now, tz)
}

/// The uptime of a group as readers see it: down whenever the group or any
/// of its members was down, as bad as the worst of them, with the incidents
/// of all of them. `transitions(id)` gives each one's own changes.
pub fn of_group<'a, 't>(
    group: &Component,
    members: &[&Component],
    transitions: impl Fn(&ComponentId) -> &'t [Transition],
    incidents: &'a [Incident],
    now: Timestamp,
    tz: &TimeZone,
) -> Uptime<'a> {
    let all: Vec<&Component> = std::iter::once(group)
        .chain(members.iter().copied())
        .collect();
    let merged = worst_of(&all, &transitions);
    let history = History {
        ids: all.iter().map(|c| &c.id).collect(),
        status: all
            .iter()
            .map(|c| c.status)
            .max_by_key(|s| s.severity())
            .unwrap_or(group.status),
        created_at: all
            .iter()
            .map(|c| c.created_at)
            .min()
            .unwrap_or(group.created_at),
        transitions: &merged,
    };
    of_history(&history, incidents, now, tz)
}

/// The changes of the worst status among `components`, oldest first, from
/// each one's own changes.
fn worst_of<'t>(
    components: &[&Component],
    transitions: &impl Fn(&ComponentId) -> &'t [Transition],
) -> Vec<Transition> {
    // Each one's status before its first change (as `segments` reads it).
    let mut status: Vec<ComponentStatus> = components
        .iter()
        .map(|c| transitions(&c.id).first().map_or(c.status, |t| t.from))
        .collect();
    let worst = |status: &[ComponentStatus]| {
        status
            .iter()
            .copied()
            .max_by_key(|s| s.severity())
            .unwrap_or(ComponentStatus::Operational)
    };
    let mut all: Vec<(usize, Transition)> = components
        .iter()
        .enumerate()
        .flat_map(|(i, c)| transitions(&c.id).iter().map(move |t| (i, *t)))
        .collect();
    all.sort_by_key(|(_, t)| t.at);
    let mut merged = Vec::new();
    for (i, t) in all {
        let before = worst(&status);
        status[i] = t.to;
        let after = worst(&status);
        if after != before {
            merged.push(Transition {
                at: t.at,
                from: before,
                to: after,
            });
        }
    }
    merged
}

/// A status history: one component's, or a group's merged one.
struct History<'h> {
    ids: Vec<&'h ComponentId>,
    /// The status now.
    status: ComponentStatus,
    created_at: Timestamp,
    transitions: &'h [Transition],
}

fn of_history<'a>(
    history: &History<'_>,
    incidents: &'a [Incident],
    now: Timestamp,
    tz: &TimeZone,
) -> Uptime<'a> {
    let window = window_start(now, tz);
    let start = window.max(history.created_at);
    let segments = segments(history.status, history.transitions, start, now);
    let mut affecting: Vec<&Incident> = incidents
        .iter()
        .filter(|i| {
            history
                .ids
                .iter()
                .any(|id| i.state.components.contains_key(*id))
        })
        .collect();
    affecting.sort_by_key(|i| (i.state.started_at, i.created_at));
    let first = window.to_zoned(tz.clone()).date();
    let (days, down_ms) = days(first, &segments, &affecting, start, now, tz);

    // The percentage is of whole minutes of the clock: it moves at most
    // once a minute, however young the component, so a page showing it is
    // re-rendered at most once a minute for it.
    let percent = Percent {
        segments: &segments,
        start,
        any_down: down_ms > 0,
    };
    let minute = Timestamp::from_second(now.as_second().div_euclid(60) * 60).unwrap_or(now);
    let basis_points = percent.at(minute);
    let next_change = next_change(&percent, &days, basis_points, minute, now, tz);
    Uptime {
        tracked_days: days.iter().filter(|d| d.tracked).count(),
        days,
        basis_points,
        next_change,
    }
}

/// The `DAYS` bars from the window's `first` day, and the milliseconds
/// down in all of them.
fn days<'a>(
    first: Date,
    segments: &[Segment],
    affecting: &[&'a Incident],
    start: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> (Vec<Day<'a>>, i64) {
    let mut days = Vec::with_capacity(DAYS as usize);
    let mut down_ms = 0i64;
    let mut date = first;
    for _ in 0..DAYS {
        let next = date.tomorrow().ok();
        let (Some(ds), Some(de)) = (day_start(date, tz), next.and_then(|d| day_start(d, tz)))
        else {
            break;
        };
        let (from, to) = (ds.max(start), de.min(now));
        let tracked = to > from;
        let (mut partial, mut major) = (0i64, 0i64);
        if tracked {
            for s in segments.iter().filter(|s| is_down(s.status)) {
                let ms = ms_between(s.from.max(from), s.to.min(to));
                match s.status {
                    ComponentStatus::MajorOutage => major += ms,
                    _ => partial += ms,
                }
            }
            down_ms += partial + major;
        }
        let day_incidents = if tracked {
            affecting
                .iter()
                .copied()
                .filter(|i| {
                    i.state.started_at < de && i.state.resolved_at.is_none_or(|end| end >= ds)
                })
                .collect()
        } else {
            Vec::new()
        };
        days.push(Day {
            date,
            partial_minutes: ceil_minutes(partial),
            major_minutes: ceil_minutes(major),
            tracked,
            incidents: day_incidents,
        });
        match next {
            Some(n) => date = n,
            None => break,
        }
    }
    (days, down_ms)
}

/// The uptime percentage of the segments since `start`.
struct Percent<'s> {
    segments: &'s [Segment],
    start: Timestamp,
    any_down: bool,
}

impl Percent<'_> {
    /// At `at`, with the status of now lasting until then if `at` is later.
    fn at(&self, at: Timestamp) -> Option<u32> {
        let tracked = ms_between(self.start, at);
        let last = self.segments.len().saturating_sub(1);
        let down: i64 = self
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| is_down(s.status))
            .map(|(i, s)| {
                let end = if i == last { at } else { s.to.min(at) };
                ms_between(s.from.max(self.start), end)
            })
            .sum();
        basis_points(tracked, down, self.any_down)
    }
}

/// The next instant the bars or the percentage read differently: midnight,
/// the ongoing outage's next minute, or the percentage's next move.
fn next_change(
    percent: &Percent<'_>,
    days: &[Day<'_>],
    basis_points: Option<u32>,
    minute: Timestamp,
    now: Timestamp,
    tz: &TimeZone,
) -> Option<Timestamp> {
    let segments = percent.segments;
    let mut next_change = next_midnight(now, tz);
    let status_now = segments.last().map(|s| s.status);
    if let (Some(status), Some(today)) = (status_now.filter(|s| is_down(*s)), days.last()) {
        // The minute counter of the ongoing outage goes up…
        let today_start = day_start(today.date, tz).unwrap_or(now).max(percent.start);
        let so_far: i64 = segments
            .iter()
            .filter(|s| s.status == status)
            .map(|s| ms_between(s.from.max(today_start), s.to))
            .sum();
        let delay = ceil_minutes(so_far) * MINUTE_MS + 1 - so_far;
        if let Ok(at) = now.checked_add(jiff::SignedDuration::from_millis(delay)) {
            if next_change.is_none_or(|n| at < n) {
                next_change = Some(at);
            }
        }
    }
    // …and the percentage moves, at the first minute where it reads
    // differently, assuming the status stays as it is now.
    let settled = basis_points == Some(10_000) && !status_now.is_some_and(is_down);
    if !settled {
        let mut at = minute;
        loop {
            at = match at.checked_add(jiff::SignedDuration::from_mins(1)) {
                Ok(at) => at,
                Err(_) => break,
            };
            if next_change.is_some_and(|n| at >= n) {
                break;
            }
            if percent.at(at) != basis_points {
                next_change = Some(at);
                break;
            }
        }
    }
    next_change
}

#[cfg(test)]
mod tests;
