//! Mails as they leave: the envelope and headers (Message-ID, References,
//! List-Unsubscribe) around the words `views::mail` writes, with each
//! subscriber's own links.

use jiff::{tz::TimeZone, Timestamp};
use lettre::message::{
    header::{HeaderName, HeaderValue},
    Mailbox, MultiPart,
};
use lettre::Message;

use crate::domain::{facts::when, DeliveryId, Entry, IncidentId, SubscriberId};
use crate::links::Links;
use crate::store::StaffMessage;
use crate::views::mail::{self as words, EntryWords, SubscriberLinks};

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

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// An entry's mail, made once per entry and addressed once per subscriber.
pub struct EntryMail {
    words: EntryWords,
    incident_id: IncidentId,
    message_id_left: String,
    references: String,
    classes: String,
    date: std::time::SystemTime,
}

impl EntryMail {
    pub fn new(settings: &MailSettings, entry: &Entry) -> Self {
        Self {
            words: EntryWords::new(entry, &settings.base_url, &settings.tz),
            incident_id: entry.incident_id.clone(),
            message_id_left: entry.id.to_string(),
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
        subscriber_id: &SubscriberId,
        to: Mailbox,
    ) -> Result<Message, lettre::error::Error> {
        let unsubscribe = settings.links.unsubscribe_url(subscriber_id);
        let manage = settings.links.manage_url(subscriber_id);
        let still_affected = self.words.asks_still_affected().then(|| {
            settings
                .links
                .still_affected_url(subscriber_id, &self.incident_id)
        });
        let bodies = self.words.bodies(
            &settings.page_name,
            &SubscriberLinks {
                manage: &manage,
                unsubscribe: &unsubscribe,
                still_affected: still_affected.as_deref(),
            },
        );
        // Given, the envelope is not parsed back out of the headers.
        let envelope = lettre::address::Envelope::new(
            Some(settings.from.email.clone()),
            vec![to.email.clone()],
        )?;
        Message::builder()
            .from(settings.from.clone())
            .to(to)
            .subject(self.words.subject().to_string())
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
            .multipart(MultiPart::alternative_plain_html(bodies.text, bodies.html))
    }
}

/// A component's status set by staff, outside any incident.
pub fn component_mail(
    settings: &MailSettings,
    notice: &crate::store::ComponentNotice,
    subscriber_id: &SubscriberId,
    delivery_id: DeliveryId,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    let unsubscribe = settings.links.unsubscribe_url(subscriber_id);
    let manage = settings.links.manage_url(subscriber_id);
    let (subject, text) = words::component(
        &words::ComponentWords {
            name: &notice.name,
            from: notice.from,
            to: notice.to,
            at: notice.at,
            reason: notice.reason.as_deref(),
        },
        &settings.base_url,
        &settings.tz,
        &SubscriberLinks {
            manage: &manage,
            unsubscribe: &unsubscribe,
            still_affected: None,
        },
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
        // A MIME text part (MIME-Version, UTF-8 text/plain), as every mail:
        // a bare body left the charset to the reader's mail program.
        .singlepart(lettre::message::SinglePart::plain(text))
}

/// A mail to staff: a reminder's words are written now, from the incident
/// as the claim read it; an older Candor's mail goes as it wrote it.
pub fn staff_mail(
    settings: &MailSettings,
    mail: &StaffMessage,
    delivery_id: DeliveryId,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    let (subject, text) = match mail {
        StaffMessage::Reminder {
            incident,
            reminder,
            decided_at,
        } => words::staff::reminder(
            incident,
            reminder,
            *decided_at,
            &settings.tz,
            &settings.base_url,
        ),
        StaffMessage::Written { subject, text } => (subject.clone(), text.clone()),
        StaffMessage::ReadersAffected { report, decided_at } => crate::views::affected::staff_mail(
            report,
            *decided_at,
            &settings.tz,
            &settings.base_url,
        ),
    };
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!("<reminder-{delivery_id}@{}>", settings.host)))
        // A MIME part (MIME-Version, UTF-8 text/plain, an encoding fit for
        // the text) like every other mail: a bare body left the charset to
        // the reader's mail program, and names with accents came out wrong.
        .singlepart(lettre::message::SinglePart::plain(text))
}

/// The double opt-in mail: nothing else is sent before its link is clicked.
pub fn confirmation_mail(
    settings: &MailSettings,
    subscriber_id: &SubscriberId,
    sent_at: Timestamp,
    delivery_id: DeliveryId,
    to: Mailbox,
) -> Result<Message, lettre::error::Error> {
    let link = settings.links.confirm_url(subscriber_id, sent_at);
    let expires = when(
        sent_at + crate::domain::subscriber::CONFIRM_WINDOW,
        sent_at,
        &settings.tz,
    );
    let (subject, bodies) = words::confirmation(&settings.page_name, &link, &expires);
    Message::builder()
        .from(settings.from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(format!(
            "<confirm-{delivery_id}.{subscriber_id}@{}>",
            settings.host
        )))
        .multipart(MultiPart::alternative_plain_html(bodies.text, bodies.html))
}
