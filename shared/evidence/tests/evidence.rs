//! Behaviour of the evidence store, ledger, checkpoints and verification. Every case runs twice:
//! on the embedded adapters (SQLite and files in a temporary directory) and on moto (a table and an
//! Object Lock bucket provisioned from the template under a unique prefix, and Secrets Manager).
//! Tampering is done behind the store's back, directly on the table or the blob files.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, LockMode, PutOptions};
use kushim_adapters::keys;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::table::Table;
use kushim_domain::TenantId;
use kushim_evidence::expiry::{EVENT_SOURCE, EXPIRING, ReminderSummary};
use kushim_evidence::ledger::EntryKind;
use kushim_evidence::{
    Checkpoints, Content, Currency, EvidenceError, EvidenceRecord, EvidenceStore, MetadataPatch, NewEvidence,
    ProblemKind, RetentionPolicy, Source, VerifyReport, expiry_reminders, verify_tenant,
};
use serde_json::json;

/// One backend and the services over it.
struct Env {
    store: EvidenceStore,
    checkpoints: Checkpoints,
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    secrets: Arc<dyn Secrets>,
    /// Where the embedded blob store keeps version files (`None` on moto).
    blob_data: Option<PathBuf>,
    /// Where the embedded secrets live, to open more adapters over them (`None` on moto).
    secrets_dir: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

fn embedded_env() -> Env {
    use kushim_adapters::blob::embedded::EmbeddedBlobs;
    use kushim_adapters::secrets::embedded::EmbeddedSecrets;
    use kushim_adapters::table::embedded::EmbeddedTable;

    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(EmbeddedBlobs::open(dir.path()).unwrap());
    let secrets: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).unwrap());
    Env {
        store: EvidenceStore::new(table.clone(), blobs.clone()),
        checkpoints: Checkpoints::new(table.clone(), secrets.clone()),
        table,
        blobs,
        secrets,
        blob_data: Some(dir.path().join("blobs").join("data")),
        secrets_dir: Some(dir.path().join("secrets")),
        _dir: Some(dir),
    }
}

async fn aws_env() -> Env {
    use kushim_adapters::aws::sdk::{dynamodb, secretsmanager};
    use kushim_adapters::blob::s3::S3Blobs;
    use kushim_adapters::secrets::secretsmanager::SecretsManagerSecrets;
    use kushim_adapters::table::dynamo::DynamoTable;

    let (sdk, provisioned) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), provisioned.table_name));
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Blobs::new(S3Blobs::client_from(&sdk), provisioned.bucket_name));
    let prefix = format!("{}/", kushim_testkit::unique_prefix());
    let secrets: Arc<dyn Secrets> =
        Arc::new(SecretsManagerSecrets::new(secretsmanager::Client::new(&sdk), prefix).with_force_delete(true));
    Env {
        store: EvidenceStore::new(table.clone(), blobs.clone()),
        checkpoints: Checkpoints::new(table.clone(), secrets.clone()),
        table,
        blobs,
        secrets,
        blob_data: None,
        secrets_dir: None,
        _dir: None,
    }
}

/// Runs each case against fresh embedded adapters and fresh AWS adapters in moto.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let env = super::embedded_env();
                    super::$case(&env).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test]
                async fn $case() {
                    let env = super::aws_env().await;
                    super::$case(&env).await;
                }
            )*
        }
    };
}

on_both_backends!(
    json_evidence_round_trips_as_canonical_bytes,
    the_same_content_twice_is_stored_once,
    blobs_are_locked_for_the_tenants_retention,
    an_invalid_retention_policy_is_refused,
    concurrent_appends_never_fork_the_chain,
    a_tampered_blob_is_detected,
    an_edited_metadata_field_is_detected,
    a_deleted_entry_is_detected,
    reordered_entries_are_detected,
    a_deleted_last_entry_is_detected,
    checkpoints_verify_until_the_chain_is_rewritten,
    a_forked_entry_is_detected,
    concurrent_puts_of_the_same_content_store_it_once,
    metadata_edits_are_ledgered_and_still_verify,
    a_silent_edit_after_a_ledgered_edit_is_detected,
    concurrent_edits_of_one_version_have_one_winner,
    invalid_edits_are_refused_and_change_nothing,
    expired_evidence_is_listed_apart_and_stays_verifiable,
    control_links_and_expiry_entries_follow_edits,
    a_forged_or_edited_control_link_is_detected,
    expiry_reminders_go_out_once_per_threshold,
    an_unpublished_reminder_is_retried_by_the_next_run,
    racing_first_uses_agree_on_one_signing_key,
);

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn snapshot(n: u32) -> NewEvidence {
    let source = Source {
        connector: "aws".into(),
        integration_id: Some("int-1".into()),
        api_call: Some("iam:ListUsers".into()),
        region: Some("eu-west-1".into()),
        account: Some("123456789012".into()),
        repo: None,
    };
    let mut e =
        NewEvidence::json(json!({ "users": [{ "name": format!("user-{n}"), "mfa": true }], "n": n }), source, now());
    e.effective_from = Some(now() - Duration::days(1));
    e.effective_to = Some(now());
    e.valid_until = Some(now() + Duration::days(7));
    e.controls = vec!["KC-IAM-01".into()];
    e.checks = vec!["aws.iam.user_mfa_console".into()];
    e
}

