//! Monitoring alerts (DESIGN.md §1.9): which component an alert is about,
//! and what automation may say about it — and no more. An alert may open an
//! incident (cause not yet known, no ETA, the on-call owner, a promised next
//! update), make it worse, or move it to `monitoring` when every alert has
//! cleared. It never resolves, never posts twice for one alert, and steps
//! aside once a person has posted. Every alert is kept, posted or not.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::incident::{Context, Entry, Incident, NextUpdate, OpenIncident, Patch, PostUpdate};
use super::{
    Command, ComponentId, ComponentStatus, DomainError, Impact, IncidentId, IncidentStatus,
    Message, Owner, Title,
};

/// The longest alert key (fingerprint, monitor id, generic key) kept.
pub const MAX_KEY: usize = 200;

/// The tool an alert came from, as its receiver names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AlertSource {
    Alertmanager,
    Grafana,
    UptimeKuma,
    Generic,
}

impl AlertSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::Grafana => "grafana",
            Self::UptimeKuma => "uptime-kuma",
            Self::Generic => "generic",
        }
    }

    /// The tool's name as readers know it (the generic receiver names its
    /// own source).
    pub fn words(self) -> &'static str {
        match self {
            Self::Alertmanager => "Alertmanager",
            Self::Grafana => "Grafana",
            Self::UptimeKuma => "Uptime Kuma",
            Self::Generic => "monitoring",
        }
    }
}

/// Whether the tool says the problem is there or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One alert as a tool reported it, in Candor's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub source: AlertSource,
    /// Who noticed, as the page names it: "Alertmanager", or the generic
    /// receiver's `source`.
    pub origin: String,
    /// What tells repeats of one alert apart from other alerts: the tool's
    /// fingerprint, monitor id or key.
    pub key: String,
    pub status: AlertStatus,
    /// The tool's one-line summary, if it gave one.
    pub summary: Option<String>,
    /// Labels the mapping reads (`service`, `severity`, `candor_component`).
    pub labels: BTreeMap<String, String>,
    /// A component the alert names itself (`candor_component`, the generic
    /// `component`).
    pub component: Option<String>,
    /// Uptime Kuma: the monitor's name.
    pub monitor: Option<String>,
    pub severity: Option<String>,
    /// When the tool says the problem began.
    pub started_at: Option<Timestamp>,
}

impl Alert {
    /// Checks what the tool sent: a key, one-line bounded texts.
    pub fn check(self) -> Result<Alert, DomainError> {
        let key = self.key.trim();
        if key.is_empty() {
            return Err(DomainError::new(
                "key",
                "an alert needs a key or fingerprint",
            ));
        }
        if key.chars().count() > MAX_KEY || key.chars().any(char::is_control) {
            return Err(DomainError::new(
                "key",
                format!("must be at most {MAX_KEY} visible characters"),
            ));
        }
        let origin = self.origin.trim();
        if origin.is_empty() || origin.chars().count() > 60 || origin.chars().any(char::is_control)
        {
            return Err(DomainError::new(
                "source",
                "must be 1 to 60 visible characters, like `nagios`",
            ));
        }
        Ok(Alert {
            key: key.to_string(),
            origin: origin.to_string(),
            summary: self.summary.and_then(|s| one_line(&s, 200)),
            ..self
        })
    }

    /// The author of automation's entries: Candor, naming its source.
    pub fn author(&self) -> String {
        format!("Candor (from {})", self.origin)
    }
}

/// A text cut to one line of at most `max` characters; `None` if empty.
fn one_line(text: &str, max: usize) -> Option<String> {
    let line: String = text
        .split(|c: char| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let cut: String = line.chars().take(max).collect();
    (!cut.is_empty()).then_some(cut)
}

/// What an alert of a given severity does to its component and incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Severity {
    pub status: ComponentStatus,
    pub impact: Impact,
}

