//! `planner`: invoked by the template's EventBridge Scheduler schedules (and by the local
//! platform's scheduler, which reads the same schedules). For now it records each firing, so a
//! missed or doubled schedule is visible, and returns what it saw. Paging through due schedules
//! and fanning jobs out to the queue arrives with the daily-runs capability.

use std::sync::Arc;

use kushim_adapters::keys;
use kushim_adapters::table::{Table, Update};
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct State {
    table: Arc<dyn Table>,
}

impl State {
    /// Picks the ports this function uses.
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self { table: backends.table()? })
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
    /// Jobs sent to the queue.
    pub jobs_enqueued: usize,
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
}

/// Records one firing of a schedule.
pub async fn plan(state: &State, input: ScheduleInput, now_epoch: i64) -> Result<PlanSummary, PlanError> {
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
            Update::default().set("last_fired_at", now_epoch).add("firings", 1),
            None,
        )
        .await?;
    let firings = item.attrs.get("firings").and_then(serde_json::Value::as_i64).unwrap_or(1);
    tracing::info!(schedule = %input.schedule, firings, "schedule fired");
    Ok(PlanSummary { schedule: input.schedule, firings, jobs_enqueued: 0 })
}

/// The Lambda handler.
pub async fn handle(state: &State, event: LambdaEvent<serde_json::Value>) -> Result<PlanSummary, kushim_lambda::Error> {
    let input: ScheduleInput =
        serde_json::from_value(event.payload).map_err(|e| PlanError::InvalidInput(e.to_string()))?;
    Ok(plan(state, input, chrono::Utc::now().timestamp()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_lambda::backends::EmbeddedSet;

    #[tokio::test]
    async fn given_two_firings_then_the_count_and_time_are_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let set = EmbeddedSet::open(dir.path()).unwrap();
        let state = State::new(&Config::from_lookup([]).unwrap(), &set.backends()).unwrap();
        let input = || ScheduleInput { schedule: "daily".into() };
        assert_eq!(plan(&state, input(), 100).await.unwrap().firings, 1);
        assert_eq!(plan(&state, input(), 200).await.unwrap().firings, 2);
        let item = set.table.get(&keys::schedule_tick("daily")).await.unwrap().unwrap();
        assert_eq!(item.attrs["last_fired_at"], 200);
    }

    #[tokio::test]
    async fn unknown_input_fields_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let set = EmbeddedSet::open(dir.path()).unwrap();
        let state = State::new(&Config::from_lookup([]).unwrap(), &set.backends()).unwrap();
        let event = LambdaEvent::new(serde_json::json!({"schedule": "daily", "x": 1}), Default::default());
        assert!(handle(&state, event).await.is_err());
        assert!(matches!(
            plan(&state, ScheduleInput { schedule: "a#b".into() }, 1).await,
            Err(PlanError::InvalidInput(_))
        ));
    }
}
