//! Handler tests: each request is built as API Gateway (and the authorizer) would hand it over,
//! and goes through the function's own dispatcher on the embedded adapters.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use kushim_api::audit::{self, Filter};
use kushim_api::{Principal, PrincipalKind};
use kushim_domain::{Grant, Role, TenantId};
use kushim_integrations::{ConnectionReport, TestContext};
use kushim_lambda::backends::EmbeddedSet;
use lambda_http::RequestExt;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext};
use lambda_http::request::RequestContext;
use serde_json::json;

use super::*;

struct Env {
    _dir: tempfile::TempDir,
    set: EmbeddedSet,
    state: State,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let set = EmbeddedSet::open(dir.path()).unwrap();
    let state = State::new(&Config::from_lookup(Vec::<(String, String)>::new()).unwrap(), &set.backends()).unwrap();
    Env { _dir: dir, set, state }
}

fn who(role: Role) -> Principal {
    Principal {
        tenant_id: TenantId::new("acme").unwrap(),
        id: format!("u-{role}"),
        kind: PrincipalKind::User,
        grant: Grant { role, scopes: None },
    }
}

/// A request for `route_key` (`METHOD /path/{param}`) as the gateway and authorizer pass it on.
fn request(route_key: &str, params: &[(&str, &str)], principal: &Principal, body: Option<Value>) -> Request {
    let (method, template) = route_key.split_once(' ').unwrap();
    let mut path = template.to_owned();
    for (k, v) in params {
        path = path.replace(&format!("{{{k}}}"), v);
    }
    let mut req = Request::new(body.map_or(Body::Empty, |b| Body::Text(b.to_string())));
    *req.method_mut() = method.parse().unwrap();
    *req.uri_mut() = path.parse().unwrap();
    req.headers_mut().insert("content-type", "application/json".parse().unwrap());
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route_key.to_owned());
    ctx.request_id = Some("req-1".into());
    let mut auth = ApiGatewayRequestAuthorizer::default();
    auth.fields = principal.to_context();
    ctx.authorizer = Some(auth);
    let params: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    req.with_request_context(RequestContext::ApiGatewayV2(ctx)).with_path_parameters(params)
}

