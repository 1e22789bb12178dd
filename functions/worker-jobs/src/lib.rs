//! `worker-jobs`: the consumer of the jobs queue (SQS event source with
//! `ReportBatchItemFailures`), which carries the platform's background work. It reads each job
//! envelope, refuses unreadable ones (they stay in the queue and reach the DLQ), and:
//! - builds auditor packages (`export` jobs) through [`kushim_exports::Exports::build`], which is
//!   idempotent; a build that cannot succeed marks the export failed with its reason, and one that
//!   keeps failing for a transient cause is retried after an exponential backoff (the message's
//!   visibility is shortened to it: the queue's own visibility timeout outlasts a 15-minute build)
//!   and marked failed on its last receive before the message rests in the DLQ;
//! - records other jobs exactly once under their idempotency key, acknowledging redeliveries
//!   without redoing work (collection jobs have their own connector queues).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::queue::Queue;
use kushim_adapters::table::{Condition, Item, Table};
use kushim_domain::{Job, JobKind};
use kushim_exports::Exports;
use kushim_lambda::sqs::{MessageError, drive_batch};
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_runtime::LambdaEvent;

/// Messages processed at once within one batch.
pub const CONCURRENCY: usize = 4;
/// The jobs queue's `maxReceiveCount` (template.yaml): the receive after which a failing message
/// rests in the DLQ.
pub const MAX_RECEIVES: u32 = 5;

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct State {
    table: Arc<dyn Table>,
    exports: Exports,
    /// The jobs queue (its URL, and the port), to set a failed build's retry backoff; without it
    /// the queue's visibility timeout applies.
    queue: Option<(String, Arc<dyn Queue>)>,
}

impl State {
    /// Picks the ports this function uses.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let queue = config.jobs_queue.clone().zip(backends.queue().ok());
        Ok(Self { exports: Exports::new(table.clone(), backends.blobs()?, backends.secrets()?), table, queue })
    }

    /// Uses `queue` (at `url`) for retry backoffs (builder style).
    pub fn with_queue(mut self, url: &str, queue: Arc<dyn Queue>) -> Self {
        self.queue = Some((url.to_owned(), queue));
        self
    }
}

/// How long a failed build waits before its next attempt: 30 s, doubling per receive, at most 15 min.
pub fn backoff(receive_count: u32) -> Duration {
    Duration::from_secs((30u64 << receive_count.saturating_sub(1).min(5)).min(900))
}

/// What happened to one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// First delivery: recorded.
    Recorded,
    /// Already recorded by an earlier delivery: acknowledged without work.
    Duplicate,
}

/// Processes one job.
pub async fn process(state: &State, job: &Job, message_id: &str) -> Result<Outcome, AdapterError> {
    let key = keys::job_done(&job.tenant_id, &job.idempotency_key);
    let item = Item::new(key)
        .with("job_id", job.job_id.as_str())
        .with("run_id", job.run_id.as_str())
        .with("kind", serde_json::to_value(&job.kind).unwrap_or_default())
        .with("message_id", message_id)
        .with("recorded_at", epoch_seconds());
    match state.table.put(item, Some(Condition::NotExists)).await {
        Ok(()) => Ok(Outcome::Recorded),
        Err(AdapterError::ConditionFailed) => Ok(Outcome::Duplicate),
        Err(e) => Err(e),
    }
}

fn epoch_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// Builds one export's package.
async fn build_export(state: &State, job: &Job, export_id: &str, receive_count: u32) -> Result<(), MessageError> {
    let now = chrono::Utc::now();
    match state.exports.build(&job.tenant_id, export_id, now).await {
        Ok(record) => {
            tracing::info!(tenant = %job.tenant_id, export = export_id, size = ?record.size, "export ready");
            Ok(())
        }
        Err(e) if e.is_retryable() && receive_count < MAX_RECEIVES => {
            Err(MessageError::Retryable(format!("export build: {e}")))
        }
        Err(e) => {
            let reason = if e.is_retryable() {
                format!("the build kept failing ({MAX_RECEIVES} attempts): {e}")
            } else {
                format!("the build failed: {e}")
            };
            if let Err(fail) = state.exports.fail(&job.tenant_id, export_id, &reason, now).await {
                return Err(MessageError::Retryable(format!("could not record the failure: {fail}")));
            }
            if e.is_retryable() {
                // Leave the message for the DLQ, where an operator can redrive it.
                Err(MessageError::Retryable(reason))
            } else {
                Err(MessageError::Permanent(reason))
            }
        }
    }
}

