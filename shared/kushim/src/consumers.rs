//! Queue consumers that behave like the Lambda SQS event source: they long-poll the function's
//! queue, hand it batches of up to `BatchSize` messages as an `SqsEvent`, delete the messages the
//! function did not report in `batchItemFailures`, and leave the others (or the whole batch when
//! the invocation fails or times out) to reappear after their visibility timeout — and to move to
//! the dead-letter queue after `maxReceiveCount` receives.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use kushim_adapters::queue::{Queue, ReceivedMessage};
use lambda_runtime::{Context, LambdaEvent};
use tokio::sync::watch;

use crate::registry::SqsHandler;

/// One function's subscription to one queue.
#[derive(Clone)]
pub struct Consumer {
    /// The function's binary name (for logs).
    pub binary: String,
    /// The queue as the Queue port addresses it (name or URL).
    pub queue: String,
    /// The queue's ARN as the event reports it.
    pub queue_arn: String,
    /// Messages per batch (1..=10).
    pub batch_size: usize,
    /// The function's timeout.
    pub timeout: Duration,
    /// The function.
    pub handler: SqsHandler,
}

/// Builds the event Lambda would send for these messages.
pub fn to_event(messages: &[ReceivedMessage], queue_arn: &str) -> SqsEvent {
    let records = messages
        .iter()
        .map(|m| {
            let mut r = SqsMessage::default();
            r.message_id = Some(m.message_id.clone());
            r.receipt_handle = Some(m.receipt_handle.clone());
            r.body = Some(m.body.clone());
            r.md5_of_body = Some(format!("{:x}", md5_like(&m.body)));
            r.event_source = Some("aws:sqs".into());
            r.event_source_arn = Some(queue_arn.to_owned());
            r.aws_region = Some("local".into());
            r.attributes.insert("ApproximateReceiveCount".into(), m.receive_count.to_string());
            r.attributes.insert("SentTimestamp".into(), m.sent_at_ms.to_string());
            r.attributes.insert("SenderId".into(), "local".into());
            r
        })
        .collect();
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// A stable 64-bit digest for the event's `md5OfBody` field (the field is informational; Lambda
/// functions do not verify it).
fn md5_like(body: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// Handles one received batch: invokes the function and acknowledges what succeeded. Returns how
/// many messages were acknowledged.
pub async fn deliver(consumer: &Consumer, queue: &dyn Queue, messages: Vec<ReceivedMessage>) -> usize {
    let event = to_event(&messages, &consumer.queue_arn);
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let invocation = (consumer.handler)(LambdaEvent::new(event, context));
    let failed: HashSet<String> = match tokio::time::timeout(consumer.timeout, invocation).await {
        Ok(Ok(resp)) => resp.batch_item_failures.into_iter().map(|f| f.item_identifier).collect(),
        Ok(Err(e)) => {
            tracing::warn!(function = %consumer.binary, error = %e, "invocation failed; the whole batch will be retried");
            return 0;
        }
        Err(_) => {
            tracing::warn!(function = %consumer.binary, "invocation timed out; the whole batch will be retried");
            return 0;
        }
    };
    let mut acked = 0;
    for m in messages.iter().filter(|m| !failed.contains(&m.message_id)) {
        match queue.delete(&consumer.queue, &m.receipt_handle).await {
            Ok(()) => acked += 1,
            Err(e) => {
                tracing::warn!(function = %consumer.binary, code = e.code(), "could not delete a processed message")
            }
        }
    }
    acked
}

/// Polls and delivers until `shutdown` turns true. A batch in progress always finishes first, so
/// stopping never abandons work half-done; unacknowledged messages stay in the queue.
pub async fn run(consumer: Consumer, queue: Arc<dyn Queue>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = tokio::select! {
            r = queue.receive(&consumer.queue, consumer.batch_size.clamp(1, 10), Duration::from_secs(1), None) => r,
            _ = shutdown.changed() => return,
        };
        match received {
            Ok(messages) if messages.is_empty() => {}
            Ok(messages) => {
                backoff = Duration::from_millis(200);
                deliver(&consumer, queue.as_ref(), messages).await;
            }
            Err(e) => {
                tracing::warn!(function = %consumer.binary, code = e.code(), "receive failed; backing off");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}
