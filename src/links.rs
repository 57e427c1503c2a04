//! Signed links in mails and on pages: confirm a subscription, unsubscribe,
//! manage components, "still affected". Delivery writes them into mails and
//! the HTTP side reads them back, so both use this module and neither needs
//! the other. A token is an HMAC over the purpose and the subject with a key
//! kept in the database, so the links are unguessable and nothing secret has
//! to be stored per subscriber. The same key makes the keyed hash that
//! stands for a reader in the "I'm affected" limit (`reader_key`), so no
//! reader's address is stored.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use crate::domain::reader_report::ReaderKey;
use crate::domain::{IncidentId, SubscriberId};

type HmacSha256 = Hmac<Sha256>;

/// 144 bits of tag: plenty against guessing, short enough for a link.
const TAG_LEN: usize = 18;

/// Signs and verifies tokens with the key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

impl Signer {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    fn mac(&self, purpose: &str, subject: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(subject.as_bytes());
        mac.finalize().into_bytes()[..TAG_LEN].to_vec()
    }

    /// `subject.signature`, both URL-safe.
    pub fn sign(&self, purpose: &str, subject: &str) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(subject),
            URL_SAFE_NO_PAD.encode(self.mac(purpose, subject))
        )
    }

    /// The subject, when the token was signed by us for this purpose.
    pub fn verify(&self, purpose: &str, token: &str) -> Option<String> {
        let (subject, signature) = token.split_once('.')?;
        let subject = String::from_utf8(URL_SAFE_NO_PAD.decode(subject).ok()?).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        if signature.len() != TAG_LEN {
            return None;
        }
        let mut mac = HmacSha256::new_from_slice(&self.key).ok()?;
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(subject.as_bytes());
        // Constant-time comparison of the truncated tag.
        mac.verify_truncated_left(&signature).ok()?;
        Some(subject)
    }
}

// What a token is good for. The words are signed into every token already
// sent: changing one breaks the links in mails out there.
const CONFIRM: &str = "confirm";
const UNSUBSCRIBE: &str = "unsubscribe";
const MANAGE: &str = "manage";
const STILL_AFFECTED: &str = "still_affected";
/// Never a link: the keyed hash of a reader's network.
const READER: &str = "reader";

/// A subscriber's links in a mail, each made from its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Unsubscribe,
    Manage,
    StillAffected,
}

/// The links of one Candor: its public URL and its key.
#[derive(Debug, Clone)]
pub struct Links {
    /// Public URL without a trailing slash.
    base_url: String,
    signer: Signer,
}

impl Links {
    pub fn new(base_url: impl Into<String>, signer: Signer) -> Self {
        Self {
            base_url: base_url.into(),
            signer,
        }
    }

    /// The one-click unsubscribe link (also the `List-Unsubscribe` URL).
    pub fn unsubscribe_url(&self, subscriber_id: &SubscriberId) -> String {
        self.link(Link::Unsubscribe, &self.unsubscribe_token(subscriber_id))
    }

    /// The token of the unsubscribe link, for a form that posts it.
    pub fn unsubscribe_token(&self, subscriber_id: &SubscriberId) -> String {
        self.signer.sign(UNSUBSCRIBE, subscriber_id.as_str())
    }

    pub fn manage_url(&self, subscriber_id: &SubscriberId) -> String {
        self.link(Link::Manage, &self.manage_token(subscriber_id))
    }

    pub fn manage_token(&self, subscriber_id: &SubscriberId) -> String {
        self.signer.sign(MANAGE, subscriber_id.as_str())
    }

    pub fn still_affected_url(
        &self,
        subscriber_id: &SubscriberId,
        incident_id: &IncidentId,
    ) -> String {
        self.link(
            Link::StillAffected,
            &self.still_affected_token(subscriber_id, incident_id),
        )
    }

    pub fn still_affected_token(
        &self,
        subscriber_id: &SubscriberId,
        incident_id: &IncidentId,
    ) -> String {
        self.signer
            .sign(STILL_AFFECTED, &format!("{subscriber_id}:{incident_id}"))
    }

    /// The link that carries `token` (made by the matching `…_token`).
    pub fn link(&self, link: Link, token: &str) -> String {
        let path = match link {
            Link::Unsubscribe => "unsubscribe",
            Link::Manage => "subscription",
            Link::StillAffected => "still-affected",
        };
        format!("{}/{path}?token={token}", self.base_url)
    }

    /// The confirmation link carries when it was made, so that it expires.
    pub fn confirm_url(&self, subscriber_id: &SubscriberId, sent_at: Timestamp) -> String {
        let subject = format!("{subscriber_id}:{}", sent_at.as_millisecond());
        format!(
            "{}/subscribe/confirm?token={}",
            self.base_url,
            self.signer.sign(CONFIRM, &subject)
        )
    }

