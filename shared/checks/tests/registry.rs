//! Registry tests: the shape of every check definition, the rules every check shares (wrong
//! evidence errors, refused permissions never pass, no silent empty results) and the serialized
//! form of evidence and results.

mod common;

use std::collections::BTreeSet;

use common::*;
use kushim_checks::evidence::aws::PublicAccessBlock;
use kushim_checks::evidence::kinds;
use kushim_checks::{
    CheckResult, Connector, EvalError, Evidence, EvidenceContext, InconclusiveReason, Status, evaluate_all, find_check,
    registry,
};

#[test]
fn registry_has_enough_checks_per_connector() {
    let count = |c: Connector| registry().iter().filter(|k| k.def().connector == c).count();
    assert!(registry().len() >= 40, "only {} checks", registry().len());
    assert!(count(Connector::Aws) >= 25, "only {} AWS checks", count(Connector::Aws));
    assert!(count(Connector::Github) >= 1);
    assert!(count(Connector::Okta) >= 1);
}

fn is_snake(part: &str) -> bool {
    !part.is_empty()
        && part.starts_with(|c: char| c.is_ascii_lowercase())
        && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !part.ends_with('_')
        && !part.contains("__")
}

fn is_control_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    matches!(parts.as_slice(), ["KC", area, nn]
        if !area.is_empty() && area.chars().all(|c| c.is_ascii_uppercase())
            && nn.len() == 2 && nn.chars().all(|c| c.is_ascii_digit()))
}

#[test]
fn every_definition_is_complete_and_well_formed() {
    let mut ids = BTreeSet::new();
    for check in registry() {
        let d = check.def();
        assert!(ids.insert(d.id), "duplicate id {}", d.id);
        let parts: Vec<&str> = d.id.split('.').collect();
        assert_eq!(parts.len(), 3, "{}: id must be <connector>.<service>.<name>", d.id);
        assert!(parts.iter().all(|p| is_snake(p)), "{}: id must be lowercase snake case", d.id);
        assert_eq!(parts[0], d.connector.as_str(), "{}: id must start with its connector", d.id);
        assert!(d.evidence_kind.starts_with(&format!("{}.", d.connector)), "{}: evidence of another connector", d.id);
        assert!(d.resource_type.starts_with(&format!("{}.", d.connector)), "{}: resource type prefix", d.id);
        assert!(kinds::ALL.contains(&d.evidence_kind), "{}: unknown evidence kind {}", d.id, d.evidence_kind);
        for (what, text) in [("title", d.title), ("description", d.description), ("rationale", d.rationale)] {
            assert!(!text.trim().is_empty(), "{}: empty {what}", d.id);
        }
        assert!(!d.permissions.is_empty(), "{}: no permissions", d.id);
        assert!(d.permissions.iter().all(|p| !p.trim().is_empty()), "{}: blank permission", d.id);
        let unique_permissions: BTreeSet<_> = d.permissions.iter().collect();
        assert_eq!(unique_permissions.len(), d.permissions.len(), "{}: repeated permission", d.id);
        assert!(!d.remediation.steps.is_empty(), "{}: no remediation step", d.id);
        assert!(d.remediation.steps.iter().all(|s| !s.trim().is_empty()), "{}: blank remediation step", d.id);
        assert!(!d.controls.is_empty(), "{}: no control", d.id);
        assert!(d.controls.iter().all(|c| is_control_id(c)), "{}: malformed control id in {:?}", d.id, d.controls);
        assert!(find_check(d.id).is_some_and(|c| c.id() == d.id));
    }
}

#[test]
fn permission_names_follow_each_connector_convention() {
    for check in registry() {
        let d = check.def();
        for p in d.permissions {
            let ok = match d.connector {
                // IAM actions: service:Action.
                Connector::Aws => p.split_once(':').is_some_and(|(svc, action)| {
                    is_snake(svc)
                        && action.starts_with(|c: char| c.is_ascii_uppercase())
                        && action.chars().all(char::is_alphanumeric)
                }),
                // GitHub App permissions: name:read.
                Connector::Github => p.strip_suffix(":read").is_some_and(is_snake),
                // Okta OAuth scopes.
                Connector::Okta => p.starts_with("okta.") && p.ends_with(".read"),
            };
            assert!(ok, "{}: permission {p:?} does not look like a {} permission", d.id, d.connector);
        }
    }
}

