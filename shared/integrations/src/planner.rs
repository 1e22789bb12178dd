//! Planning runs and fanning their jobs out to the connectors' queues.
//!
//! - [`plan_run`] turns a tenant's integrations into a [`Run`] and its jobs: one job per slice
//!   (for AWS: account × region × service family), each with the deterministic idempotency key
//!   `<run_id>/<integration_id>/<slice>` and a job id derived from it. Slices come from a
//!   [`Slicer`] the caller supplies; [`AwsSlicer`] uses the integration's cached enabled regions
//!   (which every run's `regions` job refreshes) and, for an account never discovered yet, the
//!   integration's region allow-list or else the regions AWS enables for every account, so the very
//!   first run already collects everything.
//! - [`enqueue`] sends jobs with `SendMessageBatch` (at most ten per call), retrying only the
//!   entries the queue refused as retryable, with backoff.
//! - [`Planner::run_once`] is what the scheduled planner does: time out stale runs, page through
//!   the due-index, plan one run per tenant (all its due integrations) in a transaction that also
//!   advances those schedules (so a second planner, or a second invocation, never fires them
//!   again), and enqueue. [`Planner::start_on_demand`] is `POST /v1/runs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_adapters::AdapterError;
use kushim_adapters::bus::EventBus;
use kushim_adapters::queue::{MAX_BATCH, OutgoingMessage, Queue, SendOutcome};
use kushim_adapters::table::{Table, TxOp};
use kushim_domain::{IntegrationId, Job, JobId, JobKind, RunId, TenantId};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::{Integration, IntegrationKind};
use crate::runs::{LockPolicy, Run, RunCounters, RunStatus, Runs, StartError, Trigger};
use crate::schedule::{Schedule, Schedules, tenant_time_zone};
use crate::store::{get_integration, list_integrations};
use crate::{Error, Result, events};

/// Longest slice name.
pub const MAX_SLICE_LEN: usize = 256;
/// Attempts per batch before [`enqueue`] gives up on refused entries.
pub const ENQUEUE_ATTEMPTS: u32 = 8;
/// How long a pass keeps starting tenants: half the planner function's 120 s timeout, leaving the
/// rest for sending the jobs already planned.
pub const PASS_BUDGET: Duration = Duration::from_secs(60);
/// Due schedules one planner invocation reads at most (the rest stay due for the next one).
pub const MAX_DUE_PER_INVOCATION: usize = 200_000;
/// Tenants planned concurrently.
pub const TENANT_CONCURRENCY: usize = 8;

/// Splits an integration's collection into independent slices.
pub trait Slicer: Send + Sync {
    /// The slices of one integration; empty when nothing of it can be collected.
    fn slices(&self, integration: &Integration) -> Vec<String>;
}

/// The slices of one AWS account given its regions (e.g. `kushim_aws::slices`).
pub type AccountSlices = Arc<dyn Fn(&str, &[String]) -> Vec<String> + Send + Sync>;

/// Slices AWS integrations per account from the cached enabled regions (narrowed by the
/// integration's `regions` allow-list). An account whose regions were never discovered is sliced
/// over the allow-list, or else over [`DEFAULT_AWS_REGIONS`] (enabled in every account); its
/// `regions` job discovers the real list for the next run. Other kinds get no slices.
#[derive(Clone)]
pub struct AwsSlicer {
    per_account: AccountSlices,
}

/// The regions AWS enables in every account (no opt-in needed).
pub use kushim_domain::aws::DEFAULT_REGIONS as DEFAULT_AWS_REGIONS;

/// Global AWS service families (collected once per account).
pub const AWS_GLOBAL_FAMILIES: [&str; 4] = ["regions", "iam", "s3", "cloudtrail"];
/// Regional AWS service families (collected in every enabled region).
pub const AWS_REGIONAL_FAMILIES: [&str; 4] = ["config", "kms", "guardduty", "ebs"];

