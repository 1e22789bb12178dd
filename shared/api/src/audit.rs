//! The audit log: every mutation appends an event (who, with which role, did what to what, with
//! which outcome, when, from where, under which request id). Events are append-only and
//! hash-chained per tenant: each carries the hash of the previous one, and the chain head is
//! advanced with a conditional write in the same transaction as the event, so two writers can
//! never fork the chain (the loser re-reads the head and retries). Editing or deleting an event
//! breaks [`verify`]. The same transaction appends an `audit` entry carrying the event's hash to
//! the tenant's evidence ledger, so evidence and audit events form one chain that signed
//! checkpoints cover and `kushim_evidence::verify_tenant` checks.

use chrono::Utc;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Query, Table, TxOp};
use kushim_adapters::{AdapterError, Result};
use kushim_domain::TenantId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use kushim_evidence::EvidenceError;
use kushim_evidence::ledger::{self, EntryKind};

use crate::Ctx;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an audited action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused or failed.
    Failure,
}

/// What the caller records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewEvent {
    /// User id, API key id, or `anonymous`.
    pub actor: String,
    /// The actor's role at the time, if known.
    pub role: Option<String>,
    /// Dotted action name, e.g. `user.invite`.
    pub action: String,
    /// What it acted on (`user:<id>`, `api_key:<id>`, …).
    pub target: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// API Gateway request id.
    pub request_id: String,
    /// Caller IP.
    pub source_ip: Option<String>,
    /// Caller user agent.
    pub user_agent: Option<String>,
}

