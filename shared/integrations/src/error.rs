//! The one error type of this crate, split into what a caller shows the user (invalid input, not
//! found, conflicts), what it may retry (storage throttling or outages) and what it should report.

use kushim_adapters::AdapterError;
use kushim_domain::IntegrationId;
use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an integrations, schedules or runs operation failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The input breaks a rule (the message says which, and never contains a credential).
    #[error("invalid: {0}")]
    Invalid(String),
    /// No such integration, schedule or run for this tenant.
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state (e.g. too many integrations).
    #[error("conflict: {0}")]
    Conflict(String),
    /// These integrations already have a running run (the on-demand concurrency cap).
    #[error("a run is already in progress for {0:?}")]
    Busy(Vec<IntegrationId>),
    /// There is nothing to collect (no active integration with a connector, or no slices).
    #[error("nothing to run: {0}")]
    NothingToRun(String),
    /// The queue refused jobs permanently, or kept refusing them after every retry.
    #[error("enqueue failed: {0}")]
    Enqueue(String),
    /// Another writer kept changing the same record; retrying later may work.
    #[error("contention on {0}; retry later")]
    Contention(&'static str),
    /// A port failed.
    #[error("storage: {0}")]
    Storage(#[from] AdapterError),
}

impl Error {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Storage(e) => e.is_retryable(),
            Self::Contention(_) => true,
            Self::Enqueue(_) => true,
            _ => false,
        }
    }
}
