//! NIST OSCAL 1.1.3 `assessment-results` documents built from Kushim's control evaluations, check
//! results and evidence, so an auditor's tooling can read what Kushim concluded.
//!
//! The crate is pure: [`assessment_results`] turns an [`AssessmentInput`] into a JSON value and
//! does no I/O. The same input always gives the same document, byte for byte: every uuid in it is
//! a version 5 uuid derived from the tenant, the framework, the observation window and the thing
//! it names, and every list is built in a fixed order.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use kushim_catalog::{FrameworkId, catalog};
//! use kushim_checks::{CheckResult, Status};
//! use kushim_engine::evaluate_control;
//! use kushim_oscal::{AssessmentInput, ControlInput, assessment_results};
//!
//! let at = Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).unwrap();
//! let control = catalog().control("KC-IAM-01").unwrap().clone();
//! let results = vec![CheckResult {
//!     check_id: "aws.iam.user_mfa_console".into(),
//!     resource_id: "arn:aws:iam::111122223333:user/alice".into(),
//!     status: Status::Pass,
//!     reason: "alice signs in with MFA.".into(),
//! }];
//! let evaluation = evaluate_control(&control, &results, &[], &[], at);
//! let input = AssessmentInput {
//!     tenant_name: "Acme".into(),
//!     framework: FrameworkId::Soc2,
//!     window_start: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
//!     window_end: at,
//!     generated_at: at,
//!     controls: vec![ControlInput { control, evaluation, results, effectiveness: None }],
//!     evidence: vec![],
//! };
//! let doc = assessment_results(&input);
//! let finding = &doc["assessment-results"]["results"][0]["findings"][0];
//! assert_eq!(finding["target"]["target-id"], "cc6.1");
//! assert_eq!(finding["target"]["status"]["state"], "satisfied");
//! ```

mod document;
mod ids;
mod input;

pub use document::{OSCAL_VERSION, assessment_results};
pub use ids::{KUSHIM_NS, control_token};
pub use input::{AssessmentInput, ControlInput, EvidenceRef};
