//! The one error type every port returns, split into retryable and permanent kinds so callers (the
//! SQS driver, the HTTP layer) can decide between "try again later" and "give up and report".

use thiserror::Error;

/// Result alias for port operations.
pub type Result<T, E = AdapterError> = std::result::Result<T, E>;

/// Why a transaction was cancelled, per operation, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    /// This operation was fine; another one cancelled the transaction.
    None,
    /// This operation's condition did not hold.
    ConditionFailed,
    /// Another transaction or write touched the same item concurrently.
    Conflict,
    /// Anything else, with the backend's code.
    Other(String),
}

/// An error from a port operation.
#[derive(Debug, Error)]
pub enum AdapterError {
    /// A write's condition did not hold (item exists, version moved on, …).
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled; one reason per operation.
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCanceled {
        /// One entry per operation in the request.
        reasons: Vec<CancelReason>,
    },
    /// The thing asked for does not exist (queue, secret, object version, …).
    #[error("not found: {0}")]
    NotFound(String),
    /// The object version is under retention and cannot be deleted or overwritten.
    #[error("object is locked until {until}")]
    ObjectLocked {
        /// When the retention ends (RFC 3339).
        until: String,
    },
    /// Stored bytes did not match the expected SHA-256 or size.
    #[error("checksum mismatch: {0}")]
    ChecksumMismatch(String),
    /// The request broke a rule of the port (limits, reserved names, bad arguments).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The backend asked us to slow down. Retryable.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The backend could not be reached or failed on its side. Retryable.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// Access was denied by the backend (IAM, bucket policy, …). Permanent.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Local storage failed (disk, database file). Usually permanent.
    #[error("storage error: {0}")]
    Storage(String),
}

impl AdapterError {
    /// Whether trying the same call again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Throttled(_) | Self::Unavailable(_))
            || matches!(self, Self::TransactionCanceled { reasons } if reasons.contains(&CancelReason::Conflict))
    }

    /// A short, stable code for logs and metrics (never contains data).
    pub fn code(&self) -> &'static str {
        match self {
            Self::ConditionFailed => "condition_failed",
            Self::TransactionCanceled { .. } => "transaction_canceled",
            Self::NotFound(_) => "not_found",
            Self::ObjectLocked { .. } => "object_locked",
            Self::ChecksumMismatch(_) => "checksum_mismatch",
            Self::Invalid(_) => "invalid",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) => "unavailable",
            Self::AccessDenied(_) => "access_denied",
            Self::Storage(_) => "storage",
        }
    }
}

impl From<rusqlite::Error> for AdapterError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                Self::Unavailable(e.to_string())
            }
            _ => Self::Storage(e.to_string()),
        }
    }
}

impl From<std::io::Error> for AdapterError {
    fn from(e: std::io::Error) -> Self {
        Self::Storage(e.to_string())
    }
}

impl From<tokio::task::JoinError> for AdapterError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Storage(format!("blocking task failed: {e}"))
    }
}
