//! The export request and the stored export record.

use chrono::{DateTime, NaiveDate, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::Item;
use kushim_catalog::FrameworkId;
use kushim_domain::TenantId;
use serde::{Deserialize, Serialize};

use crate::{ExportError, Result};

/// Longest observation window one export covers (a SOC 2 Type II period is at most a year).
pub const MAX_WINDOW_DAYS: i64 = 366;

/// What the requester asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// The framework whose controls the package covers.
    pub framework: FrameworkId,
    /// First day of the observation window (UTC).
    pub from: NaiveDate,
    /// Last day of the observation window (UTC), inclusive.
    pub to: NaiveDate,
}

impl ExportRequest {
    /// Refuses windows that end before they start, end in the future or are longer than
    /// [`MAX_WINDOW_DAYS`].
    pub fn validate(&self, now: DateTime<Utc>) -> Result<()> {
        if self.from > self.to {
            return Err(ExportError::Invalid(format!("the window {}..{} ends before it starts", self.from, self.to)));
        }
        if self.to > now.date_naive() {
            return Err(ExportError::Invalid(format!("the window ends in the future ({})", self.to)));
        }
        if (self.to - self.from).num_days() + 1 > MAX_WINDOW_DAYS {
            return Err(ExportError::Invalid(format!("the window is longer than {MAX_WINDOW_DAYS} days")));
        }
        Ok(())
    }
}

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Waiting for the background build.
    Queued,
    /// Built, stored and downloadable.
    Ready,
    /// The build gave up; `error` says why.
    Failed,
}

impl ExportStatus {
    /// `queued`, `ready` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Queued => "queued",
            ExportStatus::Ready => "ready",
            ExportStatus::Failed => "failed",
        }
    }
}

/// One export, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// UUID v7.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The framework.
    pub framework: FrameworkId,
    /// First day of the window.
    pub from: NaiveDate,
    /// Last day of the window.
    pub to: NaiveDate,
    /// Where it stands.
    pub status: ExportStatus,
    /// The user or API key that asked.
    pub requested_by: String,
    /// When it was asked for; also the package's "generated at", so a rebuild from the same state
    /// gives the same bytes.
    pub created_at: DateTime<Utc>,
    /// When the build finished or gave up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// SHA-256 of the ZIP (hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Size of the ZIP in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the ZIP is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob_key: Option<String>,
    /// The blob version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The checkpoint the package's ledger segment ends at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_seq: Option<u64>,
    /// Evidence files in the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_count: Option<u64>,
    /// Controls reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_count: Option<u64>,
    /// Why the build failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ExportRecord {
    pub(crate) fn queued(tenant: &TenantId, request: ExportRequest, requested_by: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.to_string(),
            framework: request.framework,
            from: request.from,
            to: request.to,
            status: ExportStatus::Queued,
            requested_by: requested_by.to_owned(),
            created_at: now,
            completed_at: None,
            sha256: None,
            size: None,
            blob_key: None,
            version_id: None,
            checkpoint_seq: None,
            evidence_count: None,
            control_count: None,
            error: None,
        }
    }

    pub(crate) fn item(&self) -> Result<Item> {
        let tenant = TenantId::new(&self.tenant).map_err(|e| ExportError::Invalid(e.to_string()))?;
        let attrs = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(ExportError::Invalid("export record does not serialise".into())),
        };
        Ok(Item { attrs, ..Item::new(keys::export(&tenant, &self.id)) })
    }

    /// The package's file name for downloads.
    pub fn file_name(&self) -> String {
        format!("kushim-{}-{}-{}-{}.zip", self.tenant, self.framework.as_str(), self.from, self.to)
    }
}

/// Whether `id` looks like an export id (anything else is simply not found).
pub(crate) fn valid_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}
