//! Each HTTP function's route table and the dispatcher that runs it. Routes are keyed by API
//! Gateway's route key (`GET /v1/users/{user_id}`), which the gateway (or the local one) puts in
//! the request context, so there is no second path matcher to drift from the template. Every
//! route declares its [`Access`]; the dispatcher checks it before the handler runs and adds the
//! security headers to whatever comes back.

use futures::future::BoxFuture;
use kushim_domain::Permission;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use kushim_adapters::table::Table;

use crate::audit::{NewEvent, Outcome};
use crate::{ApiError, Principal, Response, headers};

/// What a route requires of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (sign-up, login, JWKS, health).
    Public,
    /// Any verified principal (e.g. one's own profile).
    Authenticated,
    /// A verified principal whose grant allows the permission.
    Requires(Permission),
}

/// What a handler gets besides the function's state.
pub struct Ctx<'a> {
    /// The request.
    pub req: &'a Request,
    /// The verified caller, if the route had credentials.
    pub principal: Option<Principal>,
    /// API Gateway's request id.
    pub request_id: String,
    /// The caller's IP address as API Gateway saw it.
    pub source_ip: Option<String>,
    /// The caller's user agent.
    pub user_agent: Option<String>,
}

impl Ctx<'_> {
    /// The caller; `Unauthorized` on a public route without credentials.
    pub fn principal(&self) -> Result<&Principal, ApiError> {
        self.principal.as_ref().ok_or(ApiError::Unauthorized)
    }

    /// A path parameter (`{name}` in the route).
    pub fn path_param(&self, name: &str) -> Result<String, ApiError> {
        self.req.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned).ok_or(ApiError::NotFound)
    }

    /// A query-string parameter.
    pub fn query(&self, name: &str) -> Option<String> {
        self.req.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }
}

/// A handler: borrows the state and the context for the duration of the call.
pub type Handler<S> = for<'a> fn(&'a S, &'a Ctx<'a>) -> BoxFuture<'a, Result<Response, ApiError>>;

/// One route of a function.
pub struct Route<S> {
    /// HTTP method, uppercase.
    pub method: &'static str,
    /// Path template as in the SAM template.
    pub path: &'static str,
    /// What the caller needs.
    pub access: Access,
    /// The handler.
    pub handler: Handler<S>,
}

impl<S> Route<S> {
    /// The API Gateway route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// The tenant's per-minute budget as the authorizer passed it, else the default.
fn rate_budget(req: &Request) -> u32 {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.fields.get(crate::principal::CTX_RATE_LIMIT))
            .and_then(|v| {
                v.as_str().and_then(|s| s.parse().ok()).or_else(|| v.as_u64().and_then(|n| u32::try_from(n).ok()))
            })
            .unwrap_or(DEFAULT_RATE_LIMIT),
        _ => DEFAULT_RATE_LIMIT,
    }
}

/// Requests per minute a tenant may make when its settings say nothing else.
pub const DEFAULT_RATE_LIMIT: u32 = 600;

fn context_fields(req: &Request) -> (Option<String>, String, Option<String>, Option<String>) {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.route_key.clone(),
            ctx.request_id.clone().unwrap_or_default(),
            ctx.http.source_ip.clone(),
            ctx.http.user_agent.clone(),
        ),
        _ => (None, String::new(), None, None),
    }
}

/// Finds the route for the request, checks access, applies the tenant's rate limit, runs the
/// handler and shapes the response. With a table, refused or failed mutations by an authenticated
/// caller are written to the audit log too (handlers record their successes themselves).
pub async fn dispatch<S>(routes: &[Route<S>], state: &S, req: Request, table: Option<&dyn Table>) -> Response {
    let (route_key, request_id, source_ip, user_agent) = context_fields(&req);
    let route = route_key.as_deref().and_then(|k| routes.iter().find(|r| r.key() == k));
    let Some(route) = route else {
        return headers::secure(ApiError::NotFound.into_response(&req));
    };
    let principal = Principal::from_request(&req);
    let allowed = match (route.access, &principal) {
        (Access::Public, _) => Ok(()),
        (_, None) => Err(ApiError::Unauthorized),
        (Access::Authenticated, Some(_)) => Ok(()),
        (Access::Requires(p), Some(who)) if who.allows(p) => Ok(()),
        (Access::Requires(_), Some(_)) => Err(ApiError::Forbidden),
    };
    let allowed = match (allowed, table, &principal) {
        (Ok(()), Some(table), Some(who)) => {
            let budget = rate_budget(&req);
            crate::ratelimit::check(table, &who.tenant_id, budget).await
        }
        (other, _, _) => other,
    };
    let ctx = Ctx { req: &req, principal, request_id, source_ip, user_agent };
    let outcome = match allowed {
        Ok(()) => (route.handler)(state, &ctx).await,
        Err(e) => Err(e),
    };
    let resp = match outcome {
        Ok(resp) => resp,
        Err(e) => e.into_response(&req),
    };
    let mutation = !matches!(route.method, "GET" | "HEAD" | "OPTIONS");
    // Rate-limited requests are not audited: recording each would let a flood multiply writes.
    let refused = resp.status().is_client_error() && resp.status() != lambda_http::http::StatusCode::TOO_MANY_REQUESTS;
    if let (true, Some(table), Some(who)) = (mutation && refused, table, &ctx.principal) {
        let target = Some(format!("{} -> {}", route.key(), resp.status().as_u16()));
        let event = NewEvent::from_ctx(&ctx, "request.refused", target, Outcome::Failure);
        crate::audit::record(table, &who.tenant_id, event).await;
    }
    tracing::info!(
        route = %route.key(),
        status = resp.status().as_u16(),
        tenant = ctx.principal.as_ref().map(|p| p.tenant_id.as_str()).unwrap_or("-"),
        request_id = %ctx.request_id,
        "request"
    );
    headers::secure(resp)
}
