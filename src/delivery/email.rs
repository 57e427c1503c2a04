//! Mails as they leave: the envelope and headers (Message-ID, References,
//! List-Unsubscribe) around the words `views::mail` writes, with each
//! subscriber's own links.

use jiff::{tz::TimeZone, Timestamp};
use lettre::message::{
    header::{HeaderName, HeaderValue},
    Mailbox, MultiPart, SinglePart,
};
use lettre::Message;

use super::mailer::Formatted;
use super::template::Template;
use crate::domain::{facts::when, DeliveryId, Entry, IncidentId, SubscriberId};
use crate::links::{Link, Links};
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
    /// The MIME boundary of every copy (each is one mail; the boundary
    /// only has to be absent from its parts).
    boundary: String,
    /// Learnt from the first subscriber of each shape of values.
    templates: std::sync::Mutex<Templates>,
}

#[derive(Default)]
struct Templates {
    learnt: Vec<std::sync::Arc<Template>>,
    /// This mail cannot be filled in (an encoding that mixes characters,
    /// say): each copy is built whole.
    refused: bool,
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
            boundary: crate::ids::random_alphanumeric(40),
            templates: Default::default(),
        }
    }

    /// The mail to one subscriber: their own links, the same words. Filled
    /// in from the template of its shape when there is one (learnt here
    /// from the first such subscriber, and checked against their mail built
    /// whole), else built whole.
    pub fn to(
        &self,
        settings: &MailSettings,
        subscriber_id: &SubscriberId,
        to: Mailbox,
    ) -> Result<Formatted, lettre::error::Error> {
        let tokens = self.tokens(settings, subscriber_id);
        let values = self.values(subscriber_id, &tokens);
        let values = values.as_slice();
        let address: &str = to.email.as_ref();
        if to.name.is_none() && address.is_ascii() {
            if let Some(template) = self.template(settings, values, &to) {
                return Ok(Formatted {
                    envelope: self.envelope(settings, &to)?,
                    bytes: addressed(&template, values, address),
                    message_id: self.message_id(settings, subscriber_id.as_str()),
                });
            }
        }
        Ok(Formatted::from(&self.build(settings, values, Some(&to))?))
    }

    /// A subscriber's tokens: unsubscribe, manage, and "still affected" if
    /// the entry asks (else empty).
    fn tokens(&self, settings: &MailSettings, subscriber_id: &SubscriberId) -> [String; 3] {
        let links = &settings.links;
        [
            links.unsubscribe_token(subscriber_id),
            links.manage_token(subscriber_id),
            if self.words.asks_still_affected() {
                links.still_affected_token(subscriber_id, &self.incident_id)
            } else {
                String::new()
            },
        ]
    }

    /// What `build` takes for a subscriber.
    fn values<'a>(&self, subscriber_id: &'a SubscriberId, tokens: &'a [String; 3]) -> Vec<&'a str> {
        let mut values = vec![subscriber_id.as_str(), &tokens[0], &tokens[1]];
        if self.words.asks_still_affected() {
            values.push(&tokens[2]);
        }
        values
    }

    /// The template `values` fit: found, or learnt now from them.
    fn template(
        &self,
        settings: &MailSettings,
        values: &[&str],
        to: &Mailbox,
    ) -> Option<std::sync::Arc<Template>> {
        let mut templates = self.templates.lock().expect("templates lock");
        if let Some(found) = templates.learnt.iter().find(|t| t.fits(values)) {
            return Some(found.clone());
        }
        if templates.refused {
            return None;
        }
        let learnt = Template::learn(values, |values| {
            self.build(settings, values, None).map(|m| m.formatted())
        })
        // As it would have been built whole, To header first.
        .filter(|template| {
            let whole = self
                .build(settings, values, Some(to))
                .map(|m| m.formatted());
            whole.is_ok_and(|whole| whole == addressed(template, values, to.email.as_ref()))
        });
        match learnt {
            Some(template) => {
                let template = std::sync::Arc::new(template);
                templates.learnt.push(template.clone());
                Some(template)
            }
            None => {
                tracing::debug!(entry = %self.message_id_left, "this mail is built whole for each subscriber");
                templates.refused = true;
                None
            }
        }
    }

    /// The mail with these values: `[subscriber id, unsubscribe token,
    /// manage token, still affected token]` (the last one only when the
    /// entry asks). Without `to`, the mail has no To header (the template's
    /// copies get theirs first).
    fn build(
        &self,
        settings: &MailSettings,
        values: &[&str],
        to: Option<&Mailbox>,
    ) -> Result<Message, lettre::error::Error> {
        let links = &settings.links;
        let unsubscribe = links.link(Link::Unsubscribe, values[1]);
        let manage = links.link(Link::Manage, values[2]);
        let still_affected = (values.get(3)).map(|token| links.link(Link::StillAffected, token));
        let bodies = self.words.bodies(
            &settings.page_name,
            &SubscriberLinks {
                manage: &manage,
                unsubscribe: &unsubscribe,
                still_affected: still_affected.as_deref(),
            },
        );
        let mut builder = Message::builder();
        if let Some(to) = to {
            builder = builder.to(to.clone());
        }
        builder
            .from(settings.from.clone())
            .subject(self.words.subject().to_string())
            .date(self.date)
            .message_id(Some(self.message_id(settings, values[0])))
            .raw_header(header("References", self.references.clone()))
            .raw_header(header("List-Unsubscribe", format!("<{unsubscribe}>")))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ))
            .raw_header(header("X-Candor-Classes", self.classes.clone()))
            // Given, the envelope is not parsed back out of the headers.
            .envelope(self.envelope(settings, to.unwrap_or(&settings.from))?)
            .multipart(
                MultiPart::alternative()
                    .boundary(self.boundary.as_str())
                    .singlepart(SinglePart::plain(bodies.text))
                    .singlepart(SinglePart::html(bodies.html)),
            )
    }

    fn message_id(&self, settings: &MailSettings, subscriber_id: &str) -> String {
        format!(
            "<{}.{}@{}>",
            self.message_id_left, subscriber_id, settings.host
        )
    }

    fn envelope(
        &self,
        settings: &MailSettings,
        to: &Mailbox,
    ) -> Result<lettre::address::Envelope, lettre::error::Error> {
        lettre::address::Envelope::new(Some(settings.from.email.clone()), vec![to.email.clone()])
    }
}

