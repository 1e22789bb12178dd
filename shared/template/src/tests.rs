//! Checks that the bundled template says what Kushim relies on, and that malformed templates are
//! refused with errors that name the resource and property at fault.

use std::collections::BTreeMap;

use serde_json::json;

use crate::{BucketDef, EnvValue, GsiDef, QueueDef, Route, Schedule, SqsSource, TemplateError, bundled, parse};

#[test]
fn bundled_template_parses() {
    let template = bundled();
    assert_eq!(template.raw["Transform"], "AWS::Serverless-2016-10-31");
    assert_eq!(template.functions.len(), 21);
    assert_eq!(template.event_buses, ["EventBus"]);
    assert_eq!(template.parameter_defaults["Stage"], "prod");
    assert_eq!(template.parameter_defaults["EvidenceRetentionDays"], 365);
}

#[test]
fn one_table_with_pk_sk_gsi1_and_ttl() {
    let template = bundled();
    assert_eq!(template.tables.len(), 1);
    let table = template.table();
    assert_eq!(table.logical_id, "Table");
    assert_eq!(table.hash_key, "PK");
    assert_eq!(table.range_key.as_deref(), Some("SK"));
    let attributes: Vec<(&str, &str)> = table.attributes.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    assert_eq!(attributes, [("PK", "S"), ("SK", "S"), ("GSI1PK", "S"), ("GSI1SK", "S")]);
    assert_eq!(
        table.gsis,
        [GsiDef {
            name: "GSI1".into(),
            hash_key: "GSI1PK".into(),
            range_key: Some("GSI1SK".into()),
            projection: "ALL".into(),
            non_key_attributes: vec![],
        }]
    );
    assert_eq!(table.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
    assert!(table.point_in_time_recovery);
}

#[test]
fn evidence_bucket_is_locked_versioned_encrypted_and_private() {
    let bucket = bundled().bucket("EvidenceBucket").expect("EvidenceBucket");
    assert_eq!(
        *bucket,
        BucketDef {
            logical_id: "EvidenceBucket".into(),
            object_lock_enabled: true,
            versioning: true,
            // `Days: !Ref EvidenceRetentionDays`, resolved from the parameter's Default.
            default_retention: Some(("COMPLIANCE".into(), 365)),
            kms_encrypted: true,
            public_access_blocked: true,
        }
    );
}

#[test]
fn uploads_are_staged_in_a_private_bucket_that_locks_nothing() {
    let template = bundled();
    let staging = template.bucket("UploadStagingBucket").expect("UploadStagingBucket");
    assert_eq!(
        *staging,
        BucketDef {
            logical_id: "UploadStagingBucket".into(),
            object_lock_enabled: false,
            versioning: false,
            default_retention: None,
            kms_encrypted: true,
            public_access_blocked: true,
        }
    );
    let evidence = template.function_by_binary("api-evidence").expect("api-evidence");
    assert_eq!(evidence.environment["STAGING_BUCKET"], EnvValue::Ref("UploadStagingBucket".into()));
    assert_eq!(evidence.environment["EVIDENCE_BUCKET"], EnvValue::Ref("EvidenceBucket".into()));
    assert_eq!(template.buckets[0].logical_id, "EvidenceBucket", "the evidence bucket comes first");
}

#[test]
fn jobs_queue_outlasts_its_consumer_and_redrives_to_a_two_week_dlq() {
    let template = bundled();
    let worker = template.function_by_binary("worker-jobs").expect("worker-jobs");
    let jobs = template.queue("JobsQueue").expect("JobsQueue");
    assert!(
        jobs.visibility_timeout_seconds >= 6 * worker.timeout_seconds,
        "visibility {} < 6 x worker timeout {}",
        jobs.visibility_timeout_seconds,
        worker.timeout_seconds
    );
    assert_eq!(jobs.max_receive_count, Some(5));
    assert_eq!(jobs.message_retention_seconds, 345_600);
    let dlq = template.queue(jobs.dead_letter_queue.as_deref().expect("JobsQueue has a DLQ")).expect("DLQ exists");
    assert_eq!(dlq.logical_id, "JobsDeadLetterQueue");
    assert_eq!(dlq.message_retention_seconds, 14 * 24 * 3600);
    let scheduler_dlq = template.queue("SchedulerDeadLetterQueue").expect("SchedulerDeadLetterQueue");
    assert_eq!(scheduler_dlq.message_retention_seconds, 14 * 24 * 3600);
}

#[test]
fn aws_jobs_queue_matches_the_jobs_queue_and_its_producers_are_told_its_url() {
    let template = bundled();
    let (jobs, aws) = (template.queue("JobsQueue").unwrap(), template.queue("AwsJobsQueue").expect("AwsJobsQueue"));
    assert_eq!(
        (aws.message_retention_seconds, aws.max_receive_count),
        (jobs.message_retention_seconds, jobs.max_receive_count)
    );
    // Each queue outlasts six times its own consumer's timeout (exports run far longer than collections).
    let connector = template.function_by_binary("connector-aws").unwrap();
    assert!(aws.visibility_timeout_seconds >= 6 * connector.timeout_seconds);
    assert!(aws.visibility_timeout_seconds < jobs.visibility_timeout_seconds);
    let dlq = template.queue(aws.dead_letter_queue.as_deref().expect("AwsJobsQueue has a DLQ")).unwrap();
    assert_eq!((dlq.logical_id.as_str(), dlq.message_retention_seconds), ("AwsJobsDeadLetterQueue", 14 * 24 * 3600));
    for binary in ["planner", "api-runs"] {
        let f = template.function_by_binary(binary).unwrap();
        assert_eq!(f.environment["AWS_JOBS_QUEUE_URL"], EnvValue::Ref("AwsJobsQueue".into()), "{binary}");
    }
}

#[test]
fn every_function_names_its_binary() {
    let binaries: Vec<&str> = bundled().functions.iter().map(|f| f.binary.as_str()).collect();
    assert_eq!(
        binaries,
        [
            "api-health",
            "worker-jobs",
            "planner",
            "authorizer",
            "api-auth",
            "api-users",
            "api-api-keys",
            "api-tenant",
            "api-audit",
            "api-frameworks",
            "api-controls",
            "api-reports",
            "api-exceptions",
            "api-checks",
            "api-evidence",
            "api-exports",
            "api-dead-letters",
            "connector-aws",
            "api-integrations",
            "api-runs",
            "api-docs"
        ]
    );
}

#[test]
fn globals_apply_and_the_function_wins() {
    let template = bundled();
    let health = template.function("ApiHealthFunction").expect("ApiHealthFunction");
    assert_eq!((health.timeout_seconds, health.memory_mb), (30, 256));
    assert_eq!(health.environment["TABLE_NAME"], EnvValue::Ref("Table".into()));
    assert_eq!(health.environment["KUSHIM_BACKEND"], EnvValue::Literal("aws".into()));
    assert_eq!(health.environment["RUST_LOG"], EnvValue::Literal("info".into()));
    assert_eq!(health.environment["EVIDENCE_BUCKET"], EnvValue::Ref("EvidenceBucket".into()));
    assert_eq!(health.environment["JOBS_QUEUE_URL"], EnvValue::Ref("JobsQueue".into()));
    let planner = template.function_by_binary("planner").expect("planner");
    assert_eq!(planner.timeout_seconds, 120);
    assert!(!planner.environment.contains_key("EVIDENCE_BUCKET"));
}

#[test]
fn health_route_is_get_v1_health() {
    let template = bundled();
    let routes = template.routes();
    let (function, route) = routes.iter().find(|(_, r)| r.path == "/v1/health").copied().expect("health route");
    assert_eq!(function.binary, "api-health");
    assert_eq!(
        *route,
        Route { event_name: "Health".into(), method: "GET".into(), path: "/v1/health".into(), auth: None }
    );
    let found = template.match_route("GET", "/v1/health").expect("routed");
    assert_eq!(found.function.logical_id, "ApiHealthFunction");
    assert!(template.match_route("POST", "/v1/health").is_none());
    assert!(template.match_route("GET", "/v1/nope").is_none());
}

#[test]
fn worker_reads_jobs_queue_in_batches() {
    let worker = bundled().function_by_binary("worker-jobs").expect("worker-jobs");
    assert_eq!(
        worker.sqs_sources,
        [SqsSource {
            event_name: "Jobs".into(),
            queue: "JobsQueue".into(),
            batch_size: 10,
            max_batching_window_seconds: 1,
            report_batch_item_failures: true,
            maximum_concurrency: Some(5),
            enabled: true,
        }]
    );
}

#[test]
fn planner_runs_daily_with_retries_and_a_dlq() {
    let planner = bundled().function_by_binary("planner").expect("planner");
    assert_eq!(
        planner.schedules,
        [Schedule {
            event_name: "DailySchedule".into(),
            // Schedules are due in each tenant's time zone; the planner looks every five minutes.
            expression: "rate(5 minutes)".into(),
            timezone: Some("UTC".into()),
            input: Some(json!({"schedule": "daily"})),
            enabled: true,
            max_retry_attempts: Some(3),
            max_event_age_seconds: Some(3600),
            dead_letter_queue: Some("SchedulerDeadLetterQueue".into()),
        }]
    );
}

/// A small template exercising what the bundled one does not: routes with params, a proxy, a
/// default authorizer, numbers written as strings, a JSON-string redrive policy and `Years`.
const SMALL: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Days: {Type: Number, Default: "30"}
Globals:
  Function:
    Timeout: "10"
    Environment:
      Variables: {SHARED: one, PORT: 8080, OVERRIDE: global}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers: {Jwt: {IdentitySource: $request.header.Authorization}}
  Items:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: items}}
    Properties:
      MemorySize: 512
      Environment:
        Variables:
          OVERRIDE: local
          ARN: !GetAtt Q.Arn
          URL: !Sub "https://${Api}.example"
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: "/v1/items/{id}", Method: get}}
        Special: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /v1/items/special, Method: GET, Auth: {Authorizer: NONE}}}
        Files: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: "/v1/files/{proxy+}", Method: any}}
        Fallback: {Type: HttpApi}
        Tick: {Type: Schedule, Properties: {Schedule: rate(5 minutes), Enabled: false}}
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: "60"
      RedrivePolicy: '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:elsewhere", "maxReceiveCount": "3"}'
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockConfiguration:
        Rule: {DefaultRetention: {Mode: GOVERNANCE, Years: 2}}
  Other:
    Type: AWS::S3::Bucket
    Properties:
      ObjectLockConfiguration:
        Rule: {DefaultRetention: {Mode: COMPLIANCE, Days: !Ref Days}}
