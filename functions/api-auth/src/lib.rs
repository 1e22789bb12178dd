//! `api-auth`: sign-up, login, token refresh, logout (one session or all), invitation
//! acceptance, and the public JWKS. Every request's body is strict JSON; every success and every
//! refused login of a known tenant is written to that tenant's audit log.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::idempotency;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_identity::{Identity, Session, SignupInput};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use secrecy::SecretString;
use serde::Deserialize;

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
    vec![
        Route {
            method: "POST",
            path: "/v1/auth/signup",
            access: Access::Public,
            handler: |s, c| Box::pin(signup(s, c)),
        },
        Route { method: "POST", path: "/v1/auth/login", access: Access::Public, handler: |s, c| Box::pin(login(s, c)) },
        Route {
            method: "POST",
            path: "/v1/auth/refresh",
            access: Access::Public,
            handler: |s, c| Box::pin(refresh(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/auth/logout",
            access: Access::Authenticated,
            handler: |s, c| Box::pin(logout(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/auth/logout-all",
            access: Access::Authenticated,
            handler: |s, c| Box::pin(logout_all(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/invitations/accept",
            access: Access::Public,
            handler: |s, c| Box::pin(accept(s, c)),
        },
        Route {
            method: "GET",
            path: "/.well-known/jwks.json",
            access: Access::Public,
            handler: |s, c| Box::pin(jwks(s, c)),
        },
    ]
}

/// The Lambda handler.
pub async fn handle(state: &State, req: Request) -> Result<Response, kushim_lambda::Error> {
    Ok(dispatch(&state.routes, state, req, None).await)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn record(state: &State, session_tenant: &kushim_domain::TenantId, mut event: NewEvent) {
    if event.actor == "anonymous"
        && let Some(actor) = event.target.as_ref().and_then(|t| t.strip_prefix("user:"))
    {
        event.actor = actor.to_owned();
    }
    if let Err(e) = audit::append(state.table.as_ref(), session_tenant, event).await {
        tracing::error!(code = e.code(), "could not write an audit event");
    }
}

fn session_response(status: StatusCode, session: &Session) -> Response {
    json_response(status, session)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignupBody {
    tenant_name: String,
    email: String,
    name: String,
    password: SecretString,
}

async fn signup(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: SignupBody = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let session = state
            .identity
            .signup(
                SignupInput {
                    tenant_name: input.tenant_name,
                    email: input.email,
                    name: input.name,
                    password: input.password,
                },
                now(),
            )
            .await?;
        let mut event =
            NewEvent::from_ctx(ctx, "tenant.signup", Some(format!("user:{}", session.user.id)), Outcome::Success);
        event.role = Some("owner".into());
        record(state, &session.tenant_id, event).await;
        Ok(session_response(StatusCode::CREATED, &session))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: SecretString,
}

async fn login(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: LoginBody = body::json(ctx.req)?;
    let session = state.identity.login(&input.email, &input.password, ctx.source_ip.as_deref(), now()).await?;
    let mut event = NewEvent::from_ctx(ctx, "auth.login", Some(format!("user:{}", session.user.id)), Outcome::Success);
    event.role = Some(session.user.role.as_str().to_owned());
    record(state, &session.tenant_id, event).await;
    Ok(session_response(StatusCode::OK, &session))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: SecretString,
}

async fn refresh(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: RefreshBody = body::json(ctx.req)?;
    let session = state.identity.refresh(&input.refresh_token, now()).await?;
    Ok(session_response(StatusCode::OK, &session))
}

async fn logout(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let principal = ctx.principal()?;
    let input: RefreshBody = body::json(ctx.req)?;
    state.identity.logout(principal, &input.refresh_token).await?;
    record(
        state,
        &principal.tenant_id,
        NewEvent::from_ctx(ctx, "auth.logout", Some(format!("user:{}", principal.id)), Outcome::Success),
    )
    .await;
    Ok(no_content())
}

async fn logout_all(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let principal = ctx.principal()?;
    state.identity.logout_all(principal, now()).await?;
    record(
        state,
        &principal.tenant_id,
        NewEvent::from_ctx(ctx, "auth.logout_all", Some(format!("user:{}", principal.id)), Outcome::Success),
    )
    .await;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    token: SecretString,
    name: String,
    password: SecretString,
}

async fn accept(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: AcceptBody = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let session = state.identity.accept_invitation(&input.token, &input.name, &input.password, now()).await?;
        let mut event =
            NewEvent::from_ctx(ctx, "invitation.accept", Some(format!("user:{}", session.user.id)), Outcome::Success);
        event.role = Some(session.user.role.as_str().to_owned());
        record(state, &session.tenant_id, event).await;
        Ok(session_response(StatusCode::CREATED, &session))
    })
    .await
}

async fn jwks(state: &State, _ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let doc = state.identity.jwks(now()).await?;
    let mut resp = json_response(StatusCode::OK, &doc);
    resp.headers_mut().insert("cache-control", lambda_http::http::HeaderValue::from_static("public, max-age=300"));
    Ok(resp)
}

fn no_content() -> Response {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}
