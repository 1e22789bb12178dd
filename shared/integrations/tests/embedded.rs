//! The integrations crate on the embedded adapters: the breaker under concurrency, the
//! due-index, credentials that never reach the table, and enqueueing through a queue that refuses
//! some entries.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kushim_adapters::queue::embedded::{EmbeddedQueue, QueueConfig};
use kushim_adapters::queue::{OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome};
use kushim_adapters::secrets::ExposeSecret;
use kushim_adapters::secrets::embedded::EmbeddedSecrets;
use kushim_adapters::table::Table;
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_adapters::{AdapterError, keys};
use kushim_domain::{IntegrationId, Job, JobKind, RunId, TenantId};
use kushim_integrations::model::{AwsAccount, AwsSettings, GithubSettings};
use kushim_integrations::planner::{AwsSlicer, builtin_aws_slices, job_id};
use kushim_integrations::schedule::LocalTime;
use kushim_integrations::*;
use serde_json::json;

struct Env {
    dir: tempfile::TempDir,
    table: Arc<dyn Table>,
    store: IntegrationStore,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let secrets = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).unwrap());
    let store = IntegrationStore::new(table.clone(), secrets);
    Env { dir, table, store }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

fn aws_settings(account: &str) -> IntegrationSettings {
    IntegrationSettings::Aws(AwsSettings {
        accounts: vec![AwsAccount {
            account_id: account.into(),
            role_arn: format!("arn:aws:iam::{account}:role/KushimReadOnly"),
        }],
        regions: None,
    })
}

fn aws(name: &str, account: &str, cadence: Option<Cadence>) -> NewIntegration {
    NewIntegration { display_name: name.into(), settings: aws_settings(account), credentials: None, cadence }
}

async fn set_tenant_zone(table: &dyn Table, t: &TenantId, zone: &str) {
    let item = kushim_adapters::table::Item::new(keys::tenant(t)).with("settings", json!({"time_zone": zone}));
    table.put(item, None).await.unwrap();
}

/// A slicer giving each account only its region-discovery job, so run totals stay countable.
fn discovery_only() -> AwsSlicer {
    AwsSlicer::new(Arc::new(|a: &str, _r: &[String]| vec![format!("{a}/global/regions")]))
}

#[tokio::test]
async fn ten_concurrent_admissions_after_the_cool_down_get_exactly_one_probe() {
    // GIVEN an integration whose breaker opened after five failures
    let e = env();
    let breaker = Breaker::new(e.table.clone());
    let (t, i) = (tenant("acme"), IntegrationId::new("aws-main").unwrap());
    let start = utc("2026-05-01T10:00:00Z");
    let mut transitions = Vec::new();
    for n in 0..5 {
        transitions.push(breaker.on_failure(&t, &i, start, &format!("AccessDenied #{n}")).await.unwrap());
    }
    assert_eq!(transitions[0].as_ref().map(|t| t.to), Some(HealthState::Degraded));
    assert!(transitions[1..4].iter().all(Option::is_none), "degraded → degraded is no transition");
    assert_eq!(transitions[4].as_ref().map(|t| (t.to, t.breaker)), Some((HealthState::Failing, BreakerState::Open)));
    let open_until = start + chrono::Duration::minutes(15);
    assert_eq!(breaker.admit(&t, &i, start).await.unwrap(), Admission::Deferred { until: open_until });

    // WHEN ten instances ask at once after the cool-down
    let later = open_until + chrono::Duration::seconds(1);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (b, t, i) = (breaker.clone(), t.clone(), i.clone());
        tasks.push(tokio::spawn(async move { b.admit(&t, &i, later).await.unwrap() }));
    }
    let mut admissions = Vec::new();
    for task in tasks {
        admissions.push(task.await.unwrap());
    }

    // THEN exactly one gets the probe and the others are deferred until its lease ends
    assert_eq!(admissions.iter().filter(|a| **a == Admission::Probe).count(), 1, "{admissions:?}");
    let lease_end = later + chrono::Duration::minutes(10);
    assert_eq!(admissions.iter().filter(|a| **a == Admission::Deferred { until: lease_end }).count(), 9);

    // AND a failed probe re-opens it for twice as long; a successful one closes it
    breaker.on_failure(&t, &i, later, "still denied").await.unwrap();
    let h = breaker.health(&t, &i).await.unwrap();
    assert_eq!((h.breaker, h.cooldown_secs), (BreakerState::Open, 30 * 60));
    let after_second = later + chrono::Duration::minutes(31);
    assert_eq!(breaker.admit(&t, &i, after_second).await.unwrap(), Admission::Probe);
    let healed = breaker.on_success(&t, &i, after_second).await.unwrap().expect("failing → healthy");
    assert_eq!((healed.from, healed.to), (HealthState::Failing, HealthState::Healthy));
    assert_eq!(breaker.admit(&t, &i, after_second).await.unwrap(), Admission::Allowed);
    let h = breaker.health(&t, &i).await.unwrap();
    assert_eq!((h.consecutive_failures, h.last_success_at), (0, Some(after_second)));
}

