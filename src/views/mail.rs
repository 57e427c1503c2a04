//! What mails say, in plain text and HTML: subjects that lead with bad
//! news, bodies that state every fact plainly (shared/reference/voice.md).
//! Delivery puts these words into envelopes (`delivery::email`).

use jiff::{tz::TimeZone, Timestamp};
use maud::{html, Markup};

use super::markdown;
use crate::domain::{
    classify::lead,
    facts::{self, when},
    ComponentStatus, Entry, EntryClass, IncidentStatus,
};

/// A mail's two bodies: the plain text and the same in HTML.
pub struct Bodies {
    pub text: String,
    pub html: String,
}

/// One subscriber's own links, for the foot of a mail.
pub struct SubscriberLinks<'a> {
    pub manage: &'a str,
    pub unsubscribe: &'a str,
    /// Only the resolve mail asks "Still affected?".
    pub still_affected: Option<&'a str>,
}

fn status_words(status: ComponentStatus) -> String {
    status.words().to_lowercase()
}

/// The subject: the class that leads (bad news first), the title, and the
/// one fact that changed.
pub fn subject(entry: &Entry, tz: &TimeZone) -> String {
    if let Some(subject) = super::maintenance::subject(entry, tz) {
        return subject;
    }
    let state = &entry.state;
    let diff = &entry.diff;
    let now = entry.posted_at;
    let class = lead(&entry.classes);
    let fact = match class {
        EntryClass::Opened => format!(
            "{}, cause {}",
            state.status.as_str(),
            state
                .cause
                .as_ref()
                .map_or("not yet known".to_string(), |c| c.to_string())
        ),
        EntryClass::EtaSlipped | EntryClass::EtaImproved => match (&diff.eta, state.eta) {
            (Some(change), Some(eta)) => match change.from {
                Some(was) => format!(
                    "ETA now {} (was {})",
                    when(eta, now, tz),
                    facts::clock_time(was, tz)
                ),
                None => format!("ETA now {}", when(eta, now, tz)),
            },
            _ => "the ETA moved".into(),
        },
        EntryClass::EtaSet => match state.eta {
            Some(eta) => format!("ETA {}", when(eta, now, tz)),
            None => "ETA set".into(),
        },
        EntryClass::EtaWithdrawn => "no ETA for now".into(),
        EntryClass::ImpactRaised | EntryClass::ImpactLowered => {
            format!("now {}", state.impact.words().to_lowercase())
        }
        EntryClass::ComponentsWorsened | EntryClass::ComponentsRecovered => {
            let worse = class == EntryClass::ComponentsWorsened;
            entry
                .components
                .iter()
                .find(|c| (c.new_status.severity() > c.old_status.severity()) == worse)
                .map_or("components changed".into(), |c| {
                    format!("{} now {}", c.name, status_words(c.new_status))
                })
        }
        EntryClass::Reopened => "the problem is back".into(),
        EntryClass::Correction => match (&diff.cause, &diff.impact) {
            (Some(_), _) => match &state.cause {
                Some(cause) => format!("the cause given earlier was wrong: {cause}"),
                None => "the cause given earlier was wrong".into(),
            },
            (None, Some(_)) => format!(
                "the impact was misstated: {}",
                state.impact.words().to_lowercase()
            ),
            _ => "an earlier entry was wrong".into(),
        },
        EntryClass::OverdueNotice => match state.overdue_noticed {
            Some(due) => format!("the {} update is late", facts::clock_time(due, tz)),
            None => "the promised update is late".into(),
        },
        EntryClass::Resolved => match state.resolved_at {
            Some(at) => format!("resolved at {}", when(at, now, tz)),
            None => "resolved".into(),
        },
        EntryClass::CauseIdentified => match &state.cause {
            Some(cause) => format!("cause identified: {cause}"),
            None => "cause identified".into(),
        },
        EntryClass::OwnerChanged => format!("now owned by {}", state.owner.name),
        EntryClass::FollowUp | EntryClass::Postmortem => {
            "what happened and what we are changing".into()
        }
        EntryClass::Update => state.status.as_str().to_string(),
        EntryClass::MaintenanceScheduled
        | EntryClass::MaintenanceReminder
        | EntryClass::MaintenanceStarted
        | EntryClass::MaintenanceRescheduled
        | EntryClass::MaintenanceOverrun
        | EntryClass::MaintenanceCompleted
        | EntryClass::MaintenanceCancelled => "planned maintenance".into(),
    };
    let label = match class {
        c if c.is_bad_news() => c.label(),
        EntryClass::Opened | EntryClass::Resolved | EntryClass::Postmortem => class.label(),
        _ => "Update",
    };
    format!("[{label}] {} — {fact}", state.title)
}

