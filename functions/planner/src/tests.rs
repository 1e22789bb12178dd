//! The planner on the embedded adapters, with a queue that counts `SendMessageBatch` calls.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kushim_adapters::queue::Queue;
use kushim_adapters::queue::embedded::QueueConfig;
use kushim_domain::{Job, JobKind, TenantId};
use kushim_integrations::model::{AwsAccount, AwsSettings, GithubSettings};
use kushim_integrations::runs::{RunStatus, Trigger};
use kushim_integrations::schedule::LocalTime;
use kushim_integrations::{
    Cadence, Credentials, Integration, IntegrationKind, IntegrationSettings, IntegrationStatus, IntegrationStore,
    NewIntegration, Runs, Slicer,
};
use kushim_lambda::backends::EmbeddedSet;
use kushim_testkit::RecordingQueue;
use serde_json::json;

use super::*;

const QUEUE: &str = "AwsJobsQueue";

/// Three slices per integration.
struct ThreeSlices;

impl Slicer for ThreeSlices {
    fn slices(&self, i: &Integration) -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| format!("{}/{s}", i.id)).collect()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    set: EmbeddedSet,
    queue: Arc<RecordingQueue>,
    state: State,
    store: IntegrationStore,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let set = EmbeddedSet::open(dir.path()).unwrap();
    set.queue.create_queue(QueueConfig::new(QUEUE)).await.unwrap();
    let queue = Arc::new(RecordingQueue::new(set.queue.clone()));
    let mut backends = set.backends();
    backends.queue = Some(queue.clone());
    let config = Config::from_lookup([("AWS_JOBS_QUEUE_URL".to_owned(), QUEUE.to_owned())]).unwrap();
    let state = State::new(&config, &backends).unwrap().with_slicer(Arc::new(ThreeSlices));
    let store = IntegrationStore::new(set.table.clone(), set.secrets.clone());
    Env { _dir: dir, set, queue, state, store }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn aws(cadence: Option<Cadence>) -> NewIntegration {
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
        cadence,
    }
}

async fn queued(e: &Env) -> Vec<Job> {
    let mut out = Vec::new();
    loop {
        let batch = e.set.queue.receive(QUEUE, 10, Duration::ZERO, None).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            out.push(serde_json::from_str(&m.body).unwrap());
            e.set.queue.delete(QUEUE, &m.receipt_handle).await.unwrap();
        }
    }
}

#[tokio::test]
async fn three_tenants_two_due_integrations_each_make_three_runs_in_two_batches_once() {
    // GIVEN three tenants with two integrations due at 02:00 UTC, and one more due at 05:00
    let e = env().await;
    let connected_at = utc("2026-06-01T00:00:00Z");
    let mut due = Vec::new();
    for t in ["t1", "t2", "t3"] {
        let tenant = TenantId::new(t).unwrap();
        for _ in 0..2 {
            due.push((tenant.clone(), e.store.connect(&tenant, aws(None), connected_at).await.unwrap().integration.id));
        }
    }
    let later = Cadence::Daily { time: LocalTime::hm(5, 0).unwrap() };
    let t1 = TenantId::new("t1").unwrap();
    let not_due = e.store.connect(&t1, aws(Some(later)), connected_at).await.unwrap().integration.id;

    // WHEN the planner runs at 02:01
    let now = utc("2026-06-01T02:01:00Z");
    let report = run_once(&e.state, now).await.unwrap();

    // THEN one run per tenant holds its two integrations, 18 jobs went out in two calls
    assert_eq!((report.due, report.tenants, report.runs_created), (6, 3, 3), "{report:?}");
    assert_eq!((report.jobs_enqueued, report.send_batch_calls), (18, 2), "{report:?}");
    assert_eq!(e.queue.send_batch_calls(), 2, "one SendMessageBatch per ten jobs");
    let jobs = queued(&e).await;
    assert_eq!(jobs.len(), 18);
    for (tenant, integration) in &due {
        let mine: Vec<&Job> = jobs
            .iter()
            .filter(|j| {
                &j.tenant_id == tenant
                    && matches!(&j.kind, JobKind::Collect { integration_id, .. } if integration_id == integration)
            })
            .collect();
        assert_eq!(mine.len(), 3, "{tenant}/{integration}");
        for j in mine {
            let JobKind::Collect { slice, .. } = &j.kind else { unreachable!() };
            assert_eq!(j.idempotency_key, format!("{}/{integration}/{slice}", j.run_id));
        }
    }
    assert!(
        !jobs.iter().any(|j| matches!(&j.kind, JobKind::Collect { integration_id, .. } if integration_id == &not_due))
    );
    let runs = Runs::new(e.set.table.clone());
    for t in ["t1", "t2", "t3"] {
        let (list, _) = runs.list(&TenantId::new(t).unwrap(), 10, None).await.unwrap();
        assert_eq!(list.len(), 1, "{t}");
        let r = &list[0];
        assert_eq!(
            (r.trigger, r.status, r.counters.total, r.integrations.len()),
            (Trigger::Schedule, RunStatus::Running, 6, 2)
        );
    }

    // AND a second pass in the same minute enqueues nothing
    let again = run_once(&e.state, utc("2026-06-01T02:01:40Z")).await.unwrap();
    assert_eq!((again.due, again.runs_created, again.jobs_enqueued, again.send_batch_calls), (0, 0, 0, 0));
    assert_eq!(e.queue.send_batch_calls(), 2);
    // AND at 05:00 only the late integration is due
    let late = run_once(&e.state, utc("2026-06-01T05:00:00Z")).await.unwrap();
    assert_eq!((late.due, late.runs_created, late.jobs_enqueued), (1, 1, 3));
}

