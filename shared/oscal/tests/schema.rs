//! Validates generated assessment-results documents against NIST's published OSCAL 1.1.3 JSON
//! schema, and checks the properties the schema cannot see: determinism, finding states and links
//! between findings and observations.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use kushim_catalog::{Control, FrameworkId, catalog};
use kushim_checks::{CheckResult, InconclusiveReason, Status};
use kushim_engine::{ControlStatus, DailyStatus, effectiveness, evaluate_control};
use kushim_oscal::{AssessmentInput, ControlInput, EvidenceRef, assessment_results};
use serde_json::Value;

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schema/oscal_complete_schema-1-1-3.json");

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let text = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_else(|e| {
            panic!(
                "the NIST OSCAL 1.1.3 JSON schema is missing at {SCHEMA_PATH} ({e}); it is kept in this crate \
                 (shared/oscal/schema/), copied unchanged from NIST's publication"
            )
        });
        let schema: Value = serde_json::from_str(&text).expect("the OSCAL schema is JSON");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("the OSCAL schema does not compile: {e}"))
    })
}

/// Validates `doc`, failing with every error the schema reports.
fn assert_valid(doc: &Value, what: &str) {
    let errors: Vec<String> =
        validator().iter_errors(doc).map(|e| format!("  - at {}: {e}", e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{what}: the document is not valid OSCAL 1.1.3 ({} error(s)):\n{}\n\ndocument:\n{}",
        errors.len(),
        errors.join("\n"),
        serde_json::to_string_pretty(doc).unwrap()
    );
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn result(check_id: &str, resource_id: &str, status: Status, reason: &str) -> CheckResult {
    CheckResult { check_id: check_id.into(), resource_id: resource_id.into(), status, reason: reason.into() }
}

fn control_input(control: &Control, results: Vec<CheckResult>, with_history: bool) -> ControlInput {
    let evaluation = evaluate_control(control, &results, &[], &[], at(2026, 3, 31));
    let effectiveness = with_history.then(|| {
        let days: Vec<DailyStatus> = (1..=31)
            .map(|d| DailyStatus {
                date: at(2026, 3, d).date_naive(),
                status: if (10..13).contains(&d) { ControlStatus::Failing } else { ControlStatus::Passing },
            })
            .collect();
        effectiveness(&days, at(2026, 3, 1).date_naive(), at(2026, 3, 31).date_naive())
    });
    ControlInput { control: control.clone(), evaluation, results, effectiveness }
}

fn evidence() -> Vec<EvidenceRef> {
    let sha_a = "3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b";
    let sha_b = "b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c";
    vec![
        EvidenceRef {
            sha256: sha_a.into(),
            media_type: "application/json".into(),
            title: "AWS IAM credential report".into(),
            collected_at: at(2026, 3, 30),
            href: format!("evidence/{sha_a}"),
            control_ids: vec!["KC-IAM-01".into(), "KC-IAM-02".into()],
        },
        EvidenceRef {
            sha256: sha_b.into(),
            media_type: "application/pdf".into(),
            title: "Security awareness training roster".into(),
            collected_at: at(2026, 2, 14),
            href: format!("evidence/{sha_b}"),
            control_ids: vec![],
        },
    ]
}

/// A realistic input: every catalog control mapped to `framework` that a built-in check supports
/// (up to a handful), with passing, failing and inconclusive results, plus two evidence files.
fn input(framework: FrameworkId) -> AssessmentInput {
    let alice = "arn:aws:iam::111122223333:user/alice";
    let bob = "arn:aws:iam::111122223333:user/bob";
    let root = "arn:aws:iam::111122223333:root";
    let denied = Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "iam:GetAccountSummary".into() });
    let candidates: Vec<(&str, Vec<CheckResult>)> = vec![
        (
            "KC-IAM-01",
            vec![
                result("aws.iam.user_mfa_console", alice, Status::Pass, "alice signs in to the console with MFA."),
                result("aws.iam.user_mfa_console", bob, Status::Fail, "bob signs in to the console without MFA."),
                result("aws.iam.root_mfa", root, Status::Pass, "The root user has MFA."),
            ],
        ),
        (
            "KC-IAM-02",
            vec![
                result("aws.iam.root_mfa", root, Status::Pass, "The root user has MFA."),
                result("aws.iam.root_access_keys", root, Status::Pass, "The root user has no access keys."),
            ],
        ),
        (
            "KC-IAM-03",
            vec![result(
                "aws.iam.password_policy_min_length",
                "111122223333",
                denied,
                "iam:GetAccountPasswordPolicy was refused (AccessDenied).",
            )],
        ),
        (
            "KC-LOG-01",
            vec![result(
                "aws.cloudtrail.multi_region_logging",
                "111122223333",
                Status::Pass,
                "A multi-region trail logs every region.",
            )],
        ),
        ("KC-NET-01", vec![]),
    ];
    let controls = candidates
        .into_iter()
        .filter_map(|(id, results)| {
            let control = catalog().control(id).expect("a catalog control");
            (!control.mapped(framework).is_empty()).then(|| control_input(control, results, id == "KC-IAM-01"))
        })
        .collect();
    AssessmentInput {
        tenant_name: "Acme Health, Inc.".into(),
        framework,
        window_start: at(2026, 1, 1),
        window_end: at(2026, 3, 31),
        generated_at: Utc.with_ymd_and_hms(2026, 4, 1, 9, 30, 0).unwrap(),
        controls,
        evidence: evidence(),
    }
}

