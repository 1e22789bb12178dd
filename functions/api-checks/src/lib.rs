//! `api-checks`: the checks Kushim runs. `GET /v1/checks` lists the built-in catalog (what each
//! check judges, why, how to fix a failure, the permissions its evidence needs and the controls it
//! supports) together with the tenant's own custom checks. Custom checks are CEL rules over one
//! evidence kind; they are compiled on every write, so a rule that would not run is refused at
//! once with a problem naming the expression at fault.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::PageBody;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_checks::{CheckDef, Severity};
use kushim_compliance::{Compliance, ComplianceError, CustomCheck};
use kushim_domain::Permission;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use kushim_rules::{RuleError, RuleSpec};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    compliance: Compliance,
    table: Arc<dyn Table>,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the compliance service and the route table.
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        Ok(Self { compliance: Compliance::new(table.clone()), table, routes: routes() })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "GET",
            path: "/v1/checks",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(list_checks(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/checks/{check_id}",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(get_check(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/custom-checks/validate",
            access: Requires(Permission::ChecksManage),
            handler: |s, c| Box::pin(validate(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/custom-checks",
            access: Requires(Permission::ChecksManage),
            handler: |s, c| Box::pin(create(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/custom-checks",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(list_custom(s, c)),
        },
        Route {
            method: "PUT",
            path: "/v1/custom-checks/{check_id}",
            access: Requires(Permission::ChecksManage),
            handler: |s, c| Box::pin(update(s, c)),
        },
        Route {
            method: "DELETE",
            path: "/v1/custom-checks/{check_id}",
            access: Requires(Permission::ChecksManage),
            handler: |s, c| Box::pin(delete(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How a compliance failure is shown to the caller. A rule's compile error names the field or
/// expression at fault and holds nothing secret, so it is shown as it is.
fn api_error(e: ComplianceError) -> ApiError {
    match e {
        ComplianceError::Storage(e) => e.into(),
        ComplianceError::CustomCheckNotFound(_) => ApiError::NotFound,
        ComplianceError::Rule(RuleError::Internal(m)) => {
            tracing::error!(error = %m, "compiling a custom check failed");
            ApiError::Internal
        }
        ComplianceError::Rule(e) => ApiError::Validation(e.to_string()),
        ComplianceError::UnknownControl(c) => ApiError::Validation(format!("unknown control {c}")),
        ComplianceError::Invalid(m) | ComplianceError::InvalidResult(m) => ApiError::Validation(m),
        e @ (ComplianceError::CustomCheckExists(_) | ComplianceError::Conflict(_)) => ApiError::Conflict(e.to_string()),
        e => {
            tracing::error!(error = %e, "compliance service failed");
            ApiError::Internal
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How much a failure matters.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CheckSeverity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl From<Severity> for CheckSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Critical => Self::Critical,
            Severity::High => Self::High,
            Severity::Medium => Self::Medium,
            Severity::Low => Self::Low,
            Severity::Info => Self::Info,
        }
    }
}

impl From<CheckSeverity> for Severity {
    fn from(s: CheckSeverity) -> Self {
        match s {
            CheckSeverity::Critical => Self::Critical,
            CheckSeverity::High => Self::High,
            CheckSeverity::Medium => Self::Medium,
            CheckSeverity::Low => Self::Low,
            CheckSeverity::Info => Self::Info,
        }
    }
}

/// How to fix a failure of a built-in check.
#[derive(Debug, Serialize, ToSchema)]
struct CheckRemediation {
    /// Ordered steps, in plain words.
    steps: Vec<String>,
    /// A command line that applies the fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    cli: Option<String>,
    /// An infrastructure-as-code snippet (Terraform) that keeps it fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    iac: Option<String>,
}

/// A check: built in, or one of the tenant's custom checks (`custom: true`).
#[derive(Debug, Serialize, ToSchema)]
struct CheckDetail {
    /// `<connector>.<service>.<name>` for built-in checks, `custom.<slug>` for custom ones.
    #[schema(example = "aws.iam.user_mfa_console")]
    id: String,
    title: String,
    description: String,
    /// Why it matters (built-in checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    rationale: Option<String>,
    severity: CheckSeverity,
    /// The connector whose evidence it judges (`aws`, `github`, `okta`).
    #[schema(example = "aws")]
    connector: String,
    /// What one result is about (built-in checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "aws.iam.user")]
    resource_type: Option<String>,
    /// The kind of evidence it reads.
    #[schema(example = "aws.iam.users")]
    evidence_kind: String,
    /// The IAM actions, GitHub App permissions or Okta scopes its evidence needs.
    permissions: Vec<String>,
    /// How to fix a failure (built-in checks).
    #[serde(skip_serializing_if = "Option::is_none")]
    remediation: Option<CheckRemediation>,
    /// The Kushim control ids it supports.
    controls: Vec<String>,
    /// Whether it is one of the tenant's custom checks.
    custom: bool,
}

impl CheckDetail {
    fn built_in(d: &CheckDef) -> Self {
        let owned = |xs: &[&str]| xs.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        Self {
            id: d.id.to_owned(),
            title: d.title.to_owned(),
            description: d.description.to_owned(),
            rationale: Some(d.rationale.to_owned()),
            severity: d.severity.into(),
            connector: d.connector.as_str().to_owned(),
            resource_type: Some(d.resource_type.to_owned()),
            evidence_kind: d.evidence_kind.to_owned(),
            permissions: owned(d.permissions),
            remediation: Some(CheckRemediation {
                steps: owned(d.remediation.steps),
                cli: d.remediation.cli.map(str::to_owned),
                iac: d.remediation.iac.map(str::to_owned),
            }),
            controls: owned(d.controls),
            custom: false,
        }
    }

    fn custom(c: &CustomCheck) -> Self {
        let s = &c.spec;
        // The permissions a custom check needs are those of the built-in checks reading the same evidence.
        let mut permissions: Vec<String> = kushim_checks::registry()
            .iter()
            .filter(|b| b.def().evidence_kind == s.evidence_kind)
            .flat_map(|b| b.def().permissions.iter().map(|p| (*p).to_owned()))
            .collect();
        permissions.sort_unstable();
        permissions.dedup();
        Self {
            id: s.id.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            rationale: None,
            severity: s.severity.into(),
            connector: s.evidence_kind.split('.').next().unwrap_or_default().to_owned(),
            resource_type: None,
            evidence_kind: s.evidence_kind.clone(),
            permissions,
            remediation: None,
            controls: s.controls.clone(),
            custom: true,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/checks",
    operation_id = "listChecks",
    tag = "checks",
    summary = "List the checks",
    description = "Every built-in check, in catalog order, then the tenant's custom checks (`custom: true`) by \
        id: what each judges, its severity, the evidence and permissions it needs, how to fix a failure and the \
        controls it supports.",
    responses(
        (status = 200, description = "Every check (one page holds them all).", body = PageBody<CheckDetail>),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list_checks(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let custom = state.compliance.list_custom_checks(&p.tenant_id).await.map_err(api_error)?;
    let items: Vec<CheckDetail> = kushim_checks::registry()
        .iter()
        .map(|c| CheckDetail::built_in(c.def()))
        .chain(custom.iter().map(CheckDetail::custom))
        .collect();
    Ok(json_response(StatusCode::OK, &PageBody { items, next_cursor: None }))
}

#[utoipa::path(
    get,
    path = "/v1/checks/{check_id}",
    operation_id = "getCheck",
    tag = "checks",
    summary = "Get a check",
    description = "One built-in check, or one of the tenant's custom checks.",
    params(("check_id" = String, Path, description = "The check's id (it contains dots).", example = "aws.iam.user_mfa_console")),
    responses(
        (status = 200, description = "The check.", body = CheckDetail),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_check(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = ctx.path_param("check_id")?;
    let detail = match kushim_checks::find_check(&id) {
        Some(check) => CheckDetail::built_in(check.def()),
        None => CheckDetail::custom(&state.compliance.custom_check(&p.tenant_id, &id).await.map_err(api_error)?),
    };
    Ok(json_response(StatusCode::OK, &detail))
}

/// A custom check: a rule in the Common Expression Language (CEL) over one kind of evidence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CustomCheckSpec {
    /// `custom.<slug>`: lowercase letters, digits, `_` and `.`, at most 64 characters.
    #[schema(example = "custom.s3_versioning")]
    id: String,
    #[schema(example = "S3 buckets must have versioning enabled")]
    title: String,
    description: String,
    severity: CheckSeverity,
    /// The kind of evidence the rule judges.
    #[schema(example = "aws.s3.buckets")]
    evidence_kind: String,
    /// CEL over `evidence` (and `now`) giving the list of resources to judge.
    #[schema(example = "evidence.buckets")]
    resources: String,
    /// CEL over `resource` giving its id (a string or an integer).
    #[schema(example = "resource.name")]
    resource_id: String,
    /// Optional CEL boolean over `resource`, `evidence` and `now`; false makes the resource not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    applies: Option<String>,
    /// CEL boolean over `resource`, `evidence` and `now`; true passes, false fails.
    #[schema(example = "resource.versioning == 'enabled'")]
    pass: String,
    /// The reason given for a failure; `{id}` is replaced by the resource id.
    #[schema(example = "Bucket {id} does not have versioning enabled.")]
    fail_reason: String,
    /// Kushim control ids the check supports; each must exist in the catalog.
    #[serde(default)]
    #[schema(example = json!(["KC-IAM-01"]))]
    controls: Vec<String>,
}

impl From<CustomCheckSpec> for RuleSpec {
    fn from(s: CustomCheckSpec) -> Self {
        RuleSpec {
            id: s.id,
            title: s.title,
            description: s.description,
            severity: s.severity.into(),
            evidence_kind: s.evidence_kind,
            resources: s.resources,
            resource_id: s.resource_id,
            applies: s.applies,
            pass: s.pass,
            fail_reason: s.fail_reason,
            controls: s.controls,
        }
    }
}

impl From<RuleSpec> for CustomCheckSpec {
    fn from(s: RuleSpec) -> Self {
        CustomCheckSpec {
            id: s.id,
            title: s.title,
            description: s.description,
            severity: s.severity.into(),
            evidence_kind: s.evidence_kind,
            resources: s.resources,
            resource_id: s.resource_id,
            applies: s.applies,
            pass: s.pass,
            fail_reason: s.fail_reason,
            controls: s.controls,
        }
    }
}

/// A stored custom check.
#[derive(Debug, Serialize, ToSchema)]
struct CustomCheckView {
    #[serde(flatten)]
    spec: CustomCheckSpec,
    /// Starts at 1; each update adds one.
    version: u64,
    /// The principal that created it.
    created_by: String,
    /// When it was created (RFC 3339).
    #[schema(format = DateTime)]
    created_at: String,
    /// When it was last changed (RFC 3339).
    #[schema(format = DateTime)]
    updated_at: String,
}

impl From<CustomCheck> for CustomCheckView {
    fn from(c: CustomCheck) -> Self {
        Self {
            spec: c.spec.into(),
            version: c.version,
            created_by: c.created_by,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

/// The outcome of validating a custom check that compiles.
#[derive(Debug, Serialize, ToSchema)]
struct ValidationResult {
    /// Always true: a rule that does not compile gets a 400 problem instead.
    valid: bool,
}

#[utoipa::path(
    post,
    path = "/v1/custom-checks/validate",
    operation_id = "validateCustomCheck",
    tag = "checks",
    summary = "Validate a custom check",
    description = "Compiles the rule exactly as creating it would, without storing anything. A rule that does not \
        compile, names an unknown control or reuses a built-in check's id gets a 400 problem whose detail names \
        the field or expression at fault and why.",
    request_body(content = CustomCheckSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The rule compiles.", body = ValidationResult),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn validate(_state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    ctx.principal()?;
    let input: CustomCheckSpec = body::json(ctx.req)?;
    kushim_compliance::validate_custom_check(&input.into()).map_err(api_error)?;
    Ok(json_response(StatusCode::OK, &ValidationResult { valid: true }))
}

#[utoipa::path(
    post,
    path = "/v1/custom-checks",
    operation_id = "createCustomCheck",
    tag = "checks",
    summary = "Create a custom check",
    description = "Compiles and stores a custom check; it runs with the next collection of its evidence kind. \
        A rule that does not compile gets a 400 problem naming the field or expression at fault; an id the \
        tenant already uses gets a 409. Retries are safe with an Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = CustomCheckSpec, content_type = "application/json"),
    responses(
        (status = 201, description = "The stored custom check.", body = CustomCheckView),
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
async fn create(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: CustomCheckSpec = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let check = state
            .compliance
            .create_custom_check(&p.tenant_id, input.clone().into(), &p.id, Utc::now())
            .await
            .map_err(api_error)?;
        audit::record_success(state.table.as_ref(), ctx, "custom_check.create", format!("check:{}", check.spec.id))
            .await;
        Ok(json_response(StatusCode::CREATED, &CustomCheckView::from(check)))
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/custom-checks",
    operation_id = "listCustomChecks",
    tag = "checks",
    summary = "List the tenant's custom checks",
    description = "The tenant's custom checks by id, each with its rule as submitted.",
    responses(
        (status = 200, description = "The tenant's custom checks (one page holds them all).", body = PageBody<CustomCheckView>),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list_custom(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let checks = state.compliance.list_custom_checks(&p.tenant_id).await.map_err(api_error)?;
    let items: Vec<CustomCheckView> = checks.into_iter().map(CustomCheckView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody { items, next_cursor: None }))
}

#[utoipa::path(
    put,
    path = "/v1/custom-checks/{check_id}",
    operation_id = "updateCustomCheck",
    tag = "checks",
    summary = "Update a custom check",
    description = "Replaces the rule of a custom check; the id in the body must be the one in the path. The new \
        rule is compiled first, and a rule that does not compile leaves the stored one unchanged (400). A \
        concurrent update of the same check gets a 409.",
    params(("check_id" = String, Path, description = "The custom check's id.", example = "custom.s3_versioning")),
    request_body(content = CustomCheckSpec, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated custom check.", body = CustomCheckView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn update(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = ctx.path_param("check_id")?;
    let input: CustomCheckSpec = body::json(ctx.req)?;
    if input.id != id {
        return Err(ApiError::Validation("the id in the body must be the custom check's id in the path".into()));
    }
    let check =
        state.compliance.update_custom_check(&p.tenant_id, input.into(), None, Utc::now()).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "custom_check.update", format!("check:{id}")).await;
    Ok(json_response(StatusCode::OK, &CustomCheckView::from(check)))
}

#[utoipa::path(
    delete,
    path = "/v1/custom-checks/{check_id}",
    operation_id = "deleteCustomCheck",
    tag = "checks",
    summary = "Delete a custom check",
    description = "Deletes a custom check; it no longer runs. Results it already produced stay in the record.",
    params(("check_id" = String, Path, description = "The custom check's id.", example = "custom.s3_versioning")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn delete(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let id = ctx.path_param("check_id")?;
    state.compliance.delete_custom_check(&p.tenant_id, &id).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "custom_check.delete", format!("check:{id}")).await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

#[derive(OpenApi)]
#[openapi(
    paths(list_checks, get_check, validate, create, list_custom, update, delete),
    tags((name = "checks", description = "The checks Kushim runs: the built-in catalog and the tenant's custom checks (CEL rules)."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
