//! `api-health`: `GET /v1/health`. Probes each backend the platform depends on (table, blob store,
//! jobs queue) concurrently, each with a time limit, and answers 200 when all are up or 503 naming
//! the part that is down. Public (no credentials), so it reveals only statuses and error codes,
//! never backend messages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kushim_adapters::blob::BlobStore;
use kushim_adapters::queue::Queue;
use kushim_adapters::table::Table;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError, Problem};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use utoipa::OpenApi;

/// How long one probe may take before it counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Everything the handler needs, built once per process.
#[derive(Clone)]
pub struct State {
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    queue: Arc<dyn Queue>,
    jobs_queue: String,
}

impl State {
    /// Picks the ports and settings this function uses.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self {
            table: backends.table()?,
            blobs: backends.blobs()?,
            queue: backends.queue()?,
            jobs_queue: config.require_jobs_queue()?.to_owned(),
        })
    }
}

/// One backend's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Check {
    /// `ok` or `down`.
    pub status: &'static str,
    /// How long the probe took.
    pub latency_ms: u64,
    /// A stable error code when down (`timeout`, `unavailable`, `access_denied`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The three checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Checks {
    /// The table.
    pub table: Check,
    /// The blob store.
    pub blobs: Check,
    /// The jobs queue.
    pub queue: Check,
}

/// The health report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` when every check passes, otherwise `unavailable`.
    pub status: &'static str,
    /// The running build's version.
    pub version: &'static str,
    /// Per-backend results.
    pub checks: Checks,
    /// Names of the failing parts (empty when healthy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<&'static str>,
}

async fn probe<F>(name: &'static str, fut: F) -> Check
where
    F: Future<Output = kushim_adapters::Result<()>>,
{
    let start = Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, fut).await;
    let latency_ms = start.elapsed().as_millis() as u64;
    let error = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(backend = name, code = e.code(), "health probe failed");
            Some(e.code().to_owned())
        }
        Err(_) => {
            tracing::warn!(backend = name, "health probe timed out");
            Some("timeout".to_owned())
        }
    };
    Check { status: if error.is_none() { "ok" } else { "down" }, latency_ms, error }
}

/// Probes every backend.
pub async fn check(state: &State) -> Health {
    let (table, blobs, queue) = tokio::join!(
        probe("table", state.table.probe()),
        probe("blobs", state.blobs.probe()),
        probe("queue", async { state.queue.counts(&state.jobs_queue).await.map(|_| ()) }),
    );
    let failing: Vec<&'static str> = [("table", &table), ("blobs", &blobs), ("queue", &queue)]
        .into_iter()
        .filter(|(_, c)| c.error.is_some())
        .map(|(n, _)| n)
        .collect();
    Health {
        status: if failing.is_empty() { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        checks: Checks { table, blobs, queue },
        failing,
    }
}

/// The Lambda handler.
#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "getHealth",
    tag = "health",
    summary = "Check the platform's health",
    description = "Probes the table, the evidence store and the jobs queue concurrently, each within 3 seconds. \
        Answers 200 when every backend is up and 503 naming the failing parts otherwise. Needs no credentials; \
        it shows statuses and stable error codes only, never backend messages.",
    responses(
        (status = 200, description = "Every backend is up.", body = Health),
        (status = 503, description = "At least one backend is down; `failing` names it.", body = Health),
    ),
    extensions(("x-kushim-access" = json!("public")))
)]
pub async fn handle(state: &State, req: Request) -> Result<Response<Body>, kushim_lambda::Error> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(Problem::method_not_allowed().for_request(&req));
    }
    let health = check(state).await;
    let status = if health.failing.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut resp = json_response(status, &health);
    resp.headers_mut().insert("cache-control", lambda_http::http::HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[derive(OpenApi)]
#[openapi(
    paths(handle),
    tags((name = "health", description = "Liveness of the platform and its backends."))
)]
struct ApiDoc;

/// This function's OpenAPI document (its one public route).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_lambda::backends::EmbeddedSet;

    async fn state(dir: &std::path::Path) -> State {
        let set = EmbeddedSet::open(dir).unwrap();
        set.queue.create_queue(kushim_adapters::queue::embedded::QueueConfig::new("jobs")).await.unwrap();
        let config = Config::from_lookup([("JOBS_QUEUE_URL".to_owned(), "jobs".to_owned())]).unwrap();
        State::new(&config, &set.backends()).unwrap()
    }

    fn body_json(resp: &Response<Body>) -> serde_json::Value {
        match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[tokio::test]
    async fn given_healthy_backends_when_probed_then_200_with_all_checks_ok() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let resp = handle(&state, Request::default()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let v = body_json(&resp);
        assert_eq!(v["status"], "ok");
        for part in ["table", "blobs", "queue"] {
            assert_eq!(v["checks"][part]["status"], "ok", "{part}");
        }
    }

    #[tokio::test]
    async fn given_a_missing_queue_when_probed_then_503_names_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = state(dir.path()).await;
        state.jobs_queue = "no-such-queue".into();
        let resp = handle(&state, Request::default()).await.unwrap();
        assert_eq!(resp.status(), 503);
        let v = body_json(&resp);
        assert_eq!(v["failing"], serde_json::json!(["queue"]));
        assert_eq!(v["checks"]["queue"]["error"], "not_found");
        assert_eq!(v["checks"]["table"]["status"], "ok");
    }

    #[tokio::test]
    async fn post_is_refused_with_problem_json() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path()).await;
        let mut req = Request::default();
        *req.method_mut() = Method::POST;
        let resp = handle(&state, req).await.unwrap();
        assert_eq!(resp.status(), 405);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