#[tokio::test]
async fn cool_downs_double_up_to_six_hours_and_a_dead_probe_is_readmitted() {
    let e = env();
    let breaker = Breaker::new(e.table.clone());
    let (t, i) = (tenant("acme"), IntegrationId::new("aws-main").unwrap());
    let mut now = utc("2026-05-01T10:00:00Z");
    for _ in 0..5 {
        breaker.on_failure(&t, &i, now, "Throttling").await.unwrap();
    }
    let mut cooldowns = Vec::new();
    for _ in 0..7 {
        let h = breaker.health(&t, &i).await.unwrap();
        cooldowns.push(h.cooldown_secs / 60);
        now = h.open_until.unwrap();
        assert_eq!(breaker.admit(&t, &i, now).await.unwrap(), Admission::Probe);
        breaker.on_failure(&t, &i, now, "Throttling").await.unwrap();
    }
    assert_eq!(cooldowns, [15, 30, 60, 120, 240, 360, 360]);
    // A probe whose instance died: after the lease another instance may probe.
    let h = breaker.health(&t, &i).await.unwrap();
    now = h.open_until.unwrap();
    assert_eq!(breaker.admit(&t, &i, now).await.unwrap(), Admission::Probe);
    let lease = now + chrono::Duration::minutes(10);
    assert_eq!(breaker.admit(&t, &i, now).await.unwrap(), Admission::Deferred { until: lease });
    assert_eq!(breaker.admit(&t, &i, lease).await.unwrap(), Admission::Probe);
}

#[tokio::test]
async fn the_due_index_pages_only_due_schedules_and_advance_fires_once() {
    // GIVEN 7 integrations due at 02:00 UTC across tenants, and one due an hour later
    let e = env();
    let now = utc("2026-05-01T00:00:00Z");
    for n in 0..7 {
        e.store.connect(&tenant(&format!("t{n}")), aws("a", "123456789012", None), now).await.unwrap();
    }
    let late = Cadence::Daily { time: LocalTime::hm(3, 0).unwrap() };
    e.store.connect(&tenant("t0"), aws("late", "123456789012", Some(late)), now).await.unwrap();
    let off = e.store.connect(&tenant("t1"), aws("off", "123456789012", Some(Cadence::Off)), now).await.unwrap();
    assert_eq!(off.schedule.next_due, None);
    let schedules = Schedules::new(e.table.clone());

    // WHEN paging the due-index at 02:30 three at a time
    let at = utc("2026-05-01T02:30:00Z");
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let (page, next) = schedules.due(at, 3, cursor).await.unwrap();
        assert!(page.len() <= 3);
        pages += 1;
        seen.extend(page);
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    // THEN exactly the seven due at 02:00 come back, in due order
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert!(pages >= 3);
    assert!(seen.iter().all(|s| s.next_due == Some(utc("2026-05-01T02:00:00Z"))));
    assert!(schedules.due(utc("2026-05-01T01:59:59Z"), 10, None).await.unwrap().0.is_empty());
    assert_eq!(schedules.due(utc("2026-05-01T03:00:00Z"), 100, None).await.unwrap().0.len(), 8);

    // AND of two planners advancing the same schedule, one wins
    let s = &seen[0];
    let first = schedules.advance(s, chrono_tz::Tz::UTC, at).await.unwrap();
    assert_eq!(first.as_ref().and_then(|n| n.next_due), Some(utc("2026-05-02T02:00:00Z")));
    assert_eq!(schedules.advance(s, chrono_tz::Tz::UTC, at).await.unwrap(), None, "the loser learns it lost");
    assert_eq!(schedules.due(at, 100, None).await.unwrap().0.len(), 6);
}

