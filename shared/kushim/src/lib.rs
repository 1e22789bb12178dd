//! The Kushim operator and developer tool. Its `up` command runs the whole platform on one
//! machine: the same handler functions the Lambdas run, behind a local HTTP gateway that routes
//! exactly as `template.yaml` says, queue consumers that behave like the Lambda SQS event source,
//! and a scheduler that fires the template's schedules, on the embedded adapters (or, with
//! `--aws`, on the AWS adapters against whatever `AWS_ENDPOINT_URL` names, such as moto).

pub mod consumers;
pub mod dlq_cli;
pub mod env;
pub mod evidence_cli;
pub mod gateway;
pub mod permissions;
pub mod platform;
pub mod registry;
pub mod run_cli;
pub mod scheduler;

pub use platform::{BackendChoice, Platform, PlatformOptions};
