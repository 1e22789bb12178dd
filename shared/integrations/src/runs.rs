//! Runs: one collection of some of a tenant's integrations, started by the schedule or on demand.
//! A run records how many jobs it planned (`total`) and counts what the connectors report:
//!
//! - [`Runs::job_finished`] adds one job's outcome in a transaction with a per-job marker written
//!   only if absent, so a redelivered job is never counted twice; when the run's `finished`
//!   reaches `total`, a conditional status flip (`running` → `completed`) lets exactly one caller
//!   learn that it completed the run (and publish `run.completed`);
//! - [`Runs::time_out_stale`] closes runs whose deadline passed (`timed_out`), found through an
//!   index of running runs by deadline, without scanning;
//! - on-demand runs take a per-integration lock (TTL = the run's deadline): a second on-demand run
//!   of an integration that has a running run is refused with [`Error::Busy`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::error::CancelReason;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Cursor, Item, Key, Query, SortKey, Table, TxOp, Update};
use kushim_domain::{IntegrationId, RunId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schedule::index_time;
use crate::{Error, Result};

/// How long the marker that a job was counted is kept (longer than any redelivery: SQS keeps a
/// message 4 days, its dead-letter queue 14).
pub const JOB_MARKER_DAYS: i64 = 30;

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The integration's schedule.
    Schedule,
    /// A person or API key, through `POST /v1/runs`.
    Manual,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Jobs are still out.
    Running,
    /// Every job finished.
    Completed,
    /// The deadline passed before every job finished.
    TimedOut,
}

/// A run's counters. `finished` counts jobs; the rest count check results, except `evidence`
/// (evidence records written) and `errored` (jobs that ended in an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunCounters {
    /// Jobs planned.
    pub total: u64,
    /// Jobs finished (each counted once).
    pub finished: u64,
    /// Passing results.
    pub passed: u64,
    /// Failing results.
    pub failed: u64,
    /// Results that could not be decided (e.g. access denied).
    pub inconclusive: u64,
    /// Results that do not apply (e.g. a region not opted in).
    pub not_applicable: u64,
    /// Jobs that ended in an error.
    pub errored: u64,
    /// Evidence records written.
    pub evidence: u64,
}

/// One job's outcome, as the connector reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct JobCounts {
    /// Passing results.
    pub passed: u64,
    /// Failing results.
    pub failed: u64,
    /// Inconclusive results.
    pub inconclusive: u64,
    /// Not-applicable results.
    pub not_applicable: u64,
    /// 1 if the job ended in an error (permanent failure), else 0.
    pub errored: u64,
    /// Evidence records written.
    pub evidence: u64,
}

/// A run, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Id (time-ordered).
    pub id: RunId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// What started it.
    pub trigger: Trigger,
    /// The integrations it collects.
    pub integrations: Vec<IntegrationId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// After this, the planner times it out.
    pub deadline: DateTime<Utc>,
    /// Status.
    pub status: RunStatus,
    /// When it completed or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// Counters.
    #[serde(flatten)]
    pub counters: RunCounters,
    /// The slices planned for each integration: everything its collection covers in this run, so
    /// what an integration no longer covers (a removed account, a region no longer enabled) can
    /// be retired when the run completes. Empty for runs planned before it was recorded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slices: BTreeMap<IntegrationId, Vec<String>>,
}

impl Run {
    fn to_item(&self) -> Result<Item> {
        let attrs = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Error::Invalid("run does not serialise".into())),
        };
        Ok(Item { attrs, ..Item::new(keys::run(&self.tenant_id, &self.id)) })
    }
}

/// How a new run treats the per-integration locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockPolicy {
    /// Refuse the run if any of its integrations has a running run (on-demand runs).
    Exclusive,
    /// Take the locks regardless (scheduled runs), so on-demand runs wait for them.
    Override,
}

/// What [`Runs::job_finished`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFinished {
    /// Whether this call counted the job (false: it had been counted before).
    pub counted: bool,
    /// The run, if this call completed it (exactly one caller gets it).
    pub completed: Option<Run>,
}

