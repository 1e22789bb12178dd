//! The auditor package: one ZIP file an auditor can check without trusting Kushim's database.
//!
//! A package holds, at fixed paths:
//! - `manifest.json`: the package format, a caller-supplied header (tenant, framework, window…),
//!   and every other file with its SHA-256 and size;
//! - `ledger/checkpoint.json` and `ledger/public-key.txt`: a checkpoint signed with the tenant's
//!   checkpoint key, and that key (compare it with the one Kushim publishes at
//!   `GET /v1/evidence/public-key`);
//! - `ledger/segment.jsonl`: the ledger entries from the first one that records an exported
//!   evidence file up to the checkpoint's entry, one JSON object per line;
//! - `evidence/files/<sha256>` and `evidence/records/<sha256>.json`: each exported evidence file's
//!   bytes and its metadata record;
//! - whatever else the caller adds (control status, CSV summaries, OSCAL), listed in the manifest.
//!
//! [`write_zip`] is deterministic: entries sorted by path, one fixed timestamp, fixed permissions
//! and compression, so the same inputs give byte-identical archives. [`verify_package`] needs
//! nothing but the archive's bytes: it checks the manifest against every file, the checkpoint's
//! signature, the segment's hash chain up to the signed head, and each evidence file against its
//! record and the ledger entry that recorded it; the report names the first bad file or entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::{Cursor, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use kushim_adapters::keys;
use kushim_adapters::table::{Query, SortKey, Table};
use kushim_domain::TenantId;
use serde::{Deserialize, Serialize};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime as ZipTime, ZipArchive, ZipWriter};

use crate::EvidenceError;
use crate::canonical::digest_hex;
use crate::checkpoint::Checkpoint;
use crate::ledger::{GENESIS, LedgerEntry};
use crate::store::EvidenceRecord;

/// The format tag every manifest carries.
pub const FORMAT: &str = "kushim-auditor-package/1";
/// The manifest's path.
pub const MANIFEST: &str = "manifest.json";
/// The signed checkpoint's path.
pub const CHECKPOINT: &str = "ledger/checkpoint.json";
/// The checkpoint public key's path (raw 32 bytes, base64url, one line).
pub const PUBLIC_KEY: &str = "ledger/public-key.txt";
/// The ledger segment's path.
pub const SEGMENT: &str = "ledger/segment.jsonl";
/// Where evidence bytes go: `evidence/files/<sha256>`.
pub const EVIDENCE_FILES: &str = "evidence/files/";
/// Where evidence records go: `evidence/records/<sha256>.json`.
pub const EVIDENCE_RECORDS: &str = "evidence/records/";
/// Largest archive [`verify_package`] opens, and largest file it inflates.
pub const MAX_PACKAGE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The path of an evidence file's bytes inside a package.
pub fn evidence_file_path(digest: &str) -> String {
    format!("{EVIDENCE_FILES}{digest}")
}

/// The path of an evidence file's record inside a package.
pub fn evidence_record_path(digest: &str) -> String {
    format!("{EVIDENCE_RECORDS}{digest}.json")
}

/// One file the manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// Path inside the archive.
    pub path: String,
    /// SHA-256 of the file's bytes (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// The manifest: the format, what the caller says about the package, and every other file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The tenant the package belongs to.
    pub tenant: String,
    /// What the package is about (framework, window, generation time…), as the exporter says.
    pub about: serde_json::Value,
    /// The checkpoint the ledger segment ends at.
    pub checkpoint_seq: u64,
    /// Every file except the manifest, sorted by path.
    pub files: Vec<ManifestFile>,
}

/// What goes into a package.
#[derive(Debug, Clone)]
pub struct PackageContents {
    /// The tenant.
    pub tenant: String,
    /// Free-form description for the manifest.
    pub about: serde_json::Value,
    /// The signed checkpoint the segment ends at.
    pub checkpoint: Checkpoint,
    /// Entries from the first one recording an exported evidence file through the checkpoint.
    pub segment: Vec<LedgerEntry>,
    /// Exported evidence: each record with its bytes.
    pub evidence: Vec<(EvidenceRecord, Vec<u8>)>,
    /// Any other files (reports, CSVs, OSCAL), by path.
    pub extra: BTreeMap<String, Vec<u8>>,
}

