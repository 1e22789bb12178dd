//! A control's status from its checks' latest results, its manual evidence and the active
//! exceptions; and framework readiness from control statuses.
//!
//! The rules, in order:
//! 1. a failing result not covered by an active exception makes the control `failing`;
//! 2. a result that could not be decided (inconclusive: a missing permission, an API error, …),
//!    manual evidence that is missing or stale where the control needs it, or an automated part
//!    with no results yet where manual evidence exists, makes it `needs_evidence` — a missing
//!    permission is never a pass;
//! 3. nothing at all (no results and no manual evidence) is `not_started`;
//! 4. failures that are all covered by active exceptions make it `excepted`;
//! 5. otherwise it is `passing` (results that do not apply count as nothing to violate).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kushim_catalog::{Catalog, Control, ControlKind, FrameworkId};
use kushim_checks::{CheckResult, Status};
use serde::{Deserialize, Serialize};

use crate::Exception;

/// A control's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ControlStatus {
    /// Operating as designed.
    Passing,
    /// At least one unexcepted failure.
    Failing,
    /// Evidence is missing, stale or undecidable.
    NeedsEvidence,
    /// Failures exist but are all accepted by active exceptions.
    Excepted,
    /// Nothing collected or uploaded yet.
    NotStarted,
}

/// A piece of manually uploaded evidence linked to a control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualEvidence {
    /// The control it supports.
    pub control_id: String,
    /// When it was collected (or its effective date).
    pub collected_at: DateTime<Utc>,
    /// When it stops being current, if it says so itself.
    pub valid_until: Option<DateTime<Utc>>,
}

/// How a control's manual evidence stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualState {
    /// The control needs none.
    NotRequired,
    /// None uploaded.
    Missing,
    /// The newest is past its freshness.
    Stale,
    /// Current.
    Fresh,
}

/// The evaluation of one control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlEvaluation {
    /// The control.
    pub control_id: String,
    /// Its status.
    pub status: ControlStatus,
    /// Results that passed.
    pub passed: usize,
    /// Results that failed and are not excepted.
    pub failed: usize,
    /// Failed results covered by an active exception.
    pub excepted: usize,
    /// Results that could not be decided.
    pub inconclusive: usize,
    /// Results that do not apply.
    pub not_applicable: usize,
    /// Manual evidence state.
    pub manual: ManualState,
    /// Why, in plain sentences (the first ones matter most).
    pub reasons: Vec<String>,
}

/// Until when a piece of manual evidence keeps `control` supplied: its own `valid_until` if it
/// has one, else its collection time plus the control's freshness period; `None` means for ever.
pub fn manual_fresh_until(control: &Control, evidence: &ManualEvidence) -> Option<DateTime<Utc>> {
    match (evidence.valid_until, control.evidence_freshness_days) {
        (Some(until), _) => Some(until),
        (None, Some(days)) => Some(evidence.collected_at + Duration::days(i64::from(days))),
        (None, None) => None,
    }
}

/// The instant `control`'s manual evidence stops being fresh, when it is fresh at `now` but will
/// not stay so for ever (the latest expiry among its fresh evidence); `None` otherwise. A stored
/// evaluation that relied on fresh manual evidence must be redone from then.
pub fn manual_fresh_through(control: &Control, manual: &[ManualEvidence], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if control.kind == ControlKind::Automated {
        return None;
    }
    let mut latest = None;
    for m in manual.iter().filter(|m| m.control_id == control.id) {
        match manual_fresh_until(control, m) {
            None => return None,
            Some(until) if until > now => latest = latest.max(Some(until)),
            Some(_) => {}
        }
    }
    latest
}

fn manual_state(control: &Control, manual: &[ManualEvidence], now: DateTime<Utc>) -> ManualState {
    if control.kind == ControlKind::Automated {
        return ManualState::NotRequired;
    }
    let fresh = |m: &ManualEvidence| manual_fresh_until(control, m).is_none_or(|until| until > now);
    let mine: Vec<&ManualEvidence> = manual.iter().filter(|m| m.control_id == control.id).collect();
    if mine.is_empty() {
        ManualState::Missing
    } else if mine.iter().any(|m| fresh(m)) {
        ManualState::Fresh
    } else {
        ManualState::Stale
    }
}

