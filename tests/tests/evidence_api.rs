//! End-to-end tests of evidence over HTTP on the local platform: a manual upload for real through
//! the presigned URL into the staging bucket (request, PUT, finalize), listing, reading and
//! downloading it, metadata edits with optimistic locking, expiry and what it does to the linked
//! control, verification and checkpoints, the public key, the retention policy, and uploads that
//! must be refused.

use kushim_domain::{Role, TenantId};
use serde_json::{Value, json};

mod common;

use common::{Api, Reply, assert_problem, start, token};

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

/// A PATCH of evidence metadata, with `If-Match` when given; returns the reply and its `ETag`.
async fn patch(api: &Api, digest: &str, token: &str, body: Value, if_match: Option<&str>) -> (Reply, Option<String>) {
    let mut req = api
        .http
        .patch(format!("{}/v1/evidence/{digest}", api.base))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(tag) = if_match {
        req = req.header("if-match", tag);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (content_type, etag) = (header("content-type").unwrap_or_default(), header("etag"));
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (Reply { status, content_type, body, text }, etag)
}

/// The digests a listing returns.
async fn listed(api: &Api, token: &str, query: &str) -> Vec<String> {
    let list = api.call("GET", &format!("/v1/evidence{query}"), token, None, None).await;
    assert_eq!(list.status, 200, "{}", list.text);
    list.body["items"].as_array().unwrap().iter().filter_map(|e| e["digest"].as_str().map(str::to_owned)).collect()
}

/// A control's status and manual evidence state, as the controls API reports them.
async fn control(api: &Api, token: &str, id: &str) -> (String, String) {
    let r = api.call("GET", &format!("/v1/controls/{id}"), token, None, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let e = &r.body["evaluation"];
    (e["status"].as_str().unwrap().to_owned(), e["manual_evidence"].as_str().unwrap().to_owned())
}

/// A manual control: only uploaded evidence supplies it (365 days of freshness).
const MANUAL_CONTROL: &str = "KC-GOV-01";

async fn evidence_flow(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let auditor_t = token(&api.add_user(&owner_t, "auditor@acme.test", Role::Auditor).await);
    let admin_t = token(&api.add_user(&owner_t, "admin@acme.test", Role::Admin).await);
    let viewer_t = token(&api.add_user(&owner_t, "viewer@acme.test", Role::Viewer).await);

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
    let links = json!({"controls": ["KC-IAM-01", MANUAL_CONTROL], "effective_from": "2026-07-01T00:00:00Z", "effective_to": "2026-09-30T00:00:00Z"});
    // Before anything is uploaded, the manual control has nothing.
    assert_eq!(control(&api, &auditor_t, MANUAL_CONTROL).await, ("not_started".into(), "missing".into()));
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
    assert_eq!(done.body["controls"], json!([MANUAL_CONTROL, "KC-IAM-01"]));
    assert_eq!(done.body["effective_from"], "2026-07-01T00:00:00Z");
    assert_eq!(done.body["title"], "Q3 review", "the title given at upload is stored");
    assert_eq!((done.body["version"].as_u64(), done.body["expired"].as_bool()), (Some(1), Some(false)));
    // Stored in the locked evidence store; the staged object is gone from the staging bucket.
    let tenant = TenantId::new(owner["tenant_id"].as_str().unwrap()).unwrap();
    let staged = format!("tenants/{tenant}/uploads/{upload_id}");
    let (blobs, staging) = (platform.backends.blobs().unwrap(), platform.backends.staging().unwrap());
    assert!(staging.head(&staged, None).await.is_err(), "the staged upload is deleted after finalize");
    assert!(blobs.head(&staged, None).await.is_err(), "nothing is staged in the locked evidence bucket");
    assert!(blobs.head(&format!("tenants/{tenant}/evidence/{digest}"), None).await.is_ok());
    // The uploaded evidence supplies the manual control.
    assert_eq!(control(&api, &auditor_t, MANUAL_CONTROL).await, ("passing".into(), "fresh".into()));
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
    assert_eq!(one.body["controls"], json!([MANUAL_CONTROL, "KC-IAM-01"]));
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
    // The local gateway refuses them at the PUT already; S3 would too (the URL signs the declared
    // checksum), but moto does not verify checksums and accepts them. Either way finalize must
    // refuse them...
    let put = put_upload(&api, &up2.body, &other).await;
    let expected_put = if aws { 200 } else { 400 };
    assert_eq!(put, expected_put, "PUT of undeclared bytes on {}", if aws { "moto" } else { "the local gateway" });
    // ...and to be sure they are there, put them in place behind its back, as a misbehaving store would.
    let staged = format!("tenants/{tenant}/uploads/{id2}");
    staging
        .put(&staged, other.clone().into(), kushim_adapters::blob::PutOptions::for_bytes(&other, "text/csv"))
        .await
        .unwrap();
    let refused = api
        .call("POST", &format!("/v1/evidence/uploads/{id2}/finalize"), &owner_t, Some(json!({"controls": []})), None)
        .await;
    assert_problem(&refused, 422, "upload-mismatch");
    assert!(staging.head(&staged, None).await.is_err(), "the refused upload is deleted");
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

    // Metadata edits: members and up, with the version read; content never changes.
    let one = api.http.get(format!("{}/v1/evidence/{digest}", api.base)).bearer_auth(&auditor_t).send().await.unwrap();
    assert_eq!(one.headers()["etag"], "\"1\"");
    let edit = json!({"title": "Q3 access review", "description": "Signed off by the CISO."});
    for forbidden in [&auditor_t, &viewer_t] {
        assert_problem(&patch(&api, &digest, forbidden, edit.clone(), Some("\"1\"")).await.0, 403, "forbidden");
    }
    let (missing_version, _) = patch(&api, &digest, &member_t, edit.clone(), None).await;
    assert_problem(&missing_version, 428, "precondition-required");
    let (bad_control, _) =
        patch(&api, &digest, &member_t, json!({"controls": ["KC-NOPE-99"], "version": 1}), None).await;
    assert_problem(&bad_control, 400, "invalid-request");
    let (content, _) = patch(&api, &digest, &member_t, json!({"media_type": "text/html", "version": 1}), None).await;
    assert_problem(&content, 400, "invalid-request");
    let (edited, tag) = patch(&api, &digest, &member_t, edit.clone(), Some("\"1\"")).await;
    assert_eq!(edited.status, 200, "{}", edited.text);
    assert_eq!(tag.as_deref(), Some("\"2\""));
    assert_eq!((edited.body["title"].as_str(), edited.body["version"].as_u64()), (Some("Q3 access review"), Some(2)));
    assert_eq!(edited.body["description"], "Signed off by the CISO.");
    assert_eq!(
        (edited.body["digest"].as_str(), edited.body["size"].as_u64()),
        (Some(digest.as_str()), Some(bytes.len() as u64))
    );
    assert!(edited.body["updated_at"].is_string());
    // A second edit of version 1 is stale: 412 with If-Match, 409 with a version in the body.
    let (stale, _) = patch(&api, &digest, &admin_t, json!({"title": "late"}), Some("\"1\"")).await;
    assert_problem(&stale, 412, "precondition-failed");
    let (stale, _) = patch(&api, &digest, &admin_t, json!({"title": "late", "version": 1}), None).await;
    assert_problem(&stale, 409, "conflict");

    // Expiry: evidence past valid_until is no longer current, and its manual control needs evidence.
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let (expired, _) = patch(&api, &digest, &admin_t, json!({"valid_until": past, "version": 2}), None).await;
    assert_eq!(expired.status, 200, "{}", expired.text);
    assert_eq!(expired.body["expired"], true);
    assert!(listed(&api, &auditor_t, "").await.is_empty(), "expired evidence is not current");
    assert_eq!(listed(&api, &auditor_t, "?status=expired").await, std::slice::from_ref(&digest));
    assert_eq!(listed(&api, &auditor_t, "?status=all").await, std::slice::from_ref(&digest));
    assert_problem(&api.call("GET", "/v1/evidence?status=stale", &auditor_t, None, None).await, 400, "invalid-request");
    let one = api.call("GET", &format!("/v1/evidence/{digest}"), &auditor_t, None, None).await;
    assert_eq!((one.body["expired"].as_bool(), one.body["version"].as_u64()), (Some(true), Some(3)));
    assert_eq!(control(&api, &auditor_t, MANUAL_CONTROL).await, ("needs_evidence".into(), "stale".into()));
    // Still downloadable, and everything (edits included) still verifies.
    let dl = api.call("GET", &format!("/v1/evidence/{digest}/download"), &auditor_t, None, None).await;
    let fetched = api.http.get(dl.body["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Fresh again once valid_until is cleared.
    let (fresh, _) = patch(&api, &digest, &owner_t, json!({"valid_until": null}), Some("\"3\"")).await;
    assert_eq!((fresh.status, fresh.body["expired"].as_bool()), (200, Some(false)), "{}", fresh.text);
    assert_eq!(control(&api, &auditor_t, MANUAL_CONTROL).await, ("passing".into(), "fresh".into()));
    let verify = api.call("GET", "/v1/evidence/verify", &auditor_t, None, None).await;
    assert_eq!(verify.body["valid"], true, "{}", verify.text);
    // One entry for the evidence, three for its metadata edits, one anchoring each audit event.
    let audited = api.call("GET", "/v1/audit-events?limit=100", &owner_t, None, None).await;
    let audit_events = audited.body["items"].as_array().unwrap().len() as u64;
    assert!(audit_events > 5, "{}", audited.text);
    assert_eq!((verify.body["entries"].as_u64(), verify.body["evidence"].as_u64()), (Some(4 + audit_events), Some(1)));

    // Every mutation is audited.
    let events = api.call("GET", "/v1/audit-events", &owner_t, None, None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in [
        "evidence.retention.update",
        "evidence.upload.create",
        "evidence.upload.finalize",
        "evidence.checkpoint",
        "evidence.update",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
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
