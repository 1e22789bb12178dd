//! The job-processing engine behind [`crate`]: the [`Collector`] seam, [`Worker::process`] and
//! the SQS glue ([`handle_batch`]) that turns outcomes into acknowledgements, backoffs and DLQ
//! records.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, Utc};
use kushim_adapters::blob::BlobStore;
use kushim_adapters::bus::{Event, EventBus};
use kushim_adapters::queue::{MAX_VISIBILITY, Queue};
use kushim_adapters::secrets::Secrets;
use kushim_adapters::table::{Condition, Item, Table};
use kushim_adapters::{AdapterError, keys};
use kushim_checks::{CheckResult, Evidence, EvidenceContext, InconclusiveReason, Scope, Status};
use kushim_compliance::{Compliance, Observation};

use crate::findings::{FindingOrigin, finding_events};
use kushim_domain::{IntegrationId, Job, JobKind, TenantId};
use kushim_evidence::{Checkpoints, EvidenceStore, NewEvidence, Source};
use kushim_integrations::health::sanitize_error;
use kushim_integrations::{
    Admission, Breaker, Integration, IntegrationStatus, IntegrationStore, JobCounts, JobMarker, JobOutcome, Run, Runs,
};
use kushim_lambda::sqs::{MessageError, drive_batch};
use kushim_rules::CompiledRule;
use serde_json::json;

/// How long a job's lock lasts: longer than a connector function's timeout (300 s), far shorter
/// than the queue's visibility timeout (1,800 s), so a crashed delivery's retry can take over.
pub const LOCK_LEASE: Duration = Duration::from_secs(330);
/// How long one collection may take: inside the function's timeout (300 s) with room to record
/// the outcome, so a provider too slow to answer is a transient failure with a reason and a
/// backoff rather than the function being killed mid-job.
pub const COLLECT_DEADLINE: Duration = Duration::from_secs(270);
/// How long collected evidence counts as fresh (collection is daily).
const FRESHNESS: chrono::Duration = chrono::Duration::hours(48);
/// Why a finding resolved because its resource is no longer observed.
const GONE_REASON: &str = "The latest collection of its scope no longer finds this resource.";
/// Why a finding resolved because its integration no longer covers where the resource was.
const NOT_COVERED_REASON: &str = "The integration no longer covers the account or region this resource was in.";
/// Messages of one batch processed at once.
pub const CONCURRENCY: usize = 4;

/// One piece of evidence a collector produced.
#[derive(Debug, Clone)]
pub struct Collected {
    /// The normalized evidence.
    pub evidence: Evidence,
    /// Where and when, and which actions were refused.
    pub context: EvidenceContext,
    /// The provider API calls made for it (`iam:GetCredentialReport`…).
    pub api_calls: Vec<String>,
}

/// Why collecting a slice failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectFailure {
    /// May succeed later: throttling, 5xx, timeouts, the provider unreachable.
    Transient {
        /// Sanitized message.
        message: String,
        /// The provider's hint, if it gave one.
        retry_after: Option<Duration>,
    },
    /// Will not succeed until someone changes something: access denied, a revoked role, invalid
    /// credentials, a missing resource, a malformed slice.
    Permanent {
        /// A stable code (`access_denied`, `invalid_credentials`…).
        code: String,
        /// Sanitized message.
        message: String,
    },
}

/// What a slice covers: the evidence kinds it yields and the scope they describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceScope {
    /// Evidence kinds the slice produces.
    pub evidence_kinds: Vec<&'static str>,
    /// The account or org (and region) it covers.
    pub scope: Scope,
}

/// What a connector implements: how to collect one slice of an integration.
#[async_trait]
pub trait Collector: Send + Sync {
    /// `aws`, `github`, `okta`.
    fn connector(&self) -> &'static str;
    /// The slice's scope and evidence kinds, without calling the provider.
    fn scope(&self, integration: &Integration, slice: &str) -> Result<SliceScope, CollectFailure>;
    /// Collects the slice.
    async fn collect(&self, integration: &Integration, slice: &str) -> Result<Vec<Collected>, CollectFailure>;
}

