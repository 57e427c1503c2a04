//! Mails rendered from a timeline entry's snapshot: the subject leads with
//! bad news, the body states every fact plainly (shared/reference/voice.md).

use jiff::{tz::TimeZone, Timestamp};
use lettre::message::{
    header::{HeaderName, HeaderValue},
    Mailbox, MultiPart,
};
use lettre::Message;
use maud::html;

use crate::domain::{
    classify::lead,
    facts::{self, when},
    ComponentStatus, Entry, EntryClass, IncidentStatus,
};
use crate::links::Links;
use crate::views::markdown;

/// What every mail needs besides its entry.
pub struct MailSettings {
    pub page_name: String,
    pub base_url: String,
    pub tz: TimeZone,
    pub from: Mailbox,
    /// The subscriber's own links in each mail.
    pub links: Links,
    /// The right-hand side of Message-IDs.
    pub host: String,
}

fn status_words(status: ComponentStatus) -> String {
    status.words().to_lowercase()
}

/// The subject: the class that leads (bad news first), the title, and the
/// one fact that changed.
pub fn subject(entry: &Entry, tz: &TimeZone) -> String {
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
    lines.push(
        match (state.eta, entry.diff.eta.as_ref().and_then(|c| c.from)) {
            (Some(eta), Some(was)) if Some(was) != state.eta => format!(
                "ETA: {} (was {})",
                when(eta, now, tz),
                facts::clock_time(was, tz)
            ),
            (Some(eta), _) => format!("ETA: {}", when(eta, now, tz)),
            (None, _) if state.status == IncidentStatus::Resolved => "No ETA: resolved".into(),
            (None, _) => "No ETA yet".into(),
        },
    );
    match state.next_update_at {
        Some(next) => lines.push(format!("Next update by {}", when(next, now, tz))),
        None => {
            if let Some(follow_up) = state.follow_up_at {
                lines.push(format!(
                    "We will follow up by {} with what happened and what we are changing.",
                    when(follow_up, now, tz)
                ));
            }
        }
    }
    lines.push(format!("Owner: {}", state.owner.name));
    if !entry.components.is_empty() {
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
        lines.push(format!("Changed: {}", changes.join("; ")));
    }
    lines
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// What an entry's mail says to every subscriber, worked out once per entry:
/// a fan-out renders the Markdown and the facts once, not once per mail.
pub struct EntryMail {
    subject: String,
    incident_id: String,
    message_id_left: String,
    title: String,
    message_text: String,
    message_html: maud::Markup,
    facts: Vec<String>,
    /// The resolve mail asks "Still affected?" with a link of each reader's own.
    asks_still_affected: bool,
    incident_url: String,
    references: String,
    classes: String,
    date: std::time::SystemTime,
}

impl EntryMail {
    pub fn new(settings: &MailSettings, entry: &Entry) -> Self {
        Self {
            subject: subject(entry, &settings.tz),
            incident_id: entry.incident_id.clone(),
            message_id_left: entry.id.clone(),
            title: entry.state.title.to_string(),
            message_text: entry.message.to_string(),
            message_html: markdown::render(entry.message.as_str()),
            facts: fact_lines(entry, &settings.tz),
            asks_still_affected: entry.classes.contains(&EntryClass::Resolved),
            incident_url: format!(
                "{}/incidents/{}#entry-{}",
                settings.base_url, entry.incident_id, entry.id
            ),
            references: format!("<{}@{}>", entry.incident_id, settings.host),
            classes: entry
                .classes
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(","),
            date: std::time::SystemTime::from(entry.posted_at),
        }
    }

    /// The mail to one subscriber: their own links, the same words.
    pub fn to(
        &self,
        settings: &MailSettings,
        subscriber_id: &str,
        to: Mailbox,
    ) -> Result<Message, lettre::error::Error> {
        let unsubscribe = settings.links.unsubscribe_url(subscriber_id);
        let manage = settings.links.manage_url(subscriber_id);
        let still_affected = self.asks_still_affected.then(|| {
            settings
                .links
                .still_affected_url(subscriber_id, &self.incident_id)
        });
        let mut text = String::with_capacity(2048);
        text.push_str(&self.title);
        text.push_str("\n\n");
        text.push_str(&self.message_text);
        text.push_str("\n\n");
        text.push_str(&self.facts.join("\n"));
        if let Some(link) = &still_affected {
            text.push_str("\nStill affected? Tell us with one click: ");
            text.push_str(link);
        }
        text.push_str(&format!(
            "\n\nFull timeline: {url}\n\n--\n\
             You get every change to incidents on {page}, good news and bad.\n\
             Choose components: {manage}\nUnsubscribe: {unsubscribe}\n",
            url = self.incident_url,
            page = settings.page_name,
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
                        @if let Some(link) = &still_affected {
                            li { "Still affected? " a href=(link) { "Tell us with one click" } }
                        }
                    }
                    p { a href=(self.incident_url) { "Full timeline" } }
                    hr;
                    p style="color: #57606a; font-size: 0.9rem" {
                        "You get every change to incidents on " (settings.page_name) ", good news and bad. "
                        a href=(manage) { "Choose components" } " · " a href=(unsubscribe) { "Unsubscribe" }
                    }
                }
            }
        };
        // Given, the envelope is not parsed back out of the headers.
        let envelope = lettre::address::Envelope::new(
            Some(settings.from.email.clone()),
            vec![to.email.clone()],
        )?;
        Message::builder()
            .from(settings.from.clone())
            .to(to)
            .subject(self.subject.clone())
            .date(self.date)
            .message_id(Some(format!(
                "<{}.{}@{}>",
                self.message_id_left, subscriber_id, settings.host
            )))
            .raw_header(header("References", self.references.clone()))
            .raw_header(header("List-Unsubscribe", format!("<{unsubscribe}>")))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ))
            .raw_header(header("X-Candor-Classes", self.classes.clone()))
            .envelope(envelope)
            .multipart(MultiPart::alternative_plain_html(text, html.into_string()))
    }
}

