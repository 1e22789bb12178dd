//! Evidence throughput on the embedded adapters: canonicalise + hash + store 10,000 JSON
//! documents of about 20 KB each (blob with retention, metadata row, ledger entry), the bare
//! ledger append rate, and the time to verify a tenant's whole chain of 100,000 entries. Prints
//! figures; run with `cargo bench -p kushim-evidence --bench evidence`.

use std::sync::Arc;
use std::time::Instant;

use kushim_adapters::blob::embedded::EmbeddedBlobs;
use kushim_adapters::secrets::embedded::EmbeddedSecrets;
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_domain::TenantId;
use kushim_evidence::checkpoint::Checkpoints;
use kushim_evidence::ledger::EntryKind;
use kushim_evidence::store::{EvidenceStore, NewEvidence, RetentionPolicy, Source};

const DOCUMENTS: usize = 10_000;
const APPENDS: usize = 100_000;

fn document(i: usize) -> serde_json::Value {
    // ~20 KB: 100 resources of ~200 bytes each.
    let users: Vec<serde_json::Value> = (0..100)
        .map(|u| {
            serde_json::json!({
                "user": format!("user-{i}-{u}"), "arn": format!("arn:aws:iam::123456789012:user/user-{i}-{u}"),
                "mfa_active": u % 7 != 0, "password_enabled": true,
                "access_key_1_last_rotated": "2026-10-01T00:00:00Z", "note": "x".repeat(40)
            })
        })
        .collect();
    serde_json::json!({"report": i, "rows": users})
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table = Arc::new(EmbeddedTable::open(dir.path()).expect("table"));
    let blobs = Arc::new(EmbeddedBlobs::open(dir.path()).expect("blobs"));
    let secrets = Arc::new(EmbeddedSecrets::open(&dir.path().join("secrets")).expect("secrets"));
    let store = EvidenceStore::new(table.clone(), blobs.clone());
    let tenant = TenantId::new("bench").expect("tenant");
    let source =
        Source { connector: "aws".into(), api_call: Some("iam:GetCredentialReport".into()), ..Source::default() };

    let docs: Vec<serde_json::Value> = (0..DOCUMENTS).map(document).collect();
    let bytes: usize = docs.iter().map(|d| d.to_string().len()).sum();
    let start = Instant::now();
    for doc in docs {
        let now = chrono::Utc::now();
        store
            .put(&tenant, NewEvidence::json(doc, source.clone(), now), RetentionPolicy::default(), now)
            .await
            .expect("put");
    }
    let d = start.elapsed();
    println!(
        "store {DOCUMENTS} documents (avg {} KB): {:.2} s = {:.0} documents/s, {:.1} MB/s",
        bytes / DOCUMENTS / 1024,
        d.as_secs_f64(),
        DOCUMENTS as f64 / d.as_secs_f64(),
        bytes as f64 / 1e6 / d.as_secs_f64()
    );

    let ledger_tenant = TenantId::new("ledger").expect("tenant");
    let start = Instant::now();
    for i in 0..APPENDS {
        store
            .ledger()
            .append(&ledger_tenant, EntryKind::Audit, &format!("{i:064x}"), chrono::Utc::now())
            .await
            .expect("append");
    }
    let d = start.elapsed();
    println!(
        "ledger append: {APPENDS} entries in {:.2} s = {:.0} appends/s",
        d.as_secs_f64(),
        APPENDS as f64 / d.as_secs_f64()
    );

    let checkpoints = Checkpoints::new(table.clone(), secrets);
    checkpoints.checkpoint(&ledger_tenant, chrono::Utc::now()).await.expect("checkpoint");
    let key = checkpoints.public_key().await.expect("key");
    let start = Instant::now();
    let report = kushim_evidence::verify::verify_tenant(table.as_ref(), blobs.as_ref(), &key, &ledger_tenant)
        .await
        .expect("verify");
    let d = start.elapsed();
    assert!(report.first_bad.is_none(), "the benchmark chain must verify");
    println!("verify {} entries + {} checkpoint(s): {:.2} s", report.entries, report.checkpoints, d.as_secs_f64());
    let start = Instant::now();
    let report =
        kushim_evidence::verify::verify_tenant(table.as_ref(), blobs.as_ref(), &key, &tenant).await.expect("verify");
    assert!(report.first_bad.is_none());
    println!("verify {} evidence records with their blobs: {:.2} s", report.evidence, start.elapsed().as_secs_f64());
}