#[tokio::test]
async fn a_schedule_indexed_before_sharding_still_fires_and_moves_to_its_shard() {
    // GIVEN a schedule whose due-index entry sits in the unsharded `DUE` partition.
    let e = env();
    let t = tenant("legacy");
    e.store.connect(&t, aws("a", "123456789012", None), utc("2026-05-01T00:00:00Z")).await.unwrap();
    let schedules = Schedules::new(e.table.clone());
    let at = utc("2026-05-01T02:30:00Z");
    let due = schedules.due(at, 10, None).await.unwrap().0;
    let key = keys::integration_schedule(&t, &due[0].integration_id);
    let mut item = e.table.get(&key).await.unwrap().unwrap();
    assert_eq!(item.gsi1.as_ref().unwrap().pk, keys::due_index_pk(&t), "new schedules go to the tenant's shard");
    let sk = item.gsi1.as_ref().unwrap().sk.clone();
    item.gsi1 = Some(kushim_adapters::table::Key::new(keys::DUE_INDEX, sk));
    e.table.put(item, None).await.unwrap();

    // WHEN the planner reads the due-index, THEN it is found, and advancing it re-indexes it in its shard.
    let due = schedules.due(at, 10, None).await.unwrap().0;
    assert_eq!(due.len(), 1);
    schedules.advance(&due[0], chrono_tz::Tz::UTC, at).await.unwrap().unwrap();
    let moved = e.table.get(&key).await.unwrap().unwrap();
    assert_eq!(moved.gsi1.unwrap().pk, keys::due_index_pk(&t));
    assert!(schedules.due(at, 10, None).await.unwrap().0.is_empty());
}

#[tokio::test]
async fn schedules_follow_the_tenants_zone_across_the_spring_forward_day() {
    let e = env();
    let t = tenant("berlin");
    set_tenant_zone(e.table.as_ref(), &t, "Europe/Berlin").await;
    let connected = e.store.connect(&t, aws("a", "123456789012", None), utc("2026-03-28T12:00:00Z")).await.unwrap();
    assert_eq!(connected.schedule.time_zone, "Europe/Berlin");
    // 02:00 does not exist in Berlin on 29 March 2026: it fires at 03:00 CEST = 01:00 UTC.
    assert_eq!(connected.schedule.next_due, Some(utc("2026-03-29T01:00:00Z")));
    let schedules = Schedules::new(e.table.clone());
    let due = schedules.due(utc("2026-03-29T01:00:00Z"), 10, None).await.unwrap().0;
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let next = schedules.advance(&due[0], berlin, utc("2026-03-29T01:00:05Z")).await.unwrap().unwrap();
    assert_eq!(next.next_due, Some(utc("2026-03-30T00:00:00Z")), "02:00 CEST the next day");
    // A tenant without a valid zone runs in UTC.
    set_tenant_zone(e.table.as_ref(), &tenant("nowhere"), "Mars/Olympus").await;
    let c = e.store.connect(&tenant("nowhere"), aws("a", "123456789012", None), utc("2026-03-28T12:00:00Z")).await;
    assert_eq!(c.unwrap().schedule.next_due, Some(utc("2026-03-29T02:00:00Z")));
}

fn all_bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_bytes_under(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap());
        }
    }
    out
}