    /// The subscriber and when their confirmation link was made.
    pub fn verify_confirm(&self, token: &str) -> Option<(SubscriberId, Timestamp)> {
        let subject = self.signer.verify(CONFIRM, token)?;
        let (id, sent_ms) = subject.split_once(':')?;
        let sent_at = sent_ms
            .parse::<i64>()
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())?;
        Some((SubscriberId::new(id), sent_at))
    }

    /// The subscriber an unsubscribe link is for.
    pub fn verify_unsubscribe(&self, token: &str) -> Option<SubscriberId> {
        self.signer
            .verify(UNSUBSCRIBE, token)
            .map(SubscriberId::from)
    }

    /// The subscriber a manage link is for.
    pub fn verify_manage(&self, token: &str) -> Option<SubscriberId> {
        self.signer.verify(MANAGE, token).map(SubscriberId::from)
    }

    /// A reader as the "I'm affected" limit knows them: the keyed hash of
    /// their network's address (`network`), which cannot be turned back
    /// into the address without the key.
    pub fn reader_key(&self, network: std::net::IpAddr) -> ReaderKey {
        ReaderKey::new(hex::encode(self.signer.mac(READER, &network.to_string())))
    }

    /// The subscriber and the incident of a "still affected" link.
    pub fn verify_still_affected(&self, token: &str) -> Option<(SubscriberId, IncidentId)> {
        let subject = self.signer.verify(STILL_AFFECTED, token)?;
        let (subscriber, incident) = subject.split_once(':')?;
        Some((SubscriberId::new(subscriber), IncidentId::new(incident)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_purpose_and_key() {
        let signer = Signer::new(b"key one");
        let token = signer.sign("unsubscribe", "s1");
        assert_eq!(signer.verify("unsubscribe", &token).as_deref(), Some("s1"));
        assert_eq!(signer.verify("confirm", &token), None);
        assert_eq!(Signer::new(b"key two").verify("unsubscribe", &token), None);
        let (subject, _) = token.split_once('.').unwrap();
        let forged = format!("{subject}.AAAAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(signer.verify("unsubscribe", &forged), None);
        assert_eq!(signer.verify("unsubscribe", "garbage"), None);
        let short = format!("{subject}.{}", &token.split_once('.').unwrap().1[..2]);
        assert_eq!(signer.verify("unsubscribe", &short), None);
    }

    fn token(url: &str) -> &str {
        url.split_once("token=").unwrap().1
    }

    #[test]
    fn each_link_reads_back_only_as_what_it_was_made_for() {
        let links = Links::new("http://127.0.0.1:8080", Signer::new(b"key"));
        let sent_at = Timestamp::from_millisecond(1_772_600_000_123).unwrap();
        let s1 = SubscriberId::new("s1");
        let confirm = links.confirm_url(&s1, sent_at);
        assert!(confirm.starts_with("http://127.0.0.1:8080/subscribe/confirm?token="));
        assert_eq!(
            links.verify_confirm(token(&confirm)),
            Some((s1.clone(), sent_at))
        );
        let unsubscribe = links.unsubscribe_url(&s1);
        assert!(unsubscribe.starts_with("http://127.0.0.1:8080/unsubscribe?token="));
        assert_eq!(token(&unsubscribe), links.unsubscribe_token(&s1));
        assert_eq!(
            links.verify_unsubscribe(token(&unsubscribe)).as_ref(),
            Some(&s1)
        );
        let manage = links.manage_url(&s1);
        assert!(manage.starts_with("http://127.0.0.1:8080/subscription?token="));
        assert_eq!(links.verify_manage(token(&manage)).as_ref(), Some(&s1));
        let affected = links.still_affected_url(&s1, &IncidentId::new("inc"));
        assert!(affected.starts_with("http://127.0.0.1:8080/still-affected?token="));
        assert_eq!(
            links.verify_still_affected(token(&affected)),
            Some((s1.clone(), IncidentId::new("inc")))
        );
        // A link is good for its own purpose only.
        assert_eq!(links.verify_unsubscribe(token(&manage)), None);
        assert_eq!(links.verify_manage(token(&unsubscribe)), None);
        assert_eq!(links.verify_confirm(token(&affected)), None);
        assert_eq!(links.verify_still_affected(token(&confirm)), None);
    }

    #[test]
    fn a_reader_key_names_a_network_without_its_address() {
        let links = Links::new("http://127.0.0.1:8080", Signer::new(b"key"));
        let ip: std::net::IpAddr = "203.0.113.5".parse().unwrap();
        let key = links.reader_key(ip);
        assert_eq!(key, links.reader_key(ip), "the same reader, the same key");
        assert_ne!(key, links.reader_key("203.0.113.6".parse().unwrap()));
        let other = Links::new("http://127.0.0.1:8080", Signer::new(b"another key"));
        assert_ne!(key, other.reader_key(ip), "keyed: no key, no match");
        assert!(!key.as_str().contains("203"), "{key:?}");
        assert_eq!(key.as_str().len(), 36, "hex of the 144-bit tag");
    }
}
