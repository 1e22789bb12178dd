//! The one error type of this crate: storage failures from the ports, refused input, stale
//! edits, and evidence whose stored bytes no longer match their digest.

use kushim_adapters::AdapterError;
use thiserror::Error;

/// An error from the evidence store, ledger or checkpoints.
#[derive(Debug, Error)]
pub enum EvidenceError {
    /// A port call failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// A retention policy outside 90 days to 7 years.
    #[error("retention of {0} days is outside 90..=2555")]
    InvalidRetention(u32),
    /// The input broke a rule (empty content, bad period, …).
    #[error("invalid evidence: {0}")]
    Invalid(String),
    /// A linked control that is not one of Kushim's controls.
    #[error("unknown control {0}")]
    UnknownControl(String),
    /// The record was edited since the caller read it (optimistic locking).
    #[error("the evidence was changed since it was read; its version is now {current}")]
    VersionConflict {
        /// The record's current version (0 when it no longer exists).
        current: u64,
    },
    /// No evidence with this digest exists for the tenant.
    #[error("no evidence with digest {0}")]
    NotFound(String),
    /// Stored bytes or metadata no longer match what was recorded.
    #[error("evidence {digest} was tampered with: {why}")]
    Tampered {
        /// The evidence's digest (hex).
        digest: String,
        /// What did not match.
        why: String,
    },
    /// The signing key could not be created, read or used.
    #[error("signing key: {0}")]
    Signing(String),
    /// The ledger head moved on too often; the append gave up.
    #[error("the ledger is too contended; gave up after {0} attempts")]
    Contended(u32),
}
