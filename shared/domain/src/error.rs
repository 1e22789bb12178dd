//! Domain-level errors: invalid values that no retry can fix.

use thiserror::Error;

/// A value broke a domain rule (bad id format, bad digest, …). Never retryable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    /// An identifier did not match its required format.
    #[error("invalid {kind}: {reason}")]
    InvalidId {
        /// Which kind of id (e.g. `tenant id`).
        kind: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A SHA-256 digest was not 64 lowercase hexadecimal characters.
    #[error("invalid SHA-256 digest: {0}")]
    InvalidDigest(String),
}
