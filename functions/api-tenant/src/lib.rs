//! `api-tenant`: read the tenant (every role) and replace its settings (owners only).

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::Permission;
use kushim_identity::{Identity, TenantRecord, TenantSettings};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::{Deserialize, Serialize};

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

#[derive(Serialize)]
struct TenantView {
    id: String,
    name: String,
    created_at: String,
    settings: TenantSettings,
}

impl From<TenantRecord> for TenantView {
    fn from(t: TenantRecord) -> Self {
        Self { id: t.id.to_string(), name: t.name, created_at: t.created_at, settings: t.settings }
    }
}

async fn get(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    Ok(json_response(StatusCode::OK, &TenantView::from(state.identity.tenant(&p.tenant_id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    settings: TenantSettings,
}

async fn update(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: UpdateBody = body::json(ctx.req)?;
    let tenant = state.identity.update_settings(p, input.settings).await?;
    let event =
        NewEvent::from_ctx(ctx, "tenant.update_settings", Some(format!("tenant:{}", p.tenant_id)), Outcome::Success);
    if let Err(e) = audit::append(state.table.as_ref(), &p.tenant_id, event).await {
        tracing::error!(code = e.code(), "could not write an audit event");
    }
    Ok(json_response(StatusCode::OK, &TenantView::from(tenant)))
}