"#;

#[test]
fn small_template_reads_every_shape() {
    let template = parse(SMALL).unwrap();
    let items = template.function_by_binary("items").unwrap();
    assert_eq!((items.timeout_seconds, items.memory_mb), (10, 512));
    assert_eq!(items.environment["SHARED"], EnvValue::Literal("one".into()));
    assert_eq!(items.environment["PORT"], EnvValue::Literal("8080".into()));
    assert_eq!(items.environment["OVERRIDE"], EnvValue::Literal("local".into()));
    assert_eq!(items.environment["ARN"], EnvValue::GetAtt { resource: "Q".into(), attribute: "Arn".into() });
    assert_eq!(items.environment["URL"], EnvValue::Other(json!({"Fn::Sub": "https://${Api}.example"})));

    let routes: BTreeMap<&str, &Route> = items.routes.iter().map(|r| (r.event_name.as_str(), r)).collect();
    assert_eq!(routes["Get"].method, "GET");
    assert_eq!(routes["Get"].auth.as_deref(), Some("Jwt"));
    assert_eq!(routes["Special"].auth, None);
    assert_eq!(routes["Files"].method, "ANY");
    assert_eq!((routes["Fallback"].method.as_str(), routes["Fallback"].path.as_str()), ("ANY", "$default"));

    assert_eq!(items.schedules[0].expression, "rate(5 minutes)");
    assert!(!items.schedules[0].enabled);

    let q = template.queue("Q").unwrap();
    assert_eq!(
        *q,
        QueueDef {
            logical_id: "Q".into(),
            visibility_timeout_seconds: 60,
            message_retention_seconds: 345_600,
            delay_seconds: 0,
            receive_wait_seconds: 0,
            max_receive_count: Some(3),
            dead_letter_queue: None,
            fifo: false,
        }
    );
    assert_eq!(template.bucket("Bucket").unwrap().default_retention, Some(("GOVERNANCE".into(), 730)));
    assert_eq!(template.bucket("Other").unwrap().default_retention, Some(("COMPLIANCE".into(), 30)));
    assert!(!template.bucket("Other").unwrap().versioning);
}