/// Nothing collected and nothing uploaded for what the control needs.
fn nothing_yet(kind: ControlKind, has_results: bool, manual: ManualState) -> bool {
    match kind {
        ControlKind::Manual => manual == ManualState::Missing,
        ControlKind::Automated | ControlKind::Hybrid => {
            !has_results && matches!(manual, ManualState::Missing | ManualState::NotRequired)
        }
    }
}

/// Evaluates one control from the latest results of the checks that support it.
pub fn evaluate_control(
    control: &Control,
    results: &[CheckResult],
    manual: &[ManualEvidence],
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> ControlEvaluation {
    let active: Vec<&Exception> = exceptions.iter().filter(|e| e.is_active(now)).collect();
    let mut eval = ControlEvaluation {
        control_id: control.id.clone(),
        status: ControlStatus::NotStarted,
        passed: 0,
        failed: 0,
        excepted: 0,
        inconclusive: 0,
        not_applicable: 0,
        manual: manual_state(control, manual, now),
        reasons: Vec::new(),
    };
    for r in results {
        match &r.status {
            Status::Pass => eval.passed += 1,
            Status::NotApplicable => eval.not_applicable += 1,
            Status::Inconclusive(_) => {
                eval.inconclusive += 1;
                eval.reasons.push(format!("{} on {}: could not be decided ({})", r.check_id, r.resource_id, r.reason));
            }
            Status::Fail => {
                if active.iter().any(|e| e.covers(&control.id, &r.check_id, &r.resource_id)) {
                    eval.excepted += 1;
                } else {
                    eval.failed += 1;
                    eval.reasons.insert(0, format!("{} failed on {}: {}", r.check_id, r.resource_id, r.reason));
                }
            }
        }
    }
    let has_results = !results.is_empty();
    let needs_automation = control.kind != ControlKind::Manual;
    let manual_missing_or_stale = matches!(eval.manual, ManualState::Missing | ManualState::Stale);
    eval.status = if eval.failed > 0 {
        ControlStatus::Failing
    } else if nothing_yet(control.kind, has_results, eval.manual) {
        ControlStatus::NotStarted
    } else if eval.inconclusive > 0 || manual_missing_or_stale || (needs_automation && !has_results) {
        if eval.manual == ManualState::Stale {
            eval.reasons.push("the newest manual evidence is past its freshness".into());
        } else if eval.manual == ManualState::Missing {
            eval.reasons.push("manual evidence is required and none is uploaded".into());
        }
        if needs_automation && !has_results {
            eval.reasons.push("no automated results yet".into());
        }
        ControlStatus::NeedsEvidence
    } else if eval.excepted > 0 {
        eval.reasons.push(format!("{} failure(s) accepted by active exceptions", eval.excepted));
        ControlStatus::Excepted
    } else {
        ControlStatus::Passing
    };
    eval
}

/// Readiness of one framework: how its in-scope controls stand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// The framework.
    pub framework: FrameworkId,
    /// Controls mapped to it.
    pub controls: usize,
    /// How many are in each status.
    pub by_status: BTreeMap<ControlStatus, usize>,
    /// Share of controls passing, 0.0-1.0.
    pub share_passing: f64,
}

/// Readiness of a framework from control evaluations (a control without one counts as not
/// started).
pub fn readiness(
    catalog: &Catalog,
    framework: FrameworkId,
    evaluations: &BTreeMap<String, ControlEvaluation>,
) -> Readiness {
    let mut by_status = BTreeMap::new();
    let mut controls = 0;
    for c in catalog.controls().iter().filter(|c| !c.mapped(framework).is_empty()) {
        controls += 1;
        let status = evaluations.get(&c.id).map_or(ControlStatus::NotStarted, |e| e.status);
        *by_status.entry(status).or_insert(0) += 1;
    }
    let passing = by_status.get(&ControlStatus::Passing).copied().unwrap_or(0);
    Readiness {
        framework,
        controls,
        by_status,
        share_passing: if controls == 0 { 0.0 } else { passing as f64 / controls as f64 },
    }
}