async fn put(env: &Env, n: u32) -> EvidenceRecord {
    env.store.put(&tenant(), snapshot(n), RetentionPolicy::default(), now()).await.unwrap()
}

async fn verify(env: &Env) -> VerifyReport {
    let key = env.checkpoints.public_key().await.unwrap();
    verify_tenant(env.table.as_ref(), env.blobs.as_ref(), &key, &tenant()).await.unwrap()
}

/// Asserts the report's first bad entry is `seq` with the given kind.
fn assert_first_bad(report: &VerifyReport, seq: u64, kind: &ProblemKind) {
    let first = report.first_bad.as_ref().unwrap_or_else(|| panic!("expected a problem at {seq}, got none"));
    assert_eq!((first.seq, &first.kind), (Some(seq), kind), "all problems: {:?}", report.problems);
}

async fn json_evidence_round_trips_as_canonical_bytes(env: &Env) {
    let t = tenant();
    let mut new = snapshot(1);
    new.content = Content::Json(serde_json::from_str(r#"{ "z": 1.0, "a": [ "x" ] }"#).unwrap());
    let record = env.store.put(&t, new, RetentionPolicy::default(), now()).await.unwrap();
    assert_eq!(record.size, 17);
    assert_eq!(record.blob_key, format!("tenants/acme/evidence/{}", record.digest));
    assert_eq!(record.source.api_call.as_deref(), Some("iam:ListUsers"));
    assert_eq!(env.store.get(&t, &record.digest).await.unwrap(), Some(record.clone()));
    assert_eq!(env.store.read_bytes(&t, &record.digest).await.unwrap(), Bytes::from_static(br#"{"a":["x"],"z":1}"#));
    let (listed, _) = env.store.list(&t, 10, None).await.unwrap();
    assert_eq!(listed, vec![record]);
    let report = verify(env).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.entries, report.evidence), (1, 1));
}

async fn the_same_content_twice_is_stored_once(env: &Env) {
    let t = tenant();
    let first = put(env, 1).await;
    let mut again = snapshot(1);
    // Same document, other key order and a later collection time: still the same content.
    again.content = match again.content {
        Content::Json(v) => Content::Json(serde_json::from_str(&format!("{v:#}")).unwrap()),
        other => other,
    };
    again.collected_at = now() + Duration::hours(1);
    let second = env.store.put(&t, again, RetentionPolicy::default(), now()).await.unwrap();
    assert_eq!(first, second);
    let current = env.blobs.head(&first.blob_key, None).await.unwrap();
    assert_eq!(current.version_id, first.version_id, "no second blob version");
    assert_eq!(env.store.ledger().head(&t).await.unwrap().seq, 1, "one ledger entry");
    assert_eq!(env.store.list(&t, 10, None).await.unwrap().0.len(), 1);
}

async fn blobs_are_locked_for_the_tenants_retention(env: &Env) {
    let record = put(env, 1).await;
    let head = env.blobs.head(&record.blob_key, Some(&record.version_id)).await.unwrap();
    let retention = head.retention.expect("retention is applied");
    assert_eq!(retention.mode, LockMode::Compliance);
    let expected = now() + Duration::days(365);
    assert!((retention.until - expected).num_seconds().abs() < 120, "retained until {}", retention.until);
    let err = env.blobs.delete(&record.blob_key, Some(&record.version_id)).await.unwrap_err();
    assert!(matches!(err, AdapterError::ObjectLocked { .. }), "{err:?}");

    let short = env.store.put(&tenant(), snapshot(2), RetentionPolicy::new(90).unwrap(), now()).await.unwrap();
    let until = env.blobs.head(&short.blob_key, Some(&short.version_id)).await.unwrap().retention.unwrap().until;
    assert!((until - (now() + Duration::days(90))).num_seconds().abs() < 120);
}

async fn an_invalid_retention_policy_is_refused(env: &Env) {
    for days in [0, 89, 2556] {
        let err = env.store.put(&tenant(), snapshot(1), RetentionPolicy { days }, now()).await.unwrap_err();
        assert!(matches!(err, EvidenceError::InvalidRetention(d) if d == days), "{err:?}");
    }
    assert!(env.store.list(&tenant(), 10, None).await.unwrap().0.is_empty());
    assert_eq!(env.store.ledger().head(&tenant()).await.unwrap().seq, 0);
}

async fn concurrent_appends_never_fork_the_chain(env: &Env) {
    let ledger = Arc::new(env.store.ledger().clone());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            ledger.append(&tenant(), EntryKind::Audit, &format!("event-{i}"), now()).await.unwrap().seq
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let report = verify(env).await;
    // The entries anchor audit events this test never wrote; apart from those missing events the
    // chain is whole: no gap, fork, reorder or broken link.
    let chain: Vec<_> = report.problems.iter().filter(|p| p.kind != ProblemKind::AuditEventMissing).collect();
    assert!(chain.is_empty(), "{chain:?}");
    assert_eq!(report.problems.len(), 20, "each anchor is checked against the audit log");
    assert_eq!(report.entries, 20);
}

async fn a_tampered_blob_is_detected(env: &Env) {
    let t = tenant();
    let records = [put(env, 1).await, put(env, 2).await, put(env, 3).await];
    let victim = &records[1];
    match &env.blob_data {
        Some(data) => {
            let path = data.join(&victim.version_id);
            let mut perms = std::fs::metadata(&path).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&path, perms).unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            bytes[3] ^= 0x01;
            std::fs::write(&path, bytes).unwrap();
            assert!(matches!(env.store.read_bytes(&t, &victim.digest).await, Err(EvidenceError::Tampered { .. })));
            assert_first_bad(&verify(env).await, 2, &ProblemKind::BlobAltered);
        }
        None => {
            // S3 never changes a version in place: a new version under the key is not tampering,
            // because the record pins its version. Pointing the record at it is.
            let other = Bytes::from_static(b"{\"forged\":true}");
            let forged = env
                .blobs
                .put(&victim.blob_key, other.clone(), PutOptions::for_bytes(&other, "application/json"))
                .await
                .unwrap();
            assert!(verify(env).await.is_ok());
            assert!(env.store.read_bytes(&t, &victim.digest).await.is_ok());
            edit_row(env, &victim.digest, "version_id", json!(forged.version_id)).await;
            assert_first_bad(&verify(env).await, 2, &ProblemKind::MetadataAltered);
        }
    }
}

async fn edit_row(env: &Env, digest: &str, field: &str, value: serde_json::Value) {
    let key = keys::evidence(&tenant(), digest);
    let mut item = env.table.get(&key).await.unwrap().unwrap();
    item.attrs.insert(field.into(), value);
    env.table.put(item, None).await.unwrap();
}

async fn an_edited_metadata_field_is_detected(env: &Env) {
    let records = [put(env, 1).await, put(env, 2).await, put(env, 3).await];
    assert!(verify(env).await.is_ok());
    edit_row(env, &records[1].digest, "controls", json!(["KC-IAM-01", "KC-IAM-02"])).await;
    let report = verify(env).await;
    assert_first_bad(&report, 2, &ProblemKind::MetadataAltered);
    assert_eq!(report.first_bad.unwrap().digest.as_deref(), Some(records[1].digest.as_str()));
}

async fn a_deleted_entry_is_detected(env: &Env) {
    for n in 1..=3 {
        put(env, n).await;
    }
    env.table.delete(&keys::ledger_entry(&tenant(), 2), None).await.unwrap();
    let report = verify(env).await;
    assert_first_bad(&report, 2, &ProblemKind::Missing { through: 2 });
    assert!(report.problems.iter().any(|p| p.kind == ProblemKind::Unledgered), "{:?}", report.problems);
}

async fn a_deleted_last_entry_is_detected(env: &Env) {
    for n in 1..=3 {
        put(env, n).await;
    }
    env.table.delete(&keys::ledger_entry(&tenant(), 3), None).await.unwrap();
    assert_first_bad(&verify(env).await, 3, &ProblemKind::Truncated { head: 3 });
}

async fn reordered_entries_are_detected(env: &Env) {
    for n in 1..=4 {
        put(env, n).await;
    }
    let (k2, k3) = (keys::ledger_entry(&tenant(), 2), keys::ledger_entry(&tenant(), 3));
    let (mut a, mut b) = (env.table.get(&k2).await.unwrap().unwrap(), env.table.get(&k3).await.unwrap().unwrap());
    std::mem::swap(&mut a.attrs, &mut b.attrs);
    env.table.put(a, None).await.unwrap();
    env.table.put(b, None).await.unwrap();
    assert_first_bad(&verify(env).await, 2, &ProblemKind::Reordered { claims: 3 });
}

async fn checkpoints_verify_until_the_chain_is_rewritten(env: &Env) {
    let t = tenant();
    for n in 1..=3 {
        put(env, n).await;
    }
    let cp = env.checkpoints.checkpoint(&t, now()).await.unwrap();
    let published = env.checkpoints.public_key().await.unwrap();
    assert_eq!(cp.seq, 3);
    assert!(cp.verify(&published));
    assert_eq!(cp.public_key, published);
    let report = verify(env).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.checkpoints, 1);

    // Rewrite history consistently: entry 2 gets another time, every later hash is recomputed and
    // the head follows. The chain alone still verifies; the checkpoint no longer matches.
    let mut prev = None;
    for seq in 2..=3 {
        let key = keys::ledger_entry(&t, seq);
        let mut entry: kushim_evidence::LedgerEntry = env.table.get(&key).await.unwrap().unwrap().parse().unwrap();
        if seq == 2 {
            entry.time = "2020-01-01T00:00:00.000000Z".into();
        }
        if let Some(p) = prev {
            entry.prev_hash = p;
        }
        entry.hash = entry.compute_hash();
        prev = Some(entry.hash.clone());
        let attrs = match serde_json::to_value(&entry).unwrap() {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        env.table
            .put(kushim_adapters::table::Item { attrs, ..kushim_adapters::table::Item::new(key) }, None)
            .await
            .unwrap();
    }
    let head =
        kushim_adapters::table::Item::new(keys::ledger_head(&t)).with("version", 3).with("hash", prev.clone().unwrap());
    env.table.put(head, None).await.unwrap();
    let report = verify(env).await;
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_first_bad(&report, 3, &ProblemKind::CheckpointMismatch);

    // Re-signing is impossible without the key: a checkpoint edited to the new head fails.
    let mut forged = cp.clone();
    forged.head_hash = prev.unwrap();
    assert!(!forged.verify(&published));
    let mut item = env.table.get(&keys::ledger_checkpoint(&t, 3)).await.unwrap().unwrap();
    item.attrs.insert("head_hash".into(), json!(forged.head_hash));
    env.table.put(item, None).await.unwrap();
    assert_first_bad(&verify(env).await, 3, &ProblemKind::CheckpointBadSignature);

    // The key is created once and found again by a fresh service.
    let again = Checkpoints::new(env.table.clone(), env.secrets.clone()).public_key().await.unwrap();
    assert_eq!(again, published);
}

async fn a_forked_entry_is_detected(env: &Env) {
    let t = tenant();
    for n in 1..=3 {
        put(env, n).await;
    }
    // A second successor of entry 2, appended at 4 with a recomputed hash and head.
    let three: kushim_evidence::LedgerEntry =
        env.table.get(&keys::ledger_entry(&t, 3)).await.unwrap().unwrap().parse().unwrap();
    let mut fork = kushim_evidence::LedgerEntry {
        seq: 4,
        kind: EntryKind::Audit,
        reference: "forged".into(),
        meta_hash: None,
        ..three
    };
    fork.hash = fork.compute_hash();
    let attrs = match serde_json::to_value(&fork).unwrap() {
        serde_json::Value::Object(m) => m,
        _ => unreachable!(),
    };
    let item = kushim_adapters::table::Item { attrs, ..kushim_adapters::table::Item::new(keys::ledger_entry(&t, 4)) };
    env.table.put(item, None).await.unwrap();
    let head = kushim_adapters::table::Item::new(keys::ledger_head(&t)).with("version", 4).with("hash", fork.hash);
    env.table.put(head, None).await.unwrap();
    assert_first_bad(&verify(env).await, 4, &ProblemKind::Fork { with: 3 });
}

async fn concurrent_puts_of_the_same_content_store_it_once(env: &Env) {
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let store = env.store.clone();
        tasks.push(tokio::spawn(async move {
            store.put(&tenant(), snapshot(7), RetentionPolicy::default(), now()).await.unwrap()
        }));
    }
    let mut records = Vec::new();
    for task in tasks {
        records.push(task.await.unwrap());
    }
    assert!(records.windows(2).all(|w| w[0] == w[1]), "{records:?}");
    assert_eq!(env.store.ledger().head(&tenant()).await.unwrap().seq, 1);
    let report = verify(env).await;
    assert!(report.is_ok(), "{:?}", report.problems);
}

