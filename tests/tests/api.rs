//! End-to-end tests of the API surface over HTTP on the local platform: the quick tour, the
//! role × route permission matrix, the cross-tenant matrix, token attacks, idempotency and the
//! rule that no credential ever reaches a log line. Route lists come from the template and the
//! functions' own route tables, so new routes are covered without editing these tests.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use kushim::registry::declared_routes;
use kushim::{BackendChoice, Platform, PlatformOptions};
use kushim_api::Access;
use kushim_domain::Role;
use serde_json::{Value, json};

// ---- Log capture: every log line of this test binary goes to a buffer. ----

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Default::default).lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ =
            tracing_subscriber::fmt().json().with_max_level(tracing::Level::DEBUG).with_writer(|| Capture).try_init();
    });
}

fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().unwrap()).into_owned()
}

// ---- Platform and HTTP helpers. ----

async fn start(dir: &std::path::Path, aws: bool) -> Platform {
    capture_logs();
    let backend = if aws {
        let moto = kushim_testkit::moto().await;
        let sdk = kushim_testkit::sdk_config(moto).await;
        BackendChoice::Aws { prefix: kushim_testkit::unique_prefix(), sdk: Some(Box::new(sdk)) }
    } else {
        BackendChoice::Embedded
    };
    Platform::start(PlatformOptions {
        port: 0,
        data_dir: dir.to_path_buf(),
        backend,
        schedules: false,
        cors_origins: Vec::new(),
        paused_consumers: Vec::new(),
    })
    .await
    .unwrap()
}

struct Api {
    base: String,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    content_type: String,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    fn new(platform: &Platform) -> Self {
        Self { base: platform.url.clone(), http: reqwest::Client::new() }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        idem: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, content_type, headers, body, text }
    }

    async fn signup(&self, org: &str, email: &str) -> Value {
        let r = self
            .call(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"tenant_name": org, "email": email, "name": "Owner", "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }

    /// Invites `email` with `role` as `owner_token` and accepts; returns the new session.
    async fn add_user(&self, owner_token: &str, email: &str, role: Role) -> Value {
        let inv = self
            .call("POST", "/v1/users/invitations", Some(owner_token), Some(json!({"email": email, "role": role})), None)
            .await;
        assert_eq!(inv.status, 201, "{}", inv.text);
        let acc = self
            .call(
                "POST",
                "/v1/invitations/accept",
                None,
                Some(json!({"token": inv.body["token"], "name": "Someone", "password": PASSWORD})),
                None,
            )
            .await;
        assert_eq!(acc.status, 201, "{}", acc.text);
        acc.body
    }
}

const PASSWORD: &str = "correct horse battery staple";

fn token(session: &Value) -> String {
    session["access_token"].as_str().unwrap().to_owned()
}

fn assert_problem(r: &Reply, status: u16, type_suffix: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    assert_eq!(r.body["type"], format!("https://kushim.dev/problems/{type_suffix}"), "{}", r.text);
    assert_eq!(r.body["status"], status);
    assert!(r.body["title"].is_string() && r.body["request_id"].is_string(), "{}", r.text);
}

fn fill(path: &str, id: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e + 1).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        out.push_str(id);
        rest = &rest[end..];
    }
    out + rest
}

// ---- Tests. ----

#[test]
fn template_routes_and_function_route_tables_agree() {
    let template = kushim_template::bundled();
    let from_template: BTreeSet<(String, String, String, bool)> = template
        .routes()
        .into_iter()
        .map(|(f, r)| (r.method.clone(), r.path.clone(), f.binary.clone(), r.auth.is_none()))
        .collect();
    let from_code: BTreeSet<(String, String, String, bool)> = declared_routes()
        .into_iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned(), r.binary.to_owned(), r.access == Access::Public))
        .collect();
    assert_eq!(
        from_template, from_code,
        "template.yaml and the functions' route tables differ (method, path, binary, public)"
    );
}

