//! Behaviour of custom rules end to end: compile a spec, evaluate it on hand-built S3 evidence.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use kushim_checks::evidence::aws::{AccountPasswordPolicy, PublicAccessBlock};
use kushim_checks::evidence::aws::{Bucket, S3Buckets, VersioningStatus};
use kushim_checks::{
    CheckResult, Evidence, EvidenceContext, InconclusiveReason, PermissionError, Scope, Severity, Status,
};
use kushim_rules::{CompiledRule, Limits, RuleError, RuleSpec};

fn versioning_spec() -> RuleSpec {
    RuleSpec {
        id: "custom.s3_versioning".into(),
        title: "S3 buckets must have versioning enabled".into(),
        description: "Versioning lets us recover overwritten or deleted objects.".into(),
        severity: Severity::Medium,
        evidence_kind: "aws.s3.buckets".into(),
        resources: "evidence.buckets".into(),
        resource_id: "resource.name".into(),
        applies: None,
        pass: "resource.versioning == 'enabled'".into(),
        fail_reason: "Bucket {id} does not have versioning enabled.".into(),
        controls: vec!["KC-DR-01".into()],
    }
}

fn bucket(name: &str, region: &str, versioning: Option<VersioningStatus>) -> Bucket {
    Bucket {
        name: name.into(),
        region: region.into(),
        encryption: None,
        public_access_block: Some(PublicAccessBlock::ALL),
        policy_is_public: Some(false),
        policy_denies_insecure_transport: Some(true),
        versioning,
        object_lock_enabled: Some(false),
    }
}

fn s3(buckets: Vec<Bucket>) -> Evidence {
    Evidence::AwsS3Buckets(S3Buckets { account_public_access_block: Some(PublicAccessBlock::ALL), buckets })
}

fn ctx() -> EvidenceContext {
    EvidenceContext::new(now(), Scope::Aws { account_id: "111122223333".into(), region: None })
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn compile(spec: RuleSpec) -> CompiledRule {
    CompiledRule::compile(spec).expect("the rule compiles")
}

fn find<'a>(results: &'a [CheckResult], id: &str) -> &'a CheckResult {
    results.iter().find(|r| r.resource_id == id).unwrap_or_else(|| panic!("no result for {id}: {results:?}"))
}

#[test]
fn given_versioning_rule_when_buckets_are_evaluated_then_each_gets_pass_or_fail_with_its_id_and_reason() {
    let rule = compile(versioning_spec());
    let evidence = s3(vec![
        bucket("logs", "eu-west-1", Some(VersioningStatus::Enabled)),
        bucket("tmp", "eu-west-1", Some(VersioningStatus::Suspended)),
        bucket("old", "us-east-1", Some(VersioningStatus::Disabled)),
    ]);

    let results = rule.evaluate(&evidence, &ctx(), now()).unwrap();

    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.check_id == "custom.s3_versioning"));
    assert_eq!(find(&results, "logs").status, Status::Pass);
    assert_eq!(find(&results, "logs").reason, "logs meets the rule \"S3 buckets must have versioning enabled\".");
    assert_eq!(find(&results, "tmp").status, Status::Fail);
    assert_eq!(find(&results, "tmp").reason, "Bucket tmp does not have versioning enabled.");
    assert_eq!(find(&results, "old").status, Status::Fail);
    assert_eq!(find(&results, "old").reason, "Bucket old does not have versioning enabled.");
}

#[test]
fn given_applies_condition_when_it_is_false_then_the_resource_is_not_applicable() {
    let rule = compile(RuleSpec { applies: Some("resource.region == 'eu-west-1'".into()), ..versioning_spec() });
    let evidence = s3(vec![
        bucket("eu", "eu-west-1", Some(VersioningStatus::Disabled)),
        bucket("us", "us-east-1", Some(VersioningStatus::Disabled)),
    ]);

    let results = rule.evaluate(&evidence, &ctx(), now()).unwrap();

    assert_eq!(find(&results, "eu").status, Status::Fail);
    assert_eq!(find(&results, "us").status, Status::NotApplicable);
    assert!(find(&results, "us").reason.contains("applies"), "{}", find(&results, "us").reason);
}

