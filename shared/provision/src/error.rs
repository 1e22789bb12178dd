//! The one error provisioning returns. Every variant names the resource it was working on, and a
//! failed AWS call also names the call, so a message such as
//! `queue t1a2b3c4-jobsqueue: CreateQueue failed: ...` says exactly what to look at.

use thiserror::Error;

/// Why provisioning stopped.
#[derive(Debug, Error)]
pub enum ProvisionError {
    /// An AWS call failed.
    #[error("{resource}: {call} failed: {message}")]
    Call {
        /// The resource being created, e.g. `table t1a2b3c4-table`.
        resource: String,
        /// The API call, e.g. `CreateTable`.
        call: &'static str,
        /// What the service (or the transport) said, with its error code.
        message: String,
    },
    /// The template asks for something this crate cannot create as written.
    #[error("{resource}: {message}")]
    Unsupported {
        /// The template resource, e.g. `table Table`.
        resource: String,
        /// What is not supported and why.
        message: String,
    },
    /// A name built from the prefix and a logical id breaks the service's naming rules.
    #[error("{resource}: the name {name:?} is not valid: {reason}")]
    InvalidName {
        /// The template resource.
        resource: String,
        /// The name that was built.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A resource with this name already exists but differs from the template.
    #[error("{resource}: exists with a different shape: {message}")]
    Mismatch {
        /// The resource found.
        resource: String,
        /// How it differs.
        message: String,
    },
    /// A resource did not become ready in time.
    #[error("{resource}: not ready after {seconds} s (last status {status})")]
    Timeout {
        /// The resource waited for.
        resource: String,
        /// How long we waited.
        seconds: u64,
        /// The last status seen.
        status: String,
    },
}

impl ProvisionError {
    /// A failed AWS call, with the SDK error shown with its full context (code and message).
    pub(crate) fn call<E: std::error::Error>(resource: impl Into<String>, call: &'static str, err: E) -> Self {
        Self::Call {
            resource: resource.into(),
            call,
            message: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
        }
    }
}
