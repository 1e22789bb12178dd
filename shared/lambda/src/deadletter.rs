//! Dead-letter queues: what failed, why, and putting it back.
//!
//! A consumer calls [`record_failure`] whenever a job fails for a reason that returns it to the
//! queue; after `maxReceiveCount` receives SQS moves the message to the DLQ untouched, and the
//! stored failure says why it got there. [`DeadLetters`] lists and redrives dead jobs with the
//! Queue port alone (SQS `StartMessageMoveTask` is not emulated locally): receive a batch, send
//! each chosen message to its source queue with the same body (so the same idempotency key), then
//! delete it from the DLQ; anything not chosen, or whose send failed, is made visible again at
//! once. Nothing is deleted before its copy is accepted, so a crash mid-way can duplicate a job
//! (which idempotency keys absorb) but never lose one. Listing can be limited to one tenant, so
//! tenant admins see only their own jobs.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kushim_adapters::Result;
use kushim_adapters::keys;
use kushim_adapters::queue::{MAX_BATCH, OutgoingMessage, Queue, ReceivedMessage, SendOutcome};
use kushim_adapters::table::{Item, Table};
use kushim_domain::{Job, TenantId};
use serde::{Deserialize, Serialize};

/// How long a stored failure is kept (the DLQ keeps messages 14 days).
const FAILURE_TTL_SECS: i64 = 15 * 24 * 3600;
/// How long listed messages are hidden while a listing or redrive pass reads the DLQ.
const PASS_VISIBILITY: Duration = Duration::from_secs(30);
/// Longest stored error text.
const MAX_ERROR_CHARS: usize = 500;

fn epoch_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Records why a job failed this time (its last error is what the DLQ listing shows). The text
/// must already be free of secrets; it is cut to 500 characters.
pub async fn record_failure(table: &dyn Table, job: &Job, error: &str, receive_count: u32) -> Result<()> {
    let now = epoch_seconds();
    let item = Item::new(keys::job_failure(&job.tenant_id, &job.idempotency_key))
        .with("job_id", job.job_id.as_str())
        .with("last_error", error.chars().take(MAX_ERROR_CHARS).collect::<String>())
        .with("receive_count", receive_count)
        .with("failed_at", now)
        .expiring_at(now + FAILURE_TTL_SECS);
    table.put(item, None).await
}

/// The stored last failure of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastFailure {
    /// The error text.
    pub last_error: String,
    /// The receive that failed.
    pub receive_count: u32,
    /// When (epoch seconds).
    pub failed_at: i64,
}

/// One message resting in a DLQ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// The SQS message id.
    pub message_id: String,
    /// The job, when the body is a job envelope (poison messages are not).
    pub job: Option<Job>,
    /// Why the body is not a job, for poison messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// Receives so far (those from the source queue included).
    pub receive_count: u32,
    /// When it was first sent (epoch milliseconds).
    pub sent_at_ms: i64,
    /// The job's last recorded failure.
    pub last_failure: Option<LastFailure>,
    /// The body's size in bytes.
    pub size: usize,
}

/// Which messages a redrive moves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Only jobs of this tenant.
    pub tenant: Option<TenantId>,
    /// Only these message ids (all, when `None`).
    pub message_ids: Option<BTreeSet<String>>,
}

impl Selection {
    fn matches(&self, message: &ReceivedMessage, job: Option<&Job>) -> bool {
        let tenant_ok = match (&self.tenant, job) {
            (None, _) => true,
            (Some(t), Some(job)) => &job.tenant_id == t,
            (Some(_), None) => false,
        };
        tenant_ok && self.message_ids.as_ref().is_none_or(|ids| ids.contains(&message.message_id))
    }
}

/// What a redrive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RedriveReport {
    /// Sent back to the source queue and deleted from the DLQ.
    pub moved: usize,
    /// Looked at and left in place (not selected).
    pub skipped: usize,
    /// Selected but not moved (the send was refused); still in the DLQ.
    pub failed: usize,
}

/// Lists and redrives one DLQ.
#[derive(Clone)]
pub struct DeadLetters {
    queue: Arc<dyn Queue>,
    table: Arc<dyn Table>,
}

impl DeadLetters {
    /// Over the queue and table ports.
    pub fn new(queue: Arc<dyn Queue>, table: Arc<dyn Table>) -> Self {
        Self { queue, table }
    }

    async fn last_failure(&self, job: &Job) -> Option<LastFailure> {
        let item = self.table.get(&keys::job_failure(&job.tenant_id, &job.idempotency_key)).await.ok()??;
        item.parse().ok()
    }

