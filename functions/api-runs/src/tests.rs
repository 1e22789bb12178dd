//! Handler tests on the embedded adapters: requests are built as API Gateway and the authorizer
//! hand them over and go through the function's own dispatcher.

use std::collections::HashMap;
use std::sync::Arc;

use kushim_adapters::queue::Queue;
use kushim_adapters::queue::embedded::QueueConfig;
use kushim_api::{Principal, PrincipalKind};
use kushim_domain::{Grant, Job, Role, TenantId};
use kushim_integrations::model::{AwsAccount, AwsSettings};
use kushim_integrations::{IntegrationSettings, IntegrationStatus, IntegrationStore, JobCounts, NewIntegration};
use kushim_lambda::backends::EmbeddedSet;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use serde_json::{Value, json};

use super::*;

const QUEUE: &str = "AwsJobsQueue";

struct Env {
    _dir: tempfile::TempDir,
    set: EmbeddedSet,
    state: State,
    store: IntegrationStore,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let set = EmbeddedSet::open(dir.path()).unwrap();
    set.queue.create_queue(QueueConfig::new(QUEUE)).await.unwrap();
    let config = Config::from_lookup([("AWS_JOBS_QUEUE_URL".to_owned(), QUEUE.to_owned())]).unwrap();
    let state = State::new(&config, &set.backends()).unwrap();
    let store = IntegrationStore::new(set.table.clone(), set.secrets.clone());
    Env { _dir: dir, set, state, store }
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn who(role: Role) -> Principal {
    Principal {
        tenant_id: tenant(),
        id: format!("u-{role}"),
        kind: PrincipalKind::User,
        grant: Grant { role, scopes: None },
    }
}

fn request(
    route_key: &str,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    principal: &Principal,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> Request {
    let (method, template) = route_key.split_once(' ').unwrap();
    let mut path = template.to_owned();
    for (k, v) in params {
        path = path.replace(&format!("{{{k}}}"), v);
    }
    let mut req = Request::new(body.map_or(Body::Empty, |b| Body::Text(b.to_string())));
    *req.method_mut() = method.parse().unwrap();
    *req.uri_mut() = path.parse().unwrap();
    req.headers_mut().insert("content-type", "application/json".parse().unwrap());
    if let Some(k) = idempotency_key {
        req.headers_mut().insert("idempotency-key", k.parse().unwrap());
    }
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route_key.to_owned());
    ctx.request_id = Some("req-1".into());
    let mut auth = ApiGatewayRequestAuthorizer::default();
    auth.fields = principal.to_context();
    ctx.authorizer = Some(auth);
    let params: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let query: HashMap<String, String> = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    req.with_request_context(RequestContext::ApiGatewayV2(ctx))
        .with_path_parameters(params)
        .with_query_string_parameters(query)
}

async fn call(state: &State, req: Request) -> (u16, Value, Option<String>) {
    let resp = handle(state, req).await.unwrap();
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (resp.status().as_u16(), body, location)
}

async fn post_run(e: &Env, role: Role, body: Option<Value>) -> (u16, Value) {
    let (status, body, _) = call(&e.state, request("POST /v1/runs", &[], &[], &who(role), body, None)).await;
    (status, body)
}

async fn connect(e: &Env, account: &str, regions: &[&str]) -> IntegrationId {
    let settings = IntegrationSettings::Aws(AwsSettings {
        accounts: vec![AwsAccount {
            account_id: account.into(),
            role_arn: format!("arn:aws:iam::{account}:role/KushimReadOnly"),
        }],
        regions: None,
    });
    let new = NewIntegration { display_name: "AWS".into(), settings, credentials: None, cadence: None };
    let c = e.store.connect(&tenant(), new, Utc::now()).await.unwrap();
    if !regions.is_empty() {
        let regions: Vec<String> = regions.iter().map(|r| (*r).to_owned()).collect();
        e.store.set_enabled_regions(&tenant(), &c.integration.id, account, &regions, Utc::now()).await.unwrap();
    }
    c.integration.id
}

async fn drain(e: &Env) -> Vec<Job> {
    let mut out = Vec::new();
    loop {
        let batch = e.set.queue.receive(QUEUE, 10, std::time::Duration::ZERO, None).await.unwrap();
        if batch.is_empty() {
            return out;
        }
        for m in batch {
            out.push(serde_json::from_str(&m.body).unwrap());
            e.set.queue.delete(QUEUE, &m.receipt_handle).await.unwrap();
        }
    }
}

#[tokio::test]
async fn a_member_starts_a_run_its_jobs_are_queued_and_a_second_run_waits_for_it() {
    // GIVEN an AWS integration with two discovered regions (4 global + 2 × 4 regional slices)
    let e = env().await;
    let id = connect(&e, "123456789012", &["eu-west-1", "us-east-1"]).await;
    // WHEN a member starts a run
    let (status, run, location) =
        call(&e.state, request("POST /v1/runs", &[], &[], &who(Role::Member), None, None)).await;
    // THEN it is accepted with its 12 jobs queued, each with a deterministic idempotency key
    assert_eq!(status, 202, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    assert_eq!(location.as_deref(), Some(format!("/v1/runs/{run_id}").as_str()));
    assert_eq!((run["trigger"].as_str(), run["status"].as_str()), (Some("manual"), Some("running")));
    assert_eq!(run["counters"]["total"], 12);
    assert_eq!(run["integrations"], json!([id.as_str()]));
    let jobs = drain(&e).await;
    assert_eq!(jobs.len(), 12);
    assert!(jobs.iter().all(|j| j.idempotency_key.starts_with(&format!("{run_id}/{id}/123456789012/"))));
    assert!(jobs.iter().any(|j| j.idempotency_key.ends_with("/eu-west-1/guardduty")));

    // AND a second run of the same integration is refused while the first runs
    let (status, problem) = post_run(&e, Role::Admin, Some(json!({"integration_ids": [id.as_str()]}))).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "https://kushim.dev/problems/run-in-progress");

    // WHEN every job finishes (each delivered twice)
    let runs = Runs::new(e.set.table.clone());
    let rid = RunId::new(&run_id).unwrap();
    for job in jobs.iter().chain(jobs.iter()) {
        runs.job_finished(
            &tenant(),
            &rid,
            &job.idempotency_key,
            JobCounts { passed: 1, ..Default::default() },
            Utc::now(),
        )
        .await
        .unwrap();
    }
    // THEN the run reads completed with each job counted once, and a new run may start
    let (status, got, _) =
        call(&e.state, request("GET /v1/runs/{run_id}", &[("run_id", &run_id)], &[], &who(Role::Viewer), None, None))
            .await;
    assert_eq!(status, 200);
    assert_eq!(
        (got["status"].as_str(), got["counters"]["finished"].as_u64(), got["counters"]["passed"].as_u64()),
        (Some("completed"), Some(12), Some(12))
    );
    assert!(got["completed_at"].is_string());
    assert_eq!(post_run(&e, Role::Owner, None).await.0, 202);
}

#[tokio::test]
async fn a_runs_jobs_say_where_each_stands_and_why() {
    // GIVEN a run of 12 jobs: one collected, one failed for good, one skipped, one retrying.
    let e = env().await;
    connect(&e, "123456789012", &["eu-west-1", "us-east-1"]).await;
    let (_, run) = post_run(&e, Role::Member, None).await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    let mut jobs = drain(&e).await;
    jobs.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    let counts = JobCounts { passed: 3, failed: 1, evidence: 1, ..JobCounts::default() };
    let outcomes = [
        (JobOutcome::Collected, "collected"),
        (JobOutcome::Failed, "access_denied: not authorized to perform sts:AssumeRole"),
        (JobOutcome::Skipped, "the integration is paused"),
    ];
    for (job, (outcome, note)) in jobs.iter().zip(outcomes) {
        let marker = kushim_integrations::JobMarker::new(job, outcome, note, counts, Utc::now());
        e.set.table.put(marker.item(&tenant(), &job.idempotency_key).unwrap(), None).await.unwrap();
    }
    kushim_lambda::deadletter::record_failure(e.set.table.as_ref(), &jobs[3], "Throttling: Rate exceeded", 2)
        .await
        .unwrap();
    let get_jobs = |query: &'static [(&'static str, &'static str)]| {
        let req = request("GET /v1/runs/{run_id}/jobs", &[("run_id", &run_id)], query, &who(Role::Viewer), None, None);
        call(&e.state, req)
    };

