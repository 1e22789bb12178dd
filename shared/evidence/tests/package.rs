//! The auditor package: built from a real store on the embedded adapters, verified offline from
//! its bytes alone, byte-identical when rebuilt from the same inputs, and every kind of tampering
//! (even by someone who rewrites the manifest to match) is named.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use kushim_adapters::blob::BlobStore;
use kushim_adapters::blob::embedded::EmbeddedBlobs;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::secrets::embedded::EmbeddedSecrets;
use kushim_adapters::table::Table;
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_domain::TenantId;
use kushim_evidence::package::{
    self, CHECKPOINT, MANIFEST, Manifest, ManifestFile, PackageContents, PackageProblemKind, PackageReport, SEGMENT,
};
use kushim_evidence::{Checkpoints, EvidenceStore, LedgerEntry, NewEvidence, RetentionPolicy, Source, digest_hex};
use serde_json::json;

struct Env {
    store: EvidenceStore,
    checkpoints: Checkpoints,
    table: Arc<dyn Table>,
    _dir: tempfile::TempDir,
}

fn fresh_env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(EmbeddedBlobs::open(dir.path()).unwrap());
    let secrets: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).unwrap());
    Env {
        store: EvidenceStore::new(table.clone(), blobs),
        checkpoints: Checkpoints::new(table.clone(), secrets),
        table,
        _dir: dir,
    }
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap()
}

fn evidence(n: u32) -> NewEvidence {
    let source = Source { connector: "aws".into(), account: Some("123456789012".into()), ..Source::default() };
    let mut e = NewEvidence::json(json!({ "users": [{ "name": format!("user-{n}") }], "n": n }), source, at());
    e.controls = vec!["KC-IAM-01".into()];
    e.valid_until = Some(at() + Duration::days(30));
    e
}

/// GIVEN three stored evidence files and a checkpoint, the contents of a package with the last two.
async fn contents(env: &Env) -> PackageContents {
    let mut records = Vec::new();
    for n in 1..=3 {
        records.push(env.store.put(&tenant(), evidence(n), RetentionPolicy::default(), at()).await.unwrap());
    }
    let checkpoint = env.checkpoints.checkpoint(&tenant(), at()).await.unwrap();
    let segment = package::ledger_segment(env.table.as_ref(), &tenant(), 2, checkpoint.seq).await.unwrap();
    let mut exported = Vec::new();
    for r in &records[1..] {
        exported.push((r.clone(), env.store.read_bytes(&tenant(), &r.digest).await.unwrap().to_vec()));
    }
    PackageContents {
        tenant: tenant().to_string(),
        about: json!({ "framework": "soc2", "from": "2026-11-01", "to": "2026-11-20" }),
        checkpoint,
        segment,
        evidence: exported,
        extra: BTreeMap::from([("controls/status.csv".to_owned(), b"control_id,status\nKC-IAM-01,passing\n".to_vec())]),
    }
}

fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.insert(f.name().unwrap().into_owned(), data);
    }
    out
}

/// Re-zips files after an edit; with `fix_manifest` the forger also rewrites the manifest's hashes.
fn repack(mut files: BTreeMap<String, Vec<u8>>, fix_manifest: bool) -> Vec<u8> {
    if fix_manifest {
        let mut manifest: Manifest = serde_json::from_slice(&files[MANIFEST]).unwrap();
        manifest.files = files
            .iter()
            .filter(|(p, _)| p.as_str() != MANIFEST)
            .map(|(p, b)| ManifestFile { path: p.clone(), sha256: digest_hex(b), size: b.len() as u64 })
            .collect();
        files.insert(MANIFEST.into(), serde_json::to_vec_pretty(&manifest).unwrap());
    }
    package::write_zip(&files).unwrap()
}

fn assert_first(report: &PackageReport, kind: &PackageProblemKind) {
    let first = report.first_bad.as_ref().unwrap_or_else(|| panic!("expected {kind:?}, the package verified"));
    assert_eq!(&first.kind, kind, "all problems: {:?}", report.problems);
}

fn evidence_paths(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    files.keys().filter(|p| p.starts_with(package::EVIDENCE_FILES)).cloned().collect()
}

#[tokio::test]
async fn given_a_package_when_verified_offline_then_everything_checks_out() {
    let env = fresh_env();
    let zip = package::build_package(&contents(&env).await).unwrap();
    let report = package::verify_package(&zip);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.evidence, report.entries), (2, 2));
    assert_eq!(report.files, 8, "checkpoint, key, segment, 2 × (file, record), one CSV");
    assert_eq!(report.public_key.as_deref(), Some(env.checkpoints.public_key().await.unwrap().as_str()));
}