async fn quick_tour(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let owner = api.signup("Acme", "ada@acme.test").await;
    let login = api
        .call("POST", "/v1/auth/login", None, Some(json!({"email": "ADA@acme.test", "password": PASSWORD})), None)
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let t = token(&login.body);
    let bob = api.add_user(&t, "bob@acme.test", Role::Member).await;
    let key = api.call("POST", "/v1/api-keys", Some(&t), Some(json!({"name": "ci", "role": "admin"})), None).await;
    assert_eq!(key.status, 201, "{}", key.text);
    let secret = key.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("kus_"));
    let users = api.call("GET", "/v1/users", Some(&secret), None, None).await;
    assert_eq!(users.status, 200, "{}", users.text);
    let emails: BTreeSet<&str> =
        users.body["items"].as_array().unwrap().iter().filter_map(|u| u["email"].as_str()).collect();
    assert_eq!(emails, BTreeSet::from(["ada@acme.test", "bob@acme.test"]));
    let keys = api.call("GET", "/v1/api-keys", Some(&t), None, None).await;
    assert!(!keys.text.contains(&secret), "a listing must never show a key's secret");
    let events = api.call("GET", "/v1/audit-events", Some(&t), None, None).await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["api_key.create", "invitation.accept", "user.invite", "auth.login", "tenant.signup"]);
    let verify = api.call("GET", "/v1/audit-events/verify", Some(&t), None, None).await;
    assert_eq!(verify.body, json!({"valid": true, "events": 5}));
    // Refresh rotates; the spent token then fails and takes the session down with it.
    let refreshed =
        api.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": owner["refresh_token"]})), None).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let reuse =
        api.call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": owner["refresh_token"]})), None).await;
    assert_problem(&reuse, 401, "unauthenticated");
    let after = api
        .call("POST", "/v1/auth/refresh", None, Some(json!({"refresh_token": refreshed.body["refresh_token"]})), None)
        .await;
    assert_problem(&after, 401, "unauthenticated");
    // No credential of this tour appears in any log line.
    let captured = logs();
    for secret in [
        PASSWORD.to_owned(),
        t.clone(),
        secret,
        token(&bob),
        owner["refresh_token"].as_str().unwrap().to_owned(),
        refreshed.body["refresh_token"].as_str().unwrap().to_owned(),
    ] {
        assert!(!captured.contains(&secret), "a credential leaked into the logs");
    }
    assert!(captured.contains("request"), "the log capture saw nothing, so the leak check above proves nothing");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_quick_tour() {
    quick_tour(false).await;
}

#[tokio::test]
async fn aws_quick_tour_on_moto() {
    quick_tour(true).await;
}

#[tokio::test]
async fn rbac_matrix_every_role_on_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let owner = api.signup("Matrix", "owner@matrix.test").await;
    let owner_token = token(&owner);
    let mut sessions = vec![(Role::Owner, owner_token.clone(), "owner@matrix.test".to_owned())];
    for role in [Role::Admin, Role::Member, Role::Auditor, Role::Viewer] {
        let email = format!("{role}@matrix.test");
        sessions.push((role, token(&api.add_user(&owner_token, &email, role).await), email));
    }
    let routes = declared_routes();
    let mut checked = 0;
    for (role, mut t, email) in sessions {
        for r in &routes {
            let path = fill(r.path, "does-not-exist");
            let body = (r.method != "GET" && r.method != "DELETE").then(|| json!({}));
            let reply = api.call(r.method, &path, Some(&t), body, None).await;
            let allowed = match r.access {
                Access::Public | Access::Authenticated => true,
                Access::Requires(p) => role.allows(p),
            };
            if allowed {
                assert_ne!(reply.status, 403, "{role} should be allowed {} {}: {}", r.method, r.path, reply.text);
                assert_ne!(
                    reply.status, 401,
                    "{role} was not authenticated on {} {}: {}",
                    r.method, r.path, reply.text
                );
            } else {
                assert_problem(&reply, 403, "forbidden");
            }
            checked += 1;
            if r.path == "/v1/auth/logout-all" && reply.status == 204 {
                let again = api
                    .call("POST", "/v1/auth/login", None, Some(json!({"email": email, "password": PASSWORD})), None)
                    .await;
                t = token(&again.body);
            }
        }
    }
    assert_eq!(checked, routes.len() * 5);
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

