//! The embedded Queue adapter: a durable SQS look-alike in one SQLite file. Messages survive
//! restarts; receive marks them in flight for the visibility timeout and bumps their receive
//! count; a message that has already been received `max_receive_count` times is moved to the
//! dead-letter queue on the next receive instead of being delivered, exactly as an SQS redrive
//! policy does. Long polling waits on an in-process notification, so a consumer wakes as soon as
//! a message is sent.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{OutgoingMessage, Queue, QueueCounts, ReceivedMessage, SendOutcome, validate_batch, validate_receive};
use crate::{AdapterError, Result};

/// A queue's settings, mirroring the template's `AWS::SQS::Queue` properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Queue name (the template's logical id in the local platform).
    pub name: String,
    /// Default visibility timeout.
    pub visibility_timeout: Duration,
    /// How long an undelivered message is kept.
    pub retention: Duration,
    /// Default delay for new messages.
    pub delay: Duration,
    /// Receives allowed before a message moves to the DLQ.
    pub max_receive_count: Option<u32>,
    /// The dead-letter queue's name.
    pub dead_letter_queue: Option<String>,
}

impl QueueConfig {
    /// SQS defaults: 30 s visibility, 4 days retention, no delay, no DLQ.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility_timeout: Duration::from_secs(30),
            retention: Duration::from_secs(345_600),
            delay: Duration::ZERO,
            max_receive_count: None,
            dead_letter_queue: None,
        }
    }
}

/// SQLite-backed queue set.
#[derive(Clone)]
pub struct EmbeddedQueue {
    conn: Arc<Mutex<Connection>>,
    notify: Arc<Notify>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    in_flight INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_receipt ON messages (receipt) WHERE receipt IS NOT NULL;
";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn load_config(conn: &Connection, name: &str) -> Result<QueueConfig> {
    let raw: Option<String> =
        conn.query_row("SELECT config FROM queues WHERE name = ?1", [name], |r| r.get(0)).optional()?;
    let raw = raw.ok_or_else(|| AdapterError::NotFound(format!("queue {name}")))?;
    serde_json::from_str(&raw).map_err(|e| AdapterError::Storage(format!("queue {name} config unreadable: {e}")))
}

