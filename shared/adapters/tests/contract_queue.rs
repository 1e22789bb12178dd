//! Contract suite for the Queue port. Every assertion function runs twice: against the embedded
//! adapter (SQLite in a temporary directory) and against SQS in moto (queues provisioned from the
//! template by `kushim_testkit::fresh_stack`). Test names read `embedded::<case>` and `sqs::<case>`.
//!
//! Each run gets the template's queues (JobsQueue with its dead-letter queue and their real
//! settings), a plain queue with SQS defaults, and a "fast" pair whose redrive policy allows two
//! receives, so the dead-letter path can be checked quickly as well as with the template's count.
//! Visibility timeouts are whole seconds on SQS, so the timing checks use 1 s and wait a little
//! longer.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use common::{assert_invalid, assert_not_found};
use kushim_adapters::queue::embedded::{EmbeddedQueue, QueueConfig};
use kushim_adapters::queue::{MAX_BATCH, OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome};
use kushim_testkit::kushim_template::{QueueDef, bundled};

/// What each case is handed: queue addresses as the adapter wants them (names for the embedded
/// adapter, URLs for SQS).
struct Queues {
    /// SQS defaults: 30 s visibility, no delay, no dead-letter queue.
    plain: String,
    /// The template's JobsQueue.
    jobs: String,
    /// The template's JobsDeadLetterQueue.
    jobs_dlq: String,
    /// A queue whose messages move to `fast_dlq` after 2 receives.
    fast: String,
    /// Dead-letter queue of `fast`.
    fast_dlq: String,
    /// A queue that does not exist.
    missing: String,
}

const FAST_MAX_RECEIVES: u32 = 2;

fn jobs_def() -> &'static QueueDef {
    bundled().queue("JobsQueue").expect("the template declares JobsQueue")
}

fn message(body: &str) -> OutgoingMessage {
    OutgoingMessage::new(body)
}

fn sent_ids(outcomes: &[SendOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            SendOutcome::Sent(id) => id.clone(),
            other => panic!("expected Sent, got {other:?}"),
        })
        .collect()
}

async fn send(q: &dyn Queue, queue: &str, body: &str) -> String {
    sent_ids(&q.send_batch(queue, vec![message(body)]).await.unwrap()).remove(0)
}

/// Receives exactly one message, waiting up to a few seconds for it.
async fn receive_one(q: &dyn Queue, queue: &str, visibility: Option<Duration>) -> ReceivedMessage {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let mut got = q.receive(queue, 1, Duration::from_secs(2), visibility).await.unwrap();
        if let Some(m) = got.pop() {
            assert!(got.is_empty(), "asked for one message");
            return m;
        }
        assert!(Instant::now() < deadline, "no message arrived on {queue}");
    }
}

/// Receives nothing right now.
async fn assert_empty(q: &dyn Queue, queue: &str) {
    let got = q.receive(queue, MAX_BATCH, Duration::ZERO, None).await.unwrap();
    assert!(got.is_empty(), "expected no visible message, got {got:?}");
}

// ---- Shared contract: each runs against both adapters. ----

async fn send_batch_holds_at_most_ten(q: &dyn Queue, n: &Queues) {
    // WHEN ten messages are sent in one batch
    let batch: Vec<_> = (0..10).map(|i| message(&format!("m{i}"))).collect();
    let ids = sent_ids(&q.send_batch(&n.plain, batch).await.unwrap());
    // THEN each gets its own id
    assert_eq!(ids.len(), 10);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 10, "ids are unique");
    // AND eleven, none, an empty body or a delay over 15 minutes are refused
    assert_invalid(q.send_batch(&n.plain, (0..11).map(|i| message(&format!("x{i}"))).collect()).await);
    assert_invalid(q.send_batch(&n.plain, Vec::new()).await);
    assert_invalid(q.send_batch(&n.plain, vec![message("ok"), message("")]).await);
    let late = OutgoingMessage { delay: Some(Duration::from_secs(901)), ..message("late") };
    assert_invalid(q.send_batch(&n.plain, vec![late]).await);
    // THEN only the first ten are in the queue
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts { visible: 10, in_flight: 0, delayed: 0 });
}