#[test]
fn given_no_buckets_when_evaluated_then_one_not_applicable_result_for_the_account() {
    let rule = compile(versioning_spec());

    let results = rule.evaluate(&s3(vec![]), &ctx(), now()).unwrap();

    assert_eq!(results.len(), 1);
    assert_eq!(results[0].resource_id, "111122223333");
    assert_eq!(results[0].status, Status::NotApplicable);
}

#[test]
fn given_a_bucket_whose_versioning_was_not_visible_when_evaluated_then_it_is_inconclusive_not_pass() {
    // `versioning: None` means the collector could not read it; even a rule that would pass on
    // anything but "disabled" must not pass it.
    let rule = compile(RuleSpec { pass: "resource.versioning != 'disabled'".into(), ..versioning_spec() });
    let evidence =
        s3(vec![bucket("hidden", "eu-west-1", None), bucket("seen", "eu-west-1", Some(VersioningStatus::Enabled))]);

    let results = rule.evaluate(&evidence, &ctx(), now()).unwrap();

    let hidden = find(&results, "hidden");
    match &hidden.status {
        Status::Inconclusive(InconclusiveReason::FieldNotVisible { field }) => {
            assert!(field.contains("versioning"), "{field}")
        }
        other => panic!("expected inconclusive, got {other:?}"),
    }
    assert!(hidden.reason.contains("`pass`"), "{}", hidden.reason);
    assert_eq!(find(&results, "seen").status, Status::Pass);
}

#[test]
fn given_a_rule_testing_visibility_with_has_when_the_field_is_hidden_then_the_rule_decides() {
    let rule = compile(RuleSpec {
        pass: "has(resource.versioning) && resource.versioning == 'enabled'".into(),
        ..versioning_spec()
    });

    let results = rule.evaluate(&s3(vec![bucket("hidden", "eu-west-1", None)]), &ctx(), now()).unwrap();

    assert_eq!(results[0].status, Status::Fail);
}

#[test]
fn given_a_permission_error_in_the_context_when_evaluated_then_passing_buckets_are_inconclusive_permission_denied() {
    let rule = compile(versioning_spec());
    let evidence = s3(vec![
        bucket("a", "eu-west-1", Some(VersioningStatus::Enabled)),
        bucket("b", "eu-west-1", Some(VersioningStatus::Enabled)),
    ]);
    let denied = ctx().with_permission_error("s3:GetBucketVersioning", "AccessDenied");

    let results = rule.evaluate(&evidence, &denied, now()).unwrap();

    assert_eq!(results.len(), 2);
    for r in &results {
        assert_eq!(
            r.status,
            Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "s3:GetBucketVersioning".into() }),
            "{r:?}"
        );
        assert!(r.reason.contains("AccessDenied"), "{}", r.reason);
    }
}

#[test]
fn given_a_permission_error_for_one_bucket_when_evaluated_then_only_that_bucket_is_affected() {
    let rule = compile(versioning_spec());
    let evidence = s3(vec![
        bucket("a", "eu-west-1", Some(VersioningStatus::Enabled)),
        bucket("b", "eu-west-1", Some(VersioningStatus::Enabled)),
    ]);
    let mut denied = ctx();
    denied.permission_errors.push(PermissionError {
        action: "s3:GetBucketPolicyStatus".into(),
        message: "AccessDenied".into(),
        resource: Some("b".into()),
    });

    let results = rule.evaluate(&evidence, &denied, now()).unwrap();

    assert_eq!(find(&results, "a").status, Status::Pass);
    assert!(matches!(find(&results, "b").status, Status::Inconclusive(InconclusiveReason::PermissionDenied { .. })));
}

#[test]
fn given_a_syntax_error_when_compiled_then_the_error_names_the_expression() {
    let err =
        CompiledRule::compile(RuleSpec { pass: "resource.versioning == ".into(), ..versioning_spec() }).unwrap_err();

    let RuleError::Parse { expression, message } = &err else { panic!("expected a parse error, got {err:?}") };
    assert_eq!(*expression, "pass");
    assert!(!message.is_empty());
    assert!(err.to_string().starts_with("expression `pass` does not parse"), "{err}");
}

