//! The embedded EventBus adapter: in-process fan-out for the local platform and tests. Subscribers
//! register an [`EventPattern`] and a handler; each published event is delivered, on its own Tokio
//! task, to every subscriber whose pattern matches the event's envelope, so publishers never wait on
//! subscribers. Like EventBridge, delivery order between events is not guaranteed. The last
//! [`RECENT_LIMIT`] published events are kept in memory for debugging.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::pattern::EventPattern;
use super::{Event, EventBus, PublishOutcome, validate_events};
use crate::{AdapterError, Result};

/// How many published events [`EmbeddedBus::recent`] remembers.
pub const RECENT_LIMIT: usize = 1_000;

/// A subscriber's handler: called once per matching event, on its own task.
pub type EventHandler = Arc<dyn Fn(DeliveredEvent) -> BoxFuture<'static, ()> + Send + Sync>;

/// An event as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredEvent {
    /// Event id assigned at publish time (a UUID).
    pub id: String,
    /// Who emitted it.
    pub source: String,
    /// What happened.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The payload (a JSON object).
    pub detail: Value,
    /// When it was published.
    pub time: DateTime<Utc>,
}

impl DeliveredEvent {
    /// The event in EventBridge's envelope shape, which patterns are matched against and which an
    /// EventBridge-triggered Lambda receives.
    pub fn envelope(&self) -> Value {
        json!({
            "version": "0",
            "id": self.id,
            "source": self.source,
            "detail-type": self.detail_type,
            "time": self.time.to_rfc3339_opts(SecondsFormat::Secs, true),
            "resources": [],
            "detail": self.detail,
        })
    }
}

struct Subscriber {
    name: String,
    pattern: EventPattern,
    handler: EventHandler,
}

#[derive(Default)]
struct Inner {
    subscribers: RwLock<Vec<Subscriber>>,
    recent: Mutex<VecDeque<DeliveredEvent>>,
}

/// In-process event bus. Clones share subscribers and the recent-events log.
#[derive(Clone, Default)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subscribers = self.subscriber_names();
        f.debug_struct("EmbeddedBus").field("subscribers", &subscribers).finish_non_exhaustive()
    }
}

impl EmbeddedBus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for events matching `pattern`. A subscriber with the same name is
    /// replaced, the way re-deploying an EventBridge rule replaces it.
    pub fn subscribe(&self, name: &str, pattern: EventPattern, handler: EventHandler) {
        let mut subscribers = self.inner.subscribers.write().unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|s| s.name != name);
        subscribers.push(Subscriber { name: name.to_owned(), pattern, handler });
    }

    /// Removes a subscriber; returns whether it existed.
    pub fn unsubscribe(&self, name: &str) -> bool {
        let mut subscribers = self.inner.subscribers.write().unwrap_or_else(PoisonError::into_inner);
        let before = subscribers.len();
        subscribers.retain(|s| s.name != name);
        subscribers.len() != before
    }

    /// Names of the current subscribers, in registration order.
    pub fn subscriber_names(&self) -> Vec<String> {
        let subscribers = self.inner.subscribers.read().unwrap_or_else(PoisonError::into_inner);
        subscribers.iter().map(|s| s.name.clone()).collect()
    }

    /// The last [`RECENT_LIMIT`] published events, oldest first.
    pub fn recent(&self) -> Vec<DeliveredEvent> {
        let recent = self.inner.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.iter().cloned().collect()
    }

    fn remember(&self, event: &DeliveredEvent) {
        let mut recent = self.inner.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_LIMIT {
            recent.pop_front();
        }
        recent.push_back(event.clone());
    }
}

#[async_trait]
impl EventBus for EmbeddedBus {
    async fn publish(&self, events: Vec<Event>) -> Result<Vec<PublishOutcome>> {
        validate_events(&events)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            AdapterError::Unavailable("the embedded bus needs a Tokio runtime to deliver events".into())
        })?;

        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            let delivered = DeliveredEvent {
                id: uuid::Uuid::new_v4().to_string(),
                source: event.source,
                detail_type: event.detail_type,
                detail: event.detail,
                time: Utc::now(),
            };
            self.remember(&delivered);

            // Pick the matching handlers under the lock, then deliver without holding it.
            let envelope = delivered.envelope();
            let targets: Vec<(String, EventHandler)> = {
                let subscribers = self.inner.subscribers.read().unwrap_or_else(PoisonError::into_inner);
                subscribers
                    .iter()
                    .filter(|s| s.pattern.matches(&envelope))
                    .map(|s| (s.name.clone(), Arc::clone(&s.handler)))
                    .collect()
            };
            for (subscriber, handler) in targets {
                let event = delivered.clone();
                let event_id = delivered.id.clone();
                tracing::debug!(%subscriber, %event_id, "delivering event");
                runtime.spawn(async move {
                    // A panicking handler must not take anything else down; report it and move on.
                    if AssertUnwindSafe(async move { handler(event).await }).catch_unwind().await.is_err() {
                        tracing::error!(%subscriber, %event_id, "event subscriber panicked");
                    }
                });
            }
            outcomes.push(PublishOutcome::Published(delivered.id));
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(n: usize) -> Event {
        Event { source: "kushim.test".into(), detail_type: "tick".into(), detail: json!({ "n": n }) }
    }

    #[tokio::test]
    async fn recent_keeps_the_last_thousand() {
        let bus = EmbeddedBus::new();
        for chunk in (0..RECENT_LIMIT + 5).collect::<Vec<_>>().chunks(10) {
            bus.publish(chunk.iter().map(|&n| event(n)).collect()).await.unwrap();
        }
        let recent = bus.recent();
        assert_eq!(recent.len(), RECENT_LIMIT);
        assert_eq!(recent[0].detail, json!({"n": 5}));
        assert_eq!(recent[RECENT_LIMIT - 1].detail, json!({ "n": RECENT_LIMIT + 4 }));
    }

    #[tokio::test]
    async fn resubscribing_replaces_and_panics_are_contained() {
        let bus = EmbeddedBus::new();
        let pattern = || EventPattern::parse(json!({"source": ["kushim.test"]})).unwrap();
        bus.subscribe("boom", pattern(), Arc::new(|_| async { panic!("boom") }.boxed()));
        bus.subscribe("s", pattern(), Arc::new(|_| async { unreachable!("replaced") }.boxed()));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        bus.subscribe(
            "s",
            pattern(),
            Arc::new(move |e: DeliveredEvent| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(e.id);
                }
                .boxed()
            }),
        );
        assert_eq!(bus.subscriber_names(), vec!["boom".to_owned(), "s".to_owned()]);
        // Two publishes: the panicking subscriber's first failure must not stop later deliveries.
        for n in 0..2 {
            let outcomes = bus.publish(vec![event(n)]).await.unwrap();
            let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
            assert_eq!(outcomes, vec![PublishOutcome::Published(got)]);
        }
        assert!(bus.unsubscribe("s"));
        assert!(!bus.unsubscribe("s"));
    }

    #[test]
    fn envelope_has_the_eventbridge_shape() {
        let e = DeliveredEvent {
            id: "1".into(),
            source: "s".into(),
            detail_type: "t".into(),
            detail: json!({"a": 1}),
            time: DateTime::parse_from_rfc3339("2025-01-02T03:04:05.678Z").unwrap().with_timezone(&Utc),
        };
        let env = e.envelope();
        assert_eq!(env["detail-type"], "t");
        assert_eq!(env["time"], "2025-01-02T03:04:05Z");
        assert_eq!(env["detail"]["a"], 1);
    }
}
