//! RFC 9457 problem details for every HTTP error Kushim returns. Each kind of error has a stable
//! `type` URI (clients may switch on it), a short `title`, the HTTP `status`, an optional
//! human-readable `detail` that never contains internal error text, and the request id so a
//! support request can be traced.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

/// Base of every problem `type` URI.
pub const TYPE_BASE: &str = "https://kushim.dev/problems/";

/// Media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem response (RFC 9457), sent as `application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "type": "https://kushim.dev/problems/forbidden",
    "title": "Forbidden",
    "status": 403,
    "detail": "your role or API key scopes do not allow this action",
    "request_id": "c0ffee00-1234-4bcd-9f00-000000000000"
}))]
pub struct Problem {
    /// Stable URI naming the kind of error.
    #[serde(rename = "type")]
    #[schema(format = "uri")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    /// A problem of kind `slug` (appended to [`TYPE_BASE`]).
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            request_id: None,
        }
    }

    /// Adds the occurrence's detail (builder style). Never pass internal error text here.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// 404 for a route or resource that does not exist (or is not the caller's).
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed", "Method not allowed")
    }

    /// 400 for input that breaks a rule.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", "Invalid request").detail(detail)
    }

    /// 503 when a backend is down; the caller may retry.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable").detail(detail)
    }

    /// 500 for anything unexpected. The detail is generic on purpose: the cause goes to the logs.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            .detail("An unexpected error occurred. Quote the request id when reporting it.")
    }

    /// The response, with the request id of `req` filled in.
    pub fn for_request(mut self, req: &Request) -> Response<Body> {
        self.request_id = request_id(req);
        self.into_response()
    }

    /// The response as is.
    pub fn into_response(self) -> Response<Body> {
        let body = serde_json::to_string(&self).unwrap_or_else(|_| "{}".into());
        let mut resp = Response::new(Body::Text(body));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        resp
    }
}

/// The API Gateway request id of a request, when it has one.
pub fn request_id(req: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A JSON response with the given status.
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    let mut resp = Response::new(Body::Text(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_shape() {
        let resp = Problem::not_found().detail("no such control").into_response();
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let Body::Text(text) = resp.body() else { panic!("text body expected") };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["type"], "https://kushim.dev/problems/not-found");
        assert_eq!(v["title"], "Not found");
        assert_eq!(v["status"], 404);
        assert_eq!(v["detail"], "no such control");
    }
}
