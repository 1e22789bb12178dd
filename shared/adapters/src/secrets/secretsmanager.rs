//! The AWS Secrets adapter: AWS Secrets Manager, with every secret name prefixed (e.g. by stage) so
//! several deployments share an account without clashing.
//!
//! Deleting schedules the secret for deletion with a 7-day recovery window, so a mistaken delete in
//! production can be undone with `RestoreSecret`; tests switch to immediate deletion with
//! [`SecretsManagerSecrets::with_force_delete`]. A secret pending deletion reads as `NotFound`, and
//! writing it again restores it.
//!
//! [`Secrets::create_if_absent`] is `CreateSecret`, which Secrets Manager refuses when the name is
//! taken, so of several racing creators exactly one wins. A secret pending deletion is restored and given the new value under a client request
//! token derived from its deletion date: every racer that saw the same deletion sends the same
//! token, and Secrets Manager refuses a second, different value under a token already used.
//! The role using this adapter needs `GetSecretValue`,
//! `PutSecretValue`, `CreateSecret`, `DescribeSecret`, `DeleteSecret` and `RestoreSecret`.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{ExposeSecret, MAX_SECRET_BYTES, SecretString, Secrets, validate_secret_name};
use crate::{AdapterError, Result};

/// Recovery window used when deleting, unless force delete is on.
pub const RECOVERY_WINDOW_DAYS: i64 = 7;

const NOT_FOUND: &str = "ResourceNotFoundException";
const EXISTS: &str = "ResourceExistsException";
const INVALID_REQUEST: &str = "InvalidRequestException";

/// Secrets Manager adapter for the Secrets port.
#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
    force_delete: bool,
}

