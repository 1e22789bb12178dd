//! Normalized evidence: the shapes connectors hand to checks. Each connector turns raw API answers
//! into one of the [`Evidence`] kinds below, tagged with a stable `kind` string, and records how it
//! collected them in an [`EvidenceContext`].
//!
//! Conventions shared by every kind:
//! - An `Option` field that is `None` means the collector could not see that value (the API hid it
//!   or the call failed); checks report such a resource as inconclusive, never as passing. Where
//!   "absent" is a real, visible state (no password policy, no bucket policy), it is spelled out in
//!   the field's documentation.
//! - Regional AWS evidence carries each region's opt-in status, so a check never needs a second
//!   piece of evidence to know which regions matter. A region that is enabled but whose data is
//!   `None` could not be reached (for example a service control policy denies it).
//! - Times are UTC.

pub mod aws;
pub mod github;
pub mod okta;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The stable `kind` strings, one per [`Evidence`] variant.
pub mod kinds {
    pub const AWS_ACCOUNT_REGIONS: &str = "aws.account.regions";
    pub const AWS_IAM_CREDENTIAL_REPORT: &str = "aws.iam.credential_report";
    pub const AWS_IAM_USER_POLICIES: &str = "aws.iam.user_policies";
    pub const AWS_IAM_PASSWORD_POLICY: &str = "aws.iam.password_policy";
    pub const AWS_CLOUDTRAIL_TRAILS: &str = "aws.cloudtrail.trails";
    pub const AWS_S3_BUCKETS: &str = "aws.s3.buckets";
    pub const AWS_CONFIG_RECORDERS: &str = "aws.config.recorders";
    pub const AWS_CONFIG_RULE_COMPLIANCE: &str = "aws.config.rule_compliance";
    pub const AWS_KMS_KEYS: &str = "aws.kms.keys";
    pub const AWS_GUARDDUTY_DETECTORS: &str = "aws.guardduty.detectors";
    pub const AWS_EC2_EBS_DEFAULT_ENCRYPTION: &str = "aws.ec2.ebs_default_encryption";
    pub const GITHUB_ORG_SETTINGS: &str = "github.org.settings";
    pub const GITHUB_ORG_MEMBERS: &str = "github.org.members";
    pub const GITHUB_ORG_OUTSIDE_COLLABORATORS: &str = "github.org.outside_collaborators";
    pub const GITHUB_REPO_SETTINGS: &str = "github.repo.settings";
    pub const GITHUB_REPO_BRANCH_PROTECTION: &str = "github.repo.branch_protection";
    pub const GITHUB_REPO_ALERTS: &str = "github.repo.alerts";
    pub const OKTA_USERS: &str = "okta.users";
    pub const OKTA_POLICY_PASSWORD: &str = "okta.policy.password";
    pub const OKTA_POLICY_SIGN_ON: &str = "okta.policy.sign_on";
    pub const OKTA_POLICY_MFA_ENROLLMENT: &str = "okta.policy.mfa_enrollment";
    pub const OKTA_SYSTEM_LOG_SUMMARY: &str = "okta.system_log.summary";

    /// Every kind, in the order of the [`super::Evidence`] variants.
    pub const ALL: &[&str] = &[
        AWS_ACCOUNT_REGIONS,
        AWS_IAM_CREDENTIAL_REPORT,
        AWS_IAM_USER_POLICIES,
        AWS_IAM_PASSWORD_POLICY,
        AWS_CLOUDTRAIL_TRAILS,
        AWS_S3_BUCKETS,
        AWS_CONFIG_RECORDERS,
        AWS_CONFIG_RULE_COMPLIANCE,
        AWS_KMS_KEYS,
        AWS_GUARDDUTY_DETECTORS,
        AWS_EC2_EBS_DEFAULT_ENCRYPTION,
        GITHUB_ORG_SETTINGS,
        GITHUB_ORG_MEMBERS,
        GITHUB_ORG_OUTSIDE_COLLABORATORS,
        GITHUB_REPO_SETTINGS,
        GITHUB_REPO_BRANCH_PROTECTION,
        GITHUB_REPO_ALERTS,
        OKTA_USERS,
        OKTA_POLICY_PASSWORD,
        OKTA_POLICY_SIGN_ON,
        OKTA_POLICY_MFA_ENROLLMENT,
        OKTA_SYSTEM_LOG_SUMMARY,
    ];
}

