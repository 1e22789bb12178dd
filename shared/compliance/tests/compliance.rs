//! Behaviour of the compliance service. Every case runs twice, through the same public API: on the
//! embedded table (SQLite in a temporary directory) and on DynamoDB in moto (a table provisioned
//! from the template under a unique prefix).
//!
//! Evidence goes in as hand-made results of built-in checks: `aws.iam.user_mfa_console` supports
//! KC-IAM-01, `aws.iam.root_access_keys` supports KC-IAM-02 and `aws.iam.root_mfa` supports both.
//! Time is passed in; nothing here depends on the real clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Item, MAX_QUERY_LIMIT, Query, Table};
use kushim_catalog::{FrameworkId, catalog};
use kushim_checks::{CheckResult, InconclusiveReason, Status};
use kushim_compliance::{Compliance, ComplianceError, ControlFilter, Observation, effectiveness_to_csv};
use kushim_domain::{Role, TenantId};
use kushim_engine::{ControlStatus, ExceptionError, ExceptionScope};

const MFA: &str = "aws.iam.user_mfa_console";
const ROOT_KEYS: &str = "aws.iam.root_access_keys";
const ROOT_MFA: &str = "aws.iam.root_mfa";

/// One backend and the service over it.
struct Env {
    compliance: Compliance,
    table: Arc<dyn Table>,
    _dir: Option<tempfile::TempDir>,
}

fn embedded_env() -> Env {
    use kushim_adapters::table::embedded::EmbeddedTable;

    let dir = tempfile::tempdir().unwrap();
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).unwrap());
    Env { compliance: Compliance::new(table.clone()), table, _dir: Some(dir) }
}

async fn aws_env() -> Env {
    use kushim_adapters::aws::sdk::dynamodb;
    use kushim_adapters::table::dynamo::DynamoTable;

    let (sdk, provisioned) = kushim_testkit::fresh_stack().await;
    let table: Arc<dyn Table> = Arc::new(DynamoTable::new(dynamodb::Client::new(&sdk), provisioned.table_name));
    Env { compliance: Compliance::new(table.clone()), table, _dir: None }
}

/// Runs each case against a fresh embedded table and a fresh DynamoDB table in moto.
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

/// Asserts that a result is an error matching the pattern, showing what it was otherwise.
macro_rules! assert_err {
    ($result:expr, $pattern:pat $(,)?) => {
        match $result {
            Err($pattern) => {}
            other => panic!("expected Err({}), got {other:?}", stringify!($pattern)),
        }
    };
}

/// 10:00 UTC on a day of March 2026.
fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 10, 0, 0).unwrap()
}

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, day).unwrap()
}

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn result(check: &str, resource: &str, status: Status) -> CheckResult {
    let reason = match status {
        Status::Fail => format!("{resource} has no MFA device"),
        _ => format!("{resource} is fine"),
    };
    CheckResult { check_id: check.into(), resource_id: resource.into(), status, reason }
}

fn pair(check: &str, resource: &str) -> (String, String) {
    (check.to_owned(), resource.to_owned())
}

async fn status(env: &Env, t: &TenantId, control: &str, now: DateTime<Utc>) -> ControlStatus {
    env.compliance.control_status(t, control, now).await.unwrap().status
}

/// Every item of a tenant's partition, in key order.
async fn partition(env: &Env, t: &TenantId) -> Vec<Item> {
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let query = Query::partition(keys::tenant_pk(t)).limit(MAX_QUERY_LIMIT).after(cursor);
        let page = env.table.query(query).await.unwrap();
        items.extend(page.items);
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return items,
        }
    }
}

// ---- Recording results ----

