//! Creates the template's table, buckets, queues and event bus in an AWS account or in the moto
//! emulator, from the template's own resource definitions, so the tests and the local platform
//! cannot drift from `template.yaml`.
//!
//! Every resource is named `{prefix}-{logical id in lowercase}` (queues add `.fifo` when FIFO), and
//! provisioning is idempotent: running it again with the same prefix reuses what exists. The S3
//! client uses path-style addressing when the configuration has a custom endpoint, as emulators
//! need.
//!
//! What is created, per template resource:
//! - `AWS::DynamoDB::Table`: attributes, key schema, global secondary indexes with their
//!   projections, on-demand billing; then time to live and point-in-time recovery ([`create_table`]);
//! - every `AWS::S3::Bucket`: Object Lock, versioning, the public access block, SSE-KMS default
//!   encryption (with the AWS-managed key) and the default retention rule ([`create_bucket`]);
//!   lifecycle rules are left to the real deployment;
//! - `AWS::SQS::Queue`: dead-letter queues first, then every queue with its timings and redrive
//!   policy ([`create_queues`]);
//! - `AWS::Events::EventBus` ([`create_event_bus`]).
//!
//! Encryption keys, IAM, functions and APIs are left to the real deployment (`sam deploy`).

mod bucket;
mod bus;
mod error;
pub mod names;
mod queues;
mod table;

use std::collections::BTreeMap;

use kushim_template::Template;

pub use bucket::create_bucket;
pub use bus::create_event_bus;
pub use error::ProvisionError;
pub use queues::{create_queue, create_queues, queue_arn};
pub use table::create_table;

/// The names and URLs of what [`provision`] created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The DynamoDB table.
    pub table_name: String,
    /// The template's first S3 bucket (the evidence bucket).
    pub bucket_name: String,
    /// Every S3 bucket by the template's logical id (e.g. `EvidenceBucket`, `UploadStagingBucket`).
    pub bucket_names: BTreeMap<String, String>,
    /// Queue URLs by the template's logical id (e.g. `JobsQueue`).
    pub queue_urls: BTreeMap<String, String>,
    /// The event bus, when the template declares one.
    pub event_bus_name: Option<String>,
}

/// The one resource of a kind that [`Provisioned`] names, or an error saying how many there are.
fn single<'t, T>(items: &'t [T], kind: &str, id: impl Fn(&T) -> &str) -> Result<Option<&'t T>, ProvisionError> {
    match items {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(ProvisionError::Unsupported {
            resource: format!("{kind} {}", many.iter().map(&id).collect::<Vec<_>>().join(", ")),
            message: format!("the template declares {} of them; provisioning supports one", many.len()),
        }),
    }
}

/// Creates the template's table, buckets, queues and event bus under `prefix`.
///
/// Idempotent: existing resources with these names are reused. Names are
/// `{prefix}-{logical id in lowercase}`; bucket names must be valid S3 names (lowercase,
/// ≤ 63 characters), so keep the prefix short and lowercase.
pub async fn provision(
    sdk: &aws_config::SdkConfig,
    template: &Template,
    prefix: &str,
) -> Result<Provisioned, ProvisionError> {
    let table = single(&template.tables, "table", |t| &t.logical_id)?.ok_or_else(|| ProvisionError::Unsupported {
        resource: "table".into(),
        message: "the template declares no AWS::DynamoDB::Table".into(),
    })?;
    let first_bucket = template.buckets.first().ok_or_else(|| ProvisionError::Unsupported {
        resource: "bucket".into(),
        message: "the template declares no AWS::S3::Bucket".into(),
    })?;
    let bus = single(&template.event_buses, "event bus", String::as_str)?;

    // Names first, so a bad prefix fails before anything is created.
    let table_name = names::table_name(prefix, &table.logical_id)?;
    let mut bucket_names = BTreeMap::new();
    for bucket in &template.buckets {
        bucket_names.insert(bucket.logical_id.clone(), names::bucket_name(prefix, &bucket.logical_id)?);
    }
    let bucket_name = bucket_names[&first_bucket.logical_id].clone();
    let event_bus_name = bus.map(|b| names::event_bus_name(prefix, b)).transpose()?;

    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let s3 = kushim_adapters::blob::s3::S3Blobs::client_from(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let eventbridge = aws_sdk_eventbridge::Client::new(sdk);

    let (_, _, queue_urls, _) = tokio::try_join!(
        create_table(&dynamodb, table, &table_name),
        async {
            for bucket in &template.buckets {
                create_bucket(&s3, bucket, &bucket_names[&bucket.logical_id]).await?;
            }
            Ok(())
        },
        create_queues(&sqs, template, prefix),
        async {
            match &event_bus_name {
                Some(name) => create_event_bus(&eventbridge, name).await,
                None => Ok(()),
            }
        },
    )?;
    Ok(Provisioned { table_name, bucket_name, bucket_names, queue_urls, event_bus_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_one_of_a_kind_is_refused_with_their_ids() {
        let ids = ["A".to_owned(), "B".to_owned()];
        match single(&ids, "event bus", String::as_str) {
            Err(ProvisionError::Unsupported { resource, .. }) => assert_eq!(resource, "event bus A, B"),
            other => panic!("expected Unsupported, got {other:?}"),
        }
        assert_eq!(single(&ids[..1], "event bus", String::as_str).unwrap(), Some(&ids[0]));
        assert_eq!(single::<String>(&[], "event bus", String::as_str).unwrap(), None);
    }

    #[tokio::test]
    async fn a_bad_prefix_fails_before_any_call() {
        // No endpoint answers on this port: an attempted call would fail with `Call`, not `InvalidName`.
        let sdk = aws_config::SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let err = provision(&sdk, kushim_template::bundled(), "Not_A_Bucket_Prefix").await.unwrap_err();
        assert!(matches!(err, ProvisionError::InvalidName { .. }), "{err}");
    }
}
