//! `api-evidence`: the tenant's evidence. Everyone who can read evidence (auditors included) can
//! list it (current, expired or all), read one record and download its bytes through a short-lived
//! presigned URL, verify the whole ledger and list its signed checkpoints; the checkpoint public
//! key is published to anyone, so exports can be verified offline. Members, admins and owners can
//! edit a record's metadata (title, description, effective period, freshness, linked controls) with
//! optimistic locking (`If-Match` or `version`); content never changes, and every edit is ledgered.
//!
//! Manual evidence is uploaded in two steps: the caller declares the digest, size and media type
//! and gets a presigned PUT URL into the upload staging bucket (no Object Lock, so a refused upload
//! can really be deleted); once the bytes are there, finalizing checks them against the
//! declaration, stores them as evidence in the locked evidence bucket for the tenant's retention
//! period and deletes the staged object. Uploads and edits re-evaluate the linked controls, whose
//! status depends on their manual evidence being fresh. The tenant always comes from the verified
//! principal.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::BlobStore;
use kushim_adapters::keys;
use kushim_adapters::table::{Item, Table};
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_compliance::Compliance;
use kushim_domain::{Permission, Sha256Digest, TenantId};
use kushim_evidence::{
    Checkpoint, Checkpoints, Content, Currency, EvidenceError, EvidenceFilter, EvidenceRecord, EvidenceStore,
    MetadataPatch, NewEvidence, RetentionPolicy, Source, verify_tenant,
};
use kushim_identity::signing::CursorKey;
use kushim_lambda::Problem;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Largest manual upload.
pub const MAX_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;
/// How long a presigned URL works.
const PRESIGN_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a pending upload can be finalized.
const PENDING_TTL_SECS: i64 = 3600;
/// Media types a manual upload may have (besides the Office Open XML family).
const MEDIA_TYPES: [&str; 6] =
    ["application/pdf", "image/png", "image/jpeg", "text/csv", "application/json", "text/plain"];
/// The Office Open XML family (docx, xlsx, pptx).
const OOXML_PREFIX: &str = "application/vnd.openxmlformats-officedocument.";

