//! A Queue port that passes every call to another and remembers what tests ask about: how many
//! `SendMessageBatch` calls were made and which visibility changes were asked for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kushim_adapters::Result;
use kushim_adapters::queue::{OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome};

/// Wraps a queue, counting batch sends and recording visibility changes.
pub struct RecordingQueue {
    inner: Arc<dyn Queue>,
    send_batch_calls: AtomicUsize,
    visibility_changes: Mutex<Vec<Duration>>,
}

impl RecordingQueue {
    /// Records the calls made to `inner`.
    pub fn new(inner: Arc<dyn Queue>) -> Self {
        Self { inner, send_batch_calls: AtomicUsize::new(0), visibility_changes: Mutex::new(Vec::new()) }
    }

    /// `SendMessageBatch` calls so far.
    pub fn send_batch_calls(&self) -> usize {
        self.send_batch_calls.load(Ordering::SeqCst)
    }

    /// The visibility timeouts asked for so far, in order.
    pub fn visibility_changes(&self) -> Vec<Duration> {
        self.visibility_changes.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Queue for RecordingQueue {
    async fn send_batch(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<SendOutcome>> {
        self.send_batch_calls.fetch_add(1, Ordering::SeqCst);
        self.inner.send_batch(queue, messages).await
    }
    async fn receive(
        &self,
        queue: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>> {
        self.inner.receive(queue, max, wait, visibility).await
    }
    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<()> {
        self.inner.delete(queue, receipt_handle).await
    }
    async fn change_visibility(&self, queue: &str, receipt_handle: &str, timeout: Duration) -> Result<()> {
        if let Ok(mut v) = self.visibility_changes.lock() {
            v.push(timeout);
        }
        self.inner.change_visibility(queue, receipt_handle, timeout).await
    }
    async fn counts(&self, queue: &str) -> Result<QueueCounts> {
        self.inner.counts(queue).await
    }
}
