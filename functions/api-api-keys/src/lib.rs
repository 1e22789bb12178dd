//! `api-api-keys`: create, list and revoke the tenant's API keys. A key's secret is returned once,
//! at creation; only its SHA-256 is stored. A key never gets a role above its creator's, and its
//! scopes can only narrow that role.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, Response, Route, body, dispatch};
use kushim_domain::{Permission, Role};
use kushim_identity::Identity;
use kushim_identity::model::ApiKeyView;
use kushim_identity::signing::CursorKey;
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

/// Everything the handlers need, built once per process.
pub struct State {
    identity: Identity,
    table: Arc<dyn Table>,
    cursor_key: CursorKey,
    routes: Vec<Route<State>>,
}

impl State {
    /// Builds the identity service and the route table.
    pub fn new(config: &Config, backends: &Backends) -> Result<Self, ConfigError> {
        Ok(Self {
            identity: kushim_identity::wiring::identity(config, backends)?,
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
            path: "/v1/api-keys",
            access: Requires(Permission::ApiKeysRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/api-keys",
            access: Requires(Permission::ApiKeysManage),
            handler: |s, c| Box::pin(create(s, c)),
        },
        Route {
            method: "DELETE",
            path: "/v1/api-keys/{key_id}",
            access: Requires(Permission::ApiKeysManage),
            handler: |s, c| Box::pin(revoke(s, c)),
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

async fn audited(state: &State, ctx: &Ctx<'_>, action: &str, target: String) {
    audit::record_success(state.table.as_ref(), ctx, action, target).await;
}

#[utoipa::path(
    get,
    path = "/v1/api-keys",
    operation_id = "listApiKeys",
    tag = "api-keys",
    summary = "List the tenant's API keys",
    description = "The tenant's API keys, revoked ones included, a page at a time. Secrets are never shown. Pass \
        `next_cursor` back as `cursor` for the next page.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 25).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of API keys.", body = PageBody<ApiKeyView>),
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
    let (keys, next) =
        state.identity.list_api_keys(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await?;
    let views: Vec<ApiKeyView> = keys.iter().map(ApiKeyView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(views, next, &key)))
}

/// A new API key.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateApiKeyRequest {
    /// A label for the key.
    #[schema(example = "ci")]
    name: String,
    /// The key's role; never above the creator's own.
    role: Role,
    /// Permissions narrowing the role (a non-empty subset of it); absent means the whole role.
    #[serde(default)]
    scopes: Option<Vec<Permission>>,
    /// Days until the key expires, 1-730; absent means it does not expire.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 730)]
    expires_in_days: Option<u32>,
}

/// A new API key, with its secret.
#[derive(Serialize, ToSchema)]
struct ApiKeyCreated {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself (`kus_…`). Shown only in this response.
    secret: String,
}

#[utoipa::path(
    post,
    path = "/v1/api-keys",
    operation_id = "createApiKey",
    tag = "api-keys",
    summary = "Create an API key",
    description = "Creates an API key and returns its secret, once; only its hash is kept. The key's role is \
        never above the creator's, and its scopes can only narrow that role. Retries are safe with an \
        Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = CreateApiKeyRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The key, with its secret (shown only here).", body = ApiKeyCreated),
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
    let input: CreateApiKeyRequest = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let (record, secret) = state
            .identity
            .create_api_key(p, &input.name, input.role, input.scopes, input.expires_in_days, now())
            .await?;
        audited(state, ctx, "api_key.create", format!("api_key:{}", record.id)).await;
        let created = ApiKeyCreated { key: ApiKeyView::from(&record), secret: secret.expose_secret().to_owned() };
        Ok(json_response(StatusCode::CREATED, &created))
    })
    .await
}

#[utoipa::path(
    delete,
    path = "/v1/api-keys/{key_id}",
    operation_id = "revokeApiKey",
    tag = "api-keys",
    summary = "Revoke an API key",
    description = "Revokes a key at once; it is kept, marked revoked, so the audit trail still names it.",
    params(("key_id" = String, Path, description = "The API key's id.")),
    responses(
        (status = 200, description = "The revoked key.", body = ApiKeyView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn revoke(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key_id = ctx.path_param("key_id")?;
    let record = state.identity.revoke_api_key(p, &key_id, now()).await?;
    audited(state, ctx, "api_key.revoke", format!("api_key:{key_id}")).await;
    Ok(json_response(StatusCode::OK, &ApiKeyView::from(&record)))
}

#[derive(OpenApi)]
#[openapi(
    paths(list, create, revoke),
    tags((name = "api-keys", description = "Machine credentials: create, list and revoke the tenant's API keys."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