/// The mapping and promises of automation, from `[alerts]` in candor.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRules {
    /// Who is on call: the owner of every incident automation opens. With
    /// nobody named, alerts are recorded and never published.
    pub owner: Option<Owner>,
    /// The next update automation promises.
    pub next_update: SignedDuration,
    /// An alert firing again this soon after it cleared belongs to the
    /// same incident.
    pub flap_window: SignedDuration,
    /// Labels whose value names a component, in order.
    pub labels: Vec<String>,
    /// A label value or monitor name → a component's id or name.
    pub components: BTreeMap<String, String>,
    /// A `severity` label's value (lower case) → what it does.
    pub severities: BTreeMap<String, Severity>,
    /// For alerts with no severity, or one not listed.
    pub default_severity: Severity,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self {
            owner: None,
            next_update: SignedDuration::from_mins(15),
            flap_window: SignedDuration::from_mins(10),
            labels: vec!["service".into(), "component".into()],
            components: BTreeMap::new(),
            severities: default_severities(),
            default_severity: Severity {
                status: ComponentStatus::PartialOutage,
                impact: Impact::Minor,
            },
        }
    }
}

/// `critical`, `warning` and `info`, as most alerting rules name them.
pub fn default_severities() -> BTreeMap<String, Severity> {
    use ComponentStatus::{DegradedPerformance, MajorOutage};
    BTreeMap::from([
        (
            "critical".into(),
            Severity {
                status: MajorOutage,
                impact: Impact::Major,
            },
        ),
        (
            "warning".into(),
            Severity {
                status: DegradedPerformance,
                impact: Impact::Minor,
            },
        ),
        (
            "info".into(),
            Severity {
                status: DegradedPerformance,
                impact: Impact::None,
            },
        ),
    ])
}

/// The component an alert is about, and what it does to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub component: ComponentId,
    pub name: String,
    pub severity: Severity,
    /// The component's public status now.
    pub current: ComponentStatus,
}

impl AlertRules {
    /// Which component the alert is about: the one it names itself, then
    /// the first mapped label, then (Uptime Kuma) its monitor's name; each
    /// through the `components` table, or as a component's id or name.
    /// `None`: recorded for staff, never published.
    pub fn target(
        &self,
        alert: &Alert,
        components: &BTreeMap<ComponentId, (String, ComponentStatus)>,
    ) -> Option<Target> {
        let named = alert.component.iter().chain(
            self.labels
                .iter()
                .filter_map(|label| alert.labels.get(label))
                .chain(alert.monitor.iter()),
        );
        let (id, name, current) = named
            .filter_map(|value| {
                let wanted = self
                    .components
                    .get(value.trim())
                    .map_or(value.trim(), |s| s);
                find_component(wanted, components)
            })
            .next()?;
        let severity = alert
            .severity
            .as_deref()
            .and_then(|s| self.severities.get(&s.trim().to_lowercase()))
            .copied()
            .unwrap_or(self.default_severity);
        Some(Target {
            component: id,
            name,
            severity,
            current,
        })
    }
}

/// A component by id, or else by name (case and spaces aside).
fn find_component(
    wanted: &str,
    components: &BTreeMap<ComponentId, (String, ComponentStatus)>,
) -> Option<(ComponentId, String, ComponentStatus)> {
    let found = match components.iter().find(|(id, _)| id.as_str() == wanted) {
        Some(found) => Some(found),
        None => {
            let wanted = wanted.trim().to_lowercase();
            components
                .iter()
                .find(|(_, (name, _))| name.trim().to_lowercase() == wanted)
        }
    };
    found.map(|(id, (name, status))| (id.clone(), name.clone(), *status))
}

/// What Candor knew of this alert (by source and key) before it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub status: AlertStatus,
    /// The incident it opened or joined, if any.
    pub incident: Option<IncidentId>,
    /// When its status last changed.
    pub changed_at: Timestamp,
}

/// An incident an alert may belong to, as the store found it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub incident: Incident,
    /// A person has posted on it: automation only records.
    pub person_posted: bool,
    /// The incident's other alerts still firing (this one left out).
    pub others_firing: usize,
    /// Per component, the worst status the other open incidents give it.
    pub held_elsewhere: BTreeMap<ComponentId, ComponentStatus>,
}