// ---- Metadata edits. ----

fn patch_title(title: &str) -> MetadataPatch {
    MetadataPatch { title: Some(Some(title.into())), ..MetadataPatch::default() }
}

async fn ledger_entry(env: &Env, seq: u64) -> kushim_evidence::LedgerEntry {
    env.table.get(&keys::ledger_entry(&tenant(), seq)).await.unwrap().unwrap().parse().unwrap()
}

async fn metadata_edits_are_ledgered_and_still_verify(env: &Env) {
    let t = tenant();
    let original = put(env, 1).await;
    assert_eq!(original.version, 1);
    // WHEN every editable field is changed.
    let from = now() - Duration::days(90);
    let until = now() + Duration::days(365);
    let patch = MetadataPatch {
        title: Some(Some("  IAM users, Q3  ".into())),
        description: Some(Some("Console users and their MFA state.\nExported by the collector.".into())),
        effective_from: Some(Some(from)),
        effective_to: Some(None),
        valid_until: Some(Some(until)),
        controls: Some(vec!["KC-IAM-02".into(), "KC-IAM-01".into(), "KC-IAM-02".into()]),
    };
    let edited = env.store.update_metadata(&t, &original.digest, patch, 1, now()).await.unwrap();
    // THEN the metadata changed, the version went up, and content and provenance did not move.
    assert_eq!(edited.version, 2);
    assert_eq!(edited.title.as_deref(), Some("IAM users, Q3"), "titles are trimmed");
    assert!(edited.description.as_deref().unwrap().contains('\n'));
    assert_eq!((edited.effective_from, edited.effective_to, edited.valid_until), (Some(from), None, Some(until)));
    assert_eq!(edited.controls, ["KC-IAM-01", "KC-IAM-02"], "sorted and deduplicated");
    assert!(edited.updated_at.is_some());
    let unchanged = |r: &EvidenceRecord| {
        (
            r.digest.clone(),
            r.size,
            r.media_type.clone(),
            r.source.clone(),
            r.collected_at,
            r.blob_key.clone(),
            r.version_id.clone(),
            r.retain_until,
            r.stored_at,
            r.checks.clone(),
        )
    };
    assert_eq!(unchanged(&edited), unchanged(&original));
    assert_eq!(env.store.get(&t, &original.digest).await.unwrap(), Some(edited.clone()));
    // The edit is entry 2 of the chain, carrying the new metadata hash.
    let entry = ledger_entry(env, 2).await;
    assert_eq!((entry.kind, entry.reference.as_str()), (EntryKind::Metadata, original.digest.as_str()));
    assert_eq!(entry.meta_hash, Some(edited.meta_hash().unwrap()));
    let report = verify(env).await;
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.entries, report.evidence), (2, 1));
    // A second edit on the new version works; an edit that changes nothing writes nothing.
    let third = env.store.update_metadata(&t, &original.digest, patch_title("IAM users"), 2, now()).await.unwrap();
    assert_eq!(third.version, 3);
    let same = env.store.update_metadata(&t, &original.digest, patch_title("IAM users"), 3, now()).await.unwrap();
    assert_eq!(same, third);
    let empty = env.store.update_metadata(&t, &original.digest, MetadataPatch::default(), 3, now()).await.unwrap();
    assert_eq!(empty, third);
    assert_eq!(env.store.ledger().head(&t).await.unwrap().seq, 3);
    assert!(verify(env).await.is_ok());
}

