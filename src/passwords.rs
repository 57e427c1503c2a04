//! Staff passwords: hashed with argon2id (its default parameters, as
//! OWASP's password storage guidance gives them), kept as PHC strings that
//! carry their own salt and parameters.

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::domain::staff::Password;

/// The PHC string to store for `password`.
pub fn hash(password: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Whether `typed` is the password `stored` was made from. With no stored
/// hash (an unknown address, a user who never set one), a hash is still
/// checked, so that the answer takes as long as for a real account and
/// does not tell which addresses have one.
pub fn verify(typed: &str, stored: Option<&str>) -> bool {
    let checked = stored.unwrap_or(DECOY);
    let Ok(parsed) = PasswordHash::new(checked) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(typed.as_bytes(), &parsed)
        .is_ok();
    matches && stored.is_some()
}

/// The hash of a password nobody has, with argon2's default parameters.
const DECOY: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lzYWx0ZGVjb3k$0Vd9mO0Zr0Jg8mCqX0FqCw3o6mUdP0v4b1mYQk0JrGc";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery").unwrap();
        let stored = hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("correct horse battery!", Some(&stored)));
        assert!(!verify("correct horse battery", None));
        assert_ne!(
            stored,
            hash(&password).unwrap(),
            "each hash has its own salt"
        );
    }

    #[test]
    fn the_decoy_is_a_real_hash_with_the_same_cost() {
        let decoy = PasswordHash::new(DECOY).unwrap();
        let real = hash(&Password::parse("correct horse battery").unwrap()).unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.params, real.params);
    }
}