/// A component's status set by staff, outside any incident.
pub fn component_mail(
    settings: &MailSettings,
    notice: &crate::store::ComponentNotice,
    subscriber_id: &str,
    delivery_id: i64,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    let worse = notice.to.severity() > notice.from.severity();
    let now_words = status_words(notice.to);
    let subject = if worse {
        format!("[Worse] {} — now {now_words}", notice.name)
    } else {
        format!("[Update] {} — now {now_words}", notice.name)
    };
    let unsubscribe = settings.links.unsubscribe_url(subscriber_id);
    let manage = settings.links.manage_url(subscriber_id);
    let text = format!(
        "{name} is now {now_words} (it was {was}), as of {at}.\n\n\
         Current status: {base}/\n\n--\n\
         Choose components: {manage}\nUnsubscribe: {unsubscribe}\n",
        name = notice.name,
        was = status_words(notice.from),
        at = when(notice.at, notice.at, &settings.tz),
        base = settings.base_url,
    );
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .date(std::time::SystemTime::from(notice.at))
        .message_id(Some(format!(
            "<component-{delivery_id}.{subscriber_id}@{}>",
            settings.host
        )))
        .raw_header(header("List-Unsubscribe", format!("<{unsubscribe}>")))
        .raw_header(header(
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".into(),
        ))
        .body(text)
}

/// A mail to staff, as it was written when queued.
pub fn staff_mail(
    settings: &MailSettings,
    mail: &crate::store::StaffMail,
    delivery_id: i64,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<reminder-{delivery_id}@{}>", settings.host)))
        .body(mail.text.clone())
}

/// The double opt-in mail: nothing else is sent before its link is clicked.
pub fn confirmation_mail(
    settings: &MailSettings,
    subscriber_id: &str,
    sent_at: Timestamp,
    delivery_id: i64,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    let link = settings.links.confirm_url(subscriber_id, sent_at);
    let expires = when(
        sent_at + crate::domain::subscriber::CONFIRM_WINDOW,
        sent_at,
        &settings.tz,
    );
    let text = format!(
        "Someone, probably you, asked to be told of every incident on {page}.\n\n\
         Confirm with this link (valid until {expires}):\n{link}\n\n\
         If it was not you, ignore this mail: nothing more will be sent.\n",
        page = settings.page_name
    );
    let html = html! {
        (maud::DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { "Confirm your subscription" } }
            body style="font-family: system-ui, sans-serif; line-height: 1.5" {
                p { "Someone, probably you, asked to be told of every incident on " (settings.page_name) "." }
                p { a href=(link) { "Confirm the subscription" } " (valid until " (expires) ")." }
                p { "If it was not you, ignore this mail: nothing more will be sent." }
            }
        }
    };
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(format!(
            "Confirm: incident updates from {}",
            settings.page_name
        ))
        .message_id(Some(format!(
            "<confirm-{delivery_id}.{subscriber_id}@{}>",
            settings.host
        )))
        .multipart(MultiPart::alternative_plain_html(text, html.into_string()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::incident::{Change, ComponentChange, Diff};
    use crate::domain::{
        Cause, Email, Impact, IncidentState, Message as Text, Owner, PersonName, Title,
    };

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn entry(classes: Vec<EntryClass>, diff: Diff) -> Entry {
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
}
