//! The SQS batch driver every queue consumer uses. It runs a handler over each message of a batch
//! with bounded concurrency, one tracing span per message, and reports failures the way Lambda's
//! `ReportBatchItemFailures` expects: only the failed messages return to the queue (and reach the
//! DLQ after `maxReceiveCount` receives). A message the handler calls permanently bad is
//! acknowledged after being logged, because retrying cannot help; recording why is the handler's
//! job. If every message of a batch fails, the invocation itself errors so Lambda backs off.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use tracing::Instrument;

/// How a message's processing failed.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    /// May succeed later (throttling, a backend down): return the message to the queue.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Will never succeed: acknowledge it (the handler has recorded why).
    #[error("permanent: {0}")]
    Permanent(String),
    /// The message itself is unreadable (a poison message): return it to the queue so that after
    /// `maxReceiveCount` receives it rests in the DLQ, intact, for an operator to inspect.
    #[error("poison: {0}")]
    Poison(String),
}

/// Why a whole batch failed.
#[derive(Debug, thiserror::Error)]
#[error("all {count} messages of the batch failed; first error: {first}")]
pub struct BatchFailed {
    /// How many messages failed.
    pub count: usize,
    /// The first failure.
    pub first: String,
}

/// Runs `handler` over every message, at most `concurrency` at a time.
pub async fn drive_batch<F, Fut>(
    event: SqsEvent,
    concurrency: usize,
    handler: F,
) -> Result<SqsBatchResponse, BatchFailed>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), MessageError>>,
{
    let total = event.records.len();
    let results: Vec<(Option<String>, Result<(), MessageError>)> = futures::stream::iter(event.records)
        .map(|msg| {
            let id = msg.message_id.clone();
            let receive_count = msg.attributes.get("ApproximateReceiveCount").cloned().unwrap_or_default();
            let span = tracing::info_span!("message", message_id = id.as_deref().unwrap_or("-"), receive_count = %receive_count);
            let fut = handler(msg);
            async move { (id, fut.await) }.instrument(span)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut failures = Vec::new();
    let mut first = None;
    for (id, result) in results {
        match result {
            Ok(()) => {}
            Err(MessageError::Permanent(why)) => {
                tracing::warn!(message_id = id.as_deref().unwrap_or("-"), reason = %why, "message rejected permanently; acknowledged");
            }
            Err(MessageError::Poison(why)) => {
                tracing::error!(message_id = id.as_deref().unwrap_or("-"), reason = %why, "unreadable message; leaving it for the DLQ");
                first.get_or_insert(why);
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone().unwrap_or_default();
                failures.push(failure);
            }
            Err(MessageError::Retryable(why)) => {
                tracing::warn!(message_id = id.as_deref().unwrap_or("-"), reason = %why, "message failed; it will be retried");
                first.get_or_insert(why);
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.unwrap_or_default();
                failures.push(failure);
            }
        }
    }
    if total > 0 && failures.len() == total {
        return Err(BatchFailed { count: total, first: first.unwrap_or_default() });
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bodies: &[&str]) -> SqsEvent {
        let records = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let mut m = SqsMessage::default();
                m.message_id = Some(format!("m{i}"));
                m.body = Some((*b).to_owned());
                m
            })
            .collect();
        let mut e = SqsEvent::default();
        e.records = records;
        e
    }

    async fn judge(msg: SqsMessage) -> Result<(), MessageError> {
        match msg.body.as_deref() {
            Some("ok") => Ok(()),
            Some("bad") => Err(MessageError::Permanent("bad".into())),
            _ => Err(MessageError::Retryable("later".into())),
        }
    }

    #[tokio::test]
    async fn only_retryable_failures_are_reported() {
        let resp = drive_batch(event(&["ok", "later", "bad", "later"]), 2, judge).await.unwrap();
        let ids: Vec<_> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["m1", "m3"]);
    }

    #[tokio::test]
    async fn a_batch_where_everything_fails_errors() {
        let err = drive_batch(event(&["x", "y"]), 4, judge).await.unwrap_err();
        assert_eq!(err.count, 2);
    }

    #[tokio::test]
    async fn an_empty_batch_succeeds() {
        assert!(drive_batch(event(&[]), 4, judge).await.unwrap().batch_item_failures.is_empty());
    }
}