async fn failures_are_reported_when_they_appear_and_when_they_are_fixed(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let first = [result(MFA, "alice", Status::Pass), result(MFA, "bob", Status::Fail)];
    let summary = c.record_results(&t, "run-1", &first, at(2)).await.unwrap();
    assert_eq!((summary.stored, summary.written), (2, 2));
    assert_eq!(summary.newly_failing, vec![pair(MFA, "bob")]);
    assert!(summary.resolved.is_empty());
    assert_eq!(summary.controls_evaluated, 1, "the check supports KC-IAM-01 only");

    let eval = c.control_status(&t, "KC-IAM-01", at(2)).await.unwrap();
    assert_eq!(eval.status, ControlStatus::Failing);
    assert_eq!((eval.passed, eval.failed), (1, 1));
    assert!(eval.reasons[0].contains("bob"), "{:?}", eval.reasons);
    assert_eq!(status(env, &t, "KC-IAM-02", at(2)).await, ControlStatus::NotStarted, "no result touches it");
    assert_eq!(c.latest_results(&t, "KC-IAM-01").await.unwrap(), first.to_vec());

    // bob fixes it, carol turns up failing, and root MFA (supporting KC-IAM-01 and -02) fails.
    let second = [
        result(MFA, "alice", Status::Pass),
        result(MFA, "bob", Status::Pass),
        result(MFA, "carol", Status::Fail),
        result(ROOT_MFA, "111122223333", Status::Fail),
    ];
    let summary = c.record_results(&t, "run-2", &second, at(3)).await.unwrap();
    assert_eq!(summary.resolved, vec![pair(MFA, "bob")]);
    assert_eq!(summary.newly_failing, vec![pair(ROOT_MFA, "111122223333"), pair(MFA, "carol")]);
    assert_eq!(summary.controls_evaluated, 2);
    assert_eq!(status(env, &t, "KC-IAM-02", at(3)).await, ControlStatus::Failing);

    let third = [
        result(MFA, "carol", Status::Pass),
        result(ROOT_MFA, "111122223333", Status::Pass),
        result(ROOT_KEYS, "111122223333", Status::NotApplicable),
    ];
    let summary = c.record_results(&t, "run-3", &third, at(4)).await.unwrap();
    assert_eq!(summary.resolved, vec![pair(ROOT_MFA, "111122223333"), pair(MFA, "carol")]);
    assert!(summary.newly_failing.is_empty());
    let eval = c.control_status(&t, "KC-IAM-01", at(4)).await.unwrap();
    assert_eq!(eval.status, ControlStatus::Passing);
    assert_eq!(eval.passed, 4, "alice, bob and carol, and the root user");
    assert_eq!(status(env, &t, "KC-IAM-02", at(4)).await, ControlStatus::Passing);

    // A permission the collector lacked is never a pass, and undecided is not "resolved".
    let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "iam:ListUsers".into() });
    let summary = c.record_results(&t, "run-4", &[result(MFA, "alice", denied)], at(5)).await.unwrap();
    assert!(summary.newly_failing.is_empty() && summary.resolved.is_empty());
    assert_eq!(status(env, &t, "KC-IAM-01", at(5)).await, ControlStatus::NeedsEvidence);
}

async fn recording_the_same_results_twice_changes_nothing(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let results = [
        result(MFA, "alice", Status::Pass),
        result(MFA, "bob", Status::Fail),
        result(ROOT_MFA, "111122223333", Status::Fail),
    ];
    c.record_results(&t, "run-1", &results, at(2)).await.unwrap();
    let before = partition(env, &t).await;
    assert!(before.iter().any(|i| i.key.sk == "CONTROL#KC-IAM-01"));
    assert!(before.iter().any(|i| i.key.sk == "SNAP#KC-IAM-02#2026-03-02"));

    // The job is redelivered, later the same day.
    let again = c.record_results(&t, "run-1", &results, at(2) + Duration::hours(3)).await.unwrap();
    assert_eq!((again.stored, again.written, again.controls_written), (3, 0, 0));
    assert!(again.newly_failing.is_empty() && again.resolved.is_empty(), "{again:?}");
    assert_eq!(partition(env, &t).await, before, "the table is exactly as it was");

    // A repeated (check, resource) in one batch counts once; the last one wins.
    let repeated = [result(MFA, "dave", Status::Fail), result(MFA, "dave", Status::Pass)];
    let summary = c.record_results(&t, "run-2", &repeated, at(2)).await.unwrap();
    assert_eq!((summary.stored, summary.written), (1, 1));
    assert!(summary.newly_failing.is_empty());
    let dave: Vec<_> =
        c.latest_results(&t, "KC-IAM-01").await.unwrap().into_iter().filter(|r| r.resource_id == "dave").collect();
    assert_eq!(dave, vec![result(MFA, "dave", Status::Pass)]);
}

