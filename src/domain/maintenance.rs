//! Scheduled maintenance (DESIGN.md §2): an incident of kind `maintenance`
//! with a plan. Announced when scheduled, reminded before, started by
//! Candor at its time, completed by staff (or by Candor when asked), and
//! said to overrun when it outlasts its plan. Every step is an entry that
//! subscribers receive; statuses only go forward; a plan that moves says
//! where it was.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::incident::{
    whole_ms, ComponentChange, Context, Diff, EtaChange, IncidentState, Kind, Promise,
};
use super::{
    ComponentId, ComponentStatus, DomainError, Entry, EntryClass, Impact, Incident, IncidentId,
    IncidentRecord, IncidentStatus, Message, Owner, Title,
};

/// A maintenance may be planned at most this far ahead.
pub const MAX_AHEAD: SignedDuration = SignedDuration::from_hours(365 * 24);
/// Reminders before the start, when staff name none.
pub const DEFAULT_REMINDERS: [i64; 1] = [60];

/// The plan of a maintenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    /// Minutes before the start at which subscribers are reminded.
    #[serde(default)]
    pub remind_before: Vec<i64>,
    /// Candor completes it at `scheduled_until` by itself.
    #[serde(default)]
    pub auto_complete: bool,
    /// When this plan was made (announced, or last moved): reminders due
    /// before then are not sent, the news being fresher.
    pub planned_at: Timestamp,
}

/// When a maintenance is planned to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
}

impl Schedule {
    pub fn window(&self) -> Window {
        Window {
            scheduled_for: self.scheduled_for,
            scheduled_until: self.scheduled_until,
        }
    }

    /// The times the reminders are due, earliest first.
    pub fn reminders(&self) -> Vec<Timestamp> {
        let mut at: Vec<Timestamp> = self
            .remind_before
            .iter()
            .map(|m| self.scheduled_for - SignedDuration::from_mins(*m))
            .collect();
        at.sort();
        at.dedup();
        at
    }
}

/// One plan a maintenance had, from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ScheduleChange {
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    pub changed_at: Timestamp,
}

impl IncidentRecord {
    /// Every plan the maintenance had, oldest first (from its entries:
    /// the truth is the timeline).
    pub fn schedule_history(&self) -> Vec<ScheduleChange> {
        let mut history: Vec<ScheduleChange> = Vec::new();
        for entry in self.entries.iter().rev() {
            let Some(plan) = &entry.state.schedule else {
                continue;
            };
            let moved = history.last().is_none_or(|last| {
                (last.scheduled_for, last.scheduled_until)
                    != (plan.scheduled_for, plan.scheduled_until)
            });
            if moved {
                history.push(ScheduleChange {
                    scheduled_for: plan.scheduled_for,
                    scheduled_until: plan.scheduled_until,
                    changed_at: entry.posted_at,
                });
            }
        }
        history
    }
}

/// Staff plan a maintenance.
#[derive(Debug, Clone)]
pub struct ScheduleMaintenance {
    pub title: Title,
    pub scheduled_for: Timestamp,
    pub scheduled_until: Timestamp,
    pub components: Vec<ComponentId>,
    pub owner: Owner,
    pub message: Message,
    /// Minutes before the start; `None`: `DEFAULT_REMINDERS`.
    pub remind_before: Option<Vec<i64>>,
    pub auto_complete: bool,
}

impl ScheduleMaintenance {
    /// Its times to the whole millisecond (`whole_ms`).
    pub fn in_whole_ms(mut self) -> Self {
        self.scheduled_for = whole_ms(self.scheduled_for);
        self.scheduled_until = whole_ms(self.scheduled_until);
        self
    }
}

impl MaintenanceUpdate {
    /// Its times to the whole millisecond (`whole_ms`).
    pub fn in_whole_ms(mut self) -> Self {
        self.scheduled_for = self.scheduled_for.map(whole_ms);
        self.scheduled_until = self.scheduled_until.map(whole_ms);
        self
    }
}

