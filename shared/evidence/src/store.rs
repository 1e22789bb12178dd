//! The evidence store. A piece of evidence (an automated snapshot or a manual upload) is stored
//! once, content-addressed: its canonical bytes go to the BlobStore at
//! `tenants/<tenant>/evidence/<sha256>` with their SHA-256 and Object Lock COMPLIANCE retention
//! from the tenant's policy; only once the blob is durable is the metadata row written, in one
//! transaction with its ledger entry. Storing the same content again returns the first record.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, LockMode, PutOptions, Retention};
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Cursor, Item, Query, Table, TxOp};
use kushim_domain::{Sha256Digest, TenantId};
use serde::{Deserialize, Serialize};

use crate::EvidenceError;
use crate::canonical::{canonicalize_json, digest_hex, digest_json};
use crate::ledger::{EntryKind, Ledger};

/// How long evidence blobs stay locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Days of COMPLIANCE retention, 90..=2555 (7 years).
    pub days: u32,
}

impl RetentionPolicy {
    /// Shortest retention a tenant may choose.
    pub const MIN_DAYS: u32 = 90;
    /// Longest retention a tenant may choose (7 years).
    pub const MAX_DAYS: u32 = 2555;

    /// A validated policy.
    pub fn new(days: u32) -> Result<Self, EvidenceError> {
        let policy = Self { days };
        policy.validate()?;
        Ok(policy)
    }

    /// Refuses a policy outside 90 days to 7 years.
    pub fn validate(&self) -> Result<(), EvidenceError> {
        if (Self::MIN_DAYS..=Self::MAX_DAYS).contains(&self.days) {
            Ok(())
        } else {
            Err(EvidenceError::InvalidRetention(self.days))
        }
    }
}

impl Default for RetentionPolicy {
    /// One year.
    fn default() -> Self {
        Self { days: 365 }
    }
}

/// Where evidence came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Source {
    /// Connector (`aws`, `github`, `manual`, …).
    pub connector: String,
    /// The tenant's integration it was collected through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_id: Option<String>,
    /// The API call that produced it (`iam:ListUsers`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_call: Option<String>,
    /// Cloud region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Cloud account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Source repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

/// The content of new evidence.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Opaque bytes (a manual upload), stored as given.
    Bytes(Bytes),
    /// A JSON document, stored as its RFC 8785 canonical bytes.
    Json(serde_json::Value),
}

/// What a caller stores.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvidence {
    /// The content.
    pub content: Content,
    /// Media type (`application/json` for JSON snapshots).
    pub media_type: String,
    /// Where it came from.
    pub source: Source,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
    /// Start of the period it is effective for.
    pub effective_from: Option<DateTime<Utc>>,
    /// End of the period it is effective for.
    pub effective_to: Option<DateTime<Utc>>,
    /// When it stops being fresh.
    pub valid_until: Option<DateTime<Utc>>,
    /// Controls it supports.
    pub controls: Vec<String>,
    /// Checks it supports.
    pub checks: Vec<String>,
}

impl NewEvidence {
    /// A JSON snapshot collected at `collected_at`, with no period or links yet.
    pub fn json(value: serde_json::Value, source: Source, collected_at: DateTime<Utc>) -> Self {
        Self {
            content: Content::Json(value),
            media_type: "application/json".into(),
            source,
            collected_at,
            effective_from: None,
            effective_to: None,
            valid_until: None,
            controls: Vec::new(),
            checks: Vec::new(),
        }
    }
}

/// A stored piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    /// The owning tenant.
    pub tenant: String,
    /// SHA-256 of the canonical bytes (hex).
    pub digest: String,
    /// Size of the canonical bytes.
    pub size: u64,
    /// Media type.
    pub media_type: String,
    /// Where it came from.
    pub source: Source,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
    /// Start of the period it is effective for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<DateTime<Utc>>,
    /// End of the period it is effective for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<DateTime<Utc>>,
    /// When it stops being fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    /// Controls it supports.
    pub controls: Vec<String>,
    /// Checks it supports.
    pub checks: Vec<String>,
    /// Blob key.
    pub blob_key: String,
    /// The blob version the record pins.
    pub version_id: String,
    /// When the blob's COMPLIANCE retention ends.
    pub retain_until: DateTime<Utc>,
    /// When the record was written.
    pub stored_at: DateTime<Utc>,
}

impl EvidenceRecord {
    /// SHA-256 of the record's canonical JSON; the ledger entry carries it.
    pub fn meta_hash(&self) -> Result<String, EvidenceError> {
        digest_json(self).map_err(|e| EvidenceError::Invalid(format!("record does not serialise: {e}")))
    }
}

/// The blob key of a tenant's evidence.
pub fn blob_key(tenant: &TenantId, digest_hex: &str) -> String {
    format!("tenants/{tenant}/evidence/{digest_hex}")
}

/// Stores and reads evidence.
#[derive(Clone)]
pub struct EvidenceStore {
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    ledger: Ledger,
}

