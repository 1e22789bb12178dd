//! Security headers added to every API response: no sniffing, no framing, no caching of
//! personal data, no referrer leaks, HTTPS only.

use lambda_http::http::HeaderValue;

use crate::Response;

const HEADERS: [(&str, &str); 6] = [
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'"),
    ("cache-control", "no-store"),
];

/// Adds the security headers (keeping any a handler set itself).
pub fn secure(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    for (name, value) in HEADERS {
        if !headers.contains_key(name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}

/// The header names [`secure`] sets (for tests).
pub fn names() -> impl Iterator<Item = &'static str> {
    HEADERS.iter().map(|(n, _)| *n)
}
