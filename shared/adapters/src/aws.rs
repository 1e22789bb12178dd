//! What every AWS adapter shares: loading the SDK configuration (which honours `AWS_ENDPOINT_URL`,
//! so the same code talks to AWS or to moto) and classifying SDK errors into [`AdapterError`]s.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::AdapterError;

/// Loads the SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
pub async fn load_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await
}

/// Whether the configuration points at a custom endpoint (an emulator such as moto).
pub fn has_custom_endpoint(config: &aws_config::SdkConfig) -> bool {
    config.endpoint_url().is_some()
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "SlowDown",
    "LimitExceededException",
    "TransactionInProgressException",
];
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthorizationError",
];
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "NoSuchKey",
    "NoSuchBucket",
    "NoSuchVersion",
    "NotFound",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];
const UNAVAILABLE: &[&str] =
    &["InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException"];

/// Maps a service error code (and HTTP status, when known) to an [`AdapterError`].
pub fn classify_code(code: Option<&str>, message: Option<&str>, status: Option<u16>) -> AdapterError {
    let text = format!("{}: {}", code.unwrap_or("unknown"), message.unwrap_or(""));
    match code {
        Some(c) if THROTTLING.contains(&c) => AdapterError::Throttled(text),
        Some(c) if DENIED.contains(&c) => AdapterError::AccessDenied(text),
        Some(c) if NOT_FOUND.contains(&c) => AdapterError::NotFound(text),
        Some(c) if UNAVAILABLE.contains(&c) => AdapterError::Unavailable(text),
        Some("ConditionalCheckFailedException") | Some("PreconditionFailed") => AdapterError::ConditionFailed,
        _ => match status {
            Some(429) => AdapterError::Throttled(text),
            Some(403) => AdapterError::AccessDenied(text),
            Some(404) => AdapterError::NotFound(text),
            Some(412) => AdapterError::ConditionFailed,
            Some(s) if s >= 500 => AdapterError::Unavailable(text),
            _ => AdapterError::Invalid(text),
        },
    }
}

/// Classifies any SDK error: transport failures and timeouts are retryable (`Unavailable`),
/// service errors are mapped by code.
pub fn classify<E, R>(err: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> AdapterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match err {
        SdkError::ConstructionFailure(_) => AdapterError::Invalid(format!("request could not be built: {err:?}")),
        SdkError::TimeoutError(_) => AdapterError::Unavailable("request timed out".into()),
        SdkError::DispatchFailure(e) => AdapterError::Unavailable(format!("could not reach the service: {e:?}")),
        SdkError::ResponseError(e) => AdapterError::Unavailable(format!("unreadable response: {e:?}")),
        SdkError::ServiceError(e) => {
            let inner = e.err();
            classify_code(inner.code(), inner.message(), Some(e.raw().status_code()))
        }
        _ => AdapterError::Unavailable(format!("{err:?}")),
    }
}

/// Reads the HTTP status of a raw response (implemented for the SDK's response type).
pub trait HttpStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

pub use aws_config::SdkConfig;

/// The AWS SDK crates the adapters use, re-exported so callers build clients with the same
/// versions.
pub mod sdk {
    #[cfg(feature = "aws-table")]
    pub use aws_sdk_dynamodb as dynamodb;
    #[cfg(feature = "aws-bus")]
    pub use aws_sdk_eventbridge as eventbridge;
    #[cfg(feature = "aws-blob")]
    pub use aws_sdk_s3 as s3;
    #[cfg(feature = "aws-secrets")]
    pub use aws_sdk_secretsmanager as secretsmanager;
    #[cfg(feature = "aws-queue")]
    pub use aws_sdk_sqs as sqs;
}
