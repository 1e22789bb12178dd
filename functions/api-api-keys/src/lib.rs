//! `api-api-keys`: create, list and revoke the tenant's API keys. A key's secret is returned once,
//! at creation; only its SHA-256 is stored. A key never gets a role above its creator's, and its
//! scopes can only narrow that role.

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::idempotency;
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
    let Some(principal) = &ctx.principal else { return };
    let event = NewEvent::from_ctx(ctx, action, Some(target), Outcome::Success);
    if let Err(e) = audit::append(state.table.as_ref(), &principal.tenant_id, event).await {
        tracing::error!(code = e.code(), "could not write an audit event");
    }
}

async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.cursor_key.get().await?;
    let (keys, next) =
        state.identity.list_api_keys(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await?;
    let views: Vec<ApiKeyView> = keys.iter().map(ApiKeyView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(views, next, &key)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    role: Role,
    #[serde(default)]
    scopes: Option<Vec<Permission>>,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself. Shown only in this response.
    secret: String,
}

async fn create(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: CreateBody = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let (record, secret) = state
            .identity
            .create_api_key(p, &input.name, input.role, input.scopes, input.expires_in_days, now())
            .await?;
        audited(state, ctx, "api_key.create", format!("api_key:{}", record.id)).await;
        let created = Created { key: ApiKeyView::from(&record), secret: secret.expose_secret().to_owned() };
        Ok(json_response(StatusCode::CREATED, &created))
    })
    .await
}

async fn revoke(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key_id = ctx.path_param("key_id")?;
    let record = state.identity.revoke_api_key(p, &key_id, now()).await?;
    audited(state, ctx, "api_key.revoke", format!("api_key:{key_id}")).await;
    Ok(json_response(StatusCode::OK, &ApiKeyView::from(&record)))
}
