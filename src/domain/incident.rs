//! The incident state machine. `Incident::open` and `Incident::apply` are the
//! only ways to make an entry, and every rule of DESIGN.md §1 about posting
//! is checked here.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::classify::{classify, EntryClass};
use super::{Cause, ComponentStatus, DomainError, Message, Owner, Title};

/// A promised next update may be at most this far ahead.
pub const MAX_NEXT_UPDATE: SignedDuration = SignedDuration::from_hours(7 * 24);
/// An ETA further ahead than this is not an estimate.
pub const MAX_ETA: SignedDuration = SignedDuration::from_hours(365 * 24);
/// The latest a follow-up may be promised: a month says "we will explain",
/// a date years away says nothing.
pub const MAX_FOLLOW_UP: SignedDuration = SignedDuration::from_hours(30 * 24);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Incident,
    Maintenance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    pub fn rank(self) -> u8 {
        self as u8
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Self::None => "No impact",
            Self::Minor => "Minor impact",
            Self::Major => "Major impact",
            Self::Critical => "Critical impact",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Investigating => "investigating",
            Self::Identified => "identified",
            Self::Monitoring => "monitoring",
            Self::Resolved => "resolved",
        }
    }
    pub fn words(self) -> &'static str {
        match self {
            Self::Investigating => "Investigating",
            Self::Identified => "Identified",
            Self::Monitoring => "Monitoring",
            Self::Resolved => "Resolved",
        }
    }
}

/// The state of an incident after an entry: what the page shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentState {
    pub title: Title,
    pub impact: Impact,
    pub status: IncidentStatus,
    pub owner: Owner,
    /// `None`: not yet known.
    pub cause: Option<Cause>,
    /// `None`: no ETA yet.
    pub eta: Option<Timestamp>,
    /// `None` only once resolved.
    pub next_update_at: Option<Timestamp>,
    pub started_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub follow_up_at: Option<Timestamp>,
    /// Affected components and the status this incident gives them.
    pub components: BTreeMap<String, ComponentStatus>,
    /// The broken promise (its time) that Candor has already said is late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_noticed: Option<Timestamp>,
    /// When the follow-up (postmortem) promised on resolving was posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up_posted_at: Option<Timestamp>,
}

/// One change of ETA, kept forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EtaChange {
    pub eta: Option<Timestamp>,
    pub changed_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentChange {
    pub id: String,
    pub name: String,
    pub old_status: ComponentStatus,
    pub new_status: ComponentStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub kind: Kind,
    pub state: IncidentState,
    pub eta_history: Vec<EtaChange>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Sequence number of the newest entry.
    pub last_seq: i64,
}

/// A field's value before and after an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    pub from: T,
    pub to: T,
}

/// What an entry changed, field by field (components are in `Entry::components`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Diff {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Change<IncidentStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<Change<Impact>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Change<Title>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Change<Owner>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Change<Option<Cause>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta: Option<Change<Option<Timestamp>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update_at: Option<Change<Option<Timestamp>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Change<Timestamp>>,
}

fn change<T: PartialEq + Clone>(from: &T, to: &T) -> Option<Change<T>> {
    (from != to).then(|| Change {
        from: from.clone(),
        to: to.clone(),
    })
}

impl Diff {
    pub fn between(before: &IncidentState, after: &IncidentState) -> Diff {
        Diff {
            status: change(&before.status, &after.status),
            impact: change(&before.impact, &after.impact),
            title: change(&before.title, &after.title),
            owner: change(&before.owner, &after.owner),
            cause: change(&before.cause, &after.cause),
            eta: change(&before.eta, &after.eta),
            next_update_at: change(&before.next_update_at, &after.next_update_at),
            started_at: change(&before.started_at, &after.started_at),
        }
    }
}

/// One timeline item. Never changed once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub incident_id: String,
    pub seq: i64,
    pub classes: Vec<EntryClass>,
    pub author: String,
    pub posted_at: Timestamp,
    pub message: Message,
    /// The incident's state right after this entry.
    pub state: IncidentState,
    /// What this entry changed against the state before it.
    pub diff: Diff,
    /// Components whose public status this entry changed.
    pub components: Vec<ComponentChange>,
    pub corrects: Option<String>,
    pub system: bool,
}