/// The facts of the entry, one per line, in plain words.
pub fn fact_lines(entry: &Entry, tz: &TimeZone) -> Vec<String> {
    if let Some(lines) = super::maintenance::fact_lines(entry, tz) {
        return lines;
    }
    let state = &entry.state;
    let now = entry.posted_at;
    let mut lines = vec![
        format!(
            "Status: {} · {}",
            state.status.words(),
            state.impact.words()
        ),
        facts::cause_line(state).to_string(),
    ];
    lines.push(eta_or_end(entry, tz));
    let resolved = state.status == IncidentStatus::Resolved;
    match state.next_update_at.filter(|_| !resolved) {
        // A promise already broken when this was posted (Candor's own
        // "is late" entry, or a correction meanwhile) is said as broken,
        // never as a time still to come.
        Some(next) if next <= now => lines.push(format!(
            "Update overdue since {} — {} has been reminded",
            when(next, now, tz),
            state.owner.name
        )),
        Some(next) => lines.push(format!("Next update by {}", when(next, now, tz))),
        None => {
            if let Some(follow_up) = state.follow_up_at.filter(|_| resolved) {
                lines.push(format!(
                    "We will follow up by {} with what happened and what we are changing.",
                    when(follow_up, now, tz)
                ));
            }
        }
    }
    lines.push(format!("Owner: {}", state.owner.name));
    lines.extend(changed_line(entry));
    // Candor's own words are marked as such, with their source
    // ("Candor (from Alertmanager)"): a person has not written them.
    if entry.system {
        lines.push(format!("Posted by {}.", entry.author));
    }
    lines
}

/// "Changed: VPN: operational → under maintenance", when the entry moved a
/// component.
pub fn changed_line(entry: &Entry) -> Option<String> {
    if entry.components.is_empty() {
        return None;
    }
    let changes: Vec<String> = entry
        .components
        .iter()
        .map(|c| {
            format!(
                "{}: {} → {}",
                c.name,
                status_words(c.old_status),
                status_words(c.new_status)
            )
        })
        .collect();
    Some(format!("Changed: {}", changes.join("; ")))
}

/// The ETA and how it moved; once resolved, no ETA but when it ended and
/// how long it lasted.
fn eta_or_end(entry: &Entry, tz: &TimeZone) -> String {
    let state = &entry.state;
    let now = entry.posted_at;
    if state.status == IncidentStatus::Resolved {
        return match state.resolved_at {
            Some(at) => format!(
                "Resolved at {}. It lasted {}, from {}.",
                when(at, now, tz),
                facts::duration(state.started_at, at),
                when(state.started_at, at, tz)
            ),
            None => "Resolved".into(),
        };
    }
    match (state.eta, entry.diff.eta.as_ref().and_then(|c| c.from)) {
        (Some(eta), _) if eta <= now => {
            format!("ETA {} passed — no new estimate yet", when(eta, now, tz))
        }
        (Some(eta), Some(was)) if Some(was) != state.eta => format!(
            "ETA: {} (was {})",
            when(eta, now, tz),
            facts::clock_time(was, tz)
        ),
        (Some(eta), _) => format!("ETA: {}", when(eta, now, tz)),
        (None, _) => "No ETA yet".into(),
    }
}

