//! The EventBus port: EventBridge `PutEvents` semantics. Events carry a source, a detail type and a
//! JSON detail; at most ten per call, each accepted or refused on its own. The embedded adapter fans
//! events out in-process to subscribers whose EventBridge-style pattern matches.

pub mod embedded;
#[cfg(feature = "aws-bus")]
pub mod eventbridge;
pub mod pattern;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{AdapterError, Result};

/// Largest `PutEvents` call EventBridge accepts.
pub const MAX_EVENTS: usize = 10;
/// Largest total `PutEvents` payload EventBridge accepts.
pub const MAX_EVENTS_BYTES: usize = 256 * 1024;

/// An event to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Who emits it, e.g. `kushim.runs`.
    pub source: String,
    /// What happened, e.g. `run.completed`.
    pub detail_type: String,
    /// The payload (a JSON object).
    pub detail: Value,
}

/// Per-event result, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    /// Accepted with this event id.
    Published(String),
    /// Refused.
    Failed {
        /// Backend code.
        code: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
}

pub(crate) fn validate_events(events: &[Event]) -> Result<()> {
    if events.is_empty() || events.len() > MAX_EVENTS {
        return Err(AdapterError::Invalid(format!("a PutEvents call holds 1..={MAX_EVENTS} events")));
    }
    let mut total = 0;
    for e in events {
        if e.source.is_empty() || e.detail_type.is_empty() {
            return Err(AdapterError::Invalid("events need a source and a detail type".into()));
        }
        if !e.detail.is_object() {
            return Err(AdapterError::Invalid("event detail must be a JSON object".into()));
        }
        total += e.source.len() + e.detail_type.len() + e.detail.to_string().len();
    }
    if total > MAX_EVENTS_BYTES {
        return Err(AdapterError::Invalid("events larger than 256 KiB in total".into()));
    }
    Ok(())
}

/// The EventBus port.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes up to [`MAX_EVENTS`] events; one outcome per event.
    async fn publish(&self, events: Vec<Event>) -> Result<Vec<PublishOutcome>>;
}