/// What became of one alert: shown to staff with every alert event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It opened an incident.
    Opened,
    /// It made its incident worse, and said so.
    Worsened,
    /// It fired again: its incident is back to investigating.
    Returned,
    /// The last alert of its incident cleared: the incident is monitoring.
    Monitoring,
    /// It belongs to an incident that already says as much.
    Joined,
    /// It cleared while others of its incident still fire, or its incident
    /// already says so.
    Cleared,
    /// A repeat of what Candor already knew.
    Duplicate,
    /// It names no component Candor knows.
    Unmapped,
    /// Nobody is on call (`alerts.owner`), so nothing is published.
    NoOwner,
    /// Its component is under planned maintenance: an alert then is
    /// expected, and the page already says why.
    Maintenance,
    /// A person runs its incident: recorded, not posted.
    PersonInCharge,
}

impl Outcome {
    /// Whether automation posted an entry for it.
    pub fn posted(self) -> bool {
        matches!(
            self,
            Self::Opened | Self::Worsened | Self::Returned | Self::Monitoring
        )
    }
}

/// What to do with one alert.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Keep it for staff; publish nothing.
    Record {
        outcome: Outcome,
        incident: Option<IncidentId>,
    },
    /// Open an incident.
    Open(OpenIncident),
    /// Post on the incident.
    Update {
        incident: IncidentId,
        update: PostUpdate,
        outcome: Outcome,
    },
}

impl Plan {
    pub fn outcome(&self) -> Outcome {
        match self {
            Plan::Record { outcome, .. } | Plan::Update { outcome, .. } => *outcome,
            Plan::Open(_) => Outcome::Opened,
        }
    }
}

fn record(outcome: Outcome, incident: Option<&IncidentId>) -> Plan {
    Plan::Record {
        outcome,
        incident: incident.cloned(),
    }
}

/// The incident a firing alert belongs to: its own, while open (or, after
/// a person resolved it, until `flap_window` after the alert cleared, so
/// a flapping check does not open incident after incident); else the open
/// incident that already holds its component; else none (a new one).
fn belongs_to<'a>(
    seen: Option<&Seen>,
    own: Option<&'a Candidate>,
    covering: Option<&'a Candidate>,
    rules: &AlertRules,
    now: Timestamp,
) -> Option<&'a Candidate> {
    if let Some(own) = own {
        let flapping = seen.is_some_and(|s| {
            s.status == AlertStatus::Resolved
                && now.duration_since(s.changed_at) <= rules.flap_window
        });
        if !own.incident.is_resolved() || flapping {
            return Some(own);
        }
    }
    covering.filter(|c| !c.incident.is_resolved())
}

/// Decides what automation does with `alert`: the heart of §1.9.
/// `own` is the incident the alert opened or joined before (if the store
/// still has it), `covering` the newest open incident holding its
/// component.
pub fn plan(
    alert: &Alert,
    target: Option<&Target>,
    seen: Option<&Seen>,
    own: Option<&Candidate>,
    covering: Option<&Candidate>,
    rules: &AlertRules,
    now: Timestamp,
) -> Plan {
    let known_incident = seen.and_then(|s| s.incident.as_ref());
    if seen.is_some_and(|s| s.status == alert.status) {
        return record(Outcome::Duplicate, known_incident);
    }
    match alert.status {
        AlertStatus::Firing => firing(alert, target, seen, own, covering, rules, now),
        AlertStatus::Resolved => cleared(seen, own, rules),
    }
}

