//! `api-audit`: the tenant's audit log, newest first, with filters (action, actor, since) and
//! sealed cursors, plus a verification of the whole hash chain. Owners, admins and auditors.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, Filter};
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_domain::Permission;
use kushim_identity::signing::CursorKey;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;

/// Everything the handlers need, built once per process.
pub struct State {
    table: Arc<dyn Table>,
    cursor_key: CursorKey,
    routes: Vec<Route<State>>,
}

impl State {
    /// Picks the ports and builds the route table.
    pub fn new(_config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self {
            table: backends.table()?,
            cursor_key: kushim_identity::wiring::cursor_key(backends)?,
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
            path: "/v1/audit-events",
            access: Requires(Permission::AuditRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/audit-events/verify",
            access: Requires(Permission::AuditRead),
            handler: |s, c| Box::pin(verify(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
}

async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.cursor_key.get().await?;
    let since = ctx.query("since");
    if let Some(s) = &since
        && chrono::DateTime::parse_from_rfc3339(s).is_err()
    {
        return Err(ApiError::Validation("since must be an RFC 3339 time".into()));
    }
    let filter = Filter { action: ctx.query("action"), actor: ctx.query("actor"), since };
    let (events, next) =
        audit::list(state.table.as_ref(), &p.tenant_id, &filter, paging::limit(ctx)?, paging::cursor(ctx, &key)?)
            .await?;
    Ok(json_response(StatusCode::OK, &PageBody::new(events, next, &key)))
}

async fn verify(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let body = match audit::verify(state.table.as_ref(), &p.tenant_id).await? {
        Ok(count) => serde_json::json!({"valid": true, "events": count}),
        Err(e) => serde_json::json!({"valid": false, "problem": e.to_string()}),
    };
    Ok(json_response(StatusCode::OK, &body))
}
