//! Exports on the embedded adapters: a queued export is built into a package that verifies
//! offline, holds only the evidence placed in the window, is byte-identical when the tenant has
//! not changed, and a ready export is never rebuilt.

use std::io::{Cursor, Read};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use kushim_adapters::blob::BlobStore;
use kushim_adapters::blob::embedded::EmbeddedBlobs;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::secrets::embedded::EmbeddedSecrets;
use kushim_adapters::table::Table;
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_catalog::FrameworkId;
use kushim_checks::{CheckResult, Status};
use kushim_compliance::Compliance;
use kushim_domain::TenantId;
use kushim_evidence::package::{evidence_file_path, verify_package};
use kushim_evidence::{EvidenceStore, NewEvidence, RetentionPolicy, Source};
use kushim_exports::{ExportError, ExportRequest, ExportStatus, Exports};
use serde_json::json;

struct Env {
    exports: Exports,
    store: EvidenceStore,
    compliance: Compliance,
    _dir: tempfile::TempDir,
}

fn fresh() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(EmbeddedBlobs::open(dir.path()).unwrap());
    let secrets: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).unwrap());
    Env {
        exports: Exports::new(table.clone(), blobs.clone(), secrets),
        store: EvidenceStore::new(table.clone(), blobs),
        compliance: Compliance::new(table),
        _dir: dir,
    }
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn day(d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, d, 12, 0, 0).unwrap()
}

fn request() -> ExportRequest {
    ExportRequest {
        framework: FrameworkId::Soc2,
        from: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        to: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
    }
}

/// GIVEN evidence inside and outside October and one failing result.
async fn seed(env: &Env) -> (String, String) {
    let put = |n: u32, at| {
        let mut e =
            NewEvidence::json(json!({ "report": n }), Source { connector: "aws".into(), ..Source::default() }, at);
        e.controls = vec!["KC-IAM-01".into()];
        e
    };
    let inside = put(1, day(10));
    let outside = put(2, day(10) - Duration::days(60));
    let inside = env.store.put(&tenant(), inside, RetentionPolicy::default(), day(10)).await.unwrap();
    let outside = env.store.put(&tenant(), outside, RetentionPolicy::default(), day(10)).await.unwrap();
    let result = CheckResult {
        check_id: "aws.iam.user_mfa_console".into(),
        resource_id: "arn:aws:iam::111122223333:user/alice".into(),
        status: Status::Fail,
        reason: "alice has no MFA.".into(),
    };
    env.compliance.record_results(&tenant(), "run-1", &[result], day(10)).await.unwrap();
    (inside.digest, outside.digest)
}

fn unzip(bytes: &[u8], path: &str) -> Option<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let mut f = archive.by_name(path).ok()?;
    let mut out = Vec::new();
    f.read_to_end(&mut out).ok()?;
    Some(out)
}

#[tokio::test]
async fn a_queued_export_builds_into_a_package_that_verifies_and_holds_the_window() {
    let env = fresh();
    let (inside, outside) = seed(&env).await;
    let queued = env.exports.create(&tenant(), request(), "user-1", day(31)).await.unwrap();
    assert_eq!(queued.status, ExportStatus::Queued);

    let ready = env.exports.build(&tenant(), &queued.id, day(31)).await.unwrap();
    assert_eq!(ready.status, ExportStatus::Ready);
    assert_eq!(ready.evidence_count, Some(1));
    let zip = env.exports.package_bytes(&ready).await.unwrap();
    assert_eq!(kushim_domain::sha256(&zip).to_hex(), ready.sha256.clone().unwrap());
    let report = verify_package(&zip);
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(unzip(&zip, &evidence_file_path(&inside)).is_some());
    assert!(unzip(&zip, &evidence_file_path(&outside)).is_none(), "evidence from August is not in October's package");

    // The failing result shows in the CSVs and the OSCAL document.
    let results = String::from_utf8(unzip(&zip, "checks/results.csv").unwrap()).unwrap();
    assert!(
        results.contains("KC-IAM-01,aws.iam.user_mfa_console,arn:aws:iam::111122223333:user/alice,fail"),
        "{results}"
    );
    let status = String::from_utf8(unzip(&zip, "controls/status.csv").unwrap()).unwrap();
    assert!(status.lines().any(|l| l.starts_with("KC-IAM-01,") && l.contains(",failing,")), "{status}");
    let oscal: serde_json::Value =
        serde_json::from_slice(&unzip(&zip, "oscal/assessment-results.json").unwrap()).unwrap();
    assert_eq!(oscal["assessment-results"]["metadata"]["oscal-version"], "1.1.3");

    // A ready export is not rebuilt.
    let again = env.exports.build(&tenant(), &queued.id, day(31) + Duration::hours(1)).await.unwrap();
    assert_eq!(again, ready);
}

#[tokio::test]
async fn the_same_state_exported_twice_gives_the_same_bytes_and_new_evidence_changes_them() {
    let env = fresh();
    seed(&env).await;
    let a = env.exports.create(&tenant(), request(), "user-1", day(31)).await.unwrap();
    let a = env.exports.build(&tenant(), &a.id, day(31)).await.unwrap();
    let b = env.exports.create(&tenant(), request(), "user-2", day(31) + Duration::hours(2)).await.unwrap();
    let b = env.exports.build(&tenant(), &b.id, day(31) + Duration::hours(2)).await.unwrap();
    assert_eq!(a.sha256, b.sha256);
    assert_eq!(a.blob_key, b.blob_key, "content-addressed: stored once");

    let mut e = NewEvidence::json(json!({ "report": 3 }), Source::default(), day(20));
    e.controls = vec!["KC-IAM-01".into()];
    env.store.put(&tenant(), e, RetentionPolicy::default(), day(31)).await.unwrap();
    let c = env.exports.create(&tenant(), request(), "user-1", day(31) + Duration::hours(3)).await.unwrap();
    let c = env.exports.build(&tenant(), &c.id, day(31) + Duration::hours(3)).await.unwrap();
    assert_ne!(c.sha256, a.sha256);
    assert_eq!(c.evidence_count, Some(2));
    assert!(c.checkpoint_seq > a.checkpoint_seq);
}

#[tokio::test]
async fn bad_windows_are_refused_and_unknown_exports_are_not_found() {
    let env = fresh();
    let mut backwards = request();
    backwards.from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let future = ExportRequest { to: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(), ..request() };
    let long = ExportRequest { from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(), ..request() };
    for bad in [backwards, future, long] {
        let err = env.exports.create(&tenant(), bad, "u", day(31)).await.unwrap_err();
        assert!(matches!(err, ExportError::Invalid(_)), "{err}");
    }
    assert!(env.exports.get(&tenant(), "not-a-uuid").await.unwrap().is_none());
    let missing = env.exports.build(&tenant(), "0190c5a8-0000-7000-8000-000000000000", day(31)).await.unwrap_err();
    assert!(matches!(missing, ExportError::NotFound(_)));
    // Another tenant cannot see an export.
    let mine = env.exports.create(&tenant(), request(), "u", day(31)).await.unwrap();
    assert!(env.exports.get(&TenantId::new("other").unwrap(), &mine.id).await.unwrap().is_none());
}
