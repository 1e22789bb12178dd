//! Verification of a tenant's evidence. [`verify_tenant`] walks the ledger in key order and
//! recomputes every entry hash and link, finding gaps (a deleted entry), reordering (an entry
//! stored under another sequence number), forks (two entries claiming the same predecessor) and a
//! head that disagrees with the chain; for each evidence entry it re-reads the metadata row
//! (against the `meta_hash` the entry carries) and the pinned blob version (against the digest and
//! size); it flags evidence rows no entry records, and checks every checkpoint's signature and that
//! its (seq, hash) is still in the chain. The report names the first bad entry.

use std::collections::{HashMap, HashSet};
use std::fmt;

use kushim_adapters::AdapterError;
use kushim_adapters::blob::BlobStore;
use kushim_adapters::keys;
use kushim_adapters::table::{Query, Table};
use kushim_domain::TenantId;
use serde::Serialize;

use crate::EvidenceError;
use crate::checkpoint::list_checkpoints;
use crate::ledger::{EntryKind, GENESIS, LedgerEntry, head_of};
use crate::store::{EvidenceRecord, check_bytes};

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProblemKind {
    /// The entry's row does not parse.
    Malformed,
    /// The entry stored under this sequence number claims another one (entries were reordered).
    Reordered {
        /// The sequence number the entry claims.
        claims: u64,
    },
    /// The entry's hash does not match its content.
    Altered,
    /// Entries are missing (deleted) from this sequence number on.
    Missing {
        /// Last missing sequence number.
        through: u64,
    },
    /// The entry does not point at its predecessor's hash.
    BrokenLink,
    /// The entry claims the same predecessor as an earlier one.
    Fork {
        /// The other entry.
        with: u64,
    },
    /// The head names a later entry than the chain holds (entries deleted at the end).
    Truncated {
        /// The head's sequence number.
        head: u64,
    },
    /// The head's sequence number or hash disagrees with the last entry.
    HeadMismatch,
    /// The evidence row an entry records is gone.
    EvidenceMissing,
    /// The evidence row differs from what the entry recorded.
    MetadataAltered,
    /// The pinned blob version is gone.
    BlobMissing,
    /// The blob's bytes no longer match the digest or size.
    BlobAltered,
    /// An evidence row no ledger entry records.
    Unledgered,
    /// A checkpoint's signature does not verify with the published key.
    CheckpointBadSignature,
    /// A checkpoint's (seq, hash) is not in the chain any more (history was rewritten).
    CheckpointMismatch,
}