/// What happened to one job.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Collected, stored, evaluated and counted.
    Done {
        /// What it counted.
        counts: JobCounts,
        /// Whether it was the run's last job.
        run_completed: bool,
    },
    /// Already finished by an earlier delivery: acknowledged without work.
    Duplicate,
    /// Another delivery holds the lock right now: try again after the visibility timeout.
    Busy,
    /// The integration's breaker is open: try again at `until`.
    Deferred {
        /// When the cool-down ends.
        until: DateTime<Utc>,
    },
    /// A transient failure: try again after `after`.
    Retry {
        /// Sanitized reason.
        message: String,
        /// Backoff.
        after: Duration,
    },
    /// A permanent failure, recorded as inconclusive results (or a skipped job) and counted.
    Failed {
        /// Sanitized reason.
        reason: String,
    },
}

/// Exponential backoff for the `receive_count`-th failed delivery (10 s, 20 s, 40 s… at most
/// 15 minutes), never shorter than the provider's hint, with up to 20 % jitter.
pub fn backoff_for(receive_count: u32, retry_after: Option<Duration>) -> Duration {
    let exp = 10u64.saturating_mul(1 << receive_count.saturating_sub(1).min(10));
    let base = Duration::from_secs(exp.min(900)).max(retry_after.unwrap_or_default());
    let jitter = rand::random::<u64>() % (base.as_millis() as u64 / 5 + 1);
    (base + Duration::from_millis(jitter)).min(MAX_VISIBILITY)
}

/// Processes collection jobs for one connector.
#[derive(Clone)]
pub struct Worker {
    table: Arc<dyn Table>,
    bus: Option<Arc<dyn EventBus>>,
    store: EvidenceStore,
    compliance: Compliance,
    integrations: IntegrationStore,
    breaker: Breaker,
    runs: Runs,
    checkpoints: Checkpoints,
    collector: Arc<dyn Collector>,
    deadline: Duration,
}

fn storage(e: impl std::fmt::Display) -> Outcome {
    Outcome::Retry { message: format!("storage: {e}"), after: Duration::from_secs(10) }
}

impl Worker {
    /// A worker over the ports and one connector's collector.
    pub fn new(
        table: Arc<dyn Table>,
        blobs: Arc<dyn BlobStore>,
        secrets: Arc<dyn Secrets>,
        bus: Option<Arc<dyn EventBus>>,
        collector: Arc<dyn Collector>,
    ) -> Self {
        Self {
            store: EvidenceStore::new(table.clone(), blobs),
            compliance: Compliance::new(table.clone()),
            integrations: IntegrationStore::new(table.clone(), secrets.clone()),
            breaker: Breaker::new(table.clone()),
            runs: Runs::new(table.clone()),
            checkpoints: Checkpoints::new(table.clone(), secrets),
            table,
            bus,
            collector,
            deadline: COLLECT_DEADLINE,
        }
    }

    /// Bounds each collection by `deadline` instead of [`COLLECT_DEADLINE`] (builder style).
    pub fn with_collect_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The integration store (connectors refresh cached facts through it).
    pub fn integrations(&self) -> &IntegrationStore {
        &self.integrations
    }

    /// Processes one job; `receive_count` is this delivery's (1 for the first).
    pub async fn process(&self, job: &Job, receive_count: u32, now: DateTime<Utc>) -> Outcome {
        let JobKind::Collect { integration_id, slice } = &job.kind else {
            return Outcome::Failed { reason: "not a collection job".into() };
        };
        let tenant = &job.tenant_id;
        let key = &job.idempotency_key;
        match self.table.get(&keys::job_done(tenant, key)).await {
            Ok(Some(_)) => return Outcome::Duplicate,
            Ok(None) => {}
            Err(e) => return storage(e),
        }
        let lock = Item::new(keys::job_lock(tenant, key))
            .with("job_id", job.job_id.as_str())
            .with("receive_count", receive_count)
            .expiring_at(now.timestamp() + LOCK_LEASE.as_secs() as i64);
        match self.table.put(lock, Some(Condition::NotExists)).await {
            Ok(()) => {}
            Err(AdapterError::ConditionFailed) => return Outcome::Busy,
            Err(e) => return storage(e),
        }
        let outcome = self.locked(job, integration_id, slice, receive_count, now).await;
        if !matches!(outcome, Outcome::Done { .. } | Outcome::Failed { .. }) {
            // Let the next delivery in at once.
            if let Err(e) = self.table.delete(&keys::job_lock(tenant, key), None).await {
                tracing::warn!(error = %e, "could not release a job lock; it expires with its lease");
            }
        }
        outcome
    }