#[tokio::test]
async fn credentials_reach_only_the_secrets_port() {
    // GIVEN a GitHub integration connected with a token, then rotated
    let e = env();
    let t = tenant("acme");
    let now = Utc::now();
    let first = "ghp_FirstTokenValue0123456789abcdef";
    let second = "ghp_RotatedTokenValue9876543210fedcba";
    let creds = |tok: &str| Credentials::parse(IntegrationKind::Github, json!({ "token": tok })).unwrap();
    let new = NewIntegration {
        display_name: "GitHub".into(),
        settings: IntegrationSettings::Github(GithubSettings { organization: "acme".into() }),
        credentials: Some(creds(first)),
        cadence: None,
    };
    let c = e.store.connect(&t, new, now).await.unwrap();
    assert!(c.integration.has_credentials);
    let patch = IntegrationPatch { credentials: Some(creds(second)), ..IntegrationPatch::default() };
    e.store.update(&t, &c.integration.id, patch, now).await.unwrap();

    // THEN no byte of the data directory holds either token in clear (table, WAL, secrets file)
    let bytes = all_bytes_under(e.dir.path());
    for token in [first, second] {
        assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "{token} found in clear on disk");
    }
    // AND the stored item says only that there are credentials
    let item = e.table.get(&keys::integration(&t, &c.integration.id)).await.unwrap().unwrap();
    assert!(!serde_json::to_string(&item.attrs).unwrap().contains("ghp_"));
    // AND the connector can read the rotated value back
    let Some(Credentials::Github { token }) = e.store.credentials(&t, &c.integration.id).await.unwrap() else {
        panic!("credentials expected");
    };
    assert_eq!(token.expose_secret(), second);
    // AND deleting the integration deletes the secret
    e.store.delete(&t, &c.integration.id).await.unwrap();
    assert!(e.store.credentials(&t, &c.integration.id).await.unwrap().is_none());
    assert!(matches!(e.store.get(&t, &c.integration.id).await, Err(Error::NotFound)));
}