/// `<account>/global/<family>` for each global family, then `<account>/<region>/<family>` for
/// each region and regional family: the AWS connector's slice layout.
pub fn builtin_aws_slices(account_id: &str, regions: &[String]) -> Vec<String> {
    let global = AWS_GLOBAL_FAMILIES.iter().map(|f| format!("{account_id}/global/{f}"));
    let regional =
        regions.iter().flat_map(|r| AWS_REGIONAL_FAMILIES.iter().map(move |f| format!("{account_id}/{r}/{f}")));
    global.chain(regional).collect()
}

impl AwsSlicer {
    /// A slicer using `per_account` for accounts with known regions.
    pub fn new(per_account: AccountSlices) -> Self {
        Self { per_account }
    }

    /// The regions to collect in `account_id`: `None` when they were never discovered.
    pub fn regions_for(integration: &Integration, account_id: &str) -> Option<Vec<String>> {
        let cached = integration.enabled_regions.get(account_id).filter(|e| !e.regions.is_empty())?;
        let allow = integration.aws().and_then(|a| a.regions.as_ref());
        Some(cached.regions.iter().filter(|r| allow.is_none_or(|a| a.contains(r))).cloned().collect())
    }
}

impl Default for AwsSlicer {
    fn default() -> Self {
        Self::new(Arc::new(builtin_aws_slices))
    }
}

impl Slicer for AwsSlicer {
    fn slices(&self, integration: &Integration) -> Vec<String> {
        let Some(aws) = integration.aws() else { return Vec::new() };
        aws.accounts
            .iter()
            .flat_map(|a| match Self::regions_for(integration, &a.account_id) {
                Some(regions) => (self.per_account)(&a.account_id, &regions),
                None => {
                    let regions = match aws.regions.as_ref() {
                        Some(allow) => allow.clone(),
                        None => DEFAULT_AWS_REGIONS.iter().map(|r| (*r).to_owned()).collect(),
                    };
                    (self.per_account)(&a.account_id, &regions)
                }
            })
            .collect()
    }
}

/// Which queue each kind's connector consumes (a URL on AWS, a name locally).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobQueues {
    /// `AWS_JOBS_QUEUE_URL`.
    pub aws: Option<String>,
}

impl JobQueues {
    /// The queue of `kind`'s connector, if one is configured.
    pub fn for_kind(&self, kind: IntegrationKind) -> Option<&str> {
        match kind {
            IntegrationKind::Aws => self.aws.as_deref(),
            IntegrationKind::Github | IntegrationKind::Okta => None,
        }
    }
}

/// Settings of new runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// How long a run may take before it is timed out (default 2 hours).
    pub deadline: chrono::Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { deadline: chrono::Duration::hours(2) }
    }
}

/// A run and the jobs that make it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRun {
    /// The run (status `running`, `total` = number of jobs).
    pub run: Run,
    /// Its jobs, grouped by integration in the order given.
    pub jobs: Vec<Job>,
}

/// The deterministic id of the job with this idempotency key.
pub fn job_id(idempotency_key: &str) -> JobId {
    let digest = hex::encode(Sha256::digest(idempotency_key.as_bytes()));
    JobId::new(format!("j{}", &digest[..31])).expect("hex digits make a valid id")
}

/// The idempotency key of one slice of one integration in one run.
pub fn idempotency_key(run: &RunId, integration: &IntegrationId, slice: &str) -> String {
    format!("{run}/{integration}/{slice}")
}

