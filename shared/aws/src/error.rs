//! Errors of a collection, split into transient ones (try the job again later) and permanent ones
//! (report them; retrying will not help), and the classification of AWS SDK errors into them.
//!
//! Not every SDK error becomes a [`CollectError`]: an `AccessDenied` on one action inside a family
//! is evidence in its own right. Collectors record it as a
//! [`kushim_checks::PermissionError`] in the evidence context and keep going, so the checks that
//! need the action report inconclusive instead of passing. Only the role itself being refused
//! (AssumeRole) stops a collection with [`PermanentReason::AccessDenied`].
//!
//! Every message is sanitized: access key ids, signatures, security tokens and credential scopes
//! are cut out, and messages are capped in length, so an error can be logged and stored as is.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Why a collection stopped for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PermanentReason {
    /// The customer's role refused us (AssumeRole denied: the role was deleted, its trust policy or
    /// external id changed).
    AccessDenied,
    /// The credentials were refused as invalid (unknown key, bad signature).
    InvalidCredentials,
    /// Something the collection relies on does not exist.
    MissingResource,
    /// The request itself is wrong: a malformed slice, a slice for another account, a bad role ARN.
    InvalidConfig,
    /// AWS answered with something the collector cannot read (a malformed credential report).
    UnexpectedResponse,
}

impl PermanentReason {
    /// A short, stable code for logs, metrics and stored job outcomes.
    pub fn code(self) -> &'static str {
        match self {
            PermanentReason::AccessDenied => "access_denied",
            PermanentReason::InvalidCredentials => "invalid_credentials",
            PermanentReason::MissingResource => "missing_resource",
            PermanentReason::InvalidConfig => "invalid_config",
            PermanentReason::UnexpectedResponse => "unexpected_response",
        }
    }
}

impl fmt::Display for PermanentReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A collection that could not produce its evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// Throttling that outlasted the SDK's own retries, a 5xx, a timeout or a network failure.
    /// Retrying the job later may succeed; `retry_after` suggests when.
    #[error("transient AWS failure: {message}")]
    Transient { message: String, retry_after: Option<Duration> },
    /// Retrying will not help until someone changes something.
    #[error("permanent AWS failure ({reason}): {message}")]
    Permanent { reason: PermanentReason, message: String },
}

impl CollectError {
    /// Whether the same job may succeed if tried again later.
    pub fn is_transient(&self) -> bool {
        matches!(self, CollectError::Transient { .. })
    }

    /// A short, stable code: `transient` or the permanent reason's code.
    pub fn code(&self) -> &'static str {
        match self {
            CollectError::Transient { .. } => "transient",
            CollectError::Permanent { reason, .. } => reason.code(),
        }
    }

    /// The sanitized message.
    pub fn message(&self) -> &str {
        match self {
            CollectError::Transient { message, .. } | CollectError::Permanent { message, .. } => message,
        }
    }

    pub(crate) fn permanent(reason: PermanentReason, message: impl AsRef<str>) -> Self {
        CollectError::Permanent { reason, message: sanitize(message.as_ref()) }
    }

    pub(crate) fn transient(message: impl AsRef<str>, retry_after: Option<Duration>) -> Self {
        CollectError::Transient { message: sanitize(message.as_ref()), retry_after }
    }
}

/// Error codes AWS uses to ask callers to slow down.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "BandwidthLimitExceeded",
];

/// Error codes that mean "this principal may not perform this action".
pub const DENIED_CODES: &[&str] =
    &["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"];

/// Error codes that mean the credentials themselves are not accepted.
pub const CREDENTIAL_CODES: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidSignatureException",
];

/// Error codes that mean the temporary credentials ran out; new ones fix it.
const EXPIRED_CODES: &[&str] = &["ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"];

/// Error codes of failures on AWS's side that come back with a 4xx-looking code.
const SERVER_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
];

/// What kind of failure an SDK error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Slow down (after the SDK's retries).
    Throttled,
    /// 5xx, timeout, network: AWS could not answer.
    Unavailable,
    /// The action was refused for this principal.
    Denied,
    /// The credentials were not accepted.
    Credentials,
    /// The credentials expired.
    Expired,
    /// Any other error answer (not found, validation...): the caller decides.
    Client,
}