impl EmbeddedQueue {
    /// Opens (creating if needed) `queue.db` in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let conn = Connection::open(dir.join("queue.db"))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), notify: Arc::new(Notify::new()) })
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| AdapterError::Storage("queue lock poisoned".into()))?;
            f(&mut guard)
        })
        .await?
    }

    /// Creates a queue or updates its settings (idempotent, like `CreateQueue` with the same
    /// attributes). The DLQ must exist first.
    pub async fn create_queue(&self, config: QueueConfig) -> Result<()> {
        self.with_conn(move |c| {
            if let Some(dlq) = &config.dead_letter_queue {
                load_config(c, dlq)?;
                if config.max_receive_count.is_none_or(|n| n == 0) {
                    return Err(AdapterError::Invalid("a dead-letter queue needs max_receive_count ≥ 1".into()));
                }
            }
            let raw = serde_json::to_string(&config).map_err(|e| AdapterError::Invalid(e.to_string()))?;
            c.execute(
                "INSERT INTO queues (name, config) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET config = excluded.config",
                params![config.name, raw],
            )?;
            Ok(())
        })
        .await
    }

    /// Names of every queue.
    pub async fn queue_names(&self) -> Result<Vec<String>> {
        self.with_conn(|c| {
            let mut stmt = c.prepare("SELECT name FROM queues ORDER BY name")?;
            let names = stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(names)
        })
        .await
    }

    fn try_receive(
        c: &mut Connection,
        queue: &str,
        max: usize,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>> {
        let config = load_config(c, queue)?;
        let vis = ms(visibility.unwrap_or(config.visibility_timeout));
        let now = now_ms();
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM messages WHERE queue = ?1 AND sent_at < ?2",
            params![queue, now - ms(config.retention)],
        )?;
        let mut out = Vec::new();
        // A message is delivered at most once per receive, even with a zero visibility timeout.
        let mut picked = std::collections::HashSet::new();
        loop {
            let candidates: Vec<(i64, String, String, String, i64, u32)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT seq, id, body, attributes, sent_at, receive_count FROM messages
                     WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3",
                )?;
                stmt.query_map(params![queue, now, (max - out.len()) as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })?
                .collect::<rusqlite::Result<_>>()?
            };
            let candidates: Vec<_> = candidates.into_iter().filter(|c| !picked.contains(&c.0)).collect();
            if candidates.is_empty() {
                break;
            }
            for (seq, id, body, attributes, sent_at, count) in candidates {
                picked.insert(seq);
                if let (Some(limit), Some(dlq)) = (config.max_receive_count, &config.dead_letter_queue)
                    && count >= limit
                {
                    {
                        // Redrive: the message keeps its id, body, attributes and send time (as on an
                        // SQS standard queue, its retention still counts from when it was first sent),
                        // and starts with a fresh receive count.
                        tx.execute(
                            "UPDATE messages SET queue = ?2, receive_count = 0, visible_at = ?3, receipt = NULL,
                             in_flight = 0 WHERE seq = ?1",
                            params![seq, dlq, now],
                        )?;
                        continue;
                    }
                }
                let receipt = format!("{}:{}", id, uuid::Uuid::new_v4().simple());
                tx.execute(
                    "UPDATE messages SET receive_count = receive_count + 1, visible_at = ?2, receipt = ?3, in_flight = 1
                     WHERE seq = ?1",
                    params![seq, now + vis, receipt],
                )?;
                out.push(ReceivedMessage {
                    message_id: id,
                    receipt_handle: receipt,
                    body,
                    receive_count: count + 1,
                    sent_at_ms: sent_at,
                    attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                });
            }
            if out.len() >= max {
                break;
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Time until the next message of the queue becomes visible, if any is waiting.
    fn next_visible_in(c: &Connection, queue: &str) -> Result<Option<Duration>> {
        let next: Option<i64> =
            c.query_row("SELECT min(visible_at) FROM messages WHERE queue = ?1", [queue], |r| r.get(0))?;
        Ok(next.map(|t| Duration::from_millis(u64::try_from(t - now_ms()).unwrap_or(0))))
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    async fn send_batch(&self, queue: &str, messages: Vec<OutgoingMessage>) -> Result<Vec<SendOutcome>> {
        validate_batch(&messages)?;
        let queue = queue.to_owned();
        let out = self
            .with_conn(move |c| {
                let config = load_config(c, &queue)?;
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let now = now_ms();
                let mut outcomes = Vec::with_capacity(messages.len());
                for m in messages {
                    let id = uuid::Uuid::new_v4().to_string();
                    let delay = ms(m.delay.unwrap_or(config.delay));
                    let attributes = serde_json::to_string(&m.attributes).unwrap_or_else(|_| "{}".into());
                    tx.execute(
                        "INSERT INTO messages (id, queue, body, attributes, sent_at, visible_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![id, queue, m.body, attributes, now, now + delay],
                    )?;
                    outcomes.push(SendOutcome::Sent(id));
                }
                tx.commit()?;
                Ok(outcomes)
            })
            .await?;
        self.notify.notify_waiters();
        Ok(out)
    }

    async fn receive(
        &self,
        queue: &str,
        max: usize,
        wait: Duration,
        visibility: Option<Duration>,
    ) -> Result<Vec<ReceivedMessage>> {
        validate_receive(max, wait, visibility)?;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.notify.notified();
            let q = queue.to_owned();
            let (got, next) = self
                .with_conn(move |c| {
                    let got = Self::try_receive(c, &q, max, visibility)?;
                    let next = if got.is_empty() { Self::next_visible_in(c, &q)? } else { None };
                    Ok((got, next))
                })
                .await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let mut until = deadline;
            if let Some(n) = next {
                until = until.min(now + n.max(Duration::from_millis(5)));
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(until) => {}
            }
        }
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> Result<()> {
        let (queue, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        self.with_conn(move |c| {
            load_config(c, &queue)?;
            // A stale handle (the message was received again since) deletes nothing, as in SQS.
            c.execute("DELETE FROM messages WHERE queue = ?1 AND receipt = ?2", params![queue, receipt])?;
            Ok(())
        })
        .await
    }

    async fn change_visibility(&self, queue: &str, receipt_handle: &str, timeout: Duration) -> Result<()> {
        validate_receive(1, Duration::ZERO, Some(timeout))?;
        let (queue, receipt) = (queue.to_owned(), receipt_handle.to_owned());
        let changed = self
            .with_conn(move |c| {
                load_config(c, &queue)?;
                // In flight means received and its visibility timeout not yet over (SQS refuses a
                // message whose timeout has run out with `MessageNotInflight`).
                let now = now_ms();
                Ok(c.execute(
                    "UPDATE messages SET visible_at = ?3
                     WHERE queue = ?1 AND receipt = ?2 AND in_flight = 1 AND visible_at > ?4",
                    params![queue, receipt, now + ms(timeout), now],
                )?)
            })
            .await?;
        if changed == 0 {
            return Err(AdapterError::Invalid("receipt handle is no longer valid (message not in flight)".into()));
        }
        self.notify.notify_waiters();
        Ok(())
    }

    async fn counts(&self, queue: &str) -> Result<QueueCounts> {
        let queue = queue.to_owned();
        self.with_conn(move |c| {
            load_config(c, &queue)?;
            let now = now_ms();
            let (visible, in_flight, delayed): (i64, i64, i64) = c.query_row(
                "SELECT
                    coalesce(sum(visible_at <= ?2), 0),
                    coalesce(sum(visible_at > ?2 AND in_flight = 1), 0),
                    coalesce(sum(visible_at > ?2 AND in_flight = 0), 0)
                 FROM messages WHERE queue = ?1",
                params![queue, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(QueueCounts { visible: visible as u64, in_flight: in_flight as u64, delayed: delayed as u64 })
        })
        .await
    }
}
