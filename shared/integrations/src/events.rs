//! The events this part of Kushim publishes on the bus, built in one place so the planner, the
//! connectors and notifications agree on their shape: `run.completed` (source `kushim.runs`) and
//! `integration.health_changed` (source `kushim.integrations`).

use std::time::Duration;

use kushim_adapters::bus::{Event, EventBus, MAX_EVENTS, PublishOutcome};
use serde_json::json;

use crate::health::HealthTransition;
use crate::runs::Run;
use crate::{Error, Result};

/// Source of run events.
pub const RUNS_SOURCE: &str = "kushim.runs";
/// Source of integration events.
pub const INTEGRATIONS_SOURCE: &str = "kushim.integrations";
/// Detail type of a run that completed or timed out.
pub const RUN_COMPLETED: &str = "run.completed";
/// Detail type of an integration whose health changed.
pub const HEALTH_CHANGED: &str = "integration.health_changed";

/// `run.completed` for a run that completed or timed out (its `status` says which).
pub fn run_completed(run: &Run) -> Event {
    Event {
        source: RUNS_SOURCE.into(),
        detail_type: RUN_COMPLETED.into(),
        detail: json!({
            "tenant_id": run.tenant_id,
            "run_id": run.id,
            "trigger": run.trigger,
            "status": run.status,
            "integrations": run.integrations,
            "created_at": run.created_at,
            "completed_at": run.completed_at,
            "counters": run.counters,
        }),
    }
}

/// `integration.health_changed` for a transition.
pub fn health_changed(t: &HealthTransition) -> Event {
    Event {
        source: INTEGRATIONS_SOURCE.into(),
        detail_type: HEALTH_CHANGED.into(),
        detail: serde_json::to_value(t).unwrap_or_else(|_| json!({})),
    }
}

/// Publishes events in calls of at most ten, retrying refused entries that may succeed later.
pub async fn publish(bus: &dyn EventBus, events: Vec<Event>) -> Result<()> {
    for chunk in events.chunks(MAX_EVENTS) {
        let mut pending = chunk.to_vec();
        for attempt in 0..6u32 {
            let outcomes = bus.publish(pending.clone()).await?;
            let mut retry = Vec::new();
            for (event, outcome) in pending.into_iter().zip(outcomes) {
                match outcome {
                    PublishOutcome::Published(_) => {}
                    PublishOutcome::Failed { retryable: true, .. } => retry.push(event),
                    PublishOutcome::Failed { code, retryable: false } => {
                        return Err(Error::Invalid(format!("the bus refused an event: {code}")));
                    }
                }
            }
            pending = retry;
            if pending.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        }
        if !pending.is_empty() {
            return Err(Error::Contention("event bus"));
        }
    }
    Ok(())
}
