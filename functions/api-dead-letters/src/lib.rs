//! `api-dead-letters`: the tenant's dead jobs. A job that kept failing rests in its queue's DLQ
//! with the last error its worker recorded; owners and admins list them (only their own tenant's,
//! whatever else the DLQ holds) and redrive them, all or by message id, back to the queue they came
//! from with their original idempotency key. Operators see every tenant with `kushim dlq`.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_api::audit;
use kushim_api::openapi as problems;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::Permission;
use kushim_lambda::deadletter::{DeadLetter, DeadLetters, Selection};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{OpenApi, ToSchema};

/// Most messages one listing or redrive looks at.
const MAX_PASS: usize = 500;

/// One queue with its DLQ, by the name the API uses.
#[derive(Debug, Clone)]
struct QueuePair {
    name: &'static str,
    source: String,
    dlq: String,
}

/// Everything the handlers need, built once per process.
pub struct State {
    dead: DeadLetters,
    table: Arc<dyn kushim_adapters::table::Table>,
    queues: Vec<QueuePair>,
    routes: Vec<Route<State>>,
}

impl State {
    /// Reads the queue pairs (`JOBS_QUEUE_URL` + `JOBS_DLQ_URL`, `AWS_JOBS_QUEUE_URL` +
    /// `AWS_JOBS_DLQ_URL`) and builds the route table.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let var = |name: &'static str| config.vars.get(name).filter(|v| !v.is_empty()).cloned();
        let mut queues = Vec::new();
        for (name, source, dlq) in
            [("jobs", "JOBS_QUEUE_URL", "JOBS_DLQ_URL"), ("aws", "AWS_JOBS_QUEUE_URL", "AWS_JOBS_DLQ_URL")]
        {
            match (var(source), var(dlq)) {
                (Some(source), Some(dlq)) => queues.push(QueuePair { name, source, dlq }),
                (None, None) => {}
                (Some(_), None) => return Err(ConfigError::Missing(dlq)),
                (None, Some(_)) => return Err(ConfigError::Missing(source)),
            }
        }
        let table = backends.table()?;
        Ok(Self { dead: DeadLetters::new(backends.queue()?, table.clone()), table, queues, routes: routes() })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "GET",
            path: "/v1/dead-letters",
            access: Requires(Permission::IntegrationsManage),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/dead-letters/redrive",
            access: Requires(Permission::IntegrationsManage),
            handler: |s, c| Box::pin(redrive(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A dead job.
#[derive(Debug, Serialize, ToSchema)]
struct DeadLetterView {
    /// The queue it came from: `jobs` or `aws`.
    #[schema(example = "aws")]
    queue: String,
    /// The message id (pass it to redrive one message).
    message_id: String,
    /// The job's id.
    job_id: String,
    /// The run (or export) that planned it.
    run_id: String,
    /// The job's idempotency key, kept on redrive.
    idempotency_key: String,
    /// What the job does (`collect` or `export`) and on what.
    kind: serde_json::Value,
    /// Receives before it died.
    receive_count: u32,
    /// When it was first queued (RFC 3339).
    #[schema(format = DateTime)]
    first_sent_at: String,
    /// The last error its worker recorded, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// When that error happened (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    failed_at: Option<String>,
}

impl DeadLetterView {
    fn of(queue: &str, d: DeadLetter) -> Option<Self> {
        let job = d.job?;
        Some(Self {
            queue: queue.to_owned(),
            message_id: d.message_id,
            job_id: job.job_id.to_string(),
            run_id: job.run_id.to_string(),
            idempotency_key: job.idempotency_key,
            kind: serde_json::to_value(&job.kind).unwrap_or_default(),
            receive_count: d.receive_count,
            first_sent_at: rfc3339_ms(d.sent_at_ms),
            last_error: d.last_failure.as_ref().map(|f| f.last_error.clone()),
            failed_at: d.last_failure.map(|f| rfc3339_ms(f.failed_at * 1000)),
        })
    }
}

/// The tenant's dead jobs.
#[derive(Debug, Serialize, ToSchema)]
struct DeadLettersBody {
    /// Oldest first.
    items: Vec<DeadLetterView>,
}

#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    operation_id = "listDeadLetters",
    tag = "dead-letters",
    summary = "List the tenant's dead jobs",
    description = "Jobs of the caller's tenant that failed on every delivery and rest in a dead-letter queue, with \
        the last error their worker recorded. Listing does not consume them.",
    params(("queue" = Option<String>, Query, description = "Only this queue: `jobs` or `aws`.")),
    responses(
        (status = 200, description = "The dead jobs.", body = DeadLettersBody),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let mut items = Vec::new();
    for q in selected(state, ctx.query("queue").as_deref())? {
        let dead = state.dead.list(&q.dlq, Some(&p.tenant_id), MAX_PASS).await?;
        items.extend(dead.into_iter().filter_map(|d| DeadLetterView::of(q.name, d)));
    }
    Ok(json_response(StatusCode::OK, &DeadLettersBody { items }))
}

fn selected<'a>(state: &'a State, queue: Option<&str>) -> Result<Vec<&'a QueuePair>, ApiError> {
    match queue {
        None => Ok(state.queues.iter().collect()),
        Some(name) => match state.queues.iter().find(|q| q.name == name) {
            Some(q) => Ok(vec![q]),
            None => Err(ApiError::Validation(format!(
                "queue must be one of: {}",
                state.queues.iter().map(|q| q.name).collect::<Vec<_>>().join(", ")
            ))),
        },
    }
}

/// What to redrive.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RedriveRequest {
    /// Only this queue: `jobs` or `aws` (default: every queue).
    #[serde(default)]
    queue: Option<String>,
    /// Only these messages (default: every dead job of the tenant).
    #[serde(default)]
    message_ids: Option<Vec<String>>,
}

/// What a redrive did.
#[derive(Debug, Serialize, ToSchema)]
struct RedriveBody {
    /// Jobs sent back to their queue.
    moved: usize,
    /// Jobs chosen but refused by the queue; still dead.
    failed: usize,
}

#[utoipa::path(
    post,
    path = "/v1/dead-letters/redrive",
    operation_id = "redriveDeadLetters",
    tag = "dead-letters",
    summary = "Send dead jobs back to their queue",
    description = "Moves the tenant's dead jobs (all, or the given message ids) back to the queue they came from, \
        unchanged, so they keep their idempotency key: work already done is not done twice.",
    request_body = RedriveRequest,
    responses(
        (status = 200, description = "What moved.", body = RedriveBody),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn redrive(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let req: RedriveRequest = body::json(ctx.req)?;
    if req.message_ids.as_ref().is_some_and(|ids| ids.is_empty() || ids.len() > 100) {
        return Err(ApiError::Validation("message_ids holds 1 to 100 ids".into()));
    }
    let selection = Selection {
        tenant: Some(p.tenant_id.clone()),
        message_ids: req.message_ids.map(|ids| ids.into_iter().collect::<BTreeSet<_>>()),
    };
    let (mut moved, mut failed) = (0, 0);
    for q in selected(state, req.queue.as_deref())? {
        let report = state.dead.redrive(&q.dlq, &q.source, &selection, MAX_PASS).await?;
        moved += report.moved;
        failed += report.failed;
    }
    audit::record_success(state.table.as_ref(), ctx, "dead_letters.redrive", format!("moved:{moved}")).await;
    Ok(json_response(StatusCode::OK, &RedriveBody { moved, failed }))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, redrive),
    tags((name = "dead-letters", description = "Jobs that failed on every delivery: why, and sending them back."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
