//! Identity errors, and how each appears over HTTP.

use kushim_adapters::AdapterError;
use kushim_api::ApiError;

/// Why an identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Credentials were wrong, unknown, expired or revoked (one answer for all, on purpose).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A token was missing, malformed, expired or revoked.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The account is locked for this many seconds after repeated failures.
    #[error("locked")]
    Locked(u64),
    /// The caller's role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No such user, key or invitation in this tenant.
    #[error("not found")]
    NotFound,
    /// The change conflicts with the current state (email taken, last owner, …).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input breaks a rule.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] AdapterError),
    /// Creating a credential failed.
    #[error("credential error: {0}")]
    Auth(#[from] kushim_auth::AuthError),
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::InvalidCredentials => ApiError::InvalidCredentials,
            IdentityError::Unauthenticated => ApiError::Unauthorized,
            IdentityError::Locked(secs) => ApiError::LockedOut { retry_after_secs: secs },
            IdentityError::Forbidden(_) => ApiError::Forbidden,
            IdentityError::NotFound => ApiError::NotFound,
            IdentityError::Conflict(d) => ApiError::Conflict(d),
            IdentityError::Invalid(d) => ApiError::Validation(d),
            IdentityError::Storage(e) => e.into(),
            IdentityError::Auth(e) => {
                tracing::error!(error = %e, "credential operation failed");
                ApiError::Internal
            }
        }
    }
}