async fn receive_returns_bodies_and_attributes(q: &dyn Queue, n: &Queues) {
    // GIVEN three messages, two with attributes
    let before_ms = chrono::Utc::now().timestamp_millis() - 1000;
    let attrs = BTreeMap::from([("tenant".to_owned(), "acme".to_owned()), ("kind".to_owned(), "check.run".to_owned())]);
    let outgoing = vec![
        OutgoingMessage { attributes: attrs.clone(), ..message("{\"job\":1}") },
        message("plain body ünïcødé"),
        OutgoingMessage { attributes: BTreeMap::from([("k".to_owned(), "v".to_owned())]), ..message("third") },
    ];
    let ids = sent_ids(&q.send_batch(&n.plain, outgoing.clone()).await.unwrap());
    // WHEN they are received
    let mut got = Vec::new();
    while got.len() < 3 {
        let batch = q.receive(&n.plain, MAX_BATCH, Duration::from_secs(2), None).await.unwrap();
        assert!(!batch.is_empty(), "messages went missing: got {got:?}");
        got.extend(batch);
    }
    // THEN each has its body, attributes, id, a first receive count and its send time
    assert_eq!(got.len(), 3);
    for sent in outgoing.iter().zip(&ids) {
        let (m, id) = sent;
        let r = got.iter().find(|r| &r.message_id == id).unwrap_or_else(|| panic!("message {id} not received"));
        assert_eq!(r.body, m.body);
        assert_eq!(r.attributes, m.attributes);
        assert_eq!(r.receive_count, 1);
        assert!(!r.receipt_handle.is_empty());
        assert!(r.sent_at_ms >= before_ms && r.sent_at_ms <= chrono::Utc::now().timestamp_millis(), "{}", r.sent_at_ms);
    }
    // AND nothing is left to receive
    assert_empty(q, &n.plain).await;
    // AND receive refuses a count outside 1..=10 and a wait over 20 s
    assert_invalid(q.receive(&n.plain, 0, Duration::ZERO, None).await);
    assert_invalid(q.receive(&n.plain, 11, Duration::ZERO, None).await);
    assert_invalid(q.receive(&n.plain, 1, Duration::from_secs(21), None).await);
}

async fn receive_count_grows_with_each_receive(q: &dyn Queue, n: &Queues) {
    // GIVEN one message
    let id = send(q, &n.plain, "again").await;
    let mut handles = HashSet::new();
    for expected in 1..=3 {
        // WHEN it is received and handed back without being deleted
        let m = receive_one(q, &n.plain, None).await;
        // THEN it is the same message with a higher count and a new receipt handle
        assert_eq!(m.message_id, id);
        assert_eq!(m.body, "again");
        assert_eq!(m.receive_count, expected);
        assert!(handles.insert(m.receipt_handle.clone()), "receipt handles differ per receive");
        q.change_visibility(&n.plain, &m.receipt_handle, Duration::ZERO).await.unwrap();
    }
}

async fn received_message_is_invisible_until_its_timeout(q: &dyn Queue, n: &Queues) {
    // GIVEN a message received with a 1 s visibility timeout
    let id = send(q, &n.plain, "hidden").await;
    let first = receive_one(q, &n.plain, Some(Duration::from_secs(1))).await;
    assert_eq!(first.message_id, id);
    // THEN it cannot be received meanwhile, and counts as in flight
    assert_empty(q, &n.plain).await;
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts { visible: 0, in_flight: 1, delayed: 0 });
    // WHEN the timeout passes
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // THEN it comes back, received a second time
    let again = receive_one(q, &n.plain, None).await;
    assert_eq!((again.message_id.as_str(), again.receive_count), (id.as_str(), 2));
}

async fn delete_acknowledges_for_good(q: &dyn Queue, n: &Queues) {
    // GIVEN a received message and one left waiting
    send(q, &n.plain, "done").await;
    let m = receive_one(q, &n.plain, Some(Duration::from_secs(1))).await;
    let other = send(q, &n.plain, "waiting").await;
    // WHEN it is deleted
    q.delete(&n.plain, &m.receipt_handle).await.unwrap();
    // THEN it never comes back, even after its visibility timeout
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rest = q.receive(&n.plain, MAX_BATCH, Duration::from_secs(1), None).await.unwrap();
    assert_eq!(rest.iter().map(|r| r.message_id.clone()).collect::<Vec<_>>(), [other]);
    q.delete(&n.plain, &rest[0].receipt_handle).await.unwrap();
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts::default());
}

