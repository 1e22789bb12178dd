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
//! A connector records an *observation*: everything one collection of a scope (an integration's
//! slice) saw. Its results also retire what earlier observations of that scope reported and this
//! one no longer does (a deleted bucket stops failing its checks), and a result observed later
//! than the observation is never replaced by it.
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
use kushim_adapters::keys;
use kushim_adapters::table::{BatchOp, Condition, MAX_BATCH_WRITE, TxOp};
use kushim_catalog::{Control, catalog};
use kushim_checks::CheckResult;
use kushim_domain::TenantId;
use kushim_engine::{ControlEvaluation, Exception, ManualEvidence, evaluate_control, manual_fresh_through};
use serde::Serialize;

use crate::store::{
    Snapshot, StoredControl, StoredResult, cap_reasons, checks_for_control, controls_for_check, load_all_results,
    load_controls, load_exceptions, load_manual_evidence, load_results,
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
/// Longest observation scope accepted.
const MAX_SCOPE_LEN: usize = 512;

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
    /// (check, resource) pairs whose result was removed: the scope that observed them no longer
    /// reports them, or the scope was retired.
    pub gone: Vec<(String, String)>,
    /// Results not written because the stored one comes from a later observation of the scope.
    pub outdated: usize,
}

impl RecordSummary {
    /// Counts a stored result as gone (and as resolved when it was failing); returns the delete.
    fn retire(&mut self, tenant: &TenantId, old: &StoredResult) -> BatchOp {
        let pair = (old.check_id.clone(), old.resource_id.clone());
        if old.status.is_fail() {
            self.resolved.push(pair.clone());
        }
        self.gone.push(pair);
        BatchOp::Delete(keys::check_result(tenant, &old.check_id, &old.resource_id))
    }
}

