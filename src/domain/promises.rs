//! Kept promises (DESIGN.md §1.2, §1.3, §1.7): what Candor does when a
//! promised time comes. At a promised update's time the owner is reminded;
//! after the grace period Candor says so in a system entry that
//! subscribers receive; a passed ETA and a due follow-up remind the owner
//! too. Decided on the incident as the store's transaction read it.

use jiff::{tz::TimeZone, SignedDuration, Timestamp};

use super::facts::when;
use super::incident::Promise;
use super::{Context, DomainError, Entry, Incident, Message};

/// What the reminders need from the configuration.
#[derive(Debug, Clone)]
pub struct PromiseSettings {
    /// `None`: no system entry for late updates (`overdue_grace = off`).
    pub grace: Option<SignedDuration>,
    /// The page's time zone, in which promised times are written.
    pub tz: TimeZone,
    /// Where the incident pages are, for the link in a reminder.
    pub base_url: String,
}

/// A mail to the incident's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerReminder {
    pub subject: String,
    pub text: String,
}

/// What a promised time that came does, all of it in one transaction.
#[derive(Debug, Default)]
pub struct DueWork {
    /// A system entry, and the incident after it.
    pub entry: Option<(Incident, Entry)>,
    pub reminder: Option<OwnerReminder>,
    /// Further work: (kind, promised time, due time).
    pub then: Option<(Promise, Timestamp, Timestamp)>,
}

impl Incident {
    /// What is done now that the promise of `kind` made for `promised` is
    /// due; nothing when it was kept, or changed, meanwhile. The context's
    /// author and entry id are those of a system entry.
    pub fn promise_due(
        &self,
        kind: Promise,
        promised: Timestamp,
        ctx: &Context<'_>,
        settings: &PromiseSettings,
    ) -> DueWork {
        let now = ctx.now;
        let reminder = Reminder {
            incident: self,
            at: when(promised, now, &settings.tz),
            link: format!("{}/incidents/{}", settings.base_url, self.id),
        };
        let state = &self.state;
        match kind {
            Promise::NextUpdate if self.overdue(now) && state.next_update_at == Some(promised) => {
                overdue(&reminder, promised, settings.grace)
            }
            Promise::OverdueNotice => overdue_notice(&reminder, promised, ctx),
            Promise::Eta if self.eta_passed(now) && state.eta == Some(promised) => {
                eta_passed(&reminder)
            }
            Promise::FollowUp if self.owes_follow_up() && state.follow_up_at == Some(promised) => {
                follow_up_due(&reminder)
            }
            // The promise was kept, or changed, meanwhile.
            _ => DueWork::default(),
        }
    }
}

impl Incident {
    /// The owner's mail when readers say the resolved incident still
    /// affects them (`count` of them so far); `base_url` is where the
    /// incident pages are.
    pub fn still_affected_reminder(&self, count: i64, base_url: &str) -> OwnerReminder {
        let people = if count == 1 {
            "1 subscriber says".to_string()
        } else {
            format!("{count} subscribers say")
        };
        OwnerReminder {
            subject: format!("[Still affected] {} — {people} it is not fixed", self.state.title),
            text: format!(
                "{name}, {people} they are still affected by \"{title}\", which was resolved.\n\n\
                 Look again, and post an update (a new status reopens the incident):\n{base_url}/incidents/{id}\n",
                name = self.state.owner.name,
                title = self.state.title,
                id = self.id,
            ),
        }
    }
}

/// What every reminder to an incident's owner is made of.
struct Reminder<'a> {
    incident: &'a Incident,
    /// The promised time, in the page's words.
    at: String,
    link: String,
}

impl Reminder<'_> {
    fn mail(&self, subject: String, text: String) -> OwnerReminder {
        OwnerReminder { subject, text }
    }
}

/// The promised update has not come: the owner is reminded, and told
/// what happens after the grace period.
fn overdue(reminder: &Reminder<'_>, promised: Timestamp, grace: Option<SignedDuration>) -> DueWork {
    let state = &reminder.incident.state;
    let after = match grace {
        Some(grace) => format!(
            "If nothing is posted within {} min, Candor tells subscribers the update is late.",
            grace.as_mins()
        ),
        None => "Subscribers can see on the page that the update is late.".into(),
    };
    DueWork {
        reminder: Some(reminder.mail(
            format!("[Update overdue] {} — promised for {}", state.title, reminder.at),
            format!(
                "{name}, you promised the next update on \"{title}\" for {at}. It has not come.\n\n\
                 Post an update now, even if nothing new is known: say so, and when you will say more.\n\
                 {link}\n\n{after}\n",
                name = state.owner.name,
                title = state.title,
                at = reminder.at,
                link = reminder.link,
            ),
        )),
        then: grace.map(|grace| (Promise::OverdueNotice, promised, promised + grace)),
        entry: None,
    }
}

/// Still not kept after the grace period: Candor says so in a system entry
/// that subscribers receive, and tells the owner.
fn overdue_notice(reminder: &Reminder<'_>, promised: Timestamp, ctx: &Context<'_>) -> DueWork {
    let (incident, at) = (reminder.incident, &reminder.at);
    let state = &incident.state;
    let text = format!(
        "The update promised for {at} is late. {} has been reminded. \
         We will post here as soon as we have news.",
        state.owner.name
    );
    let notice: Result<_, DomainError> =
        Message::parse(&text).and_then(|message| incident.overdue_notice(promised, message, ctx));
    match notice {
        Ok(entry) => DueWork {
            entry: Some(entry),
            reminder: Some(reminder.mail(
                format!(
                    "[Still overdue] {} — subscribers have been told",
                    state.title
                ),
                format!(
                    "{name}, the update on \"{title}\" promised for {at} is still missing. \
                     Candor has told subscribers that it is late.\n\nPost an update now:\n{link}\n",
                    name = state.owner.name,
                    title = state.title,
                    link = reminder.link,
                ),
            )),
            then: None,
        },
        // The promise was kept meanwhile, or was already called late.
        Err(_) => DueWork::default(),
    }
}

/// The ETA passed without resolution: the owner is asked for a new one.
fn eta_passed(reminder: &Reminder<'_>) -> DueWork {
    let (state, at) = (&reminder.incident.state, &reminder.at);
    DueWork {
        reminder: Some(reminder.mail(
            format!("[ETA passed] {} — {at}", state.title),
            format!(
                "{name}, the ETA you gave for \"{title}\", {at}, has passed and the incident is not resolved.\n\n\
                 The page now says: \"ETA {at} passed — no new estimate yet\".\n\
                 Give a new ETA, or withdraw it (\"eta\": null) if you cannot say:\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = reminder.link,
            ),
        )),
        ..DueWork::default()
    }
}

/// The follow-up promised when resolving is due.
fn follow_up_due(reminder: &Reminder<'_>) -> DueWork {
    let (state, at) = (&reminder.incident.state, &reminder.at);
    DueWork {
        reminder: Some(reminder.mail(
            format!("[Follow-up due] {}", state.title),
            format!(
                "{name}, \"{title}\" was resolved and you promised a follow-up by {at}: \
                 what happened, and what will change.\n\nPost it on the incident:\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = reminder.link,
            ),
        )),
        ..DueWork::default()
    }
}
