//! `api-runs`: start a run now and read the tenant's runs. `POST /v1/runs` plans the run (the
//! named integrations, or every active one that has a connector), records it and enqueues its
//! jobs at once, then answers 202; at most one run per integration may be running at a time, so a
//! second request while one runs gets a 409 with the stable type `run-in-progress`. Everyone in the
//! tenant can read runs, their counters and where each of their jobs stands
//! (`GET /v1/runs/{run_id}/jobs`: collected, failed and why, retrying with the last error, ...).

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Query, Table, query_all};
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::{IntegrationId, Permission, RunId};
use kushim_identity::signing::CursorKey;
use kushim_integrations::runs::{RunStatus, Trigger};
use kushim_integrations::{AwsSlicer, JobOutcome, JobQueues, Planner, Run, Runs, Slicer};
use kushim_lambda::deadletter::LastFailure;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError, Problem};
use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    table: Arc<dyn Table>,
    runs: Runs,
    planner: Planner,
    cursor_key: CursorKey,
    routes: Vec<Route<State>>,
}

impl State {
    /// Picks the ports and builds the route table. AWS jobs go to `AWS_JOBS_QUEUE_URL`; without
    /// it, runs of AWS integrations are refused as having no connector. Slices come from
    /// [`AwsSlicer::default`] until another slicer is plugged in with [`State::with_slicer`].
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let queues = JobQueues { aws: config.aws_jobs_queue.clone() };
        if queues.aws.is_none() {
            tracing::warn!("AWS_JOBS_QUEUE_URL is not set: runs of AWS integrations will be refused");
        }
        let queue = backends.queue()?;
        Ok(Self {
            runs: Runs::new(table.clone()),
            planner: Planner::new(table.clone(), queue, queues, Arc::new(AwsSlicer::default())),
            cursor_key: CursorKey::new(backends.secrets()?),
            table,
            routes: routes(),
        })
    }

    /// Uses `slicer` to split integrations into jobs (builder style).
    pub fn with_slicer(mut self, slicer: Arc<dyn Slicer>) -> Self {
        self.planner = self.planner.with_slicer(slicer);
        self
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "POST",
            path: "/v1/runs",
            access: Requires(Permission::RunsStart),
            handler: |s, c| Box::pin(start(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/runs",
            access: Requires(Permission::RunsRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/runs/{run_id}",
            access: Requires(Permission::RunsRead),
            handler: |s, c| Box::pin(get(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/runs/{run_id}/jobs",
            access: Requires(Permission::RunsRead),
            handler: |s, c| Box::pin(jobs(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// The stable problem type of the per-integration concurrency cap.
pub const RUN_IN_PROGRESS: &str = "run-in-progress";

fn api_error(e: kushim_integrations::Error) -> ApiError {
    use kushim_integrations::Error as E;
    match e {
        E::Invalid(m) => ApiError::Validation(m),
        E::NotFound => ApiError::NotFound,
        E::Conflict(m) | E::NothingToRun(m) => ApiError::Conflict(m),
        E::Busy(ids) => ApiError::Conflict(format!("a run is already in progress for {ids:?}")),
        E::Contention(_) => ApiError::Unavailable,
        E::Enqueue(m) => {
            tracing::error!(reason = %m, "jobs of a new run could not be enqueued");
            ApiError::Unavailable
        }
        E::Storage(e) => e.into(),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What started a run.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RunTrigger {
    /// An integration's schedule.
    Schedule,
    /// `POST /v1/runs`.
    Manual,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum RunState {
    /// Jobs are still out.
    Running,
    /// Every job finished.
    Completed,
    /// The deadline passed before every job finished.
    TimedOut,
}

/// A run's counters.
#[derive(Debug, Serialize, ToSchema)]
struct RunCountersView {
    /// Jobs planned (one per integration slice, e.g. AWS account × region × service family).
    total: u64,
    /// Jobs finished.
    finished: u64,
    /// Passing check results.
    passed: u64,
    /// Failing check results.
    failed: u64,
    /// Results that could not be decided (e.g. a permission is missing).
    inconclusive: u64,
    /// Results that do not apply (e.g. a region that is not enabled).
    not_applicable: u64,
    /// Jobs that ended in an error.
    errored: u64,
    /// Evidence records written.
    evidence: u64,
}

/// A run.
#[derive(Debug, Serialize, ToSchema)]
struct RunDetail {
    /// Id (time-ordered).
    id: String,
    /// What started it.
    trigger: RunTrigger,
    /// Status.
    status: RunState,
    /// The integrations it collects.
    integrations: Vec<String>,
    /// Created (RFC 3339).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it times out if jobs are still out (RFC 3339).
    #[schema(format = DateTime)]
    deadline: String,
    /// When it completed or timed out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    completed_at: Option<String>,
    /// Counters.
    counters: RunCountersView,
}

impl From<&Run> for RunDetail {
    fn from(r: &Run) -> Self {
        let c = &r.counters;
        Self {
            id: r.id.to_string(),
            trigger: match r.trigger {
                Trigger::Schedule => RunTrigger::Schedule,
                Trigger::Manual => RunTrigger::Manual,
            },
            status: match r.status {
                RunStatus::Running => RunState::Running,
                RunStatus::Completed => RunState::Completed,
                RunStatus::TimedOut => RunState::TimedOut,
            },
            integrations: r.integrations.iter().map(ToString::to_string).collect(),
            created_at: rfc3339(r.created_at),
            deadline: rfc3339(r.deadline),
            completed_at: r.completed_at.map(rfc3339),
            counters: RunCountersView {
                total: c.total,
                finished: c.finished,
                passed: c.passed,
                failed: c.failed,
                inconclusive: c.inconclusive,
                not_applicable: c.not_applicable,
                errored: c.errored,
                evidence: c.evidence,
            },
        }
    }
}

/// What to run.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StartRunRequest {
    /// The integrations to collect; every active integration with a connector when absent.
    #[serde(default)]
    #[schema(example = json!(["0197c0ffee0000000000000000000001"]))]
    integration_ids: Option<Vec<String>>,
}

#[utoipa::path(
    post,
    path = "/v1/runs",
    operation_id = "startRun",
    tag = "runs",
    summary = "Start a run now",
    description = "Plans a run of the named integrations (every active integration that has a connector when the \
        body is absent or names none), records it and enqueues its jobs at once. At most one run per integration \
        may be running: while one is, another request for it gets a 409 problem of type `run-in-progress`. \
        Paused integrations are refused (409). Retries are safe with an Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = Option<StartRunRequest>, content_type = "application/json"),
    responses(
        (status = 202, description = "The run, started; its jobs are queued.", body = RunDetail,
            headers(("location" = String, description = "The run's URL."))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 409, description = "A run of one of the integrations is in progress (`run-in-progress`), an integration is paused, or there is nothing to run.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn start(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let ids = if body::bytes(ctx.req).is_empty() {
        None
    } else {
        let input: StartRunRequest = body::json(ctx.req)?;
        match input.integration_ids {
            None => None,
            Some(raw) => Some(
                raw.into_iter()
                    .map(|id| IntegrationId::new(id).map_err(|e| ApiError::Validation(e.to_string())))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        }
    };
    idempotency::once(state.table.as_ref(), ctx, || async {
        let started = match state.planner.start_on_demand(&p.tenant_id, ids.clone(), Utc::now()).await {
            Ok(s) => s,
            Err(kushim_integrations::Error::Busy(busy)) => {
                let names: Vec<String> = busy.iter().map(ToString::to_string).collect();
                let problem = Problem::new(StatusCode::CONFLICT, RUN_IN_PROGRESS, "Run in progress")
                    .detail(format!("a run is already in progress for integration(s) {}", names.join(", ")));
                return Ok(problem.for_request(ctx.req));
            }
            Err(e) => return Err(api_error(e)),
        };
        let run = &started.run;
        audit::record_success(state.table.as_ref(), ctx, "run.start", format!("run:{}", run.id)).await;
        let mut resp = json_response(StatusCode::ACCEPTED, &RunDetail::from(run));
        if let Ok(v) = HeaderValue::from_str(&format!("/v1/runs/{}", run.id)) {
            resp.headers_mut().insert("location", v);
        }
        Ok(resp)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/runs",
    operation_id = "listRuns",
    tag = "runs",
    summary = "List the tenant's runs",
    description = "The tenant's runs, newest first, scheduled and on demand, with their counters.",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size (default 25)."),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of runs.", body = PageBody<RunDetail>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.cursor_key.get().await.map_err(|e| {
        tracing::error!(error = %e, "cursor key unavailable");
        ApiError::Unavailable
    })?;
    let (runs, next) =
        state.runs.list(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await.map_err(api_error)?;
    let items: Vec<RunDetail> = runs.iter().map(RunDetail::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(items, next, &key)))
}

#[utoipa::path(
    get,
    path = "/v1/runs/{run_id}",
    operation_id = "getRun",
    tag = "runs",
    summary = "Get a run",
    description = "One run with its status and counters.",
    params(("run_id" = String, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run.", body = RunDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = RunId::new(ctx.path_param("run_id")?).map_err(|_| ApiError::NotFound)?;
    let run = state.runs.get(&p.tenant_id, &id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &RunDetail::from(&run)))
}

/// Where one job of a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum JobState {
    /// Evidence collected and checks evaluated.
    Collected,
    /// Ended for good (access denied, invalid credentials); its checks are inconclusive with the reason.
    Failed,
    /// Not collected on purpose (the integration was paused or deleted).
    Skipped,
    /// Failed for now and waiting for its next attempt (after 5 it rests in the dead-letter queue).
    Retrying,
    /// Not started yet.
    Pending,
    /// Never finished, and the run is over (it timed out): see the dead-letter queue.
    Unfinished,
}

/// What one job counted.
#[derive(Debug, Serialize, ToSchema)]
struct JobCountsView {
    /// Passing check results.
    passed: u64,
    /// Failing check results.
    failed: u64,
    /// Undecided results.
    inconclusive: u64,
    /// Results that do not apply.
    not_applicable: u64,
    /// Evidence records written.
    evidence: u64,
}

/// One job of a run: one slice of one integration.
#[derive(Debug, Serialize, ToSchema)]
struct RunJob {
    /// The integration.
    integration_id: String,
    /// The slice (for AWS `<account>/<region|global>/<family>`).
    #[schema(example = "123456789012/eu-west-1/config")]
    slice: String,
    /// Where it stands.
    state: JobState,
    /// `collected`, or why it failed or was skipped, or its last error while retrying.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// When it finished (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    finished_at: Option<String>,
    /// What it counted, once finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    counts: Option<JobCountsView>,
    /// Failed attempts so far (the delivery that failed last).
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<u32>,
    /// When the last attempt failed (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    last_failed_at: Option<String>,
}

/// Every job of a run.
#[derive(Debug, Serialize, ToSchema)]
struct RunJobs {
    /// The run's jobs by integration and slice (those in the requested states).
    items: Vec<RunJob>,
}

fn epoch(seconds: i64) -> Option<String> {
    DateTime::from_timestamp(seconds, 0).map(rfc3339)
}

#[utoipa::path(
    get,
    path = "/v1/runs/{run_id}/jobs",
    operation_id = "listRunJobs",
    tag = "runs",
    summary = "List a run's jobs",
    description = "Every job of the run (one per integration slice) and where it stands: collected, failed for \
        good (with the reason), skipped, retrying (with the last error and attempts), pending, or unfinished when \
        the run timed out. Filter with `state`, e.g. `?state=failed,retrying`.",
    params(
        ("run_id" = String, Path, description = "The run's id."),
        ("state" = Option<String>, Query, description = "Comma-separated states to keep (default: all)."),
    ),
    responses(
        (status = 200, description = "The run's jobs.", body = RunJobs),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn jobs(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let wanted: Option<Vec<JobState>> = match ctx.query("state") {
        None => None,
        Some(raw) => Some(
            raw.split(',')
                .map(|s| {
                    serde_json::from_value(serde_json::Value::String(s.trim().to_owned()))
                        .map_err(|_| ApiError::Validation(format!("unknown job state {s:?}")))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    let id = RunId::new(ctx.path_param("run_id")?).map_err(|_| ApiError::NotFound)?;
    let run = state.runs.get(&p.tenant_id, &id).await.map_err(api_error)?;
    let done =
        kushim_integrations::finished_jobs(state.table.as_ref(), &p.tenant_id, &run.id).await.map_err(api_error)?;
    let failures = last_failures(state.table.as_ref(), &p.tenant_id, &run.id).await?;
    // Every planned slice, and (for runs planned before slices were recorded) every job heard of.
    let run_id = &run.id;
    let mut keys: std::collections::BTreeSet<String> = run
        .slices
        .iter()
        .flat_map(|(i, slices)| slices.iter().map(move |s| kushim_integrations::planner::idempotency_key(run_id, i, s)))
        .collect();
    keys.extend(done.keys().cloned());
    keys.extend(failures.keys().cloned());
    let mut items = Vec::new();
    for key in &keys {
        let Some((integration, slice)) = key.strip_prefix(&format!("{}/", run.id)).and_then(|k| k.split_once('/'))
        else {
            continue;
        };
        let failure = failures.get(key);
        let mut job = RunJob {
            integration_id: integration.to_owned(),
            slice: slice.to_owned(),
            state: JobState::Pending,
            note: None,
            finished_at: None,
            counts: None,
            attempts: failure.map(|f| f.receive_count),
            last_failed_at: failure.and_then(|f| epoch(f.failed_at)),
        };
        match (done.get(key), failure) {
            (Some(marker), _) => {
                job.state = match marker.outcome() {
                    JobOutcome::Collected => JobState::Collected,
                    JobOutcome::Failed => JobState::Failed,
                    JobOutcome::Skipped => JobState::Skipped,
                };
                job.note = Some(marker.note.clone());
                job.finished_at = epoch(marker.finished_at);
                let c = &marker.counts;
                job.counts = Some(JobCountsView {
                    passed: c.passed,
                    failed: c.failed,
                    inconclusive: c.inconclusive,
                    not_applicable: c.not_applicable,
                    evidence: c.evidence,
                });
            }
            (None, Some(f)) => {
                job.state = JobState::Retrying;
                job.note = Some(f.last_error.clone());
            }
            (None, None) if run.status != RunStatus::Running => job.state = JobState::Unfinished,
            (None, None) => {}
        }
        if wanted.as_ref().is_none_or(|w| w.contains(&job.state)) {
            items.push(job);
        }
    }
    Ok(json_response(StatusCode::OK, &RunJobs { items }))
}

/// The last failures of a run's jobs, by idempotency key.
async fn last_failures(
    table: &dyn Table,
    tenant: &kushim_domain::TenantId,
    run: &RunId,
) -> Result<std::collections::BTreeMap<String, LastFailure>, ApiError> {
    let prefix = format!("{}{run}/", keys::JOB_FAILURE_PREFIX);
    let items = query_all(table, Query::partition(keys::tenant_pk(tenant)).begins_with(prefix)).await?;
    let mut out = std::collections::BTreeMap::new();
    for item in &items {
        let key = item.key.sk.strip_prefix(keys::JOB_FAILURE_PREFIX).unwrap_or(&item.key.sk).to_owned();
        match item.parse::<LastFailure>() {
            Ok(f) => {
                out.insert(key, f);
            }
            Err(e) => tracing::warn!(error = %e, "unreadable job failure record"),
        }
    }
    Ok(out)
}

#[derive(OpenApi)]
#[openapi(
    paths(start, list, get, jobs),
    tags((name = "runs", description = "Collection runs: start one now, follow its progress, list past runs."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

#[cfg(test)]
mod tests;