async fn call(state: &State, req: Request) -> (u16, Value) {
    let resp = handle(state, req).await.unwrap();
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

fn aws_body() -> Value {
    json!({
        "kind": "aws",
        "display_name": "Production AWS",
        "settings": {"accounts": [{"account_id": "123456789012", "role_arn": "arn:aws:iam::123456789012:role/KushimReadOnly"}]}
    })
}

async fn connect_aws(state: &State) -> String {
    let (status, body) = call(state, request("POST /v1/integrations", &[], &who(Role::Admin), Some(aws_body()))).await;
    assert_eq!(status, 201, "{body}");
    body["integration"]["id"].as_str().unwrap().to_owned()
}

fn problem_type(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default().trim_start_matches("https://kushim.dev/problems/")
}

async fn actions(e: &Env) -> Vec<String> {
    let tenant = TenantId::new("acme").unwrap();
    let (events, _) = audit::list(e.set.table.as_ref(), &tenant, &Filter::default(), 100, None).await.unwrap();
    events.into_iter().map(|e| e.event.action).collect()
}

#[tokio::test]
async fn an_admin_connects_aws_and_gets_the_external_id_members_only_read() {
    let e = env();
    // WHEN an admin connects an AWS account
    let (status, body) =
        call(&e.state, request("POST /v1/integrations", &[], &who(Role::Admin), Some(aws_body()))).await;
    // THEN it is created with the tenant's ExternalId, a healthy state and the default schedule
    assert_eq!(status, 201, "{body}");
    let external_id = body["external_id"].as_str().unwrap().to_owned();
    assert!(external_id.len() >= 32);
    let i = &body["integration"];
    assert_eq!((i["kind"].as_str(), i["status"].as_str()), (Some("aws"), Some("active")));
    assert_eq!(i["health"]["state"], "healthy");
    assert_eq!(i["schedule"]["cadence"], json!({"frequency": "daily", "time": "02:00"}));
    assert_eq!(i["schedule"]["time_zone"], "UTC");
    assert_eq!(i["settings"]["accounts"][0]["account_id"], "123456789012");
    assert_eq!(i["has_credentials"], false);
    // AND the ExternalId endpoint returns the same value to owners and admins, not to members
    let (status, got) =
        call(&e.state, request("GET /v1/integrations/aws/external-id", &[], &who(Role::Owner), None)).await;
    assert_eq!((status, got["external_id"].as_str()), (200, Some(external_id.as_str())));
    let (status, _) =
        call(&e.state, request("GET /v1/integrations/aws/external-id", &[], &who(Role::Member), None)).await;
    assert_eq!(status, 403);
    // AND members can list but not connect
    let (status, list) = call(&e.state, request("GET /v1/integrations", &[], &who(Role::Member), None)).await;
    assert_eq!((status, list["items"].as_array().unwrap().len()), (200, 1));
    let (status, body) =
        call(&e.state, request("POST /v1/integrations", &[], &who(Role::Member), Some(aws_body()))).await;
    assert_eq!((status, problem_type(&body)), (403, "forbidden"));
    assert_eq!(actions(&e).await, ["request.refused", "integration.connect"]);
}

#[tokio::test]
async fn bad_settings_and_misplaced_credentials_are_refused_with_problems() {
    let e = env();
    let admin = who(Role::Admin);
    let mut wrong_arn = aws_body();
    wrong_arn["settings"]["accounts"][0]["role_arn"] = json!("arn:aws:iam::999999999999:role/K");
    let mut with_creds = aws_body();
    with_creds["credentials"] = json!({"token": "abcdefghijklmnop"});
    let mut unknown = aws_body();
    unknown["settings"]["region"] = json!("eu-west-1");
    let mut bad_kind = aws_body();
    bad_kind["kind"] = json!("azure");
    for body in [wrong_arn, with_creds, unknown, bad_kind] {
        let (status, problem) = call(&e.state, request("POST /v1/integrations", &[], &admin, Some(body.clone()))).await;
        assert_eq!((status, problem_type(&problem)), (400, "invalid-request"), "{body} → {problem}");
    }
    let (status, list) = call(&e.state, request("GET /v1/integrations", &[], &admin, None)).await;
    assert_eq!((status, list["items"].as_array().unwrap().len()), (200, 0));
}

#[tokio::test]
async fn github_tokens_never_come_back_and_rotation_is_audited() {
    let e = env();
    let admin = who(Role::Admin);
    let token = "ghp_VerySecretTokenValue1234567890";
    let body = json!({"kind": "github", "display_name": "GitHub", "settings": {"organization": "acme"}, "credentials": {"token": token}});
    let (status, created) = call(&e.state, request("POST /v1/integrations", &[], &admin, Some(body))).await;
    assert_eq!(status, 201, "{created}");
    assert!(!created.to_string().contains(token));
    assert_eq!(created["integration"]["has_credentials"], true);
    assert!(created.get("external_id").is_none(), "only AWS integrations get the ExternalId");
    let id = created["integration"]["id"].as_str().unwrap().to_owned();
    let rotate = json!({"credentials": {"token": "ghp_NewSecretTokenValue0987654321"}, "display_name": "GitHub (org)"});
    let (status, updated) = call(
        &e.state,
        request("PATCH /v1/integrations/{integration_id}", &[("integration_id", &id)], &admin, Some(rotate)),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["display_name"], "GitHub (org)");
    assert!(!updated.to_string().contains("ghp_"));
    let (_, got) =
        call(&e.state, request("GET /v1/integrations/{integration_id}", &[("integration_id", &id)], &admin, None))
            .await;
    assert!(!got.to_string().contains("ghp_"));
    assert_eq!(actions(&e).await, ["integration.credentials.rotate", "integration.update", "integration.connect"]);
    // Nothing to change, or a schedule without schedules:manage (a narrowly scoped API key), is refused.
    let path = [("integration_id", id.as_str())];
    let (status, _) =
        call(&e.state, request("PATCH /v1/integrations/{integration_id}", &path, &admin, Some(json!({})))).await;
    assert_eq!(status, 400);
    let mut key = who(Role::Admin);
    key.kind = PrincipalKind::ApiKey;
    key.grant.scopes = Some(vec![Permission::IntegrationsManage, Permission::IntegrationsRead]);
    let change = json!({"schedule": {"frequency": "off"}});
    let (status, _) =
        call(&e.state, request("PATCH /v1/integrations/{integration_id}", &path, &key, Some(change))).await;
    assert_eq!(status, 403);
}

/// Every event published on the embedded bus, as (`detail-type`, detail).
fn capture_events(e: &Env) -> std::sync::Arc<Mutex<Vec<(String, Value)>>> {
    let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let pattern = kushim_adapters::bus::pattern::EventPattern::parse(json!({
        "source": ["kushim.findings", "kushim.integrations"]
    }))
    .unwrap();
    e.set.bus.subscribe(
        "test",
        pattern,
        std::sync::Arc::new(move |ev: kushim_adapters::bus::embedded::DeliveredEvent| {
            sink.lock().unwrap().push((ev.detail_type, ev.detail));
            Box::pin(async {})
        }),
    );
    seen
}

#[tokio::test]
async fn pause_resume_schedules_and_delete() {
    let e = env();
    let events = capture_events(&e);
    let admin = who(Role::Admin);
    let id = connect_aws(&e.state).await;
    let path = [("integration_id", id.as_str())];
    // Pause: the integration and its health read paused; resume brings it back.
    let (status, paused) =
        call(&e.state, request("POST /v1/integrations/{integration_id}/pause", &path, &admin, None)).await;
    assert_eq!(
        (status, paused["status"].as_str(), paused["health"]["state"].as_str()),
        (200, Some("paused"), Some("paused"))
    );
    let (_, resumed) =
        call(&e.state, request("POST /v1/integrations/{integration_id}/resume", &path, &admin, None)).await;
    assert_eq!((resumed["status"].as_str(), resumed["health"]["state"].as_str()), (Some("active"), Some("healthy")));
    // Both changes went out as health changes; resuming again changes nothing and says nothing.
    call(&e.state, request("POST /v1/integrations/{integration_id}/resume", &path, &admin, None)).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let changes: Vec<(String, String)> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, d)| k == "integration.health_changed" && d["integration_id"] == id.as_str())
        .map(|(_, d)| (d["from"].as_str().unwrap().to_owned(), d["to"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [("healthy", "paused"), ("paused", "healthy")];
    assert_eq!(changes, expected.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec());
    // Schedules: weekly works, day 29 of a month does not.
    let weekly = json!({"frequency": "weekly", "weekday": "monday", "time": "06:30"});
    let (status, s) =
        call(&e.state, request("PUT /v1/integrations/{integration_id}/schedule", &path, &admin, Some(weekly.clone())))
            .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["cadence"], weekly);
    let next = chrono::DateTime::parse_from_rfc3339(s["next_due"].as_str().unwrap()).unwrap();
    assert_eq!((next.format("%a %H:%M").to_string()), "Mon 06:30");
    let bad = json!({"frequency": "monthly", "day": 29, "time": "02:00"});
    let (status, _) =
        call(&e.state, request("PUT /v1/integrations/{integration_id}/schedule", &path, &admin, Some(bad))).await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &e.state,
        request("PUT /v1/integrations/{integration_id}/schedule", &path, &who(Role::Member), Some(weekly)),
    )
    .await;
    assert_eq!(status, 403);
    let (_, got) =
        call(&e.state, request("GET /v1/integrations/{integration_id}/schedule", &path, &who(Role::Member), None))
            .await;
    assert_eq!(got["cadence"]["frequency"], "weekly");
    // Delete: gone, with the results its collections produced (its failing finding resolves as
    // gone), and deleting again is a 404.
    let compliance = Compliance::new(e.set.table.clone());
    let tenant = TenantId::new("acme").unwrap();
    let failing = kushim_checks::CheckResult {
        check_id: "aws.iam.root_mfa".into(),
        resource_id: "123456789012".into(),
        status: kushim_checks::Status::Fail,
        reason: "The root user has no MFA device.".into(),
    };
    let observation = kushim_compliance::Observation {
        scope: format!("{id}/123456789012/global/iam"),
        checks: ["aws.iam.root_mfa".to_owned()].into(),
        partial: Default::default(),
        observed_at: Utc::now(),
    };
    compliance.record_observation(&tenant, "run-1", &observation, &[failing], Utc::now()).await.unwrap();
    assert_eq!(compliance.latest_results(&tenant, "KC-IAM-02").await.unwrap().len(), 1);
    let (status, _) = call(&e.state, request("DELETE /v1/integrations/{integration_id}", &path, &admin, None)).await;
    assert_eq!(status, 204);
    assert!(compliance.latest_results(&tenant, "KC-IAM-02").await.unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let resolved: Vec<Value> =
        events.lock().unwrap().iter().filter(|(k, _)| k == "finding.resolved").map(|(_, d)| d.clone()).collect();
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(
        (resolved[0]["check_id"].as_str(), resolved[0]["status"].as_str()),
        (Some("aws.iam.root_mfa"), Some("gone"))
    );
    for route in ["GET /v1/integrations/{integration_id}", "GET /v1/integrations/{integration_id}/schedule"] {
        let (status, _) = call(&e.state, request(route, &path, &admin, None)).await;
        assert_eq!(status, 404, "{route}");
    }
    let (status, _) = call(&e.state, request("DELETE /v1/integrations/{integration_id}", &path, &admin, None)).await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &e.state,
        request("GET /v1/integrations/{integration_id}", &[("integration_id", "Not#An-Id")], &admin, None),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        actions(&e).await[..6],
        [
            "request.refused",
            "integration.delete",
            "request.refused",
            "request.refused",
            "integration.schedule",
            "integration.resume"
        ]
    );
}

