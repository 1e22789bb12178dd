//! `api-tenant`: read the tenant (every role) and replace its settings (owners only).

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::openapi as problems;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::Permission;
use kushim_identity::{Identity, TenantRecord, TenantSettings};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    identity: Identity,
    table: Arc<dyn Table>,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the identity service and the route table.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self {
            identity: kushim_identity::wiring::identity(config, backends)?,
            table: backends.table()?,
            routes: routes(),
        })
    }
}

/// The function's routes (each must also be in `template.yaml`).
pub fn routes() -> Vec<Route<State>> {
    use Access::Requires;
    vec![
        Route {
            method: "GET",
            path: "/v1/tenant",
            access: Requires(Permission::TenantRead),
            handler: |s, c| Box::pin(get(s, c)),
        },
        Route {
            method: "PATCH",
            path: "/v1/tenant",
            access: Requires(Permission::TenantManage),
            handler: |s, c| Box::pin(update(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

/// What the API shows of the tenant.
#[derive(Serialize, ToSchema)]
struct TenantView {
    /// The tenant's id.
    id: String,
    /// Its display name.
    name: String,
    /// When it was created (RFC 3339).
    created_at: String,
    /// Its settings.
    settings: TenantSettings,
}

impl From<TenantRecord> for TenantView {
    fn from(t: TenantRecord) -> Self {
        Self { id: t.id.to_string(), name: t.name, created_at: t.created_at, settings: t.settings }
    }
}

#[utoipa::path(
    get,
    path = "/v1/tenant",
    operation_id = "getTenant",
    tag = "tenant",
    summary = "Get the caller's tenant",
    description = "The tenant's id, name, creation time and settings.",
    responses(
        (status = 200, description = "The tenant.", body = TenantView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    Ok(json_response(StatusCode::OK, &TenantView::from(state.identity.tenant(&p.tenant_id).await?)))
}

/// The tenant's new settings (they replace the current ones as a whole).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateTenantRequest {
    /// Every setting, all fields required.
    settings: TenantSettings,
}

#[utoipa::path(
    patch,
    path = "/v1/tenant",
    operation_id = "updateTenant",
    tag = "tenant",
    summary = "Replace the tenant's settings",
    description = "Replaces the tenant-wide settings: time zone, per-minute request budget (10-10000), allowed \
        invitation email domains (up to 50) and session length in days (1-90). Owners only.",
    request_body(content = UpdateTenantRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The tenant with its new settings.", body = TenantView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn update(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: UpdateTenantRequest = body::json(ctx.req)?;
    let tenant = state.identity.update_settings(p, input.settings).await?;
    let event =
        NewEvent::from_ctx(ctx, "tenant.update_settings", Some(format!("tenant:{}", p.tenant_id)), Outcome::Success);
    audit::record(state.table.as_ref(), &p.tenant_id, event).await;
    Ok(json_response(StatusCode::OK, &TenantView::from(tenant)))
}

#[derive(OpenApi)]
#[openapi(
    paths(get, update),
    tags((name = "tenant", description = "The caller's tenant and its settings."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