async fn resource_ids_with_any_characters_are_kept_exactly(env: &Env) {
    let t = tenant("acme");
    let odd = [
        "arn:aws:iam::111122223333:user/team#1/ops",
        "ünïcødé user / with spaces",
        "RESULT#aws.iam.user_mfa_console#looks-like-a-key",
    ];
    let long = "x".repeat(3000);
    let mut results: Vec<CheckResult> = odd.iter().map(|r| result(MFA, r, Status::Pass)).collect();
    results.push(result(MFA, &long, Status::Fail));
    let summary = env.compliance.record_results(&t, "run-1", &results, at(2)).await.unwrap();
    assert_eq!(summary.stored, 4);
    assert_eq!(summary.newly_failing, vec![pair(MFA, &long)]);
    let mut stored: Vec<String> =
        env.compliance.latest_results(&t, "KC-IAM-01").await.unwrap().into_iter().map(|r| r.resource_id).collect();
    let mut expected: Vec<String> = odd.iter().map(|s| (*s).to_owned()).chain([long.clone()]).collect();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected);
    let item = env.table.get(&keys::check_result(&t, MFA, odd[0])).await.unwrap().expect("keyed by the encoded id");
    assert!(item.key.sk.starts_with("RESULT#aws.iam.user_mfa_console#") && item.key.sk.matches('#').count() == 2);
    assert_eq!(item.attrs["resource_id"], odd[0]);
    assert!(keys::check_result(&t, MFA, &long).sk.len() < 200, "long ids are keyed by their digest");

    let bad = CheckResult { check_id: "custom#rule".into(), ..result(MFA, "alice", Status::Pass) };
    assert_err!(env.compliance.record_results(&t, "run-2", &[bad], at(2)).await, ComplianceError::InvalidResult(_));
}

async fn concurrent_runs_converge_on_the_control_evaluation(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    // Two jobs of one run record different checks of the same controls at the same time.
    for round in 0..3 {
        let users: Vec<CheckResult> = (0..30).map(|i| result(MFA, &format!("user-{i}"), Status::Pass)).collect();
        let root = [result(ROOT_MFA, "111122223333", Status::Fail)];
        let run = format!("run-{round}");
        let (a, b) = tokio::join!(c.record_results(&t, &run, &users, at(2)), c.record_results(&t, &run, &root, at(2)));
        a.unwrap();
        b.unwrap();
        let eval = c.control_status(&t, "KC-IAM-01", at(2)).await.unwrap();
        assert_eq!((eval.status, eval.passed, eval.failed), (ControlStatus::Failing, 30, 1), "round {round}");
        c.record_results(&t, &format!("fix-{round}"), &[result(ROOT_MFA, "111122223333", Status::Pass)], at(2))
            .await
            .unwrap();
        assert_eq!(status(env, &t, "KC-IAM-01", at(2)).await, ControlStatus::Passing);
    }
}

// ---- Exceptions ----

