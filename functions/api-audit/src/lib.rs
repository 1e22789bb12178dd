//! `api-audit`: the tenant's audit log, newest first, with filters (action, actor, since) and
//! sealed cursors, plus a verification of the whole hash chain. Owners, admins and auditors.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, Event, Filter};
use kushim_api::openapi as problems;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, dispatch};
use kushim_domain::Permission;
use kushim_identity::signing::CursorKey;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

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

#[utoipa::path(
    get,
    path = "/v1/audit-events",
    operation_id = "listAuditEvents",
    tag = "audit",
    summary = "List the tenant's audit events",
    description = "The tenant's audit log, newest first, a page at a time, optionally filtered. Pass \
        `next_cursor` back as `cursor` for the next page; filters apply within each page, so a page may hold \
        fewer than `limit` events and still have a next one.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 25).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
        ("action" = Option<String>, Query, description = "Only events with this action, e.g. `user.invite`."),
        ("actor" = Option<String>, Query, description = "Only events by this actor (a user id or API key id)."),
        ("since" = Option<String>, Query, format = DateTime, description = "Only events at or after this time (RFC 3339)."),
    ),
    responses(
        (status = 200, description = "A page of audit events.", body = PageBody<Event>),
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

/// The outcome of verifying the tenant's audit chain.
#[derive(Serialize, ToSchema)]
struct ChainVerification {
    /// Whether every event is intact and in place.
    valid: bool,
    /// How many events the chain holds (when valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<u64>,
    /// Where the chain stopped verifying (when not valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/audit-events/verify",
    operation_id = "verifyAuditEvents",
    tag = "audit",
    summary = "Verify the audit chain",
    description = "Recomputes every hash of the tenant's chain of audit events and says whether it is intact; if \
        not, names the first event that was altered, removed or cut off.",
    responses(
        (status = 200, description = "The verdict (a broken chain is still a 200, with `valid: false`).", body = ChainVerification),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn verify(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let body = match audit::verify(state.table.as_ref(), &p.tenant_id).await? {
        Ok(count) => ChainVerification { valid: true, events: Some(count), problem: None },
        Err(e) => ChainVerification { valid: false, events: None, problem: Some(e.to_string()) },
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, verify),
    tags((name = "audit", description = "The tenant's append-only, hash-chained audit log."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