fn firing(
    alert: &Alert,
    target: Option<&Target>,
    seen: Option<&Seen>,
    own: Option<&Candidate>,
    covering: Option<&Candidate>,
    rules: &AlertRules,
    now: Timestamp,
) -> Plan {
    let Some(target) = target else {
        return record(Outcome::Unmapped, None);
    };
    let Some(candidate) = belongs_to(seen, own, covering, rules, now) else {
        if target.current == ComponentStatus::UnderMaintenance {
            return record(Outcome::Maintenance, None);
        }
        let Some(owner) = rules.owner.clone() else {
            return record(Outcome::NoOwner, None);
        };
        return Plan::Open(open_command(alert, target, owner, rules, now));
    };
    let incident = &candidate.incident;
    if candidate.person_posted || incident.is_resolved() {
        return record(Outcome::PersonInCharge, Some(&incident.id));
    }
    let state = &incident.state;
    let returning = state.status == IncidentStatus::Monitoring;
    let worse_component = state
        .components
        .get(&target.component)
        .is_none_or(|held| target.severity.status.severity() > held.severity());
    let worse_impact = target.severity.impact.rank() > state.impact.rank();
    if !(returning || worse_component || worse_impact) {
        return record(Outcome::Joined, Some(&incident.id));
    }
    let mut components = BTreeMap::new();
    if worse_component {
        components.insert(target.component.clone(), target.severity.status);
    }
    let status = target.severity.status;
    let text = if returning {
        format!(
            "The alerts are firing again: {} {}. We are looking into it again; \
             the cause is not yet known.",
            target.name,
            failing_words(status)
        )
    } else {
        format!(
            "Our monitoring ({}) reports it is worse: {} {}. We are looking into it.",
            alert.origin,
            target.name,
            failing_words(status)
        )
    };
    Plan::Update {
        incident: incident.id.clone(),
        update: PostUpdate {
            status: returning.then_some(IncidentStatus::Investigating),
            impact: worse_impact.then_some(target.severity.impact),
            title: None,
            owner: None,
            cause: Patch::Keep,
            eta: Patch::Keep,
            next_update: Some(next_update(rules)),
            components,
            message: message(&text),
            follow_up_at: None,
        },
        outcome: if returning {
            Outcome::Returned
        } else {
            Outcome::Worsened
        },
    }
}

fn cleared(seen: Option<&Seen>, own: Option<&Candidate>, rules: &AlertRules) -> Plan {
    let known_incident = seen.and_then(|s| s.incident.as_ref());
    let Some(own) = own.filter(|c| !c.incident.is_resolved()) else {
        return record(Outcome::Cleared, known_incident);
    };
    let incident = &own.incident;
    if own.person_posted {
        return record(Outcome::PersonInCharge, Some(&incident.id));
    }
    if own.others_firing > 0 || incident.state.status == IncidentStatus::Monitoring {
        return record(Outcome::Cleared, Some(&incident.id));
    }
    // Every alert has cleared: its components go back to what other open
    // incidents hold them at, or to working.
    let components = incident
        .state
        .components
        .keys()
        .map(|id| {
            let back_to = own
                .held_elsewhere
                .get(id)
                .copied()
                .unwrap_or(ComponentStatus::Operational);
            (id.clone(), back_to)
        })
        .collect();
    Plan::Update {
        incident: incident.id.clone(),
        update: PostUpdate {
            status: Some(IncidentStatus::Monitoring),
            impact: None,
            title: None,
            owner: None,
            cause: Patch::Keep,
            eta: Patch::Keep,
            next_update: Some(next_update(rules)),
            components,
            message: message(
                "The alerts have cleared; we are watching before calling it resolved.",
            ),
            follow_up_at: None,
        },
        outcome: Outcome::Monitoring,
    }
}

fn open_command(
    alert: &Alert,
    target: &Target,
    owner: Owner,
    rules: &AlertRules,
    now: Timestamp,
) -> OpenIncident {
    let status = target.severity.status;
    let template = format!("{} {}", target.name, failing_words(status));
    let title = alert
        .summary
        .as_deref()
        .and_then(|s| Title::parse(s).ok())
        .or_else(|| Title::parse(&template).ok())
        .unwrap_or_else(|| Title::parse("A problem found by monitoring").expect("a title"));
    let text = format!(
        "We know {} {} and are looking into it. Our monitoring ({}) noticed it; \
         the cause is not yet known.",
        target.name,
        failing_words(status),
        alert.origin
    );
    OpenIncident {
        title,
        impact: target.severity.impact,
        status: IncidentStatus::Investigating,
        owner,
        cause: None,
        eta: None,
        next_update: Some(next_update(rules)),
        components: BTreeMap::from([(target.component.clone(), status)]),
        message: message(&text),
        // When the tool says it began, if that is not in the future.
        started_at: alert.started_at.filter(|at| *at <= now),
    }
}