async fn an_exception_excepts_a_failure_until_it_expires(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let results = [result(MFA, "alice", Status::Pass), result(MFA, "break-glass", Status::Fail)];
    c.record_results(&t, "run-1", &results, at(2)).await.unwrap();
    assert_eq!(status(env, &t, "KC-IAM-01", at(2)).await, ControlStatus::Failing);

    let scope = ExceptionScope {
        control_id: Some("KC-IAM-01".into()),
        check_id: Some(MFA.into()),
        resource_pattern: Some("break-*".into()),
    };
    let expires = at(2) + Duration::days(10);
    let requested = c
        .request_exception(&t, "u1", scope, "hardware key in the safe", expires, Some("KC-LOG-01".into()), at(2))
        .await
        .unwrap();
    assert_eq!(status(env, &t, "KC-IAM-01", at(2)).await, ControlStatus::Failing, "a request does not apply");

    let id = requested.id.as_str();
    assert_err!(
        c.approve_exception(&t, id, "u1", Role::Owner, at(2)).await,
        ComplianceError::Exception(ExceptionError::SelfApproval)
    );
    assert_err!(
        c.approve_exception(&t, id, "u2", Role::Member, at(2)).await,
        ComplianceError::Exception(ExceptionError::NotAnApprover)
    );
    let approved = c.approve_exception(&t, id, "u2", Role::Admin, at(2)).await.unwrap();
    assert_eq!(approved.approved_by.as_deref(), Some("u2"));
    assert_err!(
        c.approve_exception(&t, id, "u3", Role::Owner, at(2)).await,
        ComplianceError::Exception(ExceptionError::AlreadyDecided)
    );

    let eval = c.control_status(&t, "KC-IAM-01", at(3)).await.unwrap();
    assert_eq!((eval.status, eval.failed, eval.excepted), (ControlStatus::Excepted, 0, 1));
    assert_eq!(c.list_exceptions(&t).await.unwrap(), vec![approved.clone()]);

    // After expiry the failure is back by itself, on every read path.
    let later = expires + Duration::hours(1);
    assert_eq!(status(env, &t, "KC-IAM-01", later).await, ControlStatus::Failing);
    let failing = ControlFilter { status: Some(ControlStatus::Failing), ..ControlFilter::default() };
    let listed = c.list_controls(&t, &failing, later).await.unwrap();
    assert_eq!(listed.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["KC-IAM-01"]);
    let ready = c.readiness(&t, FrameworkId::Soc2, later).await.unwrap();
    assert_eq!(ready.by_status.get(&ControlStatus::Failing), Some(&1));
    assert_eq!(status(env, &t, "KC-IAM-01", at(3)).await, ControlStatus::Excepted, "still excepted before expiry");

    // Revoking brings the failure back at once.
    let revoked = c.revoke_exception(&t, id, at(4)).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(status(env, &t, "KC-IAM-01", at(4)).await, ControlStatus::Failing);
    assert_err!(c.approve_exception(&t, "nope", "u2", Role::Admin, at(4)).await, ComplianceError::ExceptionNotFound(_));
    let unknown = ExceptionScope { control_id: Some("KC-NOPE-99".into()), check_id: None, resource_pattern: None };
    assert_err!(
        c.request_exception(&t, "u1", unknown, "why", expires, None, at(2)).await,
        ComplianceError::UnknownControl(_)
    );
}

async fn an_exception_scoped_to_a_check_covers_every_control_of_the_check(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    c.record_results(&t, "run-1", &[result(ROOT_MFA, "111122223333", Status::Fail)], at(2)).await.unwrap();
    let scope = ExceptionScope { control_id: None, check_id: Some(ROOT_MFA.into()), resource_pattern: None };
    let ex = c.request_exception(&t, "u1", scope, "device on order", at(20), None, at(2)).await.unwrap();
    c.approve_exception(&t, &ex.id, "u2", Role::Owner, at(2)).await.unwrap();
    for control in ["KC-IAM-01", "KC-IAM-02"] {
        assert_eq!(status(env, &t, control, at(2)).await, ControlStatus::Excepted, "{control}");
        assert_eq!(status(env, &t, control, at(21)).await, ControlStatus::Failing, "{control} after expiry");
    }
}

// ---- History, effectiveness, readiness, coverage ----

