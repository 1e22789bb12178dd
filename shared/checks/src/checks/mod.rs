//! The checks themselves, one file per connector. Each check is a [`crate::Check`] constant: its
//! definition plus a pure function from one evidence kind to findings. This module holds the small
//! vocabulary they share (findings, time arithmetic, the macro that binds a typed function to an
//! [`Evidence`] variant).

pub(crate) mod aws;
pub(crate) mod github;
pub(crate) mod okta;

use chrono::{DateTime, TimeDelta, Utc};

use crate::check::{InconclusiveReason, Status};
use crate::evidence::{Evidence, EvidenceContext};

/// What a check function sees besides its evidence.
pub(crate) struct Env<'a> {
    pub(crate) ctx: &'a EvidenceContext,
    pub(crate) now: DateTime<Utc>,
}

impl Env<'_> {
    /// The resource id of the scope as a whole.
    pub(crate) fn scope_id(&self) -> String {
        self.ctx.scope.resource_id()
    }

    /// True when `t` is more than `days` days before now.
    pub(crate) fn older_than(&self, t: DateTime<Utc>, days: i64) -> bool {
        self.now - t > TimeDelta::days(days)
    }

    /// Whole days between `t` and now.
    pub(crate) fn days_since(&self, t: DateTime<Utc>) -> i64 {
        (self.now - t).num_days()
    }
}

/// A result before the check id is attached.
pub(crate) struct Finding {
    pub(crate) resource_id: String,
    pub(crate) status: Status,
    pub(crate) reason: String,
}

/// A check's evaluation function; `None` when handed the wrong evidence variant.
pub(crate) type EvalFn = fn(&Evidence, &Env<'_>) -> Option<Vec<Finding>>;

fn finding(resource_id: impl Into<String>, status: Status, reason: impl Into<String>) -> Finding {
    Finding { resource_id: resource_id.into(), status, reason: reason.into() }
}

pub(crate) fn pass(resource_id: impl Into<String>, reason: impl Into<String>) -> Finding {
    finding(resource_id, Status::Pass, reason)
}

pub(crate) fn fail(resource_id: impl Into<String>, reason: impl Into<String>) -> Finding {
    finding(resource_id, Status::Fail, reason)
}

pub(crate) fn not_applicable(resource_id: impl Into<String>, reason: impl Into<String>) -> Finding {
    finding(resource_id, Status::NotApplicable, reason)
}

/// Inconclusive because the evidence does not show `field`.
pub(crate) fn not_visible(resource_id: impl Into<String>, field: &str, reason: impl Into<String>) -> Finding {
    finding(resource_id, Status::Inconclusive(InconclusiveReason::FieldNotVisible { field: field.to_owned() }), reason)
}

/// Inconclusive because an enabled region could not be queried.
pub(crate) fn region_unreachable(region: &str) -> Finding {
    finding(
        region,
        Status::Inconclusive(InconclusiveReason::RegionDisabled),
        format!(
            "Region {region} is enabled for the account but could not be queried (a service control policy or a disabled regional endpoint may block it)."
        ),
    )
}

/// `Some(true)` → pass, `Some(false)` → fail, `None` → field not visible.
pub(crate) fn judge_flag(
    resource_id: &str,
    value: Option<bool>,
    field: &str,
    on: impl FnOnce() -> String,
    off: impl FnOnce() -> String,
) -> Finding {
    match value {
        Some(true) => pass(resource_id, on()),
        Some(false) => fail(resource_id, off()),
        None => not_visible(resource_id, field, format!("The evidence does not show `{field}` for {resource_id}.")),
    }
}

/// Binds a function `fn(&Payload, &Env<'_>) -> Vec<Finding>` to one [`Evidence`] variant.
macro_rules! bind {
    ($variant:ident, $f:path) => {{
        fn eval(
            evidence: &$crate::evidence::Evidence,
            env: &$crate::checks::Env<'_>,
        ) -> Option<Vec<$crate::checks::Finding>> {
            if let $crate::evidence::Evidence::$variant(payload) = evidence { Some($f(payload, env)) } else { None }
        }
        eval as $crate::checks::EvalFn
    }};
}
pub(crate) use bind;

/// Joins items for a reason sentence: `a`, `a and b`, `a, b and c`.
pub(crate) fn join_words<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [rest @ .., last] => {
            format!("{} and {}", rest.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}
