//! Custom checks (CEL rules) stored per tenant, on the embedded table and on DynamoDB in moto:
//! create, read, list, update with optimistic locking, delete, and every refusal.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use kushim_adapters::table::Table;
use kushim_checks::Severity;
use kushim_compliance::{Compliance, ComplianceError};
use kushim_domain::TenantId;
use kushim_rules::{RuleError, RuleSpec};

struct Env {
    compliance: Compliance,
    _dir: Option<tempfile::TempDir>,
}

fn embedded_env() -> Env {
    use kushim_adapters::table::embedded::EmbeddedTable;

    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    Env { compliance: Compliance::new(table), _dir: Some(dir) }
}

async fn aws_env() -> Env {
    use kushim_adapters::aws::sdk::dynamodb;
    use kushim_adapters::table::dynamo::DynamoTable;

    let (sdk, provisioned) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), provisioned.table_name));
    Env { compliance: Compliance::new(table), _dir: None }
}

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

macro_rules! assert_err {
    ($result:expr, $pattern:pat $(,)?) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected Err({}), got {other:?}", stringify!($pattern)),
        }
    };
}

on_both_backends!(
    custom_checks_are_created_read_listed_updated_and_deleted,
    invalid_rules_unknown_controls_and_taken_ids_are_refused,
    one_tenant_sees_nothing_of_anothers_custom_checks,
);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn spec(id: &str) -> RuleSpec {
    RuleSpec {
        id: id.into(),
        title: "S3 buckets must have versioning enabled".into(),
        description: "Versioning lets us recover overwritten objects.".into(),
        severity: Severity::Medium,
        evidence_kind: "aws.s3.buckets".into(),
        resources: "evidence.buckets".into(),
        resource_id: "resource.name".into(),
        applies: None,
        pass: "resource.versioning == 'enabled'".into(),
        fail_reason: "Bucket {id} does not have versioning enabled.".into(),
        controls: vec!["KC-IAM-01".into()],
    }
}

async fn custom_checks_are_created_read_listed_updated_and_deleted(env: &Env) {
    let c = &env.compliance;
    let t = tenant("acme");
    let created = c.create_custom_check(&t, spec("custom.s3.versioning"), "u1", now()).await.unwrap();
    assert_eq!((created.version, created.created_by.as_str()), (1, "u1"));
    c.create_custom_check(&t, spec("custom.a_first"), "u1", now()).await.unwrap();
    assert_eq!(c.custom_check(&t, "custom.s3.versioning").await.unwrap(), created);
    let ids: Vec<String> = c.list_custom_checks(&t).await.unwrap().into_iter().map(|x| x.spec.id).collect();
    assert_eq!(ids, ["custom.a_first", "custom.s3.versioning"]);

    let mut changed = spec("custom.s3.versioning");
    changed.title = "Versioning on every bucket".into();
    let later = now() + Duration::hours(1);
    let updated = c.update_custom_check(&t, changed.clone(), Some(1), later).await.unwrap();
    assert_eq!((updated.version, updated.created_at, updated.updated_at), (2, now(), later));
    assert_eq!(c.custom_check(&t, "custom.s3.versioning").await.unwrap().spec.title, "Versioning on every bucket");
    assert_err!(c.update_custom_check(&t, changed, Some(1), later).await, ComplianceError::Conflict(_));

    c.delete_custom_check(&t, "custom.s3.versioning").await.unwrap();
    assert_err!(c.custom_check(&t, "custom.s3.versioning").await, ComplianceError::CustomCheckNotFound(_));
    assert_err!(c.delete_custom_check(&t, "custom.s3.versioning").await, ComplianceError::CustomCheckNotFound(_));
    assert_err!(
        c.update_custom_check(&t, spec("custom.s3.versioning"), None, later).await,
        ComplianceError::CustomCheckNotFound(_)
    );
    assert_eq!(c.list_custom_checks(&t).await.unwrap().len(), 1);
}

async fn invalid_rules_unknown_controls_and_taken_ids_are_refused(env: &Env) {
    let c = &env.compliance;
    let t = tenant("acme");
    let mut bad = spec("custom.bad");
    bad.pass = "resource.versioning ==".into();
    match c.create_custom_check(&t, bad, "u1", now()).await {
        Err(ComplianceError::Rule(RuleError::Parse { expression, .. })) => assert_eq!(expression, "pass"),
        other => panic!("expected a parse error, got {other:?}"),
    }
    let mut unknown = spec("custom.unknown_control");
    unknown.controls = vec!["KC-ZZZ-99".into()];
    assert_err!(c.create_custom_check(&t, unknown, "u1", now()).await, ComplianceError::UnknownControl(_));
    assert_err!(
        c.create_custom_check(&t, spec("aws.iam.user_mfa_console"), "u1", now()).await,
        ComplianceError::Rule(RuleError::InvalidField { field: "id", .. })
    );
    c.create_custom_check(&t, spec("custom.once"), "u1", now()).await.unwrap();
    assert_err!(
        c.create_custom_check(&t, spec("custom.once"), "u2", now()).await,
        ComplianceError::CustomCheckExists(_)
    );
    assert!(c.list_custom_checks(&t).await.unwrap().iter().all(|x| x.spec.id == "custom.once"));
}

async fn one_tenant_sees_nothing_of_anothers_custom_checks(env: &Env) {
    let c = &env.compliance;
    let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
    c.create_custom_check(&a, spec("custom.mine"), "u1", now()).await.unwrap();
    assert!(c.list_custom_checks(&b).await.unwrap().is_empty());
    assert_err!(c.custom_check(&b, "custom.mine").await, ComplianceError::CustomCheckNotFound(_));
    assert_err!(c.delete_custom_check(&b, "custom.mine").await, ComplianceError::CustomCheckNotFound(_));
    // B may use the same id for its own check.
    c.create_custom_check(&b, spec("custom.mine"), "u9", now()).await.unwrap();
    assert_eq!(c.custom_check(&a, "custom.mine").await.unwrap().created_by, "u1");
}