    // WHEN a viewer lists the run's jobs
    let (status, body, _) = get_jobs(&[]).await;

    // THEN every planned slice is there, in key order, with its state and why.
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    let states: Vec<&str> = items.iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(states[..5], ["collected", "failed", "skipped", "retrying", "pending"]);
    assert_eq!(states.iter().filter(|s| **s == "pending").count(), 8);
    let slice = jobs[0].idempotency_key.splitn(3, '/').nth(2).unwrap();
    assert_eq!(items[0]["slice"], slice);
    assert_eq!(
        items[0]["counts"],
        json!({"passed": 3, "failed": 1, "inconclusive": 0, "not_applicable": 0, "evidence": 1})
    );
    assert!(items[1]["note"].as_str().unwrap().starts_with("access_denied"));
    assert_eq!(
        (items[3]["note"].as_str(), items[3]["attempts"].as_u64()),
        (Some("Throttling: Rate exceeded"), Some(2))
    );
    assert!(items[3]["last_failed_at"].is_string() && items[0]["finished_at"].is_string());

    // AND a filter keeps the states asked for; an unknown state is a 400.
    let (_, some, _) = get_jobs(&[("state", "failed,retrying")]).await;
    let kept: Vec<&str> = some["items"].as_array().unwrap().iter().map(|i| i["state"].as_str().unwrap()).collect();
    assert_eq!(kept, ["failed", "retrying"]);
    assert_eq!(get_jobs(&[("state", "lost")]).await.0, 400);