#[tokio::test]
async fn the_external_id_is_generated_once_per_tenant() {
    let e = env();
    let now = Utc::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = e.store.clone();
        tasks.push(tokio::spawn(async move { store.external_id(&tenant("acme"), now).await.unwrap() }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one ExternalId per tenant: {ids:?}");
    assert!(ids[0].len() >= 32 && ids[0].starts_with("kushim-"));
    assert_ne!(e.store.external_id(&tenant("other"), now).await.unwrap(), ids[0]);
    let c = e.store.connect(&tenant("acme"), aws("a", "123456789012", None), now).await.unwrap();
    assert_eq!(c.external_id.as_deref(), Some(ids[0].as_str()));
}

#[tokio::test]
async fn connecting_checks_kinds_credentials_and_the_per_tenant_cap() {
    let e = env();
    let t = tenant("acme");
    let now = Utc::now();
    let gh = NewIntegration {
        display_name: "GitHub".into(),
        settings: IntegrationSettings::Github(GithubSettings { organization: "acme".into() }),
        credentials: None,
        cadence: None,
    };
    assert!(matches!(e.store.connect(&t, gh, now).await, Err(Error::Invalid(_))), "GitHub needs a token");
    assert!(matches!(e.store.connect(&t, aws("", "123456789012", None), now).await, Err(Error::Invalid(_))));
    for n in 0..25 {
        e.store.connect(&t, aws(&format!("a{n}"), "123456789012", None), now).await.unwrap();
    }
    assert!(matches!(e.store.connect(&t, aws("one more", "123456789012", None), now).await, Err(Error::Conflict(_))));
    assert_eq!(e.store.list(&t).await.unwrap().len(), 25);
}

#[tokio::test]
async fn enabled_regions_drive_the_aws_slices() {
    let e = env();
    let t = tenant("acme");
    let now = Utc::now();
    let mut new = aws("a", "123456789012", None);
    if let IntegrationSettings::Aws(s) = &mut new.settings {
        s.accounts.push(AwsAccount {
            account_id: "210987654321".into(),
            role_arn: "arn:aws:iam::210987654321:role/KushimReadOnly".into(),
        });
        s.regions = Some(vec!["eu-west-1".into(), "us-east-1".into()]);
    }
    let c = e.store.connect(&t, new, now).await.unwrap();
    let slicer = AwsSlicer::default();
    // Never discovered: sliced over the allow-list, with the regions job that discovers them.
    let allow = ["eu-west-1".to_owned(), "us-east-1".to_owned()];
    let mut first = builtin_aws_slices("123456789012", &allow);
    first.extend(builtin_aws_slices("210987654321", &allow));
    assert_eq!(slicer.slices(&c.integration), first);
    let regions = ["eu-west-1".to_owned(), "eu-central-1".to_owned()];
    let updated = e.store.set_enabled_regions(&t, &c.integration.id, "123456789012", &regions, now).await.unwrap();
    let slices = slicer.slices(&updated);
    // The allow-list keeps eu-west-1 only; the second account is still sliced over the allow-list.
    let mut expected = builtin_aws_slices("123456789012", &["eu-west-1".to_owned()]);
    expected.extend(builtin_aws_slices("210987654321", &allow));
    assert_eq!(slices, expected);
    assert!(slices.contains(&"123456789012/eu-west-1/kms".to_owned()));
    assert!(
        e.store.set_enabled_regions(&t, &c.integration.id, "999999999999", &regions, now).await.is_err(),
        "unknown account"
    );
}

/// A queue that refuses chosen entries of chosen calls, and counts calls.
#[derive(Default)]
struct FlakyQueue {
    calls: AtomicUsize,
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Queue for FlakyQueue {
    async fn send_batch(
        &self,
        _queue: &str,
        messages: Vec<OutgoingMessage>,
    ) -> kushim_adapters::Result<Vec<SendOutcome>> {
        assert!(messages.len() <= 10, "SendMessageBatch takes at most ten entries");
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call == 1 {
            return Err(AdapterError::Throttled("slow down".into()));
        }
        let mut out = Vec::new();
        for (n, m) in messages.into_iter().enumerate() {
            // The first call refuses every third entry (retryably).
            if call == 0 && n % 3 == 0 {
                out.push(SendOutcome::Failed { code: "InternalError".into(), retryable: true });
            } else {
                self.sent.lock().unwrap().push(m.body);
                out.push(SendOutcome::Sent(format!("m{call}-{n}")));
            }
        }
        Ok(out)
    }
    async fn receive(
        &self,
        _: &str,
        _: usize,
        _: Duration,
        _: Option<Duration>,
    ) -> kushim_adapters::Result<Vec<ReceivedMessage>> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str, _: &str) -> kushim_adapters::Result<()> {
        Ok(())
    }
    async fn change_visibility(&self, _: &str, _: &str, _: Duration) -> kushim_adapters::Result<()> {
        Ok(())
    }
    async fn counts(&self, _: &str) -> kushim_adapters::Result<QueueCounts> {
        Ok(QueueCounts::default())
    }
}

fn jobs(n: usize) -> Vec<Job> {
    let run = RunId::new("r1").unwrap();
    (0..n)
        .map(|k| {
            let key = format!("r1/i1/123456789012/global/f{k}");
            Job {
                job_id: job_id(&key),
                tenant_id: tenant("acme"),
                run_id: run.clone(),
                idempotency_key: key,
                kind: JobKind::Collect { integration_id: IntegrationId::new("i1").unwrap(), slice: format!("f{k}") },
            }
        })
        .collect()
}

#[tokio::test]
async fn enqueue_retries_only_the_refused_entries() {
    // GIVEN 12 jobs and a queue whose first call refuses entries 0, 3, 6, 9 and whose second call fails
    let q = FlakyQueue::default();
    let jobs = jobs(12);
    // WHEN they are enqueued
    let calls = enqueue(&q, "AwsJobsQueue", &jobs).await.unwrap();
    // THEN batch one took 3 calls (partial, throttled, the 4 refused), batch two 1 call
    assert_eq!(calls, 4);
    assert_eq!(q.calls.load(Ordering::SeqCst), 4);
    // AND every job was sent exactly once
    let mut sent: Vec<Job> = q.sent.lock().unwrap().iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    sent.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    let mut expected = jobs.clone();
    expected.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn enqueue_on_the_embedded_queue_uses_one_call_per_ten_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let q = EmbeddedQueue::open(dir.path()).unwrap();
    q.create_queue(QueueConfig::new("AwsJobsQueue")).await.unwrap();
    assert_eq!(enqueue(&q, "AwsJobsQueue", &jobs(25)).await.unwrap(), 3);
    assert_eq!(q.counts("AwsJobsQueue").await.unwrap().visible, 25);
    assert!(matches!(enqueue(&q, "NoSuchQueue", &jobs(1)).await, Err(Error::Storage(_))));
}

#[test]
fn job_ids_and_keys_are_deterministic() {
    let run = RunId::new("r1").unwrap();
    let i = IntegrationId::new("i1").unwrap();
    let key = kushim_integrations::planner::idempotency_key(&run, &i, "123456789012/eu-west-1/kms");
    assert_eq!(key, "r1/i1/123456789012/eu-west-1/kms");
    assert_eq!(job_id(&key), job_id(&key));
    assert_ne!(job_id(&key), job_id("r1/i1/123456789012/eu-west-1/ebs"));
    assert_eq!(job_id(&key).as_str().len(), 32);
}

/// A queue that refuses every entry permanently.
struct RefusingQueue;

#[async_trait]
impl Queue for RefusingQueue {
    async fn send_batch(&self, _: &str, m: Vec<OutgoingMessage>) -> kushim_adapters::Result<Vec<SendOutcome>> {
        Ok(m.iter().map(|_| SendOutcome::Failed { code: "InvalidMessageContents".into(), retryable: false }).collect())
    }
    async fn receive(
        &self,
        _: &str,
        _: usize,
        _: Duration,
        _: Option<Duration>,
    ) -> kushim_adapters::Result<Vec<ReceivedMessage>> {
        Ok(Vec::new())
    }
    async fn delete(&self, _: &str, _: &str) -> kushim_adapters::Result<()> {
        Ok(())
    }
    async fn change_visibility(&self, _: &str, _: &str, _: Duration) -> kushim_adapters::Result<()> {
        Ok(())
    }
    async fn counts(&self, _: &str) -> kushim_adapters::Result<QueueCounts> {
        Ok(QueueCounts::default())
    }
}

#[tokio::test]
async fn an_on_demand_run_whose_jobs_cannot_be_enqueued_is_closed_and_frees_its_integrations() {
    // GIVEN an AWS integration and a queue that refuses every job
    let e = env();
    let t = tenant("acme");
    e.store.connect(&t, aws("a", "123456789012", None), Utc::now()).await.unwrap();
    let queues = JobQueues { aws: Some("AwsJobsQueue".into()) };
    let broken = Planner::new(e.table.clone(), Arc::new(RefusingQueue), queues.clone(), Arc::new(discovery_only()));
    // WHEN a run is started
    let err = broken.start_on_demand(&t, None, Utc::now()).await.unwrap_err();
    // THEN the caller learns the jobs were not enqueued, the run reads timed out at once
    assert!(matches!(err, Error::Enqueue(_)), "{err:?}");
    let (runs, _) = Runs::new(e.table.clone()).list(&t, 10, None).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::TimedOut);
    // AND a retry with a working queue is not refused as busy
    let qdir = tempfile::tempdir().unwrap();
    let q = EmbeddedQueue::open(qdir.path()).unwrap();
    q.create_queue(QueueConfig::new("AwsJobsQueue")).await.unwrap();
    let working = Planner::new(e.table.clone(), Arc::new(q), queues, Arc::new(discovery_only()));
    let started = working.start_on_demand(&t, None, Utc::now()).await.unwrap();
    assert_eq!((started.run.counters.total, started.send_batch_calls), (1, 1));
}

#[tokio::test]
async fn a_pass_out_of_time_leaves_the_remaining_tenants_due_for_the_next_one() {
    // GIVEN three tenants due at 02:00
    let e = env();
    let connected_at = utc("2026-06-01T00:00:00Z");
    for t in ["t1", "t2", "t3"] {
        e.store.connect(&tenant(t), aws("a", "123456789012", None), connected_at).await.unwrap();
    }
    let qdir = tempfile::tempdir().unwrap();
    let q = EmbeddedQueue::open(qdir.path()).unwrap();
    q.create_queue(QueueConfig::new("AwsJobsQueue")).await.unwrap();
    let queues = JobQueues { aws: Some("AwsJobsQueue".into()) };
    let planner = Planner::new(e.table.clone(), Arc::new(q), queues, Arc::new(discovery_only()));
    let now = utc("2026-06-01T02:01:00Z");

    // WHEN a pass has no time left to start a tenant
    let report = planner.clone().with_budget(Duration::ZERO).run_once(now).await.unwrap();

    // THEN nothing is planned and every schedule stays due; the next pass plans them all
    assert_eq!((report.tenants, report.deferred_tenants, report.runs_created), (3, 3, 0));
    let report = planner.run_once(now).await.unwrap();
    assert_eq!((report.due, report.deferred_tenants, report.runs_created, report.jobs_enqueued), (3, 0, 3, 3));
}
