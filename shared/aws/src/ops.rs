//! Every AWS API operation the collector calls, with the IAM action that authorizes it. The two
//! differ for a few S3 operations (`GetBucketEncryption` needs `s3:GetEncryptionConfiguration`);
//! `api_calls` lists operations, permission errors name actions, exactly as checks list them.

/// One API operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op {
    /// `<service prefix>:<OperationName>`, as counted in `Collected::api_calls`.
    pub api: &'static str,
    /// The IAM action that authorizes the call.
    pub action: &'static str,
}

const fn op(api: &'static str, action: &'static str) -> Op {
    Op { api, action }
}

pub const STS_ASSUME_ROLE: Op = op("sts:AssumeRole", "sts:AssumeRole");

pub const EC2_DESCRIBE_REGIONS: Op = op("ec2:DescribeRegions", "ec2:DescribeRegions");
pub const EC2_GET_EBS_ENCRYPTION_BY_DEFAULT: Op = op("ec2:GetEbsEncryptionByDefault", "ec2:GetEbsEncryptionByDefault");

pub const IAM_GENERATE_CREDENTIAL_REPORT: Op = op("iam:GenerateCredentialReport", "iam:GenerateCredentialReport");
pub const IAM_GET_CREDENTIAL_REPORT: Op = op("iam:GetCredentialReport", "iam:GetCredentialReport");
pub const IAM_LIST_USERS: Op = op("iam:ListUsers", "iam:ListUsers");
pub const IAM_LIST_ATTACHED_USER_POLICIES: Op = op("iam:ListAttachedUserPolicies", "iam:ListAttachedUserPolicies");
pub const IAM_LIST_USER_POLICIES: Op = op("iam:ListUserPolicies", "iam:ListUserPolicies");
pub const IAM_GET_USER_POLICY: Op = op("iam:GetUserPolicy", "iam:GetUserPolicy");
pub const IAM_GET_POLICY: Op = op("iam:GetPolicy", "iam:GetPolicy");
pub const IAM_GET_POLICY_VERSION: Op = op("iam:GetPolicyVersion", "iam:GetPolicyVersion");
pub const IAM_GET_ACCOUNT_PASSWORD_POLICY: Op = op("iam:GetAccountPasswordPolicy", "iam:GetAccountPasswordPolicy");

pub const S3_LIST_BUCKETS: Op = op("s3:ListBuckets", "s3:ListAllMyBuckets");
pub const S3_GET_BUCKET_LOCATION: Op = op("s3:GetBucketLocation", "s3:GetBucketLocation");
pub const S3_GET_BUCKET_ENCRYPTION: Op = op("s3:GetBucketEncryption", "s3:GetEncryptionConfiguration");
pub const S3_GET_PUBLIC_ACCESS_BLOCK: Op = op("s3:GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock");
pub const S3_GET_BUCKET_POLICY_STATUS: Op = op("s3:GetBucketPolicyStatus", "s3:GetBucketPolicyStatus");
pub const S3_GET_BUCKET_POLICY: Op = op("s3:GetBucketPolicy", "s3:GetBucketPolicy");
pub const S3_GET_BUCKET_VERSIONING: Op = op("s3:GetBucketVersioning", "s3:GetBucketVersioning");
pub const S3_GET_OBJECT_LOCK_CONFIGURATION: Op =
    op("s3:GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration");
pub const S3CONTROL_GET_PUBLIC_ACCESS_BLOCK: Op =
    op("s3control:GetPublicAccessBlock", "s3:GetAccountPublicAccessBlock");

pub const CLOUDTRAIL_DESCRIBE_TRAILS: Op = op("cloudtrail:DescribeTrails", "cloudtrail:DescribeTrails");
pub const CLOUDTRAIL_GET_TRAIL_STATUS: Op = op("cloudtrail:GetTrailStatus", "cloudtrail:GetTrailStatus");

pub const CONFIG_DESCRIBE_RECORDERS: Op =
    op("config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorders");
pub const CONFIG_DESCRIBE_RECORDER_STATUS: Op =
    op("config:DescribeConfigurationRecorderStatus", "config:DescribeConfigurationRecorderStatus");
pub const CONFIG_DESCRIBE_COMPLIANCE_BY_RULE: Op =
    op("config:DescribeComplianceByConfigRule", "config:DescribeComplianceByConfigRule");

pub const KMS_LIST_KEYS: Op = op("kms:ListKeys", "kms:ListKeys");
pub const KMS_DESCRIBE_KEY: Op = op("kms:DescribeKey", "kms:DescribeKey");
pub const KMS_GET_KEY_ROTATION_STATUS: Op = op("kms:GetKeyRotationStatus", "kms:GetKeyRotationStatus");

pub const GUARDDUTY_LIST_DETECTORS: Op = op("guardduty:ListDetectors", "guardduty:ListDetectors");
pub const GUARDDUTY_GET_DETECTOR: Op = op("guardduty:GetDetector", "guardduty:GetDetector");

/// Every operation made with the customer's role (AssumeRole is made with Kushim's own identity).
pub const ALL: &[Op] = &[
    EC2_DESCRIBE_REGIONS,
    EC2_GET_EBS_ENCRYPTION_BY_DEFAULT,
    IAM_GENERATE_CREDENTIAL_REPORT,
    IAM_GET_CREDENTIAL_REPORT,
    IAM_LIST_USERS,
    IAM_LIST_ATTACHED_USER_POLICIES,
    IAM_LIST_USER_POLICIES,
    IAM_GET_USER_POLICY,
    IAM_GET_POLICY,
    IAM_GET_POLICY_VERSION,
    IAM_GET_ACCOUNT_PASSWORD_POLICY,
    S3_LIST_BUCKETS,
    S3_GET_BUCKET_LOCATION,
    S3_GET_BUCKET_ENCRYPTION,
    S3_GET_PUBLIC_ACCESS_BLOCK,
    S3_GET_BUCKET_POLICY_STATUS,
    S3_GET_BUCKET_POLICY,
    S3_GET_BUCKET_VERSIONING,
    S3_GET_OBJECT_LOCK_CONFIGURATION,
    S3CONTROL_GET_PUBLIC_ACCESS_BLOCK,
    CLOUDTRAIL_DESCRIBE_TRAILS,
    CLOUDTRAIL_GET_TRAIL_STATUS,
    CONFIG_DESCRIBE_RECORDERS,
    CONFIG_DESCRIBE_RECORDER_STATUS,
    CONFIG_DESCRIBE_COMPLIANCE_BY_RULE,
    KMS_LIST_KEYS,
    KMS_DESCRIBE_KEY,
    KMS_GET_KEY_ROTATION_STATUS,
    GUARDDUTY_LIST_DETECTORS,
    GUARDDUTY_GET_DETECTOR,
];