/// Lays out the package's files (manifest included) by path.
pub fn package_files(contents: &PackageContents) -> Result<BTreeMap<String, Vec<u8>>, EvidenceError> {
    let invalid = |why: String| EvidenceError::Invalid(why);
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    files.insert(CHECKPOINT.into(), pretty_json(&contents.checkpoint)?);
    files.insert(PUBLIC_KEY.into(), format!("{}\n", contents.checkpoint.public_key).into_bytes());
    let mut segment = Vec::new();
    for entry in &contents.segment {
        serde_json::to_writer(&mut segment, entry).map_err(|e| invalid(e.to_string()))?;
        segment.push(b'\n');
    }
    files.insert(SEGMENT.into(), segment);
    for (record, bytes) in &contents.evidence {
        files.insert(evidence_file_path(&record.digest), bytes.clone());
        files.insert(evidence_record_path(&record.digest), pretty_json(record)?);
    }
    for (path, bytes) in &contents.extra {
        if path == MANIFEST || files.contains_key(path) {
            return Err(invalid(format!("{path} is a reserved package path")));
        }
        files.insert(path.clone(), bytes.clone());
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        tenant: contents.tenant.clone(),
        about: contents.about.clone(),
        checkpoint_seq: contents.checkpoint.seq,
        files: files
            .iter()
            .map(|(path, bytes)| ManifestFile {
                path: path.clone(),
                sha256: digest_hex(bytes),
                size: bytes.len() as u64,
            })
            .collect(),
    };
    files.insert(MANIFEST.into(), pretty_json(&manifest)?);
    Ok(files)
}

