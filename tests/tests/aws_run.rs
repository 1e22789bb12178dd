//! The "done when" for daily runs, end to end on `kushim up --aws` against moto: a demo
//! account seeded with known findings, connected through the API (ExternalId, permissions doctor),
//! a run started through the API and worked by the connector through the AWS jobs queue, then the
//! failing controls read back with the evidence behind them; and the dead-letter listing.

use std::time::Duration;

use serde_json::{Value, json};

mod common;

use common::{Api, start, token};

/// A moto account of this test's own, and credentials acting in it.
async fn fresh_account() -> (String, aws_config::SdkConfig) {
    let base = kushim_testkit::sdk_config(kushim_testkit::moto().await).await;
    let account = kushim_aws::seed::fresh_account_id();
    let sdk = kushim_aws::seed::emulator_account_config(&base, &account).await;
    (account, sdk)
}

/// Waits until every job but `pending` has finished; returns the run.
async fn wait_for_jobs(api: &Api, t: &str, id: &str, pending: u64) -> Value {
    let mut last = Value::Null;
    for _ in 0..900 {
        let r = api.call("GET", &format!("/v1/runs/{id}"), t, None, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (finished, total) = (r.body["counters"]["finished"].as_u64(), r.body["counters"]["total"].as_u64());
        if r.body["status"] != "running" || finished.zip(total).is_some_and(|(f, t)| f + pending >= t) {
            return r.body;
        }
        last = r.body;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("run {id}: jobs still out after 180 s: {last}");
}

#[tokio::test]
async fn a_seeded_aws_account_connected_through_the_api_yields_failing_controls_with_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), true).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "owner@acme.test").await;
    let t = token(&owner);

    // GIVEN a customer account seeded with known findings.
    let (account, sdk) = fresh_account().await;
    let seeded = kushim_aws::seed::seed_demo_account(&sdk).await.unwrap();
    assert_eq!(seeded.account_id, account);

    // WHEN the owner connects it (the ExternalId goes in the role's trust policy) and tests it.
    let ext = api.call("GET", "/v1/integrations/aws/external-id", &t, None, None).await;
    assert_eq!(ext.status, 200, "{}", ext.text);
    let regions = [seeded.primary_region.clone(), seeded.secondary_region.clone()];
    let connect = json!({
        "kind": "aws",
        "display_name": "Demo account",
        "settings": {"accounts": [{"account_id": account, "role_arn": seeded.role_arn}], "regions": regions},
    });
    let created = api.call("POST", "/v1/integrations", &t, Some(connect), None).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(!created.text.contains("secret_access_key"), "no credential in the response");
    let id = created.body["integration"]["id"].as_str().unwrap().to_owned();
    let doctor = api.call("POST", &format!("/v1/integrations/{id}/test"), &t, None, None).await;
    assert_eq!(doctor.status, 200, "{}", doctor.text);
    assert_eq!(doctor.body["missing_permissions"], json!([]), "{}", doctor.text);
    assert!(doctor.body["checked"].as_array().unwrap().len() > 20, "{}", doctor.text);

    // AND starts a run.
    let run = api.call("POST", "/v1/runs", &t, Some(json!({})), None).await;
    assert_eq!(run.status, 202, "{}", run.text);
    let run_id = run.body["id"].as_str().unwrap().to_owned();
    let busy = api.call("POST", "/v1/runs", &t, Some(json!({})), None).await;
    assert_eq!(busy.status, 409, "one run at a time per integration: {}", busy.text);

    // THEN the connector works every job through the queue. moto answers AWS Config's rule
    // compliance with a 500, so the two `config` jobs (one per region) keep failing transiently
    // and back off (toward the DLQ); every other job finishes, and nothing errors.
    let done = wait_for_jobs(&api, &t, &run_id, 2).await;
    assert_eq!(done["counters"]["total"], 12, "4 global + 2 regions x 4 regional families: {done}");
    assert_eq!(done["counters"]["errored"], 0, "{done}");
    let failed = done["counters"]["failed"].as_u64().unwrap();
    assert!(failed > 0, "the seeded account has findings: {done}");
    // The run's jobs say the same, slice by slice: only the config jobs are still out (pending, or
    // retrying with moto's error as their last one, depending on how far the SDK's retries got).
    let jobs = api.call("GET", &format!("/v1/runs/{run_id}/jobs"), &t, None, None).await;
    assert_eq!(jobs.status, 200, "{}", jobs.text);
    let items = jobs.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 12, "{}", jobs.text);
    for job in items {
        let (slice, state) = (job["slice"].as_str().unwrap(), job["state"].as_str().unwrap());
        if slice.ends_with("/config") {
            assert!(["retrying", "pending", "collected"].contains(&state), "{job}");
        } else {
            assert_eq!(state, "collected", "{job}");
            assert!(job["counts"]["evidence"].as_u64().unwrap() > 0, "{job}");
        }
    }
    // A config job that already failed says so: how many attempts, and moto's error.
    for retrying in items.iter().filter(|j| j["state"] == "retrying") {
        assert!(retrying["attempts"].as_u64() >= Some(1) && retrying["note"].is_string(), "{retrying}");
    }

    // The user without MFA makes the MFA control fail, with the result naming the user.
    let failing = api.call("GET", "/v1/controls?status=failing", &t, None, None).await;
    assert_eq!(failing.status, 200, "{}", failing.text);
    let ids: Vec<String> =
        failing.body["items"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str().map(str::to_owned)).collect();
    assert!(!ids.is_empty(), "{}", failing.text);
    let mut mfa_failure = None;
    for control in &ids {
        let r = api.call("GET", &format!("/v1/controls/{control}"), &t, None, None).await;
        let results = r.body["results"].as_array().cloned().unwrap_or_default();
        let hit = results.into_iter().find(|i| i["check_id"] == "aws.iam.user_mfa_console" && i["status"] == "fail");
        if let Some(hit) = hit {
            mfa_failure = Some((control.clone(), hit));
        }
    }
    let (control, hit) = mfa_failure.expect("the console user without MFA fails aws.iam.user_mfa_console");
    assert!(
        hit["resource_id"]
            .as_str()
            .unwrap()
            .contains(&seeded.users.console_no_mfa.rsplit('/').next().unwrap().to_owned()),
        "{hit}"
    );

    // The evidence behind it is listed for that control, from the AWS connector, and downloadable.
    let evidence = api.call("GET", &format!("/v1/evidence?control={control}"), &t, None, None).await;
    assert_eq!(evidence.status, 200, "{}", evidence.text);
    let items = evidence.body["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{}", evidence.text);
    assert!(items.iter().all(|e| e["source"]["connector"] == "aws"), "{}", evidence.text);
    let verify = api.call("GET", "/v1/evidence/verify", &t, None, None).await;
    assert_eq!(verify.body["valid"], true, "{}", verify.text);

    // Integration health has a last success and is at worst degraded (by the config jobs that
    // keep failing on moto, whose error it names), never failing; nothing is dead yet.
    let integration = api.call("GET", &format!("/v1/integrations/{id}"), &t, None, None).await;
    let health = &integration.body["health"];
    assert!(["healthy", "degraded"].contains(&health["state"].as_str().unwrap()), "{}", integration.text);
    assert!(health["last_success_at"].is_string(), "{}", integration.text);
    if health["state"] == "degraded" {
        assert!(health["last_error"].as_str().unwrap().starts_with("config:"), "{}", integration.text);
    } else {
        assert_eq!(health["consecutive_failures"], 0, "{}", integration.text);
    }
    let dead = api.call("GET", "/v1/dead-letters", &t, None, None).await;
    assert_eq!(dead.status, 200, "{}", dead.text);
    assert_eq!(dead.body["items"], json!([]));

    // The public bucket fails its policy check; the customer then deletes it.
    let public_check = "aws.s3.bucket_policy_not_public";
    let public_control = kushim_checks::find_check(public_check).unwrap().def().controls[0];
    let public_results = || async {
        let r = api.call("GET", &format!("/v1/controls/{public_control}"), &t, None, None).await;
        let results = r.body["results"].as_array().cloned().unwrap_or_default();
        results.into_iter().filter(|i| i["check_id"] == public_check).collect::<Vec<Value>>()
    };
    let before = public_results().await;
    assert!(
        before
            .iter()
            .any(|i| i["resource_id"].as_str().unwrap().contains(&seeded.buckets.public) && i["status"] == "fail"),
        "{before:?}"
    );
    let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
        .region(aws_sdk_s3::config::Region::new(seeded.primary_region.clone()))
        .force_path_style(true)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(s3_config);
    s3.delete_bucket_policy().bucket(&seeded.buckets.public).send().await.unwrap();
    s3.delete_bucket().bucket(&seeded.buckets.public).send().await.unwrap();

    // The same happens on schedule: the planner's pass at the schedule's next due time (what the
    // template's schedule invokes) starts a scheduled run, and the connector works it.
    let schedule = api.call("GET", &format!("/v1/integrations/{id}/schedule"), &t, None, None).await;
    let next_due: chrono::DateTime<chrono::Utc> = schedule.body["next_due"].as_str().unwrap().parse().unwrap();
    let queue = platform.names.by_logical_id["AwsJobsQueue"].clone();
    let queues = kushim_integrations::JobQueues { aws: Some(queue) };
    let planner = kushim_integrations::Planner::new(
        platform.backends.table().unwrap(),
        platform.backends.queue().unwrap(),
        queues,
        std::sync::Arc::new(kushim_integrations::AwsSlicer::default()),
    );
    let report = planner.run_once(next_due + chrono::Duration::minutes(1)).await.unwrap();
    assert_eq!((report.due, report.runs_created, report.jobs_enqueued), (1, 1, 12), "{report:?}");
    let runs = api.call("GET", "/v1/runs", &t, None, None).await;
    let scheduled = runs.body["items"][0].clone();
    assert_eq!(scheduled["trigger"], "schedule", "{}", runs.text);
    let scheduled_id = scheduled["id"].as_str().unwrap().to_owned();
    assert_ne!(scheduled_id, run_id);
    let done = wait_for_jobs(&api, &t, &scheduled_id, 2).await;
    assert_eq!(done["counters"]["errored"], 0, "{done}");
    assert!(done["counters"]["failed"].as_u64().unwrap() > 0, "{done}");

    // The deleted bucket's failure is gone with it; the other buckets are still judged.
    let after = public_results().await;
    assert!(!after.iter().any(|i| i["resource_id"].as_str().unwrap().contains(&seeded.buckets.public)), "{after:?}");
    assert!(after.iter().any(|i| i["resource_id"].as_str().unwrap().contains(&seeded.buckets.kms)), "{after:?}");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}
