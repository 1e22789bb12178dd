//! The SQS Queue adapter. Queues are addressed by URL. Batch sends report per-entry outcomes,
//! receives ask for the receive count and send time so consumers can see redelivery.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};

use super::{OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome, validate_batch, validate_receive};
use crate::aws::classify;
use crate::{AdapterError, Result};

/// SQS-backed queues.
#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
}

impl SqsQueue {
    /// Wraps a client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The underlying client (for tests and setup).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

const RETRYABLE_ENTRY_CODES: &[&str] =
    &["InternalError", "ServiceUnavailable", "RequestThrottled", "ThrottlingException"];

#[async_trait]
impl Queue for SqsQueue {
    async fn send_batch(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<SendOutcome>> {
        validate_batch(&messages)?;
        let mut entries = Vec::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            let mut b = SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(&m.body);
            if let Some(d) = m.delay {
                b = b.delay_seconds(secs(d));
            }
            for (k, v) in &m.attributes {
                let attr = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(v)
                    .build()
                    .map_err(|e| AdapterError::Invalid(e.to_string()))?;
                b = b.message_attributes(k, attr);
            }
            entries.push(b.build().map_err(|e| AdapterError::Invalid(e.to_string()))?);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let mut outcomes: Vec<Option<SendOutcome>> = vec![None; messages.len()];
        for ok in out.successful {
            if let Ok(i) = ok.id.parse::<usize>() {
                outcomes[i] = Some(SendOutcome::Sent(ok.message_id));
            }
        }
        for failed in out.failed {
            if let Ok(i) = failed.id.parse::<usize>() {
                let retryable = !failed.sender_fault || RETRYABLE_ENTRY_CODES.contains(&failed.code.as_str());
                outcomes[i] = Some(SendOutcome::Failed { code: failed.code, retryable });
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(SendOutcome::Failed { code: "NoResult".into(), retryable: true }))
            .collect())
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>> {
        validate_receive(max, wait, visibility)?;
        let out = self
            .client
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(max as i32)
            .wait_time_seconds(secs(wait))
            .set_visibility_timeout(visibility.map(secs))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let sys = m.attributes.unwrap_or_default();
                let attributes: BTreeMap<String, String> = m
                    .message_attributes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                    .collect();
                ReceivedMessage {
                    message_id: m.message_id.unwrap_or_default(),
                    receipt_handle: m.receipt_handle.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receive_count: sys
                        .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(1),
                    sent_at_ms: sys
                        .get(&MessageSystemAttributeName::SentTimestamp)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0),
                    attributes,
                }
            })
            .collect())
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<()> {
        self.client
            .delete_message()
            .queue_url(queue)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn change_visibility(&self, queue: &str, receipt_handle: &str, timeout: Duration) -> Result<()> {
        validate_receive(1, Duration::ZERO, Some(timeout))?;
        self.client
            .change_message_visibility()
            .queue_url(queue)
            .receipt_handle(receipt_handle)
            .visibility_timeout(secs(timeout))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(())
    }

    async fn counts(&self, queue: &str) -> Result<QueueCounts> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |k: QueueAttributeName| attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueCounts {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}
