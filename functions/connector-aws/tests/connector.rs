//! The AWS connector end to end on the embedded adapters: a real collection of a moto account
//! seeded with known findings, and the failure modes the issue names — every message delivered
//! three times, a provider that throttles, a revoked role, the provider going away mid-run and
//! coming back — each with what must hold: no duplicate evidence, no double-counted totals,
//! inconclusive results with a reason, a failing integration whose breaker stops the retries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use connector_aws::State;
use kushim_adapters::keys;
use kushim_adapters::table::Query;
use kushim_checks::{Evidence, EvidenceContext, Scope};
use kushim_compliance::Compliance;
use kushim_connector::{CollectFailure, Collected, Collector, Outcome, SliceScope, Worker};
use kushim_domain::{Job, TenantId};
use kushim_integrations::model::{AwsAccount, AwsSettings};
use kushim_integrations::{
    AwsSlicer, HealthState, Integration, IntegrationSettings, IntegrationStore, LockPolicy, NewIntegration, Run,
    RunStatus, Runs, Trigger, plan_run,
};
use kushim_lambda::Config;
use kushim_lambda::backends::EmbeddedSet;

struct Env {
    set: EmbeddedSet,
    tenant: TenantId,
    _dir: tempfile::TempDir,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let set = EmbeddedSet::open(dir.path()).unwrap();
    Env { set, tenant: TenantId::new("acme").unwrap(), _dir: dir }
}

fn config() -> Config {
    Config::from_lookup([("AWS_JOBS_QUEUE_URL".to_owned(), "AwsJobsQueue".to_owned())]).unwrap()
}

impl Env {
    fn store(&self) -> IntegrationStore {
        IntegrationStore::new(self.set.table.clone(), self.set.secrets.clone())
    }

    async fn connect(&self, account_id: &str, role_arn: &str) -> Integration {
        let settings = IntegrationSettings::Aws(AwsSettings {
            accounts: vec![AwsAccount { account_id: account_id.into(), role_arn: role_arn.into() }],
            regions: None,
        });
        let new = NewIntegration { display_name: "Prod".into(), settings, credentials: None, cadence: None };
        self.store().connect(&self.tenant, new, Utc::now()).await.unwrap().integration
    }

    /// Plans and starts a run of the integration with the connector's slicer.
    async fn run(&self, integration: &Integration, slicer: &AwsSlicer) -> (Run, Vec<Job>) {
        let integration = self.store().get(&self.tenant, &integration.id).await.unwrap();
        let planned =
            plan_run(&self.tenant, &[integration], Trigger::Manual, Utc::now(), slicer, &Default::default()).unwrap();
        Runs::new(self.set.table.clone()).start(&planned.run, LockPolicy::Override).await.unwrap();
        (planned.run, planned.jobs)
    }

    async fn run_state(&self, run: &Run) -> Run {
        Runs::new(self.set.table.clone()).get(&self.tenant, &run.id).await.unwrap()
    }

    async fn evidence_count(&self) -> usize {
        let q = Query::partition(keys::tenant_pk(&self.tenant)).begins_with(keys::EVIDENCE_PREFIX).limit(1000);
        kushim_adapters::table::Table::query(self.set.table.as_ref(), q).await.unwrap().items.len()
    }

    fn worker(&self, collector: Arc<dyn Collector>) -> Worker {
        State::with_collector(&config(), &self.set.backends(), collector).unwrap().worker().clone()
    }
}

/// Every event published on the embedded bus, as `detail-type`.
fn capture_events(env: &Env) -> Arc<Mutex<Vec<(String, serde_json::Value)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pattern = kushim_adapters::bus::pattern::EventPattern::parse(serde_json::json!({
        "source": ["kushim.findings", "kushim.runs", "kushim.integrations"]
    }))
    .unwrap();
    env.set.bus.subscribe(
        "test",
        pattern,
        Arc::new(move |e: kushim_adapters::bus::embedded::DeliveredEvent| {
            sink.lock().unwrap().push((e.detail_type, e.detail));
            Box::pin(async {})
        }),
    );
    seen
}

fn count(events: &Mutex<Vec<(String, serde_json::Value)>>, kind: &str) -> usize {
    events.lock().unwrap().iter().filter(|(k, _)| k == kind).count()
}

