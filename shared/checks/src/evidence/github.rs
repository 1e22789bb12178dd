//! GitHub evidence: organization settings, members and outside collaborators; repository settings,
//! default-branch protection and open security alerts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An organization's base permission on its repositories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BasePermission {
    None,
    Read,
    Write,
    Admin,
}

/// Kind `github.org.settings`. Several fields are only shown to organization owners; they are
/// `None` when the token could not see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSettings {
    pub login: String,
    pub two_factor_requirement_enabled: Option<bool>,
    pub default_repository_permission: Option<BasePermission>,
    pub members_can_create_public_repositories: Option<bool>,
    pub web_commit_signoff_required: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    Admin,
    Member,
}

/// Kind `github.org.members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgMembers {
    pub members: Vec<OrgMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgMember {
    pub login: String,
    pub role: OrgRole,
    /// From the `2fa_disabled` member filter, visible to owners only; `None` if not visible.
    pub two_factor_enabled: Option<bool>,
}

/// A person's permission on one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RepoPermission {
    Read,
    Triage,
    Write,
    Maintain,
    Admin,
}

/// Kind `github.org.outside_collaborators`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutsideCollaborators {
    pub collaborators: Vec<OutsideCollaborator>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutsideCollaborator {
    pub login: String,
    pub repositories: Vec<RepoGrant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoGrant {
    /// `owner/name`.
    pub repo: String,
    pub permission: RepoPermission,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    Private,
    Internal,
}

/// How code scanning is set up on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeScanningSetup {
    NotConfigured,
    /// GitHub's default setup.
    DefaultSetup,
    /// A workflow uploads analyses (advanced setup or a third-party tool).
    AdvancedSetup,
}

/// Kind `github.repo.settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repositories {
    pub repos: Vec<Repository>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repository {
    /// `owner/name`; the resource id of repository results.
    pub name: String,
    pub visibility: Visibility,
    pub archived: bool,
    pub fork: bool,
    /// `None` for an empty repository.
    pub default_branch: Option<String>,
    pub dependabot_alerts_enabled: Option<bool>,
    pub secret_scanning: Option<bool>,
    pub secret_scanning_push_protection: Option<bool>,
    pub code_scanning: Option<CodeScanningSetup>,
    /// Why the repository is public, as recorded by the organization (the connector reads it from
    /// a repository custom property). `None` means no justification is recorded.
    pub public_justification: Option<String>,
}

/// The rules that effectively apply to a default branch, merged from classic branch protection
/// and rulesets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchRules {
    /// Approvals a pull request needs; `None` when changes need not go through a pull request.
    pub required_approving_review_count: Option<u32>,
    pub dismiss_stale_reviews: bool,
    pub require_code_owner_reviews: bool,
    /// Names of the status checks that must pass before merging.
    pub required_status_checks: Vec<String>,
    /// Administrators (and, for rulesets, any bypass actor) are held to the rules too.
    pub enforce_admins: bool,
    pub allow_force_pushes: bool,
    pub allow_deletions: bool,
    pub require_signed_commits: bool,
}

/// Whether a default branch is protected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Protection {
    /// No protection rule and no ruleset applies to the branch.
    Unprotected,
    Rules(BranchRules),
    /// The protection could not be read.
    NotVisible,
}

/// Kind `github.repo.branch_protection`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchProtections {
    pub repos: Vec<RepoBranchProtection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoBranchProtection {
    /// `owner/name`.
    pub repo: String,
    pub archived: bool,
    /// `None` for an empty repository.
    pub default_branch: Option<String>,
    pub protection: Protection,
}

/// Open alerts by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

/// Open alerts of one tool on one repository.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSummary {
    pub open: SeverityCounts,
    /// When the oldest open critical alert was opened, if the connector recorded it.
    pub oldest_open_critical: Option<DateTime<Utc>>,
    /// When the oldest open high alert was opened, if the connector recorded it.
    pub oldest_open_high: Option<DateTime<Utc>>,
}

/// Kind `github.repo.alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoAlerts {
    pub repos: Vec<RepoAlertSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepoAlertSummary {
    /// `owner/name`.
    pub repo: String,
    pub archived: bool,
    /// `None` when the alerts could not be listed (the feature is off or the token cannot see it).
    pub dependabot: Option<AlertSummary>,
    pub code_scanning: Option<AlertSummary>,
    /// Open secret scanning alerts (they carry no severity).
    pub secret_scanning_open: Option<u32>,
}