async fn history_and_effectiveness_follow_the_daily_snapshots(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let bob = |s: Status| [result(MFA, "alice", Status::Pass), result(MFA, "bob", s)];
    // March 1-5: failing, failing, passing (failing in the morning, fixed later), failing, passing.
    c.record_results(&t, "r1", &bob(Status::Fail), at(1)).await.unwrap();
    c.record_results(&t, "r2", &bob(Status::Fail), at(2)).await.unwrap();
    c.record_results(&t, "r3", &bob(Status::Fail), at(3)).await.unwrap();
    c.record_results(&t, "r3b", &bob(Status::Pass), at(3) + Duration::hours(5)).await.unwrap();
    c.record_results(&t, "r4", &bob(Status::Fail), at(4)).await.unwrap();
    c.record_results(&t, "r5", &bob(Status::Pass), at(5)).await.unwrap();

    use ControlStatus::{Failing, Passing};
    let history = c.history(&t, "KC-IAM-01", date(1), date(5)).await.unwrap();
    let statuses: Vec<(NaiveDate, ControlStatus)> = history.iter().map(|d| (d.date, d.status)).collect();
    assert_eq!(
        statuses,
        [(date(1), Failing), (date(2), Failing), (date(3), Passing), (date(4), Failing), (date(5), Passing)]
    );
    assert_eq!(c.history(&t, "KC-IAM-01", date(2), date(4)).await.unwrap().len(), 3);
    assert!(c.history(&t, "KC-IAM-02", date(1), date(5)).await.unwrap().is_empty());
    assert_err!(c.history(&t, "KC-IAM-01", date(5), date(1)).await, ComplianceError::Invalid(_));

    let e = c.effectiveness(&t, "KC-IAM-01", date(1), date(7)).await.unwrap();
    assert_eq!((e.days_in_window, e.days_observed, e.days_passing, e.days_failing), (7, 5, 2, 3));
    assert!((e.share_passing - 0.4).abs() < 1e-9);
    assert_eq!(e.longest_failing_streak, 2);
    assert_eq!(e.mean_days_to_remediate, Some(1.5), "fixed after 2 days, then after 1");

    let fw = c.framework_effectiveness(&t, FrameworkId::Soc2, date(1), date(7)).await.unwrap();
    assert_eq!(
        fw.controls.len(),
        catalog().controls().iter().filter(|c| !c.mapped(FrameworkId::Soc2).is_empty()).count()
    );
    assert_eq!((fw.control_days_observed, fw.control_days_passing, fw.control_days_failing), (5, 2, 3));
    assert!((fw.share_passing - 0.4).abs() < 1e-9);
    assert_eq!(fw.longest_failing_streak, 2);
    assert_eq!(fw.longest_failing_control.as_deref(), Some("KC-IAM-01"));
    assert_eq!((fw.remediated_failures, fw.open_failures, fw.mean_days_to_remediate), (2, 0, Some(1.5)));

    let csv = effectiveness_to_csv(&fw);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines[0], kushim_compliance::report::EFFECTIVENESS_CSV_HEADER);
    assert_eq!(lines.len(), fw.controls.len() + 3, "header, one row per control, ALL, and the final line break");
    let iam01 = lines.iter().find(|l| l.starts_with("soc2,KC-IAM-01,")).expect("a row for KC-IAM-01");
    assert!(iam01.ends_with(",2026-03-01,2026-03-07,7,5,2,3,0,0.4000,2,2,0,1.50"), "{iam01}");
    let all = lines[lines.len() - 2];
    assert!(all.starts_with("soc2,ALL,All controls,2026-03-01,2026-03-07,"), "{all}");
    assert!(all.ends_with(",5,2,3,0,0.4000,2,2,0,1.50"), "{all}");
}

async fn readiness_and_listing_reflect_control_status(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let soc2_controls = catalog().controls().iter().filter(|c| !c.mapped(FrameworkId::Soc2).is_empty()).count();
    let empty = c.readiness(&t, FrameworkId::Soc2, at(2)).await.unwrap();
    assert_eq!(empty.controls, soc2_controls);
    assert_eq!(empty.by_status.get(&ControlStatus::NotStarted), Some(&soc2_controls));
    assert_eq!(empty.share_passing, 0.0);

    let results = [result(MFA, "alice", Status::Pass), result(ROOT_KEYS, "111122223333", Status::Fail)];
    c.record_results(&t, "run-1", &results, at(2)).await.unwrap();
    for framework in FrameworkId::ALL {
        let ready = c.readiness(&t, framework, at(2)).await.unwrap();
        assert_eq!(ready.by_status.get(&ControlStatus::Passing), Some(&1), "{framework}: KC-IAM-01");
        assert_eq!(ready.by_status.get(&ControlStatus::Failing), Some(&1), "{framework}: KC-IAM-02");
        assert_eq!(ready.by_status.values().sum::<usize>(), ready.controls);
        assert!((ready.share_passing - 1.0 / ready.controls as f64).abs() < 1e-9);
    }

    let soc2 = ControlFilter { framework: Some(FrameworkId::Soc2), ..ControlFilter::default() };
    assert_eq!(c.list_controls(&t, &soc2, at(2)).await.unwrap().len(), soc2_controls);
    let iam = ControlFilter { area: Some("identity_access".into()), ..ControlFilter::default() };
    let listed = c.list_controls(&t, &iam, at(2)).await.unwrap();
    assert!(!listed.is_empty() && listed.iter().all(|(c, _)| c.area == "identity_access"));
    let failing = ControlFilter { status: Some(ControlStatus::Failing), ..soc2 };
    let listed = c.list_controls(&t, &failing, at(2)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].0.id.as_str(), listed[0].1.failed), ("KC-IAM-02", 1));
    assert_err!(c.control_status(&t, "KC-NOPE-99", at(2)).await, ComplianceError::UnknownControl(_));

    // Coverage is the same for every tenant: every SOC 2 criterion has a control.
    let coverage = kushim_compliance::coverage(FrameworkId::Soc2);
    assert!(coverage.uncovered.is_empty(), "{:?}", coverage.uncovered);
    assert!(coverage.automated.iter().any(|r| r == "CC6.1"));
    let csv = kushim_compliance::coverage_to_csv(&coverage);
    assert!(csv.starts_with("framework,requirement,title,coverage,controls\r\n"));
}