const ACCOUNT: &str = "123456789012";
const ROLE: &str = "arn:aws:iam::123456789012:role/KushimReadOnly";

/// The script: the call's number (from 1) and the slice give the answer.
type Script = Box<dyn Fn(u32, &str) -> Result<Vec<Collected>, CollectFailure> + Send + Sync>;

/// A collector that answers from a script, counting its calls.
struct Scripted {
    calls: AtomicU32,
    answer: Script,
}

fn password_policy(slice: &str) -> Vec<Collected> {
    let evidence: Evidence = serde_json::from_value(serde_json::json!({
        "kind": "aws.iam.password_policy",
        "data": { "policy": null }
    }))
    .unwrap();
    let context = EvidenceContext::new(Utc::now(), Scope::Aws { account_id: ACCOUNT.into(), region: None });
    assert!(slice.starts_with(ACCOUNT));
    vec![Collected { evidence, context, api_calls: vec!["iam:GetAccountPasswordPolicy".into()] }]
}

/// The scope the test collectors claim: the account's password policy.
fn account_scope() -> SliceScope {
    SliceScope {
        evidence_kinds: vec!["aws.iam.password_policy"],
        scope: Scope::Aws { account_id: ACCOUNT.into(), region: None },
    }
}

#[async_trait]
impl Collector for Scripted {
    fn connector(&self) -> &'static str {
        "aws"
    }
    fn scope(&self, _i: &Integration, _slice: &str) -> Result<SliceScope, CollectFailure> {
        Ok(account_scope())
    }
    async fn collect(&self, _i: &Integration, slice: &str) -> Result<Vec<Collected>, CollectFailure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        (self.answer)(n, slice)
    }
}

fn scripted(f: impl Fn(u32, &str) -> Result<Vec<Collected>, CollectFailure> + Send + Sync + 'static) -> Arc<Scripted> {
    Arc::new(Scripted { calls: AtomicU32::new(0), answer: Box::new(f) })
}

/// A slicer giving every account two IAM-only slices (the scripted collector ignores them).
fn two_slices() -> AwsSlicer {
    AwsSlicer::new(Arc::new(|a: &str, _r: &[String]| vec![format!("{a}/global/iam"), format!("{a}/global/s3")]))
}

async fn known_regions(env: &Env, integration: &Integration) {
    env.store()
        .set_enabled_regions(&env.tenant, &integration.id, ACCOUNT, &["eu-west-1".into()], Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn given_every_message_delivered_three_times_then_no_duplicate_evidence_and_no_double_count() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let collector = scripted(|_, slice| Ok(password_policy(slice)));
    let worker = env.worker(collector.clone());
    let events = capture_events(&env);
    let (run, jobs) = env.run(&integration, &two_slices()).await;
    assert_eq!(jobs.len(), 2);
    let mut outcomes = Vec::new();
    for round in 0..3 {
        for job in &jobs {
            outcomes.push((round, worker.process(job, round + 1, Utc::now()).await));
        }
    }
    assert!(outcomes[..2].iter().all(|(_, o)| matches!(o, Outcome::Done { .. })), "{outcomes:?}");
    assert!(outcomes[2..].iter().all(|(_, o)| *o == Outcome::Duplicate), "{outcomes:?}");
    assert_eq!(collector.calls.load(Ordering::SeqCst), 2, "redeliveries do no work");
    let state = env.run_state(&run).await;
    assert_eq!((state.status, state.counters.finished, state.counters.total), (RunStatus::Completed, 2, 2));
    assert_eq!(state.counters.failed, 8, "no password policy fails its four checks, once per job");
    assert_eq!(env.evidence_count().await, 2);
    // The contract notifications consume: each new failure once, the run's completion once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&events, "finding.failed"), 4, "four password-policy checks start failing");
    assert_eq!(count(&events, "run.completed"), 1);
    let completed = events.lock().unwrap().iter().find(|(k, _)| k == "run.completed").unwrap().1.clone();
    assert_eq!(completed["counters"]["finished"], 2, "{completed}");
    let failed = events.lock().unwrap().iter().find(|(k, _)| k == "finding.failed").unwrap().1.clone();
    assert_eq!(failed["resource_id"], ACCOUNT, "{failed}");
    assert!(failed["check_id"].as_str().unwrap().starts_with("aws.iam.password_policy"), "{failed}");
}

#[tokio::test]
async fn given_two_deliveries_at_once_then_the_second_waits_for_the_lock() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let worker = env.worker(scripted(|_, slice| Ok(password_policy(slice))));
    let (_run, jobs) = env.run(&integration, &two_slices()).await;
    let (a, b) = tokio::join!(worker.process(&jobs[0], 1, Utc::now()), worker.process(&jobs[0], 2, Utc::now()));
    let mut got = [a, b];
    got.sort_by_key(|o| format!("{o:?}"));
    assert!(
        got.iter().any(|o| matches!(o, Outcome::Done { .. }))
            && got.iter().any(|o| matches!(o, Outcome::Busy | Outcome::Duplicate)),
        "{got:?}"
    );
}