/// Pretty JSON with a final newline, as every JSON file of a package is written.
pub fn pretty_json<T: Serialize>(value: &T) -> Result<Vec<u8>, EvidenceError> {
    let mut out = serde_json::to_vec_pretty(value)
        .map_err(|e| EvidenceError::Invalid(format!("package file does not serialise: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// Writes files into a deterministic ZIP: sorted paths, a fixed 1980-01-01 timestamp, mode 0644,
/// deflate at a fixed level.
pub fn write_zip(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, EvidenceError> {
    let zip_err = |e: zip::result::ZipError| EvidenceError::Invalid(format!("zip: {e}"));
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(ZipTime::default())
        .unix_permissions(0o644)
        .large_file(false);
    for (path, bytes) in files {
        let options = if bytes.len() as u64 >= u32::MAX as u64 { options.large_file(true) } else { options };
        writer.start_file(path.as_str(), options).map_err(zip_err)?;
        writer.write_all(bytes).map_err(|e| EvidenceError::Invalid(format!("zip: {e}")))?;
    }
    Ok(writer.finish().map_err(zip_err)?.into_inner())
}

/// Builds the package's ZIP.
pub fn build_package(contents: &PackageContents) -> Result<Vec<u8>, EvidenceError> {
    write_zip(&package_files(contents)?)
}

/// Reads the ledger entries `from..=to` of a tenant, in order (rows that do not parse are skipped;
/// [`crate::verify_tenant`] is the place that reports them).
pub async fn ledger_segment(
    table: &dyn Table,
    tenant: &TenantId,
    from: u64,
    to: u64,
) -> Result<Vec<LedgerEntry>, EvidenceError> {
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    let mut cursor = None;
    loop {
        let query = Query {
            sort: SortKey::Between(keys::ledger_entry(tenant, from).sk, keys::ledger_entry(tenant, to).sk),
            ..Query::partition(keys::tenant_pk(tenant))
        }
        .limit(1000)
        .after(cursor);
        let page = table.query(query).await?;
        out.extend(page.items.iter().filter_map(|i| i.parse::<LedgerEntry>().ok()));
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// What is wrong with a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PackageProblemKind {
    /// The bytes are not a readable ZIP archive.
    NotAZip { detail: String },
    /// `manifest.json` is missing or does not parse.
    ManifestInvalid { detail: String },
    /// A file the manifest lists is not in the archive.
    FileMissing,
    /// A file's bytes do not match the manifest's SHA-256 or size.
    FileAltered,
    /// A file is in the archive but not in the manifest.
    FileUnlisted,
    /// The checkpoint or public key is missing or does not parse.
    CheckpointInvalid { detail: String },
    /// The checkpoint's signature does not verify with the package's public key.
    CheckpointBadSignature,
    /// The checkpoint names another tenant, or the manifest another checkpoint.
    CheckpointMismatch,
    /// A segment line does not parse.
    EntryMalformed,
    /// An entry's hash does not match its content.
    EntryAltered,
    /// An entry does not follow its predecessor (gap, reorder or duplicate).
    EntryOutOfSequence { expected: u64 },
    /// An entry does not point at its predecessor's hash.
    BrokenLink,
    /// The segment does not end at the checkpoint's entry and hash.
    SegmentDoesNotReachCheckpoint,
    /// An evidence record does not parse or belongs to another tenant.
    RecordInvalid { detail: String },
    /// No entry of the segment records this evidence.
    Unledgered,
    /// The record differs from what its ledger entry recorded.
    MetadataAltered,
    /// The evidence file's bytes do not match the record's digest or size.
    EvidenceAltered,
    /// An evidence file has no record, or a record has no file.
    EvidenceIncomplete,
}

/// One problem, located by file path, ledger entry and/or evidence digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageProblem {
    /// The file inside the archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The ledger entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The evidence digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// What is wrong.
    #[serde(flatten)]
    pub kind: PackageProblemKind,
}

impl fmt::Display for PackageProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(path) = &self.path {
            write!(f, " in {path}")?;
        }
        if let Some(seq) = self.seq {
            write!(f, " at entry {seq}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, " (evidence {d})")?;
        }
        Ok(())
    }
}

/// The outcome of verifying a package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageReport {
    /// The manifest, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
    /// Files checked against the manifest.
    pub files: u64,
    /// Ledger entries checked.
    pub entries: u64,
    /// Evidence files checked.
    pub evidence: u64,
    /// The public key the checkpoint verified with (compare it with the published one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Every problem found.
    pub problems: Vec<PackageProblem>,
    /// The first problem (the manifest before files, files before the chain, the chain in order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<PackageProblem>,
}

impl PackageReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(kind: PackageProblemKind) -> PackageProblem {
    PackageProblem { path: None, seq: None, digest: None, kind }
}

fn at_path(path: &str, kind: PackageProblemKind) -> PackageProblem {
    PackageProblem { path: Some(path.to_owned()), seq: None, digest: None, kind }
}

fn at_entry(seq: u64, kind: PackageProblemKind) -> PackageProblem {
    PackageProblem { path: Some(SEGMENT.into()), seq: Some(seq), digest: None, kind }
}

fn for_digest(digest: &str, kind: PackageProblemKind) -> PackageProblem {
    PackageProblem { path: Some(evidence_file_path(digest)), seq: None, digest: Some(digest.to_owned()), kind }
}

fn finish(mut report: PackageReport) -> PackageReport {
    report.first_bad = report.problems.first().cloned();
    report
}

/// Reads every entry of a ZIP archive, refusing archives or entries larger than
/// [`MAX_PACKAGE_BYTES`] and duplicate paths.
fn read_zip(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    if bytes.len() as u64 > MAX_PACKAGE_BYTES {
        return Err("the archive is larger than 4 GiB".into());
    }
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        if file.is_dir() {
            continue;
        }
        let name = file.name().map_err(|e| e.to_string())?.into_owned();
        if file.size() > MAX_PACKAGE_BYTES {
            return Err(format!("{name} claims {} bytes", file.size()));
        }
        let mut data = Vec::with_capacity(file.size().min(64 * 1024 * 1024) as usize);
        (&mut file).take(MAX_PACKAGE_BYTES).read_to_end(&mut data).map_err(|e| format!("{name}: {e}"))?;
        if out.insert(name.clone(), data).is_some() {
            return Err(format!("{name} appears twice"));
        }
    }
    Ok(out)
}

/// Verifies a package with nothing but its bytes.
pub fn verify_package(bytes: &[u8]) -> PackageReport {
    let mut report = PackageReport {
        manifest: None,
        files: 0,
        entries: 0,
        evidence: 0,
        public_key: None,
        problems: Vec::new(),
        first_bad: None,
    };
    let files = match read_zip(bytes) {
        Ok(files) => files,
        Err(detail) => {
            report.problems.push(problem(PackageProblemKind::NotAZip { detail }));
            return finish(report);
        }
    };
    let manifest: Manifest = match files.get(MANIFEST).map(|b| serde_json::from_slice(b)) {
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            report.problems.push(at_path(MANIFEST, PackageProblemKind::ManifestInvalid { detail: e.to_string() }));
            return finish(report);
        }
        None => {
            report.problems.push(at_path(MANIFEST, PackageProblemKind::ManifestInvalid { detail: "missing".into() }));
            return finish(report);
        }
    };
    if manifest.format != FORMAT {
        report.problems.push(at_path(
            MANIFEST,
            PackageProblemKind::ManifestInvalid { detail: format!("unknown format {:?}", manifest.format) },
        ));
        return finish(report);
    }

    // 1. Every file against the manifest, and nothing unlisted.
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for entry in &manifest.files {
        report.files += 1;
        match files.get(&entry.path) {
            None => report.problems.push(at_path(&entry.path, PackageProblemKind::FileMissing)),
            Some(b) if b.len() as u64 != entry.size || digest_hex(b) != entry.sha256 => {
                report.problems.push(at_path(&entry.path, PackageProblemKind::FileAltered))
            }
            Some(_) => {}
        }
    }
    for path in files.keys().filter(|p| p.as_str() != MANIFEST && !listed.contains(p.as_str())) {
        report.problems.push(at_path(path, PackageProblemKind::FileUnlisted));
    }

    // 2. The checkpoint and its signature.
    let checkpoint = files.get(CHECKPOINT).map(|b| serde_json::from_slice::<Checkpoint>(b));
    let key = files.get(PUBLIC_KEY).map(|b| String::from_utf8_lossy(b).trim().to_owned());
    let checkpoint = match (checkpoint, key) {
        (Some(Ok(cp)), Some(key)) if URL_SAFE_NO_PAD.decode(&key).is_ok_and(|k| k.len() == 32) => {
            if !cp.verify(&key) {
                report.problems.push(at_path(CHECKPOINT, PackageProblemKind::CheckpointBadSignature));
            }
            if cp.tenant != manifest.tenant || cp.seq != manifest.checkpoint_seq {
                report.problems.push(at_path(CHECKPOINT, PackageProblemKind::CheckpointMismatch));
            }
            report.public_key = Some(key);
            Some(cp)
        }
        (Some(Err(e)), _) => {
            let detail = e.to_string();
            report.problems.push(at_path(CHECKPOINT, PackageProblemKind::CheckpointInvalid { detail }));
            None
        }
        (None, _) => {
            let detail = "missing".to_owned();
            report.problems.push(at_path(CHECKPOINT, PackageProblemKind::CheckpointInvalid { detail }));
            None
        }
        (Some(Ok(_)), _) => {
            let detail = "the public key is missing or not 32 bytes of base64url".to_owned();
            report.problems.push(at_path(PUBLIC_KEY, PackageProblemKind::CheckpointInvalid { detail }));
            None
        }
    };

    // 3. The segment: consecutive, each hash right, each link right, ending at the signed head.
    let mut latest_meta: HashMap<String, (u64, Option<String>)> = HashMap::new();
    let mut last: Option<(u64, String)> = None;
    for (line_no, line) in files.get(SEGMENT).map(|b| b.split(|c| *c == b'\n')).into_iter().flatten().enumerate() {
        if line.is_empty() {
            continue;
        }
        report.entries += 1;
        let entry: LedgerEntry = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(_) => {
                let seq = last.as_ref().map_or(line_no as u64, |(s, _)| s + 1);
                report.problems.push(at_entry(seq, PackageProblemKind::EntryMalformed));
                continue;
            }
        };
        if entry.compute_hash() != entry.hash {
            report.problems.push(at_entry(entry.seq, PackageProblemKind::EntryAltered));
        }
        match &last {
            Some((seq, hash)) => {
                if entry.seq != seq + 1 {
                    let expected = seq + 1;
                    report.problems.push(at_entry(entry.seq, PackageProblemKind::EntryOutOfSequence { expected }));
                } else if &entry.prev_hash != hash {
                    report.problems.push(at_entry(entry.seq, PackageProblemKind::BrokenLink));
                }
            }
            None if entry.seq == 1 && entry.prev_hash != GENESIS => {
                report.problems.push(at_entry(1, PackageProblemKind::BrokenLink));
            }
            None => {}
        }
        if entry.meta_hash.is_some() {
            latest_meta.insert(entry.reference.clone(), (entry.seq, entry.meta_hash.clone()));
        }
        last = Some((entry.seq, entry.hash.clone()));
    }
    if let Some(cp) = &checkpoint {
        let reaches = match &last {
            Some((seq, hash)) => *seq == cp.seq && *hash == cp.head_hash,
            None => cp.seq == 0 && cp.head_hash == GENESIS,
        };
        if !reaches {
            let seq = last.as_ref().map_or(0, |(s, _)| *s);
            report.problems.push(at_entry(seq, PackageProblemKind::SegmentDoesNotReachCheckpoint));
        }
    }

    // 4. Each evidence file against its record, and the record against its ledger entry.
    let digests: BTreeSet<&str> = files
        .keys()
        .filter_map(|p| {
            p.strip_prefix(EVIDENCE_FILES)
                .or_else(|| p.strip_prefix(EVIDENCE_RECORDS).and_then(|r| r.strip_suffix(".json")))
        })
        .collect();
    for digest in digests {
        report.evidence += 1;
        let (Some(bytes), Some(record)) =
            (files.get(&evidence_file_path(digest)), files.get(&evidence_record_path(digest)))
        else {
            report.problems.push(for_digest(digest, PackageProblemKind::EvidenceIncomplete));
            continue;
        };
        let record: EvidenceRecord = match serde_json::from_slice(record) {
            Ok(r) => r,
            Err(e) => {
                let detail = e.to_string();
                report.problems.push(for_digest(digest, PackageProblemKind::RecordInvalid { detail }));
                continue;
            }
        };
        if record.tenant != manifest.tenant || record.digest != digest {
            let detail = "the record names another tenant or digest".to_owned();
            report.problems.push(for_digest(digest, PackageProblemKind::RecordInvalid { detail }));
            continue;
        }
        if bytes.len() as u64 != record.size || digest_hex(bytes) != digest {
            report.problems.push(for_digest(digest, PackageProblemKind::EvidenceAltered));
        }
        match latest_meta.get(digest) {
            None => report.problems.push(for_digest(digest, PackageProblemKind::Unledgered)),
            Some((seq, meta_hash)) => {
                if record.meta_hash().ok() != *meta_hash {
                    let mut p = for_digest(digest, PackageProblemKind::MetadataAltered);
                    p.seq = Some(*seq);
                    report.problems.push(p);
                }
            }
        }
    }
    report.manifest = Some(manifest);
    finish(report)
}