#[test]
fn every_compliant_sample_passes_every_check_of_its_kind() {
    for evidence in samples() {
        let ctx = ctx_for(&evidence);
        for check in registry().iter().filter(|c| c.def().evidence_kind == evidence.kind()) {
            let results = check.evaluate(&evidence, &ctx, now()).unwrap();
            assert!(!results.is_empty());
            assert!(
                results.iter().all(|r| r.status == Status::Pass),
                "{} on the compliant sample: {results:#?}",
                check.id()
            );
        }
    }
}

#[test]
fn evidence_of_another_kind_is_an_error_never_a_result() {
    let samples = samples();
    for check in registry() {
        for evidence in samples.iter().filter(|e| e.kind() != check.def().evidence_kind) {
            let got = check.evaluate(evidence, &ctx_for(evidence), now());
            assert_eq!(
                got,
                Err(EvalError::WrongEvidenceKind {
                    check_id: check.id(),
                    expected: check.def().evidence_kind,
                    found: evidence.kind(),
                }),
                "{} accepted {}",
                check.id(),
                evidence.kind()
            );
        }
    }
}

#[test]
fn a_refused_permission_makes_every_check_that_needs_it_inconclusive() {
    for check in registry() {
        let evidence = sample(check.def().evidence_kind);
        for action in check.def().permissions {
            let ctx = deny(ctx_for(&evidence), action);
            let results = check.evaluate(&evidence, &ctx, now()).unwrap();
            let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied { action: (*action).to_owned() });
            assert!(results.iter().any(|r| r.status == denied), "{} with {action} refused: {results:#?}", check.id());
            assert!(results.iter().all(|r| !r.status.is_pass()), "{} passed with {action} refused", check.id());
            assert!(results.iter().filter(|r| r.status == denied).all(|r| r.reason.contains(action)));
        }
    }
}

#[test]
fn a_refused_permission_matches_actions_case_insensitively() {
    let check = find_check("aws.s3.bucket_versioning").unwrap();
    let ctx = deny(aws_ctx(), "S3:GETBUCKETVERSIONING");
    let results = check.evaluate(&buckets(None, vec![bucket("b")]), &ctx, now()).unwrap();
    assert_eq!(
        results[0].status,
        Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "s3:GetBucketVersioning".to_owned() })
    );
}

#[test]
fn a_permission_the_check_does_not_need_changes_nothing() {
    for check in registry() {
        let evidence = sample(check.def().evidence_kind);
        let clean = check.evaluate(&evidence, &ctx_for(&evidence), now()).unwrap();
        let ctx = deny(ctx_for(&evidence), "unrelated:Action");
        assert_eq!(check.evaluate(&evidence, &ctx, now()).unwrap(), clean, "{}", check.id());
    }
}

#[test]
fn a_permission_refused_for_one_resource_affects_only_that_resource() {
    let check = find_check("aws.s3.bucket_kms_encryption").unwrap();
    let evidence = buckets(None, vec![bucket("a"), bucket("b")]);
    let ctx = deny_on(aws_ctx(), "s3:GetEncryptionConfiguration", "b");
    let results = check.evaluate(&evidence, &ctx, now()).unwrap();
    let statuses: Vec<(&str, &Status)> = results.iter().map(|r| (r.resource_id.as_str(), &r.status)).collect();
    let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied {
        action: "s3:GetEncryptionConfiguration".to_owned(),
    });
    assert_eq!(statuses, vec![("a", &Status::Pass), ("b", &denied)]);

    // A refusal about a resource the evidence does not list still yields a result for it.
    let ctx = deny_on(aws_ctx(), "s3:GetEncryptionConfiguration", "ghost");
    let results = check.evaluate(&evidence, &ctx, now()).unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!((results[2].resource_id.as_str(), &results[2].status), ("ghost", &denied));
}

#[test]
fn definite_failures_survive_a_refused_permission() {
    let check = find_check("aws.s3.bucket_versioning").unwrap();
    let mut off = bucket("off");
    off.versioning = Some(kushim_checks::evidence::aws::VersioningStatus::Suspended);
    let results = check.evaluate(&buckets(None, vec![off]), &deny(aws_ctx(), "s3:GetBucketVersioning"), now()).unwrap();
    let statuses: Vec<&Status> = results.iter().map(|r| &r.status).collect();
    let denied =
        Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "s3:GetBucketVersioning".to_owned() });
    // The failure stays, and the refusal is still reported for the scope.
    assert_eq!(statuses, vec![&Status::Fail, &denied]);
    assert_eq!(results[1].resource_id, ACCOUNT);
}

