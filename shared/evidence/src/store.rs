//! The evidence store. A piece of evidence (an automated snapshot or a manual upload) is stored
//! once, content-addressed: its canonical bytes go to the BlobStore at
//! `tenants/<tenant>/evidence/<sha256>` with their SHA-256 and Object Lock COMPLIANCE retention
//! from the tenant's policy; only once the blob is durable is the metadata row written, in one
//! transaction with its ledger entry. Storing the same content again returns the first record.
//!
//! Metadata (title, description, effective period, freshness and linked controls) can be edited
//! with [`EvidenceStore::update_metadata`]; content, digest, size, media type, source and
//! collection time never change. An edit is conditional on the record's `version` (optimistic
//! locking) and is written in one transaction with a [`EntryKind::Metadata`] ledger entry that
//! carries the new metadata hash, so verification follows the edit while an edit made behind the
//! store's back still fails it.
//!
//! Two index rows are written with the record, in the same transactions: one per linked control
//! (`EVCONTROL#<control>#<digest>`, which the compliance state reads to judge manual evidence
//! freshness per control) and one in the day partition of its `valid_until`
//! (`EXPIRY#<yyyy-mm-dd>`, which [`crate::expiry::expiry_reminders`] reads instead of scanning).

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, LockMode, PutOptions, Retention};
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Cursor, Item, Query, Table, TxOp};
use kushim_catalog::catalog;
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

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Most controls one piece of evidence links to (each link is an index row written in the same
/// transaction as the record, and a transaction holds at most 100 writes).
pub const MAX_CONTROLS: usize = 40;
/// How long an expiry index row outlives the `valid_until` it indexes.
const EXPIRY_ROW_DAYS: i64 = 30;

/// What a caller stores.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvidence {
    /// The content.
    pub content: Content,
    /// A human title (at most [`MAX_TITLE_CHARS`]).
    pub title: Option<String>,
    /// A longer description (at most [`MAX_DESCRIPTION_CHARS`]).
    pub description: Option<String>,
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
            title: None,
            description: None,
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
    /// A human title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A longer description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
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
    /// Optimistic-locking counter: 1 when stored, one more with each metadata edit.
    #[serde(default = "first_version")]
    pub version: u64,
    /// When the metadata was last edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

fn first_version() -> u64 {
    1
}

impl EvidenceRecord {
    /// SHA-256 of the record's canonical JSON; the ledger entry carries it.
    pub fn meta_hash(&self) -> Result<String, EvidenceError> {
        digest_json(self).map_err(|e| EvidenceError::Invalid(format!("record does not serialise: {e}")))
    }

    /// Whether the evidence is past its `valid_until` at `now` (it stays stored, locked and
    /// verifiable; it is just no longer current).
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_some_and(|until| until <= now)
    }
}

/// Which records a listing returns, by freshness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Currency {
    /// Not past `valid_until` (or without one).
    #[default]
    Current,
    /// Past `valid_until`.
    Expired,
    /// Both.
    All,
}

impl Currency {
    /// Whether a record belongs in the listing at `now`.
    pub fn admits(self, record: &EvidenceRecord, now: DateTime<Utc>) -> bool {
        match self {
            Self::Current => !record.is_expired(now),
            Self::Expired => record.is_expired(now),
            Self::All => true,
        }
    }
}

/// Which records [`EvidenceStore::list_filtered`] returns; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceFilter {
    /// By freshness.
    pub currency: Currency,
    /// Linked to this control (read through the control's link rows, not a scan).
    pub control: Option<String>,
    /// From this connector (`aws`, `github`, `okta`, `manual`).
    pub connector: Option<String>,
    /// Effective (or, lacking an effective period, collected) on or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Effective (or collected) on or before this time.
    pub to: Option<DateTime<Utc>>,
}

impl EvidenceFilter {
    /// Whether a record belongs in the listing at `now` (the control is matched by the query).
    pub fn admits(&self, r: &EvidenceRecord, now: DateTime<Utc>) -> bool {
        let start = r.effective_from.unwrap_or(r.collected_at);
        let end = r.effective_to.unwrap_or(r.collected_at);
        self.currency.admits(r, now)
            && self.connector.as_deref().is_none_or(|c| r.source.connector == c)
            && self.from.is_none_or(|from| end >= from)
            && self.to.is_none_or(|to| start <= to)
    }
}