/// Why starting a run failed, with the positions of failed extra operations.
#[derive(Debug)]
pub(crate) enum StartError {
    Busy(Vec<IntegrationId>),
    ExtraFailed(Vec<usize>),
    Other(Error),
}

/// The run store.
#[derive(Clone)]
pub struct Runs {
    table: Arc<dyn Table>,
}

async fn backoff(attempt: u32) {
    let jitter: u64 = rand::random::<u64>() % 10;
    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt.min(8) + 1) + jitter)).await;
}

impl Runs {
    /// A store on the table.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// A run of the tenant.
    pub async fn get(&self, tenant: &TenantId, run: &RunId) -> Result<Run> {
        match self.table.get(&keys::run(tenant, run)).await? {
            Some(i) => Ok(i.parse()?),
            None => Err(Error::NotFound),
        }
    }

    /// A page of the tenant's runs, newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<Run>, Option<Cursor>)> {
        let query = Query::partition(keys::tenant_pk(tenant))
            .begins_with(keys::RUN_PREFIX)
            .backward()
            .limit(limit)
            .after(cursor);
        let page = self.table.query(query).await?;
        let runs = page.items.iter().map(Item::parse).collect::<std::result::Result<Vec<Run>, _>>()?;
        Ok((runs, page.cursor))
    }

    /// Records a new run (and its locks and running-index entry) in one transaction.
    pub async fn start(&self, run: &Run, locks: LockPolicy) -> Result<()> {
        match self.start_with(run, locks, Vec::new()).await {
            Ok(()) => Ok(()),
            Err(StartError::Busy(ids)) => Err(Error::Busy(ids)),
            Err(StartError::ExtraFailed(_)) => Err(Error::Conflict("the run changed concurrently".into())),
            Err(StartError::Other(e)) => Err(e),
        }
    }

    pub(crate) async fn start_with(&self, run: &Run, locks: LockPolicy, extra: Vec<TxOp>) -> Result<(), StartError> {
        let other = |e: Error| StartError::Other(e);
        let deadline = run.deadline.timestamp();
        let mut ops = vec![
            TxOp::Put { item: run.to_item().map_err(other)?, condition: Some(Condition::NotExists) },
            TxOp::Put {
                item: Item::new(keys::run_active(&run.tenant_id, &run.id))
                    .with("tenant_id", run.tenant_id.as_str())
                    .with("run_id", run.id.as_str())
                    .indexed(Key::new(
                        keys::active_runs_pk(&run.tenant_id),
                        keys::active_run_sk(&index_time(run.deadline), &run.tenant_id, &run.id),
                    )),
                condition: Some(Condition::NotExists),
            },
        ];
        let lock_start = ops.len();
        for integration in &run.integrations {
            ops.push(TxOp::Put {
                item: Item::new(keys::run_lock(&run.tenant_id, integration))
                    .with("run_id", run.id.as_str())
                    .expiring_at(deadline),
                condition: (locks == LockPolicy::Exclusive).then_some(Condition::NotExists),
            });
        }
        let extra_start = ops.len();
        ops.extend(extra);
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(AdapterError::TransactionCanceled { reasons }) => {
                let failed = |range: std::ops::Range<usize>| -> Vec<usize> {
                    range.filter(|i| reasons.get(*i) == Some(&CancelReason::ConditionFailed)).collect()
                };
                let busy: Vec<IntegrationId> = failed(lock_start..extra_start)
                    .into_iter()
                    .map(|i| run.integrations[i - lock_start].clone())
                    .collect();
                let extra_failed: Vec<usize> =
                    failed(extra_start..reasons.len()).into_iter().map(|i| i - extra_start).collect();
                if !busy.is_empty() {
                    Err(StartError::Busy(busy))
                } else if !extra_failed.is_empty() {
                    Err(StartError::ExtraFailed(extra_failed))
                } else {
                    Err(StartError::Other(AdapterError::TransactionCanceled { reasons }.into()))
                }
            }
            Err(e) => Err(StartError::Other(e.into())),
        }
    }

    /// Counts one finished job of a run, once per idempotency key however often it is
    /// delivered, and completes the run when it was the last one.
    pub async fn job_finished(
        &self,
        tenant: &TenantId,
        run: &RunId,
        idempotency_key: &str,
        counts: JobCounts,
        now: DateTime<Utc>,
    ) -> Result<JobFinished> {
        if idempotency_key.len() > 900
            || idempotency_key.contains('#')
            || !idempotency_key.strip_prefix(run.as_str()).is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
        {
            return Err(Error::Invalid(
                "idempotency key must be `<run_id>/…`, at most 900 characters, without '#'".into(),
            ));
        }
        let marker = Item::new(keys::run_job(tenant, idempotency_key))
            .with("run_id", run.as_str())
            .with("counted_at", serde_json::to_value(now).unwrap_or_default())
            .expiring_at(now.timestamp() + JOB_MARKER_DAYS * 86_400);
        let mut update = Update::default().add("finished", 1);
        for (name, n) in [
            ("passed", counts.passed),
            ("failed", counts.failed),
            ("inconclusive", counts.inconclusive),
            ("not_applicable", counts.not_applicable),
            ("errored", counts.errored),
            ("evidence", counts.evidence),
        ] {
            if n > 0 {
                update = update.add(name, i64::try_from(n).map_err(|_| Error::Invalid(format!("{name} too large")))?);
            }
        }
        let mut counted = None;
        for attempt in 0..20 {
            let ops = vec![
                TxOp::Put { item: marker.clone(), condition: Some(Condition::NotExists) },
                TxOp::Update {
                    key: keys::run(tenant, run),
                    update: update.clone(),
                    condition: Some(Condition::Exists),
                },
            ];
            match self.table.transact_write(ops).await {
                Ok(()) => {
                    counted = Some(true);
                    break;
                }
                Err(AdapterError::TransactionCanceled { reasons }) => {
                    if reasons.first() == Some(&CancelReason::ConditionFailed) {
                        counted = Some(false);
                        break;
                    }
                    if reasons.get(1) == Some(&CancelReason::ConditionFailed) {
                        return Err(Error::NotFound);
                    }
                    if !reasons.contains(&CancelReason::Conflict) {
                        return Err(AdapterError::TransactionCanceled { reasons }.into());
                    }
                }
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
            backoff(attempt).await;
        }
        let Some(counted) = counted else { return Err(Error::Contention("run counters")) };
        // Also on a duplicate: the first delivery may have counted and then died before this.
        let completed = self.complete_if_done(tenant, run, now).await?;
        Ok(JobFinished { counted, completed })
    }

    /// Closes a running run at once as `timed_out` (e.g. its jobs could not be enqueued) and
    /// releases its integration locks, so a new run may start; `None` if it was no longer running.
    pub async fn abandon(&self, run: &Run, now: DateTime<Utc>) -> Result<Option<Run>> {
        self.close(run.clone(), RunStatus::TimedOut, now).await
    }

    /// Completes the run if every job finished; only the caller whose flip succeeds gets it.
    async fn complete_if_done(&self, tenant: &TenantId, run: &RunId, now: DateTime<Utc>) -> Result<Option<Run>> {
        let current = self.get(tenant, run).await?;
        if current.status != RunStatus::Running || current.counters.finished < current.counters.total {
            return Ok(None);
        }
        self.close(current, RunStatus::Completed, now).await
    }

    /// Moves a running run to `status`; `None` if it was no longer running.
    async fn close(&self, run: Run, status: RunStatus, now: DateTime<Utc>) -> Result<Option<Run>> {
        let ops = vec![
            TxOp::Update {
                key: keys::run(&run.tenant_id, &run.id),
                update: Update::default()
                    .set("status", serde_json::to_value(status).unwrap_or_default())
                    .set("completed_at", serde_json::to_value(now).unwrap_or_default()),
                condition: Some(Condition::AttributeEquals(
                    "status".into(),
                    serde_json::to_value(RunStatus::Running).unwrap_or_default(),
                )),
            },
            TxOp::Delete { key: keys::run_active(&run.tenant_id, &run.id), condition: None },
        ];
        match self.table.transact_write(ops).await {
            Ok(()) => {}
            Err(AdapterError::TransactionCanceled { reasons })
                if reasons.first() == Some(&CancelReason::ConditionFailed) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        }
        self.release_locks(&run).await;
        Ok(Some(self.get(&run.tenant_id, &run.id).await?))
    }

    /// Releases the run's integration locks (those another run took over stay).
    async fn release_locks(&self, run: &Run) {
        for integration in &run.integrations {
            let condition = Condition::AttributeEquals("run_id".into(), Value::from(run.id.as_str()));
            match self.table.delete(&keys::run_lock(&run.tenant_id, integration), Some(condition)).await {
                Ok(_) | Err(AdapterError::ConditionFailed) => {}
                Err(e) => tracing::warn!(code = e.code(), "could not release a run lock; it expires at the deadline"),
            }
        }
    }

    /// Times out every running run whose deadline is at or before `now`; returns them (to
    /// publish `run.completed` with status `timed_out`).
    pub async fn time_out_stale(&self, now: DateTime<Utc>) -> Result<Vec<Run>> {
        let mut out = Vec::new();
        for partition in keys::active_runs_partitions() {
            let mut cursor = None;
            loop {
                let query = Query { sort: SortKey::Le(format!("{}#~", index_time(now))), ..Query::gsi1(&partition) }
                    .limit(100)
                    .after(cursor);
                let page = self.table.query(query).await?;
                for item in &page.items {
                    if let Some(closed) = self.time_out_entry(item, now).await? {
                        out.push(closed);
                    }
                }
                cursor = page.cursor;
                if cursor.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Times out the run a running-run index entry names, if it is still running; drops the entry
    /// of a run that has ended or is gone.
    async fn time_out_entry(&self, item: &Item, now: DateTime<Utc>) -> Result<Option<Run>> {
        let ids = (
            item.attrs.get("tenant_id").and_then(Value::as_str).and_then(|t| TenantId::new(t).ok()),
            item.attrs.get("run_id").and_then(Value::as_str).and_then(|r| RunId::new(r).ok()),
        );
        let (Some(tenant), Some(run)) = ids else {
            tracing::warn!(pk = %item.key.pk, sk = %item.key.sk, "malformed running-run entry");
            return Ok(None);
        };
        match self.get(&tenant, &run).await {
            Ok(r) if r.status == RunStatus::Running => self.close(r, RunStatus::TimedOut, now).await,
            Ok(_) | Err(Error::NotFound) => {
                self.table.delete(&item.key, None).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::table::embedded::EmbeddedTable;

    fn table() -> (tempfile::TempDir, Arc<dyn Table>) {
        let dir = tempfile::tempdir().unwrap();
        let t = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
        (dir, t)
    }

    fn run(tenant: &str, total: u64, now: DateTime<Utc>) -> Run {
        Run {
            id: RunId::generate(),
            tenant_id: TenantId::new(tenant).unwrap(),
            trigger: Trigger::Manual,
            integrations: vec![IntegrationId::new("i1").unwrap()],
            created_at: now,
            deadline: now + chrono::Duration::hours(2),
            status: RunStatus::Running,
            completed_at: None,
            counters: RunCounters { total, ..RunCounters::default() },
            slices: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn triple_delivery_counts_each_job_once_and_one_caller_completes() {
        // GIVEN a run of 4 jobs
        let (_d, t) = table();
        let runs = Runs::new(t);
        let now = Utc::now();
        let r = run("acme", 4, now);
        runs.start(&r, LockPolicy::Exclusive).await.unwrap();
        // WHEN every job is delivered three times, concurrently
        let mut tasks = Vec::new();
        for job in 0..4 {
            for _ in 0..3 {
                let (runs, r) = (runs.clone(), r.clone());
                tasks.push(tokio::spawn(async move {
                    let key = format!("{}/i1/123456789012/global/s{job}", r.id);
                    let counts = JobCounts { passed: 2, failed: 1, evidence: 1, ..JobCounts::default() };
                    runs.job_finished(&r.tenant_id, &r.id, &key, counts, now).await.unwrap()
                }));
            }
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        // THEN each job is counted once, and exactly one delivery completed the run
        assert_eq!(outcomes.iter().filter(|o| o.counted).count(), 4);
        let completions: Vec<&Run> = outcomes.iter().filter_map(|o| o.completed.as_ref()).collect();
        assert_eq!(completions.len(), 1, "exactly one caller completes the run");
        let stored = runs.get(&r.tenant_id, &r.id).await.unwrap();
        assert_eq!(stored.status, RunStatus::Completed);
        assert_eq!(
            (stored.counters.finished, stored.counters.passed, stored.counters.failed, stored.counters.evidence),
            (4, 8, 4, 4)
        );
        assert_eq!(completions[0].counters, stored.counters);
        // AND the lock is released, so a new on-demand run of the integration may start
        runs.start(&run("acme", 1, now), LockPolicy::Exclusive).await.unwrap();
    }

    #[tokio::test]
    async fn a_second_on_demand_run_of_a_busy_integration_is_refused() {
        let (_d, t) = table();
        let runs = Runs::new(t);
        let now = Utc::now();
        runs.start(&run("acme", 2, now), LockPolicy::Exclusive).await.unwrap();
        let err = runs.start(&run("acme", 2, now), LockPolicy::Exclusive).await.unwrap_err();
        assert!(matches!(&err, Error::Busy(ids) if ids == &[IntegrationId::new("i1").unwrap()]), "{err:?}");
        // Another tenant's integration of the same id is independent.
        runs.start(&run("other", 2, now), LockPolicy::Exclusive).await.unwrap();
        // A scheduled run takes the lock regardless.
        runs.start(&run("acme", 2, now), LockPolicy::Override).await.unwrap();
    }

    #[tokio::test]
    async fn stale_runs_time_out_once_and_late_jobs_do_not_complete_them() {
        let (_d, t) = table();
        let runs = Runs::new(t);
        let now = Utc::now();
        let r = run("acme", 3, now);
        runs.start(&r, LockPolicy::Exclusive).await.unwrap();
        assert!(runs.time_out_stale(now).await.unwrap().is_empty(), "not yet past its deadline");
        let later = r.deadline + chrono::Duration::seconds(1);
        let timed_out = runs.time_out_stale(later).await.unwrap();
        assert_eq!(timed_out.len(), 1);
        assert_eq!(timed_out[0].status, RunStatus::TimedOut);
        assert!(runs.time_out_stale(later).await.unwrap().is_empty(), "timed out once");
        let late = runs.job_finished(&r.tenant_id, &r.id, &format!("{}/i1/x", r.id), JobCounts::default(), later).await;
        let late = late.unwrap();
        assert!(late.counted && late.completed.is_none());
        assert_eq!(runs.get(&r.tenant_id, &r.id).await.unwrap().status, RunStatus::TimedOut);
        assert!(matches!(
            runs.job_finished(&r.tenant_id, &RunId::new("nope").unwrap(), "nope/i1/x", JobCounts::default(), now).await,
            Err(Error::NotFound)
        ));
        for bad in ["other/i1/x", &format!("{}/", r.id), &format!("{}x/i1/x", r.id), &format!("{}/i1/a#b", r.id)] {
            assert!(
                matches!(
                    runs.job_finished(&r.tenant_id, &r.id, bad, JobCounts::default(), now).await,
                    Err(Error::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn runs_list_newest_first_in_pages() {
        let (_d, t) = table();
        let runs = Runs::new(t);
        let now = Utc::now();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let mut r = run("acme", 1, now);
            r.integrations.clear();
            runs.start(&r, LockPolicy::Exclusive).await.unwrap();
            ids.push(r.id);
        }
        let tenant = TenantId::new("acme").unwrap();
        let (first, cursor) = runs.list(&tenant, 2, None).await.unwrap();
        let (second, _) = runs.list(&tenant, 2, cursor).await.unwrap();
        let listed: Vec<RunId> = first.into_iter().chain(second).map(|r| r.id).collect();
        ids.reverse();
        assert_eq!(listed, ids);
    }
}