async fn handle_message(state: &State, msg: SqsMessage) -> Result<(), MessageError> {
    let body = msg.body.as_deref().unwrap_or_default();
    let job: Job = serde_json::from_str(body).map_err(|e| MessageError::Poison(format!("not a job envelope: {e}")))?;
    let message_id = msg.message_id.as_deref().unwrap_or("-");
    if let JobKind::Export { export_id } = &job.kind {
        let receives = msg.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        let outcome = build_export(state, &job, export_id, receives).await;
        if let (Err(MessageError::Retryable(_)), Some((url, queue)), Some(receipt)) =
            (&outcome, &state.queue, msg.receipt_handle.as_deref())
            && receives < MAX_RECEIVES
            && let Err(e) = queue.change_visibility(url, receipt, backoff(receives)).await
        {
            tracing::warn!(error = %e, "could not set the retry backoff; the queue's visibility timeout applies");
        }
        if let Err(MessageError::Retryable(why)) = &outcome {
            // What `kushim dlq list` shows if this was the last attempt.
            if let Err(e) = kushim_lambda::deadletter::record_failure(state.table.as_ref(), &job, why, receives).await {
                tracing::warn!(error = %e, "could not record the job's failure");
            }
        }
        return outcome;
    }
    match process(state, &job, message_id).await {
        Ok(outcome) => {
            tracing::info!(tenant = %job.tenant_id, job = %job.job_id, ?outcome, "job handled");
            Ok(())
        }
        Err(e) if e.is_retryable() => Err(MessageError::Retryable(e.code().to_owned())),
        Err(e) => Err(MessageError::Retryable(format!("storage: {}", e.code()))),
    }
}

