//! `api-exceptions`: exceptions (risk acceptances) of the tenant. Members ask for one, scoped to a
//! control, a check and/or a resource pattern, with a reason and an expiry; an admin or owner other
//! than the requester approves it; while it is active, the failures it covers count as `excepted`.
//! Revoking one brings the failures back at once. Everyone who can read controls (auditors
//! included) can list them.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::PageBody;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_compliance::{Compliance, ComplianceError};
use kushim_domain::Permission;
use kushim_engine::{Exception, ExceptionError, ExceptionScope};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
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
            path: "/v1/exceptions",
            access: Requires(Permission::ControlsRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/exceptions",
            access: Requires(Permission::ExceptionsRequest),
            handler: |s, c| Box::pin(request(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/exceptions/{exception_id}/approve",
            access: Requires(Permission::ExceptionsManage),
            handler: |s, c| Box::pin(approve(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/exceptions/{exception_id}/revoke",
            access: Requires(Permission::ExceptionsManage),
            handler: |s, c| Box::pin(revoke(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// How a compliance failure is shown to the caller.
fn api_error(e: ComplianceError) -> ApiError {
    match e {
        ComplianceError::Storage(e) => e.into(),
        ComplianceError::ExceptionNotFound(_) => ApiError::NotFound,
        ComplianceError::Exception(
            e @ (ExceptionError::EmptyScope | ExceptionError::BadExpiry | ExceptionError::BadReason),
        ) => ApiError::Validation(e.to_string()),
        ComplianceError::Exception(e @ (ExceptionError::SelfApproval | ExceptionError::AlreadyDecided)) => {
            ApiError::Conflict(e.to_string())
        }
        ComplianceError::Exception(ExceptionError::NotAnApprover) => ApiError::Forbidden,
        ComplianceError::UnknownControl(c) => ApiError::Validation(format!("unknown control {c}")),
        ComplianceError::Invalid(m) | ComplianceError::InvalidResult(m) => ApiError::Validation(m),
        e @ ComplianceError::Conflict(_) => ApiError::Conflict(e.to_string()),
        e => {
            tracing::error!(error = %e, "compliance service failed");
            ApiError::Internal
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What an exception covers; every present field must match, absent fields match anything.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ExceptionScopeBody {
    /// A control id.
    #[serde(default)]
    #[schema(example = "KC-IAM-01")]
    control_id: Option<String>,
    /// A check id.
    #[serde(default)]
    #[schema(example = "aws.iam.user_mfa_console")]
    check_id: Option<String>,
    /// A resource id pattern; `*` matches any run of characters.
    #[serde(default)]
    #[schema(example = "arn:aws:iam::111122223333:user/break-glass-*")]
    resource_pattern: Option<String>,
}

/// Where an exception stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ExceptionState {
    /// Awaiting approval; it does not apply yet.
    Requested,
    /// Approved and in force.
    Active,
    /// Its expiry has passed.
    Expired,
    /// Revoked.
    Revoked,
}

/// An exception (risk acceptance).
#[derive(Debug, Serialize, ToSchema)]
struct ExceptionView {
    /// Id.
    id: String,
    /// What it covers.
    scope: ExceptionScopeBody,
    /// Why the risk is accepted.
    reason: String,
    /// Where it stands now.
    state: ExceptionState,
    /// The principal that asked for it.
    requested_by: String,
    /// The principal that approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    approved_by: Option<String>,
    /// When it was approved (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    approved_at: Option<String>,
    /// When it stops applying (RFC 3339).
    #[schema(format = DateTime)]
    expires_at: String,
    /// The control that mitigates the risk meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    compensating_control: Option<String>,
    /// When it was revoked (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
}

impl ExceptionView {
    fn of(e: Exception, now: DateTime<Utc>) -> Self {
        let state = if e.revoked_at.is_some() {
            ExceptionState::Revoked
        } else if e.expires_at <= now {
            ExceptionState::Expired
        } else if e.approved_by.is_some() {
            ExceptionState::Active
        } else {
            ExceptionState::Requested
        };
        Self {
            id: e.id,
            scope: ExceptionScopeBody {
                control_id: e.scope.control_id,
                check_id: e.scope.check_id,
                resource_pattern: e.scope.resource_pattern,
            },
            reason: e.reason,
            state,
            requested_by: e.requested_by,
            approved_by: e.approved_by,
            approved_at: e.approved_at.map(rfc3339),
            expires_at: rfc3339(e.expires_at),
            compensating_control: e.compensating_control,
            revoked_at: e.revoked_at.map(rfc3339),
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/exceptions",
    operation_id = "listExceptions",
    tag = "exceptions",
    summary = "List the tenant's exceptions",
    description = "Every exception of the tenant, oldest first, whatever its state (requested, active, expired \
        or revoked). Auditors and viewers can read them: they are part of the evidence of how controls operated.",
    responses(
        (status = 200, description = "The tenant's exceptions (one page holds them all).", body = PageBody<ExceptionView>),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let now = Utc::now();
    let exceptions = state.compliance.list_exceptions(&p.tenant_id).await.map_err(api_error)?;
    let items: Vec<ExceptionView> = exceptions.into_iter().map(|e| ExceptionView::of(e, now)).collect();
    Ok(json_response(StatusCode::OK, &PageBody { items, next_cursor: None }))
}

/// A request for an exception.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RequestExceptionRequest {
    /// What it covers; at least one field must be given.
    scope: ExceptionScopeBody,
    /// Why the risk is accepted, 1-2000 characters.
    #[schema(example = "Break-glass account; hardware token kept in the safe.")]
    reason: String,
    /// When it stops applying (RFC 3339), in the future and at most a year away.
    #[schema(format = DateTime, example = "2027-03-31T00:00:00Z")]
    expires_at: String,
    /// The control that mitigates the risk meanwhile.
    #[serde(default)]
    #[schema(example = "KC-LOG-01")]
    compensating_control: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/exceptions",
    operation_id = "requestException",
    tag = "exceptions",
    summary = "Request an exception",
    description = "Asks to accept the risk of failures matching the scope until `expires_at`. It does not apply \
        until an admin or owner other than the requester approves it. The control and check named must exist. \
        Retries are safe with an Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = RequestExceptionRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The requested exception.", body = ExceptionView),
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
async fn request(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    people_only(p)?;
    let input: RequestExceptionRequest = body::json(ctx.req)?;
    let expires_at = DateTime::parse_from_rfc3339(&input.expires_at)
        .map_err(|_| ApiError::Validation("expires_at must be an RFC 3339 date-time".into()))?
        .with_timezone(&Utc);
    let scope = ExceptionScope {
        control_id: input.scope.control_id,
        check_id: input.scope.check_id,
        resource_pattern: input.scope.resource_pattern,
    };
    idempotency::once(state.table.as_ref(), ctx, || async {
        let now = Utc::now();
        let exception = state
            .compliance
            .request_exception(
                &p.tenant_id,
                &p.id,
                scope.clone(),
                &input.reason,
                expires_at,
                input.compensating_control.clone(),
                now,
            )
            .await
            .map_err(api_error)?;
        audit::record_success(state.table.as_ref(), ctx, "exception.request", format!("exception:{}", exception.id))
            .await;
        Ok(json_response(StatusCode::CREATED, &ExceptionView::of(exception, now)))
    })
    .await
}

#[utoipa::path(
    post,
    path = "/v1/exceptions/{exception_id}/approve",
    operation_id = "approveException",
    tag = "exceptions",
    summary = "Approve an exception",
    description = "Approves a requested exception; from now until it expires, the failures it covers count as \
        `excepted`, and the controls it affects are re-evaluated at once. The requester can never approve their \
        own exception (409), and an exception already approved or revoked cannot be approved again (409).",
    params(("exception_id" = String, Path, description = "The exception's id.")),
    responses(
        (status = 200, description = "The approved exception.", body = ExceptionView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn approve(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    people_only(p)?;
    let id = ctx.path_param("exception_id")?;
    let now = Utc::now();
    let exception =
        state.compliance.approve_exception(&p.tenant_id, &id, &p.id, p.grant.role, now).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "exception.approve", format!("exception:{id}")).await;
    Ok(json_response(StatusCode::OK, &ExceptionView::of(exception, now)))
}

#[utoipa::path(
    post,
    path = "/v1/exceptions/{exception_id}/revoke",
    operation_id = "revokeException",
    tag = "exceptions",
    summary = "Revoke an exception",
    description = "Revokes an exception at once: the failures it covered are failing again and the controls it \
        affected are re-evaluated. It is kept, marked revoked, for the record. Revoking twice is harmless.",
    params(("exception_id" = String, Path, description = "The exception's id.")),
    responses(
        (status = 200, description = "The revoked exception.", body = ExceptionView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn revoke(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    people_only(p)?;
    let id = ctx.path_param("exception_id")?;
    let now = Utc::now();
    let exception = state.compliance.revoke_exception(&p.tenant_id, &id, now).await.map_err(api_error)?;
    audit::record_success(state.table.as_ref(), ctx, "exception.revoke", format!("exception:{id}")).await;
    Ok(json_response(StatusCode::OK, &ExceptionView::of(exception, now)))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, request, approve, revoke),
    tags((name = "exceptions", description = "Risk acceptances: request, approve, revoke and list exceptions to failing checks."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

/// Risk acceptance is a human decision: API keys may read exceptions but never request, approve
/// or revoke them. This also keeps "the requester cannot approve" sound, since both sides are
/// then user ids (a key could otherwise stand in for its creator).
fn people_only(p: &kushim_api::Principal) -> Result<(), ApiError> {
    if p.kind == kushim_api::PrincipalKind::User { Ok(()) } else { Err(ApiError::Forbidden) }
}
