//! Custom checks without a redeploy. A tenant writes a [`RuleSpec`]: a declarative rule in the
//! Common Expression Language (CEL) over one evidence kind. [`CompiledRule::compile`] validates and
//! parses it once, when the rule is created, and refuses anything malformed or too big with a
//! [`RuleError`] that names the offending field or expression. [`CompiledRule::evaluate`] then judges
//! a piece of evidence the way a built-in check does: one [`kushim_checks::CheckResult`] per resource.
//!
//! Nothing here performs I/O.
//!
//! # The rule language
//!
//! Every expression sees at most three variables:
//! - `evidence`: the evidence's `data` as JSON (the `kind` wrapper removed);
//! - `resource`: one element of the list the `resources` expression selected;
//! - `now`: the evaluation time, a CEL timestamp.
//!
//! JSON fields whose value is `null` (values the collector could not see) are removed, so reading
//! one is an evaluation error and the resource is reported as inconclusive, never as passing;
//! `has(resource.field)` tests whether a field is visible. Timestamps stay RFC 3339 strings: compare
//! them with `timestamp(resource.last_used) < now - duration("2160h")`. Regular expressions are not
//! available (the `regex` feature of the `cel` crate is off).
//!
//! # Bounds
//!
//! At creation ([`CompiledRule::compile`]):
//! - each expression at most [`MAX_EXPRESSION_CHARS`] characters, all of them together at most
//!   [`MAX_TOTAL_CHARS`];
//! - each parsed expression (macros expanded) at most [`MAX_AST_NODES`] nodes and
//!   [`MAX_AST_DEPTH`] levels deep; the parser itself stops at 96 levels of nesting;
//! - only the variables `evidence`, `resource` and `now` (plus the variables a macro binds, and CEL
//!   type names such as `int`), and only functions the standard library knows.
//!
//! At evaluation ([`CompiledRule::evaluate`], [`Limits`]):
//! - `resources` must give a list of at most [`MAX_RESOURCES`] items;
//! - a worst-case cost estimate, made before each expression runs, must stay within
//!   [`MAX_COST`] steps for the whole evaluation. CEL has no loops or recursion; only the macros
//!   (`all`, `exists`, `exists_one`, `map`, `filter`) iterate, so the estimate charges every node
//!   `L^k`, where `k` is how many macros enclose it and `L` bounds the length of any list or map
//!   the expression can iterate (the longest one in the data it reads, times one plus the number of
//!   `+` in the expression, since concatenation is the only way to grow a list). A quadratic rule
//!   over a large list is therefore refused before it runs instead of hanging;
//! - a wall-clock budget of [`TIME_BUDGET`] for the whole evaluation, checked after each resource;
//! - parsing and evaluation run on a dedicated thread with a [`STACK_BYTES`] stack, so deeply
//!   nested input cannot overflow the caller's stack, and a panic inside the interpreter becomes
//!   [`RuleError::Internal`].
//!
//! ```
//! use chrono::Utc;
//! use kushim_checks::evidence::aws::{Bucket, S3Buckets, VersioningStatus};
//! use kushim_checks::{Evidence, EvidenceContext, Scope, Severity, Status};
//! use kushim_rules::{CompiledRule, RuleSpec};
//!
//! let spec = RuleSpec {
//!     id: "custom.s3_versioning".into(),
//!     title: "S3 buckets must have versioning enabled".into(),
//!     description: "Versioning lets us recover overwritten or deleted objects.".into(),
//!     severity: Severity::Medium,
//!     evidence_kind: "aws.s3.buckets".into(),
//!     resources: "evidence.buckets".into(),
//!     resource_id: "resource.name".into(),
//!     applies: None,
//!     pass: "resource.versioning == 'enabled'".into(),
//!     fail_reason: "Bucket {id} does not have versioning enabled.".into(),
//!     controls: vec!["KC-DR-01".into()],
//! };
//! let rule = CompiledRule::compile(spec).unwrap();
//!
//! let bucket = Bucket {
//!     name: "logs".into(),
//!     region: "eu-west-1".into(),
//!     encryption: None,
//!     public_access_block: None,
//!     policy_is_public: Some(false),
//!     policy_denies_insecure_transport: Some(false),
//!     versioning: Some(VersioningStatus::Suspended),
//!     object_lock_enabled: Some(false),
//! };
//! let evidence = Evidence::AwsS3Buckets(S3Buckets { account_public_access_block: None, buckets: vec![bucket] });
//! let ctx = EvidenceContext::new(Utc::now(), Scope::Aws { account_id: "111122223333".into(), region: None });
//! let results = rule.evaluate(&evidence, &ctx, Utc::now()).unwrap();
//! assert_eq!(results[0].status, Status::Fail);
//! assert_eq!(results[0].reason, "Bucket logs does not have versioning enabled.");
//! ```

mod analyze;
mod compile;
mod error;
mod eval;
mod spec;

pub use compile::{CompiledRule, Expression};
pub use error::RuleError;
pub use eval::{Limits, MAX_COST, MAX_RESOURCES, TIME_BUDGET};
pub use spec::{MAX_EXPRESSION_CHARS, MAX_TOTAL_CHARS, RuleSpec};

pub use analyze::{MAX_AST_DEPTH, MAX_AST_NODES};
pub use compile::STACK_BYTES;