#[tokio::test]
async fn given_the_same_inputs_then_the_zip_is_byte_identical() {
    let env = fresh_env();
    let c = contents(&env).await;
    let (a, b) = (package::build_package(&c).unwrap(), package::build_package(&c).unwrap());
    assert_eq!(a, b);
    // Entries are sorted and carry the fixed timestamp.
    let mut archive = zip::ZipArchive::new(Cursor::new(&a)).unwrap();
    let names: Vec<String> = archive.file_names().map(|n| n.unwrap().into_owned()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    let first = archive.by_index(0).unwrap();
    assert_eq!(first.last_modified().map(|t| t.year()), Some(1980));
}

#[tokio::test]
async fn a_flipped_byte_in_an_evidence_file_is_named_even_with_a_rewritten_manifest() {
    let env = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let path = evidence_paths(&files)[0].clone();
    files.get_mut(&path).unwrap()[3] ^= 0x01;
    let naive = package::verify_package(&repack(files.clone(), false));
    assert_first(&naive, &PackageProblemKind::FileAltered);
    assert_eq!(naive.first_bad.unwrap().path.as_deref(), Some(path.as_str()));
    let forged = package::verify_package(&repack(files, true));
    assert_first(&forged, &PackageProblemKind::EvidenceAltered);
    assert_eq!(forged.first_bad.unwrap().digest.as_deref(), path.strip_prefix(package::EVIDENCE_FILES));
}

#[tokio::test]
async fn an_edited_record_is_named() {
    let env = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let path = files.keys().find(|p| p.starts_with(package::EVIDENCE_RECORDS)).unwrap().clone();
    let mut record: serde_json::Value = serde_json::from_slice(&files[&path]).unwrap();
    record["controls"] = json!(["KC-IAM-01", "KC-LOG-01"]);
    files.insert(path, serde_json::to_vec(&record).unwrap());
    let report = package::verify_package(&repack(files, true));
    assert_first(&report, &PackageProblemKind::MetadataAltered);
}

fn segment_lines(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    String::from_utf8(files[SEGMENT].clone()).unwrap().lines().map(str::to_owned).collect()
}

fn set_segment(files: &mut BTreeMap<String, Vec<u8>>, lines: &[String]) {
    files.insert(SEGMENT.into(), format!("{}\n", lines.join("\n")).into_bytes());
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let env = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let mut lines = segment_lines(&files);
    lines.remove(0);
    set_segment(&mut files, &lines);
    let report = package::verify_package(&repack(files, true));
    assert_first(&report, &PackageProblemKind::Unledgered);
    // Deleting the last entry instead leaves a segment short of the signed head.
    let other = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&other).await).unwrap());
    let mut lines = segment_lines(&files);
    lines.pop();
    set_segment(&mut files, &lines);
    let report = package::verify_package(&repack(files, true));
    assert!(report.problems.iter().any(|p| p.kind == PackageProblemKind::SegmentDoesNotReachCheckpoint));
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let env = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let mut lines = segment_lines(&files);
    lines.swap(0, 1);
    set_segment(&mut files, &lines);
    let report = package::verify_package(&repack(files, true));
    assert_first(&report, &PackageProblemKind::EntryOutOfSequence { expected: 4 });
}

#[tokio::test]
async fn a_rewritten_entry_is_named_at_its_sequence_number() {
    let env = fresh_env();
    let mut files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let mut lines = segment_lines(&files);
    let mut entry: LedgerEntry = serde_json::from_str(&lines[0]).unwrap();
    entry.time = "2020-01-01T00:00:00.000000Z".into();
    lines[0] = serde_json::to_string(&entry).unwrap();
    set_segment(&mut files, &lines);
    let report = package::verify_package(&repack(files.clone(), true));
    assert_first(&report, &PackageProblemKind::EntryAltered);
    assert_eq!(report.first_bad.unwrap().seq, Some(2));
    // Re-hashing the entry breaks the link of the next one instead.
    entry.hash = entry.compute_hash();
    lines[0] = serde_json::to_string(&entry).unwrap();
    set_segment(&mut files, &lines);
    let report = package::verify_package(&repack(files, true));
    assert_first(&report, &PackageProblemKind::BrokenLink);
    assert_eq!(report.first_bad.unwrap().seq, Some(3));
}

#[tokio::test]
async fn a_forged_checkpoint_or_swapped_key_is_named() {
    let env = fresh_env();
    let files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let mut edited = files.clone();
    let mut cp: serde_json::Value = serde_json::from_slice(&files[CHECKPOINT]).unwrap();
    cp["seq"] = json!(2);
    edited.insert(CHECKPOINT.into(), serde_json::to_vec(&cp).unwrap());
    let report = package::verify_package(&repack(edited, true));
    assert_first(&report, &PackageProblemKind::CheckpointBadSignature);

    // A key that is not the one that signed.
    let mut swapped = files;
    swapped.insert(package::PUBLIC_KEY.into(), b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n".to_vec());
    let report = package::verify_package(&repack(swapped, true));
    assert_first(&report, &PackageProblemKind::CheckpointBadSignature);
}

#[tokio::test]
async fn unlisted_and_missing_files_and_garbage_are_named() {
    let env = fresh_env();
    let files = unzip(&package::build_package(&contents(&env).await).unwrap());
    let mut extra = files.clone();
    extra.insert("notes.txt".into(), b"trust me".to_vec());
    assert_first(&package::verify_package(&repack(extra, false)), &PackageProblemKind::FileUnlisted);

    let mut missing = files;
    missing.remove("controls/status.csv");
    assert_first(&package::verify_package(&repack(missing, false)), &PackageProblemKind::FileMissing);

    let report = package::verify_package(b"not a zip at all");
    assert!(matches!(report.first_bad.unwrap().kind, PackageProblemKind::NotAZip { .. }));
}
