//! What an assessment-results document is built from: the tenant, the framework and window, each
//! Kushim control with its evaluation and check results, and the evidence files of the export
//! package.

use chrono::{DateTime, Utc};
use kushim_catalog::{Control, FrameworkId};
use kushim_checks::CheckResult;
use kushim_engine::{ControlEvaluation, Effectiveness};
use serde::{Deserialize, Serialize};

/// Everything one assessment-results document says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssessmentInput {
    /// The customer's name, used in titles and as the assessed organisation.
    pub tenant_name: String,
    /// The framework whose requirements the document reviews.
    pub framework: FrameworkId,
    /// Start of the observation window.
    pub window_start: DateTime<Utc>,
    /// End of the observation window; check results are reported as collected at this time.
    pub window_end: DateTime<Utc>,
    /// When the document was produced (its `last-modified`).
    pub generated_at: DateTime<Utc>,
    /// The Kushim controls assessed. Controls that map to no requirement of the framework are left
    /// out of the document.
    pub controls: Vec<ControlInput>,
    /// The evidence files shipped beside the document.
    pub evidence: Vec<EvidenceRef>,
}

/// One Kushim control and what Kushim concluded about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlInput {
    /// The control, from the catalog.
    pub control: Control,
    /// Its evaluation at the end of the window.
    pub evaluation: ControlEvaluation,
    /// The latest check results that support it.
    pub results: Vec<CheckResult>,
    /// How it operated over the window, when daily history exists.
    pub effectiveness: Option<Effectiveness>,
}

/// One evidence file in the export package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Lowercase hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// Its media type, such as `application/json`.
    pub media_type: String,
    /// A short human title.
    pub title: String,
    /// When it was collected or uploaded.
    pub collected_at: DateTime<Utc>,
    /// Its path inside the export package, such as `evidence/<sha256>`.
    pub href: String,
    /// The Kushim controls it supports (such as `KC-IAM-01`). Observations about those controls
    /// cite it as relevant evidence; empty when it supports no control in particular.
    #[serde(default)]
    pub control_ids: Vec<String>,
}