#[tokio::test]
async fn paused_deleted_and_connectorless_integrations_are_skipped_but_advanced() {
    let e = env().await;
    let t = TenantId::new("acme").unwrap();
    let at = utc("2026-06-01T00:00:00Z");
    let paused = e.store.connect(&t, aws(None), at).await.unwrap().integration.id;
    e.store.set_status(&t, &paused, IntegrationStatus::Paused, at).await.unwrap();
    let github = NewIntegration {
        display_name: "GitHub".into(),
        settings: IntegrationSettings::Github(GithubSettings { organization: "acme".into() }),
        credentials: Some(
            Credentials::parse(IntegrationKind::Github, json!({"token": "ghp_0123456789abcdef"})).unwrap(),
        ),
        cadence: None,
    };
    e.store.connect(&t, github, at).await.unwrap();
    let report = run_once(&e.state, utc("2026-06-01T02:00:00Z")).await.unwrap();
    assert_eq!((report.due, report.runs_created, report.schedules_skipped, report.jobs_enqueued), (2, 0, 2, 0));
    // They were advanced: the next pass finds nothing due.
    assert_eq!(run_once(&e.state, utc("2026-06-01T02:05:00Z")).await.unwrap().due, 0);
    let next = kushim_integrations::Schedules::new(e.set.table.clone()).get(&t, &paused).await.unwrap().unwrap();
    assert_eq!(next.next_due, Some(utc("2026-06-02T02:00:00Z")));
}

#[tokio::test]
async fn stale_runs_time_out_and_are_announced() {
    let e = env().await;
    let t = TenantId::new("acme").unwrap();
    let at = utc("2026-06-01T00:00:00Z");
    e.store.connect(&t, aws(None), at).await.unwrap();
    let first = run_once(&e.state, utc("2026-06-01T02:00:00Z")).await.unwrap();
    assert_eq!(first.runs_created, 1);
    // Nobody consumes the jobs; two hours later the run times out.
    let report = run_once(&e.state, utc("2026-06-01T04:00:01Z")).await.unwrap();
    assert_eq!(report.runs_timed_out, 1);
    let (list, _) = Runs::new(e.set.table.clone()).list(&t, 10, None).await.unwrap();
    assert_eq!(list[0].status, RunStatus::TimedOut);
    let events = e.set.bus.recent();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].source.as_str(), events[0].detail_type.as_str()), ("kushim.runs", "run.completed"));
    assert_eq!(events[0].detail["status"], "timed_out");
    assert_eq!(events[0].detail["run_id"], json!(list[0].id));
}

#[tokio::test]
async fn the_lambda_event_records_the_firing_and_refuses_bad_input() {
    let e = env().await;
    let input = || ScheduleInput { schedule: "daily".into() };
    assert_eq!(plan(&e.state, input(), utc("2026-06-01T00:00:00Z")).await.unwrap().firings, 1);
    let summary = plan(&e.state, input(), utc("2026-06-01T00:05:00Z")).await.unwrap();
    assert_eq!(summary.firings, 2);
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!((json["firings"].as_i64(), json["jobs_enqueued"].as_u64()), (Some(2), Some(0)));
    let event = LambdaEvent::new(json!({"schedule": "daily", "x": 1}), Default::default());
    assert!(handle(&e.state, event).await.is_err());
    assert!(matches!(
        plan(&e.state, ScheduleInput { schedule: "a#b".into() }, Utc::now()).await,
        Err(PlanError::InvalidInput(_))
    ));
}