#[test]
fn evidence_without_resources_is_not_applicable_never_silent() {
    let check = find_check("aws.kms.customer_key_rotation").unwrap();
    let results = check.evaluate(&kms_keys(vec![]), &aws_ctx(), now()).unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].resource_id, ACCOUNT);
    assert_eq!(results[0].status, Status::NotApplicable);
    assert!(results[0].reason.contains("aws.kms.key"));
}

#[test]
fn evaluate_all_runs_only_the_checks_of_that_kind() {
    let evidence = sample(kinds::AWS_S3_BUCKETS);
    let results = evaluate_all(&evidence, &aws_ctx(), now());
    let ran: BTreeSet<&str> = results.iter().map(|r| r.check_id.as_str()).collect();
    let expected: BTreeSet<&str> =
        registry().iter().filter(|c| c.def().evidence_kind == kinds::AWS_S3_BUCKETS).map(|c| c.id()).collect();
    assert_eq!(ran, expected);
    assert_eq!(expected.len(), 7);
    assert!(evaluate_all(&sample(kinds::AWS_ACCOUNT_REGIONS), &aws_ctx(), now()).is_empty());
}

#[test]
fn every_kind_has_a_sample_whose_tag_matches_its_kind() {
    let samples = samples();
    let sample_kinds: Vec<&str> = samples.iter().map(Evidence::kind).collect();
    assert_eq!(sample_kinds, kinds::ALL);
    for evidence in &samples {
        let json = serde_json::to_value(evidence).unwrap();
        assert_eq!(json["kind"], evidence.kind());
        let back: Evidence = serde_json::from_value(json).unwrap();
        assert_eq!(&back, evidence);
    }
}

#[test]
fn evidence_rejects_unknown_fields() {
    let mut json = serde_json::to_value(buckets(Some(PublicAccessBlock::ALL), vec![bucket("b")])).unwrap();
    json["data"]["buckets"][0]["surprise"] = serde_json::json!(true);
    assert!(serde_json::from_value::<Evidence>(json).is_err());

    let mut json = serde_json::to_value(aws_ctx()).unwrap();
    json["extra"] = serde_json::json!(1);
    assert!(serde_json::from_value::<EvidenceContext>(json).is_err());
}

#[test]
fn context_round_trips_with_permission_errors() {
    let ctx = deny_on(deny(aws_ctx(), "iam:GetCredentialReport"), "s3:GetBucketPolicy", "b");
    let json = serde_json::to_string(&ctx).unwrap();
    assert!(json.contains(r#""connector":"aws""#), "{json}");
    assert_eq!(serde_json::from_str::<EvidenceContext>(&json).unwrap(), ctx);
    // `permission_errors` and `resource` may be omitted.
    let minimal = r#"{"collected_at":"2025-06-01T12:00:00Z","scope":{"connector":"github","org":"acme"}}"#;
    assert_eq!(serde_json::from_str::<EvidenceContext>(minimal).unwrap(), github_ctx());
}

#[test]
fn results_serialize_with_a_flat_status() {
    let result = CheckResult {
        check_id: "aws.s3.bucket_versioning".to_owned(),
        resource_id: "b".to_owned(),
        status: Status::Inconclusive(InconclusiveReason::PermissionDenied {
            action: "s3:GetBucketVersioning".to_owned(),
        }),
        reason: "refused".to_owned(),
    };
    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(
        json["status"],
        serde_json::json!({"status": "inconclusive", "cause": "permission_denied", "action": "s3:GetBucketVersioning"})
    );
    assert_eq!(serde_json::from_value::<CheckResult>(json).unwrap(), result);
    for status in [
        Status::Pass,
        Status::Fail,
        Status::NotApplicable,
        Status::Inconclusive(InconclusiveReason::RegionDisabled),
        Status::Inconclusive(InconclusiveReason::ApiError { message: "throttled".to_owned() }),
    ] {
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["status"], status.label());
        assert_eq!(serde_json::from_value::<Status>(json).unwrap(), status);
    }
}

#[test]
fn definitions_serialize_for_the_api() {
    let json = serde_json::to_value(find_check("aws.iam.root_mfa").unwrap().def()).unwrap();
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["connector"], "aws");
    assert_eq!(json["controls"], serde_json::json!(["KC-IAM-01", "KC-IAM-02"]));
}
