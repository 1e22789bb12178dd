//! Recording check results and re-evaluating the controls they support.
//!
//! A run's results replace the stored result of each (check, resource); the previous status is
//! kept so the summary can say what started failing and what was fixed. Then every control the
//! recorded checks support is evaluated again from all its checks' stored results, the tenant's
//! uploaded evidence linked to it and the tenant's exceptions, and its `CONTROL#` item and today's
//! `SNAP#` item are written together. An evaluation that relied on fresh manual evidence holds
//! only until that evidence goes stale, as one that relied on an exception holds only until the
//! exception expires.
//!
//! Recording is idempotent: a result identical to the stored one (same status, reason and run) is
//! not written again, and an evaluation identical to the one already stored today is not written
//! again, so a redelivered job leaves the table exactly as it was.
//!
//! Concurrent runs of one tenant converge: each control write is conditional on the version read
//! before the results were read, and a lost race re-reads and re-evaluates.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::error::CancelReason;
use kushim_adapters::table::{BatchOp, Condition, MAX_BATCH_WRITE, TxOp};
use kushim_catalog::{Control, catalog};
use kushim_checks::CheckResult;
use kushim_domain::TenantId;
use kushim_engine::{ControlEvaluation, Exception, ManualEvidence, evaluate_control, manual_fresh_through};
use serde::Serialize;

use crate::store::{
    Snapshot, StoredControl, StoredResult, cap_reasons, checks_for_control, controls_for_check, load_controls,
    load_exceptions, load_manual_evidence, load_results,
};
use crate::{Compliance, ComplianceError, Result};

/// Controls written per transaction (each is two operations: the control and its snapshot).
const CONTROLS_PER_TRANSACTION: usize = 25;
/// How often a lost race on control evaluations is retried before giving up.
const MAX_ATTEMPTS: usize = 5;
/// Longest check id accepted.
const MAX_CHECK_ID_LEN: usize = 200;
/// Longest resource id accepted (longer ones are keyed by their digest, but must still fit an item).
const MAX_RESOURCE_ID_LEN: usize = 4096;
/// Longest reason accepted.
const MAX_REASON_LEN: usize = 8192;

/// What recording a run's results changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordSummary {
    /// Distinct (check, resource) results recorded (the last one wins when the input repeats one).
    pub stored: usize,
    /// Of those, how many differed from what was stored and were written.
    pub written: usize,
    /// (check, resource) pairs failing now that were not failing before (or were new).
    pub newly_failing: Vec<(String, String)>,
    /// (check, resource) pairs that were failing and now pass or no longer apply.
    pub resolved: Vec<(String, String)>,
    /// Controls evaluated again.
    pub controls_evaluated: usize,
    /// Of those, how many evaluations were written (changed, or first of the day).
    pub controls_written: usize,
}

fn validate(result: &CheckResult) -> Result<()> {
    let bad = |why: &str| Err(ComplianceError::InvalidResult(format!("{why} (check {:?})", result.check_id)));
    let id = &result.check_id;
    if id.is_empty() || id.len() > MAX_CHECK_ID_LEN || id.contains('#') || id.chars().any(char::is_control) {
        return bad("a check id must be 1-200 characters without `#` or control characters");
    }
    if result.resource_id.is_empty() || result.resource_id.len() > MAX_RESOURCE_ID_LEN {
        return bad("a resource id must be 1-4096 bytes");
    }
    if result.reason.len() > MAX_REASON_LEN {
        return bad("a reason must be at most 8 KiB");
    }
    Ok(())
}

/// Whether a write failed only because another writer got there first.
fn lost_race(e: &AdapterError) -> bool {
    match e {
        AdapterError::ConditionFailed => true,
        AdapterError::TransactionCanceled { reasons } => {
            reasons.iter().any(|r| matches!(r, CancelReason::ConditionFailed | CancelReason::Conflict))
        }
        _ => false,
    }
}

