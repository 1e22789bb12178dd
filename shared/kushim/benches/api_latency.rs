//! In-process latency of the authorizer (access-token path and API-key path) and of
//! `GET /v1/users`, on the embedded store: p50 and p99 over 10,000 calls each. Prints figures; run
//! with `cargo bench -p kushim --bench api_latency`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayV2CustomAuthorizerV2Request, ApiGatewayV2httpRequestContext,
};
use kushim_lambda::Config;
use kushim_lambda::backends::EmbeddedSet;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use lambda_runtime::{Context, LambdaEvent};

const CALLS: usize = 10_000;

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{name:<32} p50 {:>8.1} µs   p99 {:>8.1} µs   ({} calls)",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        samples.len()
    );
}

fn authorizer_event(bearer: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event = ApiGatewayV2CustomAuthorizerV2Request::default();
    event.headers.insert("authorization", format!("Bearer {bearer}").parse().expect("header"));
    event
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let set = EmbeddedSet::open(dir.path()).expect("storage");
    let backends = set.backends();
    let config = Config::from_lookup([]).expect("config");
    let identity = kushim_identity::wiring::identity(&config, &backends).expect("identity");
    let now = chrono::Utc::now().timestamp();
    let session = identity
        .signup(
            kushim_identity::SignupInput {
                tenant_name: "Bench".into(),
                email: "owner@bench.test".into(),
                name: "Owner".into(),
                password: "correct horse battery staple".to_owned().into(),
            },
            now,
        )
        .await
        .expect("signup");
    let owner = identity.authenticate(&session.access_token, now).await.expect("owner");
    for i in 0..49 {
        let (_, token) = identity
            .invite(&owner, &format!("user{i}@bench.test"), kushim_domain::Role::Member, now)
            .await
            .expect("invite");
        let password = "another long password 42".to_owned().into();
        identity.accept_invitation(&token, "Member", &password, now).await.expect("accept");
    }
    let (_, key) =
        identity.create_api_key(&owner, "bench", kushim_domain::Role::Admin, None, None, now).await.expect("key");
    let key = secrecy::ExposeSecret::expose_secret(&key).to_owned();

    let authorizer = authorizer::State::new(&config, &backends).expect("authorizer");
    for (name, bearer) in
        [("authorizer, access token", session.access_token.as_str()), ("authorizer, API key", key.as_str())]
    {
        let mut samples = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let start = Instant::now();
            let resp = authorizer::handle(&authorizer, LambdaEvent::new(authorizer_event(bearer), Context::default()))
                .await
                .expect("authorizer");
            samples.push(start.elapsed());
            assert!(resp.context.contains_key("tenant_id"), "{name} did not authorize");
        }
        report(name, samples);
    }

    let users = api_users::State::new(&config, &backends).expect("api-users");
    let mut fields: HashMap<String, serde_json::Value> = owner.to_context();
    fields.insert("rate_limit".into(), serde_json::Value::from("100000000"));
    let mut samples = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let mut ctx = ApiGatewayV2httpRequestContext::default();
        ctx.route_key = Some("GET /v1/users".into());
        ctx.request_id = Some("bench".into());
        let mut auth = ApiGatewayRequestAuthorizer::default();
        auth.fields = fields.clone();
        ctx.authorizer = Some(auth);
        let req = lambda_http::Request::new(Body::Empty).with_request_context(RequestContext::ApiGatewayV2(ctx));
        let start = Instant::now();
        let resp = api_users::handle(&users, req).await.expect("handler");
        samples.push(start.elapsed());
        assert_eq!(resp.status(), 200);
    }
    report("GET /v1/users (page of 25 of 50)", samples);
}