/// A template's copy for `address`: its To header, then the rest.
fn addressed(template: &Template, values: &[&str], address: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(template.size_hint() + address.len() + 8);
    bytes.extend_from_slice(b"To: ");
    bytes.extend_from_slice(address.as_bytes());
    bytes.extend_from_slice(b"\r\n");
    template.fill(values, &mut bytes);
    bytes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntryClass;
    use crate::links::Signer;
    use crate::views::mail::tests::entry;

    fn settings() -> MailSettings {
        MailSettings {
            page_name: "Acme IT".into(),
            base_url: "https://status.acme.test".into(),
            tz: TimeZone::UTC,
            from: "Acme status <status@acme.test>".parse().unwrap(),
            links: Links::new("https://status.acme.test", Signer::new(b"test key")),
            host: "status.acme.test".into(),
        }
    }

    /// Each copy, filled in or not, is the mail built whole for its reader.
    fn copies_are_built_whole(mail: &EntryMail, settings: &MailSettings) {
        let readers = [
            ("k3v9x2m7q1", "ana@example.test"),
            ("b-_8Zz0aQ4", "bo.b+status@example.test"),
            ("k3v9x2m7q1zz", "a@b.test"),
            (
                "00000000000000000000",
                "long.address.of.someone@subdomain.example.test",
            ),
        ];
        for (id, address) in readers {
            let id = SubscriberId::new(id);
            let to = Mailbox::new(None, address.parse().unwrap());
            let copy = mail.to(settings, &id, to.clone()).unwrap();
            let tokens = mail.tokens(settings, &id);
            let whole = mail
                .build(settings, &mail.values(&id, &tokens), Some(&to))
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&copy.bytes),
                String::from_utf8_lossy(&whole.formatted()),
                "{address}"
            );
            assert_eq!(copy.message_id, Formatted::from(&whole).message_id);
            assert_eq!(&copy.envelope, whole.envelope());
        }
        let templates = mail.templates.lock().unwrap();
        assert!(!templates.refused);
        // One per shape of id: 10, 12 and 20 characters.
        assert_eq!(templates.learnt.len(), 3);
    }

    #[test]
    fn each_subscribers_copy_is_their_mail_as_built_whole() {
        let settings = settings();
        let mut e = entry(vec![EntryClass::CauseIdentified], Default::default());
        copies_are_built_whole(&EntryMail::new(&settings, &e), &settings);
        // Resolved (a fourth value: the "still affected" link), and words
        // that need quoted-printable: accents, a line longer than 76.
        e.classes = vec![EntryClass::Resolved];
        e.message = crate::domain::Message::parse(&format!(
            "Réparé. {}",
            "The relay's certificate was renewed and every queued mail went out. ".repeat(4)
        ))
        .unwrap();
        copies_are_built_whole(&EntryMail::new(&settings, &e), &settings);
    }
}