async fn cross_tenant(aws: bool) {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), aws).await;
    let api = Api::new(&platform);
    let a = api.signup("Tenant A", "owner@a.test").await;
    let a_token = token(&a);
    let a_member = api.add_user(&a_token, "member@a.test", Role::Member).await;
    let a_key =
        api.call("POST", "/v1/api-keys", Some(&a_token), Some(json!({"name": "a-key", "role": "viewer"})), None).await;
    let b = api.signup("Tenant B", "owner@b.test").await;
    let b_token = token(&b);
    // Everything that identifies tenant A.
    let a_secrets = [
        a["tenant_id"].as_str().unwrap().to_owned(),
        a["user"]["id"].as_str().unwrap().to_owned(),
        a_member["user"]["id"].as_str().unwrap().to_owned(),
        a_key.body["id"].as_str().unwrap().to_owned(),
        "owner@a.test".to_owned(),
        "member@a.test".to_owned(),
        "Tenant A".to_owned(),
    ];
    let a_ids = [a_member["user"]["id"].as_str().unwrap(), a_key.body["id"].as_str().unwrap()];
    for r in declared_routes() {
        if r.access == Access::Public || r.path.starts_with("/v1/auth/logout") {
            continue;
        }
        let ids: Vec<&str> = if r.path.contains('{') { a_ids.to_vec() } else { vec![""] };
        for id in ids {
            let path = fill(r.path, id);
            let body = (r.method != "GET" && r.method != "DELETE").then(|| json!({"role": "viewer", "name": "x"}));
            let reply = api.call(r.method, &path, Some(&b_token), body, None).await;
            if r.path.contains('{') {
                assert!(
                    [400, 403, 404].contains(&reply.status),
                    "{} {path} with tenant A's id gave {} to tenant B: {}",
                    r.method,
                    reply.status,
                    reply.text
                );
            }
            for secret in &a_secrets {
                assert!(
                    !reply.text.contains(secret.as_str()),
                    "{} {path} showed tenant B data of tenant A: {}",
                    r.method,
                    reply.text
                );
            }
        }
    }
    // And A's member and key are untouched.
    let still = api.call("GET", &format!("/v1/users/{}", a_ids[0]), Some(&a_token), None, None).await;
    assert_eq!(still.status, 200);
    assert_eq!(still.body["role"], "member");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn embedded_cross_tenant_matrix() {
    cross_tenant(false).await;
}

#[tokio::test]
async fn aws_cross_tenant_matrix_on_moto() {
    cross_tenant(true).await;
}