impl NewEvent {
    /// An event for the request in `ctx`, with its caller, request id, IP and user agent.
    pub fn from_ctx(ctx: &Ctx<'_>, action: &str, target: Option<String>, outcome: Outcome) -> Self {
        Self {
            actor: ctx.principal.as_ref().map_or_else(|| "anonymous".to_owned(), |p| p.id.clone()),
            role: ctx.principal.as_ref().map(|p| p.grant.role.as_str().to_owned()),
            action: action.to_owned(),
            target,
            outcome,
            request_id: ctx.request_id.clone(),
            source_ip: ctx.source_ip.clone(),
            user_agent: ctx.user_agent.as_ref().map(|u| u.chars().take(256).collect()),
        }
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Event {
    /// Position in the tenant's chain, from 1.
    pub seq: u64,
    /// When it was recorded (RFC 3339, UTC).
    pub time: String,
    /// The recorded fields.
    #[serde(flatten)]
    pub event: NewEvent,
    /// Hash of the previous event (64 zeros, `GENESIS`, for the first event).
    pub prev_hash: String,
    /// SHA-256 over this event's canonical JSON without `hash`.
    pub hash: String,
}

fn compute_hash(seq: u64, time: &str, event: &NewEvent, prev_hash: &str) -> String {
    // serde_json's map keeps keys sorted, so this JSON is canonical for these flat string fields.
    let body = serde_json::json!({ "seq": seq, "time": time, "event": event, "prev_hash": prev_hash });
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Appends an event to the tenant's chain, retrying when another writer got there first.
pub async fn append(table: &dyn Table, tenant: &TenantId, event: NewEvent) -> Result<Event> {
    for attempt in 0..40u32 {
        let head = table.get(&keys::audit_head(tenant)).await?;
        let (seq, prev_hash) = match &head {
            Some(h) => {
                (h.version().unwrap_or(0), h.attrs.get("hash").and_then(|v| v.as_str()).unwrap_or(GENESIS).to_owned())
            }
            None => (0, GENESIS.to_owned()),
        };
        let next = seq + 1;
        let time = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let hash = compute_hash(next, &time, &event, &prev_hash);
        let stored = Event { seq: next, time, event: event.clone(), prev_hash, hash: hash.clone() };
        let attrs = match serde_json::to_value(&stored) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(AdapterError::Invalid("audit event does not serialise".into())),
        };
        let head_condition = if head.is_some() { Condition::VersionEquals(seq) } else { Condition::NotExists };
        let ops = vec![
            TxOp::Put {
                item: Item { attrs, ..Item::new(keys::audit_event(tenant, next)) },
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: Item::new(keys::audit_head(tenant)).with("version", next).with("hash", hash.clone()),
                condition: Some(head_condition),
            },
        ];
        // One transaction: the event, the audit head and the evidence-ledger entry anchoring it.
        let anchored = ledger::append_to(table, tenant, EntryKind::Audit, &hash, None, Utc::now(), ops).await;
        match anchored {
            Ok(Some(_)) => return Ok(stored),
            // Another audit writer advanced the audit head first: re-read it and retry.
            Ok(None) => {
                let jitter = u64::from(rand_jitter()) % (4 << attempt.min(8));
                tokio::time::sleep(std::time::Duration::from_millis(jitter + 1)).await;
            }
            Err(EvidenceError::Adapter(e)) => return Err(e),
            Err(EvidenceError::Contended(n)) => {
                return Err(AdapterError::Throttled(format!(
                    "evidence ledger too contended; gave up after {n} attempts"
                )));
            }
            Err(e) => return Err(AdapterError::Invalid(format!("audit anchor: {e}"))),
        }
    }
    Err(AdapterError::Throttled("audit chain too contended; gave up after 40 attempts".into()))
}

/// Records that the caller's request succeeded at `action` on `target`. An audit write that fails
/// is logged (as an error, by code) and does not undo the request, which has already happened.
pub async fn record_success(table: &dyn Table, ctx: &Ctx<'_>, action: &str, target: String) {
    let Some(principal) = &ctx.principal else { return };
    record(table, &principal.tenant_id, NewEvent::from_ctx(ctx, action, Some(target), Outcome::Success)).await;
}

/// Appends an event, logging (never failing the request) when the write fails.
pub async fn record(table: &dyn Table, tenant: &TenantId, event: NewEvent) {
    if let Err(e) = append(table, tenant, event).await {
        tracing::error!(code = e.code(), "could not write an audit event");
    }
}

fn rand_jitter() -> u16 {
    let n = uuid::Uuid::new_v4();
    u16::from_le_bytes([n.as_bytes()[0], n.as_bytes()[1]])
}

/// Filters for listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this action.
    pub action: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub since: Option<String>,
}

/// A page of events, newest first.
pub async fn list(
    table: &dyn Table,
    tenant: &TenantId,
    filter: &Filter,
    limit: u32,
    cursor: Option<kushim_adapters::table::Cursor>,
) -> Result<(Vec<Event>, Option<kushim_adapters::table::Cursor>)> {
    let page = table
        .query(
            Query::partition(keys::tenant_pk(tenant))
                .begins_with(keys::AUDIT_PREFIX)
                .backward()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let mut events = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let e: Event = item.parse()?;
        let keep = filter.action.as_ref().is_none_or(|a| *a == e.event.action)
            && filter.actor.as_ref().is_none_or(|a| *a == e.event.actor)
            && filter.since.as_ref().is_none_or(|s| e.time.as_str() >= s.as_str());
        if keep {
            events.push(e);
        }
    }
    Ok((events, page.cursor))
}

/// Where a chain stopped verifying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An event's stored hash does not match its content.
    #[error("event {seq} was altered")]
    Altered {
        /// The event.
        seq: u64,
    },
    /// An event does not point at its predecessor's hash, or a number is missing.
    #[error("the chain is broken before event {seq}")]
    Broken {
        /// The first event after the break.
        seq: u64,
    },
    /// The head names a later event than the chain holds (events were deleted at the end).
    #[error("the head names event {head} but the chain ends at {last}")]
    Truncated {
        /// The head's sequence number.
        head: u64,
        /// The last event found.
        last: u64,
    },
}