impl SecretsManagerSecrets {
    /// Stores secret `name` as the Secrets Manager secret `prefix + name`.
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self { client, prefix: prefix.into(), force_delete: false }
    }

    /// Delete immediately, without a recovery window (for tests and throwaway environments).
    pub fn with_force_delete(mut self, force: bool) -> Self {
        self.force_delete = force;
        self
    }

    fn secret_id(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Whether the secret does not exist or is scheduled for deletion.
    async fn is_gone(&self, id: &str) -> Result<bool> {
        match self.client.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(out.deleted_date().is_some()),
            Err(e) if e.code() == Some(NOT_FOUND) => Ok(true),
            Err(e) => Err(classify(&e)),
        }
    }

    /// When the secret was scheduled for deletion, if it is; `None` when it is live; `NotFound`
    /// when it does not exist at all.
    async fn deleted_date(&self, id: &str) -> Result<Option<aws_sdk_secretsmanager::primitives::DateTime>> {
        match self.client.describe_secret().secret_id(id).send().await {
            Ok(out) => Ok(out.deleted_date().copied()),
            Err(e) if e.code() == Some(NOT_FOUND) => Err(AdapterError::NotFound(id.to_owned())),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn put_value(&self, id: &str, value: &str) -> Result<(), SdkError<PutError, HttpResponse>> {
        self.client.put_secret_value().secret_id(id).secret_string(value).send().await.map(drop)
    }
}

type PutError = aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueError;

fn not_found(name: &str) -> AdapterError {
    AdapterError::NotFound(format!("secret {name}"))
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<SecretString> {
        validate_secret_name(name)?;
        let id = self.secret_id(name);
        let out = match self.client.get_secret_value().secret_id(&id).send().await {
            Ok(out) => out,
            Err(e) if e.code() == Some(NOT_FOUND) => return Err(not_found(name)),
            // Reading a secret scheduled for deletion is an InvalidRequestException.
            Err(e) if e.code() == Some(INVALID_REQUEST) && self.is_gone(&id).await? => return Err(not_found(name)),
            Err(e) => return Err(classify(&e)),
        };
        if let Some(value) = out.secret_string() {
            return Ok(SecretString::from(value.to_owned()));
        }
        // A secret stored as binary by another tool: accept it if it is UTF-8.
        match out.secret_binary().map(|b| std::str::from_utf8(b.as_ref())) {
            Some(Ok(value)) => Ok(SecretString::from(value.to_owned())),
            _ => Err(AdapterError::Invalid(format!("secret {name} does not hold a string value"))),
        }
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<()> {
        validate_secret_name(name)?;
        let value = value.expose_secret();
        if value.len() > MAX_SECRET_BYTES {
            return Err(AdapterError::Invalid(format!("secret {name} is larger than {MAX_SECRET_BYTES} bytes")));
        }
        let id = self.secret_id(name);
        let err = match self.put_value(&id, value).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        match err.code() {
            Some(NOT_FOUND) => match self.client.create_secret().name(&id).secret_string(value).send().await {
                Ok(_) => Ok(()),
                // Created concurrently by someone else: write our value as a new version.
                Err(e) if e.code() == Some(EXISTS) => self.put_value(&id, value).await.map_err(|e| classify(&e)),
                Err(e) => Err(classify(&e)),
            },
            // Writing a secret scheduled for deletion is refused: restore it, then write.
            Some(INVALID_REQUEST) if self.is_gone(&id).await? => {
                self.client.restore_secret().secret_id(&id).send().await.map_err(|e| classify(&e))?;
                self.put_value(&id, value).await.map_err(|e| classify(&e))
            }
            _ => Err(classify(&err)),
        }
    }

    async fn create_if_absent(&self, name: &str, value: SecretString) -> Result<bool> {
        validate_secret_name(name)?;
        let value = value.expose_secret();
        if value.len() > MAX_SECRET_BYTES {
            return Err(AdapterError::Invalid(format!("secret {name} is larger than {MAX_SECRET_BYTES} bytes")));
        }
        let id = self.secret_id(name);
        let mut attempts = 0;
        let deleted = loop {
            attempts += 1;
            let err = match self.client.create_secret().name(&id).secret_string(value).send().await {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            // The name is taken, by a live secret or by one scheduled for deletion (AWS answers the
            // latter with InvalidRequestException, some emulators with ResourceExistsException).
            if !matches!(err.code(), Some(EXISTS | INVALID_REQUEST)) {
                return Err(classify(&err));
            }
            match self.deleted_date(&id).await {
                Ok(Some(deleted)) => break deleted,
                Ok(None) => return Ok(false),
                // Deleted for good in between: create it once more.
                Err(AdapterError::NotFound(_)) if attempts < 2 && err.code() == Some(EXISTS) => continue,
                Err(AdapterError::NotFound(_)) => return Err(classify(&err)),
                Err(e) => return Err(e),
            }
        };
        self.client.restore_secret().secret_id(&id).send().await.map_err(|e| classify(&e))?;
        // Same deletion, same token: only the first value written under it is accepted.
        let token = format!("kushim-create-if-absent-{:020}", deleted.to_millis().unwrap_or_default());
        let put = self.client.put_secret_value().secret_id(&id).secret_string(value).client_request_token(token);
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(EXISTS) => Ok(false),
            Err(e) => Err(classify(&e)),
        }
    }

    async fn delete(&self, name: &str) -> Result<()> {
        validate_secret_name(name)?;
        let id = self.secret_id(name);
        // DeleteSecret does not report a missing secret when forcing, nor consistently one already
        // pending deletion, so look first.
        if self.is_gone(&id).await? {
            return Err(not_found(name));
        }
        let request = self.client.delete_secret().secret_id(&id);
        let request = if self.force_delete {
            request.force_delete_without_recovery(true)
        } else {
            request.recovery_window_in_days(RECOVERY_WINDOW_DAYS)
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(NOT_FOUND) => Err(not_found(name)),
            // Deleted by someone else between the look and the delete.
            Err(e) if e.code() == Some(INVALID_REQUEST) && self.is_gone(&id).await? => Err(not_found(name)),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// Maps an SDK error onto the port's error kinds.
fn classify<E>(err: &SdkError<E, HttpResponse>) -> AdapterError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(err).to_string();
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return AdapterError::Unavailable(detail);
        }
        SdkError::ConstructionFailure(_) => return AdapterError::Invalid(detail),
        _ => {}
    }
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or_default();
    match err.code().unwrap_or_default() {
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded" => {
            AdapterError::Throttled(detail)
        }
        "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "NotAuthorized" => AdapterError::AccessDenied(detail),
        NOT_FOUND => AdapterError::NotFound(detail),
        "InternalServiceError" | "InternalFailure" | "ServiceUnavailable" => AdapterError::Unavailable(detail),
        _ if status == 429 => AdapterError::Throttled(detail),
        _ if status == 403 => AdapterError::AccessDenied(detail),
        _ if status >= 500 => AdapterError::Unavailable(detail),
        _ => AdapterError::Invalid(detail),
    }
}
