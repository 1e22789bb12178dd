//! `api-users`: the caller's own profile and password, and the tenant's people: list, invite,
//! change role, disable or enable, remove. Mutations are audited; the tenant always comes from
//! the verified principal, so ids from another tenant simply do not exist here (404).

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit::{self, NewEvent, Outcome};
use kushim_api::idempotency;
use kushim_api::paging::{self, PageBody};
use kushim_api::{Access, ApiError, Ctx, PrincipalKind, Response, Route, body, dispatch};
use kushim_domain::{Permission, Role};
use kushim_identity::model::UserView;
use kushim_identity::signing::CursorKey;
use kushim_identity::{Identity, UserStatus};
use kushim_lambda::problem::json_response;
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request};
use secrecy::{ExposeSecret, SecretString};
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
            path: "/v1/me",
            access: Requires(Permission::ProfileSelf),
            handler: |s, c| Box::pin(me(s, c)),
        },
        Route {
            method: "PATCH",
            path: "/v1/me",
            access: Requires(Permission::ProfileSelf),
            handler: |s, c| Box::pin(update_me(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/me/password",
            access: Requires(Permission::ProfileSelf),
            handler: |s, c| Box::pin(change_password(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/users",
            access: Requires(Permission::UsersRead),
            handler: |s, c| Box::pin(list(s, c)),
        },
        Route {
            method: "GET",
            path: "/v1/users/{user_id}",
            access: Requires(Permission::UsersRead),
            handler: |s, c| Box::pin(get_user(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/users/invitations",
            access: Requires(Permission::UsersManage),
            handler: |s, c| Box::pin(invite(s, c)),
        },
        Route {
            method: "PATCH",
            path: "/v1/users/{user_id}",
            access: Requires(Permission::UsersManage),
            handler: |s, c| Box::pin(change_role(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/users/{user_id}/disable",
            access: Requires(Permission::UsersManage),
            handler: |s, c| Box::pin(disable(s, c)),
        },
        Route {
            method: "POST",
            path: "/v1/users/{user_id}/enable",
            access: Requires(Permission::UsersManage),
            handler: |s, c| Box::pin(enable(s, c)),
        },
        Route {
            method: "DELETE",
            path: "/v1/users/{user_id}",
            access: Requires(Permission::UsersManage),
            handler: |s, c| Box::pin(remove(s, c)),
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

#[derive(Serialize)]
struct KeyIdentity {
    kind: PrincipalKind,
    id: String,
    tenant_id: String,
    role: Role,
    scopes: Option<Vec<Permission>>,
}

async fn me(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    if p.kind == PrincipalKind::ApiKey {
        let view = KeyIdentity {
            kind: p.kind,
            id: p.id.clone(),
            tenant_id: p.tenant_id.to_string(),
            role: p.grant.role,
            scopes: p.grant.scopes.clone(),
        };
        return Ok(json_response(StatusCode::OK, &view));
    }
    let user = state.identity.user(&p.tenant_id, &p.id).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    name: String,
}

async fn update_me(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    if p.kind != PrincipalKind::User {
        return Err(ApiError::Forbidden);
    }
    let input: ProfileBody = body::json(ctx.req)?;
    let user = state.identity.update_profile(p, &input.name).await?;
    audited(state, ctx, "user.update_profile", format!("user:{}", p.id)).await;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: SecretString,
    new_password: SecretString,
}

async fn change_password(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: PasswordBody = body::json(ctx.req)?;
    state.identity.change_password(p, &input.current_password, &input.new_password, now()).await?;
    audited(state, ctx, "user.change_password", format!("user:{}", p.id)).await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

async fn list(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let key = state.cursor_key.get().await?;
    let (users, next) =
        state.identity.list_users(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await?;
    let views: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(views, next, &key)))
}

async fn get_user(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user = state.identity.user(&p.tenant_id, &ctx.path_param("user_id")?).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: Role,
}

#[derive(Serialize)]
struct InvitationCreated {
    email: String,
    role: Role,
    invited_by: String,
    created_at: String,
    /// Single-use token for the invitee (sent by email in production); shown once.
    token: String,
}

async fn invite(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: InviteBody = body::json(ctx.req)?;
    idempotency::once(state.table.as_ref(), ctx, || async {
        let (inv, token) = state.identity.invite(p, &input.email, input.role, now()).await?;
        audited(state, ctx, "user.invite", format!("invitation:{}", inv.email)).await;
        let created = InvitationCreated {
            email: inv.email,
            role: inv.role,
            invited_by: inv.invited_by,
            created_at: inv.created_at,
            token: token.expose_secret().to_owned(),
        };
        Ok(json_response(StatusCode::CREATED, &created))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: Role,
}

async fn change_role(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user_id = ctx.path_param("user_id")?;
    let input: RoleBody = body::json(ctx.req)?;
    let user = state.identity.change_role(p, &user_id, input.role).await?;
    audited(state, ctx, "user.change_role", format!("user:{user_id}")).await;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

async fn set_status(state: &State, ctx: &Ctx<'_>, status: UserStatus, action: &str) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user_id = ctx.path_param("user_id")?;
    let user = state.identity.set_status(p, &user_id, status).await?;
    audited(state, ctx, action, format!("user:{user_id}")).await;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

async fn disable(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, UserStatus::Disabled, "user.disable").await
}

async fn enable(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, UserStatus::Active, "user.enable").await
}

async fn remove(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user_id = ctx.path_param("user_id")?;
    state.identity.remove_user(p, &user_id).await?;
    audited(state, ctx, "user.remove", format!("user:{user_id}")).await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
