//! [`ApiError`]: every way a request can fail, each mapped onto an RFC 9457 problem with a stable
//! `type` URI. Internal causes are logged by the caller and never put in the response.

use kushim_adapters::AdapterError;
use kushim_lambda::Problem;
use lambda_http::Request;
use lambda_http::http::{HeaderValue, StatusCode};

use crate::Response;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid credentials.
    #[error("authentication required")]
    Unauthorized,
    /// Login failed (same answer for an unknown account and a wrong password).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Authenticated, but the role or scopes do not allow this.
    #[error("forbidden")]
    Forbidden,
    /// No such thing for this tenant (or the route does not exist).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The input breaks a rule.
    #[error("invalid request: {0}")]
    Validation(String),
    /// The body is not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body is too large.
    #[error("payload larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The same `Idempotency-Key` was used with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyMismatch,
    /// A request with this `Idempotency-Key` is still being processed.
    #[error("idempotent request in progress")]
    IdempotencyInProgress,
    /// Too many requests; retry after the given seconds.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the budget refills.
        retry_after_secs: u64,
    },
    /// Too many failed sign-in attempts; retry after the given seconds.
    #[error("temporarily locked")]
    LockedOut {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// A backend is down; retrying later may work.
    #[error("service unavailable")]
    Unavailable,
    /// Anything unexpected.
    #[error("internal error")]
    Internal,
}

impl From<AdapterError> for ApiError {
    fn from(e: AdapterError) -> Self {
        tracing::error!(code = e.code(), "storage error");
        if e.is_retryable() { Self::Unavailable } else { Self::Internal }
    }
}

impl ApiError {
    /// The problem this error is shown as.
    pub fn problem(&self) -> Problem {
        let p = |s: StatusCode, slug: &str, title: &str| Problem::new(s, slug, title);
        match self {
            Self::Unauthorized => p(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required")
                .detail("send a valid access token or API key in the Authorization header"),
            Self::InvalidCredentials => p(StatusCode::UNAUTHORIZED, "invalid-credentials", "Invalid credentials")
                .detail("the email address or password is not correct"),
            Self::Forbidden => p(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
                .detail("your role or API key scopes do not allow this action"),
            Self::NotFound => Problem::not_found(),
            Self::Conflict(d) => p(StatusCode::CONFLICT, "conflict", "Conflict").detail(d.clone()),
            Self::Validation(d) => Problem::invalid_request(d.clone()),
            Self::UnsupportedMediaType => {
                p(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
                    .detail("send the body as application/json")
            }
            Self::PayloadTooLarge(n) => p(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
                .detail(format!("request bodies are limited to {n} bytes")),
            Self::IdempotencyMismatch => {
                p(StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reuse", "Idempotency key reused")
                    .detail("this Idempotency-Key was already used with a different request")
            }
            Self::IdempotencyInProgress => p(StatusCode::CONFLICT, "idempotency-in-progress", "Request in progress")
                .detail("a request with this Idempotency-Key is still being processed; retry shortly"),
            Self::RateLimited { .. } => p(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
                .detail("the tenant's request budget is spent; retry after the Retry-After delay"),
            Self::LockedOut { .. } => p(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", "Too many attempts")
                .detail("sign-in is temporarily blocked after repeated failures; retry after the Retry-After delay"),
            Self::Unavailable => Problem::unavailable("a backend is temporarily unavailable; retry later"),
            Self::Internal => Problem::internal(),
        }
    }

    /// The response for `req` (request id filled in, `Retry-After` where it applies).
    pub fn into_response(self, req: &Request) -> Response {
        let retry = match &self {
            Self::RateLimited { retry_after_secs } | Self::LockedOut { retry_after_secs } => Some(*retry_after_secs),
            Self::Unavailable | Self::IdempotencyInProgress => Some(1),
            _ => None,
        };
        let mut resp = self.problem().for_request(req);
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            resp.headers_mut().insert("retry-after", v);
        }
        resp
    }
}