#[tokio::test]
async fn given_a_throttling_provider_then_the_job_backs_off_and_still_completes() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let collector = scripted(|n, slice| {
        if n <= 2 {
            Err(CollectFailure::Transient { message: "Throttling: Rate exceeded".into(), retry_after: None })
        } else {
            Ok(password_policy(slice))
        }
    });
    let worker = env.worker(collector);
    let (run, jobs) = env.run(&integration, &two_slices()).await;
    let mut afters = Vec::new();
    for attempt in 1..=2 {
        match worker.process(&jobs[0], attempt, Utc::now()).await {
            Outcome::Retry { after, message } => {
                assert!(message.contains("Throttling"));
                afters.push(after);
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }
    assert!(afters[1] > afters[0] && afters[0] >= Duration::from_secs(10), "exponential backoff: {afters:?}");
    assert!(matches!(worker.process(&jobs[0], 3, Utc::now()).await, Outcome::Done { .. }));
    assert!(matches!(worker.process(&jobs[1], 1, Utc::now()).await, Outcome::Done { .. }));
    let state = env.run_state(&run).await;
    assert_eq!((state.status, state.counters.errored), (RunStatus::Completed, 0));
    let health =
        kushim_integrations::Breaker::new(env.set.table.clone()).health(&env.tenant, &integration.id).await.unwrap();
    assert_eq!(health.state, HealthState::Healthy, "a success after throttling leaves it healthy");
}

#[tokio::test]
async fn given_a_revoked_role_then_results_are_inconclusive_the_integration_fails_and_the_breaker_stops_retries() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let collector = scripted(|_, _| {
        Err(CollectFailure::Permanent {
            code: "access_denied".into(),
            message: "AccessDenied: User is not authorized to perform sts:AssumeRole".into(),
        })
    });
    let worker = env.worker(collector.clone());
    let events = capture_events(&env);
    // Several days of runs against the revoked role.
    let mut deferred = 0;
    for _ in 0..8 {
        let (_, jobs) = env.run(&integration, &two_slices()).await;
        for job in &jobs {
            match worker.process(job, 1, Utc::now()).await {
                Outcome::Failed { reason } => assert!(reason.starts_with("access_denied")),
                Outcome::Deferred { .. } => deferred += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert!(deferred > 0, "the open breaker defers jobs instead of calling AWS again");
    assert!(collector.calls.load(Ordering::SeqCst) < 16, "no crash loop");
    let breaker = kushim_integrations::Breaker::new(env.set.table.clone());
    let health = breaker.health(&env.tenant, &integration.id).await.unwrap();
    assert_eq!(health.state, HealthState::Failing);
    assert!(health.last_error.as_deref().unwrap_or_default().contains("access_denied"), "{health:?}");
    // The checks the slice feeds are inconclusive, with the reason.
    let compliance = Compliance::new(env.set.table.clone());
    let mut found = false;
    for control in kushim_catalog::catalog().controls() {
        for r in compliance.latest_results(&env.tenant, &control.id).await.unwrap() {
            if r.check_id.starts_with("aws.iam.password_policy") {
                assert_eq!(r.status.label(), "inconclusive", "{r:?}");
                assert!(r.reason.contains("access_denied"), "{r:?}");
                found = true;
            }
        }
    }
    assert!(found, "inconclusive results were recorded");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let changes: Vec<serde_json::Value> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _)| k == "integration.health_changed")
        .map(|(_, d)| d.clone())
        .collect();
    assert!(changes.iter().any(|d| d["to"] == "failing"), "{changes:?}");
}

#[tokio::test]
async fn given_the_provider_away_mid_run_then_every_job_completes_once_it_is_back() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let away = Arc::new(Mutex::new(true));
    let flag = away.clone();
    let collector = scripted(move |_, slice| {
        if *flag.lock().unwrap() {
            Err(CollectFailure::Transient { message: "dispatch failure: connection refused".into(), retry_after: None })
        } else {
            Ok(password_policy(slice))
        }
    });
    let worker = env.worker(collector);
    let (run, jobs) = env.run(&integration, &two_slices()).await;
    for job in &jobs {
        assert!(matches!(worker.process(job, 1, Utc::now()).await, Outcome::Retry { .. }));
    }
    *away.lock().unwrap() = false;
    for job in &jobs {
        assert!(matches!(worker.process(job, 2, Utc::now()).await, Outcome::Done { .. }));
    }
    let state = env.run_state(&run).await;
    assert_eq!((state.status, state.counters.finished), (RunStatus::Completed, 2));
    assert_eq!(env.evidence_count().await, 2, "nothing lost, nothing duplicated");
}