async fn a_silent_edit_after_a_ledgered_edit_is_detected(env: &Env) {
    let t = tenant();
    let records = [put(env, 1).await, put(env, 2).await, put(env, 3).await];
    let before = env.table.get(&keys::evidence(&t, &records[1].digest)).await.unwrap().unwrap();
    env.store.update_metadata(&t, &records[1].digest, patch_title("Reviewed"), 1, now()).await.unwrap();
    assert!(verify(env).await.is_ok());
    // WHEN the row is edited in the table without a ledger entry, THEN verify names the edit's entry.
    edit_row(env, &records[1].digest, "title", json!("Quietly renamed")).await;
    let report = verify(env).await;
    assert_first_bad(&report, 4, &ProblemKind::MetadataAltered);
    assert_eq!(report.first_bad.unwrap().digest.as_deref(), Some(records[1].digest.as_str()));
    // Rolling the row back to its first (once ledgered) version is detected too.
    env.table.put(before, None).await.unwrap();
    assert_first_bad(&verify(env).await, 4, &ProblemKind::MetadataAltered);
}

async fn concurrent_edits_of_one_version_have_one_winner(env: &Env) {
    let t = tenant();
    let record = put(env, 1).await;
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (store, digest) = (env.store.clone(), record.digest.clone());
            tokio::spawn(async move {
                store.update_metadata(&tenant(), &digest, patch_title(&format!("t{i}")), 1, now()).await
            })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => {
                winners += 1;
                assert_eq!(r.version, 2);
            }
            Err(EvidenceError::VersionConflict { current }) => assert_eq!(current, 2),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }
    assert_eq!(winners, 1);
    // A stale version is refused outright.
    let stale = env.store.update_metadata(&t, &record.digest, patch_title("late"), 1, now()).await.unwrap_err();
    assert!(matches!(stale, EvidenceError::VersionConflict { current: 2 }), "{stale:?}");
    assert_eq!(env.store.ledger().head(&t).await.unwrap().seq, 2, "one edit entry");
    assert!(verify(env).await.is_ok());
}

