//! End-to-end tests of auditor exports on the local platform (embedded and moto): upload a file
//! linked to a control, record check results, ask for a package, let the background worker build
//! it, download it through the presigned URL and verify it offline with nothing but its bytes;
//! the same state exported twice gives the same package; one flipped byte is named.

use chrono::{Duration, Utc};
use kushim_checks::{CheckResult, Status};
use kushim_compliance::Compliance;
use kushim_domain::{Role, TenantId};
use kushim_evidence::package::{self, PackageProblemKind};
use serde_json::{Value, json};

mod common;

use common::{Api, assert_problem, start, token};

/// Uploads `bytes` as manual evidence for `control` and returns its digest.
async fn upload(api: &Api, t: &str, bytes: &[u8], control: &str) -> String {
    let digest = kushim_domain::sha256(bytes).to_hex();
    let declare = json!({"sha256": digest, "size": bytes.len(), "media_type": "text/plain"});
    let up = api.call("POST", "/v1/evidence/uploads", t, Some(declare), None).await;
    assert_eq!(up.status, 201, "{}", up.text);
    let mut req = api.http.put(up.body["url"].as_str().unwrap()).body(bytes.to_vec());
    for (name, value) in up.body["headers"].as_object().unwrap() {
        req = req.header(name.as_str(), value.as_str().unwrap());
    }
    assert_eq!(req.send().await.unwrap().status().as_u16(), 200);
    let finalize = format!("/v1/evidence/uploads/{}/finalize", up.body["upload_id"].as_str().unwrap());
    let done = api.call("POST", &finalize, t, Some(json!({"controls": [control]})), None).await;
    assert_eq!(done.status, 201, "{}", done.text);
    digest
}