fn valid_slice(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLICE_LEN
        && !s.contains('#')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Plans a run of `integrations` (slices from `slicer`); integrations without slices are left
/// out. Fails with [`Error::NothingToRun`] when no job remains.
pub fn plan_run(
    tenant: &TenantId,
    integrations: &[Integration],
    trigger: Trigger,
    now: DateTime<Utc>,
    slicer: &dyn Slicer,
    options: &RunOptions,
) -> Result<PlannedRun> {
    let run_id = RunId::generate();
    let mut jobs = Vec::new();
    let mut included = Vec::new();
    let mut planned = std::collections::BTreeMap::new();
    for integration in integrations {
        let slices = slicer.slices(integration);
        if let Some(bad) = slices.iter().find(|s| !valid_slice(s)) {
            return Err(Error::Invalid(format!("slicer produced an invalid slice {bad:?}")));
        }
        if slices.is_empty() {
            continue;
        }
        included.push(integration.id.clone());
        planned.insert(integration.id.clone(), slices.clone());
        for slice in slices {
            let key = idempotency_key(&run_id, &integration.id, &slice);
            jobs.push(Job {
                job_id: job_id(&key),
                tenant_id: tenant.clone(),
                run_id: run_id.clone(),
                idempotency_key: key,
                kind: JobKind::Collect { integration_id: integration.id.clone(), slice },
            });
        }
    }
    if jobs.is_empty() {
        return Err(Error::NothingToRun("no integration has anything to collect".into()));
    }
    let run = Run {
        id: run_id,
        tenant_id: tenant.clone(),
        trigger,
        integrations: included,
        created_at: now,
        deadline: now + options.deadline,
        status: RunStatus::Running,
        completed_at: None,
        counters: RunCounters { total: jobs.len() as u64, ..RunCounters::default() },
        slices: planned,
    };
    Ok(PlannedRun { run, jobs })
}

/// Sends jobs to `queue_name` in `SendMessageBatch` calls of at most ten, retrying refused
/// entries that may succeed later (and whole calls that failed retryably) with backoff. Returns
/// how many `SendMessageBatch` calls it made.
pub async fn enqueue(queue: &dyn Queue, queue_name: &str, jobs: &[Job]) -> Result<usize> {
    let mut calls = 0;
    for chunk in jobs.chunks(MAX_BATCH) {
        let mut pending = Vec::with_capacity(chunk.len());
        for job in chunk {
            let body =
                serde_json::to_string(job).map_err(|e| Error::Invalid(format!("job does not serialise: {e}")))?;
            pending.push(OutgoingMessage::new(body));
        }
        for attempt in 0..ENQUEUE_ATTEMPTS {
            calls += 1;
            match queue.send_batch(queue_name, pending.clone()).await {
                Ok(outcomes) => {
                    let mut retry = Vec::new();
                    for (message, outcome) in pending.into_iter().zip(outcomes) {
                        match outcome {
                            SendOutcome::Sent(_) => {}
                            SendOutcome::Failed { retryable: true, .. } => retry.push(message),
                            SendOutcome::Failed { code, retryable: false } => {
                                return Err(Error::Enqueue(format!("the queue refused a job: {code}")));
                            }
                        }
                    }
                    pending = retry;
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(code = e.code(), attempt, "SendMessageBatch failed; retrying")
                }
                Err(e) => return Err(e.into()),
            }
            if pending.is_empty() {
                break;
            }
            let jitter = rand::random::<u64>() % 20;
            tokio::time::sleep(Duration::from_millis((25u64 << attempt.min(5)) + jitter)).await;
        }
        if !pending.is_empty() {
            return Err(Error::Enqueue(format!(
                "{} jobs still refused after {ENQUEUE_ATTEMPTS} attempts",
                pending.len()
            )));
        }
    }
    Ok(calls)
}

/// What one planner invocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PlanReport {
    /// Due schedules read.
    pub due: usize,
    /// Tenants they belong to.
    pub tenants: usize,
    /// Runs created.
    pub runs_created: usize,
    /// Jobs sent.
    pub jobs_enqueued: usize,
    /// `SendMessageBatch` calls made.
    pub send_batch_calls: usize,
    /// Due schedules advanced without a run (paused, deleted, or no connector for the kind).
    pub schedules_skipped: usize,
    /// Due schedules another planner (or a schedule change) advanced first.
    pub lost_races: usize,
    /// Tenants whose planning failed (their schedules stay due for the next invocation).
    pub failed_tenants: usize,
    /// Runs timed out.
    pub runs_timed_out: usize,
    /// Tenants left due for the next pass because this one ran out of time.
    pub deferred_tenants: usize,
}

/// A run started on demand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedRun {
    /// The run.
    pub run: Run,
    /// `SendMessageBatch` calls made.
    pub send_batch_calls: usize,
}

struct TenantPlan {
    jobs: Vec<(String, Job)>,
    run_created: bool,
    skipped: usize,
    lost: usize,
}

