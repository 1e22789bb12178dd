//! Helpers the table, queue and blob contract suites share: each AWS adapter on a fresh moto stack
//! provisioned from the template (so every test has its own table, bucket and queues), and the
//! error matchers the assertions use.
//!
//! Each suite uses only some of these, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use kushim_adapters::AdapterError;
use kushim_adapters::aws::sdk::{dynamodb, sqs};
use kushim_adapters::blob::s3::S3Blobs;
use kushim_adapters::queue::sqs::SqsQueue;
use kushim_adapters::table::dynamo::DynamoTable;

/// A DynamoDB table adapter on its own freshly provisioned moto table.
pub async fn dynamo_table() -> DynamoTable {
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    DynamoTable::new(dynamodb::Client::new(&sdk), stack.table_name)
}

/// An S3 blob adapter on its own freshly provisioned, object-lock-enabled moto bucket.
pub async fn s3_blobs() -> S3Blobs {
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    S3Blobs::new(S3Blobs::client_from(&sdk), stack.bucket_name)
}

/// An SQS adapter, its client, and the queue URLs of a freshly provisioned moto stack by logical id.
pub async fn sqs_stack() -> (SqsQueue, sqs::Client, std::collections::BTreeMap<String, String>) {
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    let client = sqs::Client::new(&sdk);
    (SqsQueue::new(client.clone()), client, stack.queue_urls)
}

#[track_caller]
pub fn assert_condition_failed<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::ConditionFailed)), "expected ConditionFailed, got {result:?}");
}

#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::Invalid(_))), "expected Invalid, got {result:?}");
}

#[track_caller]
pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, AdapterError>) {
    assert!(matches!(result, Err(AdapterError::NotFound(_))), "expected NotFound, got {result:?}");
}

/// Polls `check` until it returns `Some`, for at most `timeout`; panics with `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