async fn invalid_edits_are_refused_and_change_nothing(env: &Env) {
    let t = tenant();
    let record = put(env, 1).await;
    let bad = [
        MetadataPatch { controls: Some(vec!["KC-NOPE-99".into()]), ..MetadataPatch::default() },
        patch_title(""),
        patch_title(&"x".repeat(201)),
        patch_title("two\nlines"),
        MetadataPatch { description: Some(Some("d".repeat(4001))), ..MetadataPatch::default() },
        MetadataPatch { effective_from: Some(Some(now() + Duration::days(2))), ..MetadataPatch::default() },
        MetadataPatch::default().with_many_controls(),
    ];
    for patch in bad {
        let err = env.store.update_metadata(&t, &record.digest, patch.clone(), 1, now()).await.unwrap_err();
        assert!(matches!(err, EvidenceError::Invalid(_) | EvidenceError::UnknownControl(_)), "{patch:?}: {err:?}");
    }
    let missing = kushim_evidence::digest_hex(b"never stored");
    assert!(matches!(
        env.store.update_metadata(&t, &missing, patch_title("x"), 1, now()).await,
        Err(EvidenceError::NotFound(_))
    ));
    assert_eq!(env.store.get(&t, &record.digest).await.unwrap(), Some(record));
    assert_eq!(env.store.ledger().head(&t).await.unwrap().seq, 1);
    // Unknown controls are refused when storing too.
    let mut unknown = snapshot(2);
    unknown.controls = vec!["KC-NOPE-99".into()];
    let err = env.store.put(&t, unknown, RetentionPolicy::default(), now()).await.unwrap_err();
    assert!(matches!(err, EvidenceError::UnknownControl(ref c) if c == "KC-NOPE-99"), "{err:?}");
}