/// Plans and fans out runs, on schedule and on demand.
#[derive(Clone)]
pub struct Planner {
    table: Arc<dyn Table>,
    queue: Arc<dyn Queue>,
    queues: JobQueues,
    slicer: Arc<dyn Slicer>,
    options: RunOptions,
    bus: Option<Arc<dyn EventBus>>,
    budget: Duration,
}

impl Planner {
    /// A planner on these ports.
    pub fn new(table: Arc<dyn Table>, queue: Arc<dyn Queue>, queues: JobQueues, slicer: Arc<dyn Slicer>) -> Self {
        Self { table, queue, queues, slicer, options: RunOptions::default(), bus: None, budget: PASS_BUDGET }
    }

    /// Stops starting tenants after `budget` in a pass instead of [`PASS_BUDGET`] (builder style).
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// Uses other run settings (builder style).
    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// Publishes `run.completed` for runs it times out (builder style).
    pub fn with_bus(mut self, bus: Option<Arc<dyn EventBus>>) -> Self {
        self.bus = bus;
        self
    }

    /// Uses another slicer (builder style).
    pub fn with_slicer(mut self, slicer: Arc<dyn Slicer>) -> Self {
        self.slicer = slicer;
        self
    }

    /// The queues it sends to.
    pub fn queues(&self) -> &JobQueues {
        &self.queues
    }

    /// Starts a run now (`POST /v1/runs`): the named integrations, or every active one with a
    /// connector. Refused with [`Error::Busy`] when one of them has a running run.
    pub async fn start_on_demand(
        &self,
        tenant: &TenantId,
        integration_ids: Option<Vec<IntegrationId>>,
        now: DateTime<Utc>,
    ) -> Result<StartedRun> {
        let integrations = match integration_ids {
            Some(mut ids) => {
                ids.sort();
                ids.dedup();
                if ids.is_empty() {
                    return Err(Error::Invalid("integration_ids must not be empty".into()));
                }
                let mut out = Vec::new();
                for id in ids {
                    let i = match get_integration(self.table.as_ref(), tenant, &id).await {
                        Ok(i) => i,
                        Err(Error::NotFound) => return Err(Error::Invalid(format!("unknown integration {id}"))),
                        Err(e) => return Err(e),
                    };
                    if !i.is_active() {
                        return Err(Error::Conflict(format!("integration {id} is paused")));
                    }
                    if self.queues.for_kind(i.kind()).is_none() {
                        return Err(Error::Conflict(format!("no connector collects {} integrations yet", i.kind())));
                    }
                    out.push(i);
                }
                out
            }
            None => list_integrations(self.table.as_ref(), tenant)
                .await?
                .into_iter()
                .filter(|i| i.is_active() && self.queues.for_kind(i.kind()).is_some())
                .collect(),
        };
        if integrations.is_empty() {
            return Err(Error::NothingToRun("no active integration with a connector".into()));
        }
        let planned = plan_run(tenant, &integrations, Trigger::Manual, now, self.slicer.as_ref(), &self.options)?;
        let runs = Runs::new(self.table.clone());
        runs.start(&planned.run, LockPolicy::Exclusive).await?;
        let by_kind: BTreeMap<&IntegrationId, IntegrationKind> =
            integrations.iter().map(|i| (&i.id, i.kind())).collect();
        let mut calls = 0;
        for (queue, jobs) in self.group(planned.jobs.into_iter(), &by_kind) {
            match enqueue(self.queue.as_ref(), &queue, &jobs).await {
                Ok(n) => calls += n,
                Err(e) => {
                    // Do not hold the integrations' locks until the deadline for a run that cannot
                    // complete: close it now so the caller may retry.
                    if let Err(close) = runs.abandon(&planned.run, now).await {
                        tracing::error!(error = %close, run = %planned.run.id, "could not abandon a run whose jobs were not enqueued");
                    }
                    return Err(e);
                }
            }
        }
        Ok(StartedRun { run: planned.run, send_batch_calls: calls })
    }