/// A promise made to users that Candor watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Promise {
    /// The next update: due at the promised time (owner reminded).
    NextUpdate,
    /// Still not kept after the grace period: the system entry.
    OverdueNotice,
    /// The ETA: reminder to set a new one or withdraw it.
    Eta,
    /// The follow-up after resolving.
    FollowUp,
}

/// When the next update will come, as the client said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextUpdate {
    At(Timestamp),
    InMinutes(i64),
}

impl NextUpdate {
    /// The absolute time, checked: in the future and at most 7 days ahead.
    pub fn resolve(self, now: Timestamp) -> Result<Timestamp, DomainError> {
        let field = "next_update_at";
        let at = match self {
            NextUpdate::At(at) => at,
            NextUpdate::InMinutes(minutes) => {
                if minutes < 1 || minutes > MAX_NEXT_UPDATE.as_mins() {
                    return Err(DomainError::new(
                        field,
                        "next_update_in must be between 1 and 10080 minutes (7 days)",
                    ));
                }
                now + SignedDuration::from_mins(minutes)
            }
        };
        if at <= now {
            return Err(DomainError::new(field, "must be in the future"));
        }
        if at.duration_since(now) > MAX_NEXT_UPDATE {
            return Err(DomainError::new(
                field,
                "must be at most 7 days ahead: promise an update people can rely on",
            ));
        }
        Ok(at)
    }
}

/// A field that an update may leave alone, clear, or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// Absent (via `#[serde(default)]`) keeps, `null` clears, a value sets.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Patch::Clear,
            Some(value) => Patch::Set(value),
        })
    }
}