/// A tester that reports one missing permission and remembers what it was given.
#[derive(Default)]
struct FakeTester {
    seen_external_id: Mutex<Option<String>>,
}

#[async_trait]
impl ConnectionTester for FakeTester {
    async fn test(&self, _i: &Integration, context: &TestContext) -> Result<ConnectionReport, TestError> {
        *self.seen_external_id.lock().unwrap() = context.external_id.clone();
        Ok(ConnectionReport {
            ok: false,
            missing_permissions: vec!["iam:GenerateCredentialReport".into()],
            checked: vec!["iam:GenerateCredentialReport".into(), "s3:ListAllMyBuckets".into()],
            error: Some("AccessDenied for AKIAIOSFODNN7EXAMPLE".into()),
        })
    }
}

#[tokio::test]
async fn the_permissions_doctor_is_not_wired_by_default_and_injectable() {
    let e = env();
    let id = connect_aws(&e.state).await;
    let path = [("integration_id", id.as_str())];
    let (status, problem) =
        call(&e.state, request("POST /v1/integrations/{integration_id}/test", &path, &who(Role::Admin), None)).await;
    assert_eq!((status, problem_type(&problem)), (501, "connection-test-not-wired"), "{problem}");

    let tester = Arc::new(FakeTester::default());
    let state = State::new(&Config::from_lookup(Vec::<(String, String)>::new()).unwrap(), &e.set.backends())
        .unwrap()
        .with_tester(tester.clone());
    let (status, report) =
        call(&state, request("POST /v1/integrations/{integration_id}/test", &path, &who(Role::Admin), None)).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["missing_permissions"], json!(["iam:GenerateCredentialReport"]));
    assert!(!report["error"].as_str().unwrap().contains("AKIA"), "errors are sanitized: {report}");
    let (_, ext) = call(&state, request("GET /v1/integrations/aws/external-id", &[], &who(Role::Admin), None)).await;
    assert_eq!(tester.seen_external_id.lock().unwrap().as_deref(), ext["external_id"].as_str());
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
