//! The errors the compliance service returns.

use kushim_adapters::AdapterError;
use kushim_engine::ExceptionError;
use kushim_rules::RuleError;

/// Result alias for the compliance service.
pub type Result<T, E = ComplianceError> = std::result::Result<T, E>;

/// Why a compliance operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// The table failed or holds an item of an unexpected shape.
    #[error("storage failed: {0}")]
    Storage(#[from] AdapterError),
    /// An exception could not be requested or approved (the engine's rules).
    #[error(transparent)]
    Exception(#[from] ExceptionError),
    /// The control id is not in the catalog.
    #[error("unknown control {0}")]
    UnknownControl(String),
    /// No exception with this id exists for the tenant.
    #[error("exception {0} not found")]
    ExceptionNotFound(String),
    /// A check result cannot be stored as given.
    #[error("invalid check result: {0}")]
    InvalidResult(String),
    /// The request is malformed (an empty date window, an unknown check in a scope, ...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A custom check's rule does not compile (the message names the field or expression).
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// No custom check with this id exists for the tenant.
    #[error("custom check {0} not found")]
    CustomCheckNotFound(String),
    /// The tenant already has a custom check with this id.
    #[error("a custom check with id {0} already exists")]
    CustomCheckExists(String),
    /// Someone else changed the same item at the same time, repeatedly; trying again may work.
    #[error("{0} was changed concurrently; try again")]
    Conflict(String),
}

impl ComplianceError {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Storage(e) => e.is_retryable(),
            Self::Conflict(_) => true,
            _ => false,
        }
    }
}

impl From<ComplianceError> for kushim_api::ApiError {
    /// How a compliance failure appears over HTTP: unknown controls are 404, bad input 400,
    /// storage failures per their kind; anything else is logged and shown without detail.
    fn from(e: ComplianceError) -> Self {
        use kushim_api::ApiError;
        match e {
            ComplianceError::Storage(e) => e.into(),
            ComplianceError::UnknownControl(_) => ApiError::NotFound,
            ComplianceError::Invalid(why) => ApiError::Validation(why),
            other => {
                tracing::error!(error = %other, "compliance operation failed");
                if other.is_retryable() { ApiError::Unavailable } else { ApiError::Internal }
            }
        }
    }
}