impl<T: Clone> Patch<T> {
    fn apply_to(&self, current: &Option<T>) -> Option<T> {
        match self {
            Patch::Keep => current.clone(),
            Patch::Clear => None,
            Patch::Set(value) => Some(value.clone()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenIncident {
    pub title: Title,
    pub impact: Impact,
    pub status: IncidentStatus,
    pub owner: Owner,
    pub cause: Option<Cause>,
    pub eta: Option<Timestamp>,
    pub next_update: Option<NextUpdate>,
    pub components: BTreeMap<String, ComponentStatus>,
    pub message: Message,
    pub started_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct PostUpdate {
    pub status: Option<IncidentStatus>,
    pub impact: Option<Impact>,
    pub title: Option<Title>,
    pub owner: Option<Owner>,
    pub cause: Patch<Cause>,
    pub eta: Patch<Timestamp>,
    pub next_update: Option<NextUpdate>,
    pub components: BTreeMap<String, ComponentStatus>,
    pub message: Message,
    pub follow_up_at: Option<Timestamp>,
}

/// A correction names the entry it corrects and may fix what was said wrongly.
#[derive(Debug, Clone)]
pub struct PostCorrection {
    pub corrects: String,
    pub message: Message,
    pub title: Option<Title>,
    pub impact: Option<Impact>,
    pub cause: Patch<Cause>,
    pub started_at: Option<Timestamp>,
}

/// The follow-up after resolving: what happened and what will change.
#[derive(Debug, Clone)]
pub struct PostPostmortem {
    pub message: Message,
}

#[derive(Debug, Clone)]
pub enum Command {
    Update(PostUpdate),
    Correction(PostCorrection),
    Postmortem(PostPostmortem),
}

/// Facts from outside the incident that a command needs: passed in, never read.
pub struct Context<'a> {
    pub now: Timestamp,
    pub author: &'a str,
    pub entry_id: String,
    /// Every component: id → (name, current public status).
    pub components: &'a BTreeMap<String, (String, ComponentStatus)>,
    /// Ids of the incident's entries, for corrections.
    pub entry_ids: &'a BTreeSet<String>,
    /// Per component, the worst status another open incident gives it: what
    /// a component goes back to when this incident resolves.
    pub held_elsewhere: &'a BTreeMap<String, ComponentStatus>,
    pub follow_up_after: SignedDuration,
}

/// What a write knows before it reads anything: when it happens, who
/// writes, the id its entry will have, and how long until a follow-up.
#[derive(Debug, Clone)]
pub struct Write {
    pub now: Timestamp,
    pub author: String,
    pub entry_id: String,
    pub follow_up_after: SignedDuration,
}

impl Write {
    /// The context of the write, once the store has read what it needs.
    pub fn context<'a>(
        &'a self,
        components: &'a BTreeMap<String, (String, ComponentStatus)>,
        entry_ids: &'a BTreeSet<String>,
        held_elsewhere: &'a BTreeMap<String, ComponentStatus>,
    ) -> Context<'a> {
        Context {
            now: self.now,
            author: &self.author,
            entry_id: self.entry_id.clone(),
            components,
            entry_ids,
            held_elsewhere,
            follow_up_after: self.follow_up_after,
        }
    }
}

fn check_eta(eta: Timestamp, now: Timestamp) -> Result<(), DomainError> {
    if eta <= now {
        return Err(DomainError::new(
            "eta",
            "must be in the future; if the old estimate passed, give a new one or send null",
        ));
    }
    if eta.duration_since(now) > MAX_ETA {
        return Err(DomainError::new("eta", "must be within a year"));
    }
    Ok(())
}

/// The public status changes that `wanted` makes, against each component's
/// current status. Unknown ids are refused.
fn component_changes(
    wanted: &BTreeMap<String, ComponentStatus>,
    ctx: &Context<'_>,
) -> Result<Vec<ComponentChange>, DomainError> {
    let mut changes = Vec::new();
    for (id, &new_status) in wanted {
        let Some((name, old_status)) = ctx.components.get(id) else {
            return Err(DomainError::new(
                "components",
                format!("there is no component with id `{id}`"),
            ));
        };
        if *old_status != new_status {
            changes.push(ComponentChange {
                id: id.clone(),
                name: name.clone(),
                old_status: *old_status,
                new_status,
            });
        }
    }
    Ok(changes)
}

impl Incident {
    /// Opens an incident: says something at once, even with nothing known.
    pub fn open(
        id: String,
        command: OpenIncident,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        let now = ctx.now;
        if command.status == IncidentStatus::Resolved {
            return Err(DomainError::new(
                "status",
                "an incident cannot be opened as resolved; open it, then resolve it",
            ));
        }
        let Some(next_update) = command.next_update else {
            return Err(DomainError::new(
                "next_update_at",
                "say when the next update will come (next_update_at or next_update_in)",
            ));
        };
        let next_update_at = next_update.resolve(now)?;
        if let Some(eta) = command.eta {
            check_eta(eta, now)?;
        }
        let started_at = match command.started_at {
            Some(at) if at > now => {
                return Err(DomainError::new("started_at", "must not be in the future"))
            }
            Some(at) => at,
            None => now,
        };
        let components = component_changes(&command.components, ctx)?;
        let state = IncidentState {
            title: command.title,
            impact: command.impact,
            status: command.status,
            owner: command.owner,
            cause: command.cause,
            eta: command.eta,
            next_update_at: Some(next_update_at),
            started_at,
            resolved_at: None,
            follow_up_at: None,
            components: command.components,
            overdue_noticed: None,
            follow_up_posted_at: None,
        };
        let eta_history = state
            .eta
            .map(|eta| EtaChange {
                eta: Some(eta),
                changed_at: now,
            })
            .into_iter()
            .collect();
        let incident = Incident {
            id: id.clone(),
            kind: Kind::Incident,
            state: state.clone(),
            eta_history,
            created_at: now,
            updated_at: now,
            last_seq: 1,
        };
        let entry = Entry {
            id: ctx.entry_id.clone(),
            incident_id: id,
            seq: 1,
            classes: classify(None, &state, &components),
            author: ctx.author.to_string(),
            posted_at: now,
            message: command.message,
            state,
            diff: Diff::default(),
            components,
            corrects: None,
            system: false,
        };
        Ok((incident, entry))
    }

    /// Applies an update or a correction: the new incident and its new entry.
    pub fn apply(
        &self,
        command: Command,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        match command {
            Command::Update(update) => self.update(update, ctx),
            Command::Correction(correction) => self.correct(correction, ctx),
            Command::Postmortem(postmortem) => self.postmortem(postmortem, ctx),
        }
    }

    fn postmortem(
        &self,
        cmd: PostPostmortem,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        if !self.is_resolved() {
            return Err(DomainError::new(
                "status",
                "the follow-up comes after resolving; post an update until then",
            ));
        }
        let state = IncidentState {
            follow_up_posted_at: Some(ctx.now),
            ..self.state.clone()
        };
        Ok(self.next(
            state,
            vec![EntryClass::Postmortem],
            Vec::new(),
            cmd.message,
            None,
            ctx,
        ))
    }

    /// Resolved, with the promised follow-up not posted yet.
    pub fn owes_follow_up(&self) -> bool {
        self.is_resolved()
            && self.state.follow_up_at.is_some()
            && self.state.follow_up_posted_at.is_none()
    }

    fn update(&self, cmd: PostUpdate, ctx: &Context<'_>) -> Result<(Incident, Entry), DomainError> {
        let now = ctx.now;
        let before = &self.state;
        let status = cmd.status.unwrap_or(before.status);
        let resolving = status == IncidentStatus::Resolved;
        let was_resolved = before.status == IncidentStatus::Resolved;

        let next_update_at = if resolving {
            if cmd.next_update.is_some() {
                return Err(DomainError::new(
                    "next_update_at",
                    "a resolved incident has no next update; the follow-up is set with follow_up_at",
                ));
            }
            None
        } else {
            let Some(next) = cmd.next_update else {
                return Err(DomainError::new(
                    "next_update_at",
                    "say when the next update will come (next_update_at or next_update_in)",
                ));
            };
            Some(next.resolve(now)?)
        };

        let eta = cmd.eta.apply_to(&before.eta);
        if let Patch::Set(new) = cmd.eta {
            if Some(new) != before.eta {
                check_eta(new, now)?;
            }
        }

        let mut wanted = cmd.components.clone();
        if resolving && !was_resolved {
            // Resolved means working again, unless staff say otherwise or
            // another open incident still holds the component down.
            for id in before.components.keys() {
                let back_to = ctx
                    .held_elsewhere
                    .get(id)
                    .copied()
                    .unwrap_or(ComponentStatus::Operational);
                wanted.entry(id.clone()).or_insert(back_to);
            }
        }
        let components = component_changes(&wanted, ctx)?;
        let mut affected = before.components.clone();
        affected.extend(wanted);

        let (resolved_at, follow_up_at) = match (was_resolved, resolving) {
            (false, true) => {
                let follow_up = match cmd.follow_up_at {
                    Some(at) if at <= now => {
                        return Err(DomainError::new("follow_up_at", "must be in the future"))
                    }
                    Some(at) if at.duration_since(now) > MAX_FOLLOW_UP => {
                        return Err(DomainError::new(
                            "follow_up_at",
                            "must be at most 30 days ahead",
                        ))
                    }
                    Some(at) => at,
                    None => now + ctx.follow_up_after,
                };
                (Some(now), Some(follow_up))
            }
            (true, true) => (before.resolved_at, before.follow_up_at),
            (_, false) => {
                if cmd.follow_up_at.is_some() {
                    return Err(DomainError::new(
                        "follow_up_at",
                        "only a resolving update sets the follow-up time",
                    ));
                }
                (None, None)
            }
        };

        let state = IncidentState {
            title: cmd.title.unwrap_or_else(|| before.title.clone()),
            impact: cmd.impact.unwrap_or(before.impact),
            status,
            owner: cmd.owner.unwrap_or_else(|| before.owner.clone()),
            cause: cmd.cause.apply_to(&before.cause),
            eta,
            next_update_at,
            started_at: before.started_at,
            resolved_at,
            follow_up_at,
            components: affected,
            overdue_noticed: None,
            follow_up_posted_at: if status == IncidentStatus::Resolved {
                before.follow_up_posted_at
            } else {
                None
            },
        };
        let classes = classify(Some(before), &state, &components);
        Ok(self.next(state, classes, components, cmd.message, None, ctx))
    }

    fn correct(
        &self,
        cmd: PostCorrection,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        if !ctx.entry_ids.contains(&cmd.corrects) {
            return Err(DomainError::new(
                "corrects",
                format!("this incident has no entry with id `{}`", cmd.corrects),
            ));
        }
        let before = &self.state;
        if let Some(at) = cmd.started_at {
            if at > ctx.now {
                return Err(DomainError::new("started_at", "must not be in the future"));
            }
        }
        let state = IncidentState {
            title: cmd.title.unwrap_or_else(|| before.title.clone()),
            impact: cmd.impact.unwrap_or(before.impact),
            cause: cmd.cause.apply_to(&before.cause),
            started_at: cmd.started_at.unwrap_or(before.started_at),
            ..before.clone()
        };
        let mut classes = vec![EntryClass::Correction];
        if state.impact.rank() > before.impact.rank() {
            classes.push(EntryClass::ImpactRaised);
        } else if state.impact.rank() < before.impact.rank() {
            classes.push(EntryClass::ImpactLowered);
        }
        Ok(self.next(
            state,
            classes,
            Vec::new(),
            cmd.message,
            Some(cmd.corrects),
            ctx,
        ))
    }

    fn next(
        &self,
        state: IncidentState,
        classes: Vec<EntryClass>,
        components: Vec<ComponentChange>,
        message: Message,
        corrects: Option<String>,
        ctx: &Context<'_>,
    ) -> (Incident, Entry) {
        let mut eta_history = self.eta_history.clone();
        if state.eta != self.state.eta {
            eta_history.push(EtaChange {
                eta: state.eta,
                changed_at: ctx.now,
            });
        }
        let seq = self.last_seq + 1;
        let incident = Incident {
            id: self.id.clone(),
            kind: self.kind,
            state: state.clone(),
            eta_history,
            created_at: self.created_at,
            updated_at: ctx.now,
            last_seq: seq,
        };
        let entry = Entry {
            id: ctx.entry_id.clone(),
            incident_id: self.id.clone(),
            seq,
            classes,
            author: ctx.author.to_string(),
            posted_at: ctx.now,
            message,
            diff: Diff::between(&self.state, &state),
            state,
            components,
            corrects,
            system: false,
        };
        (incident, entry)
    }

    /// The system entry that says a promised update is late. Refused when
    /// the promise was kept or already said to be late, so it is posted once.
    pub fn overdue_notice(
        &self,
        promised: Timestamp,
        text: Message,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        if !self.overdue(ctx.now) || self.state.next_update_at != Some(promised) {
            return Err(DomainError::new("next_update_at", "the promise was kept"));
        }
        if self.state.overdue_noticed == Some(promised) {
            return Err(DomainError::new(
                "next_update_at",
                "already said to be late",
            ));
        }
        let state = IncidentState {
            overdue_noticed: Some(promised),
            ..self.state.clone()
        };
        let (incident, mut entry) = self.next(
            state,
            vec![EntryClass::OverdueNotice],
            Vec::new(),
            text,
            None,
            ctx,
        );
        entry.system = true;
        Ok((incident, entry))
    }

    /// The timed work this state asks for: (kind, promised time).
    pub fn promises(&self) -> Vec<(Promise, Timestamp)> {
        let state = &self.state;
        if self.is_resolved() {
            return state
                .follow_up_at
                .filter(|_| self.owes_follow_up())
                .map(|at| (Promise::FollowUp, at))
                .into_iter()
                .collect();
        }
        let mut promises = Vec::new();
        if let Some(at) = state.next_update_at {
            promises.push((Promise::NextUpdate, at));
        }
        if let Some(eta) = state.eta {
            promises.push((Promise::Eta, eta));
        }
        promises
    }

    pub fn is_resolved(&self) -> bool {
        self.state.status == IncidentStatus::Resolved
    }

    /// The promised update has not come.
    pub fn overdue(&self, now: Timestamp) -> bool {
        !self.is_resolved() && self.state.next_update_at.is_some_and(|at| at <= now)
    }

    /// The ETA passed and the incident is still not resolved.
    pub fn eta_passed(&self, now: Timestamp) -> bool {
        !self.is_resolved() && self.state.eta.is_some_and(|eta| eta <= now)
    }

    /// The next instant at which what is said about this incident changes by
    /// itself (an update becoming overdue, an ETA passing).
    pub fn next_change_after(&self, now: Timestamp) -> Option<Timestamp> {
        if self.is_resolved() {
            return None;
        }
        [self.state.next_update_at, self.state.eta]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests;
