//! `planner`: invoked every few minutes by the template's EventBridge Scheduler schedule (and by
//! the local platform's scheduler, which reads the same schedule). Each invocation records the
//! firing (so a missed or doubled schedule is visible), times out runs past their deadline
//! (publishing `run.completed` with status `timed_out`), then pages through the due-index of
//! integration schedules, creates one run per tenant with all its due integrations, enqueues the
//! runs' jobs on the connectors' queues in `SendMessageBatch` calls of ten, and advances the
//! schedules in the same transaction that records each run, so a second invocation (or a
//! concurrent one) never fires them again. [`run_once`] is the same pass without the firing
//! record, for the CLI.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Table, Update};
use kushim_integrations::{AwsSlicer, JobQueues, PlanReport, Planner, Slicer};
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct State {
    table: Arc<dyn Table>,
    planner: Planner,
}

impl State {
    /// Picks the ports this function uses: the table, the queue (`AWS_JOBS_QUEUE_URL` names the
    /// AWS connector's), and the event bus when one is configured. Slices come from
    /// [`AwsSlicer::default`] until another slicer is plugged in with [`State::with_slicer`].
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let queues = JobQueues { aws: config.aws_jobs_queue.clone() };
        if queues.aws.is_none() {
            tracing::warn!("AWS_JOBS_QUEUE_URL is not set: due AWS integrations will be skipped");
        }
        let planner = Planner::new(table.clone(), backends.queue()?, queues, Arc::new(AwsSlicer::default()))
            .with_bus(backends.bus.clone());
        Ok(Self { table, planner })
    }

    /// Uses `slicer` to split integrations into jobs (builder style).
    pub fn with_slicer(mut self, slicer: Arc<dyn Slicer>) -> Self {
        self.planner = self.planner.with_slicer(slicer);
        self
    }

    /// The planner.
    pub fn planner(&self) -> &Planner {
        &self.planner
    }
}

/// The schedule's input (the template's `Input`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    /// Which schedule fired (`daily`).
    pub schedule: String,
}

/// What the planner did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// The schedule.
    pub schedule: String,
    /// How many times it has fired, this time included.
    pub firings: i64,
    /// What the pass did.
    #[serde(flatten)]
    pub report: PlanReport,
}

/// Why the planner failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The input is not a schedule payload; retrying cannot help.
    #[error("invalid schedule input: {0}")]
    InvalidInput(String),
    /// Storage failed; the scheduler's retry policy tries again.
    #[error("storage error: {0}")]
    Storage(#[from] kushim_adapters::AdapterError),
    /// Planning or enqueueing failed; due schedules not yet advanced stay due for the next pass.
    #[error("planning failed: {0}")]
    Planning(#[from] kushim_integrations::Error),
}

/// One planning pass at `now`: time out stale runs, plan due schedules, enqueue their jobs.
pub async fn run_once(state: &State, now: DateTime<Utc>) -> Result<PlanReport, PlanError> {
    Ok(state.planner.run_once(now).await?)
}

/// Records one firing of a schedule, then runs a planning pass.
pub async fn plan(state: &State, input: ScheduleInput, now: DateTime<Utc>) -> Result<PlanSummary, PlanError> {
    if input.schedule.is_empty()
        || input.schedule.len() > 64
        || !input.schedule.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(PlanError::InvalidInput("schedule must be 1-64 letters, digits or '-'".into()));
    }
    let item = state
        .table
        .update(
            &keys::schedule_tick(&input.schedule),
            Update::default().set("last_fired_at", now.timestamp()).add("firings", 1),
            None,
        )
        .await?;
    let firings = item.attrs.get("firings").and_then(serde_json::Value::as_i64).unwrap_or(1);
    tracing::info!(schedule = %input.schedule, firings, "schedule fired");
    let report = run_once(state, now).await?;
    Ok(PlanSummary { schedule: input.schedule, firings, report })
}

/// The Lambda handler.
pub async fn handle(state: &State, event: LambdaEvent<serde_json::Value>) -> Result<PlanSummary, kushim_lambda::Error> {
    let input: ScheduleInput =
        serde_json::from_value(event.payload).map_err(|e| PlanError::InvalidInput(e.to_string()))?;
    Ok(plan(state, input, Utc::now()).await?)
}

#[cfg(test)]
mod tests;
