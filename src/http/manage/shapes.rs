//! The Statuspage Manage API v1 object shapes: a component, an incident
//! (or scheduled maintenance) with its updates, a subscriber. Built on the
//! public v2 shapes (`crate::statuspage`), with the fields v1 adds; Candor's
//! own facts ride in `metadata.candor`, where a script can read them.

use serde::Serialize;

use crate::domain::{
    component::Component,
    subscriber::{Channel, Subscriber, SubscriberState},
    ComponentId, ComponentStatus, IncidentRecord, IncidentStatus, Kind, SubscriberId,
};
use crate::statuspage::{self, millis, ComponentJson, Ctx, Millis, UpdateJson};

/// A component as v1 shows it: the v2 fields and `automation_email`,
/// which Candor has no use for.
#[derive(Serialize)]
pub struct V1Component {
    #[serde(flatten)]
    pub base: ComponentJson,
    pub automation_email: Option<String>,
}

pub fn components(ctx: &Ctx<'_>) -> Vec<V1Component> {
    ctx.components()
        .into_iter()
        .map(|base| V1Component {
            base,
            automation_email: None,
        })
        .collect()
}

pub fn component(ctx: &Ctx<'_>, id: &ComponentId) -> Option<V1Component> {
    components(ctx).into_iter().find(|c| &c.base.id == id)
}

/// Where a write's owner or next update came from, said in the answer.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `metadata.candor.owner` / `metadata.candor.next_update_in`.
    #[serde(rename = "metadata")]
    Metadata,
    /// The token's owner (`candor token create --owner`).
    #[serde(rename = "token")]
    Token,
    /// The setting `default_next_update`.
    #[serde(rename = "default_next_update")]
    DefaultNextUpdate,
}

/// What a write decided on the client's behalf, and from where.
#[derive(Serialize, Default, Clone, Copy)]
pub struct Filled {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_from: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_update_from: Option<Source>,
}

/// `metadata.candor`: what Statuspage has no field for, in words too.
#[derive(Serialize)]
pub struct CandorFacts {
    pub owner: String,
    pub owner_email: String,
    pub cause: Option<String>,
    /// "not yet known" when there is no cause.
    pub cause_text: String,
    pub eta: Option<Millis>,
    /// "no ETA yet" when there is none.
    pub eta_text: String,
    pub next_update_at: Option<Millis>,
    pub overdue: bool,
    #[serde(flatten)]
    pub filled: Filled,
}

#[derive(Serialize)]
pub struct Metadata {
    pub candor: CandorFacts,
}

/// An incident or scheduled maintenance as v1 shows it.
#[derive(Serialize)]
pub struct V1Incident {
    pub id: crate::domain::IncidentId,
    pub name: String,
    pub status: IncidentStatus,
    pub impact: &'static str,
    pub impact_override: Option<&'static str>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub monitoring_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub started_at: Millis,
    pub shortlink: String,
    pub page_id: String,
    pub scheduled_for: Option<Millis>,
    pub scheduled_until: Option<Millis>,
    pub scheduled_remind_prior: bool,
    pub scheduled_reminded_at: Option<Millis>,
    pub scheduled_auto_in_progress: bool,
    pub scheduled_auto_completed: bool,
    pub postmortem_body: Option<String>,
    pub postmortem_published_at: Option<Millis>,
    pub postmortem_ignored: bool,
    pub postmortem_notified_subscribers: bool,
    pub postmortem_notified_twitter: bool,
    pub incident_updates: Vec<V1Update>,
    pub components: Vec<statuspage::IncidentComponent>,
    pub metadata: Metadata,
}

/// An incident update: the v2 fields, and v1's twitter fields (empty:
/// Candor posts nowhere but its page, mails and webhooks).
#[derive(Serialize)]
pub struct V1Update {
    #[serde(flatten)]
    pub base: UpdateJson,
    pub wants_twitter_update: bool,
    pub twitter_updated_at: Option<Millis>,
}

