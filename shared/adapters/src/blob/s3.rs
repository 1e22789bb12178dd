//! The S3 BlobStore adapter. The evidence bucket is versioned with Object Lock, so a put never
//! replaces bytes in place and a locked version cannot be deleted. Puts send the SHA-256 checksum
//! (S3 rejects bytes that do not match it); heads ask for the checksum back and read the lock
//! headers (`x-amz-object-lock-mode`, `-retain-until-date`) rather than GetObjectRetention.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, DateTime as S3DateTime};
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ObjectLockMode};
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use kushim_domain::Sha256Digest;

use super::{
    Blob, BlobMeta, BlobStore, KeyPage, LockMode, PresignedRequest, PutOptions, Retention, validate_blob_key,
    validate_presign,
};
use crate::aws::classify;
use crate::{AdapterError, Result};

/// S3-backed blob store for one bucket.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl S3Blobs {
    /// Wraps a client and a bucket name.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Builds an S3 client from an SDK configuration, switching to path-style addressing when a
    /// custom endpoint (an emulator) is configured.
    pub fn client_from(config: &aws_config::SdkConfig) -> Client {
        let builder =
            aws_sdk_s3::config::Builder::from(config).force_path_style(crate::aws::has_custom_endpoint(config));
        Client::from_conf(builder.build())
    }
}

fn b64(d: &Sha256Digest) -> String {
    base64::engine::general_purpose::STANDARD.encode(d.as_bytes())
}

fn from_b64(s: &str) -> Option<Sha256Digest> {
    // Multipart checksums look like "<base64>-<parts>"; only full-object digests are comparable.
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    Some(Sha256Digest::from_bytes(bytes.try_into().ok()?))
}

fn to_chrono(d: &S3DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(d.secs(), d.subsec_nanos())
}

fn presigned(req: &aws_sdk_s3::presigning::PresignedRequest, expires_in: Duration) -> PresignedRequest {
    PresignedRequest {
        method: req.method().to_owned(),
        url: req.uri().to_owned(),
        headers: req.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        expires_at: Utc::now() + chrono::Duration::from_std(expires_in).unwrap_or_default(),
    }
}

fn lock_mode(m: &ObjectLockMode) -> LockMode {
    if *m == ObjectLockMode::Compliance { LockMode::Compliance } else { LockMode::Governance }
}

