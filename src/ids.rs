//! Identifiers and API token secrets.

use rand::{distr::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

/// A short random id for components, incidents, entries and subscribers
/// (any of the domain's id types, or plain text): 12 lowercase letters and
/// digits (62 bits), unguessable enough for public URLs.
pub fn new_id<Id: From<String>>() -> Id {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    let id: String = (0..12)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    Id::from(id)
}

/// A new API token secret: `cnd_` and 40 random letters and digits.
pub fn new_token() -> String {
    format!("cnd_{}", random_alphanumeric(40))
}

/// `len` random ASCII letters and digits (a token's body, a MIME boundary).
pub fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// What is stored of a token: its SHA-256, hex.
pub fn hash_token(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_tokens_are_random_and_well_formed() {
        let (a, b): (String, String) = (new_id(), new_id());
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
        let token = new_token();
        assert!(token.starts_with("cnd_") && token.len() == 44);
        assert_eq!(hash_token(&token).len(), 64);
        assert_ne!(hash_token(&token), token);
    }
}
