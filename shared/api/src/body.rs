//! Strict JSON request bodies: the content type must be JSON, the size is bounded, and the target
//! types refuse unknown fields (`#[serde(deny_unknown_fields)]`), so a typo never passes silently.

use lambda_http::{Body, Request};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Largest JSON body an endpoint accepts.
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Parses the request body as JSON into `T`.
pub fn json<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media != "application/json" && !media.ends_with("+json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.len() > MAX_JSON_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_JSON_BYTES));
    }
    if bytes.is_empty() {
        return Err(ApiError::Validation("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))
}

/// The raw body bytes (for hashing idempotent requests).
pub fn bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Input {
        name: String,
    }

    fn req(ct: &str, body: &str) -> Request {
        let mut r = Request::new(Body::Text(body.to_owned()));
        r.headers_mut().insert("content-type", ct.parse().unwrap());
        r
    }

    #[test]
    fn accepts_json_and_refuses_the_rest() {
        assert_eq!(json::<Input>(&req("application/json; charset=utf-8", r#"{"name":"a"}"#)).unwrap().name, "a");
        assert!(matches!(json::<Input>(&req("text/plain", r#"{"name":"a"}"#)), Err(ApiError::UnsupportedMediaType)));
        assert!(matches!(
            json::<Input>(&req("application/json", r#"{"name":"a","x":1}"#)),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(json::<Input>(&req("application/json", "")), Err(ApiError::Validation(_))));
        let big = format!(r#"{{"name":"{}"}}"#, "a".repeat(MAX_JSON_BYTES));
        assert!(matches!(json::<Input>(&req("application/json", &big)), Err(ApiError::PayloadTooLarge(_))));
    }
}