/// A classified SDK error, with the service's code and a sanitized message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) code: Option<String>,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    /// Classifies any SDK error.
    pub(crate) fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match err {
            SdkError::ServiceError(e) => {
                let inner = e.err();
                let status = e.raw().status().as_u16();
                let retry_after = e
                    .raw()
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Failure::from_parts(inner.code(), inner.message(), Some(status), retry_after)
            }
            SdkError::TimeoutError(_) => Failure::unavailable("the request timed out"),
            SdkError::DispatchFailure(e) => {
                let what = if e.is_timeout() {
                    "connecting timed out"
                } else if e.is_io() {
                    "a network error occurred"
                } else {
                    "the request could not be sent"
                };
                Failure::unavailable(format!("{what}: {}", DisplayErrorContext(err)))
            }
            SdkError::ResponseError(e) => {
                let status = e.raw().status().as_u16();
                if status >= 500 || status == 429 {
                    Failure::from_parts(None, Some("unreadable error response"), Some(status), None)
                } else {
                    Failure {
                        kind: FailureKind::Client,
                        code: None,
                        message: sanitize(&format!("unreadable response (HTTP {status})")),
                        retry_after: None,
                    }
                }
            }
            // A request the SDK could not even build (a missing parameter, an endpoint that does
            // not resolve for the region) is a fault of the input, not of AWS.
            _ => Failure {
                kind: FailureKind::Client,
                code: None,
                message: sanitize(&format!("the request could not be built: {}", DisplayErrorContext(err))),
                retry_after: None,
            },
        }
    }

    /// Classifies an error code, message and HTTP status.
    pub(crate) fn from_parts(
        code: Option<&str>,
        message: Option<&str>,
        status: Option<u16>,
        retry_after: Option<Duration>,
    ) -> Failure {
        let kind = match code {
            Some(c) if THROTTLING_CODES.contains(&c) => FailureKind::Throttled,
            Some(c) if DENIED_CODES.contains(&c) => FailureKind::Denied,
            Some(c) if CREDENTIAL_CODES.contains(&c) => FailureKind::Credentials,
            Some(c) if EXPIRED_CODES.contains(&c) => FailureKind::Expired,
            Some(c) if SERVER_CODES.contains(&c) => FailureKind::Unavailable,
            _ => match status {
                Some(429) => FailureKind::Throttled,
                Some(s) if s >= 500 => FailureKind::Unavailable,
                // S3 answers HEAD-style denials with a bare 403.
                Some(403) if code.is_none() => FailureKind::Denied,
                _ => FailureKind::Client,
            },
        };
        let text = match (code, message) {
            (Some(c), Some(m)) if !m.is_empty() => format!("{c}: {m}"),
            (Some(c), _) => c.to_owned(),
            (None, Some(m)) => format!("HTTP {}: {m}", status.unwrap_or(0)),
            (None, None) => format!("HTTP {}", status.unwrap_or(0)),
        };
        Failure { kind, code: code.map(str::to_owned), message: sanitize(&text), retry_after }
    }

    fn unavailable(message: impl AsRef<str>) -> Failure {
        Failure { kind: FailureKind::Unavailable, code: None, message: sanitize(message.as_ref()), retry_after: None }
    }

    /// True when the service's error code is `code`.
    pub(crate) fn is_code(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// The error the whole collection fails with when this failure cannot be absorbed.
    pub(crate) fn into_error(self, action: &str) -> CollectError {
        let message = format!("{action}: {}", self.message);
        match self.kind {
            FailureKind::Throttled => {
                CollectError::transient(message, Some(self.retry_after.unwrap_or(Duration::from_secs(60))))
            }
            FailureKind::Unavailable | FailureKind::Expired => CollectError::transient(message, self.retry_after),
            FailureKind::Denied => CollectError::permanent(PermanentReason::AccessDenied, message),
            FailureKind::Credentials => CollectError::permanent(PermanentReason::InvalidCredentials, message),
            FailureKind::Client => {
                let reason = match self.code.as_deref() {
                    Some(c)
                        if c.starts_with("NoSuch") || c.ends_with("NotFound") || c.ends_with("NotFoundException") =>
                    {
                        PermanentReason::MissingResource
                    }
                    _ => PermanentReason::InvalidConfig,
                };
                CollectError::permanent(reason, message)
            }
        }
    }
}

/// The longest message kept, in characters.
const MAX_MESSAGE: usize = 400;

/// Keys whose values are secrets or signing material, as they appear in URLs, headers and
/// error texts.
const SECRET_KEYS: &[&str] = &[
    "x-amz-signature=",
    "x-amz-security-token=",
    "x-amz-credential=",
    "signature=",
    "credential=",
    "securitytoken=",
    "sessiontoken=",
    "secretaccesskey=",
    "aws_secret_access_key=",
    "aws_session_token=",
    "authorization:",
];

