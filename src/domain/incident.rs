//! The incident state machine. `Incident::open` and `Incident::apply` are the
//! only ways to make an entry, and every rule of DESIGN.md §1 about posting
//! is checked here.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::classify::{classify, EntryClass};
use super::{ComponentId, ComponentStatus, DomainError, EntryId, IncidentId, Message};

mod commands;
mod state;

pub use commands::*;
pub use state::*;

/// When the next update is due after an update: required unless it
/// resolves, refused when it does.
fn next_update_after(
    resolving: bool,
    next: Option<NextUpdate>,
    now: Timestamp,
) -> Result<Option<Timestamp>, DomainError> {
    match (resolving, next) {
        (true, None) => Ok(None),
        (true, Some(_)) => Err(DomainError::new(
            "next_update_at",
            "a resolved incident has no next update; the follow-up is set with follow_up_at",
        )),
        (false, None) => Err(DomainError::new(
            "next_update_at",
            "say when the next update will come (next_update_at or next_update_in)",
        )),
        (false, Some(next)) => Ok(Some(next.resolve(now)?)),
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
    wanted: &BTreeMap<ComponentId, ComponentStatus>,
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
        id: IncidentId,
        command: OpenIncident,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        let command = command.in_whole_ms();
        let now = ctx.now;
        if command.status.is_maintenance() {
            return Err(DomainError::new(
                "status",
                "an incident is investigating, identified, monitoring or resolved; \
                 plan maintenance with POST /api/v1/maintenances",
            ));
        }
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
            schedule: None,
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
            Command::Update(update) => self.update(update.in_whole_ms(), ctx),
            Command::Correction(correction) => self.correct(correction.in_whole_ms(), ctx),
            Command::Postmortem(postmortem) => self.postmortem(postmortem, ctx),
            Command::Maintenance(update) => self.maintain(update.in_whole_ms(), ctx),
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
        if self.kind == Kind::Maintenance {
            return Err(DomainError::new(
                "kind",
                "this is a maintenance: post to /api/v1/maintenances/{id}/updates",
            ));
        }
        let status = cmd.status.unwrap_or(before.status);
        if status.is_maintenance() {
            return Err(DomainError::new(
                "status",
                "an incident is investigating, identified, monitoring or resolved",
            ));
        }
        let resolving = status == IncidentStatus::Resolved;
        let was_resolved = before.status == IncidentStatus::Resolved;
        let next_update_at = next_update_after(resolving, cmd.next_update, now)?;

        let eta = cmd.eta.apply_to(&before.eta);
        if let Patch::Set(new) = cmd.eta {
            if Some(new) != before.eta {
                check_eta(new, now)?;
            }
        }

        let wanted = self.wanted_components(&cmd.components, resolving && !was_resolved, ctx);
        let components = component_changes(&wanted, ctx)?;
        let mut affected = before.components.clone();
        affected.extend(wanted);
        let (resolved_at, follow_up_at) =
            self.resolution(was_resolved, resolving, cmd.follow_up_at, ctx)?;

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
            schedule: None,
        };
        let classes = classify(Some(before), &state, &components);
        Ok(self.next(state, classes, components, cmd.message, None, ctx))
    }

    /// The components an update sets: those it names and, when it
    /// resolves, the others back to working (or to what another open
    /// incident still holds them at), unless staff say otherwise.
    fn wanted_components(
        &self,
        named: &BTreeMap<ComponentId, ComponentStatus>,
        resolves: bool,
        ctx: &Context<'_>,
    ) -> BTreeMap<ComponentId, ComponentStatus> {
        let mut wanted = named.clone();
        if resolves {
            for id in self.state.components.keys() {
                let back_to = ctx
                    .held_elsewhere
                    .get(id)
                    .copied()
                    .unwrap_or(ComponentStatus::Operational);
                wanted.entry(id.clone()).or_insert(back_to);
            }
        }
        wanted
    }

    /// When the incident was resolved and its follow-up is due, after an
    /// update; only a resolving update may set the follow-up time.
    fn resolution(
        &self,
        was_resolved: bool,
        resolving: bool,
        follow_up_at: Option<Timestamp>,
        ctx: &Context<'_>,
    ) -> Result<(Option<Timestamp>, Option<Timestamp>), DomainError> {
        let now = ctx.now;
        match (was_resolved, resolving) {
            (false, true) => {
                let follow_up = match follow_up_at {
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
                Ok((Some(now), Some(follow_up)))
            }
            (true, true) => Ok((self.state.resolved_at, self.state.follow_up_at)),
            (_, false) if follow_up_at.is_some() => Err(DomainError::new(
                "follow_up_at",
                "only a resolving update sets the follow-up time",
            )),
            (_, false) => Ok((None, None)),
        }
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

    pub(crate) fn next(
        &self,
        state: IncidentState,
        classes: Vec<EntryClass>,
        components: Vec<ComponentChange>,
        message: Message,
        corrects: Option<EntryId>,
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
        if self.kind == Kind::Maintenance {
            return self.maintenance_promises();
        }
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

    /// Over: resolved, or a maintenance completed or cancelled.
    pub fn is_resolved(&self) -> bool {
        self.state.status.is_final()
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
        self.promised_times()
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .min()
    }

    /// The times this incident promised: its next update and ETA, or a
    /// maintenance's planned start and end.
    pub fn promised_times(&self) -> [Option<Timestamp>; 4] {
        let plan = self.state.schedule.as_ref();
        [
            self.state.next_update_at,
            self.state.eta,
            plan.map(|p| p.scheduled_for),
            plan.map(|p| p.scheduled_until),
        ]
    }
}

#[cfg(test)]
mod tests;