    async fn locked(
        &self,
        job: &Job,
        integration_id: &IntegrationId,
        slice: &str,
        receive_count: u32,
        now: DateTime<Utc>,
    ) -> Outcome {
        let tenant = &job.tenant_id;
        let integration = match self.integrations.get(tenant, integration_id).await {
            Ok(i) => i,
            Err(kushim_integrations::Error::NotFound) => {
                let counts = JobCounts { errored: 1, ..JobCounts::default() };
                return self.finish(job, JobOutcome::Skipped, counts, "the integration was deleted", now).await;
            }
            Err(e) => return storage(e),
        };
        if integration.status == IntegrationStatus::Paused {
            return self.finish(job, JobOutcome::Skipped, JobCounts::default(), "the integration is paused", now).await;
        }
        match self.breaker.admit(tenant, integration_id, now).await {
            Ok(Admission::Deferred { until }) => return Outcome::Deferred { until },
            Ok(Admission::Allowed | Admission::Probe) => {}
            Err(e) => return storage(e),
        }
        let scope = match self.collector.scope(&integration, slice) {
            Ok(s) => s,
            Err(_) => {
                let counts = JobCounts { errored: 1, ..JobCounts::default() };
                return self
                    .finish(job, JobOutcome::Failed, counts, &format!("the job's slice {slice:?} is not valid"), now)
                    .await;
            }
        };
        let collected = tokio::time::timeout(self.deadline, self.collector.collect(&integration, slice)).await;
        let collected = collected.unwrap_or_else(|_| {
            let message = format!("the collection did not finish within {} s", self.deadline.as_secs());
            Err(CollectFailure::Transient { message, retry_after: None })
        });
        match collected {
            Ok(collected) => self.collected(job, &integration, collected, now).await,
            Err(CollectFailure::Transient { message, retry_after }) => {
                let message = sanitize_error(&message);
                self.health_failure(tenant, integration_id, &message, now).await;
                Outcome::Retry { after: backoff_for(receive_count, retry_after), message }
            }
            Err(CollectFailure::Permanent { code, message }) => {
                let message = sanitize_error(&message);
                let reason = format!("{code}: {message}");
                let results = inconclusive_results(&scope, &reason);
                // Nothing was seen, so nothing earlier is retired; the results carry the scope so
                // the next complete collection replaces them.
                let mut observation = self.observation(job, integration_id, now);
                observation.checks = results.iter().map(|r| r.check_id.clone()).collect();
                observation.partial = observation.checks.clone();
                if let Err(e) = self.record(job, &observation, &results, now).await {
                    return storage(e);
                }
                self.health_failure(tenant, integration_id, &reason, now).await;
                let counts = JobCounts { inconclusive: results.len() as u64, errored: 1, ..JobCounts::default() };
                match self.finish(job, JobOutcome::Failed, counts, &reason, now).await {
                    Outcome::Done { .. } => Outcome::Failed { reason },
                    other => other,
                }
            }
        }
    }

    async fn health_failure(&self, tenant: &TenantId, integration: &IntegrationId, message: &str, now: DateTime<Utc>) {
        match self.breaker.on_failure(tenant, integration, now, message).await {
            Ok(Some(t)) => self.publish(vec![kushim_integrations::events::health_changed(&t)]).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not record the integration's failure"),
        }
    }