/// More controls than one record may link (every catalog control).
trait ManyControls {
    fn with_many_controls(self) -> Self;
}

impl ManyControls for MetadataPatch {
    fn with_many_controls(self) -> Self {
        let all = kushim_catalog::catalog().controls().iter().map(|c| c.id.clone()).collect();
        Self { controls: Some(all), ..self }
    }
}

// ---- Expiry. ----

async fn put_valid_until(env: &Env, t: &TenantId, n: u32, valid_until: Option<DateTime<Utc>>) -> EvidenceRecord {
    let mut new = snapshot(n);
    new.valid_until = valid_until;
    new.title = Some(format!("evidence {n}"));
    env.store.put(t, new, RetentionPolicy::default(), now()).await.unwrap()
}

async fn expired_evidence_is_listed_apart_and_stays_verifiable(env: &Env) {
    let t = tenant();
    let expired = put_valid_until(env, &t, 1, Some(now() - Duration::days(1))).await;
    let current = put_valid_until(env, &t, 2, Some(now() + Duration::days(1))).await;
    let timeless = put_valid_until(env, &t, 3, None).await;
    assert!(expired.is_expired(now()) && !current.is_expired(now()) && !timeless.is_expired(now()));
    let digests = |records: Vec<EvidenceRecord>| {
        let mut d: Vec<String> = records.into_iter().map(|r| r.digest).collect();
        d.sort();
        d
    };
    let sorted = |mut d: Vec<String>| {
        d.sort();
        d
    };
    for (currency, expected) in [
        (Currency::Current, vec![current.digest.clone(), timeless.digest.clone()]),
        (Currency::Expired, vec![expired.digest.clone()]),
        (Currency::All, vec![expired.digest.clone(), current.digest.clone(), timeless.digest.clone()]),
    ] {
        let (page, cursor) = env.store.list_by_currency(&t, currency, now(), 10, None).await.unwrap();
        assert_eq!(digests(page), sorted(expected), "{currency:?}");
        assert!(cursor.is_none());
    }
    // Paging one at a time still returns every current record exactly once.
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let (page, next) = env.store.list_by_currency(&t, Currency::Current, now(), 1, cursor).await.unwrap();
        assert!(page.len() <= 1);
        seen.extend(page.into_iter().map(|r| r.digest));
        cursor = next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(sorted(seen), sorted(vec![current.digest.clone(), timeless.digest.clone()]));
    // Expired evidence stays locked and verifiable.
    let err = env.blobs.delete(&expired.blob_key, Some(&expired.version_id)).await.unwrap_err();
    assert!(matches!(err, AdapterError::ObjectLocked { .. }), "{err:?}");
    assert_eq!(env.store.read_bytes(&t, &expired.digest).await.unwrap().len() as u64, expired.size);
    assert!(verify(env).await.is_ok());
}

async fn control_links_and_expiry_entries_follow_edits(env: &Env) {
    use kushim_adapters::table::Query;
    let t = tenant();
    let until = Utc.with_ymd_and_hms(2031, 3, 4, 10, 0, 0).unwrap();
    let record = put_valid_until(env, &t, 1, Some(until)).await;
    let links = |env: &Env| {
        let table = env.table.clone();
        async move {
            let q = Query::partition(keys::tenant_pk(&tenant())).begins_with(keys::EVIDENCE_CONTROL_PREFIX);
            table.query(q).await.unwrap().items.into_iter().map(|i| i.key.sk).collect::<Vec<_>>()
        }
    };
    let expiry = |date: &str| {
        let (table, date) = (env.table.clone(), date.to_owned());
        async move {
            let q = Query::partition(keys::evidence_expiry_partition(&date));
            table.query(q).await.unwrap().items.into_iter().map(|i| i.key.sk).collect::<Vec<_>>()
        }
    };
    assert_eq!(links(env).await, [format!("EVCONTROL#KC-IAM-01#{}", record.digest)]);
    assert_eq!(expiry("2031-03-04").await, [format!("acme#{}", record.digest)]);
    // WHEN the links and the freshness are edited, THEN the index rows move with them.
    let later = Utc.with_ymd_and_hms(2031, 6, 1, 0, 0, 0).unwrap();
    let patch = MetadataPatch {
        controls: Some(vec!["KC-IAM-02".into(), "KC-LOG-01".into()]),
        valid_until: Some(Some(later)),
        ..MetadataPatch::default()
    };
    env.store.update_metadata(&t, &record.digest, patch, 1, now()).await.unwrap();
    let mut expected =
        vec![format!("EVCONTROL#KC-IAM-02#{}", record.digest), format!("EVCONTROL#KC-LOG-01#{}", record.digest)];
    expected.sort();
    assert_eq!(links(env).await, expected);
    assert!(expiry("2031-03-04").await.is_empty());
    assert_eq!(expiry("2031-06-01").await, [format!("acme#{}", record.digest)]);
    // Clearing valid_until removes it from the day partitions.
    let clear = MetadataPatch { valid_until: Some(None), ..MetadataPatch::default() };
    env.store.update_metadata(&t, &record.digest, clear, 2, now()).await.unwrap();
    assert!(expiry("2031-06-01").await.is_empty());
    assert!(verify(env).await.is_ok());
}

