//! Provisioning the bundled template in moto, checked through the SDK: what `fresh_stack` creates
//! must be what `template.yaml` declares, and provisioning again must reuse it.

use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ProjectionType, TimeToLiveStatus};
use aws_sdk_s3::types::ObjectLockEnabled;
use aws_sdk_sqs::types::QueueAttributeName;
use kushim_adapters::blob::s3::S3Blobs;
use kushim_template::bundled;

#[tokio::test]
async fn table_has_the_template_keys_index_and_ttl() {
    // GIVEN a fresh stack
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    let def = bundled().table();
    let client = aws_sdk_dynamodb::Client::new(&sdk);

    // WHEN the table is described
    let table = client.describe_table().table_name(&stack.table_name).send().await.unwrap().table.unwrap();

    // THEN its keys are the template's
    let keys: Vec<(&str, &KeyType)> = table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type())).collect();
    let mut wanted = vec![(def.hash_key.as_str(), &KeyType::Hash)];
    wanted.extend(def.range_key.as_deref().map(|r| (r, &KeyType::Range)));
    assert_eq!(keys, wanted);
    // AND GSI1 exists with the template's keys and projection
    let gsi_def = def.gsis.iter().find(|g| g.name == "GSI1").expect("the template declares GSI1");
    let gsi = table.global_secondary_indexes().iter().find(|g| g.index_name() == Some("GSI1")).expect("GSI1 exists");
    let gsi_keys: Vec<&str> = gsi.key_schema().iter().map(|k| k.attribute_name()).collect();
    assert_eq!(gsi_keys, [gsi_def.hash_key.as_str(), gsi_def.range_key.as_deref().unwrap()]);
    assert_eq!(
        gsi.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::from(gsi_def.projection.as_str()))
    );
    // AND time to live is on for the template's attribute
    let ttl = client.describe_time_to_live().table_name(&stack.table_name).send().await.unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name.as_deref(), def.ttl_attribute.as_deref());
    assert_eq!(def.ttl_attribute.as_deref(), Some("expires_at"));
}

#[tokio::test]
async fn bucket_is_versioned_locked_and_private() {
    // GIVEN a fresh stack
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    let def = &bundled().buckets[0];
    let s3 = S3Blobs::client_from(&sdk);

    // THEN versioning is on: two puts of one key keep two versions. (Checked by behaviour because
    // moto 5.2 answers GetBucketVersioning with a `GetBucketVersioningResponse` root element, which
    // the SDK cannot parse.)
    for body in ["v1", "v2"] {
        s3.put_object()
            .bucket(&stack.bucket_name)
            .key("probe")
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let versions = s3.list_object_versions().bucket(&stack.bucket_name).prefix("probe").send().await.unwrap();
    let ids: Vec<&str> = versions.versions().iter().filter_map(|v| v.version_id()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|id| *id != "null"), "unversioned buckets report the version id null: {ids:?}");
    // AND object lock is on with the template's default retention
    let lock = s3.get_object_lock_configuration().bucket(&stack.bucket_name).send().await.unwrap();
    let lock = lock.object_lock_configuration().expect("an object lock configuration");
    assert_eq!(lock.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    let retention = lock.rule().and_then(|r| r.default_retention()).expect("a default retention rule");
    let (mode, days) = def.default_retention.clone().expect("the template sets a default retention");
    assert_eq!(retention.mode().map(|m| m.as_str()), Some(mode.as_str()));
    assert_eq!(retention.days(), Some(days as i32));
    // AND public access is blocked
    let block = s3.get_public_access_block().bucket(&stack.bucket_name).send().await.unwrap();
    let block = block.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            block.block_public_acls(),
            block.block_public_policy(),
            block.ignore_public_acls(),
            block.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    // AND the name is the prefix plus the logical id
    assert!(stack.bucket_name.ends_with("-evidencebucket"), "{}", stack.bucket_name);
    assert!(stack.bucket_name.len() <= 63);
}

#[tokio::test]
async fn jobs_queue_redrives_to_its_dead_letter_queue() {
    // GIVEN a fresh stack
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    let template = bundled();
    let jobs = template.queue("JobsQueue").expect("JobsQueue");
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    assert_eq!(stack.queue_urls.len(), template.queues.len(), "one URL per template queue");

    // WHEN the jobs queue's attributes are read
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&stack.queue_urls["JobsQueue"])
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();

    // THEN the visibility timeout and retention are the template's
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], jobs.visibility_timeout_seconds.to_string());
    assert_eq!(attrs[&QueueAttributeName::MessageRetentionPeriod], jobs.message_retention_seconds.to_string());
    // AND the redrive policy sends to the DLQ after 5 receives
    let policy: serde_json::Value = serde_json::from_str(&attrs[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(policy["maxReceiveCount"].as_u64(), Some(5));
    assert_eq!(jobs.max_receive_count, Some(5));
    let dlq_url = &stack.queue_urls[jobs.dead_letter_queue.as_deref().unwrap()];
    let dlq_arn = kushim_provision::queue_arn(&sqs, dlq_url).await.unwrap();
    assert_eq!(policy["deadLetterTargetArn"].as_str(), Some(dlq_arn.as_str()));
}

#[tokio::test]
async fn provisioning_twice_reuses_everything() {
    // GIVEN a fresh stack with an item, an object and a message in it
    let (sdk, stack) = kushim_testkit::fresh_stack().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    dynamodb
        .put_item()
        .table_name(&stack.table_name)
        .item("PK", AttributeValue::S("P".into()))
        .item("SK", AttributeValue::S("S".into()))
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    sqs.send_message().queue_url(&stack.queue_urls["JobsQueue"]).message_body("kept").send().await.unwrap();
    let prefix = stack.table_name.strip_suffix("-table").expect("table names end with the logical id");

    // WHEN the same template is provisioned again under the same prefix
    let again = kushim_provision::provision(&sdk, bundled(), prefix).await.unwrap();

    // THEN the same resources come back
    assert_eq!(again, stack);
    // AND what they held is still there
    let item = dynamodb
        .get_item()
        .table_name(&stack.table_name)
        .key("PK", AttributeValue::S("P".into()))
        .key("SK", AttributeValue::S("S".into()))
        .send()
        .await
        .unwrap();
    assert!(item.item.is_some(), "the table was recreated");
    let got = sqs.receive_message().queue_url(&stack.queue_urls["JobsQueue"]).send().await.unwrap();
    assert_eq!(got.messages().first().and_then(|m| m.body()), Some("kept"));
    // AND the event bus exists
    let bus = stack.event_bus_name.as_deref().expect("the template declares an event bus");
    let eventbridge = aws_sdk_eventbridge::Client::new(&sdk);
    assert_eq!(eventbridge.describe_event_bus().name(bus).send().await.unwrap().name(), Some(bus));
}