    async fn collected(
        &self,
        job: &Job,
        integration: &Integration,
        collected: Vec<Collected>,
        now: DateTime<Utc>,
    ) -> Outcome {
        let tenant = &job.tenant_id;
        let retention = match self.store.retention_policy(tenant).await {
            Ok(r) => r,
            Err(e) => return storage(e),
        };
        let custom = match self.compliance.list_custom_checks(tenant).await {
            Ok(c) => c,
            Err(e) => return storage(e),
        };
        let mut results: Vec<CheckResult> = Vec::new();
        let mut evidence_written = 0u64;
        let mut observation = self.observation(job, &integration.id, now);
        for c in &collected {
            observation.observed_at = observation.observed_at.min(c.context.collected_at);
            let mut checks: BTreeSet<String> = BTreeSet::new();
            let mut these = Vec::new();
            for check in kushim_checks::registry().iter().filter(|k| k.def().evidence_kind == c.evidence.kind()) {
                match check.evaluate(&c.evidence, &c.context, now) {
                    Ok(rs) => {
                        checks.insert(check.id().to_owned());
                        if blind_to_scope(&c.context, check.def().permissions) {
                            observation.partial.insert(check.id().to_owned());
                        }
                        these.extend(rs);
                    }
                    Err(e) => tracing::warn!(check = check.id(), error = %e, "check could not be evaluated"),
                }
            }
            for rule in custom.iter().filter(|r| r.spec.evidence_kind == c.evidence.kind()) {
                match CompiledRule::compile(rule.spec.clone()).and_then(|r| r.evaluate(&c.evidence, &c.context, now)) {
                    Ok(rs) => {
                        checks.insert(rule.spec.id.clone());
                        // A custom check declares no permissions: any scope-wide refusal may blind it.
                        if c.context.permission_errors.iter().any(|d| d.resource.is_none()) {
                            observation.partial.insert(rule.spec.id.clone());
                        }
                        these.extend(rs);
                    }
                    Err(e) => tracing::warn!(check = %rule.spec.id, error = %e, "custom check could not be evaluated"),
                }
            }
            observation.checks.extend(checks.iter().cloned());
            let controls: BTreeSet<String> = checks
                .iter()
                .filter_map(|id| kushim_checks::find_check(id))
                .flat_map(|c| c.def().controls.iter().map(|s| (*s).to_owned()))
                .chain(custom.iter().filter(|r| checks.contains(&r.spec.id)).flat_map(|r| r.spec.controls.clone()))
                .collect();
            let new = evidence_for(job, integration, c, controls.into_iter().collect(), checks.into_iter().collect());
            match self.store.put(tenant, new, retention, now).await {
                Ok(_) => evidence_written += 1,
                Err(e) => return storage(e),
            }
            results.extend(these);
        }
        let summary = match self.record(job, &observation, &results, now).await {
            Ok(s) => s,
            Err(e) => return storage(e),
        };
        match self.breaker.on_success(tenant, &integration.id, now).await {
            Ok(Some(t)) => self.publish(vec![kushim_integrations::events::health_changed(&t)]).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not record the integration's success"),
        }
        if let Some(summary) = summary {
            let origin = FindingOrigin { tenant, integration: &integration.id, run_id: Some(job.run_id.as_str()) };
            self.publish(finding_events(&origin, &summary, &results, GONE_REASON)).await;
        }
        let mut counts = JobCounts { evidence: evidence_written, ..JobCounts::default() };
        for r in &results {
            match r.status {
                Status::Pass => counts.passed += 1,
                Status::Fail => counts.failed += 1,
                Status::Inconclusive(_) => counts.inconclusive += 1,
                Status::NotApplicable => counts.not_applicable += 1,
            }
        }
        self.finish(job, JobOutcome::Collected, counts, "collected", now).await
    }

    /// An empty observation of the job's scope (`<integration>/<slice>`), as of `now`.
    fn observation(&self, job: &Job, integration: &IntegrationId, now: DateTime<Utc>) -> Observation {
        let slice = match &job.kind {
            JobKind::Collect { slice, .. } => slice.as_str(),
            JobKind::Export { .. } => "",
        };
        Observation {
            scope: format!("{integration}/{slice}"),
            checks: BTreeSet::new(),
            partial: BTreeSet::new(),
            observed_at: now,
        }
    }

    /// Records an observation's results (nothing to do when it ran no check); returns the summary
    /// of what changed, including what the scope no longer reports.
    async fn record(
        &self,
        job: &Job,
        observation: &Observation,
        results: &[CheckResult],
        now: DateTime<Utc>,
    ) -> Result<Option<kushim_compliance::RecordSummary>, kushim_compliance::ComplianceError> {
        if observation.checks.is_empty() {
            return Ok(None);
        }
        let run = job.run_id.as_str();
        self.compliance.record_observation(&job.tenant_id, run, observation, results, now).await.map(Some)
    }