fn the_result(doc: &Value) -> &Value {
    &doc["assessment-results"]["results"][0]
}

fn findings(doc: &Value) -> &Vec<Value> {
    the_result(doc)["findings"].as_array().expect("findings")
}

fn finding_for<'d>(doc: &'d Value, control_id: &str) -> &'d Value {
    findings(doc)
        .iter()
        .find(|f| {
            f["props"].as_array().unwrap().iter().any(|p| p["name"] == "kushim-control" && p["value"] == control_id)
        })
        .unwrap_or_else(|| panic!("no finding for {control_id}"))
}

#[test]
fn soc2_document_validates_against_the_oscal_1_1_3_schema() {
    let doc = assessment_results(&input(FrameworkId::Soc2));
    assert_valid(&doc, "SOC 2");
    let ar = &doc["assessment-results"];
    assert_eq!(ar["metadata"]["oscal-version"], "1.1.3");
    assert_eq!(ar["metadata"]["last-modified"], "2026-04-01T09:30:00Z");
    assert_eq!(the_result(&doc)["start"], "2026-01-01T00:00:00Z");
    assert_eq!(the_result(&doc)["end"], "2026-03-31T00:00:00Z");
    let include = the_result(&doc)["reviewed-controls"]["control-selections"][0]["include-controls"]
        .as_array()
        .expect("include-controls");
    let ids: Vec<&str> = include.iter().map(|c| c["control-id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"cc6.1"), "{ids:?}");
    assert!(ids.iter().all(|id| *id == id.to_lowercase()), "{ids:?}");
    assert_eq!(ar["back-matter"]["resources"].as_array().unwrap().len(), 2);
    // 2 evidence observations + one per distinct (check, resource): alice, bob, root MFA, root keys,
    // password policy, trail = 6.
    assert_eq!(the_result(&doc)["observations"].as_array().unwrap().len(), 8);
}

#[test]
fn every_framework_validates() {
    // Set KUSHIM_OSCAL_DUMP to a directory to keep the documents, e.g. to check them with another validator.
    let dump = std::env::var_os("KUSHIM_OSCAL_DUMP").map(std::path::PathBuf::from);
    for framework in FrameworkId::ALL {
        let doc = assessment_results(&input(framework));
        if let Some(dir) = &dump {
            let path = dir.join(format!("assessment-results-{framework}.json"));
            std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).expect("write the document");
        }
        assert_valid(&doc, framework.as_str());
        assert!(!findings(&doc).is_empty(), "{framework}: no findings");
    }
}

#[test]
fn a_document_with_no_controls_or_evidence_still_validates() {
    let mut empty = input(FrameworkId::Hipaa);
    empty.controls.clear();
    empty.evidence.clear();
    assert_valid(&assessment_results(&empty), "empty");
}

#[test]
fn the_same_input_gives_byte_identical_json() {
    for framework in FrameworkId::ALL {
        let a = serde_json::to_string(&assessment_results(&input(framework))).unwrap();
        let b = serde_json::to_string(&assessment_results(&input(framework))).unwrap();
        assert_eq!(a, b, "{framework}");
    }
    let soc2 = assessment_results(&input(FrameworkId::Soc2));
    let iso = assessment_results(&input(FrameworkId::Iso27001));
    assert_ne!(soc2["assessment-results"]["uuid"], iso["assessment-results"]["uuid"]);
}

#[test]
fn failing_controls_are_not_satisfied_and_passing_ones_are() {
    let doc = assessment_results(&input(FrameworkId::Soc2));
    let mfa = finding_for(&doc, "KC-IAM-01");
    assert_eq!(mfa["target"]["status"]["state"], "not-satisfied");
    assert_eq!(mfa["target"]["status"]["reason"], "fail");
    assert_eq!(mfa["target"]["type"], "objective-id");
    assert!(mfa["remarks"].as_str().unwrap().contains("bob"));
    assert!(
        mfa["props"].as_array().unwrap().iter().any(|p| p["name"] == "longest-failing-streak" && p["value"] == "3")
    );
    assert_eq!(finding_for(&doc, "KC-IAM-02")["target"]["status"]["state"], "satisfied");
    let policy = finding_for(&doc, "KC-IAM-03");
    assert_eq!(policy["target"]["status"]["state"], "not-satisfied", "an inconclusive result is never a pass");
}

#[test]
fn every_referenced_observation_and_subject_exists() {
    for framework in FrameworkId::ALL {
        let doc = assessment_results(&input(framework));
        let result = the_result(&doc);
        let observations: BTreeSet<&str> =
            result["observations"].as_array().unwrap().iter().map(|o| o["uuid"].as_str().unwrap()).collect();
        let items: BTreeSet<&str> = result["local-definitions"]["inventory-items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["uuid"].as_str().unwrap())
            .collect();
        for finding in findings(&doc) {
            for related in finding["related-observations"].as_array().into_iter().flatten() {
                let uuid = related["observation-uuid"].as_str().unwrap();
                assert!(observations.contains(uuid), "{framework}: finding cites missing observation {uuid}");
            }
        }
        for obs in result["observations"].as_array().unwrap() {
            for subject in obs["subjects"].as_array().into_iter().flatten() {
                let uuid = subject["subject-uuid"].as_str().unwrap();
                assert!(items.contains(uuid), "{framework}: observation names missing subject {uuid}");
            }
        }
        let all: Vec<&str> = observations.iter().copied().collect();
        assert_eq!(all.len(), result["observations"].as_array().unwrap().len(), "observation uuids are unique");
    }
}

#[test]
fn check_observations_cite_the_evidence_of_their_control() {
    let doc = assessment_results(&input(FrameworkId::Soc2));
    let observations = the_result(&doc)["observations"].as_array().unwrap();
    let bob = observations
        .iter()
        .find(|o| o["subjects"][0]["title"] == "arn:aws:iam::111122223333:user/bob")
        .expect("bob's observation");
    assert_eq!(bob["methods"], serde_json::json!(["TEST"]));
    let hrefs: Vec<&str> =
        bob["relevant-evidence"].as_array().unwrap().iter().map(|e| e["href"].as_str().unwrap()).collect();
    assert_eq!(hrefs, vec![format!("evidence/{}", evidence()[0].sha256)]);
    let mfa = finding_for(&doc, "KC-IAM-01");
    assert_eq!(mfa["related-observations"].as_array().unwrap().len(), 4, "three results and one evidence file");
}

/// An edit that makes a valid document invalid.
type Breakage = fn(&mut Value);

#[test]
fn the_schema_rejects_broken_documents() {
    let good = assessment_results(&input(FrameworkId::Soc2));
    assert!(validator().is_valid(&good));
    let breakages: Vec<(&str, Breakage)> = vec![
        ("no import-ap", |d| {
            d["assessment-results"].as_object_mut().unwrap().remove("import-ap");
        }),
        ("unknown finding state", |d| {
            d["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] = "maybe".into();
        }),
        ("uuid that is not v4 or v5", |d| {
            d["assessment-results"]["uuid"] = "0190b8a2-7f4e-7c3a-9d2b-5e6f7a8b9c0d".into();
        }),
        ("property name that is not a token", |d| {
            d["assessment-results"]["results"][0]["props"][0]["name"] = "not a token".into();
        }),
        ("control id that is not a token", |d| {
            d["assessment-results"]["results"][0]["reviewed-controls"]["control-selections"][0]["include-controls"]
                [0]["control-id"] = "164.308(a)".into();
        }),
        ("timestamp without a zone", |d| {
            d["assessment-results"]["results"][0]["start"] = "2026-01-01T00:00:00".into();
        }),
        ("unknown field", |d| {
            d["assessment-results"]["results"][0]["observations"][0]["colour"] = "blue".into();
        }),
    ];
    for (what, breakage) in breakages {
        let mut doc = good.clone();
        breakage(&mut doc);
        assert!(!validator().is_valid(&doc), "the schema accepted a document with {what}");
    }
}