async fn change_visibility_returns_or_extends(q: &dyn Queue, n: &Queues) {
    // GIVEN a message received with the default (30 s) visibility
    let id = send(q, &n.plain, "retry me").await;
    let m = receive_one(q, &n.plain, None).await;
    assert_empty(q, &n.plain).await;
    // WHEN its visibility is set to zero
    q.change_visibility(&n.plain, &m.receipt_handle, Duration::ZERO).await.unwrap();
    // THEN it can be received again at once
    let again = receive_one(q, &n.plain, Some(Duration::from_secs(1))).await;
    assert_eq!((again.message_id.as_str(), again.receive_count), (id.as_str(), 2));
    // WHEN a 1 s visibility is extended to 30 s
    q.change_visibility(&n.plain, &again.receipt_handle, Duration::from_secs(30)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // THEN it stays invisible past the original second
    assert_empty(q, &n.plain).await;
    // AND a visibility over 12 hours is refused
    assert_invalid(q.change_visibility(&n.plain, &again.receipt_handle, Duration::from_secs(12 * 3600 + 1)).await);
}

/// Receives the message `receives` times without deleting it, then checks the next receive moves
/// it to `dlq` with its body and attributes intact.
async fn check_redrive(q: &dyn Queue, queue: &str, dlq: &str, receives: u32) {
    // GIVEN a message that every consumer fails on
    let attrs = BTreeMap::from([("tenant".to_owned(), "acme".to_owned())]);
    let outgoing = OutgoingMessage { attributes: attrs.clone(), ..message("poison ☠") };
    let id = sent_ids(&q.send_batch(queue, vec![outgoing]).await.unwrap()).remove(0);
    // WHEN it is received the allowed number of times and handed back each time
    let mut sent_at_ms = None;
    for expected in 1..=receives {
        let m = receive_one(q, queue, None).await;
        assert_eq!((m.message_id.as_str(), m.receive_count), (id.as_str(), expected));
        sent_at_ms = Some(m.sent_at_ms);
        q.change_visibility(queue, &m.receipt_handle, Duration::ZERO).await.unwrap();
    }
    // (Moved a little later, so a send time reset on redrive would show.)
    tokio::time::sleep(Duration::from_millis(20)).await;
    // THEN the next receive does not deliver it: it has moved to the dead-letter queue
    let after = q.receive(queue, MAX_BATCH, Duration::ZERO, None).await.unwrap();
    assert!(after.is_empty(), "the message should have moved to the DLQ, got {after:?}");
    assert_eq!(q.counts(queue).await.unwrap(), QueueCounts::default());
    let dead = receive_one(q, dlq, None).await;
    assert_eq!(dead.message_id, id);
    assert_eq!(dead.body, "poison ☠");
    assert_eq!(dead.attributes, attrs);
    // AND it keeps its original send time: on a standard queue, retention in the DLQ still counts
    // from the first send
    assert_eq!(Some(dead.sent_at_ms), sent_at_ms);
}

async fn dead_letter_after_max_receives(q: &dyn Queue, n: &Queues) {
    check_redrive(q, &n.fast, &n.fast_dlq, FAST_MAX_RECEIVES).await;
}

async fn jobs_queue_redrives_after_the_template_count(q: &dyn Queue, n: &Queues) {
    let max = jobs_def().max_receive_count.expect("JobsQueue has a redrive policy");
    assert_eq!(max, 5);
    check_redrive(q, &n.jobs, &n.jobs_dlq, max).await;
}

async fn jobs_queue_uses_the_template_visibility(q: &dyn Queue, n: &Queues) {
    // GIVEN a job received with the queue's own visibility timeout (the template's 180 s)
    send(q, &n.jobs, "slow job").await;
    let m = receive_one(q, &n.jobs, None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // THEN it is still invisible well after a short timeout would have passed
    assert_empty(q, &n.jobs).await;
    assert_eq!(q.counts(&n.jobs).await.unwrap().in_flight, 1);
    q.delete(&n.jobs, &m.receipt_handle).await.unwrap();
    assert!(jobs_def().visibility_timeout_seconds > 2, "the check above needs a timeout longer than 2 s");
}

async fn counts_separate_visible_in_flight_and_delayed(q: &dyn Queue, n: &Queues) {
    // GIVEN two ready messages and one delayed by a minute
    q.send_batch(
        &n.plain,
        vec![message("a"), message("b"), OutgoingMessage { delay: Some(Duration::from_secs(60)), ..message("later") }],
    )
    .await
    .unwrap();
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts { visible: 2, in_flight: 0, delayed: 1 });
    // WHEN one is received
    let m = receive_one(q, &n.plain, None).await;
    assert_ne!(m.body, "later");
    // THEN it counts as in flight
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts { visible: 1, in_flight: 1, delayed: 1 });
    // AND once deleted it is gone from every count
    q.delete(&n.plain, &m.receipt_handle).await.unwrap();
    assert_eq!(q.counts(&n.plain).await.unwrap(), QueueCounts { visible: 1, in_flight: 0, delayed: 1 });
}