/// What an entry's mail says to every subscriber, worked out once per entry:
/// a fan-out renders the Markdown and the facts once, not once per mail.
pub struct EntryWords {
    subject: String,
    title: String,
    message_text: String,
    message_html: Markup,
    facts: Vec<String>,
    incident_url: String,
    asks_still_affected: bool,
}

impl EntryWords {
    pub fn new(entry: &Entry, base_url: &str, tz: &TimeZone) -> Self {
        Self {
            subject: subject(entry, tz),
            title: entry.state.title.to_string(),
            message_text: entry.message.to_string(),
            message_html: markdown::render(entry.message.as_str()),
            facts: fact_lines(entry, tz),
            incident_url: format!(
                "{base_url}/incidents/{}#entry-{}",
                entry.incident_id, entry.id
            ),
            asks_still_affected: entry.classes.contains(&EntryClass::Resolved),
        }
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The resolve mail asks "Still affected?" with a link of each reader's own.
    pub fn asks_still_affected(&self) -> bool {
        self.asks_still_affected
    }

    /// The bodies to one subscriber: their own links, the same words.
    pub fn bodies(&self, page_name: &str, links: &SubscriberLinks<'_>) -> Bodies {
        let mut text = String::with_capacity(2048);
        text.push_str(&self.title);
        text.push_str("\n\n");
        text.push_str(&self.message_text);
        text.push_str("\n\n");
        text.push_str(&self.facts.join("\n"));
        if let Some(link) = links.still_affected {
            text.push_str("\nStill affected? Tell us with one click: ");
            text.push_str(link);
        }
        text.push_str(&format!(
            "\n\nFull timeline: {url}\n\n--\n\
             You get every change to incidents on {page_name}, good news and bad.\n\
             Choose components: {manage}\nUnsubscribe: {unsubscribe}\n",
            url = self.incident_url,
            manage = links.manage,
            unsubscribe = links.unsubscribe,
        ));
        let html = html! {
            (maud::DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (self.subject) } }
                body style="font-family: system-ui, sans-serif; line-height: 1.5; max-width: 40rem" {
                    h1 style="font-size: 1.3rem" { (self.title) }
                    div { (self.message_html) }
                    ul {
                        @for line in &self.facts { li { (line) } }
                        @if let Some(link) = links.still_affected {
                            li { "Still affected? " a href=(link) { "Tell us with one click" } }
                        }
                    }
                    p { a href=(self.incident_url) { "Full timeline" } }
                    hr;
                    p style="color: #57606a; font-size: 0.9rem" {
                        "You get every change to incidents on " (page_name) ", good news and bad. "
                        a href=(links.manage) { "Choose components" } " · " a href=(links.unsubscribe) { "Unsubscribe" }
                    }
                }
            }
        };
        Bodies {
            text,
            html: html.into_string(),
        }
    }
}

/// A component's status set by staff, outside any incident.
pub struct ComponentWords<'a> {
    pub name: &'a str,
    pub from: ComponentStatus,
    pub to: ComponentStatus,
    pub at: Timestamp,
    /// Why, as staff said it.
    pub reason: Option<&'a str>,
}

/// The subject and the plain text of a component's change of status.
pub fn component(
    change: &ComponentWords<'_>,
    base_url: &str,
    tz: &TimeZone,
    links: &SubscriberLinks<'_>,
) -> (String, String) {
    let worse = change.to.severity() > change.from.severity();
    let now_words = status_words(change.to);
    let subject = if worse {
        format!("[Worse] {} — now {now_words}", change.name)
    } else {
        format!("[Update] {} — now {now_words}", change.name)
    };
    let why = change
        .reason
        .map_or(String::new(), |reason| format!("Why: {reason}\n\n"));
    let text = format!(
        "{name} is now {now_words} (it was {was}), as of {at}.\n\n{why}\
         Current status: {base_url}/\n\n--\n\
         Choose components: {manage}\nUnsubscribe: {unsubscribe}\n",
        name = change.name,
        was = status_words(change.from),
        at = when(change.at, change.at, tz),
        manage = links.manage,
        unsubscribe = links.unsubscribe,
    );
    (subject, text)
}