    // AND once the run timed out, what never finished reads unfinished.
    Runs::new(e.set.table.clone()).time_out_stale(Utc::now() + chrono::Duration::hours(3)).await.unwrap();
    let (_, after, _) = get_jobs(&[("state", "unfinished")]).await;
    assert_eq!(after["items"].as_array().unwrap().len(), 8);
    let req = request("GET /v1/runs/{run_id}/jobs", &[("run_id", "nope")], &[], &who(Role::Viewer), None, None);
    assert_eq!(call(&e.state, req).await.0, 404);
}

#[tokio::test]
async fn refusals_name_their_reason() {
    let e = env().await;
    // Nothing connected yet.
    let (status, problem) = post_run(&e, Role::Admin, None).await;
    assert_eq!((status, problem["type"].as_str()), (409, Some("https://kushim.dev/problems/conflict")));
    let id = connect(&e, "123456789012", &[]).await;
    // Viewers and auditors read runs but do not start them.
    assert_eq!(post_run(&e, Role::Viewer, None).await.0, 403);
    assert_eq!(post_run(&e, Role::Auditor, None).await.0, 403);
    // Unknown, malformed or paused integrations, unknown fields.
    assert_eq!(post_run(&e, Role::Admin, Some(json!({"integration_ids": ["nope"]}))).await.0, 400);
    assert_eq!(post_run(&e, Role::Admin, Some(json!({"integration_ids": ["Bad#Id"]}))).await.0, 400);
    assert_eq!(post_run(&e, Role::Admin, Some(json!({"integration_ids": [], }))).await.0, 400);
    assert_eq!(post_run(&e, Role::Admin, Some(json!({"integrations": [id.as_str()]}))).await.0, 400);
    e.store.set_status(&tenant(), &id, IntegrationStatus::Paused, Utc::now()).await.unwrap();
    let (status, problem) = post_run(&e, Role::Admin, Some(json!({"integration_ids": [id.as_str()]}))).await;
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("paused"));
    // With every integration paused, the default run has nothing to do.
    assert_eq!(post_run(&e, Role::Admin, None).await.0, 409);
    assert_eq!(e.set.queue.counts(QUEUE).await.unwrap().visible, 0, "nothing was enqueued");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_run_and_lists_page_newest_first() {
    let mut e = env().await;
    // One region-discovery job per account, so finishing one job completes a run.
    let one =
        kushim_integrations::AwsSlicer::new(Arc::new(|a: &str, _r: &[String]| vec![format!("{a}/global/regions")]));
    e.state = e.state.with_slicer(Arc::new(one));
    connect(&e, "123456789012", &[]).await;
    let first = call(&e.state, request("POST /v1/runs", &[], &[], &who(Role::Admin), None, Some("k-1"))).await;
    let again = call(&e.state, request("POST /v1/runs", &[], &[], &who(Role::Admin), None, Some("k-1"))).await;
    assert_eq!(first.0, 202);
    assert_eq!((again.0, &again.1["id"]), (202, &first.1["id"]));
    assert_eq!(drain(&e).await.len(), 1, "one region-discovery job, enqueued once");

    // Finish it, start two more (after each completes), then page through all three.
    let runs = Runs::new(e.set.table.clone());
    let mut ids = vec![first.1["id"].as_str().unwrap().to_owned()];
    for n in 0..3 {
        let rid = RunId::new(ids.last().unwrap()).unwrap();
        let key = format!("{rid}/x/{n}");
        runs.job_finished(&tenant(), &rid, &key, JobCounts::default(), Utc::now()).await.unwrap();
        if n < 2 {
            let (status, run) = post_run(&e, Role::Admin, None).await;
            assert_eq!(status, 202, "{run}");
            ids.push(run["id"].as_str().unwrap().to_owned());
        }
    }
    let (status, page1, _) =
        call(&e.state, request("GET /v1/runs", &[], &[("limit", "2")], &who(Role::Auditor), None, None)).await;
    assert_eq!(status, 200);
    let cursor = page1["next_cursor"].as_str().unwrap().to_owned();
    let (_, page2, _) = call(
        &e.state,
        request("GET /v1/runs", &[], &[("limit", "2"), ("cursor", &cursor)], &who(Role::Auditor), None, None),
    )
    .await;
    let listed: Vec<String> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
    let (status, _, _) =
        call(&e.state, request("GET /v1/runs", &[], &[("cursor", "forged")], &who(Role::Admin), None, None)).await;
    assert_eq!(status, 400);
    let (status, _, _) =
        call(&e.state, request("GET /v1/runs/{run_id}", &[("run_id", "missing")], &[], &who(Role::Admin), None, None))
            .await;
    assert_eq!(status, 404);
}

#[test]
fn every_route_has_a_documented_operation() {
    let doc = serde_json::to_value(openapi()).unwrap();
    for r in routes() {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        assert!(op.is_object(), "{} {} is not documented", r.method, r.path);
        assert_eq!(op[kushim_api::openapi::ACCESS_EXTENSION], kushim_api::openapi::access_label(r.access));
    }
}