/// Recomputes every hash of the tenant's chain; returns the number of events.
pub async fn verify(table: &dyn Table, tenant: &TenantId) -> Result<Result<u64, ChainError>> {
    let mut cursor = None;
    let (mut expected_seq, mut prev) = (1u64, GENESIS.to_owned());
    loop {
        let page = table
            .query(Query::partition(keys::tenant_pk(tenant)).begins_with(keys::AUDIT_PREFIX).limit(1000).after(cursor))
            .await?;
        for item in &page.items {
            let e: Event = match item.parse() {
                Ok(e) => e,
                Err(_) => return Ok(Err(ChainError::Altered { seq: expected_seq })),
            };
            if e.seq != expected_seq || e.prev_hash != prev {
                return Ok(Err(ChainError::Broken { seq: e.seq }));
            }
            if compute_hash(e.seq, &e.time, &e.event, &e.prev_hash) != e.hash {
                return Ok(Err(ChainError::Altered { seq: e.seq }));
            }
            prev = e.hash;
            expected_seq += 1;
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    let last = expected_seq - 1;
    let head = table.get(&keys::audit_head(tenant)).await?.and_then(|h| h.version()).unwrap_or(0);
    if head != last {
        return Ok(Err(ChainError::Truncated { head, last }));
    }
    Ok(Ok(last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::table::embedded::EmbeddedTable;

    fn event(action: &str) -> NewEvent {
        NewEvent {
            actor: "u1".into(),
            role: Some("owner".into()),
            action: action.into(),
            target: Some("user:u2".into()),
            outcome: Outcome::Success,
            request_id: "r".into(),
            source_ip: Some("127.0.0.1".into()),
            user_agent: None,
        }
    }

    #[tokio::test]
    async fn given_concurrent_writers_then_the_chain_never_forks() {
        let dir = tempfile::tempdir().unwrap();
        let table = std::sync::Arc::new(EmbeddedTable::open(dir.path()).unwrap());
        let t = TenantId::new("acme").unwrap();
        let mut tasks = Vec::new();
        for i in 0..20 {
            let (table, t) = (table.clone(), t.clone());
            tasks
                .push(tokio::spawn(async move { append(table.as_ref(), &t, event(&format!("a.{i}"))).await.unwrap() }));
        }
        let mut seqs: Vec<u64> = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap().seq);
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=20).collect::<Vec<_>>());
        assert_eq!(verify(table.as_ref(), &t).await.unwrap(), Ok(20));
    }

    #[tokio::test]
    async fn given_an_edited_or_deleted_event_then_verify_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let t = TenantId::new("acme").unwrap();
        for a in ["x", "y", "z"] {
            append(&table, &t, event(a)).await.unwrap();
        }
        // Edit event 2's action, keeping its hash.
        let mut item = table.get(&keys::audit_event(&t, 2)).await.unwrap().unwrap();
        item.attrs.insert("action".into(), "user.nothing_to_see".into());
        table.put(item.clone(), None).await.unwrap();
        assert_eq!(verify(&table, &t).await.unwrap(), Err(ChainError::Altered { seq: 2 }));
        // Delete it instead.
        table.delete(&keys::audit_event(&t, 2), None).await.unwrap();
        assert_eq!(verify(&table, &t).await.unwrap(), Err(ChainError::Broken { seq: 3 }));
    }

    #[tokio::test]
    async fn given_audit_events_then_the_evidence_ledger_anchors_each_and_verify_checks_them() {
        use kushim_evidence::{ProblemKind, verify_tenant};
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let blobs = kushim_adapters::blob::embedded::EmbeddedBlobs::open(dir.path()).unwrap();
        let t = TenantId::new("acme").unwrap();
        for a in ["x", "y", "z"] {
            append(&table, &t, event(a)).await.unwrap();
        }
        let report = verify_tenant(&table, &blobs, "", &t).await.unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(report.entries, 3, "one ledger entry per audit event");
        // An event rewritten with a new hash behind the ledger's back is no longer anchored, and
        // the anchor no longer finds its event.
        let mut item = table.get(&keys::audit_event(&t, 2)).await.unwrap().unwrap();
        item.attrs.insert("hash".into(), "f".repeat(64).into());
        table.put(item, None).await.unwrap();
        let report = verify_tenant(&table, &blobs, "", &t).await.unwrap();
        let kinds: Vec<&ProblemKind> = report.problems.iter().map(|p| &p.kind).collect();
        assert!(kinds.contains(&&ProblemKind::AuditUnledgered { audit_seq: 2 }), "{kinds:?}");
        assert!(kinds.contains(&&ProblemKind::AuditEventMissing), "{kinds:?}");
        assert_eq!(report.first_bad.unwrap().seq, Some(2), "the anchoring entry is named");
    }

    #[tokio::test]
    async fn given_the_last_event_deleted_then_verify_reports_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let t = TenantId::new("acme").unwrap();
        for a in ["x", "y"] {
            append(&table, &t, event(a)).await.unwrap();
        }
        table.delete(&keys::audit_event(&t, 2), None).await.unwrap();
        assert_eq!(verify(&table, &t).await.unwrap(), Err(ChainError::Truncated { head: 2, last: 1 }));
    }

    #[tokio::test]
    async fn listing_is_newest_first_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let t = TenantId::new("acme").unwrap();
        for a in ["user.invite", "user.disable", "user.invite"] {
            append(&table, &t, event(a)).await.unwrap();
        }
        let (all, _) = list(&table, &t, &Filter::default(), 10, None).await.unwrap();
        assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
        let f = Filter { action: Some("user.invite".into()), ..Filter::default() };
        let (invites, _) = list(&table, &t, &f, 10, None).await.unwrap();
        assert_eq!(invites.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 1]);
    }
}