/// A metadata edit. For each `Option<Option<_>>` field, `None` leaves the value as it is,
/// `Some(None)` clears it and `Some(Some(v))` sets it; `controls: Some(list)` replaces the links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataPatch {
    /// New title.
    pub title: Option<Option<String>>,
    /// New description.
    pub description: Option<Option<String>>,
    /// New start of the effective period.
    pub effective_from: Option<Option<DateTime<Utc>>>,
    /// New end of the effective period.
    pub effective_to: Option<Option<DateTime<Utc>>>,
    /// New freshness limit.
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// New linked controls (Kushim control ids).
    pub controls: Option<Vec<String>>,
}

impl MetadataPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A control link as stored in the `EVCONTROL#<control>#<digest>` index row. The compliance state
/// reads these rows (with its own copy of the fields it needs) to judge, per control, whether
/// manually uploaded evidence is present and fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlLink {
    /// The control.
    pub control_id: String,
    /// The evidence's digest.
    pub digest: String,
    /// The evidence source's connector (`manual` for uploads).
    pub connector: String,
    /// When the evidence was collected.
    pub collected_at: DateTime<Utc>,
    /// When it stops being fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
}

/// An entry of the `EXPIRY#<yyyy-mm-dd>` day partition: a record whose `valid_until` falls that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryEntry {
    /// The owning tenant.
    pub tenant: String,
    /// The evidence's digest.
    pub digest: String,
    /// When it stops being fresh.
    pub valid_until: DateTime<Utc>,
}

/// Checks and normalises the editable metadata: title and description lengths, the effective
/// period's order, and that every control is a Kushim control (sorted, without duplicates).
fn normalise(
    title: &mut Option<String>,
    description: &mut Option<String>,
    effective: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    controls: &mut Vec<String>,
) -> Result<(), EvidenceError> {
    if let Some(t) = title.as_deref() {
        let t = t.trim();
        if t.is_empty() || t.chars().count() > MAX_TITLE_CHARS || t.chars().any(char::is_control) {
            return Err(EvidenceError::Invalid(format!("a title must be 1-{MAX_TITLE_CHARS} characters on one line")));
        }
        *title = Some(t.to_owned());
    }
    if let Some(d) = description.as_deref() {
        let ok = d.chars().count() <= MAX_DESCRIPTION_CHARS
            && d.chars().all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r');
        if !ok {
            return Err(EvidenceError::Invalid(format!(
                "a description must be at most {MAX_DESCRIPTION_CHARS} characters of text"
            )));
        }
        if d.trim().is_empty() {
            *description = None;
        }
    }
    if let (Some(from), Some(to)) = effective
        && from > to
    {
        return Err(EvidenceError::Invalid("the effective period ends before it starts".into()));
    }
    controls.sort();
    controls.dedup();
    if controls.len() > MAX_CONTROLS {
        return Err(EvidenceError::Invalid(format!("evidence links to at most {MAX_CONTROLS} controls")));
    }
    if let Some(unknown) = controls.iter().find(|c| catalog().control(c).is_none()) {
        return Err(EvidenceError::UnknownControl(unknown.clone()));
    }
    Ok(())
}

fn attrs_of<T: Serialize>(value: &T, what: &str) -> Result<serde_json::Map<String, serde_json::Value>, EvidenceError> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(EvidenceError::Invalid(format!("{what} does not serialise"))),
    }
}

impl ControlLink {
    /// The link a record's index row for `control` must hold.
    pub fn of(record: &EvidenceRecord, control: &str) -> Self {
        Self {
            control_id: control.to_owned(),
            digest: record.digest.clone(),
            connector: record.source.connector.clone(),
            collected_at: record.collected_at,
            valid_until: record.valid_until,
        }
    }
}

/// The index row linking the record to one control.
fn control_row(tenant: &TenantId, record: &EvidenceRecord, control: &str) -> Result<Item, EvidenceError> {
    let link = ControlLink::of(record, control);
    Ok(Item {
        attrs: attrs_of(&link, "control link")?,
        ..Item::new(keys::evidence_control(tenant, control, &record.digest))
    })
}

