//! The check model: what a check is ([`CheckDef`]), what it concludes ([`CheckResult`] with a
//! [`Status`]), and the [`registry`] of every check Kushim ships.
//!
//! Evaluation is pure. [`Check::evaluate`] takes one piece of evidence, the context it was collected
//! in and the current time, and returns one result per resource. It also applies the rules every
//! check shares:
//! - Evidence of another kind is an [`EvalError`], never a result.
//! - When the context records that an action the check needs was refused, no result about the
//!   affected resources may pass: a result that would have passed becomes
//!   [`InconclusiveReason::PermissionDenied`] naming the action, definite failures stay failures,
//!   and if no result names the refusal yet, one is added for the affected resource or scope.
//! - A check never returns nothing: evidence with no resources yields one not-applicable result
//!   for the scope.

use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::{self, Env, EvalFn};
use crate::evidence::{Evidence, EvidenceContext};

/// How much a failure matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// The connector whose evidence a check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Connector {
    Aws,
    Github,
    Okta,
}

impl Connector {
    pub fn as_str(self) -> &'static str {
        match self {
            Connector::Aws => "aws",
            Connector::Github => "github",
            Connector::Okta => "okta",
        }
    }
}

impl fmt::Display for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to fix a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Remediation {
    /// Ordered steps, in plain words.
    pub steps: &'static [&'static str],
    /// A command line that applies the fix, where one exists.
    pub cli: Option<&'static str>,
    /// An infrastructure-as-code snippet (Terraform) that keeps it fixed, where one exists.
    pub iac: Option<&'static str>,
}

/// The static description of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckDef {
    /// `<connector>.<service>.<name>`, lowercase snake case, e.g. `aws.iam.user_mfa_console`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub rationale: &'static str,
    pub severity: Severity,
    pub connector: Connector,
    /// What one result is about (`aws.iam.user`, `github.repository`...).
    pub resource_type: &'static str,
    /// The [`Evidence::kind`] the check reads.
    pub evidence_kind: &'static str,
    /// The exact IAM actions, GitHub App permissions or Okta scopes the evidence needs.
    pub permissions: &'static [&'static str],
    pub remediation: Remediation,
    /// The Kushim control ids (`KC-<AREA>-<NN>`) the check supports.
    pub controls: &'static [&'static str],
}

/// Why a result could not be decided.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case", deny_unknown_fields)]
pub enum InconclusiveReason {
    /// The collector was refused this action.
    PermissionDenied { action: String },
    /// The evidence does not show this field.
    FieldNotVisible { field: String },
    /// The provider answered with an error.
    ApiError { message: String },
    /// The region is enabled for the account but could not be queried.
    RegionDisabled,
    /// The provider itself has not reached a verdict yet (e.g. AWS Config's `INSUFFICIENT_DATA`).
    InsufficientData { detail: String },
}

/// The verdict on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    Inconclusive(InconclusiveReason),
    NotApplicable,
}

impl Status {
    /// `pass`, `fail`, `inconclusive` or `not_applicable`.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Inconclusive(_) => "inconclusive",
            Status::NotApplicable => "not_applicable",
        }
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Status::Pass)
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Status::Fail)
    }
}

/// What a check concluded about one resource, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub check_id: String,
    pub resource_id: String,
    pub status: Status,
    /// One plain sentence a reader can act on.
    pub reason: String,
}

/// Evaluation that could not produce results at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("check {check_id} judges `{expected}` evidence, but was given `{found}`")]
    WrongEvidenceKind { check_id: &'static str, expected: &'static str, found: &'static str },
}

/// A check: its definition and its pure evaluation function.
#[derive(Clone, Copy)]
pub struct Check {
    pub(crate) def: CheckDef,
    pub(crate) eval: EvalFn,
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check").field("def", &self.def).finish_non_exhaustive()
    }
}

impl Check {
    pub fn def(&self) -> &CheckDef {
        &self.def
    }

    pub fn id(&self) -> &'static str {
        self.def.id
    }

    /// Judges `evidence`, collected as `ctx` describes, at time `now`: one result per resource.
    pub fn evaluate(
        &self,
        evidence: &Evidence,
        ctx: &EvidenceContext,
        now: DateTime<Utc>,
    ) -> Result<Vec<CheckResult>, EvalError> {
        let wrong_kind = || EvalError::WrongEvidenceKind {
            check_id: self.def.id,
            expected: self.def.evidence_kind,
            found: evidence.kind(),
        };
        if evidence.kind() != self.def.evidence_kind {
            return Err(wrong_kind());
        }
        let env = Env { ctx, now };
        let findings = (self.eval)(evidence, &env).ok_or_else(wrong_kind)?;
        let mut results: Vec<CheckResult> = findings
            .into_iter()
            .map(|f| CheckResult {
                check_id: self.def.id.to_owned(),
                resource_id: f.resource_id,
                status: f.status,
                reason: f.reason,
            })
            .collect();
        self.apply_permission_errors(ctx, &mut results);
        if results.is_empty() {
            results.push(CheckResult {
                check_id: self.def.id.to_owned(),
                resource_id: ctx.scope.resource_id(),
                status: Status::NotApplicable,
                reason: format!("The evidence lists no {} to judge.", self.def.resource_type),
            });
        }
        Ok(results)
    }

    fn apply_permission_errors(&self, ctx: &EvidenceContext, results: &mut Vec<CheckResult>) {
        for denial in &ctx.permission_errors {
            let Some(action) = self.def.permissions.iter().find(|p| p.eq_ignore_ascii_case(&denial.action)) else {
                continue;
            };
            let names_denial = |s: &Status| matches!(s, Status::Inconclusive(InconclusiveReason::PermissionDenied { action: a }) if a == action);
            let mut named = false;
            for result in results.iter_mut() {
                if denial.resource.as_ref().is_some_and(|r| *r != result.resource_id) {
                    continue;
                }
                if result.status.is_pass() {
                    result.status =
                        Status::Inconclusive(InconclusiveReason::PermissionDenied { action: (*action).to_owned() });
                    result.reason = format!(
                        "The visible evidence looked compliant, but {action} was refused ({}), so part of it is missing.",
                        denial.message
                    );
                }
                named |= names_denial(&result.status);
            }
            if !named {
                results.push(CheckResult {
                    check_id: self.def.id.to_owned(),
                    resource_id: denial.resource.clone().unwrap_or_else(|| ctx.scope.resource_id()),
                    status: Status::Inconclusive(InconclusiveReason::PermissionDenied { action: (*action).to_owned() }),
                    reason: format!(
                        "{action} was refused ({}), so this check could not see all the evidence it needs.",
                        denial.message
                    ),
                });
            }
        }
    }
}

static REGISTRY: LazyLock<Vec<Check>> =
    LazyLock::new(|| [checks::aws::CHECKS, checks::github::CHECKS, checks::okta::CHECKS].concat());

/// Every check Kushim ships: AWS first, then GitHub, then Okta.
pub fn registry() -> &'static [Check] {
    &REGISTRY
}

/// The check with this id.
pub fn find_check(id: &str) -> Option<&'static Check> {
    registry().iter().find(|c| c.def.id == id)
}

/// Runs every registered check that reads this kind of evidence and gathers their results.
pub fn evaluate_all(evidence: &Evidence, ctx: &EvidenceContext, now: DateTime<Utc>) -> Vec<CheckResult> {
    registry()
        .iter()
        .filter(|c| c.def.evidence_kind == evidence.kind())
        .flat_map(|c| c.evaluate(evidence, ctx, now).unwrap_or_default())
        .collect()
}
