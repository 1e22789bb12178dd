//! Kushim's credentials, as pure functions: argon2id password hashes, EdDSA-signed access tokens with
//! their JWKS and key rotation, opaque refresh tokens and API keys stored only as hashes, and
//! tamper-proof pagination cursors. Nothing here does I/O, async work or talks to AWS; callers load
//! and store keys and hashes, and pass the current time in so every check is deterministic.

pub mod cursor;
pub mod opaque;
pub mod password;
pub mod tokens;

use thiserror::Error;

pub use cursor::CursorError;
pub use opaque::{
    NewApiKey, Secret, TokenHash, hash_token, is_refresh_token, new_api_key, new_refresh_token, parse_api_key,
};
pub use password::{
    PasswordPolicyError, check_policy, check_policy_for, dummy_verify, hash_password, needs_rehash, verify_password,
};
pub use tokens::{AccessClaims, KeySet, PrincipalKind, SigningKey, TokenConfig, TokenError, issue, jwks, verify};

/// Everything that can go wrong while *creating* a credential (hashing a password, generating or
/// loading keys, issuing a token). Verification failures have their own types ([`TokenError`],
/// [`CursorError`]) or are a plain `false`. No variant ever carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The password hasher failed (bad parameters or an internal error); the password is not included.
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// The system could not generate a new signing key.
    #[error("could not generate a signing key")]
    KeyGeneration,
    /// A stored key set could not be read or is inconsistent.
    #[error("invalid key set: {0}")]
    InvalidKeySet(String),
    /// The requested access-token lifetime is outside what Kushim allows.
    #[error("access token lifetime must be between 1 and {max} seconds, got {got}")]
    InvalidTtl {
        /// The lifetime asked for.
        got: i64,
        /// The longest allowed lifetime.
        max: i64,
    },
    /// A claim needed to issue a token was empty or invalid.
    #[error("invalid claim `{0}`: must not be empty")]
    InvalidClaim(&'static str),
    /// Signing the token failed.
    #[error("could not sign the access token: {0}")]
    Signing(String),
}
