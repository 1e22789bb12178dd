//! End-to-end tests of evidence over HTTP on the local platform: a manual upload for real through
//! the presigned URL (request, PUT, finalize), listing, reading and downloading it, verification
//! and checkpoints, the public key, the retention policy, and uploads that must be refused.

use kushim_domain::{Role, TenantId};
use serde_json::{Value, json};

mod common;

use common::{Api, assert_problem, start, token};

// ---- Evidence. ----

fn sha256_hex(bytes: &[u8]) -> String {
    kushim_domain::sha256(bytes).to_hex()
}

/// PUTs `bytes` to a presigned upload with the headers it came with; returns the status.
async fn put_upload(api: &Api, upload: &Value, bytes: &[u8]) -> u16 {
    let mut req = api.http.put(upload["url"].as_str().unwrap()).body(bytes.to_vec());
    for (name, value) in upload["headers"].as_object().unwrap() {
        req = req.header(name.as_str(), value.as_str().unwrap());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    if status != 200 {
        eprintln!("PUT {} {:?} -> {status}: {}", upload["url"], upload["headers"], resp.text().await.unwrap());
    }
    status
}

async fn evidence_flow(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let auditor_t = token(&api.add_user(&owner_t, "auditor@acme.test", Role::Auditor).await);
    let admin_t = token(&api.add_user(&owner_t, "admin@acme.test", Role::Admin).await);

    // Retention: one year unless changed; only the owner may change it, within 90 days to 7 years.
    let r = api.call("GET", "/v1/evidence/retention", &auditor_t, None, None).await;
    assert_eq!(r.body, json!({"days": 365}), "{}", r.text);
    let r = api.call("PUT", "/v1/evidence/retention", &admin_t, Some(json!({"days": 400})), None).await;
    assert_problem(&r, 403, "forbidden");
    let r = api.call("PUT", "/v1/evidence/retention", &owner_t, Some(json!({"days": 89})), None).await;
    assert_problem(&r, 400, "invalid-request");
    let r = api.call("PUT", "/v1/evidence/retention", &owner_t, Some(json!({"days": 400})), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(api.call("GET", "/v1/evidence/retention", &member_t, None, None).await.body["days"], 400);

    // A manual upload: declare, PUT the bytes to the presigned URL, finalize.
    let bytes = b"Q3 access review: all 42 accounts reviewed and signed off.\n".to_vec();
    let digest = sha256_hex(&bytes);
    let declare = json!({"sha256": digest, "size": bytes.len(), "media_type": "text/plain", "title": "Q3 review"});
    let up = api.call("POST", "/v1/evidence/uploads", &member_t, Some(declare.clone()), Some("up-1")).await;
    assert_eq!(up.status, 201, "{}", up.text);
    assert_eq!(up.body["method"], "PUT");
    let again = api.call("POST", "/v1/evidence/uploads", &member_t, Some(declare.clone()), Some("up-1")).await;
    assert_eq!(again.body["upload_id"], up.body["upload_id"], "the Idempotency-Key replays the first upload");
    let auditor_up = api.call("POST", "/v1/evidence/uploads", &auditor_t, Some(declare.clone()), None).await;
    assert_problem(&auditor_up, 403, "forbidden");
    let upload_id = up.body["upload_id"].as_str().unwrap().to_owned();
    let finalize = format!("/v1/evidence/uploads/{upload_id}/finalize");
    let links = json!({"controls": ["KC-IAM-01"], "effective_from": "2026-07-01T00:00:00Z", "effective_to": "2026-09-30T00:00:00Z"});
    // Nothing uploaded yet: refused.
    let early = api.call("POST", &finalize, &member_t, Some(links.clone()), None).await;
    assert_problem(&early, 409, "conflict");
    assert_eq!(put_upload(&api, &up.body, &bytes).await, 200);
    let bad = api.call("POST", &finalize, &member_t, Some(json!({"controls": ["KC-NOPE-99"]})), None).await;
    assert_problem(&bad, 400, "invalid-request");
    let done = api.call("POST", &finalize, &member_t, Some(links.clone()), None).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(done.body["digest"], digest.as_str());
    assert_eq!(done.body["size"], bytes.len());
    assert_eq!(done.body["media_type"], "text/plain");
    assert_eq!(done.body["source"]["connector"], "manual");
    assert_eq!(done.body["controls"], json!(["KC-IAM-01"]));
    assert_eq!(done.body["effective_from"], "2026-07-01T00:00:00Z");
    // The upload is spent.
    let twice = api.call("POST", &finalize, &member_t, Some(links.clone()), None).await;
    assert_problem(&twice, 404, "not-found");

    // Listed, readable and downloadable (the same bytes) by an auditor.
    let list = api.call("GET", "/v1/evidence", &auditor_t, None, None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let digests: Vec<&str> =
        list.body["items"].as_array().unwrap().iter().filter_map(|e| e["digest"].as_str()).collect();
    assert_eq!(digests, [digest.as_str()]);
    let one = api.call("GET", &format!("/v1/evidence/{digest}"), &auditor_t, None, None).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["controls"], json!(["KC-IAM-01"]));
    let missing = api.call("GET", &format!("/v1/evidence/{}", sha256_hex(b"other")), &auditor_t, None, None).await;
    assert_problem(&missing, 404, "not-found");
    let dl = api.call("GET", &format!("/v1/evidence/{digest}/download"), &auditor_t, None, None).await;
    assert_eq!(dl.status, 200, "{}", dl.text);
    assert!(dl.body["expires_at"].is_string());
    let fetched = api.http.get(dl.body["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(fetched.status().as_u16(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // Bytes that differ from the declaration are refused at finalize, and the staged object dropped.
    let other = b"not what was declared".to_vec();
    let declare2 =
        json!({"sha256": sha256_hex(b"something else entirely"), "size": other.len(), "media_type": "text/csv"});
    let up2 = api.call("POST", "/v1/evidence/uploads", &owner_t, Some(declare2), None).await;
    assert_eq!(up2.status, 201, "{}", up2.text);
    let id2 = up2.body["upload_id"].as_str().unwrap();
    // The local gateway refuses them at the PUT already...
    if !aws {
        assert_ne!(put_upload(&api, &up2.body, &other).await, 200);
    }
    // ...so put them in place behind its back, as a misbehaving store would.
    let tenant = TenantId::new(owner["tenant_id"].as_str().unwrap()).unwrap();
    let blobs = platform.backends.blobs().unwrap();
    let staged = format!("tenants/{tenant}/uploads/{id2}");
    blobs
        .put(&staged, other.clone().into(), kushim_adapters::blob::PutOptions::for_bytes(&other, "text/csv"))
        .await
        .unwrap();
    let refused = api
        .call("POST", &format!("/v1/evidence/uploads/{id2}/finalize"), &owner_t, Some(json!({"controls": []})), None)
        .await;
    assert_problem(&refused, 422, "upload-mismatch");
    assert!(blobs.head(&staged, None).await.is_err(), "the refused upload is deleted");
    // Not allowed: too large, or an unknown media type.
    let huge = json!({"sha256": digest, "size": 25 * 1024 * 1024 + 1, "media_type": "application/pdf"});
    assert_problem(&api.call("POST", "/v1/evidence/uploads", &owner_t, Some(huge), None).await, 400, "invalid-request");
    let html = json!({"sha256": digest, "size": 10, "media_type": "text/html"});
    assert_problem(&api.call("POST", "/v1/evidence/uploads", &owner_t, Some(html), None).await, 400, "invalid-request");

    // Checkpoints and verification; the published key verifies the checkpoint.
    let cp = api.call("POST", "/v1/evidence/checkpoints", &member_t, None, None).await;
    assert_eq!(cp.status, 201, "{}", cp.text);
    let cps = api.call("GET", "/v1/evidence/checkpoints", &auditor_t, None, None).await;
    assert_eq!(cps.body["items"].as_array().unwrap().len(), 1, "{}", cps.text);
    assert_eq!(cps.body["items"][0]["signature"], cp.body["signature"]);
    let key = api.http.get(format!("{}/v1/evidence/public-key", api.base)).send().await.unwrap();
    assert_eq!(key.status().as_u16(), 200);
    let key: Value = key.json().await.unwrap();
    assert_eq!(key["public_key"], cp.body["public_key"]);
    let checkpoint: kushim_evidence::Checkpoint = serde_json::from_value(cp.body.clone()).unwrap();
    assert!(checkpoint.verify(key["public_key"].as_str().unwrap()));
    let verify = api.call("GET", "/v1/evidence/verify", &auditor_t, None, None).await;
    assert_eq!(verify.status, 200, "{}", verify.text);
    assert_eq!(verify.body["valid"], true, "{}", verify.text);
    assert_eq!(verify.body["evidence"], 1);
    assert_eq!(verify.body["checkpoints"], 1);
    assert!(verify.body.get("first_bad").is_none());

    // Every mutation is audited.
    let events = api.call("GET", "/v1/audit-events", &owner_t, None, None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in
        ["evidence.retention.update", "evidence.upload.create", "evidence.upload.finalize", "evidence.checkpoint"]
    {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_evidence_flow() {
    evidence_flow(false).await;
}

#[tokio::test]
async fn aws_evidence_flow_on_moto() {
    evidence_flow(true).await;
}