/// Staff move a maintenance along, move its plan, or say something.
#[derive(Debug, Clone)]
pub struct MaintenanceUpdate {
    pub status: Option<IncidentStatus>,
    pub scheduled_for: Option<Timestamp>,
    pub scheduled_until: Option<Timestamp>,
    pub owner: Option<Owner>,
    pub message: Message,
}

/// What Candor does by itself when a maintenance's time comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Remind,
    Start,
    /// The planned end passed: complete it (when `auto_complete`).
    AutoComplete,
    Overrun,
}

fn check_plan(
    scheduled_for: Timestamp,
    scheduled_until: Timestamp,
    now: Timestamp,
    started: bool,
) -> Result<(), DomainError> {
    if !started && scheduled_for <= now {
        return Err(DomainError::new(
            "scheduled_for",
            "must be in the future: planned work is announced before it starts",
        ));
    }
    if scheduled_until <= scheduled_for {
        return Err(DomainError::new(
            "scheduled_until",
            "must be after scheduled_for",
        ));
    }
    if scheduled_until <= now {
        return Err(DomainError::new(
            "scheduled_until",
            "must be in the future; if the work is done, complete it",
        ));
    }
    if scheduled_until.duration_since(now) > MAX_AHEAD {
        return Err(DomainError::new("scheduled_until", "must be within a year"));
    }
    Ok(())
}

fn check_reminders(minutes: &[i64]) -> Result<(), DomainError> {
    if minutes.len() > 5 {
        return Err(DomainError::new(
            "remind_before",
            "at most 5 reminders: more would be noise",
        ));
    }
    if minutes.iter().any(|m| *m < 1 || *m > 30 * 24 * 60) {
        return Err(DomainError::new(
            "remind_before",
            "each reminder must be between 1 minute and 30 days before the start",
        ));
    }
    Ok(())
}

impl Incident {
    /// Plans a maintenance and announces it.
    pub fn schedule(
        id: IncidentId,
        command: ScheduleMaintenance,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        let command = command.in_whole_ms();
        let now = ctx.now;
        check_plan(command.scheduled_for, command.scheduled_until, now, false)?;
        let remind_before = command
            .remind_before
            .unwrap_or_else(|| DEFAULT_REMINDERS.to_vec());
        check_reminders(&remind_before)?;
        let mut components = BTreeMap::new();
        for id in command.components {
            if !ctx.components.contains_key(&id) {
                return Err(DomainError::new(
                    "components",
                    format!("there is no component with id `{id}`"),
                ));
            }
            components.insert(id, ComponentStatus::UnderMaintenance);
        }
        let state = IncidentState {
            title: command.title,
            impact: Impact::None,
            status: IncidentStatus::Scheduled,
            owner: command.owner,
            cause: None,
            eta: None,
            next_update_at: None,
            started_at: command.scheduled_for,
            resolved_at: None,
            follow_up_at: None,
            components,
            overdue_noticed: None,
            follow_up_posted_at: None,
            schedule: Some(Schedule {
                scheduled_for: command.scheduled_for,
                scheduled_until: command.scheduled_until,
                remind_before,
                auto_complete: command.auto_complete,
                planned_at: now,
            }),
        };
        let incident = Incident {
            id: id.clone(),
            kind: Kind::Maintenance,
            state: state.clone(),
            eta_history: Vec::<EtaChange>::new(),
            created_at: now,
            updated_at: now,
            last_seq: 1,
        };
        let entry = Entry {
            id: ctx.entry_id.clone(),
            incident_id: id,
            seq: 1,
            classes: vec![EntryClass::MaintenanceScheduled],
            author: ctx.author.to_string(),
            posted_at: now,
            message: command.message,
            state,
            diff: Diff::default(),
            components: Vec::new(),
            corrects: None,
            system: false,
        };
        Ok((incident, entry))
    }