/// One piece of normalized evidence. Serialized as `{"kind": "<kind>", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", deny_unknown_fields)]
pub enum Evidence {
    #[serde(rename = "aws.account.regions")]
    AwsRegions(aws::Regions),
    #[serde(rename = "aws.iam.credential_report")]
    AwsCredentialReport(aws::CredentialReport),
    #[serde(rename = "aws.iam.user_policies")]
    AwsUserPolicies(aws::UserPolicies),
    #[serde(rename = "aws.iam.password_policy")]
    AwsPasswordPolicy(aws::AccountPasswordPolicy),
    #[serde(rename = "aws.cloudtrail.trails")]
    AwsCloudTrail(aws::Trails),
    #[serde(rename = "aws.s3.buckets")]
    AwsS3Buckets(aws::S3Buckets),
    #[serde(rename = "aws.config.recorders")]
    AwsConfigRecorders(aws::ConfigRecorders),
    #[serde(rename = "aws.config.rule_compliance")]
    AwsConfigRuleCompliance(aws::ConfigRuleCompliance),
    #[serde(rename = "aws.kms.keys")]
    AwsKmsKeys(aws::KmsKeys),
    #[serde(rename = "aws.guardduty.detectors")]
    AwsGuardDuty(aws::GuardDutyDetectors),
    #[serde(rename = "aws.ec2.ebs_default_encryption")]
    AwsEbsDefaultEncryption(aws::EbsDefaultEncryption),
    #[serde(rename = "github.org.settings")]
    GithubOrgSettings(github::OrgSettings),
    #[serde(rename = "github.org.members")]
    GithubOrgMembers(github::OrgMembers),
    #[serde(rename = "github.org.outside_collaborators")]
    GithubOutsideCollaborators(github::OutsideCollaborators),
    #[serde(rename = "github.repo.settings")]
    GithubRepoSettings(github::Repositories),
    #[serde(rename = "github.repo.branch_protection")]
    GithubBranchProtection(github::BranchProtections),
    #[serde(rename = "github.repo.alerts")]
    GithubRepoAlerts(github::RepoAlerts),
    #[serde(rename = "okta.users")]
    OktaUsers(okta::Users),
    #[serde(rename = "okta.policy.password")]
    OktaPasswordPolicies(okta::PasswordPolicies),
    #[serde(rename = "okta.policy.sign_on")]
    OktaSignOnPolicies(okta::SignOnPolicies),
    #[serde(rename = "okta.policy.mfa_enrollment")]
    OktaMfaEnrollmentPolicies(okta::MfaEnrollmentPolicies),
    #[serde(rename = "okta.system_log.summary")]
    OktaSystemLogSummary(okta::SystemLogSummary),
}

impl Evidence {
    /// The stable kind string; equal to the serialized `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::AwsRegions(_) => kinds::AWS_ACCOUNT_REGIONS,
            Evidence::AwsCredentialReport(_) => kinds::AWS_IAM_CREDENTIAL_REPORT,
            Evidence::AwsUserPolicies(_) => kinds::AWS_IAM_USER_POLICIES,
            Evidence::AwsPasswordPolicy(_) => kinds::AWS_IAM_PASSWORD_POLICY,
            Evidence::AwsCloudTrail(_) => kinds::AWS_CLOUDTRAIL_TRAILS,
            Evidence::AwsS3Buckets(_) => kinds::AWS_S3_BUCKETS,
            Evidence::AwsConfigRecorders(_) => kinds::AWS_CONFIG_RECORDERS,
            Evidence::AwsConfigRuleCompliance(_) => kinds::AWS_CONFIG_RULE_COMPLIANCE,
            Evidence::AwsKmsKeys(_) => kinds::AWS_KMS_KEYS,
            Evidence::AwsGuardDuty(_) => kinds::AWS_GUARDDUTY_DETECTORS,
            Evidence::AwsEbsDefaultEncryption(_) => kinds::AWS_EC2_EBS_DEFAULT_ENCRYPTION,
            Evidence::GithubOrgSettings(_) => kinds::GITHUB_ORG_SETTINGS,
            Evidence::GithubOrgMembers(_) => kinds::GITHUB_ORG_MEMBERS,
            Evidence::GithubOutsideCollaborators(_) => kinds::GITHUB_ORG_OUTSIDE_COLLABORATORS,
            Evidence::GithubRepoSettings(_) => kinds::GITHUB_REPO_SETTINGS,
            Evidence::GithubBranchProtection(_) => kinds::GITHUB_REPO_BRANCH_PROTECTION,
            Evidence::GithubRepoAlerts(_) => kinds::GITHUB_REPO_ALERTS,
            Evidence::OktaUsers(_) => kinds::OKTA_USERS,
            Evidence::OktaPasswordPolicies(_) => kinds::OKTA_POLICY_PASSWORD,
            Evidence::OktaSignOnPolicies(_) => kinds::OKTA_POLICY_SIGN_ON,
            Evidence::OktaMfaEnrollmentPolicies(_) => kinds::OKTA_POLICY_MFA_ENROLLMENT,
            Evidence::OktaSystemLogSummary(_) => kinds::OKTA_SYSTEM_LOG_SUMMARY,
        }
    }
}

/// What a piece of evidence covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "connector", rename_all = "snake_case", deny_unknown_fields)]
pub enum Scope {
    /// One AWS account; `region` is set when the evidence covers a single region only.
    Aws { account_id: String, region: Option<String> },
    /// One GitHub organization, by login.
    Github { org: String },
    /// One Okta org, by its domain (for example `example.okta.com`).
    Okta { org: String },
}

impl Scope {
    /// The resource id used for results about the scope as a whole (an account, an org).
    pub fn resource_id(&self) -> String {
        match self {
            Scope::Aws { account_id, .. } => account_id.clone(),
            Scope::Github { org } | Scope::Okta { org } => org.clone(),
        }
    }
}

/// An API call the collector was not allowed to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionError {
    /// The exact action, permission or scope that was refused, as checks list them
    /// (`s3:GetBucketPolicy`, `administration:read`, `okta.users.read`).
    pub action: String,
    /// The provider's message, kept for the reader.
    pub message: String,
    /// The one resource the refusal applied to, using the checks' resource ids (a bucket name, a
    /// region, a repository). `None` means the action was refused for the whole scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}

/// How and where a piece of evidence was collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceContext {
    pub collected_at: DateTime<Utc>,
    pub scope: Scope,
    #[serde(default)]
    pub permission_errors: Vec<PermissionError>,
}

impl EvidenceContext {
    /// A context with no permission errors.
    pub fn new(collected_at: DateTime<Utc>, scope: Scope) -> Self {
        Self { collected_at, scope, permission_errors: Vec::new() }
    }

    /// The same context with one more refused action (for the whole scope).
    pub fn with_permission_error(mut self, action: impl Into<String>, message: impl Into<String>) -> Self {
        self.permission_errors.push(PermissionError { action: action.into(), message: message.into(), resource: None });
        self
    }
}
