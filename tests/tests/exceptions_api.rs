//! End-to-end tests of exceptions (risk acceptances) and custom checks over HTTP on the local
//! platform: who may request, approve and revoke an exception, what an approved one does to a
//! control's status, and the custom-check lifecycle (validate, create, list, update, delete).

use kushim_checks::{CheckResult, Status};
use kushim_compliance::Compliance;
use kushim_domain::{Role, TenantId};
use serde_json::{Value, json};

mod common;

use common::{Api, assert_problem, start, token};

// ---- Exceptions. ----

const MFA: &str = "aws.iam.user_mfa_console";
const CONTROL: &str = "KC-IAM-01";

async fn control_status(compliance: &Compliance, tenant: &TenantId) -> Value {
    let eval = compliance.control_status(tenant, CONTROL, chrono::Utc::now()).await.unwrap();
    serde_json::to_value(eval.status).unwrap()
}

async fn exception_flow(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let admin_t = token(&api.add_user(&owner_t, "admin@acme.test", Role::Admin).await);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let auditor_t = token(&api.add_user(&owner_t, "auditor@acme.test", Role::Auditor).await);

    // A failing result, as a run would record it.
    let tenant = TenantId::new(owner["tenant_id"].as_str().unwrap()).unwrap();
    let compliance = Compliance::new(platform.backends.table().unwrap());
    let results = [
        CheckResult { check_id: MFA.into(), resource_id: "alice".into(), status: Status::Pass, reason: "ok".into() },
        CheckResult {
            check_id: MFA.into(),
            resource_id: "break-glass".into(),
            status: Status::Fail,
            reason: "break-glass has no MFA device".into(),
        },
    ];
    compliance.record_results(&tenant, "run-1", &results, chrono::Utc::now()).await.unwrap();
    assert_eq!(control_status(&compliance, &tenant).await, "failing");

    // The member asks for an exception covering that failure; a retry replays the first answer.
    let expires = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let ask = json!({
        "scope": {"check_id": MFA, "resource_pattern": "break-*"},
        "reason": "Break-glass account; hardware token kept in the safe.",
        "expires_at": expires,
        "compensating_control": "KC-LOG-01",
    });
    let requested = api.call("POST", "/v1/exceptions", &member_t, Some(ask.clone()), Some("exc-1")).await;
    assert_eq!(requested.status, 201, "{}", requested.text);
    assert_eq!(requested.body["state"], "requested");
    let id = requested.body["id"].as_str().unwrap().to_owned();
    let replay = api.call("POST", "/v1/exceptions", &member_t, Some(ask), Some("exc-1")).await;
    assert_eq!((replay.status, replay.body["id"].as_str()), (201, Some(id.as_str())));
    assert_eq!(control_status(&compliance, &tenant).await, "failing", "a request does not apply");

    // Bad input is refused precisely.
    let past = json!({"scope": {"check_id": MFA}, "reason": "x", "expires_at": "2020-01-01T00:00:00Z"});
    assert_problem(&api.call("POST", "/v1/exceptions", &member_t, Some(past), None).await, 400, "invalid-request");
    let unknown = json!({"scope": {"check_id": "aws.nope"}, "reason": "x", "expires_at": expires});
    assert_problem(&api.call("POST", "/v1/exceptions", &member_t, Some(unknown), None).await, 400, "invalid-request");
    let garbled = json!({"scope": {"check_id": MFA}, "reason": "x", "expires_at": "next tuesday"});
    assert_problem(&api.call("POST", "/v1/exceptions", &member_t, Some(garbled), None).await, 400, "invalid-request");

    // A member cannot approve; neither can a requester approve their own.
    let approve = format!("/v1/exceptions/{id}/approve");
    assert_problem(&api.call("POST", &approve, &member_t, None, None).await, 403, "forbidden");
    let own = json!({"scope": {"control_id": CONTROL}, "reason": "Migration in progress.", "expires_at": expires});
    let admins = api.call("POST", "/v1/exceptions", &admin_t, Some(own), None).await;
    assert_eq!(admins.status, 201, "{}", admins.text);
    let own_id = admins.body["id"].as_str().unwrap();
    let self_approval = api.call("POST", &format!("/v1/exceptions/{own_id}/approve"), &admin_t, None, None).await;
    assert_problem(&self_approval, 409, "conflict");
    assert!(self_approval.body["detail"].as_str().unwrap().contains("requester"), "{}", self_approval.text);
    assert_problem(&api.call("POST", "/v1/exceptions/nope/approve", &admin_t, None, None).await, 404, "not-found");

    // An admin's API key cannot stand in for its creator: keys never request or approve.
    let key = api.call("POST", "/v1/api-keys", &admin_t, Some(json!({"name": "bot", "role": "admin"})), None).await;
    assert_eq!(key.status, 201, "{}", key.text);
    let key_t = key.body["secret"].as_str().unwrap().to_owned();
    assert_problem(
        &api.call("POST", &format!("/v1/exceptions/{own_id}/approve"), &key_t, None, None).await,
        403,
        "forbidden",
    );
    let by_key = json!({"scope": {"control_id": CONTROL}, "reason": "Automated.", "expires_at": expires});
    assert_problem(&api.call("POST", "/v1/exceptions", &key_t, Some(by_key), None).await, 403, "forbidden");

    // The admin approves the member's exception: the control is excepted.
    let approved = api.call("POST", &approve, &admin_t, None, None).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    assert_eq!(approved.body["state"], "active");
    assert_problem(&api.call("POST", &approve, &owner_t, None, None).await, 409, "conflict");
    assert_eq!(control_status(&compliance, &tenant).await, "excepted");

    // Auditors see every exception.
    let listed = api.call("GET", "/v1/exceptions", &auditor_t, None, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", listed.text);
    let mine = items.iter().find(|e| e["id"] == id.as_str()).unwrap();
    assert_eq!((mine["state"].as_str(), mine["scope"]["resource_pattern"].as_str()), (Some("active"), Some("break-*")));

    // Revoking brings the failure back at once.
    let revoked = api.call("POST", &format!("/v1/exceptions/{id}/revoke"), &owner_t, None, None).await;
    assert_eq!((revoked.status, revoked.body["state"].as_str()), (200, Some("revoked")), "{}", revoked.text);
    assert_eq!(control_status(&compliance, &tenant).await, "failing");
    assert_problem(
        &api.call("POST", &format!("/v1/exceptions/{id}/revoke"), &member_t, None, None).await,
        403,
        "forbidden",
    );

    // Every mutation is in the audit log.
    let events = api.call("GET", "/v1/audit-events?limit=100", &owner_t, None, None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["exception.request", "exception.approve", "exception.revoke"] {
        assert!(actions.contains(&action), "{action} is not audited: {actions:?}");
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_exception_flow() {
    exception_flow(false).await;
}

#[tokio::test]
async fn aws_exception_flow_on_moto() {
    exception_flow(true).await;
}

// ---- Custom checks. ----

fn rule(id: &str, pass: &str) -> Value {
    json!({
        "id": id,
        "title": "S3 buckets must have versioning enabled",
        "description": "Versioning lets us recover overwritten objects.",
        "severity": "medium",
        "evidence_kind": "aws.s3.buckets",
        "resources": "evidence.buckets",
        "resource_id": "resource.name",
        "pass": pass,
        "fail_reason": "Bucket {id} does not have versioning enabled.",
        "controls": [CONTROL],
    })
}

#[tokio::test]
async fn custom_checks_are_validated_created_listed_updated_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let admin_t = token(&api.add_user(&owner_t, "admin@acme.test", Role::Admin).await);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let auditor_t = token(&api.add_user(&owner_t, "auditor@acme.test", Role::Auditor).await);
    const ID: &str = "custom.s3.versioning";
    let good = rule(ID, "resource.versioning == 'enabled'");

    // Validation names the expression at fault.
    let bad =
        api.call("POST", "/v1/custom-checks/validate", &admin_t, Some(rule(ID, "resource.versioning ==")), None).await;
    assert_problem(&bad, 400, "invalid-request");
    assert!(bad.body["detail"].as_str().unwrap().contains("`pass`"), "{}", bad.text);
    let mut unknown_control = good.clone();
    unknown_control["controls"] = json!(["KC-ZZZ-99"]);
    let refused = api.call("POST", "/v1/custom-checks/validate", &admin_t, Some(unknown_control), None).await;
    assert_problem(&refused, 400, "invalid-request");
    let ok = api.call("POST", "/v1/custom-checks/validate", &admin_t, Some(good.clone()), None).await;
    assert_eq!((ok.status, &ok.body), (200, &json!({"valid": true})), "{}", ok.text);
    assert_problem(
        &api.call("POST", "/v1/custom-checks/validate", &member_t, Some(good.clone()), None).await,
        403,
        "forbidden",
    );

    // Create (idempotently), then a second create of the same id conflicts.
    let created = api.call("POST", "/v1/custom-checks", &admin_t, Some(good.clone()), Some("cc-1")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!((created.body["id"].as_str(), created.body["version"].as_u64()), (Some(ID), Some(1)));
    let replay = api.call("POST", "/v1/custom-checks", &admin_t, Some(good.clone()), Some("cc-1")).await;
    assert_eq!(replay.status, 201, "{}", replay.text);
    assert_problem(&api.call("POST", "/v1/custom-checks", &owner_t, Some(good.clone()), None).await, 409, "conflict");
    let compile_error = api.call("POST", "/v1/custom-checks", &admin_t, Some(rule("custom.x", "nope(")), None).await;
    assert_problem(&compile_error, 400, "invalid-request");

    // Everyone who reads controls sees the catalog and the custom checks.
    let custom = api.call("GET", "/v1/custom-checks", &auditor_t, None, None).await;
    assert_eq!(custom.status, 200, "{}", custom.text);
    assert_eq!(custom.body["items"].as_array().unwrap().len(), 1);
    let checks = api.call("GET", "/v1/checks", &auditor_t, None, None).await;
    assert_eq!(checks.status, 200, "{}", checks.text);
    let items = checks.body["items"].as_array().unwrap();
    let built_in = items.iter().find(|c| c["id"] == MFA).expect("the built-in MFA check");
    assert_eq!(built_in["custom"], false);
    assert!(built_in["controls"].as_array().unwrap().contains(&json!(CONTROL)));
    assert!(built_in["remediation"]["steps"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(items.iter().any(|c| c["id"] == ID && c["custom"] == true));
    let one = api.call("GET", &format!("/v1/checks/{MFA}"), &auditor_t, None, None).await;
    assert_eq!((one.status, one.body["id"].as_str()), (200, Some(MFA)), "{}", one.text);
    let one = api.call("GET", &format!("/v1/checks/{ID}"), &member_t, None, None).await;
    assert_eq!((one.status, one.body["custom"].as_bool()), (200, Some(true)), "{}", one.text);
    assert_problem(&api.call("GET", "/v1/checks/aws.nope", &member_t, None, None).await, 404, "not-found");

    // Update: a new version; a rule that does not compile, or another id, changes nothing.
    let mut changed = good.clone();
    changed["title"] = json!("Versioning on every bucket");
    let path = format!("/v1/custom-checks/{ID}");
    let updated = api.call("PUT", &path, &admin_t, Some(changed), None).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        (updated.body["version"].as_u64(), updated.body["title"].as_str()),
        (Some(2), Some("Versioning on every bucket"))
    );
    assert_problem(&api.call("PUT", &path, &admin_t, Some(rule(ID, "resource.(")), None).await, 400, "invalid-request");
    assert_problem(
        &api.call("PUT", &path, &admin_t, Some(rule("custom.other", "true")), None).await,
        400,
        "invalid-request",
    );
    assert_problem(&api.call("PUT", &path, &member_t, Some(good.clone()), None).await, 403, "forbidden");
    let unknown =
        api.call("PUT", "/v1/custom-checks/custom.none", &admin_t, Some(rule("custom.none", "true")), None).await;
    assert_problem(&unknown, 404, "not-found");

    // Delete.
    assert_problem(&api.call("DELETE", &path, &member_t, None, None).await, 403, "forbidden");
    let deleted = api.call("DELETE", &path, &admin_t, None, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_problem(&api.call("DELETE", &path, &admin_t, None, None).await, 404, "not-found");
    assert_problem(&api.call("GET", &format!("/v1/checks/{ID}"), &admin_t, None, None).await, 404, "not-found");

    let events = api.call("GET", "/v1/audit-events?limit=100", &owner_t, None, None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["custom_check.create", "custom_check.update", "custom_check.delete"] {
        assert!(actions.contains(&action), "{action} is not audited: {actions:?}");
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}
