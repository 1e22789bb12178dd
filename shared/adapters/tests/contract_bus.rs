//! Contract suite for the EventBus port. Every assertion function runs twice: against the embedded
//! bus and against EventBridge in moto (on a fresh, uniquely named event bus). Delivery by pattern is
//! then checked per adapter: through a subscriber for the embedded bus, and through an EventBridge
//! rule with an SQS queue target in moto.

use std::collections::HashSet;
use std::time::Duration;

use futures::FutureExt;
use kushim_adapters::AdapterError;
use kushim_adapters::bus::embedded::{DeliveredEvent, EmbeddedBus};
use kushim_adapters::bus::eventbridge::EventBridgeBus;
use kushim_adapters::bus::pattern::EventPattern;
use kushim_adapters::bus::{Event, EventBus, PublishOutcome};
use serde_json::{Value, json};

fn event(source: &str, detail: Value) -> Event {
    Event { source: source.into(), detail_type: "check.finished".into(), detail }
}

fn published_ids(outcomes: &[PublishOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            PublishOutcome::Published(id) => id.clone(),
            other => panic!("expected Published, got {other:?}"),
        })
        .collect()
}

#[track_caller]
fn assert_invalid<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::Invalid(_))), "expected Invalid, got {result:?}");
}

/// The pattern both delivery tests use: failed checks from `kushim.test`.
fn failed_checks() -> Value {
    json!({"source": ["kushim.test"], "detail-type": ["check.finished"], "detail": {"state": ["FAILED"]}})
}

/// Two events the pattern matches and two it does not, in that interleaving.
fn mixed_events() -> Vec<Event> {
    vec![
        event("kushim.test", json!({"state": "FAILED", "n": 1})),
        event("kushim.test", json!({"state": "PASSED", "n": 2})),
        event("kushim.other", json!({"state": "FAILED", "n": 3})),
        event("kushim.test", json!({"state": "FAILED", "n": 4})),
    ]
}

// ---- Shared contract: each runs against both adapters. ----

async fn ten_events_accepted(bus: &dyn EventBus) {
    let events = (0..10).map(|n| event("kushim.test", json!({ "n": n }))).collect();
    let outcomes = bus.publish(events).await.unwrap();
    let ids = published_ids(&outcomes);
    assert_eq!(ids.len(), 10);
    assert!(ids.iter().all(|id| !id.is_empty()));
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10, "event ids must be unique");
}

async fn eleven_events_refused(bus: &dyn EventBus) {
    let events = (0..11).map(|n| event("kushim.test", json!({ "n": n }))).collect();
    assert_invalid(bus.publish(events).await);
    assert_invalid(bus.publish(Vec::new()).await);
}

async fn non_object_detail_refused(bus: &dyn EventBus) {
    for detail in [json!("text"), json!([1, 2]), json!(3), Value::Null] {
        assert_invalid(bus.publish(vec![event("kushim.test", detail)]).await);
    }
    // One bad event refuses the whole call.
    assert_invalid(bus.publish(vec![event("kushim.test", json!({})), event("kushim.test", json!("x"))]).await);
}

async fn missing_source_or_type_refused(bus: &dyn EventBus) {
    assert_invalid(bus.publish(vec![event("", json!({}))]).await);
    let mut untyped = event("kushim.test", json!({}));
    untyped.detail_type.clear();
    assert_invalid(bus.publish(vec![untyped]).await);
}

/// Runs each shared assertion against a fresh embedded bus and a fresh EventBridge bus in moto.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&kushim_adapters::bus::embedded::EmbeddedBus::new()).await;
                }
            )*
        }
        mod eventbridge {
            $(
                #[tokio::test]
                async fn $case() {
                    let (client, bus_name) = super::moto_event_bus().await;
                    super::$case(&kushim_adapters::bus::eventbridge::EventBridgeBus::new(client, bus_name)).await;
                }
            )*
        }
    };
}

