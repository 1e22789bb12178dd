//! `api-auth`: sign-up, login, token refresh, logout (one session or all), invitation
//! acceptance, and the public JWKS. Every request's body is strict JSON; every success and every
//! refused login of a known tenant is written to that tenant's audit log.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_identity::{Identity, Session, SignupInput};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use secrecy::SecretString;
use serde::Deserialize;
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
    Ok(dispatch(&state.routes, state, req, Some(state.table.as_ref())).await)
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
    audit::record(state.table.as_ref(), session_tenant, event).await;
}

fn session_response(status: StatusCode, session: &Session) -> Response {
    json_response(status, session)
}

/// Sign-up: the new organisation and its first owner.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignupRequest {
    /// The organisation's display name.
    #[schema(example = "Acme")]
    tenant_name: String,
    /// The first owner's email address (case-insensitive).
    #[schema(format = Email, example = "ada@acme.example")]
    email: String,
    /// The first owner's display name.
    #[schema(example = "Ada Lovelace")]
    name: String,
    /// The first owner's password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(
    post,
    path = "/v1/auth/signup",
    operation_id = "signup",
    tag = "auth",
    summary = "Create a tenant and its first owner",
    description = "Creates a new tenant with the caller as its owner and signs them in. Retries are safe with an \
        Idempotency-Key. Needs no credentials.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = SignupRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The tenant exists and its owner is signed in.", body = Session),
        (status = 400, response = problems::BadRequest),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
    )
)]
async fn signup(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: SignupRequest = body::json(ctx.req)?;
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

/// Login with an email address and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    /// The account's email address (case-insensitive).
    #[schema(format = Email, example = "ada@acme.example")]
    email: String,
    /// The account's password.
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(
    post,
    path = "/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "Sign in with email and password",
    description = "Exchanges an email address and password for an access token and a single-use refresh token. \
        A wrong email and a wrong password get the same answer; repeated failures lock sign-in for a while \
        (429 with Retry-After). Needs no credentials.",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Signed in.", body = Session),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    )
)]
async fn login(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: LoginRequest = body::json(ctx.req)?;
    let session = state.identity.login(&input.email, &input.password, ctx.source_ip.as_deref(), now()).await?;
    let mut event = NewEvent::from_ctx(ctx, "auth.login", Some(format!("user:{}", session.user.id)), Outcome::Success);
    event.role = Some(session.user.role.as_str().to_owned());
    record(state, &session.tenant_id, event).await;
    Ok(session_response(StatusCode::OK, &session))
}

/// A refresh token: to exchange for a new session, or to end its session.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    /// The refresh token of the session (single use).
    #[schema(value_type = String)]
    refresh_token: SecretString,
}

#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    operation_id = "refreshSession",
    tag = "auth",
    summary = "Exchange a refresh token for a new session",
    description = "Rotates the refresh token: the one sent is spent and a new access token and refresh token are \
        returned. Presenting a spent refresh token again ends the whole session (reuse detection). Needs no \
        other credentials.",
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A fresh session.", body = Session),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
    )
)]
async fn refresh(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: RefreshRequest = body::json(ctx.req)?;
    let session = state.identity.refresh(&input.refresh_token, now()).await?;
    Ok(session_response(StatusCode::OK, &session))
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "End one session",
    description = "Ends the session the given refresh token belongs to, if it is the caller's. Access tokens \
        already issued stay valid until they expire (at most 15 minutes).",
    request_body(content = RefreshRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The session is over."),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn logout(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let principal = ctx.principal()?;
    let input: RefreshRequest = body::json(ctx.req)?;
    state.identity.logout(principal, &input.refresh_token).await?;
    record(
        state,
        &principal.tenant_id,
        NewEvent::from_ctx(ctx, "auth.logout", Some(format!("user:{}", principal.id)), Outcome::Success),
    )
    .await;
    Ok(no_content())
}

#[utoipa::path(
    post,
    path = "/v1/auth/logout-all",
    operation_id = "logoutAll",
    tag = "auth",
    summary = "End every session of the caller",
    description = "Ends all of the caller's sessions and invalidates every access token issued to them so far.",
    responses(
        (status = 204, description = "Every session is over."),
        (status = 401, response = problems::Unauthorized),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
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

/// Accepting an invitation: its token, and the new user's name and password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptInvitationRequest {
    /// The single-use invitation token the inviter received.
    #[schema(value_type = String)]
    token: SecretString,
    /// The new user's display name.
    #[schema(example = "Grace Hopper")]
    name: String,
    /// The new user's password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(
    post,
    path = "/v1/invitations/accept",
    operation_id = "acceptInvitation",
    tag = "auth",
    summary = "Accept an invitation",
    description = "Creates the invited user with the role the invitation names and signs them in. The token works \
        once and expires after 7 days. Retries are safe with an Idempotency-Key. Needs no credentials.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = AcceptInvitationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The user exists and is signed in.", body = Session),
        (status = 400, response = problems::BadRequest),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 422, response = problems::IdempotencyKeyReused),
    )
)]
async fn accept(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let input: AcceptInvitationRequest = body::json(ctx.req)?;
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

/// The JSON Web Key Set (RFC 7517) of the keys that sign access tokens. Schema only: the document
/// itself comes from `kushim_auth::jwks`, and a test checks it fits.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonWebKeySet {
    /// The public keys; the newest signs new tokens, older ones verify tokens still in use.
    pub keys: Vec<JsonWebKey>,
}

/// One Ed25519 public key (RFC 8037).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonWebKey {
    /// Key type: always `OKP`.
    #[schema(example = "OKP")]
    pub kty: String,
    /// Curve: always `Ed25519`.
    #[schema(example = "Ed25519")]
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    /// Key id; matches the `kid` header of the tokens it signed.
    pub kid: String,
    /// Algorithm: always `EdDSA`.
    #[schema(example = "EdDSA")]
    pub alg: String,
    /// Use: always `sig`.
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    pub use_: String,
}

#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    operation_id = "getJwks",
    tag = "auth",
    summary = "Public keys that verify access tokens",
    description = "The JSON Web Key Set of the Ed25519 keys that sign Kushim access tokens. Cacheable for 5 \
        minutes. Needs no credentials.",
    responses((status = 200, description = "The key set.", body = JsonWebKeySet))
)]
async fn jwks(state: &State, _ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let doc = state.identity.jwks(now()).await?;
    let mut resp = json_response(StatusCode::OK, &doc);
    resp.headers_mut().insert("cache-control", lambda_http::http::HeaderValue::from_static("public, max-age=300"));
    Ok(resp)
}

#[derive(OpenApi)]
#[openapi(
    paths(signup, login, refresh, logout, logout_all, accept, jwks),
    tags((name = "auth", description = "Sign-up, sign-in, sessions, invitation acceptance and the token-signing keys."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}

fn no_content() -> Response {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_jwks_document_matches_its_schema() {
        let keys = kushim_auth::KeySet::generate().unwrap();
        let doc: JsonWebKeySet = serde_json::from_value(kushim_auth::jwks(&keys)).expect("the JWKS fits its schema");
        assert_eq!(doc.keys.len(), 1);
        let key = &doc.keys[0];
        assert_eq!(
            (key.kty.as_str(), key.crv.as_str(), key.alg.as_str(), key.use_.as_str()),
            ("OKP", "Ed25519", "EdDSA", "sig")
        );
    }
}
