//! Passwords: hashing with argon2id at OWASP's recommended cost, verifying against stored PHC
//! strings without ever panicking, a dummy verification that makes "no such user" take as long as
//! "wrong password", and the password policy enforced when a password is set.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

use crate::AuthError;

/// Memory cost in KiB (19 MiB), OWASP's recommended argon2id setting.
pub const M_COST_KIB: u32 = 19_456;
/// Number of passes over memory.
pub const T_COST: u32 = 2;
/// Degree of parallelism.
pub const P_COST: u32 = 1;
/// Shortest password accepted, in characters.
pub const MIN_LEN: usize = 12;
/// Longest password accepted, in characters (bounds the work an attacker can make us hash).
pub const MAX_LEN: usize = 256;
/// Salt length in bytes (the PHC recommendation is at least 16).
const SALT_LEN: usize = 16;
/// An email local part shorter than this is too common a substring to forbid.
const MIN_EMAIL_PART_LEN: usize = 3;

/// Why a new password was refused. Messages are meant for the person choosing it and never repeat
/// the password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordPolicyError {
    /// Fewer characters than [`MIN_LEN`].
    #[error("password must be at least {min} characters long")]
    TooShort {
        /// The minimum length.
        min: usize,
    },
    /// More characters than [`MAX_LEN`].
    #[error("password must be at most {max} characters long")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// Every character is the same one.
    #[error("password must not be a single character repeated")]
    RepeatedCharacter,
    /// The password contains the account email's name part.
    #[error("password must not contain the name part of your email address")]
    ContainsEmail,
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with argon2id (m = 19 MiB, t = 2, p = 1) and a fresh random salt, returning the
/// PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) to store.
pub fn hash_password(password: &SecretString) -> Result<String, AuthError> {
    let mut salt_bytes = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    let hash = hasher()?
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map_err(|e| AuthError::PasswordHash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks a password against a stored PHC string. Anything other than a well-formed argon2id hash
/// that matches gives `false`; this never panics. The cost parameters are read from the stored
/// string, so hashes made with older settings keep working (see [`needs_rehash`]).
pub fn verify_password(password: &SecretString, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default().verify_password(password.expose_secret().as_bytes(), &parsed).is_ok()
}

/// Whether a stored hash was made with other settings than today's and should be replaced by a
/// fresh [`hash_password`] after the next successful login. Unreadable hashes also need it.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || (params.m_cost(), params.t_cost(), params.p_cost()) != (M_COST_KIB, T_COST, P_COST)
}

/// A hash of a fixed password with today's settings, made on first use, for [`dummy_verify`].
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password(&SecretString::from("kushim-dummy-password-for-timing")).unwrap_or_default());

/// Spends the same time as a real [`verify_password`] and throws the answer away. Call it when the
/// account does not exist, so that "unknown user" and "wrong password" cannot be told apart by
/// timing. The first call in a process also pays for creating the dummy hash; warm it at start-up
/// with one call if cold-start timing matters.
pub fn dummy_verify(password: &SecretString) {
    std::hint::black_box(verify_password(password, &DUMMY_HASH));
}

/// Checks a new password against the policy, with no account email to compare against.
pub fn check_policy(password: &SecretString) -> Result<(), PasswordPolicyError> {
    check_policy_for(password, None)
}

