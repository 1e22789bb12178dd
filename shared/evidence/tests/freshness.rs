//! Manual evidence freshness reaching control status: evidence stored (and edited) through the
//! evidence store is what the compliance state judges a manual control by. Every case runs on the
//! embedded table and on DynamoDB in moto. Time is passed in.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use kushim_adapters::blob::BlobStore;
use kushim_adapters::table::Table;
use kushim_catalog::{Control, ControlKind, catalog};
use kushim_compliance::Compliance;
use kushim_domain::TenantId;
use kushim_engine::ControlStatus;
use kushim_evidence::{Content, EvidenceRecord, EvidenceStore, MetadataPatch, NewEvidence, RetentionPolicy, Source};

struct Env {
    store: EvidenceStore,
    compliance: Compliance,
    _dir: Option<tempfile::TempDir>,
}

fn embedded_env() -> Env {
    use kushim_adapters::blob::embedded::EmbeddedBlobs;
    use kushim_adapters::table::embedded::EmbeddedTable;

    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(EmbeddedBlobs::open(dir.path()).unwrap());
    Env { store: EvidenceStore::new(table.clone(), blobs), compliance: Compliance::new(table), _dir: Some(dir) }
}

async fn aws_env() -> Env {
    use kushim_adapters::aws::sdk::dynamodb;
    use kushim_adapters::blob::s3::S3Blobs;
    use kushim_adapters::table::dynamo::DynamoTable;

    let (sdk, provisioned) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), provisioned.table_name));
    let blobs: Arc<dyn BlobStore> = Arc::new(S3Blobs::new(S3Blobs::client_from(&sdk), provisioned.bucket_name));
    Env { store: EvidenceStore::new(table.clone(), blobs), compliance: Compliance::new(table), _dir: None }
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::embedded_env()).await;
                }
            )*
        }
        mod aws {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::aws_env().await).await;
                }
            )*
        }
    };
}

on_both_backends!(
    fresh_uploaded_evidence_supplies_a_manual_control_until_it_expires,
    editing_freshness_or_links_moves_the_control_status,
    collected_snapshots_do_not_count_as_manual_evidence,
);

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

/// 10:00 UTC on a day of January 2027.
fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, day, 10, 0, 0).unwrap()
}

/// A manual control of the catalog (no checks: only uploaded evidence supplies it).
fn manual_control() -> &'static Control {
    catalog().controls().iter().find(|c| c.kind == ControlKind::Manual).expect("the catalog has manual controls")
}

/// Another manual control.
fn other_manual_control() -> &'static Control {
    let first = manual_control();
    catalog().controls().iter().find(|c| c.kind == ControlKind::Manual && c.id != first.id).unwrap()
}

async fn upload(
    env: &Env,
    n: u32,
    control: &str,
    valid_until: Option<DateTime<Utc>>,
    connector: &str,
) -> EvidenceRecord {
    let bytes = Bytes::from(format!("signed policy, revision {n}"));
    let new = NewEvidence {
        content: Content::Bytes(bytes),
        title: Some(format!("Policy r{n}")),
        description: None,
        media_type: "application/pdf".into(),
        source: Source { connector: connector.into(), ..Source::default() },
        collected_at: at(1),
        effective_from: None,
        effective_to: None,
        valid_until,
        controls: vec![control.to_owned()],
        checks: Vec::new(),
    };
    let record = env.store.put(&tenant(), new, RetentionPolicy::default(), at(1)).await.unwrap();
    env.compliance.reevaluate_controls(&tenant(), &record.controls, at(1)).await.unwrap();
    record
}

async fn status(env: &Env, control: &str, now: DateTime<Utc>) -> ControlStatus {
    env.compliance.control_status(&tenant(), control, now).await.unwrap().status
}

async fn fresh_uploaded_evidence_supplies_a_manual_control_until_it_expires(env: &Env) {
    let control = &manual_control().id;
    // GIVEN nothing uploaded, THEN the manual control has not started.
    assert_eq!(status(env, control, at(1)).await, ControlStatus::NotStarted);
    // WHEN evidence valid until the 10th is uploaded, THEN the control passes until then...
    upload(env, 1, control, Some(at(10)), "manual").await;
    assert_eq!(status(env, control, at(2)).await, ControlStatus::Passing);
    assert_eq!(status(env, control, at(10) - Duration::minutes(1)).await, ControlStatus::Passing);
    // ...and needs evidence once it has expired, without anything else being written.
    let after = env.compliance.control_status(&tenant(), control, at(11)).await.unwrap();
    assert_eq!(after.status, ControlStatus::NeedsEvidence);
    assert!(after.reasons.iter().any(|r| r.contains("past its freshness")), "{:?}", after.reasons);
    // The listing agrees.
    let listed = env.compliance.list_controls(&tenant(), &Default::default(), at(11)).await.unwrap();
    let (_, evaluation) = listed.iter().find(|(c, _)| c.id == *control).unwrap();
    assert_eq!(evaluation.status, ControlStatus::NeedsEvidence);
    // A second, fresh upload supplies it again.
    upload(env, 2, control, Some(at(30)), "manual").await;
    assert_eq!(status(env, control, at(11)).await, ControlStatus::Passing);
}

async fn editing_freshness_or_links_moves_the_control_status(env: &Env) {
    let (control, other) = (&manual_control().id, &other_manual_control().id);
    let record = upload(env, 1, control, Some(at(10)), "manual").await;
    assert_eq!(status(env, control, at(12)).await, ControlStatus::NeedsEvidence);
    // WHEN its freshness is extended, THEN the control passes again.
    let patch = MetadataPatch { valid_until: Some(Some(at(20))), ..MetadataPatch::default() };
    let edited = env.store.update_metadata(&tenant(), &record.digest, patch, 1, at(12)).await.unwrap();
    env.compliance.reevaluate_controls(&tenant(), &edited.controls, at(12)).await.unwrap();
    assert_eq!(status(env, control, at(12)).await, ControlStatus::Passing);
    // WHEN it is relinked to another control, THEN the first has nothing, the second is supplied.
    let patch = MetadataPatch { controls: Some(vec![other.clone()]), ..MetadataPatch::default() };
    env.store.update_metadata(&tenant(), &record.digest, patch, 2, at(12)).await.unwrap();
    env.compliance.reevaluate_controls(&tenant(), &[control.clone(), other.clone()], at(12)).await.unwrap();
    assert_eq!(status(env, control, at(12)).await, ControlStatus::NotStarted);
    assert_eq!(status(env, other, at(12)).await, ControlStatus::Passing);
}

async fn collected_snapshots_do_not_count_as_manual_evidence(env: &Env) {
    let control = &manual_control().id;
    // GIVEN only an automated snapshot linked to a manual control, THEN it is still not started.
    upload(env, 1, control, Some(at(10)), "aws").await;
    assert_eq!(status(env, control, at(2)).await, ControlStatus::NotStarted);
}