/// Evaluates a control, capping its reasons, and says until when the evaluation holds: the
/// earliest of the expiries of the active exceptions that excuse one of its failures and the
/// instant its fresh manual evidence goes stale.
pub(crate) fn evaluate(
    control: &Control,
    results: &[CheckResult],
    manual: &[ManualEvidence],
    exceptions: &[Exception],
    now: DateTime<Utc>,
) -> (ControlEvaluation, Option<DateTime<Utc>>) {
    let evaluation = cap_reasons(evaluate_control(control, results, manual, exceptions, now));
    let excepted_until = results
        .iter()
        .filter(|r| r.status.is_fail())
        .flat_map(|r| {
            exceptions.iter().filter(move |e| e.is_active(now) && e.covers(&control.id, &r.check_id, &r.resource_id))
        })
        .map(|e| e.expires_at)
        .min();
    let fresh_until = manual_fresh_through(control, manual, now);
    let valid_until = match (excepted_until, fresh_until) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    (evaluation, valid_until)
}

impl Compliance {
    /// Records one run's results for a tenant, reports which (check, resource) pairs started
    /// failing or were fixed, and re-evaluates every control the recorded checks support.
    /// Recording the same results again changes nothing.
    pub async fn record_results(
        &self,
        tenant: &TenantId,
        run_id: &str,
        results: &[CheckResult],
        now: DateTime<Utc>,
    ) -> Result<RecordSummary> {
        if run_id.is_empty() || run_id.len() > 128 {
            return Err(ComplianceError::Invalid("a run id must be 1-128 characters".into()));
        }
        let mut by_check: BTreeMap<&str, BTreeMap<&str, &CheckResult>> = BTreeMap::new();
        for result in results {
            validate(result)?;
            by_check.entry(&result.check_id).or_default().insert(&result.resource_id, result);
        }
        let mut summary = RecordSummary::default();
        for (check_id, incoming) in &by_check {
            let existing: HashMap<String, StoredResult> = load_results(self.table.as_ref(), tenant, check_id)
                .await?
                .into_iter()
                .map(|s| (s.resource_id.clone(), s))
                .collect();
            let mut writes = Vec::new();
            for (resource_id, result) in incoming {
                summary.stored += 1;
                let pair = || ((*check_id).to_owned(), (*resource_id).to_owned());
                let fresh = StoredResult {
                    check_id: (*check_id).to_owned(),
                    resource_id: (*resource_id).to_owned(),
                    status: result.status.clone(),
                    reason: result.reason.clone(),
                    run_id: run_id.to_owned(),
                    recorded_at: now,
                    status_since: now,
                    previous_status: None,
                    first_seen_at: now,
                };
                let next = match existing.get(*resource_id) {
                    None => {
                        if result.status.is_fail() {
                            summary.newly_failing.push(pair());
                        }
                        Some(fresh)
                    }
                    Some(old) if old.status == result.status => {
                        let same = old.reason == result.reason && old.run_id == run_id;
                        (!same).then(|| StoredResult {
                            status_since: old.status_since,
                            previous_status: old.previous_status.clone(),
                            first_seen_at: old.first_seen_at,
                            ..fresh
                        })
                    }
                    Some(old) => {
                        if result.status.is_fail() {
                            summary.newly_failing.push(pair());
                        } else if old.status.is_fail() && matches!(result.status.label(), "pass" | "not_applicable") {
                            summary.resolved.push(pair());
                        }
                        Some(StoredResult {
                            previous_status: Some(old.status.label().to_owned()),
                            first_seen_at: old.first_seen_at,
                            ..fresh
                        })
                    }
                };
                if let Some(next) = next {
                    writes.push(BatchOp::Put(next.item(tenant)));
                }
            }
            summary.written += writes.len();
            let mut writes = writes.into_iter().peekable();
            while writes.peek().is_some() {
                self.table.batch_write(writes.by_ref().take(MAX_BATCH_WRITE).collect()).await?;
            }
        }
        let controls: BTreeSet<&str> = by_check.keys().flat_map(|c| controls_for_check(c)).copied().collect();
        let (evaluated, written) = self.reevaluate(tenant, &controls, now).await?;
        summary.controls_evaluated = evaluated;
        summary.controls_written = written;
        tracing::debug!(
            %tenant, run_id, stored = summary.stored, written = summary.written,
            newly_failing = summary.newly_failing.len(), resolved = summary.resolved.len(),
            controls = evaluated, "recorded check results"
        );
        Ok(summary)
    }

