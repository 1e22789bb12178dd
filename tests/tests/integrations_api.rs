//! End-to-end tests of integrations, schedules and on-demand runs over HTTP on the local platform:
//! an owner connects an AWS account (getting the tenant's ExternalId), sets its schedule, starts a
//! run whose jobs land on the AWS connector's queue, is refused a second concurrent run, and reads
//! the run back.

use std::time::Duration;

use kushim_domain::{Job, JobKind, Role};
use serde_json::json;

mod common;

use common::{Api, assert_problem, start_paused, token};

const AWS_QUEUE: &str = "AwsJobsQueue";

async fn integration_flow(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    // The connector is paused so the run's jobs stay in its queue, where the test reads them.
    let platform = start_paused(dir.path(), aws, &["connector-aws"]).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let owner_t = token(&owner);
    let member_t = token(&api.add_user(&owner_t, "member@acme.test", Role::Member).await);
    let viewer_t = token(&api.add_user(&owner_t, "viewer@acme.test", Role::Viewer).await);

    // The platform created the AWS connector's queue and its dead-letter queue from the template.
    let queue = platform.queue().unwrap();
    let aws_queue = platform.names.by_logical_id.get(AWS_QUEUE).cloned().expect("AwsJobsQueue is provisioned");
    let dlq = platform.names.by_logical_id.get("AwsJobsDeadLetterQueue").cloned().expect("its DLQ is provisioned");
    assert_eq!(queue.counts(&aws_queue).await.unwrap().visible, 0);
    assert_eq!(queue.counts(&dlq).await.unwrap().visible, 0);

    // Connect an AWS account; the answer carries the tenant's ExternalId and a default schedule.
    let connect = json!({
        "kind": "aws",
        "display_name": "Production",
        "settings": {"accounts": [{"account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/KushimReadOnly"}]},
    });
    let created = api.call("POST", "/v1/integrations", &owner_t, Some(connect.clone()), Some("connect-1")).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["integration"]["id"].as_str().unwrap().to_owned();
    let external_id = created.body["external_id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["integration"]["schedule"]["cadence"], json!({"frequency": "daily", "time": "02:00"}));
    let replay = api.call("POST", "/v1/integrations", &owner_t, Some(connect), Some("connect-1")).await;
    assert_eq!(replay.body["integration"]["id"], created.body["integration"]["id"], "an Idempotency-Key replays");
    let ext = api.call("GET", "/v1/integrations/aws/external-id", &owner_t, None, None).await;
    assert_eq!(ext.body["external_id"], external_id.as_str());
    assert_problem(&api.call("GET", "/v1/integrations/aws/external-id", &member_t, None, None).await, 403, "forbidden");

    // Weekly on Monday at 06:30 in the tenant's zone (UTC here).
    let weekly = json!({"frequency": "weekly", "weekday": "monday", "time": "06:30"});
    let s = api.call("PUT", &format!("/v1/integrations/{id}/schedule"), &owner_t, Some(weekly.clone()), None).await;
    assert_eq!(s.status, 200, "{}", s.text);
    let got = api.call("GET", &format!("/v1/integrations/{id}/schedule"), &member_t, None, None).await;
    assert_eq!(got.body["cadence"], weekly);
    assert!(got.body["next_due"].as_str().unwrap().ends_with("06:30:00Z"));

    // A member starts a run: its jobs are on the AWS queue. The account's regions were never
    // discovered, so it is sliced over the regions every account has (4 global + 17 × 4 regional).
    let run = api.call("POST", "/v1/runs", &member_t, None, None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    let run_id = run.body["id"].as_str().unwrap().to_owned();
    assert_eq!(run.body["counters"]["total"], 72);
    let messages = queue.receive(&aws_queue, 10, Duration::from_secs(1), Some(Duration::from_secs(1))).await.unwrap();
    let jobs: Vec<Job> = messages.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(jobs.len(), 10);
    let prefix = format!("{run_id}/{id}/123456789012/");
    assert!(jobs.iter().all(|j| j.idempotency_key.starts_with(&prefix)), "{jobs:?}");
    assert!(
        jobs.iter()
            .all(|j| matches!(&j.kind, JobKind::Collect { integration_id, .. } if integration_id.as_str() == id))
    );

    // A second run of the same integration waits for the first; viewers may read but not start.
    let again = api.call("POST", "/v1/runs", &owner_t, Some(json!({"integration_ids": [id]})), None).await;
    assert_problem(&again, 409, "run-in-progress");
    assert_problem(&api.call("POST", "/v1/runs", &viewer_t, None, None).await, 403, "forbidden");
    let listed = api.call("GET", "/v1/runs", &viewer_t, None, None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["id"], run_id.as_str());
    let one = api.call("GET", &format!("/v1/runs/{run_id}"), &viewer_t, None, None).await;
    assert_eq!((one.body["status"].as_str(), one.body["trigger"].as_str()), (Some("running"), Some("manual")));

    // Pause, then delete: the integration is gone, and a run has nothing left to collect.
    let paused = api.call("POST", &format!("/v1/integrations/{id}/pause"), &owner_t, None, None).await;
    assert_eq!(paused.body["health"]["state"], "paused");
    assert_eq!(api.call("DELETE", &format!("/v1/integrations/{id}"), &owner_t, None, None).await.status, 204);
    assert_problem(&api.call("GET", &format!("/v1/integrations/{id}"), &owner_t, None, None).await, 404, "not-found");
    assert_problem(&api.call("POST", "/v1/runs", &owner_t, None, None).await, 409, "conflict");

    // Every change is in the audit log.
    let audit = api.call("GET", "/v1/audit-events?limit=100", &owner_t, None, None).await;
    let actions: Vec<&str> =
        audit.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in
        ["integration.connect", "integration.schedule", "run.start", "integration.pause", "integration.delete"]
    {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_connect_schedule_and_run() {
    integration_flow(false).await;
}

#[tokio::test]
async fn aws_connect_schedule_and_run_on_moto() {
    integration_flow(true).await;
}
