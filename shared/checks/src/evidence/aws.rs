//! AWS evidence: IAM credential report, user policies and the account password policy; CloudTrail
//! trails; S3 bucket posture; AWS Config recorders and rule results; KMS keys; GuardDuty
//! detectors; EBS default encryption; and the account's regions with their opt-in status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether a region is usable by the account (from `ec2:DescribeRegions --all-regions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptInStatus {
    /// A default region, always enabled.
    OptInNotRequired,
    /// An opt-in region the account has enabled.
    OptedIn,
    /// An opt-in region the account has not enabled: nothing runs there.
    NotOptedIn,
}

impl OptInStatus {
    pub fn is_enabled(self) -> bool {
        !matches!(self, OptInStatus::NotOptedIn)
    }
}

/// Kind `aws.account.regions`: every region and whether the account has it enabled. Connectors use
/// it to decide which regions to sweep; regional evidence repeats each region's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    pub regions: Vec<Region>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub opt_in_status: OptInStatus,
}

/// The user name the credential report gives the root user.
pub const ROOT_ACCOUNT_USER: &str = "<root_account>";

/// Kind `aws.iam.credential_report`: the parsed IAM credential report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialReport {
    pub generated_at: DateTime<Utc>,
    pub rows: Vec<CredentialReportRow>,
}

impl CredentialReport {
    /// The `<root_account>` row, if the report has one.
    pub fn root(&self) -> Option<&CredentialReportRow> {
        self.rows.iter().find(|r| r.is_root())
    }

    /// Every IAM user row (the root row excluded).
    pub fn users(&self) -> impl Iterator<Item = &CredentialReportRow> {
        self.rows.iter().filter(|r| !r.is_root())
    }
}

/// One row of the credential report, with the CSV's text values normalized:
/// - `password_enabled` is `None` where the report says `not_supported` (always the case for the
///   root row, whose console password cannot be listed this way).
/// - Dates are `None` where the report says `N/A`, `no_information` or leaves them empty: the
///   credential does not exist or has never been used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialReportRow {
    pub user: String,
    pub arn: String,
    pub user_creation_time: DateTime<Utc>,
    pub password_enabled: Option<bool>,
    pub password_last_used: Option<DateTime<Utc>>,
    pub password_last_changed: Option<DateTime<Utc>>,
    pub mfa_active: bool,
    pub access_key_1_active: bool,
    pub access_key_1_last_rotated: Option<DateTime<Utc>>,
    pub access_key_1_last_used_date: Option<DateTime<Utc>>,
    pub access_key_2_active: bool,
    pub access_key_2_last_rotated: Option<DateTime<Utc>>,
    pub access_key_2_last_used_date: Option<DateTime<Utc>>,
}

/// A view of one of the two access key slots of a credential report row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessKeySlot {
    /// 1 or 2.
    pub slot: u8,
    pub active: bool,
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
}

impl CredentialReportRow {
    /// True for the `<root_account>` row.
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ACCOUNT_USER
    }

    /// Both access key slots, in order.
    pub fn access_keys(&self) -> [AccessKeySlot; 2] {
        [
            AccessKeySlot {
                slot: 1,
                active: self.access_key_1_active,
                last_rotated: self.access_key_1_last_rotated,
                last_used: self.access_key_1_last_used_date,
            },
            AccessKeySlot {
                slot: 2,
                active: self.access_key_2_active,
                last_rotated: self.access_key_2_last_rotated,
                last_used: self.access_key_2_last_used_date,
            },
        ]
    }

    /// The active access key slots.
    pub fn active_keys(&self) -> impl Iterator<Item = AccessKeySlot> {
        self.access_keys().into_iter().filter(|k| k.active)
    }
}

/// Kind `aws.iam.user_policies`: the policies attached directly to each IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPolicies {
    pub users: Vec<UserPolicySet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPolicySet {
    pub user_name: String,
    pub arn: String,
    /// Managed policies attached to the user (`iam:ListAttachedUserPolicies`); `None` if unreadable.
    pub attached_policies: Option<Vec<AttachedPolicy>>,
    /// Inline policies embedded in the user (`iam:ListUserPolicies` + `iam:GetUserPolicy`); `None`
    /// if unreadable.
    pub inline_policies: Option<Vec<InlinePolicy>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
    /// The default version's document, URL-decoded, for customer-managed policies
    /// (`iam:GetPolicyVersion`). `None` for AWS-managed policies, or when it could not be read.
    pub document: Option<serde_json::Value>,
}