#[tokio::test]
async fn given_the_emulator_killed_mid_run_and_started_again_then_every_job_completes_once() {
    use kushim_testkit::{Moto, OwnMoto};
    // GIVEN a customer account in an emulator of this test's own.
    let mut moto = OwnMoto::start().await;
    let sdk = kushim_testkit::sdk_config(&Moto { endpoint: moto.endpoint.clone() }).await;
    let seeded = kushim_aws::seed::seed_demo_account(&sdk).await.unwrap();
    let env = env();
    let integration = env.connect(&seeded.account_id, &seeded.role_arn).await;
    let region = seeded.primary_region.clone();
    env.store()
        .set_enabled_regions(&env.tenant, &integration.id, &seeded.account_id, &[region], Utc::now())
        .await
        .unwrap();
    let connector = kushim_aws::AwsConnector::new(&sdk)
        .with_retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .with_credential_report_wait(Duration::from_millis(100), Duration::from_secs(10));
    let worker = env.worker(Arc::new(connector_aws::AwsCollector::with_connector(connector, env.store())));
    // moto answers AWS Config's rule compliance with a 500, so the config family is left out here.
    let slicer = AwsSlicer::new(Arc::new(|a: &str, r: &[String]| {
        kushim_aws::slices(a, r).into_iter().filter(|s| !s.ends_with("/config")).collect()
    }));
    let (run, jobs) = env.run(&integration, &slicer).await;
    assert_eq!(jobs.len(), 7, "4 global and 3 regional families in one region");

    // WHEN half the jobs are done, the emulator dies, the rest fail, and it comes back.
    let (first, rest) = jobs.split_at(4);
    for job in first {
        let outcome = worker.process(job, 1, Utc::now()).await;
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }
    moto.kill().await;
    for job in rest {
        let outcome = worker.process(job, 1, Utc::now()).await;
        assert!(matches!(outcome, Outcome::Retry { .. }), "a dead emulator is a transient failure: {outcome:?}");
    }
    assert_eq!(env.run_state(&run).await.status, RunStatus::Running);
    moto.restart().await;
    kushim_aws::seed::seed_demo_account(&sdk).await.unwrap();
    for job in rest {
        let outcome = worker.process(job, 2, Utc::now()).await;
        assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    }

    // THEN the run completes with every job counted once and no job in error, and delivering
    // every message again changes nothing.
    let state = env.run_state(&run).await;
    assert_eq!((state.status, state.counters.finished, state.counters.errored), (RunStatus::Completed, 7, 0));
    let evidence = env.evidence_count().await;
    assert!(evidence >= 7, "each job stored its evidence: {evidence}");
    for job in &jobs {
        assert_eq!(worker.process(job, 3, Utc::now()).await, Outcome::Duplicate);
    }
    assert_eq!(env.evidence_count().await, evidence, "nothing duplicated");
    assert_eq!(env.run_state(&run).await.counters.finished, 7, "nothing double-counted");
}