/// The day-partition row of the record's `valid_until`, if it has one.
fn expiry_row(tenant: &TenantId, record: &EvidenceRecord) -> Result<Option<Item>, EvidenceError> {
    let Some(until) = record.valid_until else { return Ok(None) };
    let entry = ExpiryEntry { tenant: tenant.to_string(), digest: record.digest.clone(), valid_until: until };
    let key = keys::evidence_expiry(&day(until), tenant, &record.digest);
    let ttl = (until + Duration::days(EXPIRY_ROW_DAYS)).timestamp();
    Ok(Some(Item { attrs: attrs_of(&entry, "expiry entry")?, expires_at: Some(ttl), ..Item::new(key) }))
}

/// A date as the expiry partitions name it (`yyyy-mm-dd`, UTC).
pub fn day(t: DateTime<Utc>) -> String {
    t.date_naive().format("%Y-%m-%d").to_string()
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

    /// The table the store writes to.
    pub fn table(&self) -> &dyn Table {
        self.table.as_ref()
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
        let mut new = new;
        if new.media_type.trim().is_empty() {
            return Err(EvidenceError::Invalid("a media type is required".into()));
        }
        normalise(&mut new.title, &mut new.description, (new.effective_from, new.effective_to), &mut new.controls)?;
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
            title: new.title,
            description: new.description,
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
            version: 1,
            updated_at: None,
        };
        let meta_hash = record.meta_hash()?;
        let row = TxOp::Put {
            item: Item { attrs: attrs_of(&record, "record")?, ..Item::new(keys::evidence(tenant, &hex)) },
            condition: Some(Condition::NotExists),
        };
        let mut ops = vec![row];
        for control in &record.controls {
            ops.push(TxOp::Put { item: control_row(tenant, &record, control)?, condition: None });
        }
        if let Some(item) = expiry_row(tenant, &record)? {
            ops.push(TxOp::Put { item, condition: None });
        }
        match self.ledger.append_with(tenant, EntryKind::Evidence, &hex, Some(meta_hash), now, ops).await? {
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

    /// One page of the tenant's records that `currency` admits at `now`, in digest order. Reads
    /// on until the page is full or the records run out (at most ten times `limit` rows per call;
    /// a page may then be shorter, with a cursor to carry on).
    pub async fn list_by_currency(
        &self,
        tenant: &TenantId,
        currency: Currency,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<EvidenceRecord>, Option<Cursor>), EvidenceError> {
        let limit = limit.max(1);
        let mut out = Vec::new();
        let (mut cursor, mut scanned) = (cursor, 0u32);
        loop {
            // Never ask for more rows than the page still needs, so none is read and skipped.
            let want = limit - out.len() as u32;
            let (records, next) = self.list(tenant, want, cursor).await?;
            scanned += records.len() as u32;
            out.extend(records.into_iter().filter(|r| currency.admits(r, now)));
            cursor = next;
            if cursor.is_none() || out.len() as u32 >= limit || scanned >= limit.saturating_mul(10) {
                return Ok((out, cursor));
            }
        }
    }

    /// The tenant's retention policy (the default when none was set).
    pub async fn retention_policy(&self, tenant: &TenantId) -> Result<RetentionPolicy, EvidenceError> {
        Ok(match self.table.get(&keys::evidence_retention(tenant)).await? {
            Some(item) => item.parse::<RetentionPolicy>()?,
            None => RetentionPolicy::default(),
        })
    }

    /// A page of the tenant's records matching `filter` (in digest order). Like
    /// [`Self::list_by_currency`], a page may hold fewer than `limit` records while more follow.
    pub async fn list_filtered(
        &self,
        tenant: &TenantId,
        filter: &EvidenceFilter,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<EvidenceRecord>, Option<Cursor>), EvidenceError> {
        let Some(control) = &filter.control else {
            let limit = limit.max(1);
            let mut out = Vec::new();
            let (mut cursor, mut scanned) = (cursor, 0u32);
            loop {
                let want = limit - out.len() as u32;
                let (records, next) = self.list(tenant, want, cursor).await?;
                scanned += records.len() as u32;
                out.extend(records.into_iter().filter(|r| filter.admits(r, now)));
                cursor = next;
                if cursor.is_none() || out.len() as u32 >= limit || scanned >= limit.saturating_mul(10) {
                    return Ok((out, cursor));
                }
            }
        };
        let prefix = keys::evidence_control_prefix(control);
        let page = self
            .table
            .query(
                Query::partition(keys::tenant_pk(tenant)).begins_with(prefix.clone()).limit(limit.max(1)).after(cursor),
            )
            .await?;
        let mut out = Vec::new();
        for item in &page.items {
            let Some(digest) = item.key.sk.strip_prefix(&prefix) else { continue };
            if let Some(record) = self.get(tenant, digest).await?
                && filter.admits(&record, now)
            {
                out.push(record);
            }
        }
        Ok((out, page.cursor))
    }

    /// Edits a record's metadata if its version is still `expected_version`: title, description,
    /// effective period, `valid_until` and linked controls (content and provenance never
    /// change). The edit, the control and expiry index rows it moves, and a
    /// [`EntryKind::Metadata`] ledger entry carrying the new metadata hash are written in one
    /// transaction. A stale version is [`EvidenceError::VersionConflict`]; an empty patch (or one
    /// that changes nothing) returns the record as it is, without a ledger entry.
    pub async fn update_metadata(
        &self,
        tenant: &TenantId,
        digest_hex: &str,
        patch: MetadataPatch,
        expected_version: u64,
        now: DateTime<Utc>,
    ) -> Result<EvidenceRecord, EvidenceError> {
        let current =
            self.get(tenant, digest_hex).await?.ok_or_else(|| EvidenceError::NotFound(digest_hex.to_owned()))?;
        if current.version != expected_version {
            return Err(EvidenceError::VersionConflict { current: current.version });
        }
        let mut next = current.clone();
        if let Some(v) = patch.title {
            next.title = v;
        }
        if let Some(v) = patch.description {
            next.description = v;
        }
        if let Some(v) = patch.effective_from {
            next.effective_from = v;
        }
        if let Some(v) = patch.effective_to {
            next.effective_to = v;
        }
        if let Some(v) = patch.valid_until {
            next.valid_until = v;
        }
        if let Some(v) = patch.controls {
            next.controls = v;
        }
        normalise(
            &mut next.title,
            &mut next.description,
            (next.effective_from, next.effective_to),
            &mut next.controls,
        )?;
        if next == current {
            return Ok(current);
        }
        next.version = current.version + 1;
        next.updated_at = Some(now);

        let mut ops = vec![TxOp::Put {
            item: Item { attrs: attrs_of(&next, "record")?, ..Item::new(keys::evidence(tenant, &next.digest)) },
            condition: Some(Condition::VersionEquals(expected_version)),
        }];
        for gone in current.controls.iter().filter(|c| !next.controls.contains(c)) {
            ops.push(TxOp::Delete { key: keys::evidence_control(tenant, gone, &next.digest), condition: None });
        }
        for control in &next.controls {
            ops.push(TxOp::Put { item: control_row(tenant, &next, control)?, condition: None });
        }
        let (old_expiry, new_expiry) = (expiry_row(tenant, &current)?, expiry_row(tenant, &next)?);
        if let Some(old) = &old_expiry
            && new_expiry.as_ref().is_none_or(|new| new.key != old.key)
        {
            ops.push(TxOp::Delete { key: old.key.clone(), condition: None });
        }
        if let Some(item) = new_expiry {
            ops.push(TxOp::Put { item, condition: None });
        }
        let meta_hash = next.meta_hash()?;
        let entry =
            self.ledger.append_with(tenant, EntryKind::Metadata, &next.digest, Some(meta_hash), now, ops).await?;
        match entry {
            Some(_) => Ok(next),
            // Someone else edited it between our read and our write.
            None => {
                let version = self.get(tenant, digest_hex).await?.map_or(0, |r| r.version);
                Err(EvidenceError::VersionConflict { current: version })
            }
        }
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