/// One problem, located by sequence number and/or evidence digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The ledger entry (or checkpoint) sequence number.
    pub seq: Option<u64>,
    /// The evidence digest, when the problem concerns evidence.
    pub digest: Option<String>,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(seq) = self.seq {
            write!(f, " at entry {seq}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, " (evidence {d})")?;
        }
        Ok(())
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Ledger entries read.
    pub entries: u64,
    /// Evidence records checked.
    pub evidence: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Every problem, in chain order.
    pub problems: Vec<Problem>,
    /// The first bad entry (lowest sequence number), if any.
    pub first_bad: Option<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn at(seq: u64, kind: ProblemKind) -> Problem {
    Problem { seq: Some(seq), digest: None, kind }
}

/// Verifies everything the tenant has stored; `public_key` is the published checkpoint key (raw
/// 32 bytes, base64url).
pub async fn verify_tenant(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    public_key: &str,
    tenant: &TenantId,
) -> Result<VerifyReport, EvidenceError> {
    let mut problems = Vec::new();
    let mut hashes: HashMap<u64, String> = HashMap::new();
    let mut claimed: HashMap<String, u64> = HashMap::new();
    let mut ledgered: HashSet<String> = HashSet::new();
    let (mut expected, mut prev, mut last, mut entries, mut evidence) = (1u64, GENESIS.to_owned(), 0u64, 0u64, 0u64);
    let mut cursor = None;
    loop {
        let query =
            Query::partition(keys::tenant_pk(tenant)).begins_with(keys::LEDGER_PREFIX).limit(1000).after(cursor);
        let page = table.query(query).await?;
        for item in &page.items {
            entries += 1;
            let Ok(k) = item.key.sk.trim_start_matches(keys::LEDGER_PREFIX).parse::<u64>() else {
                problems.push(Problem { seq: None, digest: None, kind: ProblemKind::Malformed });
                continue;
            };
            let gap = k > expected;
            if gap {
                problems.push(at(expected, ProblemKind::Missing { through: k - 1 }));
            }
            let (next_expected, next_last) = (k + 1, k);
            (expected, last) = (next_expected, next_last);
            let e: LedgerEntry = match item.parse() {
                Ok(e) => e,
                Err(_) => {
                    problems.push(at(k, ProblemKind::Malformed));
                    prev = String::new();
                    continue;
                }
            };
            let problem = if e.seq != k {
                Some(ProblemKind::Reordered { claims: e.seq })
            } else if e.compute_hash() != e.hash {
                Some(ProblemKind::Altered)
            } else if let Some(&other) = claimed.get(&e.prev_hash) {
                Some(ProblemKind::Fork { with: other })
            } else if !gap && e.prev_hash != prev {
                Some(ProblemKind::BrokenLink)
            } else {
                None
            };
            claimed.entry(e.prev_hash.clone()).or_insert(k);
            prev = e.hash.clone();
            if let Some(kind) = problem {
                problems.push(at(k, kind));
                continue;
            }
            hashes.insert(k, e.hash.clone());
            if e.kind == EntryKind::Evidence {
                evidence += 1;
                ledgered.insert(e.reference.clone());
                if let Some(kind) = check_evidence(table, blobs, tenant, &e).await? {
                    problems.push(Problem { seq: Some(k), digest: Some(e.reference.clone()), kind });
                }
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }

    let head = head_of(table, tenant).await?;
    if head.seq > last {
        problems.push(at(last + 1, ProblemKind::Truncated { head: head.seq }));
    } else if head.seq != last || (last > 0 && head.hash != prev) {
        problems.push(at(head.seq.max(1), ProblemKind::HeadMismatch));
    }

    // Evidence rows no entry records.
    let mut cursor = None;
    loop {
        let query =
            Query::partition(keys::tenant_pk(tenant)).begins_with(keys::EVIDENCE_PREFIX).limit(1000).after(cursor);
        let page = table.query(query).await?;
        for item in &page.items {
            let digest = item.key.sk.trim_start_matches(keys::EVIDENCE_PREFIX).to_owned();
            if !ledgered.contains(&digest) {
                problems.push(Problem { seq: None, digest: Some(digest), kind: ProblemKind::Unledgered });
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }

    let checkpoints = list_checkpoints(table, tenant).await?;
    for (seq, cp) in &checkpoints {
        let Ok(cp) = cp else {
            problems.push(at(*seq, ProblemKind::CheckpointBadSignature));
            continue;
        };
        if cp.seq != *seq || cp.tenant != tenant.as_str() || !cp.verify(public_key) {
            problems.push(at(*seq, ProblemKind::CheckpointBadSignature));
            continue;
        }
        let in_chain = if cp.seq == 0 { cp.head_hash == GENESIS } else { hashes.get(&cp.seq) == Some(&cp.head_hash) };
        if !in_chain {
            problems.push(at(cp.seq, ProblemKind::CheckpointMismatch));
        }
    }

    problems.sort_by_key(|p| p.seq.unwrap_or(u64::MAX));
    let first_bad = problems.first().cloned();
    Ok(VerifyReport { entries, evidence, checkpoints: checkpoints.len() as u64, problems, first_bad })
}

async fn check_evidence(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    entry: &LedgerEntry,
) -> Result<Option<ProblemKind>, EvidenceError> {
    let Some(item) = table.get(&keys::evidence(tenant, &entry.reference)).await? else {
        return Ok(Some(ProblemKind::EvidenceMissing));
    };
    let Ok(record) = item.parse::<EvidenceRecord>() else {
        return Ok(Some(ProblemKind::MetadataAltered));
    };
    if record.digest != entry.reference || entry.meta_hash.as_deref() != Some(record.meta_hash()?.as_str()) {
        return Ok(Some(ProblemKind::MetadataAltered));
    }
    match blobs.get(&record.blob_key, Some(&record.version_id)).await {
        Ok(blob) => Ok(check_bytes(&record, &blob.bytes).err().map(|_| ProblemKind::BlobAltered)),
        Err(AdapterError::NotFound(_)) => Ok(Some(ProblemKind::BlobMissing)),
        Err(AdapterError::ChecksumMismatch(_)) => Ok(Some(ProblemKind::BlobAltered)),
        Err(e) => Err(e.into()),
    }
}