    /// Counts the job in its run (once), marks it done and releases its lock.
    async fn finish(
        &self,
        job: &Job,
        outcome: JobOutcome,
        counts: JobCounts,
        note: &str,
        now: DateTime<Utc>,
    ) -> Outcome {
        let tenant = &job.tenant_id;
        let mut run_completed = false;
        match self.runs.job_finished(tenant, &job.run_id, &job.idempotency_key, counts, now).await {
            Ok(finished) => {
                if let Some(run) = finished.completed {
                    run_completed = true;
                    self.publish(vec![kushim_integrations::events::run_completed(&run)]).await;
                    self.after_run(&run, now).await;
                }
            }
            Err(kushim_integrations::Error::NotFound) => {
                tracing::warn!(run = %job.run_id, "the job's run does not exist; not counted");
            }
            Err(e) => return storage(e),
        }
        let done = match JobMarker::new(job, outcome, note, counts, now).item(tenant, &job.idempotency_key) {
            Ok(item) => item,
            Err(e) => return storage(e),
        };
        if let Err(e) = self.table.put(done, None).await {
            return storage(e);
        }
        if let Err(e) = self.table.delete(&keys::job_lock(tenant, &job.idempotency_key), None).await {
            tracing::warn!(error = %e, "could not release a job lock; it expires with its lease");
        }
        Outcome::Done { counts, run_completed }
    }

