//! The OpenAPI pieces every API function shares: the `bearer` security scheme, the RFC 9457
//! problem responses routes answer with (400, 401, 403, 404, 409, 413, 415, 422, 429), and the
//! `x-kushim-access` extension that records, on each operation, the access its route requires
//! (taken from the function's own route table, so it cannot drift from what the dispatcher checks).
//!
//! Each API function describes its handlers with `#[utoipa::path(...)]`, derives a document from
//! them, and passes it through [`document`]; `api-docs` merges the functions' documents into the
//! one served at `/v1/openapi.json`.

use kushim_lambda::Problem;
use utoipa::openapi::OpenApi;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi as _};

use crate::{Access, Route};

/// Name of the security scheme every non-public operation requires.
pub const BEARER: &str = "bearer";

/// Operation extension naming what a route requires: `public`, `authenticated`, or a permission
/// scope such as `users:read`.
pub const ACCESS_EXTENSION: &str = "x-kushim-access";

/// The value of [`ACCESS_EXTENSION`] for a route's access.
pub fn access_label(access: Access) -> &'static str {
    match access {
        Access::Public => "public",
        Access::Authenticated => "authenticated",
        Access::Requires(p) => p.as_scope(),
    }
}

/// 400: the input breaks a rule.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The request breaks a rule: malformed or missing JSON, an unknown field, a value out of range, or an invalid cursor.",
    content_type = "application/problem+json"
)]
pub struct BadRequest(pub Problem);

/// 401: no valid credentials.
#[derive(utoipa::ToResponse)]
#[response(
    description = "No valid credentials: the access token or API key is missing, expired or revoked (or, on sign-in, the email or password is wrong).",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(pub Problem);

/// 403: the caller may not do this.
#[derive(utoipa::ToResponse)]
#[response(
    description = "Authenticated, but the caller's role or API key scopes do not allow this action.",
    content_type = "application/problem+json"
)]
pub struct Forbidden(pub Problem);

/// 404: no such thing in the caller's tenant.
#[derive(utoipa::ToResponse)]
#[response(description = "No such resource in the caller's tenant.", content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// 409: the request conflicts with the current state.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The request conflicts with the current state (for example the email is taken), or a request with the same Idempotency-Key is still running.",
    content_type = "application/problem+json"
)]
pub struct Conflict(pub Problem);

/// 413: the body is too large.
#[derive(utoipa::ToResponse)]
#[response(description = "The request body is larger than 64 KiB.", content_type = "application/problem+json")]
pub struct PayloadTooLarge(pub Problem);

/// 415: the body is not JSON.
#[derive(utoipa::ToResponse)]
#[response(description = "The body was not sent as application/json.", content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// 422: an `Idempotency-Key` was reused with a different request.
#[derive(utoipa::ToResponse)]
#[response(
    description = "The Idempotency-Key was already used with a different request.",
    content_type = "application/problem+json"
)]
pub struct IdempotencyKeyReused(pub Problem);

/// 429: too many requests or sign-in attempts.
#[derive(utoipa::ToResponse)]
#[response(
    description = "Too many requests (the tenant's per-minute budget is spent) or too many failed sign-in attempts; retry after the Retry-After delay.",
    content_type = "application/problem+json",
    headers(("retry-after" = u64, description = "Seconds to wait before retrying."))
)]
pub struct TooManyRequests(pub Problem);

/// Adds the `bearer` HTTP security scheme.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT access token or API key (kus_…)")
            .description(Some(
                "`Authorization: Bearer <credential>`, where the credential is an access token (a JWT from \
                 sign-up, login, refresh or invitation acceptance) or an API key (`kus_…`).",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    components(
        schemas(Problem),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            IdempotencyKeyReused,
            TooManyRequests
        )
    ),
    modifiers(&BearerScheme)
)]
struct Common;

/// The shared components: the `bearer` scheme, the `Problem` schema and the problem responses.
pub fn common() -> OpenApi {
    Common::openapi()
}

/// Records the access of each `(method, path, access)` route on its operation (as
/// [`ACCESS_EXTENSION`]). Routes without an operation are left for the tests to report.
pub fn record_access<'a>(doc: &mut OpenApi, routes: impl IntoIterator<Item = (&'a str, &'a str, Access)>) {
    for (method, path, access) in routes {
        let Some(item) = doc.paths.paths.get_mut(path) else { continue };
        let op = match method {
            "GET" => item.get.as_mut(),
            "POST" => item.post.as_mut(),
            "PUT" => item.put.as_mut(),
            "PATCH" => item.patch.as_mut(),
            "DELETE" => item.delete.as_mut(),
            "HEAD" => item.head.as_mut(),
            "OPTIONS" => item.options.as_mut(),
            _ => None,
        };
        if let Some(op) = op {
            let ext = op.extensions.get_or_insert_with(Extensions::default);
            ext.insert(ACCESS_EXTENSION.to_owned(), access_label(access).into());
        }
    }
}

/// A function's document: its own operations and schemas, the shared components, and each
/// operation's access as its route table declares it.
pub fn document<S>(own: OpenApi, routes: &[Route<S>]) -> OpenApi {
    let mut doc = own.merge_from(common());
    record_access(&mut doc, routes.iter().map(|r| (r.method, r.path, r.access)));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_components_name_the_bearer_scheme_and_every_problem_response() {
        let doc = serde_json::to_value(common()).unwrap();
        let components = &doc["components"];
        assert_eq!(components["securitySchemes"][BEARER]["type"], "http");
        assert_eq!(components["securitySchemes"][BEARER]["scheme"], "bearer");
        assert_eq!(components["schemas"]["Problem"]["properties"]["type"]["type"], "string");
        for name in ["BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "TooManyRequests"] {
            let schema = &components["responses"][name]["content"]["application/problem+json"]["schema"];
            assert_eq!(schema["$ref"], "#/components/schemas/Problem", "{name}");
        }
    }

    #[test]
    fn access_labels_are_scopes_or_keywords() {
        assert_eq!(access_label(Access::Public), "public");
        assert_eq!(access_label(Access::Authenticated), "authenticated");
        assert_eq!(access_label(Access::Requires(kushim_domain::Permission::UsersRead)), "users:read");
    }
}