/// The results, among `results`, of the built-in checks that support `control_id`.
pub fn results_for_control<'r>(control_id: &str, results: &'r [CheckResult]) -> Vec<&'r CheckResult> {
    results
        .iter()
        .filter(|r| kushim_checks::find_check(&r.check_id).is_some_and(|c| c.def().controls.contains(&control_id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExceptionScope;
    use kushim_checks::InconclusiveReason;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn control(kind: ControlKind, freshness: Option<u32>) -> Control {
        let mut c = kushim_catalog::catalog().control("KC-IAM-01").unwrap().clone();
        c.kind = kind;
        c.evidence_freshness_days = freshness;
        c
    }

    fn result(resource: &str, status: Status) -> CheckResult {
        CheckResult {
            check_id: "aws.iam.user_mfa_console".into(),
            resource_id: resource.into(),
            status,
            reason: "r".into(),
        }
    }

    fn approved_exception(pattern: &str) -> Exception {
        let scope = ExceptionScope { control_id: None, check_id: None, resource_pattern: Some(pattern.into()) };
        let mut e = Exception::request(
            "e1".into(),
            scope,
            "break-glass user".into(),
            "u1".into(),
            now() + Duration::days(10),
            None,
            now(),
        )
        .unwrap();
        e.approve("u2", kushim_domain::Role::Owner, now()).unwrap();
        e
    }

    #[test]
    fn automated_controls() {
        let c = control(ControlKind::Automated, None);
        let eval = |results: &[CheckResult], ex: &[Exception]| evaluate_control(&c, results, &[], ex, now()).status;
        assert_eq!(eval(&[], &[]), ControlStatus::NotStarted);
        assert_eq!(
            eval(&[result("alice", Status::Pass), result("bob", Status::NotApplicable)], &[]),
            ControlStatus::Passing
        );
        assert_eq!(eval(&[result("alice", Status::Pass), result("bob", Status::Fail)], &[]), ControlStatus::Failing);
        let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied {
            action: "iam:GenerateCredentialReport".into(),
        });
        assert_eq!(
            eval(&[result("alice", Status::Pass), result("*", denied)], &[]),
            ControlStatus::NeedsEvidence,
            "a missing permission is never a pass"
        );
        let ex = [approved_exception("break-*")];
        assert_eq!(
            eval(&[result("alice", Status::Pass), result("break-glass", Status::Fail)], &ex),
            ControlStatus::Excepted
        );
        assert_eq!(
            eval(&[result("break-glass", Status::Fail), result("bob", Status::Fail)], &ex),
            ControlStatus::Failing,
            "bob's failure is not covered by the exception"
        );
    }

    #[test]
    fn an_exception_that_expires_reopens_the_failure_by_itself() {
        let c = control(ControlKind::Automated, None);
        let ex = [approved_exception("break-*")];
        let results = [result("break-glass", Status::Fail)];
        assert_eq!(evaluate_control(&c, &results, &[], &ex, now()).status, ControlStatus::Excepted);
        let later = now() + Duration::days(11);
        let eval = evaluate_control(&c, &results, &[], &ex, later);
        assert_eq!(eval.status, ControlStatus::Failing);
        assert!(eval.reasons[0].contains("break-glass"), "{:?}", eval.reasons);
    }

    #[test]
    fn fresh_through_is_the_latest_expiry_of_fresh_manual_evidence() {
        let c = control(ControlKind::Manual, Some(30));
        let at = |days: i64| now() + Duration::days(days);
        let m = |collected: i64, until: Option<i64>| ManualEvidence {
            control_id: c.id.clone(),
            collected_at: at(collected),
            valid_until: until.map(at),
        };
        // Collected 10 days ago with 30 days of freshness: fresh for 20 more days.
        assert_eq!(manual_fresh_through(&c, &[m(-10, None)], now()), Some(at(20)));
        // The latest of the fresh ones wins; stale ones do not count.
        assert_eq!(manual_fresh_through(&c, &[m(-10, None), m(-1, Some(90)), m(-60, None)], now()), Some(at(90)));
        // Nothing fresh, or nothing at all: nothing to wait for.
        assert_eq!(manual_fresh_through(&c, &[m(-60, None)], now()), None);
        assert_eq!(manual_fresh_through(&c, &[], now()), None);
        // Evidence that never goes stale: the evaluation holds for ever.
        let timeless = control(ControlKind::Manual, None);
        let forever = ManualEvidence { control_id: timeless.id.clone(), ..m(-1, None) };
        assert_eq!(manual_fresh_through(&timeless, &[forever], now()), None);
        assert_eq!(manual_state(&c, &[m(-10, None)], now()), ManualState::Fresh);
        assert_eq!(manual_state(&c, &[m(-10, None)], at(21)), ManualState::Stale);
    }

    #[test]
    fn manual_and_hybrid_controls_follow_evidence_freshness() {
        let m = control(ControlKind::Manual, Some(365));
        let fresh =
            ManualEvidence { control_id: m.id.clone(), collected_at: now() - Duration::days(30), valid_until: None };
        let stale =
            ManualEvidence { control_id: m.id.clone(), collected_at: now() - Duration::days(400), valid_until: None };
        let expired = ManualEvidence {
            control_id: m.id.clone(),
            collected_at: now(),
            valid_until: Some(now() - Duration::days(1)),
        };
        let other = ManualEvidence { control_id: "KC-GOV-01".into(), ..fresh.clone() };
        let eval = |ev: &[ManualEvidence]| evaluate_control(&m, &[], ev, &[], now()).status;
        assert_eq!(eval(&[]), ControlStatus::NotStarted);
        assert_eq!(eval(&[other]), ControlStatus::NotStarted, "evidence of another control does not count");
        assert_eq!(eval(std::slice::from_ref(&stale)), ControlStatus::NeedsEvidence);
        assert_eq!(eval(&[expired]), ControlStatus::NeedsEvidence, "valid_until wins over the freshness period");
        assert_eq!(eval(&[stale, fresh.clone()]), ControlStatus::Passing);
        let h = control(ControlKind::Hybrid, Some(90));
        let h_fresh = ManualEvidence { control_id: h.id.clone(), ..fresh };
        assert_eq!(
            evaluate_control(&h, &[result("a", Status::Pass)], &[], &[], now()).status,
            ControlStatus::NeedsEvidence
        );
        assert_eq!(
            evaluate_control(&h, &[], std::slice::from_ref(&h_fresh), &[], now()).status,
            ControlStatus::NeedsEvidence
        );
        assert_eq!(
            evaluate_control(&h, &[result("a", Status::Pass)], std::slice::from_ref(&h_fresh), &[], now()).status,
            ControlStatus::Passing
        );
        assert_eq!(
            evaluate_control(&h, &[result("a", Status::Fail)], &[h_fresh], &[], now()).status,
            ControlStatus::Failing
        );
    }

    #[test]
    fn readiness_counts_every_mapped_control() {
        let catalog = kushim_catalog::catalog();
        let mut evals = BTreeMap::new();
        let c = catalog.control("KC-IAM-01").unwrap();
        evals.insert(c.id.clone(), evaluate_control(c, &[result("a", Status::Pass)], &[], &[], now()));
        let r = readiness(catalog, FrameworkId::Soc2, &evals);
        let mapped = catalog.controls().iter().filter(|c| !c.mapped(FrameworkId::Soc2).is_empty()).count();
        assert_eq!(r.controls, mapped);
        assert_eq!(r.by_status[&ControlStatus::Passing], 1);
        assert_eq!(r.by_status[&ControlStatus::NotStarted], mapped - 1);
        assert!((r.share_passing - 1.0 / mapped as f64).abs() < 1e-9);
    }
}
