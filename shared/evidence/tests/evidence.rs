//! Behaviour of the evidence store, ledger, checkpoints and verification. Every case runs twice:
//! on the embedded adapters (SQLite and files in a temporary directory) and on moto (a table and an
//! Object Lock bucket provisioned from the template under a unique prefix, and Secrets Manager).
//! Tampering is done behind the store's back, directly on the table or the blob files.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, LockMode, PutOptions};
use kushim_adapters::keys;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::table::Table;
use kushim_domain::TenantId;
use kushim_evidence::ledger::EntryKind;
use kushim_evidence::{
    Checkpoints, Content, EvidenceError, EvidenceRecord, EvidenceStore, NewEvidence, ProblemKind, RetentionPolicy,
    Source, VerifyReport, verify_tenant,
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
    assert!(report.is_ok(), "{:?}", report.problems);
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
