//! The per-tenant ledger: an append-only hash chain of evidence, metadata-edit and audit entries.
//! Entry `n` carries its sequence number, what it records (an evidence digest or an audit event hash), the
//! previous entry's hash and its own hash, the SHA-256 over the RFC 8785 canonical JSON of the
//! entry without `hash`. The entry is written in one transaction with a conditional advance of
//! the head item (and any rows the caller adds), so two writers can never fork the chain: the
//! loser re-reads the head and retries after a random pause.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Table, TxOp};
use kushim_adapters::{AdapterError, error::CancelReason};
use kushim_domain::TenantId;
use serde::{Deserialize, Serialize};

use crate::EvidenceError;
use crate::canonical::digest_json;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many times an append re-reads the head before giving up.
pub const MAX_ATTEMPTS: u32 = 40;

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A stored piece of evidence; `ref` is its SHA-256 (hex).
    Evidence,
    /// An audit event; `ref` is the event's hash.
    Audit,
    /// An edit of a stored piece of evidence's metadata; `ref` is its SHA-256 (hex) and
    /// `meta_hash` the hash of the record after the edit (the latest such hash is the one the
    /// record must match).
    Metadata,
}

/// One entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Position in the tenant's chain, from 1.
    pub seq: u64,
    /// What the entry records.
    pub kind: EntryKind,
    /// The evidence digest or audit event hash.
    #[serde(rename = "ref")]
    pub reference: String,
    /// For evidence and metadata edits, the SHA-256 of the record's canonical metadata, so an
    /// edited row is detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_hash: Option<String>,
    /// When it was appended (RFC 3339, UTC, microseconds).
    pub time: String,
    /// The previous entry's hash ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// SHA-256 over this entry's canonical JSON without `hash`.
    pub hash: String,
}

impl LedgerEntry {
    /// Recomputes the hash from the other fields.
    pub fn compute_hash(&self) -> String {
        let body = serde_json::json!({
            "seq": self.seq,
            "kind": self.kind,
            "ref": self.reference,
            "meta_hash": self.meta_hash,
            "time": self.time,
            "prev_hash": self.prev_hash,
        });
        digest_json(&body).unwrap_or_default()
    }
}

/// The chain head: the last sequence number and its hash (`0` and [`GENESIS`] when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// Last sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// The tenant's current head, read from any table.
pub async fn head_of(table: &dyn Table, tenant: &TenantId) -> Result<Head, EvidenceError> {
    Ok(match table.get(&keys::ledger_head(tenant)).await? {
        Some(h) => Head {
            seq: h.version().unwrap_or(0),
            hash: h.attrs.get("hash").and_then(|v| v.as_str()).unwrap_or(GENESIS).to_owned(),
        },
        None => Head { seq: 0, hash: GENESIS.to_owned() },
    })
}

/// Appends to and reads the tenant ledgers.
#[derive(Clone)]
pub struct Ledger {
    table: Arc<dyn Table>,
}

impl Ledger {
    /// Wraps the table.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// The tenant's current head.
    pub async fn head(&self, tenant: &TenantId) -> Result<Head, EvidenceError> {
        head_of(self.table.as_ref(), tenant).await
    }

    /// Appends an entry, retrying when another writer advanced the head first.
    pub async fn append(
        &self,
        tenant: &TenantId,
        kind: EntryKind,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<LedgerEntry, EvidenceError> {
        self.append_with(tenant, kind, reference, None, now, Vec::new())
            .await?
            .ok_or_else(|| EvidenceError::Invalid("an append without extra writes cannot be refused".into()))
    }

    /// Appends an entry in one transaction with `extra` writes. Returns `None` (and writes
    /// nothing) when a condition of one of the extra writes fails; retries head conflicts.
    pub async fn append_with(
        &self,
        tenant: &TenantId,
        kind: EntryKind,
        reference: &str,
        meta_hash: Option<String>,
        now: DateTime<Utc>,
        extra: Vec<TxOp>,
    ) -> Result<Option<LedgerEntry>, EvidenceError> {
        append_to(self.table.as_ref(), tenant, kind, reference, meta_hash, now, extra).await
    }
}

/// [`Ledger::append_with`] on any table: other services (the audit log) append their entries in
/// the same transaction as their own writes.
pub async fn append_to(
    table: &dyn Table,
    tenant: &TenantId,
    kind: EntryKind,
    reference: &str,
    meta_hash: Option<String>,
    now: DateTime<Utc>,
    extra: Vec<TxOp>,
) -> Result<Option<LedgerEntry>, EvidenceError> {
    let time = now.to_rfc3339_opts(SecondsFormat::Micros, true);
    for attempt in 0..MAX_ATTEMPTS {
        let head = head_of(table, tenant).await?;
        let mut entry = LedgerEntry {
            seq: head.seq + 1,
            kind,
            reference: reference.to_owned(),
            meta_hash: meta_hash.clone(),
            time: time.clone(),
            prev_hash: head.hash.clone(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        let attrs = match serde_json::to_value(&entry) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(EvidenceError::Invalid("ledger entry does not serialise".into())),
        };
        let head_condition = if head.seq == 0 { Condition::NotExists } else { Condition::VersionEquals(head.seq) };
        let mut ops = vec![
            TxOp::Put {
                item: Item { attrs, ..Item::new(keys::ledger_entry(tenant, entry.seq)) },
                condition: Some(Condition::NotExists),
            },
            TxOp::Put {
                item: Item::new(keys::ledger_head(tenant)).with("version", entry.seq).with("hash", entry.hash.clone()),
                condition: Some(head_condition),
            },
        ];
        ops.extend(extra.iter().cloned());
        match table.transact_write(ops).await {
            Ok(()) => return Ok(Some(entry)),
            Err(AdapterError::TransactionCanceled { reasons }) => {
                if reasons.iter().skip(2).any(|r| *r == CancelReason::ConditionFailed) {
                    return Ok(None);
                }
                let jitter = u64::from(rand_jitter()) % (4 << attempt.min(8));
                tokio::time::sleep(std::time::Duration::from_millis(jitter + 1)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(EvidenceError::Contended(MAX_ATTEMPTS))
}

fn rand_jitter() -> u16 {
    let n = uuid::Uuid::new_v4();
    u16::from_le_bytes([n.as_bytes()[0], n.as_bytes()[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_every_field_but_itself() {
        let e = LedgerEntry {
            seq: 1,
            kind: EntryKind::Audit,
            reference: "abc".into(),
            meta_hash: None,
            time: "2026-03-02T10:00:00.000000Z".into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        let h = e.compute_hash();
        assert_eq!(LedgerEntry { hash: "x".into(), ..e.clone() }.compute_hash(), h);
        assert_ne!(LedgerEntry { seq: 2, ..e.clone() }.compute_hash(), h);
        assert_ne!(LedgerEntry { meta_hash: Some("m".into()), ..e }.compute_hash(), h);
    }
}