pub fn incident(ctx: &Ctx<'_>, record: &IncidentRecord, filled: Filled) -> V1Incident {
    let v2 = ctx.incident(record);
    let state = &record.incident.state;
    let plan = state.schedule.as_ref();
    let postmortem = record
        .entries
        .iter()
        .find(|e| e.classes.contains(&crate::domain::EntryClass::Postmortem));
    V1Incident {
        id: v2.id,
        name: v2.name,
        status: v2.status,
        impact: v2.impact,
        impact_override: (record.incident.kind == Kind::Incident).then(|| state.impact.as_str()),
        created_at: v2.created_at,
        updated_at: v2.updated_at,
        monitoring_at: v2.monitoring_at,
        resolved_at: v2.resolved_at,
        started_at: v2.started_at,
        shortlink: v2.shortlink,
        page_id: v2.page_id,
        scheduled_for: v2.scheduled_for,
        scheduled_until: v2.scheduled_until,
        scheduled_remind_prior: plan.is_some_and(|p| !p.remind_before.is_empty()),
        scheduled_reminded_at: millis(
            record
                .entries
                .iter()
                .find(|e| {
                    e.classes
                        .contains(&crate::domain::EntryClass::MaintenanceReminder)
                })
                .map(|e| e.posted_at),
        ),
        // Candor starts every maintenance at its time, and says so.
        scheduled_auto_in_progress: plan.is_some(),
        scheduled_auto_completed: plan.is_some_and(|p| p.auto_complete),
        postmortem_body: postmortem.map(|e| e.message.to_string()),
        postmortem_published_at: postmortem.map(|e| Millis(e.posted_at)),
        postmortem_ignored: false,
        postmortem_notified_subscribers: postmortem.is_some(),
        postmortem_notified_twitter: false,
        incident_updates: v2
            .incident_updates
            .into_iter()
            .map(|base| V1Update {
                base,
                wants_twitter_update: false,
                twitter_updated_at: None,
            })
            .collect(),
        components: v2.components,
        metadata: Metadata {
            candor: CandorFacts {
                owner: state.owner.name.to_string(),
                owner_email: state.owner.email.to_string(),
                cause_text: state
                    .cause
                    .as_ref()
                    .map_or_else(|| "not yet known".to_string(), ToString::to_string),
                cause: v2.candor.cause,
                eta_text: match v2.candor.eta {
                    Some(eta) => eta.to_string(),
                    None => "no ETA yet".to_string(),
                },
                eta: v2.candor.eta,
                next_update_at: v2.candor.next_update_at,
                overdue: v2.candor.overdue,
                filled,
            },
        },
    }
}

/// A subscriber as v1 shows it. Candor sends mail and webhooks only, so
/// the phone and chat fields are always empty.
#[derive(Serialize)]
pub struct V1Subscriber {
    pub id: SubscriberId,
    pub mode: &'static str,
    pub email: Option<String>,
    pub endpoint: Option<String>,
    pub phone_number: Option<String>,
    pub phone_country: Option<String>,
    pub display_phone_number: Option<String>,
    pub obfuscated_channel_name: Option<String>,
    pub workspace_name: Option<String>,
    /// Confirmed when it was made: staff vouched for it.
    pub skip_confirmation_notification: bool,
    pub quarantined_at: Option<Millis>,
    pub purge_at: Option<Millis>,
    /// Every component it hears of (all of them when it chose none).
    pub components: Vec<ComponentId>,
    pub page_access_user_id: Option<String>,
    pub created_at: Millis,
    pub candor: SubscriberFacts,
}

#[derive(Serialize)]
pub struct SubscriberFacts {
    pub state: SubscriberState,
    pub confirmed_at: Option<Millis>,
    pub unsubscribed_at: Option<Millis>,
    /// A new webhook's signing secret, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

pub fn subscriber(
    subscriber: &Subscriber,
    all: &[Component],
    secret: Option<String>,
) -> V1Subscriber {
    let (mode, email, endpoint) = match subscriber.channel {
        Channel::Email => ("email", Some(subscriber.address.clone()), None),
        Channel::Webhook => ("webhook", None, Some(subscriber.address.clone())),
    };
    let components = if subscriber.components.is_empty() {
        all.iter().map(|c| c.id.clone()).collect()
    } else {
        subscriber.components.clone()
    };
    V1Subscriber {
        id: subscriber.id.clone(),
        mode,
        email,
        endpoint,
        phone_number: None,
        phone_country: None,
        display_phone_number: None,
        obfuscated_channel_name: None,
        workspace_name: None,
        skip_confirmation_notification: subscriber.confirmed_at == Some(subscriber.created_at),
        quarantined_at: millis(subscriber.quarantined_at),
        purge_at: None,
        components,
        page_access_user_id: None,
        created_at: Millis(subscriber.created_at),
        candor: SubscriberFacts {
            state: subscriber.state,
            confirmed_at: millis(subscriber.confirmed_at),
            unsubscribed_at: millis(subscriber.unsubscribed_at),
            webhook_secret: secret,
        },
    }
}

/// The status a component listed by `component_ids` alone keeps: its own.
pub fn current_status(all: &[Component], id: &ComponentId) -> Option<ComponentStatus> {
    all.iter().find(|c| &c.id == id).map(|c| c.status)
}

/// One page of `items`: Statuspage's `page` (from 1) and `per_page`.
pub fn page_of<T>(items: Vec<T>, page: usize, per_page: usize) -> Vec<T> {
    items
        .into_iter()
        .skip(page.saturating_sub(1).saturating_mul(per_page))
        .take(per_page)
        .collect()
}
