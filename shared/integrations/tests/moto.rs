//! The same guarantees on the AWS adapters (DynamoDB, Secrets Manager, SQS on moto): conditional
//! writes and transaction cancellation reasons drive the breaker, the due-index, run counting and
//! the planner. Needs moto (`infra/dev/moto start`); the test fails, never skips, without it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kushim_adapters::aws::sdk::{dynamodb, secretsmanager, sqs};
use kushim_adapters::queue::Queue;
use kushim_adapters::queue::sqs::SqsQueue;
use kushim_adapters::secrets::secretsmanager::SecretsManagerSecrets;
use kushim_adapters::table::Table;
use kushim_adapters::table::dynamo::DynamoTable;
use kushim_domain::{IntegrationId, Job, TenantId};
use kushim_integrations::model::{AwsAccount, AwsSettings};
use kushim_integrations::*;

struct Env {
    table: Arc<dyn Table>,
    store: IntegrationStore,
    queue: Arc<dyn Queue>,
    aws_queue: String,
}

async fn env() -> Env {
    let (sdk, p) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), p.table_name));
    let prefix = format!("{}/", kushim_testkit::unique_prefix());
    let secrets =
        Arc::new(SecretsManagerSecrets::new(secretsmanager::Client::new(&sdk), prefix).with_force_delete(true));
    let queue: Arc<dyn Queue> = Arc::new(SqsQueue::new(sqs::Client::new(&sdk)));
    Env {
        store: IntegrationStore::new(table.clone(), secrets),
        table,
        queue,
        aws_queue: p.queue_urls["AwsJobsQueue"].clone(),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn aws() -> NewIntegration {
    NewIntegration {
        display_name: "AWS".into(),
        settings: IntegrationSettings::Aws(AwsSettings {
            accounts: vec![AwsAccount {
                account_id: "123456789012".into(),
                role_arn: "arn:aws:iam::123456789012:role/KushimReadOnly".into(),
            }],
            regions: None,
        }),
        credentials: None,
        cadence: None,
    }
}

/// A slicer giving each account only its region-discovery job, so run totals stay countable.
fn discovery_only() -> AwsSlicer {
    AwsSlicer::new(Arc::new(|a: &str, _r: &[String]| vec![format!("{a}/global/regions")]))
}

#[tokio::test]
async fn on_dynamodb_one_probe_one_advance_and_each_job_counted_once() {
    let e = env().await;
    let (t, i) = (TenantId::new("acme").unwrap(), IntegrationId::new("aws-main").unwrap());

    // Breaker: five failures open it; of ten concurrent admissions after the cool-down, one probes.
    let breaker = Breaker::new(e.table.clone());
    let start = utc("2026-05-01T10:00:00Z");
    for _ in 0..5 {
        breaker.on_failure(&t, &i, start, "AccessDenied").await.unwrap();
    }
    let later = start + chrono::Duration::minutes(16);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (b, t, i) = (breaker.clone(), t.clone(), i.clone());
        tasks.push(tokio::spawn(async move { b.admit(&t, &i, later).await.unwrap() }));
    }
    let mut probes = 0;
    for task in tasks {
        probes += usize::from(task.await.unwrap() == Admission::Probe);
    }
    assert_eq!(probes, 1);

    // Due-index: two integrations due, paged one at a time; an advance wins once.
    let connected_at = utc("2026-05-01T00:00:00Z");
    e.store.connect(&t, aws(), connected_at).await.unwrap();
    e.store.connect(&TenantId::new("other").unwrap(), aws(), connected_at).await.unwrap();
    let schedules = Schedules::new(e.table.clone());
    let now = utc("2026-05-01T02:00:00Z");
    let (first, cursor) = schedules.due(now, 1, None).await.unwrap();
    let (second, _) = schedules.due(now, 1, cursor).await.unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_ne!(first[0].tenant_id, second[0].tenant_id);
    assert!(schedules.due(utc("2026-05-01T01:59:59Z"), 10, None).await.unwrap().0.is_empty());
    assert!(schedules.advance(&first[0], chrono_tz::Tz::UTC, now).await.unwrap().is_some());
    assert!(schedules.advance(&first[0], chrono_tz::Tz::UTC, now).await.unwrap().is_none());

    // Runs: a job delivered three times is counted once; one caller completes the run. (Real
    // time from here: job markers and run locks expire relative to it.)
    let now = Utc::now();
    let runs = Runs::new(e.table.clone());
    let planned = plan_run(
        &t,
        &[e.store.list(&t).await.unwrap().remove(0)],
        runs::Trigger::Manual,
        now,
        &discovery_only(),
        &RunOptions::default(),
    )
    .unwrap();
    runs.start(&planned.run, LockPolicy::Exclusive).await.unwrap();
    assert!(matches!(runs.start(&planned.run, LockPolicy::Exclusive).await, Err(Error::Busy(_))), "one running run");
    let key = &planned.jobs[0].idempotency_key;
    let mut completed = 0;
    let mut counted = 0;
    for _ in 0..3 {
        let f = runs
            .job_finished(&t, &planned.run.id, key, JobCounts { passed: 3, ..Default::default() }, now)
            .await
            .unwrap();
        completed += usize::from(f.completed.is_some());
        counted += usize::from(f.counted);
    }
    assert_eq!((counted, completed), (1, 1));
    let stored = runs.get(&t, &planned.run.id).await.unwrap();
    assert_eq!((stored.status, stored.counters.finished, stored.counters.passed), (RunStatus::Completed, 1, 3));
}

#[tokio::test]
async fn on_sqs_the_planner_fans_out_once_and_a_busy_integration_is_refused() {
    let e = env().await;
    // Real time: the scheduled runs' locks expire at their deadline, which must lie ahead.
    let at = Utc::now();
    let mut due_at = None;
    for tenant in ["t1", "t2"] {
        for _ in 0..2 {
            let c = e.store.connect(&TenantId::new(tenant).unwrap(), aws(), at).await.unwrap();
            due_at = c.schedule.next_due;
        }
    }
    let due_at = due_at.unwrap();
    let queues = JobQueues { aws: Some(e.aws_queue.clone()) };
    let planner = Planner::new(e.table.clone(), e.queue.clone(), queues, Arc::new(discovery_only()));
    let report = planner.run_once(due_at + chrono::Duration::seconds(30)).await.unwrap();
    assert_eq!((report.due, report.runs_created, report.jobs_enqueued, report.send_batch_calls), (4, 2, 4, 1));
    let again = planner.run_once(due_at + chrono::Duration::seconds(45)).await.unwrap();
    assert_eq!((again.due, again.jobs_enqueued), (0, 0));
    let mut jobs: Vec<Job> = Vec::new();
    for _ in 0..5 {
        let batch = e.queue.receive(&e.aws_queue, 10, Duration::from_secs(1), None).await.unwrap();
        jobs.extend(batch.iter().map(|m| serde_json::from_str::<Job>(&m.body).unwrap()));
        if jobs.len() >= 4 {
            break;
        }
    }
    assert_eq!(jobs.len(), 4);
    assert!(jobs.iter().all(|j| j.idempotency_key.ends_with("/123456789012/global/regions")));
    // The scheduled runs hold their integrations: an on-demand run of t1 is refused as busy.
    let busy = planner.start_on_demand(&TenantId::new("t1").unwrap(), None, Utc::now()).await.unwrap_err();
    assert!(matches!(&busy, Error::Busy(ids) if ids.len() == 2), "{busy:?}");
}