    fn group(
        &self,
        jobs: impl Iterator<Item = Job>,
        kinds: &BTreeMap<&IntegrationId, IntegrationKind>,
    ) -> BTreeMap<String, Vec<Job>> {
        let mut out: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        for job in jobs {
            let JobKind::Collect { integration_id, .. } = &job.kind else { continue };
            if let Some(q) = kinds.get(integration_id).and_then(|k| self.queues.for_kind(*k)) {
                out.entry(q.to_owned()).or_default().push(job);
            }
        }
        out
    }

    /// One scheduled pass: time out stale runs, plan every due schedule, enqueue.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<PlanReport> {
        let mut report = PlanReport::default();
        let runs = Runs::new(self.table.clone());
        let timed_out = runs.time_out_stale(now).await?;
        report.runs_timed_out = timed_out.len();
        if let (Some(bus), false) = (&self.bus, timed_out.is_empty()) {
            let evs = timed_out.iter().map(events::run_completed).collect();
            if let Err(e) = events::publish(bus.as_ref(), evs).await {
                tracing::error!(error = %e, "could not publish run.completed for timed-out runs");
            }
        }

        let schedules = Schedules::new(self.table.clone());
        let mut due: BTreeMap<TenantId, Vec<Schedule>> = BTreeMap::new();
        let mut cursor = None;
        loop {
            let (page, next) = schedules.due(now, 500, cursor).await?;
            report.due += page.len();
            for s in page {
                due.entry(s.tenant_id.clone()).or_default().push(s);
            }
            cursor = next;
            if cursor.is_none() || report.due >= MAX_DUE_PER_INVOCATION {
                break;
            }
        }
        report.tenants = due.len();