/// Checks a new password against the policy: 12 to 256 characters, not one character repeated,
/// and, when the account email is given, not containing its name part (the text before `@`, and
/// before any `+tag`; compared case-insensitively, and only when that part has 3 or more
/// characters).
pub fn check_policy_for(password: &SecretString, email: Option<&str>) -> Result<(), PasswordPolicyError> {
    let password = password.expose_secret();
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(PasswordPolicyError::TooShort { min: MIN_LEN });
    }
    if len > MAX_LEN {
        return Err(PasswordPolicyError::TooLong { max: MAX_LEN });
    }
    let mut chars = password.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err(PasswordPolicyError::RepeatedCharacter);
    }
    if let Some(email) = email {
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local).to_lowercase();
        let untagged = local.split('+').next().unwrap_or_default();
        let lowered = password.to_lowercase();
        for part in [local.as_str(), untagged] {
            if part.chars().count() >= MIN_EMAIL_PART_LEN && lowered.contains(part) {
                return Err(PasswordPolicyError::ContainsEmail);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    const PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

    #[test]
    fn given_a_hashed_password_when_verifying_the_same_password_then_it_matches() {
        let phc = hash_password(&secret("correct horse battery staple")).unwrap();
        assert!(verify_password(&secret("correct horse battery staple"), &phc));
    }

    #[test]
    fn given_a_hashed_password_when_verifying_a_different_password_then_it_does_not_match() {
        let phc = hash_password(&secret("correct horse battery staple")).unwrap();
        assert!(!verify_password(&secret("correct horse battery stapler"), &phc));
        assert!(!verify_password(&secret(""), &phc));
    }

    #[test]
    fn given_the_same_password_when_hashed_twice_then_the_salts_and_hashes_differ() {
        let a = hash_password(&secret("same password twice")).unwrap();
        let b = hash_password(&secret("same password twice")).unwrap();
        assert_ne!(a, b);
        let salt = |phc: &str| PasswordHash::new(phc).unwrap().salt.unwrap().to_string();
        assert_ne!(salt(&a), salt(&b));
    }

    #[test]
    fn given_a_new_hash_when_reading_its_phc_string_then_it_names_argon2id_with_owasp_costs() {
        let phc = hash_password(&secret("parameters please")).unwrap();
        assert!(phc.starts_with(PREFIX), "unexpected PHC string prefix");
        let parsed = PasswordHash::new(&phc).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(parsed.salt.unwrap().decode_b64(&mut [0u8; 64]).unwrap().len(), SALT_LEN);
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn given_malformed_or_foreign_hashes_when_verifying_then_false_without_panicking() {
        let good = hash_password(&secret("a perfectly fine one")).unwrap();
        let truncated = &good[..good.len() - 10];
        let bad_params = good.replace("m=19456", "m=abc");
        let argon2i = good.replace("$argon2id$", "$argon2i$");
        let cases = [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            truncated,
            &bad_params,
            &argon2i,
        ];
        for phc in cases {
            assert!(!verify_password(&secret("a perfectly fine one"), phc), "{phc:?} must not verify");
        }
    }

    #[test]
    fn given_older_settings_when_checking_for_rehash_then_it_is_needed() {
        let good = hash_password(&secret("a perfectly fine one")).unwrap();
        assert!(needs_rehash(&good.replace("t=2", "t=1")));
        assert!(needs_rehash("garbage"));
    }

    #[test]
    fn given_the_dummy_hash_when_inspected_then_it_uses_todays_costs_so_timing_matches() {
        assert!(DUMMY_HASH.starts_with(PREFIX));
        dummy_verify(&secret("whatever the attacker typed"));
    }

    #[test]
    fn given_policy_when_checking_lengths_then_bounds_are_enforced() {
        assert_eq!(check_policy(&secret("short pw")), Err(PasswordPolicyError::TooShort { min: 12 }));
        assert_eq!(check_policy(&secret("elevenchars")), Err(PasswordPolicyError::TooShort { min: 12 }));
        assert_eq!(check_policy(&secret("twelve chars")), Ok(()));
        assert_eq!(check_policy(&secret(&"ab".repeat(128))), Ok(()));
        assert_eq!(check_policy(&secret(&"ab".repeat(129))), Err(PasswordPolicyError::TooLong { max: 256 }));
        // Length is counted in characters, not bytes: 12 two-byte characters are enough.
        assert_eq!(check_policy(&secret("ééééééééééé1")), Ok(()));
    }

    #[test]
    fn given_one_repeated_character_when_checking_policy_then_refused() {
        assert_eq!(check_policy(&secret("aaaaaaaaaaaaaaaa")), Err(PasswordPolicyError::RepeatedCharacter));
        assert_eq!(check_policy(&secret("aaaaaaaaaaaaaaab")), Ok(()));
    }

    #[test]
    fn given_an_email_when_the_password_contains_its_name_part_then_refused() {
        let email = Some("Alice.Smith+kushim@example.com");
        assert_eq!(
            check_policy_for(&secret("my alice.smith password"), email),
            Err(PasswordPolicyError::ContainsEmail)
        );
        assert_eq!(check_policy_for(&secret("xxALICE.SMITH+KUSHIMxx"), email), Err(PasswordPolicyError::ContainsEmail));
        assert_eq!(check_policy_for(&secret("nothing to see here"), email), Ok(()));
        // Without the email the same password is fine.
        assert_eq!(check_policy_for(&secret("my alice.smith password"), None), Ok(()));
        // Very short local parts are not enforced (every password would contain "a").
        assert_eq!(check_policy_for(&secret("a long passphrase"), Some("a@example.com")), Ok(()));
    }

    #[test]
    fn given_policy_errors_when_displayed_then_messages_are_clear_and_never_echo_the_password() {
        let pw = "alice-secret-value";
        let err = check_policy_for(&secret(pw), Some("alice@example.com")).unwrap_err();
        let text = err.to_string();
        assert_eq!(text, "password must not contain the name part of your email address");
        assert!(!text.contains(pw) && !format!("{err:?}").contains(pw));
    }
}
