//! Glue every Kushim Lambda shares, so each function's `main.rs` stays a few lines:
//! [`telemetry`] (tracing set-up), [`config`] (settings from the environment or from the local
//! platform), [`backends`] (building the port adapters once per process), [`problem`] (RFC 9457
//! errors for HTTP handlers), [`sqs`] (the SQS batch driver with partial batch failures) and
//! [`deadletter`] (why jobs failed, and listing and redriving dead-letter queues).

pub mod backends;
pub mod config;
pub mod deadletter;
pub mod problem;
pub mod sqs;
pub mod telemetry;

pub use backends::Backends;
pub use config::{BackendKind, Config, ConfigError};
pub use problem::Problem;

/// The error type Lambda handlers return to the runtime.
pub type Error = lambda_runtime::Error;
