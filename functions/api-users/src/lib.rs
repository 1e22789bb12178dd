//! `api-users`: the caller's own profile and password, and the tenant's people: list, invite,
//! change role, disable or enable, remove. Mutations are audited; the tenant always comes from
//! the verified principal, so ids from another tenant simply do not exist here (404).

use std::sync::Arc;

use kushim_adapters::table::Table;
use kushim_api::audit;
use kushim_api::idempotency;
use kushim_api::openapi as problems;
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
    audit::record_success(state.table.as_ref(), ctx, action, target).await;
}

/// What `GET /v1/me` shows when the caller is an API key.
#[derive(Serialize, ToSchema)]
struct ApiKeyIdentity {
    /// Always `api_key`.
    kind: PrincipalKind,
    /// The API key's id.
    id: String,
    /// The tenant the key belongs to.
    tenant_id: String,
    /// The key's role.
    role: Role,
    /// The scopes narrowing the role, if any.
    scopes: Option<Vec<Permission>>,
}

/// The caller: a user's profile, or an API key's identity.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum Me {
    /// The caller is a user.
    User(UserView),
    /// The caller is an API key.
    ApiKey(ApiKeyIdentity),
}

#[utoipa::path(
    get,
    path = "/v1/me",
    operation_id = "getMe",
    tag = "users",
    summary = "Who the caller is",
    description = "The caller's own profile; for an API key, its id, tenant, role and scopes.",
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn me(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    if p.kind == PrincipalKind::ApiKey {
        let view = ApiKeyIdentity {
            kind: p.kind,
            id: p.id.clone(),
            tenant_id: p.tenant_id.to_string(),
            role: p.grant.role,
            scopes: p.grant.scopes.clone(),
        };
        return Ok(json_response(StatusCode::OK, &Me::ApiKey(view)));
    }
    let user = state.identity.user(&p.tenant_id, &p.id).await?;
    Ok(json_response(StatusCode::OK, &Me::User(UserView::from(&user))))
}

/// Changes to the caller's own profile.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProfileRequest {
    /// The new display name.
    #[schema(example = "Ada Lovelace")]
    name: String,
}