    /// The tenant's daily upkeep, done when one of its runs completes (scheduled runs are daily):
    /// retire what each integration no longer covers (results of slices the run did not plan: a
    /// removed account, a region no longer enabled), sign the ledger head (a checkpoint a day),
    /// re-evaluate every control so the day has a snapshot even where nothing changed (and
    /// expired exceptions or evidence show), and send the evidence expiry reminders that are due.
    /// Failures are logged; the next run tries again.
    async fn after_run(&self, run: &Run, now: DateTime<Utc>) {
        let tenant = &run.tenant_id;
        for (integration, slices) in &run.slices {
            let keep: BTreeSet<String> = slices.iter().map(|s| format!("{integration}/{s}")).collect();
            match self.compliance.retire_scopes_except(tenant, &format!("{integration}/"), &keep, now).await {
                Ok(summary) => {
                    let origin = FindingOrigin { tenant, integration, run_id: Some(run.id.as_str()) };
                    self.publish(finding_events(&origin, &summary, &[], NOT_COVERED_REASON)).await;
                }
                Err(e) => tracing::warn!(error = %e, "could not retire what the integration no longer covers"),
            }
        }
        if let Err(e) = self.checkpoints.checkpoint(tenant, now).await {
            tracing::warn!(error = %e, "could not checkpoint the ledger after the run");
        }
        if let Err(e) = self.compliance.reevaluate_all(tenant, now).await {
            tracing::warn!(error = %e, "could not re-evaluate the tenant's controls after the run");
        }
        if let Some(bus) = &self.bus {
            match kushim_evidence::expiry_reminders(&self.store, bus.as_ref(), Some(tenant), now).await {
                Ok(s) if s.failed > 0 => tracing::warn!(failed = s.failed, "some expiry reminders were not sent"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not send evidence expiry reminders"),
            }
        }
    }

    async fn publish(&self, events: Vec<Event>) {
        let Some(bus) = &self.bus else { return };
        if events.is_empty() {
            return;
        }
        if let Err(e) = kushim_integrations::events::publish(bus.as_ref(), events).await {
            tracing::warn!(error = %e, "could not publish events");
        }
    }
}

/// Whether a refusal for the whole scope hid from a check part of what it needs (one of its
/// declared permissions was refused for every resource).
fn blind_to_scope(ctx: &EvidenceContext, permissions: &[&str]) -> bool {
    ctx.permission_errors
        .iter()
        .any(|d| d.resource.is_none() && permissions.iter().any(|p| p.eq_ignore_ascii_case(&d.action)))
}

/// One inconclusive result per check the slice feeds, for the slice's scope, naming the reason.
fn inconclusive_results(scope: &SliceScope, reason: &str) -> Vec<CheckResult> {
    kushim_checks::registry()
        .iter()
        .filter(|c| scope.evidence_kinds.contains(&c.def().evidence_kind))
        .map(|c| CheckResult {
            check_id: c.id().to_owned(),
            resource_id: scope.scope.resource_id(),
            status: Status::Inconclusive(InconclusiveReason::ApiError { message: reason.to_owned() }),
            reason: format!("Kushim could not collect this evidence: {reason}"),
        })
        .collect()
}

/// The stored form of collected evidence: the run, slice, scope and refused actions around the
/// normalized evidence, so one run's collection of a slice is one record however often the job is
/// delivered, and each run's is its own.
fn evidence_for(
    job: &Job,
    integration: &Integration,
    c: &Collected,
    controls: Vec<String>,
    checks: Vec<String>,
) -> NewEvidence {
    let slice = match &job.kind {
        JobKind::Collect { slice, .. } => slice.as_str(),
        _ => "",
    };
    let body = json!({
        "run_id": job.run_id,
        "integration_id": integration.id,
        "slice": slice,
        "scope": c.context.scope,
        "permission_errors": c.context.permission_errors,
        "evidence": c.evidence,
    });
    let (account, region, repo) = match &c.context.scope {
        Scope::Aws { account_id, region } => (Some(account_id.clone()), region.clone(), None),
        Scope::Github { org } => (None, None, Some(org.clone())),
        Scope::Okta { org } => (Some(org.clone()), None, None),
    };
    let mut api_call: String = c.api_calls.join(" ");
    if api_call.len() > 1000 {
        api_call.truncate(api_call.floor_char_boundary(1000));
    }
    let source = Source {
        connector: integration.kind().as_str().to_owned(),
        integration_id: Some(integration.id.to_string()),
        api_call: (!api_call.is_empty()).then_some(api_call),
        region,
        account,
        repo,
    };
    let at = c.context.collected_at;
    let mut new = NewEvidence::json(body, source, at);
    new.effective_from = Some(at);
    new.effective_to = Some(at);
    new.valid_until = Some(at + FRESHNESS);
    new.controls = controls;
    new.checks = checks;
    new
}

/// The SQS glue: runs each message of a batch through the worker, acknowledges what is done,
/// returns what should be retried after changing its visibility to the backoff (so a throttled
/// provider slows the connector down instead of failing it), and records each failure for the DLQ
/// listing. If every message fails the invocation errors, as Lambda expects.
pub async fn handle_batch(
    worker: &Worker,
    queue: &dyn Queue,
    queue_url: &str,
    event: SqsEvent,
) -> Result<SqsBatchResponse, kushim_lambda::sqs::BatchFailed> {
    drive_batch(event, CONCURRENCY, |msg| handle_message(worker, queue, queue_url, msg)).await
}

async fn handle_message(
    worker: &Worker,
    queue: &dyn Queue,
    queue_url: &str,
    msg: SqsMessage,
) -> Result<(), MessageError> {
    let body = msg.body.as_deref().unwrap_or_default();
    let job: Job = serde_json::from_str(body).map_err(|e| MessageError::Poison(format!("not a job envelope: {e}")))?;
    let receives: u32 = msg.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    let now = Utc::now();
    let outcome = worker.process(&job, receives, now).await;
    let (job_ref, receipt) = (&job, msg.receipt_handle.clone());
    let retry = |message: String, after: Duration| async move {
        if let Some(receipt) = receipt.as_deref()
            && let Err(e) = queue.change_visibility(queue_url, receipt, after).await
        {
            tracing::warn!(error = %e, "could not set the retry backoff; the queue's visibility timeout applies");
        }
        if let Err(e) =
            kushim_lambda::deadletter::record_failure(worker.table.as_ref(), job_ref, &message, receives).await
        {
            tracing::warn!(error = %e, "could not record the job's failure");
        }
        Err(MessageError::Retryable(message))
    };
    match outcome {
        Outcome::Done { counts, .. } => {
            tracing::info!(tenant = %job.tenant_id, job = %job.job_id, ?counts, "job done");
            Ok(())
        }
        Outcome::Duplicate => {
            tracing::info!(tenant = %job.tenant_id, job = %job.job_id, "job already done; acknowledged");
            Ok(())
        }
        Outcome::Failed { reason } => {
            tracing::warn!(tenant = %job.tenant_id, job = %job.job_id, reason = %reason, "job failed permanently");
            Ok(())
        }
        Outcome::Busy => Err(MessageError::Retryable("another delivery is working on this job".into())),
        Outcome::Deferred { until } => {
            let wait = (until - now).to_std().unwrap_or_default().max(Duration::from_secs(1));
            retry("the integration's circuit breaker is open".into(), wait).await
        }
        Outcome::Retry { message, after } => retry(message, after).await,
    }
}
