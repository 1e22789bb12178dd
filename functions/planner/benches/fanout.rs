//! Planner fan-out on the embedded adapters: `KUSHIM_BENCH_TENANTS` tenants (default 10,000) with
//! three AWS integrations each, all due at 02:00 UTC, planned pass by pass within the planner's
//! time budget. Prints the set-up time, each pass's wall time, runs, jobs, `SendMessageBatch` calls
//! and jobs per second and the totals, then checks that a further pass in the same minute sends
//! nothing. Run with `cargo bench -p planner --bench fanout`.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_adapters::queue::Queue;
use kushim_adapters::queue::embedded::QueueConfig;
use kushim_domain::TenantId;
use kushim_integrations::model::{AwsAccount, AwsSettings};
use kushim_integrations::{IntegrationSettings, IntegrationStore, NewIntegration};
use kushim_lambda::Config;
use kushim_lambda::backends::EmbeddedSet;
use kushim_testkit::RecordingQueue;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[tokio::main]
async fn main() {
    let tenants: usize = std::env::var("KUSHIM_BENCH_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let set = EmbeddedSet::open(dir.path()).unwrap();
    set.queue.create_queue(QueueConfig::new("AwsJobsQueue")).await.unwrap();
    let counting = Arc::new(RecordingQueue::new(set.queue.clone()));
    let mut backends = set.backends();
    backends.queue = Some(counting.clone());
    let config = Config::from_lookup([("AWS_JOBS_QUEUE_URL".to_owned(), "AwsJobsQueue".to_owned())]).unwrap();
    let state = planner::State::new(&config, &backends).unwrap();
    let store = IntegrationStore::new(set.table.clone(), set.secrets.clone());

    let setup = Instant::now();
    let connected_at = utc("2026-06-01T00:00:00Z");
    futures::stream::iter(0..tenants * 3)
        .for_each_concurrent(16, |n| {
            let store = store.clone();
            async move {
                let tenant = TenantId::new(format!("t{}", n / 3)).unwrap();
                let settings = IntegrationSettings::Aws(AwsSettings {
                    accounts: vec![AwsAccount {
                        account_id: format!("{:012}", n),
                        role_arn: format!("arn:aws:iam::{:012}:role/KushimReadOnly", n),
                    }],
                    regions: None,
                });
                let new = NewIntegration { display_name: "AWS".into(), settings, credentials: None, cadence: None };
                store.connect(&tenant, new, connected_at).await.unwrap();
            }
        })
        .await;
    println!("set-up: {tenants} tenants x 3 integrations in {:.1} s", setup.elapsed().as_secs_f64());

    // Every account was never discovered, so each integration fans out over the 17 regions every
    // account has: 4 global + 17 x 4 regional families = 72 jobs. A pass stops starting tenants
    // after its budget (60 s); the next pass (5 minutes later in production) picks up the rest.
    let per_integration = 72;
    let started = Instant::now();
    let mut passes = Vec::new();
    loop {
        let pass = Instant::now();
        let report = planner::run_once(&state, utc("2026-06-01T02:01:00Z")).await.unwrap();
        let secs = pass.elapsed().as_secs_f64();
        println!(
            "pass {}: {:.2} s, {} due, {} runs, {} jobs, {} SendMessageBatch calls, {:.0} jobs/s, {} tenants left due",
            passes.len() + 1,
            secs,
            report.due,
            report.runs_created,
            report.jobs_enqueued,
            report.send_batch_calls,
            report.jobs_enqueued as f64 / secs,
            report.deferred_tenants
        );
        let done = report.deferred_tenants == 0;
        passes.push(report);
        if done {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let runs: usize = passes.iter().map(|r| r.runs_created).sum();
    let jobs: usize = passes.iter().map(|r| r.jobs_enqueued).sum();
    let calls: usize = passes.iter().map(|r| r.send_batch_calls).sum();
    println!(
        "total: {} passes, {secs:.2} s, {runs} runs, {jobs} jobs, {calls} SendMessageBatch calls, {:.0} jobs/s",
        passes.len(),
        jobs as f64 / secs
    );
    assert_eq!((runs, jobs), (tenants, tenants * 3 * per_integration));
    // Full batches of ten, but for each pass's last partial batch.
    assert!((jobs.div_ceil(10)..=jobs.div_ceil(10) + passes.len()).contains(&calls), "{calls}");
    assert_eq!(counting.send_batch_calls(), calls, "the reports count every call the queue saw");
    assert_eq!(counting.counts("AwsJobsQueue").await.unwrap().visible as usize, jobs);
    let again = planner::run_once(&state, utc("2026-06-01T02:01:30Z")).await.unwrap();
    assert_eq!((again.due, again.jobs_enqueued), (0, 0));
    println!("a further pass in the same minute: {} due, {} jobs", again.due, again.jobs_enqueued);
}
