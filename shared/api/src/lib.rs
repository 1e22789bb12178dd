//! The HTTP conventions every Kushim endpoint follows, in one place so each function stays a thin
//! mapping from requests to domain calls:
//!
//! - [`principal`]: who is calling, as the authorizer verified it (tenant, principal, role, scopes);
//!   handlers take the tenant from here and never from the path, query or body;
//! - [`router`]: each function's route table, keyed by API Gateway's route key, with the
//!   permission every route requires checked before its handler runs;
//! - [`body`]: strict JSON input (content type, size limit, unknown fields refused);
//! - [`error`]: [`ApiError`], mapped onto RFC 9457 problems with stable `type` URIs;
//! - [`headers`]: security headers on every response;
//! - [`paging`]: bounded `limit` and HMAC-sealed cursors;
//! - [`idempotency`]: `Idempotency-Key` replay and conflict detection for creating POSTs;
//! - [`ratelimit`]: per-tenant request budgets (429 with `Retry-After`);
//! - [`audit`]: the append-only, per-tenant hash-chained audit log;
//! - [`openapi`]: the OpenAPI pieces every function's document shares (security scheme, problem
//!   responses, each operation's required access).

pub mod audit;
pub mod body;
pub mod error;
pub mod headers;
pub mod idempotency;
pub mod openapi;
pub mod paging;
pub mod principal;
pub mod ratelimit;
pub mod router;
pub mod window;

pub use error::ApiError;
pub use principal::{Principal, PrincipalKind};
pub use router::{Access, Ctx, Route, dispatch};

/// The response type handlers return.
pub type Response = lambda_http::Response<lambda_http::Body>;