async fn delayed_message_waits_for_its_delay(q: &dyn Queue, n: &Queues) {
    // GIVEN a message sent with a 1 s delay
    let start = Instant::now();
    let delayed = OutgoingMessage { delay: Some(Duration::from_secs(1)), ..message("soon") };
    q.send_batch(&n.plain, vec![delayed]).await.unwrap();
    // THEN it is not receivable at once
    assert_empty(q, &n.plain).await;
    // AND a long poll gets it once the delay has passed, not before
    let m = receive_one(q, &n.plain, None).await;
    assert_eq!(m.body, "soon");
    assert!(start.elapsed() >= Duration::from_millis(900), "delivered after {:?}", start.elapsed());
}

async fn send_all_sends_every_message(q: &dyn Queue, n: &Queues) {
    // WHEN 25 messages are sent at once (three batches)
    let bodies: Vec<String> = (0..25).map(|i| format!("bulk-{i:02}")).collect();
    let ids = q.send_all(&n.plain, bodies.iter().map(|b| message(b)).collect()).await.unwrap();
    // THEN there is one id per message
    assert_eq!(ids.len(), 25);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 25);
    // AND all 25 arrive, each once
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 25 && Instant::now() < deadline {
        for m in q.receive(&n.plain, MAX_BATCH, Duration::from_secs(1), None).await.unwrap() {
            q.delete(&n.plain, &m.receipt_handle).await.unwrap();
            seen.push(m.body);
        }
    }
    seen.sort();
    assert_eq!(seen, bodies);
}

async fn missing_queue_is_not_found(q: &dyn Queue, n: &Queues) {
    assert_not_found(q.send_batch(&n.missing, vec![message("x")]).await);
    assert_not_found(q.receive(&n.missing, 1, Duration::ZERO, None).await);
    assert_not_found(q.counts(&n.missing).await);
}

// ---- Fixtures. ----

async fn embedded_queues(dir: &std::path::Path) -> (EmbeddedQueue, Queues) {
    let queue = EmbeddedQueue::open(dir).unwrap();
    // The template's queues, dead-letter queues first, with the template's settings.
    let mut defs: Vec<&QueueDef> = bundled().queues.iter().collect();
    defs.sort_by_key(|d| d.dead_letter_queue.is_some());
    for d in defs {
        queue
            .create_queue(QueueConfig {
                name: d.logical_id.clone(),
                visibility_timeout: Duration::from_secs(d.visibility_timeout_seconds.into()),
                retention: Duration::from_secs(d.message_retention_seconds.into()),
                delay: Duration::from_secs(d.delay_seconds.into()),
                max_receive_count: d.max_receive_count,
                dead_letter_queue: d.dead_letter_queue.clone(),
            })
            .await
            .unwrap();
    }
    queue.create_queue(QueueConfig::new("plain")).await.unwrap();
    queue.create_queue(QueueConfig::new("fast-dlq")).await.unwrap();
    let fast = QueueConfig {
        max_receive_count: Some(FAST_MAX_RECEIVES),
        dead_letter_queue: Some("fast-dlq".into()),
        ..QueueConfig::new("fast")
    };
    queue.create_queue(fast).await.unwrap();
    let jobs = jobs_def();
    let names = Queues {
        plain: "plain".into(),
        jobs: jobs.logical_id.clone(),
        jobs_dlq: jobs.dead_letter_queue.clone().expect("JobsQueue has a DLQ"),
        fast: "fast".into(),
        fast_dlq: "fast-dlq".into(),
        missing: "no-such-queue".into(),
    };
    (queue, names)
}

async fn sqs_queues() -> (kushim_adapters::queue::sqs::SqsQueue, Queues) {
    use kushim_adapters::aws::sdk::sqs::types::QueueAttributeName;

    let (adapter, client, urls) = common::sqs_stack().await;
    let prefix = kushim_testkit::unique_prefix();
    let create = |name: String, attributes: Vec<(QueueAttributeName, String)>| {
        let client = client.clone();
        async move {
            let mut req = client.create_queue().queue_name(name);
            for (k, v) in attributes {
                req = req.attributes(k, v);
            }
            req.send().await.unwrap().queue_url.unwrap()
        }
    };
    let plain = create(format!("{prefix}-plain"), Vec::new()).await;
    let fast_dlq = create(format!("{prefix}-fast-dlq"), Vec::new()).await;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&fast_dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    let policy = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": FAST_MAX_RECEIVES });
    let fast = create(format!("{prefix}-fast"), vec![(QueueAttributeName::RedrivePolicy, policy.to_string())]).await;
    let jobs = jobs_def();
    let names = Queues {
        jobs: urls[&jobs.logical_id].clone(),
        jobs_dlq: urls[jobs.dead_letter_queue.as_deref().expect("JobsQueue has a DLQ")].clone(),
        missing: plain.replace("-plain", "-no-such-queue"),
        plain,
        fast,
        fast_dlq,
    };
    (adapter, names)
}