async fn a_forged_or_edited_control_link_is_detected(env: &Env) {
    let t = tenant();
    let records = [put(env, 1).await, put(env, 2).await];
    env.store.update_metadata(&t, &records[1].digest, patch_title("edited"), 1, now()).await.unwrap();
    assert!(verify(env).await.is_ok());
    let link = |digest: &str, control: &str| keys::evidence_control(&t, control, digest);
    let altered = |control: &str| ProblemKind::ControlLinkAltered { control: control.into() };

    // GIVEN a link row edited to keep stale evidence fresh, THEN verify names it (at the record's entry).
    let mut item = env.table.get(&link(&records[0].digest, "KC-IAM-01")).await.unwrap().unwrap();
    let original = item.clone();
    item.attrs.insert("valid_until".into(), json!("2099-01-01T00:00:00Z"));
    env.table.put(item, None).await.unwrap();
    assert_first_bad(&verify(env).await, 1, &altered("KC-IAM-01"));
    env.table.put(original, None).await.unwrap();
    assert!(verify(env).await.is_ok());

    // A forged link to a control the record does not support (the row copied under another key).
    let mut forged = env.table.get(&link(&records[1].digest, "KC-IAM-01")).await.unwrap().unwrap();
    forged.key = link(&records[1].digest, "KC-GOV-01");
    forged.attrs.insert("control_id".into(), json!("KC-GOV-01"));
    env.table.put(forged, None).await.unwrap();
    let report = verify(env).await;
    assert_first_bad(&report, 3, &altered("KC-GOV-01"));
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    env.table.delete(&link(&records[1].digest, "KC-GOV-01"), None).await.unwrap();

    // A deleted link, and a link for evidence that does not exist.
    env.table.delete(&link(&records[0].digest, "KC-IAM-01"), None).await.unwrap();
    assert_first_bad(&verify(env).await, 1, &altered("KC-IAM-01"));
    let ghost = kushim_evidence::digest_hex(b"never stored");
    let orphan = kushim_adapters::table::Item::new(link(&ghost, "KC-GOV-01")).with("control_id", "KC-GOV-01");
    env.table.put(orphan, None).await.unwrap();
    let report = verify(env).await;
    assert!(
        report.problems.iter().any(|p| p.digest.as_deref() == Some(ghost.as_str()) && p.kind == altered("KC-GOV-01")),
        "{:?}",
        report.problems
    );
}

/// An event bus that records what it is given, and refuses everything while `refuse` is set.
#[derive(Default)]
struct RecordingBus {
    events: std::sync::Mutex<Vec<kushim_adapters::bus::Event>>,
    refuse: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl kushim_adapters::bus::EventBus for RecordingBus {
    async fn publish(
        &self,
        events: Vec<kushim_adapters::bus::Event>,
    ) -> kushim_adapters::Result<Vec<kushim_adapters::bus::PublishOutcome>> {
        use kushim_adapters::bus::PublishOutcome;
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(events
                .iter()
                .map(|_| PublishOutcome::Failed { code: "Down".into(), retryable: true })
                .collect());
        }
        let mut stored = self.events.lock().unwrap();
        let outcomes = events.iter().map(|_| PublishOutcome::Published(uuid::Uuid::new_v4().to_string())).collect();
        stored.extend(events);
        Ok(outcomes)
    }
}

impl RecordingBus {
    /// (evidence id, days_left) of every event received, sorted.
    fn received(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .map(|e| (e.detail["evidence_id"].as_str().unwrap().to_owned(), e.detail["days_left"].as_u64().unwrap()))
            .collect();
        out.sort();
        out
    }
}

/// The instant the reminder tests run "at": midday UTC, so days are unambiguous.
fn reminder_day() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2031, 1, 10, 12, 0, 0).unwrap()
}