/// Waits for the background build; returns the export once it is no longer queued.
async fn wait_ready(api: &Api, t: &str, id: &str) -> Value {
    for _ in 0..300 {
        let r = api.call("GET", &format!("/v1/exports/{id}"), t, None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        if r.body["status"] != "queued" {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("export {id} was not built within 30 s");
}

async fn download(api: &Api, t: &str, id: &str) -> Vec<u8> {
    let dl = api.call("GET", &format!("/v1/exports/{id}/download"), t, None, None).await;
    assert_eq!(dl.status, 200, "{}", dl.text);
    let bytes = api.http.get(dl.body["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap().to_vec();
    assert_eq!(kushim_domain::sha256(&bytes).to_hex(), dl.body["sha256"].as_str().unwrap());
    assert_eq!(bytes.len() as u64, dl.body["size"].as_u64().unwrap());
    bytes
}

async fn exports_flow(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let auditor_t = token(&api.add_user(&owner_t, "auditor@acme.test", Role::Auditor).await);
    let other_t = token(&api.signup("Other", "owner@other.test").await);

    // GIVEN a manual file linked to a control and one day of check results.
    let policy = b"Access review, Q4: every account reviewed.\n";
    let digest = upload(&api, &member_t, policy, "KC-IAM-01").await;
    let tenant = TenantId::new(owner["tenant_id"].as_str().unwrap()).unwrap();
    let compliance = Compliance::new(platform.backends.table().unwrap());
    let results = [CheckResult {
        check_id: "aws.iam.user_mfa_console".into(),
        resource_id: "arn:aws:iam::111122223333:user/alice".into(),
        status: Status::Fail,
        reason: "alice signs in to the console without MFA.".into(),
    }];
    compliance.record_results(&tenant, "run-1", &results, Utc::now()).await.unwrap();

    // Who may ask, and what is refused.
    let today = Utc::now().date_naive();
    let window =
        json!({"framework": "soc2", "from": (today - Duration::days(30)).to_string(), "to": today.to_string()});
    assert_problem(&api.call("POST", "/v1/exports", &member_t, Some(window.clone()), None).await, 403, "forbidden");
    let future = json!({"framework": "soc2", "from": today.to_string(), "to": (today + Duration::days(2)).to_string()});
    assert_problem(&api.call("POST", "/v1/exports", &auditor_t, Some(future), None).await, 400, "invalid-request");
    let unknown = json!({"framework": "pci", "from": today.to_string(), "to": today.to_string()});
    assert_problem(&api.call("POST", "/v1/exports", &auditor_t, Some(unknown), None).await, 400, "invalid-request");

    // WHEN an auditor asks for a SOC 2 package of the last 30 days.
    let created = api.call("POST", "/v1/exports", &auditor_t, Some(window.clone()), Some("exp-1")).await;
    assert_eq!(created.status, 202, "{}", created.text);
    assert_eq!(created.body["status"], "queued");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let replay = api.call("POST", "/v1/exports", &auditor_t, Some(window.clone()), Some("exp-1")).await;
    assert_eq!(replay.body["id"], id.as_str(), "the Idempotency-Key replays the first request");

    // THEN the worker builds it, and it verifies offline with nothing but the file.
    let ready = wait_ready(&api, &auditor_t, &id).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["evidence_count"], 1);
    assert!(ready["control_count"].as_u64().unwrap() > 10, "{ready}");
    let zip = download(&api, &auditor_t, &id).await;
    let report = package::verify_package(&zip);
    assert!(report.is_ok(), "{:?}", report.problems);
    let key = api.http.get(format!("{}/v1/evidence/public-key", api.base)).send().await.unwrap();
    let key: Value = key.json().await.unwrap();
    assert_eq!(report.public_key.as_deref(), key["public_key"].as_str(), "signed with the published key");
    let manifest = report.manifest.as_ref().unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    for expected in [
        "controls/status.csv",
        "controls/status.json",
        "controls/effectiveness.csv",
        "checks/results.csv",
        "evidence/index.csv",
        "oscal/assessment-results.json",
        "ledger/checkpoint.json",
        "ledger/segment.jsonl",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {paths:?}");
    }
    assert!(paths.contains(&package::evidence_file_path(&digest).as_str()));
    assert_eq!(manifest.about["framework"], "soc2");

    // Exported again: the new package ends at the same or a later signed head (the request's own
    // audit event joins the ledger, but it may land after the build started; byte-identical packages
    // from unchanged state are covered by kushim-exports' own tests), with the same evidence, and
    // verifies too.
    let again = api.call("POST", "/v1/exports", &owner_t, Some(window.clone()), None).await;
    assert_eq!(again.status, 202, "{}", again.text);
    let again_id = again.body["id"].as_str().unwrap().to_owned();
    let again = wait_ready(&api, &owner_t, &again_id).await;
    assert!(again["checkpoint_seq"].as_u64() >= ready["checkpoint_seq"].as_u64(), "{again}");
    assert_eq!(again["evidence_count"], ready["evidence_count"]);
    assert!(package::verify_package(&download(&api, &owner_t, &again_id).await).is_ok());

    // One flipped byte of the evidence is named.
    let mut files = std::collections::BTreeMap::new();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        files.insert(f.name().unwrap().into_owned(), data);
    }
    files.get_mut(&package::evidence_file_path(&digest)).unwrap()[0] ^= 0x20;
    let tampered = package::verify_package(&package::write_zip(&files).unwrap());
    let first = tampered.first_bad.expect("a flipped byte is detected");
    assert_eq!(first.kind, PackageProblemKind::FileAltered);
    assert_eq!(first.path.as_deref(), Some(package::evidence_file_path(&digest).as_str()));

    // Listed newest first; invisible to another tenant; each export is audited.
    let list = api.call("GET", "/v1/exports", &auditor_t, None, None).await;
    let ids: Vec<&str> = list.body["items"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 2, "{}", list.text);
    assert_eq!(ids[1], id.as_str());
    assert_problem(&api.call("GET", &format!("/v1/exports/{id}"), &other_t, None, None).await, 404, "not-found");
    assert_problem(
        &api.call("GET", &format!("/v1/exports/{id}/download"), &other_t, None, None).await,
        404,
        "not-found",
    );
    let events = api.call("GET", "/v1/audit-events", &owner_t, None, None).await;
    let creates = events.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "export.create").count();
    assert_eq!(creates, 2, "{}", events.text);
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_exports_flow() {
    exports_flow(false).await;
}

#[tokio::test]
async fn aws_exports_flow_on_moto() {
    exports_flow(true).await;
}