#[utoipa::path(
    patch,
    path = "/v1/me",
    operation_id = "updateMe",
    tag = "users",
    summary = "Change the caller's profile",
    description = "Changes the caller's display name. Users only: an API key has no profile (403).",
    request_body(content = UpdateProfileRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The updated profile.", body = UserView),
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
async fn update_me(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    if p.kind != PrincipalKind::User {
        return Err(ApiError::Forbidden);
    }
    let input: UpdateProfileRequest = body::json(ctx.req)?;
    let user = state.identity.update_profile(p, &input.name).await?;
    audited(state, ctx, "user.update_profile", format!("user:{}", p.id)).await;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

/// A password change: the current password and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangePasswordRequest {
    /// The caller's current password.
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// The new password (the password policy applies).
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

#[utoipa::path(
    post,
    path = "/v1/me/password",
    operation_id = "changePassword",
    tag = "users",
    summary = "Change the caller's password",
    description = "Checks the current password, sets the new one and ends every session of the caller (sign in \
        again afterwards). Users only: an API key has no password (403). A wrong current password is a 401.",
    request_body(content = ChangePasswordRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The password is changed and every session ended."),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn change_password(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: ChangePasswordRequest = body::json(ctx.req)?;
    state.identity.change_password(p, &input.current_password, &input.new_password, now()).await?;
    audited(state, ctx, "user.change_password", format!("user:{}", p.id)).await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

#[utoipa::path(
    get,
    path = "/v1/users",
    operation_id = "listUsers",
    tag = "users",
    summary = "List the tenant's users",
    description = "The tenant's users, a page at a time. Pass `next_cursor` back as `cursor` for the next page.",
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1-100 (default 25).", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "The `next_cursor` of the previous page."),
    ),
    responses(
        (status = 200, description = "A page of users.", body = PageBody<UserView>),
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
    let (users, next) =
        state.identity.list_users(&p.tenant_id, paging::limit(ctx)?, paging::cursor(ctx, &key)?).await?;
    let views: Vec<UserView> = users.iter().map(UserView::from).collect();
    Ok(json_response(StatusCode::OK, &PageBody::new(views, next, &key)))
}

#[utoipa::path(
    get,
    path = "/v1/users/{user_id}",
    operation_id = "getUser",
    tag = "users",
    summary = "Get one user",
    description = "One user of the caller's tenant. Ids of other tenants' users are not found (404).",
    params(("user_id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn get_user(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user = state.identity.user(&p.tenant_id, &ctx.path_param("user_id")?).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

/// An invitation to join the tenant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteUserRequest {
    /// The invitee's email address.
    #[schema(format = Email, example = "grace@acme.example")]
    email: String,
    /// The role they will get; never above the inviter's own.
    role: Role,
}

/// A new invitation.
#[derive(Serialize, ToSchema)]
struct InvitationCreated {
    /// The invitee's normalised email address.
    email: String,
    /// The role they will get.
    role: Role,
    /// Id of the user who invited.
    invited_by: String,
    /// When it was created (RFC 3339).
    created_at: String,
    /// Single-use token for the invitee (sent by email in production); shown once.
    token: String,
}

#[utoipa::path(
    post,
    path = "/v1/users/invitations",
    operation_id = "inviteUser",
    tag = "users",
    summary = "Invite someone to the tenant",
    description = "Creates an invitation with a single-use token, valid for 7 days, that the invitee accepts at \
        `POST /v1/invitations/accept`. The role may not be above the inviter's, and the tenant's allowed email \
        domains apply. Retries are safe with an Idempotency-Key.",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, description = "Makes retries safe: the same key and body replay the first response for 24 hours.")),
    request_body(content = InviteUserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The invitation, with its token (shown only here).", body = InvitationCreated),
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
async fn invite(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let input: InviteUserRequest = body::json(ctx.req)?;
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

/// A user's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangeRoleRequest {
    /// The new role; never above the caller's own, and only owners make or unmake owners.
    role: Role,
}

#[utoipa::path(
    patch,
    path = "/v1/users/{user_id}",
    operation_id = "changeUserRole",
    tag = "users",
    summary = "Change a user's role",
    description = "Gives a user another role. Only owners change owners, nobody grants a role above their own, \
        and a tenant always keeps one active owner (409).",
    params(("user_id" = String, Path, description = "The user's id.")),
    request_body(content = ChangeRoleRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user with the new role.", body = UserView),
        (status = 400, response = problems::BadRequest),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 413, response = problems::PayloadTooLarge),
        (status = 415, response = problems::UnsupportedMediaType),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn change_role(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user_id = ctx.path_param("user_id")?;
    let input: ChangeRoleRequest = body::json(ctx.req)?;
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

#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/disable",
    operation_id = "disableUser",
    tag = "users",
    summary = "Disable a user",
    description = "Blocks a user: every credential of theirs is refused until they are enabled again. Nobody \
        disables themselves, and a tenant always keeps one active owner (409).",
    params(("user_id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The disabled user.", body = UserView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn disable(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, UserStatus::Disabled, "user.disable").await
}

#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/enable",
    operation_id = "enableUser",
    tag = "users",
    summary = "Enable a user",
    description = "Lets a disabled user sign in again.",
    params(("user_id" = String, Path, description = "The user's id.")),
    responses(
        (status = 200, description = "The enabled user.", body = UserView),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn enable(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    set_status(state, ctx, UserStatus::Active, "user.enable").await
}

#[utoipa::path(
    delete,
    path = "/v1/users/{user_id}",
    operation_id = "removeUser",
    tag = "users",
    summary = "Remove a user",
    description = "Removes a user from the tenant. A tenant always keeps one active owner (409).",
    params(("user_id" = String, Path, description = "The user's id.")),
    responses(
        (status = 204, description = "The user is gone."),
        (status = 401, response = problems::Unauthorized),
        (status = 403, response = problems::Forbidden),
        (status = 404, response = problems::NotFound),
        (status = 409, response = problems::Conflict),
        (status = 429, response = problems::TooManyRequests),
    ),
    security(("bearer" = []))
)]
async fn remove(state: &State, ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let p = ctx.principal()?;
    let user_id = ctx.path_param("user_id")?;
    state.identity.remove_user(p, &user_id).await?;
    audited(state, ctx, "user.remove", format!("user:{user_id}")).await;
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}

#[derive(OpenApi)]
#[openapi(
    paths(me, update_me, change_password, list, get_user, invite, change_role, disable, enable, remove),
    tags((name = "users", description = "The caller's own profile and password; the tenant's users and invitations."))
)]
struct ApiDoc;

/// This function's OpenAPI document, each operation marked with its route's access.
pub fn openapi() -> utoipa::openapi::OpenApi {
    kushim_api::openapi::document(ApiDoc::openapi(), &routes())
}