/// Removes credentials, signatures and tokens from a message and caps its length.
pub fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_MESSAGE + 16));
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if let Some(key) = SECRET_KEYS.iter().find(|k| lower[i..].starts_with(**k)) {
            out.push_str(&text[i..i + key.len()]);
            out.push_str("<redacted>");
            i += key.len();
            // Skip leading spaces (after `authorization:`), then the value.
            while i < bytes.len() && bytes[i] == b' ' {
                i += 1;
            }
            while i < bytes.len() && !matches!(bytes[i], b'&' | b',' | b';' | b'"' | b'\'' | b'\n' | b'\r' | b' ') {
                i += 1;
            }
            continue;
        }
        if is_access_key_at(bytes, i) {
            out.push_str("<access-key-id>");
            i += 20;
            continue;
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(if ch.is_control() { ' ' } else { ch });
        i += ch.len_utf8();
    }
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// An access key id: `AKIA`/`ASIA` then 16 upper-case letters or digits, not inside a longer word.
fn is_access_key_at(bytes: &[u8], i: usize) -> bool {
    let starts = bytes[i..].starts_with(b"AKIA") || bytes[i..].starts_with(b"ASIA");
    starts
        && bytes.len() >= i + 20
        && bytes[i + 4..i + 20].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
        && bytes.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_and_5xx_are_transient() {
        for code in
            ["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown"]
        {
            let f = Failure::from_parts(Some(code), Some("Rate exceeded"), Some(400), None);
            assert_eq!(f.kind, FailureKind::Throttled, "{code}");
            let e = f.into_error("iam:ListUsers");
            assert!(e.is_transient(), "{code}");
            assert!(matches!(e, CollectError::Transient { retry_after: Some(_), .. }));
        }
        for status in [500, 502, 503, 504] {
            let f = Failure::from_parts(None, None, Some(status), None);
            assert_eq!(f.kind, FailureKind::Unavailable);
            assert!(f.into_error("s3:ListBuckets").is_transient());
        }
        assert_eq!(Failure::from_parts(Some("InternalFailure"), None, Some(400), None).kind, FailureKind::Unavailable);
        assert_eq!(Failure::from_parts(None, None, Some(429), None).kind, FailureKind::Throttled);
    }

    #[test]
    fn denials_and_bad_credentials_are_told_apart() {
        for code in ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"] {
            assert_eq!(Failure::from_parts(Some(code), None, Some(403), None).kind, FailureKind::Denied);
        }
        for code in ["InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"] {
            let f = Failure::from_parts(Some(code), None, Some(403), None);
            assert_eq!(f.kind, FailureKind::Credentials);
            assert!(matches!(
                f.into_error("sts:AssumeRole"),
                CollectError::Permanent { reason: PermanentReason::InvalidCredentials, .. }
            ));
        }
        assert_eq!(Failure::from_parts(Some("ExpiredToken"), None, Some(400), None).kind, FailureKind::Expired);
        assert_eq!(Failure::from_parts(None, None, Some(403), None).kind, FailureKind::Denied);
    }

    #[test]
    fn other_client_errors_become_missing_resource_or_invalid_config() {
        let missing = Failure::from_parts(Some("NoSuchEntity"), Some("The role cannot be found"), Some(404), None);
        assert!(matches!(
            missing.into_error("iam:GetRole"),
            CollectError::Permanent { reason: PermanentReason::MissingResource, .. }
        ));
        let bad = Failure::from_parts(Some("ValidationError"), Some("bad"), Some(400), None);
        assert!(matches!(
            bad.into_error("sts:AssumeRole"),
            CollectError::Permanent { reason: PermanentReason::InvalidConfig, .. }
        ));
    }

    #[test]
    fn sanitize_removes_keys_signatures_and_tokens() {
        let raw = "denied for AKIAIOSFODNN7EXAMPLE via ASIAZZZZZZZZZZZZZZZZ: \
                   https://x?X-Amz-Credential=AKIA/2024/us-east-1&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=FQoG//tok \
                   Authorization: AWS4-HMAC-SHA256 Credential=ASIA/x, Signature=deadbeef";
        let clean = sanitize(raw);
        for secret in ["AKIAIOSFODNN7EXAMPLE", "ASIAZZZZZZZZZZZZZZZZ", "abcdef0123", "FQoG//tok", "deadbeef"] {
            assert!(!clean.contains(secret), "{secret} leaked in {clean}");
        }
        assert!(clean.contains("denied for <access-key-id>"));
        assert!(clean.contains("X-Amz-Signature=<redacted>"));
    }

    #[test]
    fn sanitize_keeps_ordinary_text_and_caps_length() {
        assert_eq!(
            sanitize("User: arn:aws:iam::111122223333:role/x is not authorized"),
            "User: arn:aws:iam::111122223333:role/x is not authorized"
        );
        // A word that merely contains AKIA is not a key.
        assert_eq!(sanitize("XAKIAIOSFODNN7EXAMPLE"), "XAKIAIOSFODNN7EXAMPLE");
        assert_eq!(sanitize("line\nbreak"), "line break");
        let long = "é".repeat(1000);
        assert_eq!(sanitize(&long).chars().count(), MAX_MESSAGE + 1);
    }
}