    /// Evaluates the given controls again for a tenant and stores what changed, e.g. after manual
    /// evidence linked to them was uploaded, edited or relinked. Unknown control ids are ignored.
    /// Returns how many evaluations were written.
    pub async fn reevaluate_controls(
        &self,
        tenant: &TenantId,
        control_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let ids: BTreeSet<&str> = control_ids.iter().map(String::as_str).collect();
        Ok(self.reevaluate(tenant, &ids, now).await?.1)
    }

    /// Evaluates every control of the catalog again for a tenant and stores what changed (a
    /// repair tool, and a way to write a day's snapshots when no run happened). Returns how many
    /// evaluations were written.
    pub async fn reevaluate_all(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<usize> {
        let all: BTreeSet<&str> = catalog().controls().iter().map(|c| c.id.as_str()).collect();
        Ok(self.reevaluate(tenant, &all, now).await?.1)
    }

    /// The latest results of every check that supports the control, read once per check per call.
    pub(crate) async fn control_results(
        &self,
        tenant: &TenantId,
        control: &Control,
        cache: &mut HashMap<&'static str, Vec<CheckResult>>,
    ) -> Result<Vec<CheckResult>> {
        let mut results = Vec::new();
        for check in checks_for_control(&control.id) {
            if !cache.contains_key(check) {
                let stored = load_results(self.table.as_ref(), tenant, check).await?;
                cache.insert(check, stored.iter().map(StoredResult::to_result).collect());
            }
            results.extend_from_slice(&cache[check]);
        }
        Ok(results)
    }

    /// Evaluates the given controls again and writes those whose evaluation changed (or was not
    /// yet written today). Returns (controls evaluated, evaluations written).
    pub(crate) async fn reevaluate(
        &self,
        tenant: &TenantId,
        control_ids: &BTreeSet<&str>,
        now: DateTime<Utc>,
    ) -> Result<(usize, usize)> {
        let mut pending: Vec<&Control> = control_ids.iter().filter_map(|id| catalog().control(id)).collect();
        let evaluated = pending.len();
        let mut written = 0;
        for _ in 0..MAX_ATTEMPTS {
            if pending.is_empty() {
                return Ok((evaluated, written));
            }
            // Versions first, then exceptions and results: a write conditional on a version read
            // before the inputs cannot overwrite an evaluation made from newer inputs.
            let stored = load_controls(self.table.as_ref(), tenant).await?;
            let exceptions = load_exceptions(self.table.as_ref(), tenant).await?;
            let manual = load_manual_evidence(self.table.as_ref(), tenant).await?;
            let mut cache = HashMap::new();
            let chunks: Vec<Vec<&Control>> = pending.chunks(CONTROLS_PER_TRANSACTION).map(<[_]>::to_vec).collect();
            let mut lost_at = None;
            for (i, chunk) in chunks.iter().enumerate() {
                let mut ops = Vec::new();
                for control in chunk {
                    let results = self.control_results(tenant, control, &mut cache).await?;
                    let (evaluation, valid_until) = evaluate(control, &results, &manual, &exceptions, now);
                    let previous = stored.get(&control.id);
                    let unchanged = previous.is_some_and(|p| {
                        p.evaluation == evaluation
                            && p.valid_until == valid_until
                            && p.evaluated_at.date_naive() == now.date_naive()
                    });
                    if unchanged {
                        continue;
                    }
                    let record = StoredControl {
                        evaluation,
                        evaluated_at: now,
                        valid_until,
                        version: previous.map_or(1, |p| p.version + 1),
                    };
                    let condition = previous.map_or(Condition::NotExists, |p| Condition::VersionEquals(p.version));
                    ops.push(TxOp::Put { item: Snapshot::of(&record.evaluation, now).item(tenant), condition: None });
                    ops.push(TxOp::Put { item: record.item(tenant), condition: Some(condition) });
                }
                if ops.is_empty() {
                    continue;
                }
                let count = ops.len() / 2;
                match self.table.transact_write(ops).await {
                    Ok(()) => written += count,
                    Err(e) if lost_race(&e) => {
                        lost_at = Some(i);
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            match lost_at {
                None => return Ok((evaluated, written)),
                Some(i) => pending = chunks[i..].concat(),
            }
        }
        Err(ComplianceError::Conflict(format!("the control evaluations of tenant {tenant}")))
    }
}