/// Runs each shared assertion against fresh embedded queues and fresh SQS queues in moto.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let (queue, names) = super::embedded_queues(dir.path()).await;
                    super::$case(&queue, &names).await;
                }
            )*
        }
        mod sqs {
            $(
                #[tokio::test]
                async fn $case() {
                    let (queue, names) = super::sqs_queues().await;
                    super::$case(&queue, &names).await;
                }
            )*
        }
    };
}

contract!(
    send_batch_holds_at_most_ten,
    receive_returns_bodies_and_attributes,
    receive_count_grows_with_each_receive,
    received_message_is_invisible_until_its_timeout,
    delete_acknowledges_for_good,
    change_visibility_returns_or_extends,
    dead_letter_after_max_receives,
    jobs_queue_redrives_after_the_template_count,
    jobs_queue_uses_the_template_visibility,
    counts_separate_visible_in_flight_and_delayed,
    delayed_message_waits_for_its_delay,
    send_all_sends_every_message,
    missing_queue_is_not_found,
);

// ---- Embedded only. ----

#[tokio::test]
async fn embedded_messages_survive_a_reopen_in_flight_state_included() {
    // GIVEN a queue with one message received with a 1 s visibility timeout and not deleted
    let dir = tempfile::tempdir().unwrap();
    {
        let (queue, names) = embedded_queues(dir.path()).await;
        send(&queue, &names.plain, "durable").await;
        let m = receive_one(&queue, &names.plain, Some(Duration::from_secs(1))).await;
        assert_eq!(m.receive_count, 1);
    }
    // WHEN the store is reopened (a restart) and the timeout passes
    let queue = EmbeddedQueue::open(dir.path()).unwrap();
    assert!(queue.receive("plain", 10, Duration::ZERO, None).await.unwrap().is_empty(), "still in flight");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // THEN the message comes back, its receive count kept
    let m = receive_one(&queue, "plain", None).await;
    assert_eq!((m.body.as_str(), m.receive_count), ("durable", 2));
    assert!(queue.queue_names().await.unwrap().contains(&"JobsQueue".to_owned()));
}

#[tokio::test]
async fn embedded_change_visibility_needs_a_message_in_flight() {
    // Checked on the embedded adapter only: SQS answers `MessageNotInflight` when the visibility
    // timeout has run out, but moto accepts the call and re-hides the message.
    let dir = tempfile::tempdir().unwrap();
    let (queue, names) = embedded_queues(dir.path()).await;
    // GIVEN a message whose 1 s visibility has run out
    send(&queue, &names.plain, "expired lease").await;
    let m = receive_one(&queue, &names.plain, Some(Duration::from_secs(1))).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // WHEN its lease is extended with the handle
    let late = queue.change_visibility(&names.plain, &m.receipt_handle, Duration::from_secs(30)).await;
    // THEN that is refused and the message stays receivable
    assert_invalid(late);
    let again = receive_one(&queue, &names.plain, None).await;
    assert_eq!((again.message_id.as_str(), again.receive_count), (m.message_id.as_str(), 2));
    // AND the old handle neither changes nor deletes the new receiver's message
    assert_invalid(queue.change_visibility(&names.plain, &m.receipt_handle, Duration::ZERO).await);
    queue.delete(&names.plain, &m.receipt_handle).await.unwrap();
    assert_eq!(queue.counts(&names.plain).await.unwrap(), QueueCounts { visible: 0, in_flight: 1, delayed: 0 });
    queue.delete(&names.plain, &again.receipt_handle).await.unwrap();
    assert_eq!(queue.counts(&names.plain).await.unwrap(), QueueCounts::default());
}

#[tokio::test]
async fn embedded_dead_letter_queue_must_exist_first() {
    let dir = tempfile::tempdir().unwrap();
    let queue = EmbeddedQueue::open(dir.path()).unwrap();
    let orphan =
        QueueConfig { max_receive_count: Some(3), dead_letter_queue: Some("nowhere".into()), ..QueueConfig::new("q") };
    assert_not_found(queue.create_queue(orphan).await);
    queue.create_queue(QueueConfig::new("dlq")).await.unwrap();
    let no_count = QueueConfig { dead_letter_queue: Some("dlq".into()), ..QueueConfig::new("q") };
    assert_invalid(queue.create_queue(no_count).await);
}