/// The double opt-in mail: its subject and bodies. Nothing else is sent
/// before its link is clicked.
pub fn confirmation(page_name: &str, link: &str, expires: &str) -> (String, Bodies) {
    let subject = format!("Confirm: incident updates from {page_name}");
    let text = format!(
        "Someone, probably you, asked to be told of every incident on {page_name}.\n\n\
         Confirm with this link (valid until {expires}):\n{link}\n\n\
         If it was not you, ignore this mail: nothing more will be sent.\n"
    );
    let html = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Confirm your subscription" } }
            body style="font-family: system-ui, sans-serif; line-height: 1.5" {
                p { "Someone, probably you, asked to be told of every incident on " (page_name) "." }
                p { a href=(link) { "Confirm the subscription" } " (valid until " (expires) ")." }
                p { "If it was not you, ignore this mail: nothing more will be sent." }
            }
        }
    };
    (
        subject,
        Bodies {
            text,
            html: html.into_string(),
        },
    )
}

/// Mails to the owner of an incident, as (subject, plain text): written
/// when they are sent, from what the owner is told (`OwnerReminder`) and
/// the incident as it stands then.
pub mod staff {
    use jiff::{tz::TimeZone, SignedDuration, Timestamp};

    use crate::domain::facts::when;
    use crate::domain::promises::OwnerReminder;
    use crate::domain::Incident;

    /// Where the owner acts: the incident's (or maintenance's) console page.
    fn incident_url(base_url: &str, incident: &Incident) -> String {
        format!("{base_url}/admin/incidents/{}", incident.id)
    }

    /// A reminder to the incident's owner: (subject, text). Times read as
    /// they did when Candor decided to remind (`decided_at`).
    pub fn reminder(
        incident: &Incident,
        reminder: &OwnerReminder,
        decided_at: Timestamp,
        tz: &TimeZone,
        base_url: &str,
    ) -> (String, String) {
        let at = |promised| when(promised, decided_at, tz);
        match *reminder {
            OwnerReminder::UpdateOverdue { promised, grace } => {
                update_overdue(incident, &at(promised), base_url, grace)
            }
            OwnerReminder::StillOverdue { promised } => {
                still_overdue(incident, &at(promised), base_url)
            }
            OwnerReminder::EtaPassed { promised } => eta_passed(incident, &at(promised), base_url),
            OwnerReminder::FollowUpDue { promised } => {
                follow_up_due(incident, &at(promised), base_url)
            }
            OwnerReminder::StillAffected { count } => still_affected(incident, count, base_url),
            OwnerReminder::MaintenanceOverrunning { promised, grace } => {
                maintenance_overrunning(incident, &at(promised), base_url, grace)
            }
        }
    }