// ---- Tenant isolation ----

async fn one_tenant_sees_nothing_of_another(env: &Env) {
    let (a, b) = (tenant("tenant-a"), tenant("tenant-b"));
    let c = &env.compliance;
    let results = [result(MFA, "alice", Status::Fail), result(ROOT_KEYS, "111122223333", Status::Fail)];
    c.record_results(&a, "run-1", &results, at(2)).await.unwrap();
    let scope = ExceptionScope { control_id: Some("KC-IAM-01".into()), check_id: None, resource_pattern: None };
    let ex = c.request_exception(&a, "u1", scope, "why", at(9), None, at(2)).await.unwrap();

    assert_eq!(status(env, &a, "KC-IAM-01", at(2)).await, ControlStatus::Failing);
    assert_eq!(status(env, &b, "KC-IAM-01", at(2)).await, ControlStatus::NotStarted);
    assert!(c.latest_results(&b, "KC-IAM-01").await.unwrap().is_empty());
    assert!(c.list_exceptions(&b).await.unwrap().is_empty());
    assert!(c.history(&b, "KC-IAM-01", date(1), date(9)).await.unwrap().is_empty());
    let failing = ControlFilter { status: Some(ControlStatus::Failing), ..ControlFilter::default() };
    assert!(c.list_controls(&b, &failing, at(2)).await.unwrap().is_empty());
    let ready = c.readiness(&b, FrameworkId::Soc2, at(2)).await.unwrap();
    assert_eq!(ready.by_status.get(&ControlStatus::NotStarted), Some(&ready.controls));
    assert_err!(c.approve_exception(&b, &ex.id, "u2", Role::Owner, at(2)).await, ComplianceError::ExceptionNotFound(_));
    assert!(partition(env, &b).await.is_empty(), "nothing was written under tenant B");
    // B recording the same resources does not touch A's transitions.
    let summary = c.record_results(&b, "run-1", &results, at(2)).await.unwrap();
    assert_eq!(summary.newly_failing.len(), 2, "new to tenant B");
}

// ---- Observations: a collection's results replace what the same scope said before ----

fn observation(scope: &str, checks: &[&str], observed_at: DateTime<Utc>) -> Observation {
    let checks = checks.iter().map(|c| (*c).to_owned()).collect();
    Observation { scope: scope.into(), checks, partial: BTreeSet::new(), observed_at }
}