#[test]
fn given_an_unknown_variable_when_compiled_then_it_is_refused_by_name() {
    let err = CompiledRule::compile(RuleSpec { pass: "bucket.versioning == 'enabled'".into(), ..versioning_spec() })
        .unwrap_err();
    assert_eq!(err, RuleError::UnknownVariable { expression: "pass", name: "bucket".into() });

    let err =
        CompiledRule::compile(RuleSpec { resources: "resource.buckets".into(), ..versioning_spec() }).unwrap_err();
    assert_eq!(err, RuleError::UnknownVariable { expression: "resources", name: "resource".into() });
}

#[test]
fn given_macro_variables_when_compiled_then_they_are_known_only_inside_their_macro() {
    let ok = RuleSpec { pass: "evidence.buckets.exists(b, b.name == resource.name)".into(), ..versioning_spec() };
    assert!(CompiledRule::compile(ok).is_ok());

    let leaked = RuleSpec { pass: "evidence.buckets.exists(b, true) && b.name == ''".into(), ..versioning_spec() };
    assert_eq!(
        CompiledRule::compile(leaked).unwrap_err(),
        RuleError::UnknownVariable { expression: "pass", name: "b".into() }
    );
}

#[test]
fn given_an_unknown_function_when_compiled_then_it_is_refused_and_standard_ones_are_accepted() {
    let err =
        CompiledRule::compile(RuleSpec { pass: "frobnicate(resource.name)".into(), ..versioning_spec() }).unwrap_err();
    assert_eq!(err, RuleError::UnknownFunction { expression: "pass", name: "frobnicate".into() });
    let err =
        CompiledRule::compile(RuleSpec { pass: "resource.name.frobnicate()".into(), ..versioning_spec() }).unwrap_err();
    assert_eq!(err, RuleError::UnknownFunction { expression: "pass", name: "frobnicate".into() });

    let rule = compile(RuleSpec {
        pass: "size(resource.name) > 0 && resource.name.startsWith('lo') && resource.name.contains('g') \
               && timestamp('2024-01-01T00:00:00Z') < now - duration('24h') && int('1') == 1 && string(1) == '1' \
               && [1, 2].all(x, x > 0) && evidence.buckets.map(b, b.name).size() == 1"
            .into(),
        ..versioning_spec()
    });
    let results = rule.evaluate(&s3(vec![bucket("logs", "eu-west-1", None)]), &ctx(), now()).unwrap();
    assert_eq!(results[0].status, Status::Pass, "{results:?}");
}

#[test]
fn given_an_over_long_expression_when_compiled_then_it_is_refused() {
    let long = format!("resource.versioning == 'enabled' || {}", vec!["false"; 400].join(" || "));
    assert!(long.chars().count() > 2_000);

    let err = CompiledRule::compile(RuleSpec { pass: long.clone(), ..versioning_spec() }).unwrap_err();

    assert_eq!(err, RuleError::ExpressionTooLong { expression: "pass", chars: long.chars().count(), max: 2_000 });
}

#[test]
fn given_deeply_nested_expressions_when_compiled_then_they_are_refused_without_crashing() {
    let parens = format!("{}true{}", "(".repeat(500), ")".repeat(500));
    let err = CompiledRule::compile(RuleSpec { pass: parens, ..versioning_spec() }).unwrap_err();
    assert!(matches!(err, RuleError::Parse { expression: "pass", .. }), "{err:?}");

    let chain = format!("resource{} == ''", ".name".repeat(300));
    let err = CompiledRule::compile(RuleSpec { pass: chain, ..versioning_spec() }).unwrap_err();
    assert!(
        matches!(&err, RuleError::TooComplex { expression: "pass", message } if message.contains("32 levels")),
        "{err:?}"
    );

    let wide = vec!["resource.a==1"; 130].join("||");
    assert!(wide.len() < 2_000);
    let err = CompiledRule::compile(RuleSpec { pass: wide, ..versioning_spec() }).unwrap_err();
    assert!(
        matches!(&err, RuleError::TooComplex { expression: "pass", message } if message.contains("500 nodes")),
        "{err:?}"
    );
}

