//! The AWS connector's collection library: it reaches a customer's account through the read-only
//! role the customer deployed (`infra/aws/customer-role.yaml`), collects the normalized evidence
//! the AWS checks of `kushim-checks` judge, and says precisely what went wrong when it cannot.
//!
//! ```no_run
//! # async fn run() -> Result<(), kushim_aws::CollectError> {
//! use kushim_aws::{AwsConnector, AwsTarget, parse_slice, slices};
//!
//! let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let connector = AwsConnector::new(&sdk); // once per process
//! let target = AwsTarget {
//!     account_id: "111122223333".into(),
//!     role_arn: "arn:aws:iam::111122223333:role/KushimReadOnly".into(),
//!     external_id: "kushim-tenant-external-id".into(),
//! };
//! let session = connector.session(&target).await?; // sts:AssumeRole
//! // Planning: one job per slice.
//! let plan = slices(&target.account_id, &session.enabled_regions().await?);
//! // A job: one slice.
//! for collected in session.collect(&parse_slice(&plan[0])?).await? {
//!     let results = kushim_checks::evaluate_all(&collected.evidence, &collected.context, chrono::Utc::now());
//!     println!("{} results from {} API calls", results.len(), collected.api_calls.len());
//! }
//! # Ok(()) }
//! ```
//!
//! - [`slice`]: the slice strings jobs carry (`"<account_id>/<region|global>/<family>"`).
//! - [`session`]: the connector (Kushim's side) and a session in one customer account.
//! - `collect`: one collector per family; refused actions become permission errors in the
//!   evidence context instead of failures.
//! - [`error`]: transient versus permanent failures, classified from SDK errors and sanitized.
//! - [`permissions`]: the actions the role needs and a probe that finds the missing ones.
//! - [`seed`]: builds a known demo account in the moto emulator (tests, `infra/dev/seed-aws`).

pub mod error;
pub mod ops;
pub mod permissions;
pub mod seed;
pub mod session;
pub mod slice;

mod collect;

pub use collect::Collected;
pub use error::{CollectError, PermanentReason};
pub use permissions::{ProbeReport, SUPPORTING_ACTIONS, required_actions, role_actions};
pub use session::{AwsConnector, AwsSession, AwsTarget};
pub use slice::{Family, Slice, parse_slice, slices};

/// The SDK configuration type the connector is built from, re-exported for callers.
pub use aws_config::SdkConfig;