async fn resources_a_scope_no_longer_reports_lose_their_results(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let iam = "i1/111122223333/global/iam";
    // GIVEN bob failing MFA in one account, and dave failing in another account's scope.
    let first = [result(MFA, "alice", Status::Pass), result(MFA, "bob", Status::Fail)];
    c.record_observation(&t, "run-1", &observation(iam, &[MFA, ROOT_MFA], at(2)), &first, at(2)).await.unwrap();
    let other = "i1/444455556666/global/iam";
    c.record_observation(&t, "run-1", &observation(other, &[MFA], at(2)), &[result(MFA, "dave", Status::Fail)], at(2))
        .await
        .unwrap();
    assert_eq!(status(env, &t, "KC-IAM-01", at(2)).await, ControlStatus::Failing);

    // WHEN the next collection of the first account no longer sees bob (his user was deleted).
    let second = [result(MFA, "alice", Status::Pass)];
    let summary =
        c.record_observation(&t, "run-2", &observation(iam, &[MFA, ROOT_MFA], at(3)), &second, at(3)).await.unwrap();

    // THEN bob's failure is resolved as gone; dave, seen by another scope, still fails.
    assert_eq!(summary.gone, vec![pair(MFA, "bob")]);
    assert_eq!(summary.resolved, vec![pair(MFA, "bob")]);
    let latest: BTreeSet<String> =
        c.latest_results(&t, "KC-IAM-01").await.unwrap().into_iter().map(|r| r.resource_id).collect();
    assert_eq!(latest, BTreeSet::from(["alice".to_owned(), "dave".to_owned()]));
    assert_eq!(status(env, &t, "KC-IAM-01", at(3)).await, ControlStatus::Failing, "dave still fails");

    // WHEN listing users is refused in the other account, THEN what it saw before stays (an unseen
    // user is not a fixed one).
    let mut blind = observation(other, &[MFA], at(3));
    blind.partial.insert(MFA.to_owned());
    let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "iam:ListUsers".into() });
    let summary = c.record_observation(&t, "run-2", &blind, &[result(MFA, "444455556666", denied)], at(3)).await;
    assert!(summary.unwrap().gone.is_empty());
    let latest = c.latest_results(&t, "KC-IAM-01").await.unwrap();
    assert!(latest.iter().any(|r| r.resource_id == "dave" && r.status.is_fail()), "{latest:?}");

    // WHEN the other account's collection finds no users at all, THEN dave goes and the refusal's
    // result too, and the control passes.
    let summary = c.record_observation(&t, "run-3", &observation(other, &[MFA], at(3)), &[], at(3)).await.unwrap();
    assert_eq!(summary.gone, vec![pair(MFA, "444455556666"), pair(MFA, "dave")]);
    assert_eq!(summary.resolved, vec![pair(MFA, "dave")]);
    assert_eq!(status(env, &t, "KC-IAM-01", at(3)).await, ControlStatus::Passing);

    // Results recorded without a scope (by hand, or before scopes existed) are never retired by one.
    c.record_results(&t, "manual", &[result(ROOT_MFA, "111122223333", Status::Fail)], at(3)).await.unwrap();
    let summary = c.record_observation(&t, "run-3", &observation(iam, &[MFA, ROOT_MFA], at(4)), &second, at(4)).await;
    assert!(summary.unwrap().gone.is_empty());
    assert_eq!(status(env, &t, "KC-IAM-02", at(4)).await, ControlStatus::Failing);

    // Redelivering an observation changes nothing.
    let before = partition(env, &t).await;
    let again = c.record_observation(&t, "run-3", &observation(iam, &[MFA, ROOT_MFA], at(4)), &second, at(4)).await;
    let again = again.unwrap();
    assert_eq!((again.written, again.gone.len(), again.controls_written), (0, 0, 0));
    assert_eq!(partition(env, &t).await, before);

    // A result for a check the observation did not run is refused, and nothing is written.
    let stray = [result(ROOT_KEYS, "111122223333", Status::Fail)];
    assert_err!(
        c.record_observation(&t, "run-3", &observation(iam, &[MFA], at(4)), &stray, at(4)).await,
        ComplianceError::InvalidResult(_)
    );
    assert_eq!(partition(env, &t).await, before);
}

async fn an_older_observation_never_replaces_a_newer_one(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    let iam = "i1/111122223333/global/iam";
    // GIVEN today's run saw bob fixed and carol new.
    let today = [result(MFA, "bob", Status::Pass), result(MFA, "carol", Status::Fail)];
    c.record_observation(&t, "run-2", &observation(iam, &[MFA], at(3)), &today, at(3)).await.unwrap();

    // WHEN a job of yesterday's run, collected before today's, is recorded late (a redrive).
    let yesterday = [result(MFA, "bob", Status::Fail), result(MFA, "erin", Status::Fail)];
    let late = observation(iam, &[MFA], at(3) - Duration::hours(20));
    let summary = c.record_observation(&t, "run-1", &late, &yesterday, at(3) + Duration::hours(1)).await.unwrap();

    // THEN bob stays fixed and carol stays (newer observations win); only erin, unknown so far, is added.
    assert_eq!(summary.outdated, 1, "bob's newer result is kept");
    assert!(summary.gone.is_empty(), "carol was observed later: {summary:?}");
    assert_eq!(summary.newly_failing, vec![pair(MFA, "erin")]);
    let latest: Vec<(String, String)> = c
        .latest_results(&t, "KC-IAM-01")
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.resource_id, r.status.label().to_owned()))
        .collect();
    let expected = [("bob", "pass"), ("carol", "fail"), ("erin", "fail")];
    assert_eq!(latest, expected.map(|(r, s)| (r.to_owned(), s.to_owned())).to_vec());
}

