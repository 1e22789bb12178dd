//! The Queue port: SQS semantics. Delivery is at least once; a received message is invisible for
//! its visibility timeout and comes back if not deleted in time; each receive increments its
//! receive count, and a message received more than `max_receive_count` times moves to the
//! dead-letter queue instead of being delivered again.

pub mod embedded;
#[cfg(feature = "aws-queue")]
pub mod sqs;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AdapterError, Result};

/// Largest `SendMessageBatch` / `ReceiveMessage` count SQS accepts.
pub const MAX_BATCH: usize = 10;
/// Largest message body SQS accepts (256 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest delay SQS accepts.
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Longest visibility timeout SQS accepts (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// Longest long-poll wait SQS accepts.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// A message to send.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OutgoingMessage {
    /// Body (UTF-8).
    pub body: String,
    /// Delay before the message becomes visible.
    pub delay: Option<Duration>,
    /// String attributes.
    pub attributes: BTreeMap<String, String>,
}

impl OutgoingMessage {
    /// A message with just a body.
    pub fn new(body: impl Into<String>) -> Self {
        Self { body: body.into(), ..Self::default() }
    }
}

/// Per-entry result of a batch send, in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Accepted, with the message id.
    Sent(String),
    /// Refused; `retryable` says whether sending it again may work.
    Failed {
        /// Backend code.
        code: String,
        /// Whether a retry may succeed.
        retryable: bool,
    },
}

/// A received message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// Message id (stable across receives).
    pub message_id: String,
    /// Handle for delete / visibility change; valid for this receive only.
    pub receipt_handle: String,
    /// Body.
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
    /// When it was first sent (epoch milliseconds).
    pub sent_at_ms: i64,
    /// String attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Approximate counts, as SQS reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct QueueCounts {
    /// Ready to receive.
    pub visible: u64,
    /// Received and not yet deleted or returned.
    pub in_flight: u64,
    /// Sent with a delay that has not passed.
    pub delayed: u64,
}

pub(crate) fn validate_batch(messages: &[OutgoingMessage]) -> Result<()> {
    if messages.is_empty() || messages.len() > MAX_BATCH {
        return Err(AdapterError::Invalid(format!("a batch holds 1..={MAX_BATCH} messages")));
    }
    let total: usize = messages.iter().map(|m| m.body.len()).sum();
    if total > MAX_BODY_BYTES {
        return Err(AdapterError::Invalid("a batch may carry at most 256 KiB in total".into()));
    }
    for m in messages {
        if m.body.is_empty() {
            return Err(AdapterError::Invalid("message bodies must not be empty".into()));
        }
        if m.delay.is_some_and(|d| d > MAX_DELAY) {
            return Err(AdapterError::Invalid("delay is at most 15 minutes".into()));
        }
    }
    Ok(())
}

pub(crate) fn validate_receive(max: usize, wait: Duration, visibility: Option<Duration>) -> Result<()> {
    if max == 0 || max > MAX_BATCH {
        return Err(AdapterError::Invalid(format!("receive takes 1..={MAX_BATCH} messages")));
    }
    if wait > MAX_WAIT {
        return Err(AdapterError::Invalid("wait is at most 20 seconds".into()));
    }
    if visibility.is_some_and(|v| v > MAX_VISIBILITY) {
        return Err(AdapterError::Invalid("visibility timeout is at most 12 hours".into()));
    }
    Ok(())
}

/// The Queue port. `queue` is the queue's URL on AWS and its name on the embedded adapter; the
/// configuration hands functions the right one.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Sends up to [`MAX_BATCH`] messages; one outcome per message, in order.
    async fn send_batch(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<SendOutcome>>;
    /// Receives up to `max` messages, waiting up to `wait` for the first one.
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>>;
    /// Deletes a received message (acknowledges it).
    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<()>;
    /// Changes how long a received message stays invisible (0 returns it now).
    async fn change_visibility(&self, queue: &str, receipt_handle: &str, timeout: Duration) -> Result<()>;
    /// Approximate counts.
    async fn counts(&self, queue: &str) -> Result<QueueCounts>;

    /// Sends every message, in batches of ten, retrying entries that failed with a retryable code.
    /// Returns the message ids in order, or the first permanent failure.
    async fn send_all(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<String>> {
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(MAX_BATCH) {
            let mut pending: Vec<(usize, OutgoingMessage)> = chunk.iter().cloned().enumerate().collect();
            let mut chunk_ids: Vec<Option<String>> = vec![None; chunk.len()];
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let outcomes = self.send_batch(queue, pending.iter().map(|(_, m)| m.clone()).collect()).await?;
                let mut retry = Vec::new();
                for ((idx, msg), outcome) in pending.into_iter().zip(outcomes) {
                    match outcome {
                        SendOutcome::Sent(id) => chunk_ids[idx] = Some(id),
                        SendOutcome::Failed { retryable: true, .. } => retry.push((idx, msg)),
                        SendOutcome::Failed { code, retryable: false } => {
                            return Err(AdapterError::Invalid(format!("queue refused a message: {code}")));
                        }
                    }
                }
                pending = retry;
                attempt += 1;
                if !pending.is_empty() {
                    if attempt >= 8 {
                        return Err(AdapterError::Throttled(format!(
                            "{} messages still refused after 8 attempts",
                            pending.len()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
                }
            }
            ids.extend(chunk_ids.into_iter().flatten());
        }
        Ok(ids)
    }
}