impl AttachedPolicy {
    /// True for policies AWS owns (`arn:<partition>:iam::aws:policy/...`).
    pub fn is_aws_managed(&self) -> bool {
        self.policy_arn.contains(":iam::aws:policy/")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlinePolicy {
    pub policy_name: String,
    /// The URL-decoded policy document.
    pub document: serde_json::Value,
}

/// Kind `aws.iam.password_policy`. `policy` is `None` when the account has no password policy
/// (`iam:GetAccountPasswordPolicy` answered `NoSuchEntity`), which is a visible state, not a gap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPasswordPolicy {
    pub policy: Option<PasswordPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub minimum_password_length: u32,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase_characters: bool,
    pub require_lowercase_characters: bool,
    pub allow_users_to_change_password: bool,
    /// Days a password stays valid; `None` when passwords never expire.
    pub max_password_age: Option<u32>,
    /// How many previous passwords cannot be reused; `None` when reuse is not prevented.
    pub password_reuse_prevention: Option<u32>,
    pub hard_expiry: bool,
}

/// Kind `aws.cloudtrail.trails`: every trail visible from the account, deduplicated by ARN (shadow
/// copies of multi-region trails removed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trails {
    pub trails: Vec<Trail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trail {
    pub name: String,
    pub arn: String,
    pub home_region: String,
    pub is_multi_region: bool,
    pub is_organization_trail: bool,
    pub log_file_validation_enabled: bool,
    /// The KMS key that encrypts delivered log files; `None` when only S3's default encryption applies.
    pub kms_key_id: Option<String>,
    pub cloud_watch_logs_log_group_arn: Option<String>,
    /// From `cloudtrail:GetTrailStatus`; `None` if it could not be read.
    pub status: Option<TrailStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailStatus {
    pub is_logging: bool,
    pub latest_delivery_time: Option<DateTime<Utc>>,
    pub latest_cloud_watch_logs_delivery_time: Option<DateTime<Utc>>,
}

/// Kind `aws.s3.buckets`: the posture of every bucket plus the account-level public access block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Buckets {
    /// The account-level block (IAM action `s3:GetAccountPublicAccessBlock`); an account without one has all
    /// four flags false. `None` if it could not be read.
    pub account_public_access_block: Option<PublicAccessBlock>,
    pub buckets: Vec<Bucket>,
}

/// Default encryption of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketEncryption {
    /// No default encryption configured.
    None,
    /// SSE-S3: keys owned and managed by S3 (AES256).
    SseS3,
    /// SSE-KMS: a KMS key.
    SseKms,
    /// DSSE-KMS: dual-layer encryption with a KMS key.
    DsseKms,
}

/// The four S3 Block Public Access settings. A bucket or account without a configuration has all
/// four false.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four settings on.
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The settings with their API names, in a fixed order.
    pub fn flags(&self) -> [(&'static str, bool); 4] {
        [
            ("BlockPublicAcls", self.block_public_acls),
            ("IgnorePublicAcls", self.ignore_public_acls),
            ("BlockPublicPolicy", self.block_public_policy),
            ("RestrictPublicBuckets", self.restrict_public_buckets),
        ]
    }

    pub fn all_enabled(&self) -> bool {
        self.flags().iter().all(|(_, on)| *on)
    }
}

/// A bucket's versioning state (`s3:GetBucketVersioning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersioningStatus {
    /// Versioning was never turned on.
    Disabled,
    Enabled,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub name: String,
    pub region: String,
    pub encryption: Option<BucketEncryption>,
    /// The bucket's own block settings; `None` if they could not be read.
    pub public_access_block: Option<PublicAccessBlock>,
    /// Whether the bucket policy grants public access (`s3:GetBucketPolicyStatus`); a bucket
    /// without a policy is `Some(false)`.
    pub policy_is_public: Option<bool>,
    /// Whether the bucket policy denies requests with `aws:SecureTransport = false`; a bucket
    /// without a policy is `Some(false)`.
    pub policy_denies_insecure_transport: Option<bool>,
    pub versioning: Option<VersioningStatus>,
    pub object_lock_enabled: Option<bool>,
}

/// Kind `aws.config.recorders`: the configuration recorders of every region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRecorders {
    pub regions: Vec<RegionalConfigRecorders>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalConfigRecorders {
    pub region: String,
    pub opt_in_status: OptInStatus,
    /// `None` if the region could not be queried.
    pub recorders: Option<Vec<ConfigRecorder>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRecorder {
    pub name: String,
    /// From the recorder status: the recorder is running.
    pub recording: bool,
    /// The recording group records every supported resource type.
    pub all_supported: bool,
    /// The recording group also records global resources (IAM users, roles, policies...).
    pub include_global_resource_types: bool,
}

/// Kind `aws.config.rule_compliance`: the compliance of each AWS Config rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRuleCompliance {
    pub rules: Vec<ConfigRuleResult>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceType {
    Compliant,
    NonCompliant,
    NotApplicable,
    InsufficientData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRuleResult {
    pub rule_name: String,
    pub region: String,
    pub compliance_type: ComplianceType,
    /// How many resources the rule found non-compliant, when AWS reports it (it caps at 100).
    pub non_compliant_resource_count: Option<u32>,
}

/// Kind `aws.kms.keys`: every KMS key with its metadata and rotation status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsKeys {
    pub keys: Vec<KmsKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyManager {
    Aws,
    Customer,
}

/// The key spec, reduced to what matters for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySpec {
    /// `SYMMETRIC_DEFAULT`: the only spec with automatic rotation.
    Symmetric,
    /// RSA, ECC or SM2 key pairs.
    Asymmetric,
    /// HMAC keys.
    Hmac,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
    Unavailable,
    Creating,
    Updating,
    PendingReplicaDeletion,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsKey {
    pub key_id: String,
    pub arn: String,
    pub region: String,
    pub manager: KeyManager,
    pub key_spec: KeySpec,
    pub key_state: KeyState,
    /// From `kms:GetKeyRotationStatus`; `None` if it could not be read.
    pub rotation_enabled: Option<bool>,
}

/// Kind `aws.guardduty.detectors`: the GuardDuty detectors of every region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardDutyDetectors {
    pub regions: Vec<RegionalDetectors>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalDetectors {
    pub region: String,
    pub opt_in_status: OptInStatus,
    /// `None` if the region could not be queried.
    pub detectors: Option<Vec<Detector>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorStatus {
    Enabled,
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detector {
    pub detector_id: String,
    pub status: DetectorStatus,
}

/// Kind `aws.ec2.ebs_default_encryption`: whether new EBS volumes are encrypted by default, per region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbsDefaultEncryption {
    pub regions: Vec<RegionalEbsDefault>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalEbsDefault {
    pub region: String,
    pub opt_in_status: OptInStatus,
    /// `None` if the region could not be queried.
    pub enabled: Option<bool>,
}