contract!(ten_events_accepted, eleven_events_refused, non_object_detail_refused, missing_source_or_type_refused);

// ---- Embedded: delivery to subscribers by pattern. ----

#[tokio::test]
async fn embedded_subscriber_receives_matching_events_only() {
    let bus = EmbeddedBus::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeliveredEvent>();
    bus.subscribe(
        "failed-checks",
        EventPattern::parse(failed_checks()).unwrap(),
        std::sync::Arc::new(move |delivered| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(delivered);
            }
            .boxed()
        }),
    );

    let ids = published_ids(&bus.publish(mixed_events()).await.unwrap());
    let mut received = Vec::new();
    for _ in 0..2 {
        let delivered = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("delivery").unwrap();
        received.push(delivered);
    }
    // Nothing else arrives.
    assert!(tokio::time::timeout(Duration::from_millis(300), rx.recv()).await.is_err(), "unexpected delivery");

    received.sort_by_key(|d| d.detail["n"].as_i64());
    assert_eq!(received.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![ids[0].clone(), ids[3].clone()]);
    assert_eq!(received[0].source, "kushim.test");
    assert_eq!(received[0].detail_type, "check.finished");
    assert_eq!(received[0].detail, json!({"state": "FAILED", "n": 1}));
    // All four are in the debugging log, delivered or not.
    assert_eq!(bus.recent().iter().map(|d| d.id.clone()).collect::<Vec<_>>(), ids);
}

// ---- EventBridge: delivery through a rule to an SQS queue, in moto. ----

/// A fresh, uniquely named event bus in moto.
async fn moto_event_bus() -> (aws_sdk_eventbridge::Client, String) {
    let moto = kushim_testkit::moto().await;
    let client = aws_sdk_eventbridge::Client::new(&kushim_testkit::sdk_config(moto).await);
    let name = format!("kushim-test-{}", uuid::Uuid::new_v4());
    client.create_event_bus().name(&name).send().await.expect("create event bus");
    (client, name)
}

#[tokio::test]
async fn eventbridge_rule_delivers_matching_events_only() {
    let moto = kushim_testkit::moto().await;
    let config = kushim_testkit::sdk_config(moto).await;
    let (events, bus_name) = moto_event_bus().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let suffix = uuid::Uuid::new_v4();

    let queue_url = sqs.create_queue().queue_name(format!("kushim-test-{suffix}")).send().await.unwrap();
    let queue_url = queue_url.queue_url().unwrap().to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let queue_arn = attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();

    let rule = format!("kushim-test-{suffix}");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_name)
        .event_pattern(failed_checks().to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_name)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("queue").arn(&queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();

    let bus = EventBridgeBus::new(events, bus_name);
    let ids = published_ids(&bus.publish(mixed_events()).await.unwrap());

    // Collect what reaches the queue until two messages arrived, then make sure nothing else does.
    let mut bodies: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while bodies.len() < 2 && tokio::time::Instant::now() < deadline {
        let received =
            sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).wait_time_seconds(1).send().await;
        for message in received.unwrap().messages() {
            bodies.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    let extra =
        sqs.receive_message().queue_url(&queue_url).max_number_of_messages(10).wait_time_seconds(1).send().await;
    assert!(extra.unwrap().messages().is_empty(), "a non-matching event reached the queue");

    bodies.sort_by_key(|b| b["detail"]["n"].as_i64());
    assert_eq!(bodies.len(), 2, "expected the two matching events, got {bodies:?}");
    assert_eq!(bodies[0]["id"], ids[0].as_str());
    assert_eq!(bodies[1]["id"], ids[3].as_str());
    assert_eq!(bodies[0]["source"], "kushim.test");
    assert_eq!(bodies[0]["detail-type"], "check.finished");
    assert_eq!(bodies[0]["detail"], json!({"state": "FAILED", "n": 1}));
}