    fn plan(&self) -> Result<&Schedule, DomainError> {
        self.state
            .schedule
            .as_ref()
            .filter(|_| self.kind == Kind::Maintenance)
            .ok_or_else(|| DomainError::new("kind", "this is not a maintenance"))
    }

    /// Staff's update of a maintenance.
    pub(super) fn maintain(
        &self,
        cmd: MaintenanceUpdate,
        ctx: &Context<'_>,
    ) -> Result<(Incident, Entry), DomainError> {
        let plan = self.plan()?;
        let before = &self.state;
        if before.status.is_final() {
            return Err(DomainError::new(
                "status",
                "this maintenance is over (completed or cancelled); plan a new one",
            ));
        }
        let status = cmd.status.unwrap_or(before.status);
        if !status.is_maintenance() {
            return Err(DomainError::new(
                "status",
                "a maintenance is scheduled, in_progress, verifying, completed or cancelled",
            ));
        }
        if status.step() < before.status.step() {
            return Err(DomainError::new(
                "status",
                format!(
                    "a maintenance does not go back from {} to {}",
                    before.status.as_str(),
                    status.as_str()
                ),
            ));
        }
        let started = status != IncidentStatus::Scheduled;
        let (new_plan, moved) = self.replan(plan, &cmd, ctx)?;
        let mut classes = Vec::new();
        if moved {
            classes.push(EntryClass::MaintenanceRescheduled);
        }
        // Begun by this update (not called off, not completed unbegun).
        let began = started && !status.is_final() && before.status == IncidentStatus::Scheduled;
        match status {
            s if s == before.status => {}
            IncidentStatus::Cancelled => classes.push(EntryClass::MaintenanceCancelled),
            IncidentStatus::Completed => classes.push(EntryClass::MaintenanceCompleted),
            IncidentStatus::InProgress => classes.push(EntryClass::MaintenanceStarted),
            _ => {}
        }
        if cmd.owner.as_ref().is_some_and(|o| *o != before.owner) {
            classes.push(EntryClass::OwnerChanged);
        }
        if classes.is_empty() {
            classes.push(EntryClass::Update);
        }
        classes.sort();
        let mut state = IncidentState {
            status,
            owner: cmd.owner.unwrap_or_else(|| before.owner.clone()),
            schedule: Some(new_plan),
            ..before.clone()
        };
        let components = self.maintenance_components(&mut state, began, ctx);
        Ok(self.next(state, classes, components, cmd.message, None, ctx))
    }

    /// The plan after an update, and whether it moved. Before the work
    /// begins both times may move (not into the past); once it has, only
    /// the end.
    fn replan(
        &self,
        plan: &Schedule,
        cmd: &MaintenanceUpdate,
        ctx: &Context<'_>,
    ) -> Result<(Schedule, bool), DomainError> {
        let new_plan = Schedule {
            scheduled_for: cmd.scheduled_for.unwrap_or(plan.scheduled_for),
            scheduled_until: cmd.scheduled_until.unwrap_or(plan.scheduled_until),
            ..plan.clone()
        };
        let moved = (new_plan.scheduled_for, new_plan.scheduled_until)
            != (plan.scheduled_for, plan.scheduled_until);
        if !moved {
            return Ok((new_plan, false));
        }
        let begun = self.state.status != IncidentStatus::Scheduled;
        if begun && cmd.scheduled_for.is_some_and(|at| at != plan.scheduled_for) {
            return Err(DomainError::new(
                "scheduled_for",
                "the work has begun: only scheduled_until can move now",
            ));
        }
        check_plan(
            new_plan.scheduled_for,
            new_plan.scheduled_until,
            ctx.now,
            begun,
        )?;
        Ok((
            Schedule {
                planned_at: ctx.now,
                ..new_plan
            },
            true,
        ))
    }

