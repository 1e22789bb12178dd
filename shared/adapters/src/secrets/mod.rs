//! The Secrets port: named secret strings (credentials, signing keys). Values travel as
//! [`SecretString`] so they are never printed by `Debug` and are zeroed when dropped. The embedded
//! adapter encrypts every value with AES-256-GCM under a key file created on first use.

pub mod embedded;
#[cfg(feature = "aws-secrets")]
pub mod secretsmanager;

use async_trait::async_trait;
pub use secrecy::{ExposeSecret, SecretString};

use crate::{AdapterError, Result};

/// Largest secret Secrets Manager stores.
pub const MAX_SECRET_BYTES: usize = 65_536;

pub(crate) fn validate_secret_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b));
    if ok { Ok(()) } else { Err(AdapterError::Invalid(format!("invalid secret name {name:?}"))) }
}

/// The Secrets port.
#[async_trait]
pub trait Secrets: Send + Sync + 'static {
    /// Reads a secret; `NotFound` when absent.
    async fn get(&self, name: &str) -> Result<SecretString>;
    /// Creates or replaces a secret.
    async fn put(&self, name: &str, value: SecretString) -> Result<()>;
    /// Creates a secret only if none of that name exists (one scheduled for deletion counts as
    /// absent, as it does for [`Secrets::get`]). Returns `true` when this call stored `value` and
    /// `false` when a secret already existed, whose value is left as it was. Of several callers
    /// racing to create the same name, in one process or many, exactly one gets `true`; the
    /// others should read the winner's value with [`Secrets::get`].
    async fn create_if_absent(&self, name: &str, value: SecretString) -> Result<bool>;
    /// Deletes a secret; `NotFound` when absent.
    async fn delete(&self, name: &str) -> Result<()>;
}