    /// A maintenance outlasts its plan and nobody has said it is done.
    pub fn maintenance_overrunning(
        incident: &Incident,
        at: &str,
        base_url: &str,
        grace: Option<SignedDuration>,
    ) -> (String, String) {
        let state = &incident.state;
        let after = match grace {
            Some(grace) => format!(
                "If it is not completed within {} min, Candor tells subscribers it is taking longer than planned.",
                grace.as_mins()
            ),
            None => "Subscribers have been told it is taking longer than planned.".into(),
        };
        (
            format!("[Overrun] {} — planned to end at {at}", state.title),
            format!(
                "{name}, the maintenance \"{title}\" was planned to end at {at} and is not completed.\n\n\
                 If it is done, complete it; if not, say when it will end:\n\
                 {link}\n\n{after}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }

    /// The promised update did not come; `grace` is how long until Candor
    /// tells subscribers it is late (`None`: it does not).
    pub fn update_overdue(
        incident: &Incident,
        at: &str,
        base_url: &str,
        grace: Option<SignedDuration>,
    ) -> (String, String) {
        let state = &incident.state;
        let after = match grace {
            Some(grace) => format!(
                "If nothing is posted within {} min, Candor tells subscribers the update is late.",
                grace.as_mins()
            ),
            None => "Subscribers can see on the page that the update is late.".into(),
        };
        (
            format!("[Update overdue] {} — promised for {at}", state.title),
            format!(
                "{name}, you promised the next update on \"{title}\" for {at}. It has not come.\n\n\
                 Post an update now, even if nothing new is known: say so, and when you will say more.\n\
                 {link}\n\n{after}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }

    /// Still no update, and subscribers have now been told it is late.
    pub fn still_overdue(incident: &Incident, at: &str, base_url: &str) -> (String, String) {
        let state = &incident.state;
        (
            format!(
                "[Still overdue] {} — subscribers have been told",
                state.title
            ),
            format!(
                "{name}, the update on \"{title}\" promised for {at} is still missing. \
                 Candor has told subscribers that it is late.\n\nPost an update now:\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }

    /// The ETA passed with the incident unresolved.
    pub fn eta_passed(incident: &Incident, at: &str, base_url: &str) -> (String, String) {
        let state = &incident.state;
        (
            format!("[ETA passed] {} — {at}", state.title),
            format!(
                "{name}, the ETA you gave for \"{title}\", {at}, has passed and the incident is not resolved.\n\n\
                 The page now says: \"ETA {at} passed — no new estimate yet\".\n\
                 Give a new ETA, or clear it if you cannot say:\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }

    /// The follow-up promised after resolving is due.
    pub fn follow_up_due(incident: &Incident, at: &str, base_url: &str) -> (String, String) {
        let state = &incident.state;
        (
            format!("[Follow-up due] {}", state.title),
            format!(
                "{name}, \"{title}\" was resolved and you promised a follow-up by {at}: \
                 what happened, and what will change.\n\nPost it on the incident:\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }

    /// `count` subscribers say a resolved incident still affects them.
    pub fn still_affected(incident: &Incident, count: i64, base_url: &str) -> (String, String) {
        let state = &incident.state;
        let people = if count == 1 {
            "1 subscriber says".to_string()
        } else {
            format!("{count} subscribers say")
        };
        (
            format!(
                "[Still affected] {} — {people} it is not fixed",
                state.title
            ),
            format!(
                "{name}, {people} they are still affected by \"{title}\", which was resolved.\n\n\
                 Look again, and post an update (a new status reopens the incident):\n{link}\n",
                name = state.owner.name,
                title = state.title,
                link = incident_url(base_url, incident),
            ),
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::incident::{Change, ComponentChange, Diff};
    use crate::domain::{
        Cause, Email, Impact, IncidentState, Message as Text, Owner, PersonName, Title,
    };

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(crate) fn entry(classes: Vec<EntryClass>, diff: Diff) -> Entry {
        let state = IncidentState {
            title: Title::parse("Delayed outbound email").unwrap(),
            impact: Impact::Major,
            status: IncidentStatus::Identified,
            owner: Owner {
                name: PersonName::parse("Dana (IT Ops)").unwrap(),
                email: Email::parse("dana@acme.test").unwrap(),
            },
            cause: Some(Cause::parse("DNS change").unwrap()),
            eta: Some(t("2026-03-04T15:00:00Z")),
            next_update_at: Some(t("2026-03-04T09:30:00Z")),
            started_at: t("2026-03-04T08:00:00Z"),
            resolved_at: None,
            follow_up_at: None,
            components: BTreeMap::new(),
            overdue_noticed: None,
            follow_up_posted_at: None,
            schedule: None,
        };
        Entry {
            id: "e2".into(),
            incident_id: "inc".into(),
            seq: 2,
            classes,
            author: "dana".into(),
            posted_at: t("2026-03-04T09:00:00Z"),
            message: Text::parse("News.").unwrap(),
            state,
            diff,
            components: vec![ComponentChange {
                id: "smtp".into(),
                name: "Outbound SMTP".into(),
                old_status: ComponentStatus::PartialOutage,
                new_status: ComponentStatus::MajorOutage,
            }],
            corrects: None,
            system: false,
        }
    }

    #[test]
    fn subjects_lead_with_bad_news_and_say_what_changed() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let slipped = Diff {
            eta: Some(Change {
                from: Some(t("2026-03-04T13:00:00Z")),
                to: Some(t("2026-03-04T15:00:00Z")),
            }),
            ..Diff::default()
        };
        let e = entry(
            vec![EntryClass::EtaSlipped, EntryClass::CauseIdentified],
            slipped,
        );
        assert_eq!(
            subject(&e, &berlin),
            "[ETA slipped] Delayed outbound email — ETA now 16:00 CET (was 14:00)"
        );
        let e = entry(vec![EntryClass::ImpactRaised], Diff::default());
        assert_eq!(
            subject(&e, &berlin),
            "[Severity raised] Delayed outbound email — now major impact"
        );
        let e = entry(vec![EntryClass::ComponentsWorsened], Diff::default());
        assert_eq!(
            subject(&e, &berlin),
            "[Worse] Delayed outbound email — Outbound SMTP now major outage"
        );
        let e = entry(vec![EntryClass::Reopened], Diff::default());
        assert_eq!(
            subject(&e, &berlin),
            "[Reopened] Delayed outbound email — the problem is back"
        );
        let e = entry(vec![EntryClass::CauseIdentified], Diff::default());
        assert_eq!(
            subject(&e, &berlin),
            "[Update] Delayed outbound email — cause identified: DNS change"
        );
        let correction = Diff {
            cause: Some(Change {
                from: None,
                to: None,
            }),
            ..Diff::default()
        };
        let e = entry(vec![EntryClass::Correction], correction);
        assert_eq!(
            subject(&e, &berlin),
            "[Correction] Delayed outbound email — the cause given earlier was wrong: DNS change"
        );
    }

    #[test]
    fn facts_say_unknowns_plainly() {
        let mut e = entry(vec![EntryClass::Opened], Diff::default());
        e.state.cause = None;
        e.state.eta = None;
        let lines = fact_lines(&e, &TimeZone::UTC).join("\n");
        assert!(lines.contains("Cause: not yet known"), "{lines}");
        assert!(lines.contains("No ETA yet"), "{lines}");
        assert!(lines.contains("Next update by 09:30 UTC"), "{lines}");
    }

    #[test]
    fn a_missed_update_is_said_as_missed_never_as_still_to_come() {
        let mut e = entry(vec![EntryClass::OverdueNotice], Diff::default());
        e.posted_at = t("2026-03-04T09:45:00Z");
        e.state.next_update_at = Some(t("2026-03-04T09:30:00Z"));
        let lines = fact_lines(&e, &TimeZone::UTC).join("\n");
        assert!(
            lines.contains("Update overdue since 09:30 UTC — Dana (IT Ops) has been reminded"),
            "{lines}"
        );
        assert!(!lines.contains("Next update"), "{lines}");
    }

    #[test]
    fn a_resolved_incident_says_when_it_ended_and_how_long_it_lasted_not_an_eta() {
        let mut e = entry(vec![EntryClass::Resolved], Diff::default());
        e.state.status = IncidentStatus::Resolved;
        e.state.resolved_at = Some(t("2026-03-04T10:41:00Z"));
        e.state.next_update_at = None;
        e.state.follow_up_at = Some(t("2026-03-05T10:41:00Z"));
        e.posted_at = t("2026-03-04T10:41:00Z");
        let lines = fact_lines(&e, &TimeZone::UTC).join("\n");
        assert!(
            lines.contains("Resolved at 10:41 UTC. It lasted 2 h 41 min, from 08:00 UTC."),
            "{lines}"
        );
        assert!(!lines.contains("ETA"), "{lines}");
        assert!(
            lines.contains("We will follow up by 5 Mar 10:41 UTC"),
            "{lines}"
        );
    }
}