/// S3 evidence for the account listing these buckets as (name, versioning on); when `refused`,
/// listing the buckets was refused for the whole account, so the list is empty.
fn buckets(buckets: &[(&str, bool)], refused: bool) -> Vec<Collected> {
    let list: Vec<serde_json::Value> = buckets
        .iter()
        .map(|(name, versioned)| {
            serde_json::json!({
                "name": name, "region": "eu-west-1", "encryption": "sse_kms",
                "public_access_block": { "block_public_acls": true, "ignore_public_acls": true,
                    "block_public_policy": true, "restrict_public_buckets": true },
                "policy_is_public": false, "policy_denies_insecure_transport": true,
                "versioning": if *versioned { "enabled" } else { "disabled" }, "object_lock_enabled": false
            })
        })
        .collect();
    let evidence: Evidence = serde_json::from_value(serde_json::json!({
        "kind": "aws.s3.buckets",
        "data": { "account_public_access_block": null, "buckets": list }
    }))
    .unwrap();
    let mut context = EvidenceContext::new(Utc::now(), Scope::Aws { account_id: ACCOUNT.into(), region: None });
    if refused {
        context = context.with_permission_error("s3:ListAllMyBuckets", "AccessDenied");
    }
    vec![Collected { evidence, context, api_calls: vec!["s3:ListBuckets".into()] }]
}

/// The stored results of one check, as (resource, status).
async fn results_of(env: &Env, control: &str, check: &str) -> Vec<(String, String)> {
    let all = Compliance::new(env.set.table.clone()).latest_results(&env.tenant, control).await.unwrap();
    all.into_iter().filter(|r| r.check_id == check).map(|r| (r.resource_id, r.status.label().to_owned())).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[tokio::test]
async fn given_a_failing_bucket_deleted_then_the_next_run_resolves_it_as_gone() {
    const VERSIONING: &str = "aws.s3.bucket_versioning";
    let control = kushim_checks::find_check(VERSIONING).unwrap().def().controls[0];
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    // Day 1: "logs" has no versioning. Day 2: it was deleted. Day 3: listing buckets is refused.
    // Day 4: the bucket list is readable again.
    let collector = scripted(|n, _| match n {
        1 => Ok(buckets(&[("data", true), ("logs", false)], false)),
        2 | 4 => Ok(buckets(&[("data", true)], false)),
        _ => Ok(buckets(&[], true)),
    });
    let worker = env.worker(collector);
    let events = capture_events(&env);
    let one_slice = AwsSlicer::new(Arc::new(|a: &str, _r: &[String]| vec![format!("{a}/global/s3")]));

    // GIVEN day 1's run found "logs" failing.
    let (_, jobs) = env.run(&integration, &one_slice).await;
    assert!(matches!(worker.process(&jobs[0], 1, Utc::now()).await, Outcome::Done { .. }));
    assert_eq!(results_of(&env, control, VERSIONING).await, pairs(&[("data", "pass"), ("logs", "fail")]));

    // WHEN day 2's run no longer sees it.
    let (_, jobs) = env.run(&integration, &one_slice).await;
    assert!(matches!(worker.process(&jobs[0], 1, Utc::now()).await, Outcome::Done { .. }));

    // THEN its result is gone and its finding resolved as gone.
    assert_eq!(results_of(&env, control, VERSIONING).await, pairs(&[("data", "pass")]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let resolved: Vec<serde_json::Value> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, d)| k == "finding.resolved" && d["check_id"] == VERSIONING)
        .map(|(_, d)| d.clone())
        .collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!((resolved[0]["resource_id"].as_str(), resolved[0]["status"].as_str()), (Some("logs"), Some("gone")));

    // WHEN day 3's collection cannot list the buckets, THEN what was seen stays, plus the refusal.
    let (_, jobs) = env.run(&integration, &one_slice).await;
    assert!(matches!(worker.process(&jobs[0], 1, Utc::now()).await, Outcome::Done { .. }));
    let blind = results_of(&env, control, VERSIONING).await;
    assert_eq!(blind, pairs(&[(ACCOUNT, "inconclusive"), ("data", "pass")]), "an unseen bucket is not a fixed one");

    // WHEN day 4's collection sees the buckets again, THEN the refusal's result goes too.
    let (_, jobs) = env.run(&integration, &one_slice).await;
    assert!(matches!(worker.process(&jobs[0], 1, Utc::now()).await, Outcome::Done { .. }));
    assert_eq!(results_of(&env, control, VERSIONING).await, pairs(&[("data", "pass")]));

    // WHEN the integration is deleted, THEN everything it observed is retired.
    let compliance = Compliance::new(env.set.table.clone());
    let bus: &dyn kushim_adapters::bus::EventBus = env.set.bus.as_ref();
    let retired =
        kushim_connector::retire_integration(&compliance, Some(bus), &env.tenant, &integration.id, Utc::now()).await;
    assert!(retired.unwrap().gone.iter().any(|(c, r)| c == VERSIONING && r == "data"));
    assert!(results_of(&env, control, VERSIONING).await.is_empty());
}

#[tokio::test]
async fn given_a_run_that_no_longer_plans_a_slice_then_its_results_are_retired_when_the_run_completes() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let worker = env.worker(scripted(|_, slice| {
        Ok(if slice.ends_with("/iam") { password_policy(slice) } else { buckets(&[("data", true)], false) })
    }));
    let events = capture_events(&env);
    let slicer_of = |families: &'static [&'static str]| {
        AwsSlicer::new(Arc::new(move |a: &str, _r: &[String]| {
            families.iter().map(|f| format!("{a}/global/{f}")).collect()
        }))
    };
    let password_control = kushim_checks::find_check("aws.iam.password_policy_min_length").unwrap().def().controls[0];
    let password_results = || async {
        let all = Compliance::new(env.set.table.clone()).latest_results(&env.tenant, password_control).await.unwrap();
        all.into_iter().filter(|r| r.check_id.starts_with("aws.iam.password_policy")).count()
    };

    // GIVEN a run covering IAM and S3: the missing password policy fails.
    let (run, jobs) = env.run(&integration, &slicer_of(&["iam", "s3"])).await;
    assert_eq!(run.slices[&integration.id], vec![format!("{ACCOUNT}/global/iam"), format!("{ACCOUNT}/global/s3")]);
    for job in &jobs {
        assert!(matches!(worker.process(job, 1, Utc::now()).await, Outcome::Done { .. }));
    }
    let before = password_results().await;
    assert!(before > 0, "the password policy checks were recorded");

    // WHEN the next run no longer plans the IAM slice (say, the account moved out of scope) and completes.
    let (_, jobs) = env.run(&integration, &slicer_of(&["s3"])).await;
    for job in &jobs {
        assert!(matches!(worker.process(job, 1, Utc::now()).await, Outcome::Done { run_completed: true, .. }));
    }

    // THEN the IAM slice's results are retired and its failures resolved; S3's stay.
    assert_eq!(password_results().await, 0);
    let versioning = kushim_checks::find_check("aws.s3.bucket_versioning").unwrap().def().controls[0];
    assert_eq!(results_of(&env, versioning, "aws.s3.bucket_versioning").await, pairs(&[("data", "pass")]));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gone: Vec<serde_json::Value> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, d)| k == "finding.resolved" && d["status"] == "gone")
        .map(|(_, d)| d.clone())
        .collect();
    assert_eq!(gone.len(), 4, "the four failing password-policy checks: {gone:?}");
    assert!(gone.iter().all(|d| d["reason"].as_str().unwrap().contains("no longer covers")), "{gone:?}");
}