#[test]
fn requests_go_to_the_most_specific_route() {
    let template = parse(SMALL).unwrap();
    let at = |method: &str, path: &str| {
        let found = template.match_route(method, path).expect("some route matches");
        (found.route.event_name.clone(), found.params)
    };
    let one = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
    assert_eq!(at("GET", "/v1/items/42"), ("Get".into(), one("id", "42")));
    assert_eq!(at("GET", "/v1/items/special"), ("Special".into(), BTreeMap::new()));
    assert_eq!(at("DELETE", "/v1/items/42"), ("Fallback".into(), BTreeMap::new()));
    assert_eq!(at("PUT", "/v1/files/a/b.txt"), ("Files".into(), one("proxy", "a/b.txt")));
    assert_eq!(at("GET", "/elsewhere"), ("Fallback".into(), BTreeMap::new()));
}

#[test]
fn table_panics_without_exactly_one() {
    let template = parse(SMALL).unwrap();
    let panic = std::panic::catch_unwind(|| template.table().logical_id.clone()).unwrap_err();
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    assert!(message.contains("declares no AWS::DynamoDB::Table"), "{message}");
}

fn error_of(yaml: &str) -> TemplateError {
    parse(yaml).expect_err("template should be refused")
}

#[test]
fn malformed_templates_name_the_problem() {
    let err = error_of("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties: {}\n");
    assert_eq!(err, TemplateError::missing("F", "Metadata.BuildProperties.Binary"));
    assert!(err.to_string().contains("`F`") && err.to_string().contains("Metadata.BuildProperties.Binary"), "{err}");

    let function =
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Metadata: {BuildProperties: {Binary: f}}\n";
    let err = error_of(&format!("{function}    Properties: {{Timeout: soon}}\n"));
    assert!(
        matches!(&err, TemplateError::InvalidProperty { resource, property, .. } if resource == "F" && property == "Properties.Timeout"),
        "{err}"
    );
    assert!(err.to_string().contains("whole number"), "{err}");

    let err = error_of(&format!(
        "{function}    Properties:\n      Events:\n        E: {{Type: SQS, Properties: {{Queue: !GetAtt Nope.Arn}}}}\n"
    ));
    assert!(err.to_string().contains("Properties.Events.E.Properties.Queue"), "{err}");
    assert!(err.to_string().contains("`Nope`"), "{err}");

    let err = error_of(&format!(
        "{function}    Properties:\n      Events:\n        D: {{Type: ScheduleV2, Properties: {{ScheduleExpression: rate(1 day), Input: 'not json'}}}}\n"
    ));
    assert!(
        err.to_string().contains("Properties.Events.D.Properties.Input") && err.to_string().contains("JSON"),
        "{err}"
    );

    let err = error_of(
        "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      AttributeDefinitions: [{AttributeName: PK, AttributeType: S}]\n      KeySchema: [{AttributeName: PK, KeyType: HASH}, {AttributeName: SK, KeyType: RANGE}]\n",
    );
    assert!(err.to_string().contains("`T`") && err.to_string().contains("`SK`"), "{err}");

    let err = error_of(
        "Parameters:\n  P: {Type: Number}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {VisibilityTimeout: !Ref P}\n",
    );
    assert!(err.to_string().contains("parameter `P`, which has no Default"), "{err}");

    assert_eq!(error_of("AWSTemplateFormatVersion: '2010-09-09'\n"), TemplateError::MissingSection("Resources".into()));
    assert!(matches!(error_of("Resources: [oops"), TemplateError::Yaml(_)));
    assert!(matches!(error_of("Resources:\n  X: !GetAtt Broken\n"), TemplateError::Intrinsic { .. }));
}