    /// Receives up to `max` messages (several receives; each message once), hidden for one pass.
    async fn receive_pass(&self, dlq: &str, max: usize) -> Result<Vec<ReceivedMessage>> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        while out.len() < max {
            let want = (max - out.len()).min(MAX_BATCH);
            let batch = self.queue.receive(dlq, want, Duration::ZERO, Some(PASS_VISIBILITY)).await?;
            if batch.is_empty() {
                break;
            }
            for m in batch {
                if seen.insert(m.message_id.clone()) {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    async fn release(&self, dlq: &str, messages: &[ReceivedMessage]) {
        for m in messages {
            if let Err(e) = self.queue.change_visibility(dlq, &m.receipt_handle, Duration::ZERO).await {
                // It comes back by itself when the pass visibility ends.
                tracing::warn!(message_id = %m.message_id, error = %e, "could not release a dead letter at once");
            }
        }
    }

    /// Up to `max` messages of the DLQ (of one tenant, when given), each with its job and last
    /// failure. The messages stay in the DLQ, visible again as soon as the listing is done.
    pub async fn list(&self, dlq: &str, tenant: Option<&TenantId>, max: usize) -> Result<Vec<DeadLetter>> {
        let messages = self.receive_pass(dlq, max).await?;
        let mut out = Vec::new();
        for m in &messages {
            let parsed = serde_json::from_str::<Job>(&m.body);
            let job = parsed.as_ref().ok().cloned();
            if tenant.is_some_and(|t| job.as_ref().is_none_or(|j| &j.tenant_id != t)) {
                continue;
            }
            let last_failure = match &job {
                Some(j) => self.last_failure(j).await,
                None => None,
            };
            out.push(DeadLetter {
                message_id: m.message_id.clone(),
                unreadable: parsed.err().map(|e| e.to_string()),
                job,
                receive_count: m.receive_count,
                sent_at_ms: m.sent_at_ms,
                last_failure,
                size: m.body.len(),
            });
        }
        self.release(dlq, &messages).await;
        out.sort_by(|a, b| (a.sent_at_ms, &a.message_id).cmp(&(b.sent_at_ms, &b.message_id)));
        Ok(out)
    }

    /// Moves the selected messages (up to `max` looked at) back to `source`, unchanged.
    pub async fn redrive(&self, dlq: &str, source: &str, selection: &Selection, max: usize) -> Result<RedriveReport> {
        let messages = self.receive_pass(dlq, max).await?;
        let mut report = RedriveReport::default();
        let mut chosen = Vec::new();
        let mut keep = Vec::new();
        for m in messages {
            let job = serde_json::from_str::<Job>(&m.body).ok();
            if selection.matches(&m, job.as_ref()) { chosen.push(m) } else { keep.push(m) }
        }
        report.skipped = keep.len();
        for batch in chosen.chunks(MAX_BATCH) {
            let outgoing = batch
                .iter()
                .map(|m| OutgoingMessage { attributes: m.attributes.clone(), ..OutgoingMessage::new(&m.body) });
            let outcomes = match self.queue.send_batch(source, outgoing.collect()).await {
                Ok(o) => o,
                Err(e) => {
                    self.release(dlq, batch).await;
                    self.release(dlq, &keep).await;
                    return Err(e);
                }
            };
            for (m, outcome) in batch.iter().zip(outcomes) {
                match outcome {
                    SendOutcome::Sent(_) => match self.queue.delete(dlq, &m.receipt_handle).await {
                        Ok(()) => report.moved += 1,
                        // The copy is in the source queue; the original reappears in the DLQ and a
                        // later redrive sends a duplicate, which the idempotency key absorbs.
                        Err(e) => {
                            tracing::warn!(message_id = %m.message_id, error = %e, "redriven but not deleted");
                            report.moved += 1;
                        }
                    },
                    SendOutcome::Failed { code, .. } => {
                        tracing::warn!(message_id = %m.message_id, code = %code, "redrive refused; left in the DLQ");
                        report.failed += 1;
                        keep.push(m.clone());
                    }
                }
            }
        }
        self.release(dlq, &keep).await;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::queue::embedded::{EmbeddedQueue, QueueConfig};
    use kushim_adapters::table::embedded::EmbeddedTable;
    use kushim_domain::{IntegrationId, JobId, JobKind, RunId};

    fn job(tenant: &str, n: u32) -> Job {
        Job {
            job_id: JobId::new(format!("j{n}")).unwrap(),
            tenant_id: TenantId::new(tenant).unwrap(),
            run_id: RunId::new("r1").unwrap(),
            idempotency_key: format!("r1/i1/slice-{n}"),
            kind: JobKind::Collect { integration_id: IntegrationId::new("i1").unwrap(), slice: format!("slice-{n}") },
        }
    }

    struct Env {
        queue: Arc<EmbeddedQueue>,
        table: Arc<EmbeddedTable>,
        dead: DeadLetters,
        _dir: tempfile::TempDir,
    }

    /// GIVEN a source queue whose messages die after two receives, and three jobs of two tenants
    /// plus one unreadable message that all failed twice.
    async fn env_with_dead_jobs() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let queue = Arc::new(EmbeddedQueue::open(dir.path()).unwrap());
        let table = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
        let config = |name: &str, dlq: Option<&str>| QueueConfig {
            name: name.into(),
            visibility_timeout: Duration::from_secs(30),
            retention: Duration::from_secs(14 * 24 * 3600),
            delay: Duration::ZERO,
            max_receive_count: dlq.map(|_| 2),
            dead_letter_queue: dlq.map(str::to_owned),
        };
        queue.create_queue(config("dlq", None)).await.unwrap();
        queue.create_queue(config("jobs", Some("dlq"))).await.unwrap();
        let mut bodies: Vec<String> = [job("acme", 1), job("acme", 2), job("globex", 3)]
            .iter()
            .map(|j| serde_json::to_string(j).unwrap())
            .collect();
        bodies.push("{not a job".into());
        queue.send_all("jobs", bodies.into_iter().map(OutgoingMessage::new).collect()).await.unwrap();
        for attempt in 1..=2u32 {
            let got = queue.receive("jobs", 10, Duration::ZERO, Some(Duration::ZERO)).await.unwrap();
            assert_eq!(got.len(), 4, "attempt {attempt}");
            for m in got {
                if let Ok(j) = serde_json::from_str::<Job>(&m.body) {
                    record_failure(table.as_ref(), &j, &format!("throttled (attempt {attempt})"), m.receive_count)
                        .await
                        .unwrap();
                }
            }
        }
        // The third receive moves them all to the DLQ instead of delivering them.
        assert!(queue.receive("jobs", 10, Duration::ZERO, None).await.unwrap().is_empty());
        let dead = DeadLetters::new(queue.clone(), table.clone());
        Env { queue, table, dead, _dir: dir }
    }

    #[tokio::test]
    async fn dead_jobs_are_listed_with_their_last_error_and_stay_in_the_dlq() {
        let env = env_with_dead_jobs().await;
        let all = env.dead.list("dlq", None, 100).await.unwrap();
        assert_eq!(all.len(), 4);
        let poison = all.iter().find(|d| d.job.is_none()).unwrap();
        assert!(poison.unreadable.is_some());
        let one = all.iter().find(|d| d.job.as_ref().is_some_and(|j| j.job_id.as_str() == "j1")).unwrap();
        let failure = one.last_failure.as_ref().unwrap();
        assert_eq!((failure.last_error.as_str(), failure.receive_count), ("throttled (attempt 2)", 2));
        // Listing again sees the same messages: nothing was consumed.
        assert_eq!(env.dead.list("dlq", None, 100).await.unwrap().len(), 4);
        let acme = env.dead.list("dlq", Some(&TenantId::new("acme").unwrap()), 100).await.unwrap();
        assert_eq!(acme.len(), 2);
        assert!(acme.iter().all(|d| d.job.as_ref().unwrap().tenant_id.as_str() == "acme"));
        let _ = &env.table;
    }

    #[tokio::test]
    async fn redrive_moves_only_the_selection_back_with_the_same_body() {
        let env = env_with_dead_jobs().await;
        let selection = Selection { tenant: Some(TenantId::new("acme").unwrap()), message_ids: None };
        let report = env.dead.redrive("dlq", "jobs", &selection, 100).await.unwrap();
        assert_eq!(report, RedriveReport { moved: 2, skipped: 2, failed: 0 });
        let back = env.queue.receive("jobs", 10, Duration::ZERO, None).await.unwrap();
        let mut keys: Vec<String> =
            back.iter().map(|m| serde_json::from_str::<Job>(&m.body).unwrap().idempotency_key).collect();
        keys.sort();
        assert_eq!(keys, ["r1/i1/slice-1", "r1/i1/slice-2"], "the original idempotency keys");
        assert_eq!(env.dead.list("dlq", None, 100).await.unwrap().len(), 2, "the rest stays dead");

        // One message by id.
        let left = env.dead.list("dlq", None, 100).await.unwrap();
        let globex = left.iter().find(|d| d.job.is_some()).unwrap().message_id.clone();
        let by_id = Selection { tenant: None, message_ids: Some(BTreeSet::from([globex])) };
        let report = env.dead.redrive("dlq", "jobs", &by_id, 100).await.unwrap();
        assert_eq!(report, RedriveReport { moved: 1, skipped: 1, failed: 0 });
        assert_eq!(env.queue.counts("dlq").await.unwrap().visible, 1, "only the poison message is left");
    }
}