/// Everything the handlers need, built once per process.
pub struct State {
    store: EvidenceStore,
    checkpoints: Checkpoints,
    compliance: Compliance,
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    staging: Arc<dyn BlobStore>,
    cursor_key: CursorKey,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the evidence store, the checkpoints and the route table.
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let blobs = backends.blobs()?;
        Ok(Self {
            store: EvidenceStore::new(table.clone(), blobs.clone()),
            checkpoints: Checkpoints::new(table.clone(), backends.secrets()?),
            compliance: Compliance::new(table.clone()),
            cursor_key: kushim_identity::wiring::cursor_key(backends)?,
            staging: backends.staging()?,
            table,
            blobs,
            routes: routes(),
        })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::{Public, Requires};
    vec![
        Route {
            method: "GET",
            path: "/v1/evidence",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/{digest}",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(get(s, c)),
        },
        Route {
            method: "PATCH",
            path: "/v1/evidence/{digest}",
            access: Requires(Permission::EvidenceWrite),
            handler: |s, c| Box::pin(update(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/{digest}/download",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(download(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/evidence/uploads",
            access: Requires(Permission::EvidenceWrite),
            handler: |s, c| Box::pin(create_upload(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/evidence/uploads/{upload_id}/finalize",
            access: Requires(Permission::EvidenceWrite),
            handler: |s, c| Box::pin(finalize(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/verify",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(verify(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/checkpoints",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(list_checkpoints(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/evidence/checkpoints",
            access: Requires(Permission::EvidenceWrite),
            handler: |s, c| Box::pin(create_checkpoint(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/public-key",
            access: Public,
            handler: |s, c| Box::pin(public_key(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/evidence/retention",
            access: Requires(Permission::EvidenceRead),
            handler: |s, c| Box::pin(get_retention(s, c)),
        },
        Route {
            method: "PUT",
            path: "/v1/evidence/retention",
            access: Requires(Permission::TenantManage),
            handler: |s, c| Box::pin(put_retention(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How an evidence failure is shown to the caller.
fn api_error(e: EvidenceError) -> ApiError {
    match e {
        EvidenceError::Adapter(AdapterError::NotFound(_)) | EvidenceError::NotFound(_) => ApiError::NotFound,
        EvidenceError::Adapter(e) => e.into(),
        e @ (EvidenceError::InvalidRetention(_) | EvidenceError::Invalid(_) | EvidenceError::UnknownControl(_)) => {
            ApiError::Validation(e.to_string())
        }
        EvidenceError::VersionConflict { current } => ApiError::Conflict(format!(
            "the evidence was changed since it was read; its version is now {current}: read it again and retry"
        )),
        e @ EvidenceError::Tampered { .. } => {
            tracing::error!(error = %e, "evidence failed its integrity check");
            ApiError::Conflict("the evidence failed its integrity check; run GET /v1/evidence/verify".into())
        }
        EvidenceError::Contended(_) => ApiError::Unavailable,
        e => {
            tracing::error!(error = %e, "evidence service failed");
            ApiError::Internal
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::Validation(format!("{field} must be an RFC 3339 date-time")))
        })
        .transpose()
}

/// A digest from the path; anything that is not a SHA-256 in hex is simply not found.
fn path_digest(ctx: &Ctx<'_>) -> Result<String, ApiError> {
    let digest = ctx.path_param("digest")?.to_ascii_lowercase();
    Sha256Digest::from_hex(&digest).map_err(|_| ApiError::NotFound)?;
    Ok(digest)
}

/// Where evidence came from.
#[derive(Debug, Serialize, ToSchema)]
struct SourceView {
    /// Connector (`aws`, `github`, `manual`, …).
    #[schema(example = "manual")]
    connector: String,
    /// The tenant's integration it was collected through.
    #[serde(skip_serializing_if = "Option::is_none")]
    integration_id: Option<String>,
    /// The API call that produced it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "iam:ListUsers")]
    api_call: Option<String>,
    /// Cloud region.
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<String>,
    /// Cloud account.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    /// Source repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<String>,
}

/// A stored piece of evidence.
#[derive(Debug, Serialize, ToSchema)]
struct EvidenceView {
    /// SHA-256 of the stored bytes (hex); the evidence's id.
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    digest: String,
    /// Media type.
    #[schema(example = "application/pdf")]
    media_type: String,
    /// Size in bytes.
    size: u64,
    /// A human title.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Q3 access review")]
    title: Option<String>,
    /// A longer description.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    /// Where it came from.
    source: SourceView,
    /// When it was collected (RFC 3339).
    #[schema(format = DateTime)]
    collected_at: String,
    /// Start of the period it is effective for (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    effective_from: Option<String>,
    /// End of the period it is effective for (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    effective_to: Option<String>,
    /// When it stops being fresh (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    valid_until: Option<String>,
    /// Whether it is past `valid_until`: no longer current (its controls need newer evidence), but
    /// still stored, locked and verifiable.
    expired: bool,
    /// Controls it supports.
    controls: Vec<String>,
    /// Checks it supports.
    checks: Vec<String>,
    /// When its COMPLIANCE retention ends; it cannot be deleted before (RFC 3339).
    #[schema(format = DateTime)]
    retain_until: String,
    /// When it was stored (RFC 3339).
    #[schema(format = DateTime)]
    stored_at: String,
    /// Starts at 1; each metadata edit adds one. Send it back (or the `ETag`) to edit.
    version: u64,
    /// When its metadata was last edited (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

impl EvidenceView {
    fn of(r: EvidenceRecord, now: DateTime<Utc>) -> Self {
        let expired = r.is_expired(now);
        Self {
            digest: r.digest,
            media_type: r.media_type,
            size: r.size,
            title: r.title,
            description: r.description,
            source: SourceView {
                connector: r.source.connector,
                integration_id: r.source.integration_id,
                api_call: r.source.api_call,
                region: r.source.region,
                account: r.source.account,
                repo: r.source.repo,
            },
            collected_at: rfc3339(r.collected_at),
            effective_from: r.effective_from.map(rfc3339),
            effective_to: r.effective_to.map(rfc3339),
            valid_until: r.valid_until.map(rfc3339),
            expired,
            controls: r.controls,
            checks: r.checks,
            retain_until: rfc3339(r.retain_until),
            stored_at: rfc3339(r.stored_at),
            version: r.version,
            updated_at: r.updated_at.map(rfc3339),
        }
    }
}

/// The record's version as an entity tag.
fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The record as JSON, with its version as the `ETag`.
fn record_response(status: StatusCode, record: EvidenceRecord) -> Response {
    let tag = etag(record.version);
    let mut resp = json_response(status, &EvidenceView::of(record, Utc::now()));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        resp.headers_mut().insert("etag", v);
    }
    resp
}

/// The controls whose evaluation depends on these records' links, evaluated again (evidence is
/// already stored; a failure here only delays the status until the next evaluation).
async fn reevaluate(state: &State, tenant: &TenantId, records: &[&EvidenceRecord]) {
    let mut controls: Vec<String> = records.iter().flat_map(|r| r.controls.iter().cloned()).collect();
    controls.sort();
    controls.dedup();
    if controls.is_empty() {
        return;
    }
    if let Err(e) = state.compliance.reevaluate_controls(tenant, &controls, Utc::now()).await {
        tracing::warn!(error = %e, "could not re-evaluate the controls of changed evidence");
    }
}

#[utoipa::path(
    get,
    path = "/v1/evidence",
    operation_id = "listEvidence",
    tag = "evidence",
    summary = "List the tenant's evidence",
    description = "The tenant's evidence records in digest order, a page at a time. By default only current \
        evidence (not past its `valid_until`); `status=expired` lists what has expired (still stored, locked and \
        verifiable) and `status=all` both. Pass `next_cursor` back as `cursor` for the next page (with the same \
        `status`); a page may hold fewer than `limit` records even when more follow.",
    params(
        ("status" = Option<String>, Query, description = "`current` (default), `expired` or `all`.", example = "current"),
        ("control" = Option<String>, Query, description = "Only evidence linked to this control.", example = "KC-IAM-01"),
        ("source" = Option<String>, Query, description = "Only evidence from this connector: `aws`, `github`, `okta` or `manual`."),
        ("from" = Option<String>, Query, description = "Only evidence effective (or collected) at or after this RFC 3339 time."),
        ("to" = Option<String>, Query, description = "Only evidence effective (or collected) at or before this RFC 3339 time."),
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 25).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of evidence records.", body = PageBody<EvidenceView>),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let currency = match ctx.query("status").as_deref() {
        None | Some("current") => Currency::Current,
        Some("expired") => Currency::Expired,
        Some("all") => Currency::All,
        Some(_) => return Err(ApiError::Validation("status must be current, expired or all".into())),
    };
    let control = ctx.query("control");
    if let Some(c) = &control
        && kushim_catalog::catalog().control(c).is_none()
    {
        return Err(ApiError::Validation(format!("{c} is not a Kushim control")));
    }
    let filter = EvidenceFilter {
        currency,
        control,
        connector: ctx.query("source"),
        from: parse_time("from", ctx.query("from").as_deref())?,
        to: parse_time("to", ctx.query("to").as_deref())?,
    };
    let key = state.cursor_key.get().await?;
    let (limit, cursor) = (paging::limit(ctx)?, paging::cursor(ctx, &key)?);
    let now = Utc::now();
    let (records, next) =
        state.store.list_filtered(&p.tenant_id, &filter, now, limit, cursor).await.map_err(api_error)?;
    let items: Vec<EvidenceView> = records.into_iter().map(|r| EvidenceView::of(r, now)).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(items, next, &key)))
}

#[utoipa::path(
    get,
    path = "/v1/evidence/{digest}",
    operation_id = "getEvidence",
    tag = "evidence",
    summary = "Get one evidence record",
    description = "One evidence record of the caller's tenant, by the SHA-256 of its bytes. The `ETag` is its \
        version, for `If-Match` on an edit.",
    params(("digest" = String, Path, description = "The evidence's SHA-256 (hex).")),
    responses(
        (status = 200, description = "The evidence record.", body = EvidenceView,
            headers(("ETag" = String, description = "The record's version, quoted."))),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let digest = path_digest(ctx)?;
    let record = state.store.get(&p.tenant_id, &digest).await.map_err(api_error)?.ok_or(ApiError::NotFound)?;
    Ok(record_response(StatusCode::OK, record))
}

/// `Some(v)` for a field present in the body (`v` is `None` for `null`), `None` when absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A metadata edit: fields left out stay as they are, `null` clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateEvidenceRequest {
    /// The version being edited (the record's `version`); or send it as `If-Match`.
    #[serde(default)]
    version: Option<u64>,
    /// A human title, 1-200 characters on one line; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, example = "Q3 access review")]
    title: Option<Option<String>>,
    /// A description, at most 4000 characters; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    description: Option<Option<String>>,
    /// Start of the period the evidence is effective for (RFC 3339); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = DateTime, example = "2026-07-01T00:00:00Z")]
    effective_from: Option<Option<String>>,
    /// End of the period the evidence is effective for (RFC 3339); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = DateTime, example = "2026-09-30T23:59:59Z")]
    effective_to: Option<Option<String>>,
    /// When the evidence stops being current (RFC 3339); `null` makes it current for ever.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = DateTime, example = "2027-09-30T00:00:00Z")]
    valid_until: Option<Option<String>>,
    /// The controls it supports (Kushim control ids, at most 40); replaces the current links.
    #[serde(default)]
    #[schema(example = json!(["KC-IAM-01"]))]
    controls: Option<Vec<String>>,
}

/// The version an `If-Match` header names (`"3"`, `W/"3"`), or a 400 when it names none.
fn if_match_version(value: &str) -> Result<u64, ApiError> {
    let tag = value.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ApiError::Validation("If-Match must be the ETag of the evidence, e.g. \"3\"".into()))
}

fn parse_patch_time(field: &str, value: Option<Option<String>>) -> Result<Option<Option<DateTime<Utc>>>, ApiError> {
    value.map(|v| parse_time(field, v.as_deref())).transpose()
}

#[utoipa::path(
    patch,
    path = "/v1/evidence/{digest}",
    operation_id = "updateEvidence",
    tag = "evidence",
    summary = "Edit evidence metadata",
    description = "Edits a record's title, description, effective period, `valid_until` and linked controls; its \
        bytes, digest, size, media type, source and collection time never change. Name the version you read, as \
        `If-Match` (the `ETag`) or as `version` in the body: an edit of an older version is refused (412 with \
        `If-Match`, 409 with `version`), so concurrent edits never overwrite each other silently. Every edit is \
        recorded in the tenant's ledger, and the linked controls (old and new) are evaluated again.",
    params(
        ("digest" = String, Path, description = "The evidence's SHA-256 (hex)."),
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the version being edited, e.g. `\"3\"`."),
    ),
    request_body(content = UpdateEvidenceRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The edited record.", body = EvidenceView,
            headers(("ETag" = String, description = "The record's new version, quoted."))),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 412, description = "The `If-Match` version is not the current one: read the record again.", body = Problem, content_type = "application/problem+json"),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 428, description = "Neither `If-Match` nor `version` says which version is edited.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn update(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let digest = path_digest(ctx)?;
    let input: UpdateEvidenceRequest = body::json(ctx.req)?;
    let if_match = ctx.header("if-match").map(if_match_version).transpose()?;
    let expected = match (if_match, input.version) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::Validation("If-Match and version name different versions".into()));
        }
        (Some(v), _) | (None, Some(v)) => v,
        (None, None) => {
            let problem =
                Problem::new(StatusCode::PRECONDITION_REQUIRED, "precondition-required", "Precondition required")
                    .detail("say which version you are editing: send its ETag as If-Match, or its version in the body");
            return Ok(problem.for_request(ctx.req));
        }
    };
    let patch = MetadataPatch {
        title: input.title,
        description: input.description,
        effective_from: parse_patch_time("effective_from", input.effective_from)?,
        effective_to: parse_patch_time("effective_to", input.effective_to)?,
        valid_until: parse_patch_time("valid_until", input.valid_until)?,
        controls: input.controls,
    };
    let before = state.store.get(&p.tenant_id, &digest).await.map_err(api_error)?.ok_or(ApiError::NotFound)?;
    let edited = match state.store.update_metadata(&p.tenant_id, &digest, patch, expected, Utc::now()).await {
        Ok(edited) => edited,
        Err(EvidenceError::VersionConflict { current }) if if_match.is_some() => {
            let problem = Problem::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", "Precondition failed")
                .detail(format!("the evidence is at version {current}, not the one in If-Match: read it again"));
            return Ok(problem.for_request(ctx.req));
        }
        Err(e) => return Err(api_error(e)),
    };
    if edited.version != before.version {
        audit::record_success(state.table.as_ref(), ctx, "evidence.update", format!("evidence:{digest}")).await;
        reevaluate(state, &p.tenant_id, &[&before, &edited]).await;
    }
    Ok(record_response(StatusCode::OK, edited))
}

/// A presigned download.
#[derive(Debug, Serialize, ToSchema)]
struct DownloadView {
    /// A URL that downloads the evidence's bytes (the version its record pins) without credentials.
    url: String,
    /// When the URL stops working (RFC 3339).
    #[schema(format = DateTime)]
    expires_at: String,
}

#[utoipa::path(
    get,
    path = "/v1/evidence/{digest}/download",
    operation_id = "downloadEvidence",
    tag = "evidence",
    summary = "Get a download URL for evidence",
    description = "A presigned URL, valid for 15 minutes, that downloads exactly the bytes the record pins.",
    params(("digest" = String, Path, description = "The evidence's SHA-256 (hex).")),
    responses(
        (status = 200, description = "The download URL.", body = DownloadView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn download(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let digest = path_digest(ctx)?;
    let record = state.store.get(&p.tenant_id, &digest).await.map_err(api_error)?.ok_or(ApiError::NotFound)?;
    let signed = state.blobs.presign_get(&record.blob_key, Some(&record.version_id), PRESIGN_TTL).await?;
    Ok(json_response(StatusCode::OK, &DownloadView { url: signed.url, expires_at: rfc3339(signed.expires_at) }))
}

/// A manual upload, declared before the bytes are sent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateUploadRequest {
    /// SHA-256 of the bytes that will be uploaded (hex).
    #[schema(example = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    sha256: String,
    /// Size of the bytes, 1 byte to 25 MiB.
    #[schema(minimum = 1, maximum = 26_214_400)]
    size: u64,
    /// Media type: application/pdf, image/png, image/jpeg, text/csv, application/json, text/plain or an
    /// Office Open XML type (application/vnd.openxmlformats-officedocument.*).
    #[schema(example = "application/pdf")]
    media_type: String,
    /// A human title, at most 200 characters.
    #[serde(default)]
    #[schema(example = "Q3 access review sign-off")]
    title: Option<String>,
}

/// What the client does next: PUT the bytes to `url` with `headers`, then finalize.
#[derive(Debug, Serialize, ToSchema)]
struct UploadCreated {
    /// The upload's id, for finalizing.
    upload_id: String,
    /// Where to send the bytes.
    url: String,
    /// The HTTP method to use.
    #[schema(example = "PUT")]
    method: String,
    /// Headers to send unchanged.
    headers: BTreeMap<String, String>,
    /// When the URL stops working (RFC 3339).
    #[schema(format = DateTime)]
    expires_at: String,
}

/// A pending upload, as stored.
#[derive(Debug, Serialize, Deserialize)]
struct PendingUpload {
    sha256: String,
    size: u64,
    media_type: String,
    #[serde(default)]
    title: Option<String>,
}

fn allowed_media_type(media_type: &str) -> bool {
    MEDIA_TYPES.contains(&media_type)
        || media_type.strip_prefix(OOXML_PREFIX).is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
}

fn staging_key(tenant: &TenantId, upload_id: &str) -> String {
    format!("tenants/{tenant}/uploads/{upload_id}")
}

#[utoipa::path(
    post,
    path = "/v1/evidence/uploads",
    operation_id = "createEvidenceUpload",
    tag = "evidence",
    summary = "Start a manual evidence upload",
    description = "Declares the SHA-256, size and media type of a file and returns a presigned URL, valid for 15 \
        minutes, that accepts exactly those bytes. Finalize the upload within an hour. Files are limited to 25 MiB \
        and to PDF, PNG, JPEG, CSV, JSON, plain text and Office Open XML documents. Retries are safe with an \
        Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = CreateUploadRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Where and how to send the bytes.", body = UploadCreated),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn create_upload(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: CreateUploadRequest = body::json(ctx.req)?;
    let sha256 = Sha256Digest::from_hex(&input.sha256.to_ascii_lowercase())
        .map_err(|_| ApiError::Validation("sha256 must be 64 hexadecimal characters".into()))?;
    if input.size == 0 || input.size > MAX_UPLOAD_BYTES {
        return Err(ApiError::Validation(format!("size must be from 1 to {MAX_UPLOAD_BYTES} bytes")));
    }
    if !allowed_media_type(&input.media_type) {
        return Err(ApiError::Validation(format!("media type {:?} is not accepted", input.media_type)));
    }
    if input.title.as_ref().is_some_and(|t| t.trim().is_empty() || t.chars().count() > 200) {
        return Err(ApiError::Validation("title must be 1-200 characters".into()));
    }
    idempotency::once(state.table.as_ref(), ctx, || async {
        let now = Utc::now();
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let key = staging_key(&p.tenant_id, &upload_id);
        let signed = state.staging.presign_put(&key, sha256, &input.media_type, PRESIGN_TTL).await?;
        let pending = PendingUpload {
            sha256: sha256.to_hex(),
            size: input.size,
            media_type: input.media_type.clone(),
            title: input.title.clone(),
        };
        let attrs = match serde_json::to_value(&pending) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(ApiError::Internal),
        };
        let item = Item {
            attrs,
            expires_at: Some(now.timestamp() + PENDING_TTL_SECS),
            ..Item::new(keys::evidence_upload(&p.tenant_id, &upload_id))
        };
        state.table.put(item, None).await?;
        audit::record_success(state.table.as_ref(), ctx, "evidence.upload.create", format!("upload:{upload_id}")).await;
        let created = UploadCreated {
            upload_id,
            url: signed.url,
            method: signed.method,
            headers: signed.headers.into_iter().collect(),
            expires_at: rfc3339(signed.expires_at),
        };
        Ok(json_response(StatusCode::CREATED, &created))
    })
    .await
}

/// What the uploaded file is evidence of.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct FinalizeUploadRequest {
    /// A human title, at most 200 characters (replaces the one given when the upload started).
    #[serde(default)]
    title: Option<String>,
    /// A description, at most 4000 characters.
    #[serde(default)]
    description: Option<String>,
    /// Controls the file supports (catalog ids).
    #[schema(example = json!(["KC-IAM-01"]))]
    controls: Vec<String>,
    /// Start of the period the file is effective for (RFC 3339).
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-07-01T00:00:00Z")]
    effective_from: Option<String>,
    /// End of the period the file is effective for (RFC 3339).
    #[serde(default)]
    #[schema(format = DateTime, example = "2026-09-30T23:59:59Z")]
    effective_to: Option<String>,
    /// When the file stops being fresh (RFC 3339).
    #[serde(default)]
    #[schema(format = DateTime, example = "2027-09-30T00:00:00Z")]
    valid_until: Option<String>,
}

/// Upload ids are 32 lowercase hex characters; anything else is not found.
fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[utoipa::path(
    post,
    path = "/v1/evidence/uploads/{upload_id}/finalize",
    operation_id = "finalizeEvidenceUpload",
    tag = "evidence",
    summary = "Finalize a manual evidence upload",
    description = "Checks the uploaded bytes against the declared size and SHA-256 and stores them as evidence, \
        locked for the tenant's retention period and recorded in its ledger. Bytes that do not match are deleted \
        and refused (422); finalizing before the bytes arrived is a conflict (409). Storing a file the tenant \
        already holds returns the existing record. Retries are safe with an Idempotency-Key.",
    params(
        ("upload_id" = String, Path, description = "The upload's id."),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours."),
    ),
    request_body(content = FinalizeUploadRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The stored evidence.", body = EvidenceView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, description = "The uploaded bytes do not match the declared size or SHA-256 (they were deleted), or the Idempotency-Key was already used with a different request.", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn finalize(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let upload_id = ctx.path_param("upload_id")?;
    if !valid_upload_id(&upload_id) {
        return Err(ApiError::NotFound);
    }
    let input: FinalizeUploadRequest = body::json(ctx.req)?;
    let effective_from = parse_time("effective_from", input.effective_from.as_deref())?;
    let effective_to = parse_time("effective_to", input.effective_to.as_deref())?;
    let valid_until = parse_time("valid_until", input.valid_until.as_deref())?;
    if input.title.as_ref().is_some_and(|t| t.trim().is_empty() || t.chars().count() > 200) {
        return Err(ApiError::Validation("title must be 1-200 characters".into()));
    }
    let catalog = kushim_catalog::catalog();
    let mut controls = input.controls.clone();
    controls.sort();
    controls.dedup();
    if let Some(unknown) = controls.iter().find(|c| catalog.control(c).is_none()) {
        return Err(ApiError::Validation(format!("unknown control {unknown}")));
    }
    idempotency::once(state.table.as_ref(), ctx, || async {
        let now = Utc::now();
        let pending_key = keys::evidence_upload(&p.tenant_id, &upload_id);
        let pending_item = state.table.get(&pending_key).await?.ok_or(ApiError::NotFound)?;
        if pending_item.expires_at.is_some_and(|t| t <= now.timestamp()) {
            return Err(ApiError::NotFound);
        }
        let pending: PendingUpload = pending_item.parse()?;
        let key = staging_key(&p.tenant_id, &upload_id);
        let staged = match state.staging.get(&key, None).await {
            Ok(blob) => blob,
            Err(AdapterError::NotFound(_)) => {
                return Err(ApiError::Conflict("nothing has been uploaded yet; PUT the bytes to the URL first".into()));
            }
            Err(e) => return Err(e.into()),
        };
        let actual = kushim_domain::sha256(&staged.bytes).to_hex();
        if staged.bytes.len() as u64 != pending.size || actual != pending.sha256 {
            // The staging bucket locks nothing: drop the object and the declaration.
            discard_staged(state, &key, &staged.meta.version_id, "a refused upload").await;
            state.table.delete(&pending_key, None).await?;
            let problem = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "upload-mismatch", "Upload does not match")
                .detail("the uploaded bytes do not match the declared size or SHA-256; start a new upload");
            return Ok(problem.for_request(ctx.req));
        }
        let retention = state.store.retention_policy(&p.tenant_id).await.map_err(api_error)?;
        let new = NewEvidence {
            content: Content::Bytes(staged.bytes),
            title: input.title.clone().or(pending.title),
            description: input.description.clone(),
            media_type: pending.media_type,
            source: Source { connector: "manual".into(), ..Source::default() },
            collected_at: now,
            effective_from,
            effective_to,
            valid_until,
            controls: controls.clone(),
            checks: Vec::new(),
        };
        let record = state.store.put(&p.tenant_id, new, retention, now).await.map_err(api_error)?;
        discard_staged(state, &key, &staged.meta.version_id, "a finalized upload").await;
        state.table.delete(&pending_key, None).await?;
        reevaluate(state, &p.tenant_id, &[&record]).await;
        audit::record_success(
            state.table.as_ref(),
            ctx,
            "evidence.upload.finalize",
            format!("evidence:{}", record.digest),
        )
        .await;
        Ok(record_response(StatusCode::CREATED, record))
    })
    .await
}

/// Deletes a staged object for good: by version where the store keeps versions (the embedded
/// store), plainly on the unversioned staging bucket (S3 reports its objects' version as `null`).
async fn discard_staged(state: &State, key: &str, version_id: &str, what: &str) {
    let version = Some(version_id).filter(|v| *v != "null");
    if let Err(e) = state.staging.delete(key, version).await {
        tracing::warn!(code = e.code(), "could not delete {what} from the staging bucket");
    }
}

/// One problem verification found.
#[derive(Debug, Serialize, ToSchema)]
struct VerifyProblemView {
    /// The ledger entry (or checkpoint) sequence number.
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    /// The evidence digest, when the problem concerns evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<String>,
    /// What is wrong (`altered`, `missing`, `broken_link`, `blob_altered`, …).
    #[schema(example = "blob_altered")]
    kind: String,
    /// What is wrong, in words.
    description: String,
}

impl From<&kushim_evidence::Problem> for VerifyProblemView {
    fn from(p: &kushim_evidence::Problem) -> Self {
        let kind = serde_json::to_value(&p.kind)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_owned))
            .unwrap_or_default();
        Self { seq: p.seq, digest: p.digest.clone(), kind, description: p.to_string() }
    }
}

/// The outcome of verifying the tenant's evidence.
#[derive(Debug, Serialize, ToSchema)]
struct VerifyView {
    /// Whether nothing is wrong.
    valid: bool,
    /// Ledger entries read.
    entries: u64,
    /// Evidence records checked (metadata and bytes).
    evidence: u64,
    /// Checkpoints checked.
    checkpoints: u64,
    /// Every problem, in chain order.
    problems: Vec<VerifyProblemView>,
    /// The first bad entry, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_bad: Option<VerifyProblemView>,
}

#[utoipa::path(
    get,
    path = "/v1/evidence/verify",
    operation_id = "verifyEvidence",
    tag = "evidence",
    summary = "Verify the tenant's evidence",
    description = "Recomputes the tenant's whole evidence ledger: every entry's hash and link, every record's \
        metadata and bytes (against its digest and size), every checkpoint's signature and position. Names the \
        first bad entry.",
    responses(
        (status = 200, description = "The verification report.", body = VerifyView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn verify(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.checkpoints.public_key().await.map_err(api_error)?;
    let report =
        verify_tenant(state.table.as_ref(), state.blobs.as_ref(), &key, &p.tenant_id).await.map_err(api_error)?;
    let view = VerifyView {
        valid: report.is_ok(),
        entries: report.entries,
        evidence: report.evidence,
        checkpoints: report.checkpoints,
        problems: report.problems.iter().map(VerifyProblemView::from).collect(),
        first_bad: report.first_bad.as_ref().map(VerifyProblemView::from),
    };
    Ok(json_response(StatusCode::OK, &view))
}

/// A signed statement of the tenant's ledger head.
#[derive(Debug, Serialize, ToSchema)]
struct CheckpointView {
    /// The tenant.
    tenant: String,
    /// The head's sequence number.
    seq: u64,
    /// The head's hash (hex).
    head_hash: String,
    /// When it was signed (RFC 3339, microseconds).
    #[schema(format = DateTime)]
    time: String,
    /// Ed25519 signature over the canonical JSON of `{tenant, seq, head_hash, time}`, base64url.
    signature: String,
    /// The public key that signed it (raw 32 bytes, base64url).
    public_key: String,
}

impl From<Checkpoint> for CheckpointView {
    fn from(c: Checkpoint) -> Self {
        Self {
            tenant: c.tenant,
            seq: c.seq,
            head_hash: c.head_hash,
            time: c.time,
            signature: c.signature,
            public_key: c.public_key,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/evidence/checkpoints",
    operation_id = "listEvidenceCheckpoints",
    tag = "evidence",
    summary = "List the tenant's checkpoints",
    description = "Every signed checkpoint of the tenant's evidence ledger, oldest first.",
    responses(
        (status = 200, description = "The checkpoints (one page holds them all).", body = PageBody<CheckpointView>),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list_checkpoints(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let items: Vec<CheckpointView> =
        state.checkpoints.list(&p.tenant_id).await.map_err(api_error)?.into_iter().map(Into::into).collect();
    Ok(json_response(StatusCode::OK, &PageBody { items, next_cursor: None }))
}

#[utoipa::path(
    post,
    path = "/v1/evidence/checkpoints",
    operation_id = "createEvidenceCheckpoint",
    tag = "evidence",
    summary = "Checkpoint the tenant's ledger",
    description = "Signs the current head of the tenant's evidence ledger and stores the checkpoint; whoever keeps \
        it can later tell a rewritten history from the real one. Checkpointing an unchanged head returns the \
        checkpoint already stored for it.",
    responses(
        (status = 201, description = "The checkpoint.", body = CheckpointView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn create_checkpoint(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let cp = state.checkpoints.checkpoint(&p.tenant_id, Utc::now()).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "evidence.checkpoint", format!("checkpoint:{}", cp.seq)).await;
    Ok(json_response(StatusCode::CREATED, &CheckpointView::from(cp)))
}

/// The key that signs checkpoints.
#[derive(Debug, Serialize, ToSchema)]
struct PublicKeyView {
    /// Signature algorithm.
    #[schema(example = "Ed25519")]
    algorithm: String,
    /// The raw 32-byte public key, base64url without padding.
    public_key: String,
}

#[utoipa::path(
    get,
    path = "/v1/evidence/public-key",
    operation_id = "getEvidencePublicKey",
    tag = "evidence",
    summary = "Get the checkpoint public key",
    description = "The Ed25519 public key that signs evidence checkpoints, so auditors can verify exported \
        checkpoints offline. No credentials needed.",
    responses(
        (status = 200, description = "The public key.", body = PublicKeyView),
        (status = 429, response = problems::TooManyRequests),
    )
)]
async fn public_key(state: &State, _ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let key = state.checkpoints.public_key().await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &PublicKeyView { algorithm: "Ed25519".into(), public_key: key }))
}

/// How long new evidence stays locked.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RetentionView {
    /// Days of COMPLIANCE retention, 90-2555 (7 years); 365 unless changed.
    #[schema(minimum = 90, maximum = 2555, example = 365)]
    days: u32,
}

#[utoipa::path(
    get,
    path = "/v1/evidence/retention",
    operation_id = "getEvidenceRetention",
    tag = "evidence",
    summary = "Get the evidence retention policy",
    description = "How many days new evidence is locked (COMPLIANCE mode: nobody can delete it sooner).",
    responses(
        (status = 200, description = "The retention policy.", body = RetentionView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_retention(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let policy = state.store.retention_policy(&p.tenant_id).await.map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &RetentionView { days: policy.days }))
}

#[utoipa::path(
    put,
    path = "/v1/evidence/retention",
    operation_id = "setEvidenceRetention",
    tag = "evidence",
    summary = "Set the evidence retention policy",
    description = "Sets how many days new evidence is locked, 90 days to 7 years. Evidence already stored keeps \
        the retention it was locked with.",
    request_body(content = RetentionView, content_type = "application/json"),
    responses(
        (status = 200, description = "The new retention policy.", body = RetentionView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn put_retention(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: RetentionView = body::json(ctx.req)?;
    let policy = RetentionPolicy::new(input.days).map_err(api_error)?;
    let item = Item::new(keys::evidence_retention(&p.tenant_id)).with("days", policy.days);
    state.table.put(item, None).await?;
    audit::record_success(state.table.as_ref(), ctx, "evidence.retention.update", format!("retention:{}", policy.days))
        .await;
    Ok(json_response(StatusCode::OK, &RetentionView { days: policy.days }))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        list,
        get,
        update,
        download,
        create_upload,
        finalize,
        verify,
        list_checkpoints,
        create_checkpoint,
        public_key,
        get_retention,
        put_retention
    ),
    tags((name = "evidence", description = "Evidence: records, metadata edits, downloads, manual uploads, verification, signed checkpoints and retention."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_an_allow_list() {
        for ok in ["application/pdf", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] {
            assert!(allowed_media_type(ok), "{ok}");
        }
        for bad in ["text/html", "application/vnd.openxmlformats-officedocument.", "application/pdf; x=1", ""] {
            assert!(!allowed_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn if_match_names_a_version() {
        assert_eq!(if_match_version("\"3\"").unwrap(), 3);
        assert_eq!(if_match_version(" W/\"12\" ").unwrap(), 12);
        for bad in ["3", "\"x\"", "*", "\"\"", "\"-1\""] {
            assert!(if_match_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_edit_tells_absent_fields_from_null_ones() {
        let input: UpdateEvidenceRequest =
            serde_json::from_str(r#"{"title": null, "valid_until": "2027-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(input.title, Some(None), "null clears");
        assert_eq!(input.description, None, "absent keeps");
        assert_eq!(input.valid_until, Some(Some("2027-01-01T00:00:00Z".into())));
        assert!(serde_json::from_str::<UpdateEvidenceRequest>(r#"{"media_type": "text/plain"}"#).is_err());
    }

    #[test]
    fn upload_ids_are_simple_uuids() {
        assert!(valid_upload_id(&uuid::Uuid::new_v4().simple().to_string()));
        assert!(!valid_upload_id("does-not-exist"));
        assert!(!valid_upload_id(&"A".repeat(32)));
    }
}