/// The Lambda handler.
pub async fn handle(state: &State, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, kushim_lambda::Error> {
    Ok(drive_batch(event.payload, CONCURRENCY, |msg| handle_message(state, msg)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_lambda::backends::EmbeddedSet;

    fn fixture(name: &str) -> SqsEvent {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn state(dir: &std::path::Path) -> State {
        let set = EmbeddedSet::open(dir).unwrap();
        State::new(&Config::from_lookup([]).unwrap(), &set.backends()).unwrap()
    }

    #[tokio::test]
    async fn given_a_batch_with_a_poison_message_then_only_it_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let resp = handle(&state, LambdaEvent::new(fixture("sqs-batch.json"), Default::default())).await.unwrap();
        let failed: Vec<_> = resp.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, ["poison-1"]);
        let t = kushim_domain::TenantId::new("acme").unwrap();
        let rec = state.table.get(&keys::job_done(&t, "run1/int1/eu-west-1")).await.unwrap().expect("recorded");
        assert_eq!(rec.attrs["job_id"], "job1");
    }

    #[tokio::test]
    async fn given_the_same_batch_delivered_three_times_then_each_job_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let event = fixture("sqs-batch.json");
        let job: Job = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(process(&state, &job, "m").await.unwrap(), Outcome::Recorded);
        for _ in 0..3 {
            assert_eq!(process(&state, &job, "m").await.unwrap(), Outcome::Duplicate);
        }
        let page = state
            .table
            .query(kushim_adapters::table::Query::partition("TENANT#acme").begins_with("JOB#"))
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
    }

    #[test]
    fn the_backoff_doubles_from_30_seconds_up_to_15_minutes() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 900, 900, 900]);
    }

    /// A blob store that is unavailable: every export build fails for a transient cause.
    struct Unavailable;

    #[async_trait::async_trait]
    impl kushim_adapters::blob::BlobStore for Unavailable {
        async fn put(
            &self,
            _: &str,
            _: bytes::Bytes,
            _: kushim_adapters::blob::PutOptions,
        ) -> kushim_adapters::Result<kushim_adapters::blob::BlobMeta> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn get(&self, _: &str, _: Option<&str>) -> kushim_adapters::Result<kushim_adapters::blob::Blob> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn head(&self, _: &str, _: Option<&str>) -> kushim_adapters::Result<kushim_adapters::blob::BlobMeta> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn delete(&self, _: &str, _: Option<&str>) -> kushim_adapters::Result<()> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn list(
            &self,
            _: &str,
            _: Option<String>,
            _: u32,
        ) -> kushim_adapters::Result<kushim_adapters::blob::KeyPage> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn presign_get(
            &self,
            _: &str,
            _: Option<&str>,
            _: Duration,
        ) -> kushim_adapters::Result<kushim_adapters::blob::PresignedRequest> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn presign_put(
            &self,
            _: &str,
            _: kushim_domain::Sha256Digest,
            _: &str,
            _: Duration,
        ) -> kushim_adapters::Result<kushim_adapters::blob::PresignedRequest> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
        async fn probe(&self) -> kushim_adapters::Result<()> {
            Err(AdapterError::Unavailable("S3 is away".into()))
        }
    }

    #[tokio::test]
    async fn given_a_build_failing_for_a_transient_cause_then_it_is_retried_after_a_short_backoff() {
        use kushim_adapters::queue::OutgoingMessage;
        use kushim_adapters::queue::embedded::QueueConfig;
        // GIVEN an export whose build cannot store its package, queued with a 90-minute visibility.
        let dir = tempfile::tempdir().unwrap();
        let set = EmbeddedSet::open(dir.path()).unwrap();
        set.queue.create_queue(QueueConfig::new("JobsQueue")).await.unwrap();
        let mut backends = set.backends();
        backends.blobs = Some(Arc::new(Unavailable));
        let config = Config::from_lookup([("JOBS_QUEUE_URL".to_owned(), "JobsQueue".to_owned())]).unwrap();
        let recorder = Arc::new(kushim_testkit::RecordingQueue::new(set.queue.clone()));
        let state = State::new(&config, &backends).unwrap().with_queue("JobsQueue", recorder.clone());
        let tenant = kushim_domain::TenantId::new("acme").unwrap();
        let now = chrono::Utc::now();
        let request = serde_json::from_value(serde_json::json!({
            "framework": "soc2",
            "from": (now - chrono::Duration::days(30)).date_naive(),
            "to": now.date_naive(),
        }))
        .unwrap();
        let export = state.exports.create(&tenant, request, "u1", now).await.unwrap();
        let job = Job {
            job_id: kushim_domain::JobId::new("j1").unwrap(),
            tenant_id: tenant.clone(),
            run_id: kushim_domain::RunId::new(export.id.clone()).unwrap(),
            idempotency_key: format!("export/{}", export.id),
            kind: JobKind::Export { export_id: export.id.clone() },
        };
        let body = serde_json::to_string(&job).unwrap();
        set.queue.send_batch("JobsQueue", vec![OutgoingMessage::new(body)]).await.unwrap();
        let long = Duration::from_secs(5400);
        let received = set.queue.receive("JobsQueue", 1, Duration::ZERO, Some(long)).await.unwrap();

        // WHEN the worker tries to build it
        let mut msg = SqsMessage::default();
        msg.message_id = Some(received[0].message_id.clone());
        msg.receipt_handle = Some(received[0].receipt_handle.clone());
        msg.body = Some(received[0].body.clone());
        msg.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        let outcome = handle_message(&state, msg).await;

        // THEN the message fails, its failure is recorded, and its visibility is cut to the first
        // backoff (30 s) instead of the queue's 90 minutes.
        assert!(matches!(outcome, Err(MessageError::Retryable(_))), "{outcome:?}");
        let failure = state.table.get(&keys::job_failure(&tenant, &job.idempotency_key)).await.unwrap();
        assert!(failure.is_some_and(|f| f.attrs["last_error"].as_str().unwrap().contains("S3 is away")));
        assert_eq!(recorder.visibility_changes(), vec![Duration::from_secs(30)]);
        assert_eq!(set.queue.receive("JobsQueue", 1, Duration::ZERO, None).await.unwrap().len(), 0, "not yet");
    }
}