fn map_err<E, R>(err: aws_sdk_s3::error::SdkError<E, R>, key: &str) -> AdapterError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + crate::aws::HttpStatus,
{
    match classify(&err) {
        AdapterError::NotFound(_) => AdapterError::NotFound(format!("object {key}")),
        other => other,
    }
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn put(&self, key: &str, bytes: Bytes, options: PutOptions) -> Result<BlobMeta> {
        validate_blob_key(key)?;
        let actual = kushim_domain::sha256(&bytes);
        if actual != options.sha256 {
            // S3 would refuse too; checking first avoids a round trip and works on emulators that
            // do not verify checksums.
            return Err(AdapterError::ChecksumMismatch(format!("expected {}, got {actual}", options.sha256)));
        }
        let size = bytes.len() as u64;
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .content_type(&options.content_type)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(b64(&options.sha256));
        if let Some(r) = options.retention {
            req = req
                .object_lock_mode(match r.mode {
                    LockMode::Compliance => ObjectLockMode::Compliance,
                    LockMode::Governance => ObjectLockMode::Governance,
                })
                .object_lock_retain_until_date(S3DateTime::from_secs(r.until.timestamp()));
        }
        if options.if_absent {
            req = req.if_none_match("*");
        }
        let out = req.send().await.map_err(|e| map_err(e, key))?;
        Ok(BlobMeta {
            key: key.to_owned(),
            version_id: out.version_id.unwrap_or_else(|| "null".into()),
            size,
            sha256: Some(options.sha256),
            content_type: Some(options.content_type),
            retention: options.retention.map(|r| Retention {
                mode: r.mode,
                until: DateTime::from_timestamp(r.until.timestamp(), 0).unwrap_or(r.until),
            }),
            last_modified: Some(Utc::now()),
        })
    }

    async fn get(&self, key: &str, version_id: Option<&str>) -> Result<Blob> {
        validate_blob_key(key)?;
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| map_err(e, key))?;
        let meta = BlobMeta {
            key: key.to_owned(),
            version_id: out.version_id.clone().unwrap_or_else(|| "null".into()),
            size: out.content_length.unwrap_or(0) as u64,
            sha256: out.checksum_sha256.as_deref().and_then(from_b64),
            content_type: out.content_type.clone(),
            retention: out
                .object_lock_mode
                .as_ref()
                .zip(out.object_lock_retain_until_date.as_ref())
                .and_then(|(m, u)| Some(Retention { mode: lock_mode(m), until: to_chrono(u)? })),
            last_modified: out.last_modified.as_ref().and_then(to_chrono),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AdapterError::Unavailable(format!("reading object body: {e}")))?
            .into_bytes();
        Ok(Blob { meta, bytes })
    }

    async fn head(&self, key: &str, version_id: Option<&str>) -> Result<BlobMeta> {
        validate_blob_key(key)?;
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| map_err(e, key))?;
        Ok(BlobMeta {
            key: key.to_owned(),
            version_id: out.version_id.clone().unwrap_or_else(|| "null".into()),
            size: out.content_length.unwrap_or(0) as u64,
            sha256: out.checksum_sha256.as_deref().and_then(from_b64),
            content_type: out.content_type.clone(),
            retention: out
                .object_lock_mode
                .as_ref()
                .zip(out.object_lock_retain_until_date.as_ref())
                .and_then(|(m, u)| Some(Retention { mode: lock_mode(m), until: to_chrono(u)? })),
            last_modified: out.last_modified.as_ref().and_then(to_chrono),
        })
    }

    async fn delete(&self, key: &str, version_id: Option<&str>) -> Result<()> {
        validate_blob_key(key)?;
        if let Some(v) = version_id {
            // Check retention first so the error names the lock even on backends that only say
            // "AccessDenied".
            let meta = self.head(key, Some(v)).await?;
            if let Some(r) = meta.retention.filter(|r| r.until > Utc::now()) {
                return Err(AdapterError::ObjectLocked { until: r.until.to_rfc3339() });
            }
        }
        let res = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) => match map_err(e, key) {
                AdapterError::AccessDenied(why) if version_id.is_some() => {
                    Err(AdapterError::ObjectLocked { until: why })
                }
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str, continuation: Option<String>, limit: u32) -> Result<KeyPage> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(limit.clamp(1, 1000) as i32)
            .set_continuation_token(continuation)
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(KeyPage {
            keys: out.contents.unwrap_or_default().into_iter().filter_map(|o| o.key).collect(),
            next: out.next_continuation_token,
        })
    }

    async fn presign_get(&self, key: &str, version_id: Option<&str>, expires_in: Duration) -> Result<PresignedRequest> {
        validate_blob_key(key)?;
        validate_presign(expires_in)?;
        let cfg = PresigningConfig::expires_in(expires_in).map_err(|e| AdapterError::Invalid(e.to_string()))?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .presigned(cfg)
            .await
            .map_err(|e| classify(&e))?;
        Ok(presigned(&req, expires_in))
    }

    async fn presign_put(
        &self,
        key: &str,
        sha256: Sha256Digest,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        validate_blob_key(key)?;
        validate_presign(expires_in)?;
        let cfg = PresigningConfig::expires_in(expires_in).map_err(|e| AdapterError::Invalid(e.to_string()))?;
        // The checksum is part of the signature: S3 refuses an upload whose bytes do not hash to it.
        // Naming the algorithm too is what an Object Lock bucket (default retention) requires of a put.
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(b64(&sha256))
            .presigned(cfg)
            .await
            .map_err(|e| classify(&e))?;
        Ok(presigned(&req, expires_in))
    }

    async fn probe(&self) -> Result<()> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map_err(|e| classify(&e))?;
        Ok(())
    }
}
