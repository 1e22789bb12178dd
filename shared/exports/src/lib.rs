//! Auditor exports: a tenant asks for a framework and an observation window; a background job
//! gathers the control status and effectiveness, the latest check results, the evidence placed in
//! the window, a fresh signed checkpoint with the ledger segment behind it and an OSCAL
//! assessment-results document, lays them out as an auditor package
//! ([`kushim_evidence::package`]) and stores the ZIP content-addressed in the blob store.
//!
//! [`Exports::create`] records the request (`queued`); [`Exports::build`] does the work and is safe
//! to run again after a crash or a redelivered job (a `ready` export is returned as it is); the
//! package is checked with [`kushim_evidence::package::verify_package`] before it is stored, so a
//! package that would not verify is never handed out.

mod gather;
mod model;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, PutOptions};
use kushim_adapters::keys;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::table::{Condition, Cursor, Item, Query, Table};
use kushim_compliance::{Compliance, ComplianceError};
use kushim_domain::TenantId;
use kushim_evidence::package::{build_package, verify_package};
use kushim_evidence::{Checkpoints, EvidenceError, EvidenceStore};

pub use model::{ExportRecord, ExportRequest, ExportStatus, MAX_WINDOW_DAYS};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The request is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// No such export.
    #[error("export {0} not found")]
    NotFound(String),
    /// The evidence layer failed.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// The compliance state could not be read.
    #[error(transparent)]
    Compliance(#[from] ComplianceError),
    /// Storage failed.
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The built package did not verify (state changed under the build); building again helps.
    #[error("the package did not verify: {0}")]
    Unverified(String),
}

impl ExportError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExportError::Adapter(e) => e.is_retryable(),
            ExportError::Evidence(EvidenceError::Adapter(e)) => e.is_retryable(),
            ExportError::Evidence(EvidenceError::Contended(_)) | ExportError::Unverified(_) => true,
            ExportError::Compliance(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, ExportError>;

/// The blob key of a package: content-addressed, so rebuilding the same package stores nothing new.
pub fn package_key(tenant: &TenantId, sha256_hex: &str) -> String {
    format!("tenants/{tenant}/exports/{sha256_hex}.zip")
}

/// Creates, builds and reads exports.
#[derive(Clone)]
pub struct Exports {
    table: Arc<dyn Table>,
    blobs: Arc<dyn BlobStore>,
    store: EvidenceStore,
    checkpoints: Checkpoints,
    compliance: Compliance,
}

impl Exports {
    /// Wraps the ports (the blob store is the evidence bucket).
    pub fn new(table: Arc<dyn Table>, blobs: Arc<dyn BlobStore>, secrets: Arc<dyn Secrets>) -> Self {
        Self {
            store: EvidenceStore::new(table.clone(), blobs.clone()),
            checkpoints: Checkpoints::new(table.clone(), secrets),
            compliance: Compliance::new(table.clone()),
            table,
            blobs,
        }
    }

    /// Records a new export request; the caller then queues the build.
    pub async fn create(
        &self,
        tenant: &TenantId,
        request: ExportRequest,
        requested_by: &str,
        now: DateTime<Utc>,
    ) -> Result<ExportRecord> {
        request.validate(now)?;
        let record = ExportRecord::queued(tenant, request, requested_by, now);
        self.table.put(record.item()?, Some(Condition::NotExists)).await?;
        Ok(record)
    }

    /// One export.
    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<Option<ExportRecord>> {
        if !model::valid_id(id) {
            return Ok(None);
        }
        match self.table.get(&keys::export(tenant, id)).await? {
            Some(item) => Ok(Some(item.parse()?)),
            None => Ok(None),
        }
    }

    /// A page of the tenant's exports, newest first.
    pub async fn list(
        &self,
        tenant: &TenantId,
        limit: u32,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<ExportRecord>, Option<Cursor>)> {
        let query =
            Query::partition(keys::tenant_pk(tenant)).begins_with(keys::EXPORT_PREFIX).limit(limit).after(cursor);
        let page = self.table.query(query.backward()).await?;
        let records = page.items.iter().map(Item::parse).collect::<std::result::Result<Vec<_>, _>>()?;
        Ok((records, page.cursor))
    }

    /// Builds the package of a queued export and marks it ready. Running it again on a ready
    /// export returns it unchanged.
    pub async fn build(&self, tenant: &TenantId, id: &str, now: DateTime<Utc>) -> Result<ExportRecord> {
        let record = self.get(tenant, id).await?.ok_or_else(|| ExportError::NotFound(id.to_owned()))?;
        if record.status == ExportStatus::Ready {
            return Ok(record);
        }
        // Every export signs the ledger head it ships.
        let checkpoint = self.checkpoints.checkpoint(tenant, now).await?;
        let gathered = gather::gather(self, tenant, &record, checkpoint).await?;
        // One copy of the package in memory: `Bytes` is shared, not copied, by the put below.
        let zip = Bytes::from(build_package(&gathered.contents)?);
        let report = verify_package(&zip);
        if let Some(bad) = report.first_bad {
            return Err(ExportError::Unverified(bad.to_string()));
        }
        let digest = kushim_domain::sha256(&zip);
        let hex = digest.to_hex();
        let key = package_key(tenant, &hex);
        let options =
            PutOptions { content_type: "application/zip".into(), sha256: digest, retention: None, if_absent: true };
        let meta = match self.blobs.put(&key, zip.clone(), options).await {
            Ok(meta) => meta,
            Err(AdapterError::ConditionFailed) => self.blobs.head(&key, None).await?,
            Err(e) => return Err(e.into()),
        };
        let ready = ExportRecord {
            status: ExportStatus::Ready,
            sha256: Some(hex),
            size: Some(zip.len() as u64),
            blob_key: Some(key),
            version_id: Some(meta.version_id),
            checkpoint_seq: Some(gathered.contents.checkpoint.seq),
            evidence_count: Some(gathered.contents.evidence.len() as u64),
            control_count: Some(gathered.controls as u64),
            completed_at: Some(now),
            error: None,
            ..record
        };
        self.table.put(ready.item()?, None).await?;
        Ok(ready)
    }

    /// Marks an export failed with a reason the requester can read.
    pub async fn fail(&self, tenant: &TenantId, id: &str, reason: &str, now: DateTime<Utc>) -> Result<ExportRecord> {
        let record = self.get(tenant, id).await?.ok_or_else(|| ExportError::NotFound(id.to_owned()))?;
        if record.status == ExportStatus::Ready {
            return Ok(record);
        }
        let failed = ExportRecord {
            status: ExportStatus::Failed,
            error: Some(reason.chars().take(500).collect()),
            completed_at: Some(now),
            ..record
        };
        self.table.put(failed.item()?, None).await?;
        Ok(failed)
    }

    /// The package's bytes, refused unless they still hash to the recorded digest.
    pub async fn package_bytes(&self, record: &ExportRecord) -> Result<Bytes> {
        let (Some(key), Some(sha)) = (&record.blob_key, &record.sha256) else {
            return Err(ExportError::Invalid(format!("export {} is not ready", record.id)));
        };
        let blob = self.blobs.get(key, record.version_id.as_deref()).await?;
        if kushim_domain::sha256(&blob.bytes).to_hex() != *sha {
            return Err(ExportError::Evidence(EvidenceError::Tampered {
                digest: sha.clone(),
                why: "the stored package no longer matches its digest".into(),
            }));
        }
        Ok(blob.bytes)
    }
}