async fn expiry_reminders_go_out_once_per_threshold(env: &Env) {
    let t = tenant();
    let other = TenantId::new("globex").unwrap();
    let at = reminder_day();
    // GIVEN evidence expiring in 7 days, tomorrow, today (already past, earlier today) and in 3 days.
    let week = put_valid_until(env, &t, 1, Some(at + Duration::days(7) - Duration::hours(3))).await;
    let tomorrow = put_valid_until(env, &t, 2, Some(at + Duration::days(1))).await;
    let today = put_valid_until(env, &t, 3, Some(at - Duration::hours(2))).await;
    put_valid_until(env, &t, 4, Some(at + Duration::days(3))).await;
    put_valid_until(env, &t, 5, None).await;
    let theirs = put_valid_until(env, &other, 6, Some(at + Duration::days(1))).await;
    let bus = RecordingBus::default();

    // WHEN the reminders for one tenant run, THEN its three due reminders go out, with their details.
    let summary = expiry_reminders(&env.store, &bus, Some(&t), at).await.unwrap();
    assert_eq!(summary, ReminderSummary { due: 3, sent: 3, already_sent: 0, failed: 0 });
    let mut expected = vec![(week.digest.clone(), 7), (tomorrow.digest.clone(), 1), (today.digest.clone(), 0)];
    expected.sort();
    assert_eq!(bus.received(), expected);
    let event = bus.events.lock().unwrap().iter().find(|e| e.detail["days_left"] == 1).cloned().unwrap();
    assert_eq!((event.source.as_str(), event.detail_type.as_str()), (EVENT_SOURCE, EXPIRING));
    assert_eq!(
        event.detail,
        json!({
            "tenant": "acme", "evidence_id": tomorrow.digest, "title": "evidence 2",
            "valid_until": "2031-01-11T12:00:00Z", "days_left": 1
        })
    );

    // WHEN it runs again (for every tenant), THEN only the other tenant's reminder is new.
    let summary = expiry_reminders(&env.store, &bus, None, at + Duration::hours(1)).await.unwrap();
    assert_eq!(summary, ReminderSummary { due: 4, sent: 1, already_sent: 3, failed: 0 });
    assert_eq!(bus.received().len(), 4);
    assert!(bus.received().contains(&(theirs.digest.clone(), 1)));

    // The next day, the record that was 7 days away is not due (6 days), the one due tomorrow is (0).
    let summary = expiry_reminders(&env.store, &bus, Some(&t), at + Duration::days(1)).await.unwrap();
    assert_eq!(summary, ReminderSummary { due: 1, sent: 1, already_sent: 0, failed: 0 });
    assert!(bus.received().contains(&(tomorrow.digest.clone(), 0)));

    // An edit moving valid_until moves the reminder with it.
    let patch = MetadataPatch { valid_until: Some(Some(at + Duration::days(8))), ..MetadataPatch::default() };
    env.store.update_metadata(&t, &week.digest, patch, 1, now()).await.unwrap();
    let summary = expiry_reminders(&env.store, &bus, Some(&t), at + Duration::days(1)).await.unwrap();
    assert_eq!(summary.sent, 1);
    assert_eq!(bus.received().iter().filter(|(d, days)| *d == week.digest && *days == 7).count(), 2);
}

async fn an_unpublished_reminder_is_retried_by_the_next_run(env: &Env) {
    let t = tenant();
    let at = reminder_day();
    let record = put_valid_until(env, &t, 1, Some(at + Duration::days(1))).await;
    let bus = RecordingBus::default();
    bus.refuse.store(true, std::sync::atomic::Ordering::SeqCst);
    // GIVEN a run whose events the bus refused.
    let summary = expiry_reminders(&env.store, &bus, Some(&t), at).await.unwrap();
    assert_eq!(summary, ReminderSummary { due: 1, sent: 0, already_sent: 0, failed: 1 });
    // WHEN the bus is back, THEN the next run sends it, once.
    bus.refuse.store(false, std::sync::atomic::Ordering::SeqCst);
    let summary = expiry_reminders(&env.store, &bus, Some(&t), at).await.unwrap();
    assert_eq!(summary, ReminderSummary { due: 1, sent: 1, already_sent: 0, failed: 0 });
    assert_eq!(bus.received(), [(record.digest.clone(), 1)]);
    assert_eq!(expiry_reminders(&env.store, &bus, Some(&t), at).await.unwrap().sent, 0);
}

// ---- The signing key. ----

async fn racing_first_uses_agree_on_one_signing_key(env: &Env) {
    // GIVEN several services meeting an empty secret store at once, each with its own adapter
    // (separate processes) over the same store.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let secrets: Arc<dyn Secrets> = match &env.secrets_dir {
                Some(dir) => Arc::new(kushim_adapters::secrets::embedded::EmbeddedSecrets::open(dir).unwrap()),
                None => env.secrets.clone(),
            };
            let checkpoints = Checkpoints::new(env.table.clone(), secrets);
            tokio::spawn(async move { checkpoints.public_key().await.unwrap() })
        })
        .collect();
    let mut keys = Vec::new();
    for task in tasks {
        keys.push(task.await.unwrap());
    }
    // THEN they all sign with the one key that was stored.
    keys.dedup();
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored = Checkpoints::new(env.table.clone(), env.secrets.clone()).public_key().await.unwrap();
    assert_eq!(keys[0], stored);
}