impl EvidenceStore {
    /// Wraps the ports.
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { ledger: Ledger::new(table.clone()), table, blobs }
    }

    /// The ledger the store appends to.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Stores evidence once: returns the existing record when the tenant already holds this content.
    pub async fn put(
        &self,
        tenant: &TenantId,
        new: NewEvidence,
        retention: RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<EvidenceRecord, EvidenceError> {
        retention.validate()?;
        if new.media_type.trim().is_empty() {
            return Err(EvidenceError::Invalid("a media type is required".into()));
        }
        if let (Some(from), Some(to)) = (new.effective_from, new.effective_to)
            && from > to
        {
            return Err(EvidenceError::Invalid("the effective period ends before it starts".into()));
        }
        let bytes = match &new.content {
            Content::Bytes(b) => b.clone(),
            Content::Json(v) => Bytes::from(canonicalize_json(v)),
        };
        if bytes.is_empty() {
            return Err(EvidenceError::Invalid("evidence must not be empty".into()));
        }
        let digest = kushim_domain::sha256(&bytes);
        let hex = digest.to_hex();
        if let Some(existing) = self.get(tenant, &hex).await? {
            return Ok(existing);
        }

        // 1. The blob, durable and locked, before anything points at it.
        let key = blob_key(tenant, &hex);
        let lock = Retention { mode: LockMode::Compliance, until: now + Duration::days(i64::from(retention.days)) };
        let options =
            PutOptions { content_type: new.media_type.clone(), sha256: digest, retention: Some(lock), if_absent: true };
        let meta = match self.blobs.put(&key, bytes.clone(), options).await {
            Ok(meta) => meta,
            // An earlier attempt (or a concurrent writer) stored the blob; reuse it if it matches.
            Err(AdapterError::ConditionFailed) => {
                let meta = self.blobs.head(&key, None).await?;
                if meta.sha256.is_some_and(|d| d != digest) || meta.size != bytes.len() as u64 {
                    return Err(EvidenceError::Tampered { digest: hex, why: "the stored blob differs".into() });
                }
                meta
            }
            Err(e) => return Err(e.into()),
        };

        // 2. The metadata row and its ledger entry, in one transaction.
        let record = EvidenceRecord {
            tenant: tenant.to_string(),
            digest: hex.clone(),
            size: bytes.len() as u64,
            media_type: new.media_type,
            source: new.source,
            collected_at: new.collected_at,
            effective_from: new.effective_from,
            effective_to: new.effective_to,
            valid_until: new.valid_until,
            controls: new.controls,
            checks: new.checks,
            blob_key: key,
            version_id: meta.version_id,
            retain_until: meta.retention.map_or(lock.until, |r| r.until),
            stored_at: now,
        };
        let meta_hash = record.meta_hash()?;
        let attrs = match serde_json::to_value(&record) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(EvidenceError::Invalid("record does not serialise".into())),
        };
        let row = TxOp::Put {
            item: Item { attrs, ..Item::new(keys::evidence(tenant, &hex)) },
            condition: Some(Condition::NotExists),
        };
        match self.ledger.append_with(tenant, EntryKind::Evidence, &hex, Some(meta_hash), now, vec![row]).await? {
            Some(_) => Ok(record),
            // A concurrent writer stored the same content first.
            None => self.get(tenant, &hex).await?.ok_or(EvidenceError::NotFound(hex)),
        }
    }

    /// Reads a record by digest (hex).
    pub async fn get(&self, tenant: &TenantId, digest_hex: &str) -> Result<Option<EvidenceRecord>, EvidenceError> {
        Sha256Digest::from_hex(digest_hex).map_err(|e| EvidenceError::Invalid(e.to_string()))?;
        match self.table.get(&keys::evidence(tenant, digest_hex)).await? {
            Some(item) => Ok(Some(item.parse()?)),
            None => Ok(None),
        }
    }

    /// One page of the tenant's records, in digest order.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<EvidenceRecord>, Option<Cursor>), EvidenceError> {
        let page = self
            .table
            .query(
                Query::partition(keys::tenant_pk(tenant)).begins_with(keys::EVIDENCE_PREFIX).limit(limit).after(cursor),
            )
            .await?;
        let records = page.items.iter().map(Item::parse).collect::<Result<Vec<_>, _>>()?;
        Ok((records, page.cursor))
    }

    /// The evidence's bytes (the version the record pins), refused unless they match its digest and size.
    pub async fn read_bytes(&self, tenant: &TenantId, digest_hex: &str) -> Result<Bytes, EvidenceError> {
        let record = self.get(tenant, digest_hex).await?.ok_or_else(|| EvidenceError::NotFound(digest_hex.into()))?;
        let blob = self.blobs.get(&record.blob_key, Some(&record.version_id)).await?;
        check_bytes(&record, &blob.bytes)?;
        Ok(blob.bytes)
    }
}

/// Refuses bytes that do not match the record's digest or size.
pub(crate) fn check_bytes(record: &EvidenceRecord, bytes: &[u8]) -> Result<(), EvidenceError> {
    if bytes.len() as u64 != record.size {
        return Err(EvidenceError::Tampered {
            digest: record.digest.clone(),
            why: format!("size is {} bytes, recorded {}", bytes.len(), record.size),
        });
    }
    let actual = digest_hex(bytes);
    if actual != record.digest {
        return Err(EvidenceError::Tampered { digest: record.digest.clone(), why: format!("bytes hash to {actual}") });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_between_90_days_and_7_years() {
        assert_eq!(RetentionPolicy::default().days, 365);
        assert!(RetentionPolicy::new(90).is_ok());
        assert!(RetentionPolicy::new(2555).is_ok());
        assert!(matches!(RetentionPolicy::new(89), Err(EvidenceError::InvalidRetention(89))));
        assert!(matches!(RetentionPolicy::new(2556), Err(EvidenceError::InvalidRetention(2556))));
    }
}