#[tokio::test]
async fn forged_and_tampered_tokens_get_401_problems() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let s = api.signup("Forge", "owner@forge.test").await;
    let t = token(&s);
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let parts: Vec<&str> = t.split('.').collect();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), parts[1]);
    let mut escalated = claims.clone();
    escalated["tid"] = json!("someone-else");
    let tampered = format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]);
    for bad in [none.as_str(), tampered.as_str(), "garbage", "kus_aaaaaaaaaaaa_bbbb"] {
        let r = api.call("GET", "/v1/me", Some(bad), None, None).await;
        assert_problem(&r, 401, "unauthenticated");
    }
    let r = api.call("GET", "/v1/me", None, None, None).await;
    assert_problem(&r, 401, "unauthenticated");
    let ok = api.call("GET", "/v1/me", Some(&t), None, None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn idempotency_key_replays_and_refuses_a_different_body() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let t = token(&api.signup("Idem", "owner@idem.test").await);
    let body = json!({"name": "deploy", "role": "member"});
    let first = api.call("POST", "/v1/api-keys", Some(&t), Some(body.clone()), Some("k-1")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let replay = api.call("POST", "/v1/api-keys", Some(&t), Some(body), Some("k-1")).await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body, first.body, "the same key and body must give the same response");
    assert_eq!(replay.headers.get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let keys = api.call("GET", "/v1/api-keys", Some(&t), None, None).await;
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 1, "the replay must not create a second key");
    let other =
        api.call("POST", "/v1/api-keys", Some(&t), Some(json!({"name": "other", "role": "member"})), Some("k-1")).await;
    assert_problem(&other, 422, "idempotency-key-reuse");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn bad_input_gets_precise_problems_and_every_response_has_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let t = token(&api.signup("Strict", "owner@strict.test").await);
    let unknown = api
        .call("POST", "/v1/api-keys", Some(&t), Some(json!({"name": "k", "role": "member", "admin": true})), None)
        .await;
    assert_problem(&unknown, 400, "invalid-request");
    let mut req =
        reqwest::Client::new().post(format!("{}/v1/api-keys", api.base)).header("authorization", format!("Bearer {t}"));
    req = req.header("content-type", "text/plain").body("name=k");
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    let weak = api
        .call(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"tenant_name": "W", "email": "w@w.test", "name": "W", "password": "short"})),
            None,
        )
        .await;
    assert_problem(&weak, 400, "invalid-request");
    let limit = api.call("GET", "/v1/users?limit=1000", Some(&t), None, None).await;
    assert_problem(&limit, 400, "invalid-request");
    let cursor = api.call("GET", "/v1/users?cursor=forged", Some(&t), None, None).await;
    assert_problem(&cursor, 400, "invalid-request");
    for r in [&unknown, &weak, &limit, &cursor] {
        for h in kushim_api::headers::names() {
            assert!(r.headers.contains_key(h), "missing security header {h}");
        }
    }
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    api.signup("Lock", "owner@lock.test").await;
    let wrong = json!({"email": "owner@lock.test", "password": "not the password at all"});
    let unknown = api
        .call(
            "POST",
            "/v1/auth/login",
            None,
            Some(json!({"email": "nobody@lock.test", "password": "whatever it is"})),
            None,
        )
        .await;
    assert_problem(&unknown, 401, "invalid-credentials");
    for _ in 0..5 {
        let r = api.call("POST", "/v1/auth/login", None, Some(wrong.clone()), None).await;
        assert_problem(&r, 401, "invalid-credentials");
        assert_eq!(r.body["detail"], unknown.body["detail"], "unknown user and wrong password must look the same");
    }
    let locked = api
        .call("POST", "/v1/auth/login", None, Some(json!({"email": "owner@lock.test", "password": PASSWORD})), None)
        .await;
    assert_problem(&locked, 429, "too-many-attempts");
    let retry: u64 =
        locked.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap();
    assert!((1..=30).contains(&retry), "retry after {retry}");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn a_tenant_over_its_budget_gets_429_with_retry_after_and_other_tenants_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let a = token(&api.signup("Busy", "owner@busy.test").await);
    let b = token(&api.signup("Calm", "owner@calm.test").await);
    let settings = json!({"settings": {"time_zone": "UTC", "rate_limit_per_minute": 10, "allowed_email_domains": [], "session_days": 14}});
    let set = api.call("PATCH", "/v1/tenant", Some(&a), Some(settings), None).await;
    assert_eq!(set.status, 200, "{}", set.text);
    let mut limited = None;
    for _ in 0..25 {
        let r = api.call("GET", "/v1/users", Some(&a), None, None).await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let limited = limited.expect("the eleventh request in a minute must be refused");
    assert_problem(&limited, 429, "rate-limited");
    assert!(
        limited
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| (1..=60).contains(&s))
    );
    let other = api.call("GET", "/v1/users", Some(&b), None, None).await;
    assert_eq!(other.status, 200, "another tenant keeps its own budget");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}

#[tokio::test]
async fn refused_mutations_are_audited_as_failures() {
    let dir = tempfile::tempdir().unwrap();
    let platform = start(dir.path(), false).await;
    let api = Api::new(&platform);
    let owner = token(&api.signup("Audit", "owner@audit.test").await);
    let viewer = token(&api.add_user(&owner, "viewer@audit.test", Role::Viewer).await);
    let denied =
        api.call("POST", "/v1/api-keys", Some(&viewer), Some(json!({"name": "x", "role": "viewer"})), None).await;
    assert_problem(&denied, 403, "forbidden");
    let events = api.call("GET", "/v1/audit-events?action=request.refused", Some(&owner), None, None).await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.text);
    assert_eq!(items[0]["outcome"], "failure");
    assert_eq!(items[0]["role"], "viewer");
    assert_eq!(items[0]["target"], "POST /v1/api-keys -> 403");
    assert_eq!(platform.permissions.violations(), Vec::<String>::new(), "ungranted IAM actions");
    platform.shutdown().await;
}
