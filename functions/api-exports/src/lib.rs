//! `api-exports`: auditor packages. Owners, admins and auditors ask for a framework and an
//! observation window; the request is recorded and a build job is queued on the jobs queue, where
//! `worker-jobs` gathers the package (control status and effectiveness, check results, evidence, a
//! freshly signed ledger checkpoint, OSCAL) and stores the ZIP. The requester follows the export's
//! status and, once it is ready, gets a short-lived download URL. The tenant always comes from the
//! verified principal.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use kushim_adapters::blob::BlobStore;
use kushim_adapters::queue::{OutgoingMessage, Queue};
use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::{Job, JobId, JobKind, Permission, RunId};
use kushim_exports::{ExportError, ExportRecord, ExportRequest, Exports};
use kushim_identity::signing::CursorKey;
use kushim_lambda::Problem;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// How long a download URL works.
const PRESIGN_TTL: Duration = Duration::from_secs(15 * 60);

/// Everything the handlers need, built once per process.
pub struct State {
    exports: Exports,
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    queue: Arc<dyn Queue>,
    jobs_queue: String,
    cursor_key: CursorKey,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the export service and the route table.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let blobs = backends.blobs()?;
        Ok(Self {
            exports: Exports::new(table.clone(), blobs.clone(), backends.secrets()?),
            queue: backends.queue()?,
            jobs_queue: config.require_jobs_queue()?.to_owned(),
            cursor_key: kushim_identity::wiring::cursor_key(backends)?,
            table,
            blobs,
            routes: routes(),
        })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "POST",
            path: "/v1/exports",
            access: Requires(Permission::ExportsCreate),
            handler: |s, c| Box::pin(create(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/exports",
            access: Requires(Permission::ExportsCreate),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/exports/{export_id}",
            access: Requires(Permission::ExportsCreate),
            handler: |s, c| Box::pin(get(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/exports/{export_id}/download",
            access: Requires(Permission::ExportsCreate),
            handler: |s, c| Box::pin(download(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

fn api_error(e: ExportError) -> ApiError {
    match e {
        ExportError::Invalid(m) => ApiError::Validation(m),
        ExportError::NotFound(_) => ApiError::NotFound,
        ExportError::Adapter(e) => e.into(),
        e if e.is_retryable() => ApiError::Unavailable,
        e => {
            tracing::error!(error = %e, "export service failed");
            ApiError::Internal
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An export request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateExportRequest {
    /// The framework: `soc2`, `iso27001`, `hipaa` or `nist_csf`.
    #[schema(example = "soc2")]
    framework: String,
    /// First day of the observation window (UTC).
    #[schema(value_type = String, example = "2026-01-01", format = Date)]
    from: NaiveDate,
    /// Last day of the observation window (UTC, inclusive, not in the future, at most 366 days after `from`).
    #[schema(value_type = String, example = "2026-09-30", format = Date)]
    to: NaiveDate,
}

/// An export and where it stands.
#[derive(Debug, Serialize, ToSchema)]
struct ExportView {
    /// The export's id.
    id: String,
    /// The framework.
    #[schema(example = "soc2")]
    framework: String,
    /// First day of the window.
    #[schema(format = Date)]
    from: String,
    /// Last day of the window.
    #[schema(format = Date)]
    to: String,
    /// `queued`, `ready` or `failed`.
    #[schema(example = "ready")]
    status: String,
    /// Who asked (user or API key id).
    requested_by: String,
    /// When it was asked for (RFC 3339).
    #[schema(format = DateTime)]
    created_at: String,
    /// When the build finished or gave up (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    completed_at: Option<String>,
    /// SHA-256 of the package (hex), once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// Size of the package in bytes, once ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    /// The signed ledger checkpoint the package ends at.
    #[serde(skip_serializing_if = "Option::is_none")]
    checkpoint_seq: Option<u64>,
    /// Evidence files in the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence_count: Option<u64>,
    /// Controls reported in the package.
    #[serde(skip_serializing_if = "Option::is_none")]
    control_count: Option<u64>,
    /// Why the build failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<ExportRecord> for ExportView {
    fn from(r: ExportRecord) -> Self {
        Self {
            id: r.id,
            framework: r.framework.as_str().to_owned(),
            from: r.from.to_string(),
            to: r.to.to_string(),
            status: r.status.as_str().to_owned(),
            requested_by: r.requested_by,
            created_at: rfc3339(r.created_at),
            completed_at: r.completed_at.map(rfc3339),
            sha256: r.sha256,
            size: r.size,
            checkpoint_seq: r.checkpoint_seq,
            evidence_count: r.evidence_count,
            control_count: r.control_count,
            error: r.error,
        }
    }
}

/// The build job of an export.
pub fn build_job(record: &ExportRecord) -> Result<Job, ApiError> {
    let tenant = kushim_domain::TenantId::new(&record.tenant).map_err(|_| ApiError::Internal)?;
    Ok(Job {
        job_id: JobId::new(format!("export-{}", record.id)).map_err(|_| ApiError::Internal)?,
        tenant_id: tenant,
        run_id: RunId::new(&record.id).map_err(|_| ApiError::Internal)?,
        idempotency_key: format!("export/{}", record.id),
        kind: JobKind::Export { export_id: record.id.clone() },
    })
}

#[utoipa::path(
    post,
    path = "/v1/exports",
    operation_id = "createExport",
    tag = "exports",
    summary = "Ask for an auditor package",
    description = "Records the request and builds the package in the background: control status and effectiveness for \
        the window, the latest check results, the evidence placed in the window, a freshly signed ledger checkpoint with \
        the ledger segment behind that evidence, CSV summaries and an OSCAL 1.1.3 assessment-results document, in one \
        deterministic ZIP with a manifest of SHA-256 digests. Follow `GET /v1/exports/{export_id}` until `status` is \
        `ready`. Send an `Idempotency-Key` to retry safely.",
    request_body = CreateExportRequest,
    responses(
        (status = 202, description = "The export, queued.", body = ExportView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
        (status = 429, response = problems::TooManyRequests),
        (status = 503, description = "The build could not be queued; the export is marked failed. Ask again.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn create(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let req: CreateExportRequest = body::json(ctx.req)?;
    let framework = req.framework.parse().map_err(|e| ApiError::Validation(format!("framework: {e}")))?;
    let request = ExportRequest { framework, from: req.from, to: req.to };
    idempotency::once(state.table.as_ref(), ctx, || async {
        let now = Utc::now();
        let record = state.exports.create(&p.tenant_id, request, &p.id, now).await.map_err(api_error)?;
        let job = build_job(&record)?;
        let body = serde_json::to_string(&job).map_err(|_| ApiError::Internal)?;
        let message = OutgoingMessage::new(body);
        if let Err(e) = state.queue.send_all(&state.jobs_queue, vec![message]).await {
            tracing::error!(error = %e, export = %record.id, "could not queue the export build");
            let _ = state.exports.fail(&p.tenant_id, &record.id, "the build could not be queued; ask again", now).await;
            return Err(ApiError::Unavailable);
        }
        audit::record_success(state.table.as_ref(), ctx, "export.create", format!("export:{}", record.id)).await;
        let mut response = json_response(StatusCode::ACCEPTED, &ExportView::from(record.clone()));
        if let Ok(v) = format!("/v1/exports/{}", record.id).parse() {
            response.headers_mut().insert("location", v);
        }
        Ok(response)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/exports",
    operation_id = "listExports",
    tag = "exports",
    summary = "List the tenant's exports",
    description = "The tenant's exports, newest first, a page at a time.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 25).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of exports.", body = PageBody<ExportView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.cursor_key.get().await?;
    let (records, next) =
        state.exports.list(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await.map_err(api_error)?;
    let items: Vec<ExportView> = records.into_iter().map(ExportView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(items, next, &key)))
}

async fn record(state: &State, ctx: &Ctx<'_>) -> Result<ExportRecord, ApiError> {
    let p = ctx.principal()?;
    let id = ctx.path_param("export_id")?;
    state.exports.get(&p.tenant_id, &id).await.map_err(api_error)?.ok_or(ApiError::NotFound)
}

#[utoipa::path(
    get,
    path = "/v1/exports/{export_id}",
    operation_id = "getExport",
    tag = "exports",
    summary = "Get one export",
    description = "Where the export stands; once `ready`, its SHA-256, size, checkpoint and counts.",
    params(("export_id" = String, Path, description = "The export's id.")),
    responses(
        (status = 200, description = "The export.", body = ExportView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, &ExportView::from(record(state, ctx).await?)))
}

/// A presigned download of a package.
#[derive(Debug, Serialize, ToSchema)]
struct ExportDownloadView {
    /// A URL that downloads the package without credentials.
    url: String,
    /// When the URL stops working (RFC 3339).
    #[schema(format = DateTime)]
    expires_at: String,
    /// SHA-256 of the package (hex): check the download against it.
    sha256: String,
    /// Size in bytes.
    size: u64,
    /// A suggested file name.
    #[schema(example = "kushim-acme-soc2-2026-01-01-2026-09-30.zip")]
    file_name: String,
}

#[utoipa::path(
    get,
    path = "/v1/exports/{export_id}/download",
    operation_id = "downloadExport",
    tag = "exports",
    summary = "Get a download URL for a ready package",
    description = "A presigned URL, valid for 15 minutes, to the exact package version the export recorded. \
        `409` while the export is not ready.",
    params(("export_id" = String, Path, description = "The export's id.")),
    responses(
        (status = 200, description = "The download URL.", body = ExportDownloadView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn download(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let record = record(state, ctx).await?;
    let (Some(key), Some(sha256), Some(size)) = (&record.blob_key, &record.sha256, record.size) else {
        return Err(ApiError::Conflict(format!(
            "the export is {}; download it once it is ready",
            record.status.as_str()
        )));
    };
    let signed = state.blobs.presign_get(key, record.version_id.as_deref(), PRESIGN_TTL).await?;
    Ok(json_response(
        StatusCode::OK,
        &ExportDownloadView {
            url: signed.url,
            expires_at: rfc3339(signed.expires_at),
            sha256: sha256.clone(),
            size,
            file_name: record.file_name(),
        },
    ))
}

#[derive(OpenApi)]
#[openapi(
    paths(create, list, get, download),
    tags((name = "exports", description = "Auditor packages: a deterministic, self-verifying ZIP per framework and window."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
