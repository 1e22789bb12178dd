//! End-to-end: start the local platform in-process, on the embedded adapters and on the AWS
//! adapters against moto, and drive it over HTTP exactly as a user would.

use std::time::Duration;

use kushim::{BackendChoice, Platform, PlatformOptions};
use serde_json::Value;

async fn start(dir: &std::path::Path, backend: BackendChoice) -> Platform {
    Platform::start(PlatformOptions {
        port: 0,
        data_dir: dir.to_path_buf(),
        backend,
        schedules: false,
        cors_origins: Vec::new(),
        paused_consumers: Vec::new(),
    })
    .await
    .expect("platform starts")
}

async fn aws_backend() -> BackendChoice {
    let moto = kushim_testkit::moto().await;
    let sdk = kushim_testkit::sdk_config(moto).await;
    let prefix = format!("e2e{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    BackendChoice::Aws { prefix, sdk: Some(Box::new(sdk)) }
}

async fn get(url: &str) -> (u16, String, Value) {
    let resp = reqwest::get(url).await.expect("request");
    let status = resp.status().as_u16();
    let ct = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, ct, resp.json().await.unwrap_or(Value::Null))
}

async fn health_is_green(platform: &Platform) {
    let (status, ct, body) = get(&format!("{}/v1/health", platform.url)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ct, "application/json");
    assert_eq!(body["status"], "ok");
    for part in ["table", "blobs", "queue"] {
        assert_eq!(body["checks"][part]["status"], "ok", "{part}: {body}");
    }
}

async fn unknown_routes_get_problems(platform: &Platform) {
    let (status, ct, body) = get(&format!("{}/v1/nope", platform.url)).await;
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    assert_eq!(body["type"], "https://kushim.dev/problems/not-found");
    assert!(body["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    let resp = reqwest::Client::new().post(format!("{}/v1/health", platform.url)).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

/// A job sent to the jobs queue is consumed by `worker-jobs` through the SQS event-source
/// emulation and acknowledged (the queue drains).
async fn jobs_flow_through_the_queue(platform: &Platform) {
    let queue = platform.queue().expect("queue");
    let jobs = platform.names.by_logical_id["JobsQueue"].clone();
    let body = serde_json::json!({
        "job_id": "e2ejob", "tenant_id": "acme", "run_id": "r1", "idempotency_key": "r1/i1/s1",
        "kind": {"type": "collect", "integration_id": "i1", "slice": "s1"}
    });
    queue.send_all(&jobs, vec![kushim_adapters::queue::OutgoingMessage::new(body.to_string())]).await.unwrap();
    let table = platform.backends.table().unwrap();
    let key = kushim_adapters::keys::job_done(&"acme".parse().unwrap(), "r1/i1/s1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if table.get(&key).await.unwrap().is_some() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker never recorded the job");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let c = queue.counts(&jobs).await.unwrap();
        if c.visible + c.in_flight == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job was never acknowledged: {c:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn embedded_health_routes_and_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), BackendChoice::Embedded).await;
    health_is_green(&platform).await;
    unknown_routes_get_problems(&platform).await;
    jobs_flow_through_the_queue(&platform).await;
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn aws_health_routes_and_jobs_on_moto() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws_backend().await).await;
    health_is_green(&platform).await;
    unknown_routes_get_problems(&platform).await;
    jobs_flow_through_the_queue(&platform).await;
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), BackendChoice::Embedded).await;
    let first = platform.fire_schedule("DailySchedule").await.unwrap();
    assert_eq!(first["firings"], 1);
    // A message queued before the stop must still be there after it.
    let queue = platform.queue().unwrap();
    queue.send_all("JobsDeadLetterQueue", vec![kushim_adapters::queue::OutgoingMessage::new("kept")]).await.unwrap();
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;

    let platform = start(dir.path(), BackendChoice::Embedded).await;
    let second = platform.fire_schedule("DailySchedule").await.unwrap();
    assert_eq!(second["firings"], 2, "the first firing was lost across the restart");
    let kept = platform.queue().unwrap().receive("JobsDeadLetterQueue", 10, Duration::ZERO, None).await.unwrap();
    assert_eq!(kept.iter().map(|m| m.body.as_str()).collect::<Vec<_>>(), ["kept"]);
    health_is_green(&platform).await;
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn a_broken_backend_turns_health_red_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), BackendChoice::Embedded).await;
    // Break the blob store underneath the running platform.
    let blobs_dir = dir.path().join("blobs").join("tmp");
    std::fs::remove_dir_all(&blobs_dir).unwrap();
    std::fs::write(&blobs_dir, b"not a directory").unwrap();
    let (status, _, body) = get(&format!("{}/v1/health", platform.url)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["failing"], serde_json::json!(["blobs"]));
    assert_eq!(body["checks"]["table"]["status"], "ok");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[test]
fn every_template_route_has_a_handler_and_every_http_handler_a_route() {
    let template = kushim_template::bundled();
    for (f, r) in template.routes() {
        assert!(kushim::registry::BINARIES.contains(&f.binary.as_str()), "{} {} has no handler", r.method, r.path);
    }
    for binary in kushim::registry::BINARIES {
        assert!(template.function_by_binary(binary).is_some(), "{binary} is not in the template");
    }
}

/// The template's evidence bucket locks every version for its default retention (365 days):
/// a version put without explicit retention cannot be deleted, on either backend.
async fn default_retention_locks_evidence(platform: &Platform) {
    use kushim_adapters::blob::{LockMode, PutOptions};
    let blobs = platform.backends.blobs().unwrap();
    let bytes = bytes::Bytes::from_static(b"{\"evidence\":true}");
    let meta = blobs
        .put("tenants/acme/e1.json", bytes.clone(), PutOptions::for_bytes(&bytes, "application/json"))
        .await
        .unwrap();
    let head = blobs.head("tenants/acme/e1.json", Some(&meta.version_id)).await.unwrap();
    let retention = head.retention.expect("default retention applied");
    assert_eq!(retention.mode, LockMode::Compliance);
    let days = (retention.until - chrono::Utc::now()).num_days();
    assert!((364..=365).contains(&days), "retention of {days} days");
    let err = blobs.delete("tenants/acme/e1.json", Some(&meta.version_id)).await.unwrap_err();
    assert!(matches!(err, kushim_adapters::AdapterError::ObjectLocked { .. }), "{err:?}");
    assert_eq!(blobs.get("tenants/acme/e1.json", Some(&meta.version_id)).await.unwrap().bytes, bytes);
}

#[tokio::test]
async fn embedded_evidence_bucket_applies_default_retention() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), BackendChoice::Embedded).await;
    default_retention_locks_evidence(&platform).await;
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn aws_evidence_bucket_applies_default_retention_on_moto() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws_backend().await).await;
    default_retention_locks_evidence(&platform).await;
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}