#[test]
fn given_evidence_of_another_kind_when_evaluated_then_it_is_an_error() {
    let rule = compile(versioning_spec());
    let other = Evidence::AwsPasswordPolicy(AccountPasswordPolicy { policy: None });

    let err = rule.evaluate(&other, &ctx(), now()).unwrap_err();

    assert_eq!(
        err,
        RuleError::WrongEvidenceKind {
            rule_id: "custom.s3_versioning".into(),
            expected: "aws.s3.buckets".into(),
            found: "aws.iam.password_policy",
        }
    );
}

#[test]
fn given_resources_that_are_not_a_list_when_evaluated_then_it_is_an_error() {
    let rule = compile(RuleSpec { resources: "evidence.account_public_access_block".into(), ..versioning_spec() });

    let err = rule.evaluate(&s3(vec![]), &ctx(), now()).unwrap_err();

    assert!(matches!(&err, RuleError::Resources { message, .. } if message.contains("not a list")), "{err:?}");
}

#[test]
fn given_a_quadratic_rule_over_20_000_buckets_when_evaluated_then_it_stops_with_a_budget_error() {
    // 20,000 keeps the test fast in debug builds (turning evidence into CEL values dominates);
    // the estimate, 20,000 squared steps, is far past the limit either way.
    let rule = compile(RuleSpec {
        pass: "evidence.buckets.all(a, evidence.buckets.all(b, a.name != b.name || a == b))".into(),
        ..versioning_spec()
    });
    let buckets = (0..20_000).map(|i| bucket(&format!("b{i}"), "eu-west-1", None)).collect();
    let evidence = s3(buckets);

    let started = Instant::now();
    let err = rule.evaluate(&evidence, &ctx(), now()).unwrap_err();

    assert!(matches!(&err, RuleError::Budget { detail, .. } if detail.contains("`pass`")), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn given_more_resources_than_the_cap_when_evaluated_then_it_is_an_error() {
    let rule = compile(versioning_spec());
    let evidence = s3((0..6).map(|i| bucket(&format!("b{i}"), "eu-west-1", None)).collect());
    let limits = Limits { max_resources: 5, ..Limits::default() };

    let err = rule.evaluate_with_limits(&evidence, &ctx(), now(), &limits).unwrap_err();

    assert_eq!(err, RuleError::TooManyResources { rule_id: "custom.s3_versioning".into(), count: 6, max: 5 });
}

#[test]
fn given_an_exhausted_time_budget_when_evaluated_then_it_stops_after_the_first_resource() {
    let rule = compile(versioning_spec());
    let evidence = s3((0..3).map(|i| bucket(&format!("b{i}"), "eu-west-1", None)).collect());
    let limits = Limits { time_budget: Duration::ZERO, ..Limits::default() };

    let err = rule.evaluate_with_limits(&evidence, &ctx(), now(), &limits).unwrap_err();

    assert!(matches!(&err, RuleError::Budget { detail, .. } if detail.contains("after 1 of 3")), "{err:?}");
}

#[test]
fn given_an_invalid_control_id_when_compiled_then_it_is_refused() {
    let err =
        CompiledRule::compile(RuleSpec { controls: vec!["KC-DR-01".into(), "kc-dr-1".into()], ..versioning_spec() })
            .unwrap_err();

    assert_eq!(err, RuleError::InvalidControl("kc-dr-1".into()));
}

#[test]
fn given_an_unknown_evidence_kind_when_compiled_then_it_is_refused() {
    let err =
        CompiledRule::compile(RuleSpec { evidence_kind: "aws.s3.objects".into(), ..versioning_spec() }).unwrap_err();

    assert_eq!(err, RuleError::UnknownEvidenceKind("aws.s3.objects".into()));
}

#[test]
fn given_a_bad_id_when_compiled_then_it_is_refused() {
    let err = CompiledRule::compile(RuleSpec { id: "aws.s3.versioning".into(), ..versioning_spec() }).unwrap_err();

    assert!(matches!(err, RuleError::InvalidField { field: "id", .. }), "{err:?}");
}

#[test]
fn given_a_spec_as_json_when_it_has_an_unknown_field_then_it_does_not_deserialise() {
    let mut json = serde_json::to_value(versioning_spec()).unwrap();
    assert!(serde_json::from_value::<RuleSpec>(json.clone()).is_ok());
    json["passes"] = serde_json::json!("true");

    assert!(serde_json::from_value::<RuleSpec>(json).is_err());
}