async fn retiring_an_integrations_scopes_removes_its_results(env: &Env) {
    let t = tenant("acme");
    let c = &env.compliance;
    // GIVEN failures seen by two integrations and one recorded by hand.
    let i1 = [result(MFA, "bob", Status::Fail), result(ROOT_MFA, "111122223333", Status::Pass)];
    c.record_observation(&t, "run-1", &observation("i1/a/global/iam", &[MFA, ROOT_MFA], at(2)), &i1, at(2))
        .await
        .unwrap();
    let i12 = [result(MFA, "zed", Status::Fail)];
    c.record_observation(&t, "run-1", &observation("i12/b/global/iam", &[MFA], at(2)), &i12, at(2)).await.unwrap();
    c.record_results(&t, "manual", &[result(ROOT_KEYS, "111122223333", Status::Pass)], at(2)).await.unwrap();

    // WHEN i1's run no longer plans its IAM slice but keeps another, THEN only the IAM results go.
    let s3 = [result(ROOT_KEYS, "444455556666", Status::Fail)];
    c.record_observation(&t, "run-1", &observation("i1/a/global/s3", &[ROOT_KEYS], at(2)), &s3, at(2)).await.unwrap();
    let keep = BTreeSet::from(["i1/a/global/s3".to_owned(), "i1/b/global/iam".to_owned()]);
    let summary = c.retire_scopes_except(&t, "i1/", &keep, at(3)).await.unwrap();
    assert_eq!(summary.gone, vec![pair(ROOT_MFA, "111122223333"), pair(MFA, "bob")]);
    assert_eq!(c.retire_scopes_except(&t, "i1/", &keep, at(3)).await.unwrap().gone, vec![], "nothing left to retire");

    // WHEN integration i1 is deleted.
    c.record_observation(&t, "run-2", &observation("i1/a/global/iam", &[MFA, ROOT_MFA], at(3)), &i1, at(3))
        .await
        .unwrap();
    let summary = c.retire_scope(&t, "i1/", at(3)).await.unwrap();

    // THEN only its results go (not i12's, whose id merely starts alike), and bob's failure is resolved.
    let expected = vec![pair(ROOT_KEYS, "444455556666"), pair(ROOT_MFA, "111122223333"), pair(MFA, "bob")];
    assert_eq!(summary.gone, expected, "in key order");
    assert_eq!(summary.resolved, vec![pair(ROOT_KEYS, "444455556666"), pair(MFA, "bob")]);
    let left: Vec<(String, String)> =
        c.latest_results(&t, "KC-IAM-02").await.unwrap().into_iter().map(|r| (r.check_id, r.resource_id)).collect();
    assert_eq!(left, vec![(ROOT_KEYS.to_owned(), "111122223333".to_owned())], "the one recorded by hand");
    assert_eq!(status(env, &t, "KC-IAM-01", at(3)).await, ControlStatus::Failing, "zed still fails");
    assert_err!(c.retire_scope(&t, "", at(3)).await, ComplianceError::Invalid(_));
}

on_both_backends!(
    resources_a_scope_no_longer_reports_lose_their_results,
    an_older_observation_never_replaces_a_newer_one,
    retiring_an_integrations_scopes_removes_its_results,
    failures_are_reported_when_they_appear_and_when_they_are_fixed,
    recording_the_same_results_twice_changes_nothing,
    resource_ids_with_any_characters_are_kept_exactly,
    concurrent_runs_converge_on_the_control_evaluation,
    an_exception_excepts_a_failure_until_it_expires,
    an_exception_scoped_to_a_check_covers_every_control_of_the_check,
    history_and_effectiveness_follow_the_daily_snapshots,
    readiness_and_listing_reflect_control_status,
    one_tenant_sees_nothing_of_another,
);