        let mut pending: BTreeMap<String, Vec<Job>> = BTreeMap::new();
        let mut first_error = None;
        // A tenant is only started within the budget, so the pass can send every job it planned
        // before the function times out; the rest stay due for the next pass.
        let started = std::time::Instant::now();
        let budget = self.budget;
        let mut planned_tenants = 0;
        let mut plans = futures::stream::iter(due)
            .take_while(move |_| std::future::ready(started.elapsed() < budget))
            .map(|(tenant, list)| async move {
                let r = self.plan_tenant(&tenant, list, now).await;
                (tenant, r)
            })
            .buffer_unordered(TENANT_CONCURRENCY);
        while let Some((tenant, outcome)) = plans.next().await {
            planned_tenants += 1;
            match outcome {
                Ok(plan) => {
                    report.runs_created += usize::from(plan.run_created);
                    report.schedules_skipped += plan.skipped;
                    report.lost_races += plan.lost;
                    for (queue, job) in plan.jobs {
                        pending.entry(queue).or_default().push(job);
                    }
                }
                Err(e) => {
                    report.failed_tenants += 1;
                    tracing::error!(tenant = %tenant, error = %e, "planning a tenant failed; its schedules stay due");
                }
            }
            // Send full batches as they fill; keep the remainder for the next tenants.
            for (queue, jobs) in pending.iter_mut() {
                let full = jobs.len() / MAX_BATCH * MAX_BATCH;
                if full >= MAX_BATCH * 10 {
                    let batch: Vec<Job> = jobs.drain(..full).collect();
                    match enqueue(self.queue.as_ref(), queue, &batch).await {
                        Ok(calls) => {
                            report.send_batch_calls += calls;
                            report.jobs_enqueued += batch.len();
                        }
                        Err(e) => {
                            tracing::error!(error = %e, jobs = batch.len(), "enqueueing planned jobs failed");
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
        }
        drop(plans);
        report.deferred_tenants = report.tenants - planned_tenants;
        if report.deferred_tenants > 0 {
            tracing::warn!(deferred = report.deferred_tenants, "the pass ran out of time; the rest stay due");
        }
        for (queue, jobs) in pending {
            if jobs.is_empty() {
                continue;
            }
            match enqueue(self.queue.as_ref(), &queue, &jobs).await {
                Ok(calls) => {
                    report.send_batch_calls += calls;
                    report.jobs_enqueued += jobs.len();
                }
                Err(e) => {
                    tracing::error!(error = %e, jobs = jobs.len(), "enqueueing planned jobs failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        tracing::info!(?report, "planner pass");
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Plans one tenant's due schedules: one run of all its collectable integrations, created in
    /// the same transaction that advances the schedules.
    async fn plan_tenant(&self, tenant: &TenantId, mut due: Vec<Schedule>, now: DateTime<Utc>) -> Result<TenantPlan> {
        let tz = tenant_time_zone(self.table.as_ref(), tenant).await?;
        let mut integrations: BTreeMap<IntegrationId, Integration> = BTreeMap::new();
        let mut lost = 0;
        let mut orphans = Vec::new();
        for s in &due {
            match get_integration(self.table.as_ref(), tenant, &s.integration_id).await {
                Ok(i) => {
                    integrations.insert(i.id.clone(), i);
                }
                Err(Error::NotFound) => orphans.push(s.integration_id.clone()),
                Err(e) => return Err(e),
            }
        }
        for id in &orphans {
            // A schedule whose integration is gone: drop it from the index for good.
            self.table.delete(&kushim_adapters::keys::integration_schedule(tenant, id), None).await?;
        }
        due.retain(|s| !orphans.contains(&s.integration_id));
        let skipped_orphans = orphans.len();
        for _ in 0..3 {
            if due.is_empty() {
                return Ok(TenantPlan { jobs: Vec::new(), run_created: false, skipped: skipped_orphans, lost });
            }
            let collectable: Vec<Integration> = due
                .iter()
                .filter_map(|s| integrations.get(&s.integration_id))
                .filter(|i| i.is_active() && self.queues.for_kind(i.kind()).is_some())
                .cloned()
                .collect();
            let planned =
                match plan_run(tenant, &collectable, Trigger::Schedule, now, self.slicer.as_ref(), &self.options) {
                    Ok(p) => Some(p),
                    Err(Error::NothingToRun(_)) => None,
                    Err(e) => return Err(e),
                };
            let mut ops = Vec::with_capacity(due.len());
            for s in &due {
                ops.push(s.advance_op(tz, now)?.0);
            }
            let skipped = skipped_orphans + due.len() - planned.as_ref().map_or(0, |p| p.run.integrations.len());
            let outcome = match &planned {
                Some(p) => Runs::new(self.table.clone()).start_with(&p.run, LockPolicy::Override, ops).await,
                None => self.advance_only(ops).await,
            };
            match outcome {
                Ok(()) => {
                    let Some(p) = planned else {
                        return Ok(TenantPlan { jobs: Vec::new(), run_created: false, skipped, lost });
                    };
                    let kinds: BTreeMap<&IntegrationId, IntegrationKind> =
                        integrations.values().map(|i| (&i.id, i.kind())).collect();
                    let jobs = self
                        .group(p.jobs.into_iter(), &kinds)
                        .into_iter()
                        .flat_map(|(q, js)| js.into_iter().map(move |j| (q.clone(), j)));
                    return Ok(TenantPlan { jobs: jobs.collect(), run_created: true, skipped, lost });
                }
                Err(StartError::ExtraFailed(positions)) => {
                    lost += positions.len();
                    let mut i = 0;
                    due.retain(|_| {
                        let keep = !positions.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Err(StartError::Busy(_)) => unreachable!("scheduled runs override locks"),
                Err(StartError::Other(e)) => return Err(e),
            }
        }
        Err(Error::Contention("due schedules"))
    }

    async fn advance_only(&self, ops: Vec<TxOp>) -> std::result::Result<(), StartError> {
        match self.table.transact_write(ops).await {
            Ok(()) => Ok(()),
            Err(AdapterError::TransactionCanceled { reasons }) => {
                let failed: Vec<usize> = reasons
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| **r == kushim_adapters::error::CancelReason::ConditionFailed)
                    .map(|(i, _)| i)
                    .collect();
                if failed.is_empty() {
                    Err(StartError::Other(AdapterError::TransactionCanceled { reasons }.into()))
                } else {
                    Err(StartError::ExtraFailed(failed))
                }
            }
            Err(e) => Err(StartError::Other(e.into())),
        }
    }
}