    /// The components' changes a maintenance makes as it moves: to
    /// `under_maintenance` when it begins (never over a worse status: an
    /// outage is not hidden behind planned work), back when it ends (to
    /// what an open incident still holds them at).
    fn maintenance_components(
        &self,
        state: &mut IncidentState,
        began: bool,
        ctx: &Context<'_>,
    ) -> Vec<ComponentChange> {
        let ends = state.status.is_final() && self.state.status.step() >= 1;
        let mut changes = Vec::new();
        for id in state.components.keys() {
            let Some((name, current)) = ctx.components.get(id) else {
                continue;
            };
            let to = if began && current.severity() < ComponentStatus::UnderMaintenance.severity() {
                ComponentStatus::UnderMaintenance
            } else if ends && *current == ComponentStatus::UnderMaintenance {
                ctx.held_elsewhere
                    .get(id)
                    .copied()
                    .unwrap_or(ComponentStatus::Operational)
            } else {
                continue;
            };
            if to != *current {
                changes.push(ComponentChange {
                    id: id.clone(),
                    name: name.clone(),
                    old_status: *current,
                    new_status: to,
                });
            }
        }
        if state.status.is_final() {
            state.resolved_at = Some(ctx.now);
        }
        if began {
            state.started_at = ctx.now;
        }
        changes
    }

    /// What Candor does at a maintenance's timed `step`, promised for
    /// `promised`; `None` when the plan moved or the work moved on since.
    pub fn maintenance_step(
        &self,
        step: Step,
        promised: Timestamp,
        message: Message,
        ctx: &Context<'_>,
    ) -> Option<(Incident, Entry)> {
        let plan = self.plan().ok()?;
        let status = self.state.status;
        let (class, new_status) = match step {
            Step::Remind
                if status == IncidentStatus::Scheduled
                    && plan.reminders().contains(&promised)
                    && promised > plan.planned_at
                    && ctx.now < plan.scheduled_for =>
            {
                (EntryClass::MaintenanceReminder, status)
            }
            Step::Start
                if status == IncidentStatus::Scheduled && plan.scheduled_for == promised =>
            {
                (EntryClass::MaintenanceStarted, IncidentStatus::InProgress)
            }
            Step::AutoComplete
                if !status.is_final() && status.step() >= 1 && plan.scheduled_until == promised =>
            {
                (EntryClass::MaintenanceCompleted, IncidentStatus::Completed)
            }
            Step::Overrun
                if !status.is_final()
                    && status.step() >= 1
                    && plan.scheduled_until == promised
                    && self.state.overdue_noticed != Some(promised) =>
            {
                (EntryClass::MaintenanceOverrun, status)
            }
            _ => return None,
        };
        let mut state = IncidentState {
            status: new_status,
            ..self.state.clone()
        };
        if step == Step::Overrun {
            state.overdue_noticed = Some(promised);
        }
        let began = step == Step::Start;
        let components = self.maintenance_components(&mut state, began, ctx);
        let (incident, mut entry) = self.next(state, vec![class], components, message, None, ctx);
        entry.system = true;
        Some((incident, entry))
    }

    /// The timed work of a maintenance: reminders, the start, the end.
    pub(super) fn maintenance_promises(&self) -> Vec<(Promise, Timestamp)> {
        let Some(plan) = self.state.schedule.as_ref() else {
            return Vec::new();
        };
        let status = self.state.status;
        if status.is_final() {
            return Vec::new();
        }
        let mut promises = Vec::new();
        if status == IncidentStatus::Scheduled {
            promises.extend(
                plan.reminders()
                    .into_iter()
                    .map(|at| (Promise::MaintenanceReminder, at)),
            );
            promises.push((Promise::MaintenanceStart, plan.scheduled_for));
        }
        promises.push((Promise::MaintenanceEnd, plan.scheduled_until));
        promises
    }

    /// The planned end passed and the work is still going on.
    pub fn overrunning(&self, now: Timestamp) -> bool {
        !self.state.status.is_final()
            && self.state.status.step() >= 1
            && self
                .state
                .schedule
                .as_ref()
                .is_some_and(|plan| plan.scheduled_until <= now)
    }
}

#[cfg(test)]
mod tests;
