//! The BlobStore port: a versioned object store with SHA-256 checksums, object-lock retention and
//! presigned URLs. Semantics both adapters share (checked by the contract suite):
//! - every put creates a new, immutable version; nothing is ever overwritten in place;
//! - a put carries the expected SHA-256; the store refuses bytes that do not match it, and returns
//!   the same digest on every later read of that version;
//! - a version under retention cannot be deleted until its retention date has passed
//!   ([`crate::AdapterError::ObjectLocked`]); deleting without a version only hides the object
//!   (a delete marker), every version stays readable by id;
//! - `if_absent` makes a put fail with `ConditionFailed` when the key already has a current version.

pub mod embedded;
#[cfg(feature = "aws-blob")]
pub mod s3;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kushim_domain::Sha256Digest;
use serde::{Deserialize, Serialize};

use crate::{AdapterError, Result};

/// Object-lock mode. Kushim uses `Compliance` for evidence: nobody, not even an administrator,
/// can shorten it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LockMode {
    /// Privileged users may bypass (S3 GOVERNANCE).
    Governance,
    /// Nobody can bypass or shorten (S3 COMPLIANCE).
    Compliance,
}

/// Retention on one object version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Lock mode.
    pub mode: LockMode,
    /// The version cannot be deleted before this instant.
    pub until: DateTime<Utc>,
}

/// Options for a put.
#[derive(Debug, Clone, PartialEq)]
pub struct PutOptions {
    /// Media type stored with the object.
    pub content_type: String,
    /// Expected SHA-256 of the bytes; the put fails if they differ.
    pub sha256: Sha256Digest,
    /// Retention to apply to the new version.
    pub retention: Option<Retention>,
    /// Fail with `ConditionFailed` if the key already has a current version.
    pub if_absent: bool,
}

impl PutOptions {
    /// Options for bytes of the given type, with their digest computed here.
    pub fn for_bytes(bytes: &[u8], content_type: &str) -> Self {
        Self {
            content_type: content_type.to_owned(),
            sha256: kushim_domain::sha256(bytes),
            retention: None,
            if_absent: false,
        }
    }
}

/// What the store knows about one object version.
#[derive(Debug, Clone, PartialEq)]
pub struct BlobMeta {
    /// Object key.
    pub key: String,
    /// Version id.
    pub version_id: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 recorded at put time.
    pub sha256: Option<Sha256Digest>,
    /// Media type.
    pub content_type: Option<String>,
    /// Retention, if any.
    pub retention: Option<Retention>,
    /// When this version was written.
    pub last_modified: Option<DateTime<Utc>>,
}

/// An object's bytes and metadata.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Metadata.
    pub meta: BlobMeta,
    /// Content.
    pub bytes: Bytes,
}

/// A presigned request a client can make without credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresignedRequest {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers the client must send unchanged.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// One page of keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeyPage {
    /// Current (not deleted) keys in lexical order.
    pub keys: Vec<String>,
    /// Continuation token.
    pub next: Option<String>,
}

/// Longest presigned URL lifetime we hand out (S3 allows 7 days with SigV4).
pub const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

pub(crate) fn validate_blob_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 1024 || key.starts_with('/') || key.split('/').any(|p| p == ".." || p == ".") {
        return Err(AdapterError::Invalid(format!("invalid object key {key:?}")));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(AdapterError::Invalid("object keys may not contain control characters".into()));
    }
    Ok(())
}

pub(crate) fn validate_presign(expires_in: Duration) -> Result<()> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN {
        return Err(AdapterError::Invalid("presigned URLs live between 1 second and 7 days".into()));
    }
    Ok(())
}

/// The BlobStore port.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores a new version; returns its metadata.
    async fn put(&self, key: &str, bytes: Bytes, options: PutOptions) -> Result<BlobMeta>;
    /// Reads a version (the current one when `version_id` is `None`).
    async fn get(&self, key: &str, version_id: Option<&str>) -> Result<Blob>;
    /// Reads metadata only.
    async fn head(&self, key: &str, version_id: Option<&str>) -> Result<BlobMeta>;
    /// Deletes one version (refused while locked), or hides the object when `version_id` is `None`.
    async fn delete(&self, key: &str, version_id: Option<&str>) -> Result<()>;
    /// Lists current keys under a prefix.
    async fn list(&self, prefix: &str, continuation: Option<String>, limit: u32) -> Result<KeyPage>;
    /// A URL that downloads one version until it expires.
    async fn presign_get(&self, key: &str, version_id: Option<&str>, expires_in: Duration) -> Result<PresignedRequest>;
    /// A URL that uploads bytes with exactly this digest and media type until it expires.
    async fn presign_put(
        &self,
        key: &str,
        sha256: Sha256Digest,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest>;
    /// Cheap round trip proving the store answers.
    async fn probe(&self) -> Result<()>;
}