/// A collector whose provider never answers in time.
struct Hanging;

#[async_trait]
impl Collector for Hanging {
    fn connector(&self) -> &'static str {
        "aws"
    }
    fn scope(&self, _i: &Integration, _slice: &str) -> Result<SliceScope, CollectFailure> {
        Ok(account_scope())
    }
    async fn collect(&self, _i: &Integration, _slice: &str) -> Result<Vec<Collected>, CollectFailure> {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn given_a_provider_slower_than_the_deadline_then_the_job_backs_off_instead_of_being_killed() {
    let env = env();
    let integration = env.connect(ACCOUNT, ROLE).await;
    known_regions(&env, &integration).await;
    let worker = env.worker(Arc::new(Hanging)).with_collect_deadline(Duration::from_millis(50));
    let (run, jobs) = env.run(&integration, &two_slices()).await;
    match worker.process(&jobs[0], 1, Utc::now()).await {
        Outcome::Retry { message, after } => {
            assert!(message.contains("did not finish within"), "{message}");
            assert!(after >= Duration::from_secs(10), "{after:?}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    // The lock was released, so the next delivery may try at once; the run still waits for it.
    assert!(matches!(worker.process(&jobs[0], 2, Utc::now()).await, Outcome::Retry { .. }));
    assert_eq!(env.run_state(&run).await.counters.finished, 0);
}
