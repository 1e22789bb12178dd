//! Verification of a tenant's evidence. [`verify_tenant`] walks the ledger in key order and
//! recomputes every entry hash and link, finding gaps (a deleted entry), reordering (an entry
//! stored under another sequence number), forks (two entries claiming the same predecessor) and a
//! head that disagrees with the chain; for each piece of evidence it re-reads the metadata row
//! (against the `meta_hash` of the latest entry that records it: the evidence entry, or the last
//! metadata-edit entry after it) and the pinned blob version (against the digest and size); it
//! flags evidence rows no entry records, checks that every audit event is anchored by the entry
//! carrying its hash (and every anchor still finds its event), checks that the control link rows (which control status
//! is judged from) say exactly what the verified records say, and checks every checkpoint's
//! signature and that its (seq, hash) is still in the chain. The report names the first bad entry.

use std::collections::{BTreeMap, HashMap, HashSet};
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
use crate::store::{ControlLink, EvidenceRecord, check_bytes};

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
    /// A control link row (`EVCONTROL#`) disagrees with its verified record: missing, linking a
    /// control the record does not, or carrying other freshness. Control status is judged from
    /// these rows, so a forged one would make a control look supplied.
    ControlLinkAltered {
        /// The control the row is about.
        control: String,
    },
    /// A checkpoint's signature does not verify with the published key.
    CheckpointBadSignature,
    /// A checkpoint's (seq, hash) is not in the chain any more (history was rewritten).
    CheckpointMismatch,
    /// An audit event no ledger entry anchors (written or rewritten behind the ledger's back).
    AuditUnledgered {
        /// The audit event's own sequence number.
        audit_seq: u64,
    },
    /// The audit event an entry anchors is gone, or no longer carries the anchored hash.
    AuditEventMissing,
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
    // Audit event hash -> the entry anchoring it.
    let mut audit_refs: HashMap<String, u64> = HashMap::new();
    // Per digest: the evidence entry's seq, and the latest entry (evidence or metadata edit) with its meta hash.
    let mut recorded: BTreeMap<String, (u64, u64, Option<String>)> = BTreeMap::new();
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
            match e.kind {
                EntryKind::Evidence => {
                    evidence += 1;
                    ledgered.insert(e.reference.clone());
                    recorded.insert(e.reference.clone(), (k, k, e.meta_hash.clone()));
                }
                EntryKind::Metadata => match recorded.get_mut(&e.reference) {
                    Some(r) => (r.1, r.2) = (k, e.meta_hash.clone()),
                    // An edit of evidence no earlier entry stored.
                    None => problems.push(Problem {
                        seq: Some(k),
                        digest: Some(e.reference.clone()),
                        kind: ProblemKind::EvidenceMissing,
                    }),
                },
                EntryKind::Audit => {
                    audit_refs.insert(e.reference.clone(), k);
                }
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }

    let mut verified: HashMap<String, EvidenceRecord> = HashMap::new();
    for (digest, (stored_seq, latest_seq, meta_hash)) in &recorded {
        match check_evidence(table, blobs, tenant, digest, meta_hash.as_deref()).await? {
            Ok(record) => {
                verified.insert(digest.clone(), record);
            }
            Err((kind, at_latest)) => {
                let seq = if at_latest { *latest_seq } else { *stored_seq };
                problems.push(Problem { seq: Some(seq), digest: Some(digest.clone()), kind });
            }
        }
    }
    check_control_links(table, tenant, &recorded, &verified, &mut problems).await?;

    let head = head_of(table, tenant).await?;
    if head.seq > last {
        problems.push(at(last + 1, ProblemKind::Truncated { head: head.seq }));
    } else if head.seq != last || (last > 0 && head.hash != prev) {
        problems.push(at(head.seq.max(1), ProblemKind::HeadMismatch));
    }

    // Audit events: each anchored by exactly the entry carrying its hash.
    let mut cursor = None;
    loop {
        let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::AUDIT_PREFIX).limit(1000).after(cursor);
        let page = table.query(query).await?;
        for item in &page.items {
            let hash = item.attrs.get("hash").and_then(|v| v.as_str()).unwrap_or_default();
            if audit_refs.remove(hash).is_none() {
                let audit_seq = item.key.sk.trim_start_matches(keys::AUDIT_PREFIX).parse().unwrap_or(0);
                problems.push(Problem { seq: None, digest: None, kind: ProblemKind::AuditUnledgered { audit_seq } });
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    for seq in audit_refs.into_values() {
        problems.push(at(seq, ProblemKind::AuditEventMissing));
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

/// Checks one piece of evidence's row against the latest metadata hash the ledger recorded for
/// it, then its pinned blob. Returns the verified record, or the problem and whether it belongs
/// to the latest entry (a metadata mismatch) rather than the entry that stored the evidence (a
/// missing row or blob).
async fn check_evidence(
    table: &dyn Table,
    blobs: &dyn BlobStore,
    tenant: &TenantId,
    digest: &str,
    meta_hash: Option<&str>,
) -> Result<Result<EvidenceRecord, (ProblemKind, bool)>, EvidenceError> {
    let Some(item) = table.get(&keys::evidence(tenant, digest)).await? else {
        return Ok(Err((ProblemKind::EvidenceMissing, false)));
    };
    let Ok(record) = item.parse::<EvidenceRecord>() else {
        return Ok(Err((ProblemKind::MetadataAltered, true)));
    };
    if record.digest != digest || meta_hash != Some(record.meta_hash()?.as_str()) {
        return Ok(Err((ProblemKind::MetadataAltered, true)));
    }
    let blob = match blobs.get(&record.blob_key, Some(&record.version_id)).await {
        Ok(blob) => check_bytes(&record, &blob.bytes).err().map(|_| ProblemKind::BlobAltered),
        Err(AdapterError::NotFound(_)) => Some(ProblemKind::BlobMissing),
        Err(AdapterError::ChecksumMismatch(_)) => Some(ProblemKind::BlobAltered),
        Err(e) => return Err(e.into()),
    };
    Ok(match blob {
        None => Ok(record),
        Some(kind) => Err((kind, false)),
    })
}

/// Compares the tenant's control link rows with the verified records: each record's links must
/// be there, carry what the record says, and no other link may exist. Links of records that
/// failed their own checks are not judged again.
async fn check_control_links(
    table: &dyn Table,
    tenant: &TenantId,
    recorded: &BTreeMap<String, (u64, u64, Option<String>)>,
    verified: &HashMap<String, EvidenceRecord>,
    problems: &mut Vec<Problem>,
) -> Result<(), EvidenceError> {
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut cursor = None;
    loop {
        let query = Query::partition(keys::tenant_pk(tenant))
            .begins_with(keys::EVIDENCE_CONTROL_PREFIX)
            .limit(1000)
            .after(cursor);
        let page = table.query(query).await?;
        for item in &page.items {
            let rest = item.key.sk.trim_start_matches(keys::EVIDENCE_CONTROL_PREFIX);
            let (control, digest) = rest.rsplit_once('#').unwrap_or((rest, ""));
            let (control, digest) = (control.to_owned(), digest.to_owned());
            let link = item.parse::<ControlLink>().ok();
            let faithful = match (verified.get(&digest), &link) {
                (Some(record), Some(link)) => {
                    *link == ControlLink::of(record, &control) && record.controls.contains(&control)
                }
                // The record itself failed verification, and was reported.
                (None, _) if recorded.contains_key(&digest) => true,
                _ => false,
            };
            if !faithful {
                let seq = recorded.get(&digest).map(|r| r.1);
                let digest = Some(digest.clone()).filter(|d| !d.is_empty());
                problems.push(Problem {
                    seq,
                    digest,
                    kind: ProblemKind::ControlLinkAltered { control: control.clone() },
                });
            }
            seen.insert((control, digest));
        }
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    for (digest, record) in verified {
        for control in record.controls.iter().filter(|c| !seen.contains(&((*c).clone(), digest.clone()))) {
            problems.push(Problem {
                seq: recorded.get(digest).map(|r| r.1),
                digest: Some(digest.clone()),
                kind: ProblemKind::ControlLinkAltered { control: control.clone() },
            });
        }
    }
    Ok(())
}