fn next_update(rules: &AlertRules) -> NextUpdate {
    NextUpdate::InMinutes(rules.next_update.as_mins().max(1))
}

/// Automation's words are short and plain; a component name is at most a
/// line, so these always parse.
fn message(text: &str) -> Message {
    Message::parse(text).unwrap_or_else(|_| {
        Message::parse("Our monitoring reports a problem.").expect("a fixed message")
    })
}

/// What a component's status says, as a verb phrase: "is failing".
pub fn failing_words(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::MajorOutage => "is failing",
        ComponentStatus::PartialOutage => "is partly failing",
        ComponentStatus::DegradedPerformance => "is slow or unreliable",
        ComponentStatus::UnderMaintenance => "is under maintenance",
        ComponentStatus::Operational => "has a problem",
    }
}

/// Carries out a plan's write: the incident and entry, marked as Candor's.
/// `incident` is the one the plan posts on (`None` to open).
pub fn write(
    plan: &Plan,
    new_id: IncidentId,
    incident: Option<&Incident>,
    ctx: &Context<'_>,
) -> Result<Option<(Incident, Entry)>, DomainError> {
    let written = match (plan, incident) {
        (Plan::Record { .. }, _) => return Ok(None),
        (Plan::Open(command), _) => Incident::open(new_id, command.clone(), ctx)?,
        (Plan::Update { update, .. }, Some(incident)) => {
            // Automation never resolves: a person confirms that.
            if update.status == Some(IncidentStatus::Resolved) {
                return Err(DomainError::new("status", "automation never resolves"));
            }
            incident.apply(Command::Update(update.clone()), ctx)?
        }
        (Plan::Update { .. }, None) => {
            return Err(DomainError::new("incident", "no incident to post on"))
        }
    };
    let (incident, mut entry) = written;
    entry.system = true;
    Ok(Some((incident, entry)))
}

/// Whether automation may still post on an incident: only while no person
/// has (its entries, newest first or not).
pub fn person_posted(entries: &[Entry]) -> bool {
    entries.iter().any(|e| !e.system)
}

/// An alert as staff see it, with what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AlertEvent {
    pub id: String,
    pub received_at: Timestamp,
    pub source: AlertSource,
    pub origin: String,
    pub key: String,
    pub status: AlertStatus,
    pub summary: Option<String>,
    pub severity: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub component_id: Option<ComponentId>,
    pub incident_id: Option<IncidentId>,
    pub entry_id: Option<super::EntryId>,
    pub outcome: Outcome,
}

/// Who a token lets in: every admin route, or only the alert receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    All,
    Alerts,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Alerts => "alerts",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text.trim() {
            "all" => Ok(Self::All),
            "alerts" => Ok(Self::Alerts),
            _ => Err(DomainError::new(
                "scope",
                "a token's scope is `all` or `alerts`",
            )),
        }
    }

    /// Whether a request (method, path below `/api/v1` or at the root)
    /// is one this scope allows: an alerts token may post alerts and
    /// nothing else.
    pub fn allows(self, method_is_post: bool, path: &str) -> bool {
        match self {
            Self::All => true,
            Self::Alerts => {
                let path = path.strip_prefix("/api/v1").unwrap_or(path);
                method_is_post
                    && matches!(
                        path.trim_end_matches('/'),
                        "/alerts"
                            | "/alerts/alertmanager"
                            | "/alerts/grafana"
                            | "/alerts/uptime-kuma"
                    )
            }
        }
    }
}

#[cfg(test)]
mod tests;