/// One complete observation of a part of a tenant's estate: the checks a collection ran on it and
/// when it was collected. Its results replace everything earlier observations of the same scope
/// said for those checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// What was observed, e.g. `<integration>/<account>/<region>/<family>`.
    pub scope: String,
    /// The checks run on what was collected (including those that found nothing to report).
    pub checks: BTreeSet<String>,
    /// Of those, the checks that could not see the whole scope (an action they need was refused):
    /// their results are recorded, but nothing earlier is retired for what they did not report.
    pub partial: BTreeSet<String>,
    /// When the evidence was collected.
    pub observed_at: DateTime<Utc>,
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
    /// Recording the same results again changes nothing. Results are only added or replaced; use
    /// [`Compliance::record_observation`] when the results are everything a collection saw.
    pub async fn record_results(
        &self,
        tenant: &TenantId,
        run_id: &str,
        results: &[CheckResult],
        now: DateTime<Utc>,
    ) -> Result<RecordSummary> {
        self.record(tenant, run_id, None, results, now).await
    }

    /// Records the results of one complete observation of a scope: for every check the
    /// observation ran, a resource it no longer reports (deleted, or out of scope now) loses its
    /// earlier result of the same scope, and is reported in `gone` (and in `resolved` when it was
    /// failing). A result observed after this observation is never replaced by it, so a late or
    /// redelivered job cannot roll back newer state. Every result must belong to a check the
    /// observation lists.
    pub async fn record_observation(
        &self,
        tenant: &TenantId,
        run_id: &str,
        observation: &Observation,
        results: &[CheckResult],
        now: DateTime<Utc>,
    ) -> Result<RecordSummary> {
        if observation.scope.is_empty() || observation.scope.len() > MAX_SCOPE_LEN {
            return Err(ComplianceError::Invalid("an observation's scope must be 1-512 characters".into()));
        }
        if let Some(r) = results.iter().find(|r| !observation.checks.contains(&r.check_id)) {
            return Err(ComplianceError::InvalidResult(format!(
                "check {:?} is not one of the checks the observation ran",
                r.check_id
            )));
        }
        self.record(tenant, run_id, Some(observation), results, now).await
    }

    async fn record(
        &self,
        tenant: &TenantId,
        run_id: &str,
        observation: Option<&Observation>,
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
        if let Some(o) = observation {
            for check in &o.checks {
                by_check.entry(check).or_default();
            }
        }
        let scope = observation.map(|o| o.scope.as_str());
        let observed_at = observation.map(|o| o.observed_at);
        // Whether a stored result of this observation's scope was observed after it.
        let newer = |old: &StoredResult| {
            scope.is_some()
                && old.scope.as_deref() == scope
                && old.observed_at.is_some()
                && old.observed_at > observed_at
        };
        let mut summary = RecordSummary::default();
        for (check_id, incoming) in &by_check {
            let existing: BTreeMap<String, StoredResult> = load_results(self.table.as_ref(), tenant, check_id)
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
                    scope: scope.map(str::to_owned),
                    observed_at,
                };
                let next = match existing.get(*resource_id) {
                    None => {
                        if result.status.is_fail() {
                            summary.newly_failing.push(pair());
                        }
                        Some(fresh)
                    }
                    Some(old) if newer(old) => {
                        summary.outdated += 1;
                        None
                    }
                    Some(old) if old.status == result.status => {
                        let same = old.reason == result.reason && old.run_id == run_id && old.scope == fresh.scope;
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
            if observation.is_some_and(|o| !o.partial.contains(*check_id)) {
                // What this scope reported before and no longer does.
                let vanished = existing.values().filter(|old| {
                    old.scope.as_deref() == scope && !incoming.contains_key(old.resource_id.as_str()) && !newer(old)
                });
                writes.extend(vanished.map(|old| summary.retire(tenant, old)));
            }
            summary.written += self.write_batches(writes).await?;
        }
        self.reevaluate_checks(tenant, by_check.keys().copied(), now, &mut summary).await?;
        tracing::debug!(
            %tenant, run_id, stored = summary.stored, written = summary.written,
            newly_failing = summary.newly_failing.len(), resolved = summary.resolved.len(),
            gone = summary.gone.len(), outdated = summary.outdated, controls = summary.controls_evaluated,
            "recorded check results"
        );
        Ok(summary)
    }

    /// Retires every result whose scope lies under `scope_prefix` (e.g. `<integration>/` when an
    /// integration is deleted) and re-evaluates the controls they supported. Returns what was
    /// removed: every pair in `gone`, the failing ones also in `resolved`.
    pub async fn retire_scope(
        &self,
        tenant: &TenantId,
        scope_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<RecordSummary> {
        self.retire_scopes_except(tenant, scope_prefix, &BTreeSet::new(), now).await
    }

    /// Retires every result whose scope lies under `scope_prefix` but is not one of `keep` (e.g.
    /// an integration's scopes that its latest run no longer plans: a removed account, a region
    /// no longer enabled), as [`Compliance::retire_scope`] does.
    pub async fn retire_scopes_except(
        &self,
        tenant: &TenantId,
        scope_prefix: &str,
        keep: &BTreeSet<String>,
        now: DateTime<Utc>,
    ) -> Result<RecordSummary> {
        if scope_prefix.is_empty() {
            return Err(ComplianceError::Invalid("a scope prefix must not be empty".into()));
        }
        let mut summary = RecordSummary::default();
        let retired: Vec<StoredResult> = load_all_results(self.table.as_ref(), tenant)
            .await?
            .into_iter()
            .filter(|old| old.scope.as_ref().is_some_and(|s| s.starts_with(scope_prefix) && !keep.contains(s)))
            .collect();
        if retired.is_empty() {
            return Ok(summary);
        }
        let deletes = retired.iter().map(|old| summary.retire(tenant, old)).collect();
        summary.written = self.write_batches(deletes).await?;
        self.reevaluate_checks(tenant, retired.iter().map(|r| r.check_id.as_str()), now, &mut summary).await?;
        Ok(summary)
    }

    /// Writes the operations in batches of at most [`MAX_BATCH_WRITE`]; returns how many there were.
    async fn write_batches(&self, ops: Vec<BatchOp>) -> Result<usize> {
        let count = ops.len();
        let mut ops = ops.into_iter().peekable();
        while ops.peek().is_some() {
            self.table.batch_write(ops.by_ref().take(MAX_BATCH_WRITE).collect()).await?;
        }
        Ok(count)
    }

    /// Re-evaluates every control the checks support and counts it in the summary.
    async fn reevaluate_checks<'a>(
        &self,
        tenant: &TenantId,
        checks: impl Iterator<Item = &'a str>,
        now: DateTime<Utc>,
        summary: &mut RecordSummary,
    ) -> Result<()> {
        let controls: BTreeSet<&str> = checks.flat_map(controls_for_check).copied().collect();
        let (evaluated, written) = self.reevaluate(tenant, &controls, now).await?;
        summary.controls_evaluated = evaluated;
        summary.controls_written = written;
        Ok(())
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
