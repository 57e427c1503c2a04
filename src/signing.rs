//! Signed tokens for links in mails (confirm, unsubscribe, manage): an HMAC
//! over the purpose and the subject with a key kept in the database, so the
//! links are unguessable and nothing secret has to be stored per subscriber.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// 144 bits of tag: plenty against guessing, short enough for a link.
const TAG_LEN: usize = 18;

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
}
