//! Kushim's automated checks. `evidence` holds the normalized shapes that connectors (AWS, GitHub,
//! Okta) produce; `check` holds the check model, the result model and the registry; the private
//! `checks` module holds the check definitions and their pure evaluation functions.
//!
//! Nothing here performs I/O: a check reads one piece of evidence, the context it was collected in
//! and the current time, and returns one result per resource it judged.
//!
//! ```
//! use chrono::Utc;
//! use kushim_checks::evidence::aws::AccountPasswordPolicy;
//! use kushim_checks::{Evidence, EvidenceContext, Scope, Status, find_check};
//!
//! let ctx = EvidenceContext::new(Utc::now(), Scope::Aws { account_id: "111122223333".into(), region: None });
//! let evidence = Evidence::AwsPasswordPolicy(AccountPasswordPolicy { policy: None });
//! let check = find_check("aws.iam.password_policy_min_length").unwrap();
//! let results = check.evaluate(&evidence, &ctx, Utc::now()).unwrap();
//! assert_eq!(results[0].status, Status::Fail); // no password policy at all
//!
//! // A refused permission is never a pass.
//! let denied = ctx.with_permission_error("iam:GetAccountPasswordPolicy", "AccessDenied");
//! let results = check.evaluate(&evidence, &denied, Utc::now()).unwrap();
//! assert!(results.iter().all(|r| !r.status.is_pass()));
//! ```

pub mod check;
pub mod evidence;

mod checks;

pub use check::{
    Check, CheckDef, CheckResult, Connector, EvalError, InconclusiveReason, Remediation, Severity, Status,
    evaluate_all, find_check, registry,
};
pub use evidence::{Evidence, EvidenceContext, PermissionError, Scope};
