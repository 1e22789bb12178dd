//! `kushim run --tenant T`: one tenant's collection, now, in the foreground. It plans a run of the
//! tenant's active integrations exactly as `POST /v1/runs` does (same slices, same idempotency
//! keys, same per-integration lock), then works through the jobs in this process with the
//! connectors' own job engine — a progress bar while it goes, transient failures retried after a
//! short backoff — and prints a summary: the run's counters and the controls now failing. The
//! command exits with 3 when any check failed (as Prowler does), so scripts can gate on it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use kushim_compliance::{Compliance, ControlFilter};
use kushim_connector::{Outcome, Worker};
use kushim_domain::{IntegrationId, Job, TenantId};
use kushim_engine::ControlStatus;
use kushim_integrations::{AwsSlicer, IntegrationStore, LockPolicy, Run, RunOptions, Runs, Trigger, plan_run};

use crate::platform::Opened;

/// Exit code when at least one check failed.
pub const EXIT_FAILED_CHECKS: i32 = 3;
/// Jobs worked on at once.
const CONCURRENCY: usize = 4;
/// Attempts per job before it is left failed for this run.
const ATTEMPTS: u32 = 5;
/// Longest wait between two attempts in the foreground.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// What a foreground run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run as stored at the end.
    pub run: Run,
    /// Jobs that could not finish in this process (left to a later run).
    pub unfinished: usize,
    /// Controls failing after the run: id, title, failed results.
    pub failing_controls: Vec<(String, String, usize)>,
}

impl RunSummary {
    /// The process exit code: 3 when any check failed, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.run.counters.failed > 0 { EXIT_FAILED_CHECKS } else { 0 }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs `tenant`'s collection (all its active integrations, or only `only`) in this process.
pub async fn run_tenant(
    opened: &Opened,
    tenant: &TenantId,
    only: Option<Vec<IntegrationId>>,
    show_progress: bool,
) -> Result<RunSummary, String> {
    let b = &opened.backends;
    let (table, blobs, secrets) = (b.table().map_err(err)?, b.blobs().map_err(err)?, b.secrets().map_err(err)?);
    let store = IntegrationStore::new(table.clone(), secrets.clone());
    let integrations: Vec<_> = store
        .list(tenant)
        .await
        .map_err(err)?
        .into_iter()
        .filter(|i| i.is_active())
        .filter(|i| only.as_ref().is_none_or(|ids| ids.contains(&i.id)))
        .collect();
    if integrations.is_empty() {
        return Err(format!("tenant {tenant} has no active integration to collect"));
    }
    let now = Utc::now();
    let planned = plan_run(tenant, &integrations, Trigger::Manual, now, &AwsSlicer::default(), &RunOptions::default())
        .map_err(err)?;
    let runs = Runs::new(table.clone());
    runs.start(&planned.run, LockPolicy::Exclusive).await.map_err(err)?;

    let collector = connector_aws::AwsCollector::new(crate::registry::CONNECTOR_SDK.get().cloned(), store);
    let worker = Worker::new(table.clone(), blobs, secrets, b.bus().ok(), Arc::new(collector));
    let bar = if show_progress { ProgressBar::new(planned.jobs.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} jobs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let unfinished: usize = futures::stream::iter(planned.jobs.iter())
        .map(|job| {
            let (worker, bar) = (&worker, &bar);
            async move {
                let done = run_job(worker, job).await;
                bar.inc(1);
                if let kushim_domain::JobKind::Collect { slice, .. } = &job.kind {
                    bar.set_message(slice.clone());
                }
                usize::from(!done)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .fold(0, |acc, n| async move { acc + n })
        .await;
    bar.finish_and_clear();

    let run = runs.get(tenant, &planned.run.id).await.map_err(err)?;
    let compliance = Compliance::new(table);
    let filter = ControlFilter { status: Some(ControlStatus::Failing), ..ControlFilter::default() };
    let failing_controls = compliance
        .list_controls(tenant, &filter, Utc::now())
        .await
        .map_err(err)?
        .into_iter()
        .map(|(c, e)| (c.id, c.title, e.failed))
        .collect();
    Ok(RunSummary { run, unfinished, failing_controls })
}

/// Works one job to an end; `false` when it could not finish here (breaker open, or still
/// failing after [`ATTEMPTS`]).
async fn run_job(worker: &Worker, job: &Job) -> bool {
    for attempt in 1..=ATTEMPTS {
        match worker.process(job, attempt, Utc::now()).await {
            Outcome::Done { .. } | Outcome::Duplicate | Outcome::Failed { .. } => return true,
            Outcome::Deferred { .. } => return false,
            Outcome::Busy => tokio::time::sleep(Duration::from_secs(1)).await,
            Outcome::Retry { after, .. } => tokio::time::sleep(after.min(MAX_WAIT)).await,
        }
    }
    false
}

/// The summary table.
pub fn render(summary: &RunSummary) -> String {
    let c = &summary.run.counters;
    let mut out = format!(
        "Run {} ({:?}): {}/{} jobs, {} evidence records\n\n  {:<16} {:>6}\n  {:<16} {:>6}\n  {:<16} {:>6}\n  {:<16} {:>6}\n  {:<16} {:>6}\n",
        summary.run.id,
        summary.run.status,
        c.finished,
        c.total,
        c.evidence,
        "passed",
        c.passed,
        "failed",
        c.failed,
        "inconclusive",
        c.inconclusive,
        "not applicable",
        c.not_applicable,
        "errored jobs",
        c.errored,
    );
    if summary.unfinished > 0 {
        out.push_str(&format!(
            "\n{} jobs could not finish now (provider unavailable or breaker open); a later run retries them.\n",
            summary.unfinished
        ));
    }
    if summary.failing_controls.is_empty() {
        out.push_str("\nNo control is failing.\n");
    } else {
        out.push_str(&format!("\nFailing controls ({}):\n", summary.failing_controls.len()));
        for (id, title, failed) in &summary.failing_controls {
            out.push_str(&format!("  {id:<12} {failed:>4} failed  {title}\n"));
        }
    }
    out
}
