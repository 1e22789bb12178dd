//! Helpers shared by the end-to-end API tests: start the local platform (embedded or on moto),
//! call the API over HTTP, sign up, add users, and check problem responses.
#![allow(dead_code)]

use kushim::{BackendChoice, Platform, PlatformOptions};
use kushim_domain::Role;
use serde_json::{Value, json};

pub async fn start(dir: &std::path::Path, aws: bool) -> Platform {
    start_paused(dir, aws, &[]).await
}

/// The platform with the queues of `paused` functions left unpolled (their jobs stay queued).
pub async fn start_paused(dir: &std::path::Path, aws: bool, paused: &[&str]) -> Platform {
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
        paused_consumers: paused.iter().map(|s| (*s).to_owned()).collect(),
    })
    .await
    .unwrap()
}

pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub text: String,
}

impl Api {
    pub fn new(platform: &Platform) -> Self {
        Self { base: platform.url.clone(), http: reqwest::Client::new() }
    }

    pub async fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>, idem: Option<&str>) -> Reply {
        let mut req = self.http.request(method.parse().unwrap(), format!("{}{path}", self.base));
        req = req.header("authorization", format!("Bearer {token}"));
        if let Some(k) = idem {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type =
            resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, content_type, body, text }
    }

    pub async fn signup(&self, org: &str, email: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/v1/auth/signup", self.base))
            .json(&json!({"tenant_name": org, "email": email, "name": "Owner", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        r.json().await.unwrap()
    }

    /// Invites `email` with `role` as `owner_token` and accepts; returns the new session.
    pub async fn add_user(&self, owner_token: &str, email: &str, role: Role) -> Value {
        let inv = self
            .call("POST", "/v1/users/invitations", owner_token, Some(json!({"email": email, "role": role})), None)
            .await;
        assert_eq!(inv.status, 201, "{}", inv.text);
        let acc = self
            .http
            .post(format!("{}/v1/invitations/accept", self.base))
            .json(&json!({"token": inv.body["token"], "name": "Someone", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(acc.status().as_u16(), 201);
        acc.json().await.unwrap()
    }
}

pub const PASSWORD: &str = "correct horse battery staple";

pub fn token(session: &Value) -> String {
    session["access_token"].as_str().unwrap().to_owned()
}

pub fn assert_problem(r: &Reply, status: u16, type_suffix: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    assert_eq!(r.body["type"], format!("https://kushim.dev/problems/{type_suffix}"), "{}", r.text);
    assert_eq!(r.body["status"], status);
}
