//! AWS checks: IAM (users, root, keys, password policy, direct admin grants), CloudTrail, S3,
//! AWS Config, KMS, GuardDuty and EBS default encryption.
//!
//! Resource ids: IAM users and the root user by ARN, trails by ARN, buckets by name, KMS keys by
//! ARN, regional settings by region code, Config rules as `<region>/<rule name>`, and account-wide
//! settings by account id.

use serde_json::Value;

use super::{Env, Finding, bind, fail, join_words, judge_flag, not_applicable, not_visible, pass, region_unreachable};
use crate::check::{Check, CheckDef, Connector, InconclusiveReason, Remediation, Severity, Status};
use crate::evidence::aws::{
    AccountPasswordPolicy, AttachedPolicy, Bucket, BucketEncryption, ComplianceType, ConfigRecorder, ConfigRecorders,
    ConfigRuleCompliance, CredentialReport, CredentialReportRow, DetectorStatus, EbsDefaultEncryption,
    GuardDutyDetectors, KeyManager, KeySpec, KeyState, KmsKeys, PasswordPolicy, PublicAccessBlock, S3Buckets, Trail,
    Trails, UserPolicies, UserPolicySet, VersioningStatus,
};
use crate::evidence::kinds;

const CREDENTIAL_REPORT: &[&str] = &["iam:GenerateCredentialReport", "iam:GetCredentialReport"];
const USER_POLICIES: &[&str] = &[
    "iam:ListUsers",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
];
const PASSWORD_POLICY: &[&str] = &["iam:GetAccountPasswordPolicy"];
const TRAILS: &[&str] = &["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"];
const TRAILS_CONFIG: &[&str] = &["cloudtrail:DescribeTrails"];
const CONFIG_RECORDERS: &[&str] =
    &["config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus"];

/// Days after which an access key is due for rotation.
pub(crate) const KEY_ROTATION_DAYS: i64 = 90;
/// Days within which any use of the root user is reported.
pub(crate) const ROOT_RECENT_USE_DAYS: i64 = 30;

pub(crate) const CHECKS: &[Check] = &[
    Check {
        def: CheckDef {
            id: "aws.iam.user_mfa_console",
            title: "IAM users who can sign in to the console have MFA",
            description: "Every IAM user with a console password has an active MFA device. Users without a console password are not applicable.",
            rationale: "A password alone can be guessed, phished or reused from another breach. A second factor stops a stolen password from becoming a console session.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Ask the user to sign in and register an MFA device under Security credentials (a passkey or security key is best).",
                    "If the user does not need the console, delete their login profile instead.",
                    "Prefer federated access through your identity provider over IAM users with passwords.",
                ],
                cli: Some("aws iam delete-login-profile --user-name <user>   # when console access is not needed"),
                iac: None,
            },
            controls: &["KC-IAM-01"],
        },
        eval: bind!(AwsCredentialReport, user_mfa_console),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.root_mfa",
            title: "The root user has MFA",
            description: "The account's root user has an active MFA device.",
            rationale: "The root user can do anything in the account, including closing it, and no policy can restrict it. Its password must never be the only thing standing between an attacker and the account.",
            severity: Severity::Critical,
            connector: Connector::Aws,
            resource_type: "aws.iam.root_user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Sign in as the root user and open Security credentials.",
                    "Assign an MFA device, ideally a hardware security key kept in a safe place.",
                    "Register a second device so losing one does not lock you out.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-01", "KC-IAM-02"],
        },
        eval: bind!(AwsCredentialReport, root_mfa),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.root_access_keys",
            title: "The root user has no access keys",
            description: "Neither access key slot of the root user is active.",
            rationale: "A root access key grants unrestricted programmatic control of the account and cannot be limited by IAM policy. Any leak of it is a full compromise.",
            severity: Severity::Critical,
            connector: Connector::Aws,
            resource_type: "aws.iam.root_user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Find what uses the root key (CloudTrail shows the calls) and move it to an IAM role.",
                    "Sign in as the root user, open Security credentials and delete the access keys.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-02"],
        },
        eval: bind!(AwsCredentialReport, root_access_keys),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.root_recent_use",
            title: "The root user has not been used recently",
            description: "Neither the root password nor a root access key was used in the last 30 days.",
            rationale: "Day-to-day work should run through least-privileged identities. Recent root activity means either a task that should be delegated or someone using the account's master credentials.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.iam.root_user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Review CloudTrail for the root user's recent activity and confirm each action was expected.",
                    "Move recurring tasks to IAM roles; keep root for the few tasks only it can perform.",
                    "Alert on root sign-ins with an EventBridge rule or CloudWatch metric filter.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-02"],
        },
        eval: bind!(AwsCredentialReport, root_recent_use),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.access_keys_rotated_90_days",
            title: "Active access keys are rotated within 90 days",
            description: "Every active access key of an IAM user was created or rotated in the last 90 days. Users without active keys are not applicable.",
            rationale: "Long-lived keys end up in laptops, CI logs and old scripts. Rotating them limits how long a leaked key stays useful.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Create a second access key for the user and switch every consumer to it.",
                    "Deactivate the old key, watch for errors, then delete it.",
                    "Prefer IAM roles and short-lived credentials so there is no key to rotate.",
                ],
                cli: Some(
                    "aws iam create-access-key --user-name <user> && aws iam update-access-key --user-name <user> --access-key-id <old-key-id> --status Inactive",
                ),
                iac: None,
            },
            controls: &["KC-IAM-05"],
        },
        eval: bind!(AwsCredentialReport, access_keys_rotated),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.single_active_access_key",
            title: "IAM users have at most one active access key",
            description: "No IAM user has both access key slots active. Users without active keys are not applicable.",
            rationale: "Two active keys are only needed during a rotation. A second key left active doubles the credentials to protect and usually means a rotation was never finished.",
            severity: Severity::Low,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Find which key is still in use (its last-used date) and deactivate the other.",
                    "Delete the deactivated key once nothing breaks.",
                ],
                cli: Some(
                    "aws iam update-access-key --user-name <user> --access-key-id <unused-key-id> --status Inactive",
                ),
                iac: None,
            },
            controls: &["KC-IAM-05"],
        },
        eval: bind!(AwsCredentialReport, single_active_access_key),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.credentials_unused_45_days",
            title: "IAM credentials unused for 45 days are disabled",
            description: "No IAM user has a console password or active access key that has gone unused for more than 45 days (counted from creation when never used).",
            rationale: "Credentials nobody uses still work for whoever finds them. Disabling them early shrinks the set of secrets an attacker can try.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Confirm with the owner whether the credential is still needed.",
                    "Deactivate unused access keys and delete unused console passwords.",
                ],
                cli: Some(
                    "aws iam update-access-key --user-name <user> --access-key-id <key-id> --status Inactive; aws iam delete-login-profile --user-name <user>",
                ),
                iac: None,
            },
            controls: &["KC-IAM-06"],
        },
        eval: bind!(AwsCredentialReport, credentials_unused_45),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.credentials_unused_90_days",
            title: "IAM credentials unused for 90 days are removed",
            description: "No IAM user has a console password or active access key that has gone unused for more than 90 days (counted from creation when never used).",
            rationale: "A credential idle for a quarter almost always belongs to someone who left or a system that was retired. It is pure risk.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_CREDENTIAL_REPORT,
            permissions: CREDENTIAL_REPORT,
            remediation: Remediation {
                steps: &[
                    "Check the offboarding records: a departed person's IAM user should be deleted outright.",
                    "Delete the unused password or access key; remove the user if it has no other use.",
                ],
                cli: Some("aws iam delete-access-key --user-name <user> --access-key-id <key-id>"),
                iac: None,
            },
            controls: &["KC-IAM-06", "KC-HR-04"],
        },
        eval: bind!(AwsCredentialReport, credentials_unused_90),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.no_direct_admin_policy",
            title: "No IAM user holds administrator rights directly",
            description: "No IAM user has AdministratorAccess attached, nor any attached or inline policy that allows every action on every resource.",
            rationale: "Full administrative rights granted straight to a person bypass role-based review and stay in force wherever their credentials go. Admin access belongs in a role assumed when needed.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.iam.user",
            evidence_kind: kinds::AWS_IAM_USER_POLICIES,
            permissions: USER_POLICIES,
            remediation: Remediation {
                steps: &[
                    "Create or reuse an administrator role (or an IAM Identity Center permission set) with MFA required to assume it.",
                    "Detach AdministratorAccess from the user and delete inline policies that allow `*` on `*`.",
                    "Grant the user only the specific permissions their daily work needs.",
                ],
                cli: Some(
                    "aws iam detach-user-policy --user-name <user> --policy-arn arn:aws:iam::aws:policy/AdministratorAccess",
                ),
                iac: None,
            },
            controls: &["KC-IAM-04"],
        },
        eval: bind!(AwsUserPolicies, no_direct_admin_policy),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.password_policy_min_length",
            title: "IAM passwords must be at least 14 characters",
            description: "The account password policy requires a minimum length of 14 or more. An account without a policy fails.",
            rationale: "Length is the single strongest defence against guessing. Without a policy AWS accepts much shorter passwords.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.iam.password_policy",
            evidence_kind: kinds::AWS_IAM_PASSWORD_POLICY,
            permissions: PASSWORD_POLICY,
            remediation: Remediation {
                steps: &["Set the account password policy's minimum length to 14 or more."],
                cli: Some("aws iam update-account-password-policy --minimum-password-length 14"),
                iac: Some("resource \"aws_iam_account_password_policy\" \"this\" {\n  minimum_password_length = 14\n}"),
            },
            controls: &["KC-IAM-03"],
        },
        eval: bind!(AwsPasswordPolicy, password_min_length),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.password_policy_reuse_prevention",
            title: "IAM passwords cannot reuse the last 24",
            description: "The account password policy remembers at least 24 previous passwords. An account without a policy fails.",
            rationale: "If people can cycle back to an old password, a password exposed in the past becomes valid again.",
            severity: Severity::Low,
            connector: Connector::Aws,
            resource_type: "aws.iam.password_policy",
            evidence_kind: kinds::AWS_IAM_PASSWORD_POLICY,
            permissions: PASSWORD_POLICY,
            remediation: Remediation {
                steps: &["Set the account password policy to prevent reuse of the last 24 passwords."],
                cli: Some("aws iam update-account-password-policy --password-reuse-prevention 24"),
                iac: Some(
                    "resource \"aws_iam_account_password_policy\" \"this\" {\n  password_reuse_prevention = 24\n}",
                ),
            },
            controls: &["KC-IAM-03"],
        },
        eval: bind!(AwsPasswordPolicy, password_reuse_prevention),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.password_policy_expiry",
            title: "IAM passwords expire",
            description: "The account password policy sets a maximum password age. An account without a policy fails.",
            rationale: "An expiry bounds how long a password that leaked unnoticed keeps working, and many frameworks still ask for one.",
            severity: Severity::Low,
            connector: Connector::Aws,
            resource_type: "aws.iam.password_policy",
            evidence_kind: kinds::AWS_IAM_PASSWORD_POLICY,
            permissions: PASSWORD_POLICY,
            remediation: Remediation {
                steps: &["Set a maximum password age in the account password policy (90 days is common)."],
                cli: Some("aws iam update-account-password-policy --max-password-age 90"),
                iac: Some("resource \"aws_iam_account_password_policy\" \"this\" {\n  max_password_age = 90\n}"),
            },
            controls: &["KC-IAM-03", "KC-IAM-05"],
        },
        eval: bind!(AwsPasswordPolicy, password_expiry),
    },
    Check {
        def: CheckDef {
            id: "aws.iam.password_policy_complexity",
            title: "IAM passwords mix character classes",
            description: "The account password policy requires uppercase letters, lowercase letters, numbers and symbols. An account without a policy fails.",
            rationale: "Requiring every character class rules out the most common dictionary passwords and is expected by most audit frameworks.",
            severity: Severity::Low,
            connector: Connector::Aws,
            resource_type: "aws.iam.password_policy",
            evidence_kind: kinds::AWS_IAM_PASSWORD_POLICY,
            permissions: PASSWORD_POLICY,
            remediation: Remediation {
                steps: &["Turn on all four character requirements in the account password policy."],
                cli: Some(
                    "aws iam update-account-password-policy --require-uppercase-characters --require-lowercase-characters --require-numbers --require-symbols",
                ),
                iac: Some(
                    "resource \"aws_iam_account_password_policy\" \"this\" {\n  require_uppercase_characters = true\n  require_lowercase_characters = true\n  require_numbers              = true\n  require_symbols              = true\n}",
                ),
            },
            controls: &["KC-IAM-03"],
        },
        eval: bind!(AwsPasswordPolicy, password_complexity),
    },
    Check {
        def: CheckDef {
            id: "aws.cloudtrail.multi_region_logging",
            title: "A multi-region CloudTrail trail is logging",
            description: "The account has at least one trail that covers every region and is currently logging.",
            rationale: "CloudTrail is the record of who did what in the account. A trail limited to some regions misses activity an attacker can move to the others; a stopped trail records nothing.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.account",
            evidence_kind: kinds::AWS_CLOUDTRAIL_TRAILS,
            permissions: TRAILS,
            remediation: Remediation {
                steps: &[
                    "Create a trail (or an organization trail from the management account) with multi-region enabled.",
                    "Point it at a dedicated S3 bucket with restricted access.",
                    "Start logging and alert if logging ever stops.",
                ],
                cli: Some(
                    "aws cloudtrail create-trail --name main --s3-bucket-name <bucket> --is-multi-region-trail && aws cloudtrail start-logging --name main",
                ),
                iac: Some(
                    "resource \"aws_cloudtrail\" \"main\" {\n  name                  = \"main\"\n  s3_bucket_name        = aws_s3_bucket.trail.id\n  is_multi_region_trail = true\n  enable_logging        = true\n}",
                ),
            },
            controls: &["KC-LOG-01"],
        },
        eval: bind!(AwsCloudTrail, multi_region_logging),
    },
    Check {
        def: CheckDef {
            id: "aws.cloudtrail.log_file_validation",
            title: "CloudTrail log file validation is on",
            description: "Every trail writes signed digest files so its logs can be checked for tampering.",
            rationale: "Logs are only evidence if you can show they were not edited or deleted afterwards. Digest files make any change detectable.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.cloudtrail.trail",
            evidence_kind: kinds::AWS_CLOUDTRAIL_TRAILS,
            permissions: TRAILS_CONFIG,
            remediation: Remediation {
                steps: &["Enable log file validation on the trail."],
                cli: Some("aws cloudtrail update-trail --name <trail> --enable-log-file-validation"),
                iac: Some("resource \"aws_cloudtrail\" \"main\" {\n  enable_log_file_validation = true\n}"),
            },
            controls: &["KC-LOG-02"],
        },
        eval: bind!(AwsCloudTrail, log_file_validation),
    },
    Check {
        def: CheckDef {
            id: "aws.cloudtrail.kms_encryption",
            title: "CloudTrail logs are encrypted with a KMS key",
            description: "Every trail encrypts its log files with a customer-managed KMS key.",
            rationale: "With a KMS key, reading the logs needs both bucket access and key access, and every decryption is itself logged. That keeps audit data away from anyone who merely reaches the bucket.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.cloudtrail.trail",
            evidence_kind: kinds::AWS_CLOUDTRAIL_TRAILS,
            permissions: TRAILS_CONFIG,
            remediation: Remediation {
                steps: &[
                    "Create a KMS key whose policy lets CloudTrail encrypt and your auditors decrypt.",
                    "Set it as the trail's KMS key.",
                ],
                cli: Some("aws cloudtrail update-trail --name <trail> --kms-key-id <key-arn>"),
                iac: Some("resource \"aws_cloudtrail\" \"main\" {\n  kms_key_id = aws_kms_key.trail.arn\n}"),
            },
            controls: &["KC-LOG-03", "KC-CRY-01"],
        },
        eval: bind!(AwsCloudTrail, kms_encryption),
    },
    Check {
        def: CheckDef {
            id: "aws.cloudtrail.cloudwatch_logs",
            title: "CloudTrail delivers to CloudWatch Logs",
            description: "Every trail sends its events to a CloudWatch Logs group, and the last delivery (when reported) was within a day.",
            rationale: "Events in S3 are only read after the fact. Streaming them to CloudWatch Logs lets metric filters and alarms flag suspicious activity as it happens.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.cloudtrail.trail",
            evidence_kind: kinds::AWS_CLOUDTRAIL_TRAILS,
            permissions: TRAILS,
            remediation: Remediation {
                steps: &[
                    "Create a log group and an IAM role CloudTrail can assume to write to it.",
                    "Configure the trail to deliver to that log group.",
                    "Add metric filters and alarms for root use, IAM changes and console sign-in failures.",
                ],
                cli: Some(
                    "aws cloudtrail update-trail --name <trail> --cloud-watch-logs-log-group-arn <log-group-arn> --cloud-watch-logs-role-arn <role-arn>",
                ),
                iac: Some(
                    "resource \"aws_cloudtrail\" \"main\" {\n  cloud_watch_logs_group_arn = \"${aws_cloudwatch_log_group.trail.arn}:*\"\n  cloud_watch_logs_role_arn  = aws_iam_role.trail_to_cwl.arn\n}",
                ),
            },
            controls: &["KC-LOG-04"],
        },
        eval: bind!(AwsCloudTrail, cloudwatch_logs),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_kms_encryption",
            title: "S3 buckets encrypt with KMS keys",
            description: "Every bucket's default encryption uses SSE-KMS or DSSE-KMS. SSE-S3 is reported as a failure because a KMS key is expected; no default encryption fails too.",
            rationale: "SSE-S3 protects against lost disks only. A KMS key adds a second permission for reading the data, lets you revoke access by disabling the key, and logs every use.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:ListAllMyBuckets", "s3:GetEncryptionConfiguration"],
            remediation: Remediation {
                steps: &[
                    "Pick or create a customer-managed KMS key for the data's classification.",
                    "Set the bucket's default encryption to SSE-KMS with that key and turn on S3 Bucket Keys to keep KMS costs down.",
                    "Existing objects keep their old encryption until rewritten; copy them in place if that matters.",
                ],
                cli: Some(
                    "aws s3api put-bucket-encryption --bucket <bucket> --server-side-encryption-configuration '{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"<key-arn>\"},\"BucketKeyEnabled\":true}]}'",
                ),
                iac: Some(
                    "resource \"aws_s3_bucket_server_side_encryption_configuration\" \"this\" {\n  bucket = aws_s3_bucket.this.id\n  rule {\n    apply_server_side_encryption_by_default {\n      sse_algorithm     = \"aws:kms\"\n      kms_master_key_id = aws_kms_key.data.arn\n    }\n    bucket_key_enabled = true\n  }\n}",
                ),
            },
            controls: &["KC-CRY-01"],
        },
        eval: bind!(AwsS3Buckets, bucket_kms_encryption),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_public_access_block",
            title: "S3 buckets block public access",
            description: "All four Block Public Access settings apply to every bucket, set on the bucket itself or inherited from the account.",
            rationale: "Block Public Access overrides any ACL or policy that would expose data, so one mistaken grant cannot publish a bucket.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:ListAllMyBuckets", "s3:GetBucketPublicAccessBlock", "s3:GetAccountPublicAccessBlock"],
            remediation: Remediation {
                steps: &[
                    "Confirm the bucket does not need to serve public content (use CloudFront with origin access control instead).",
                    "Turn on all four Block Public Access settings for the bucket, or better, for the whole account.",
                ],
                cli: Some(
                    "aws s3api put-public-access-block --bucket <bucket> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
                ),
                iac: Some(
                    "resource \"aws_s3_bucket_public_access_block\" \"this\" {\n  bucket                  = aws_s3_bucket.this.id\n  block_public_acls       = true\n  ignore_public_acls      = true\n  block_public_policy     = true\n  restrict_public_buckets = true\n}",
                ),
            },
            controls: &["KC-NET-01"],
        },
        eval: bind!(AwsS3Buckets, bucket_public_access_block),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.account_public_access_block",
            title: "The account blocks public S3 access",
            description: "All four Block Public Access settings are on at the account level.",
            rationale: "The account-level setting protects every bucket, including ones created tomorrow by someone who forgets the bucket-level setting.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.account",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:GetAccountPublicAccessBlock"],
            remediation: Remediation {
                steps: &[
                    "Check no bucket in the account must stay public.",
                    "Turn on all four account-level Block Public Access settings.",
                ],
                cli: Some(
                    "aws s3control put-public-access-block --account-id <account-id> --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true",
                ),
                iac: Some(
                    "resource \"aws_s3_account_public_access_block\" \"this\" {\n  block_public_acls       = true\n  ignore_public_acls      = true\n  block_public_policy     = true\n  restrict_public_buckets = true\n}",
                ),
            },
            controls: &["KC-NET-01"],
        },
        eval: bind!(AwsS3Buckets, account_public_access_block),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_policy_not_public",
            title: "S3 bucket policies do not grant public access",
            description: "No bucket policy grants access to anyone on the internet, unless RestrictPublicBuckets neutralises it.",
            rationale: "A policy with a wildcard principal opens the bucket to the world. It is the most common way S3 data leaks.",
            severity: Severity::Critical,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &[
                "s3:ListAllMyBuckets",
                "s3:GetBucketPolicyStatus",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetAccountPublicAccessBlock",
            ],
            remediation: Remediation {
                steps: &[
                    "Find the statements with a `*` principal and no restricting condition.",
                    "Replace them with grants to specific accounts, roles or a CloudFront origin access control.",
                    "Turn on RestrictPublicBuckets so a future mistake has no effect.",
                ],
                cli: Some("aws s3api get-bucket-policy --bucket <bucket> --query Policy --output text"),
                iac: None,
            },
            controls: &["KC-NET-01", "KC-DAT-03"],
        },
        eval: bind!(AwsS3Buckets, bucket_policy_not_public),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_tls_only",
            title: "S3 buckets refuse unencrypted connections",
            description: "Every bucket policy denies requests made without TLS (`aws:SecureTransport` false).",
            rationale: "S3 accepts plain HTTP unless told otherwise. A deny on insecure transport guarantees data and credentials never cross the network in clear text.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:ListAllMyBuckets", "s3:GetBucketPolicy"],
            remediation: Remediation {
                steps: &[
                    "Add a statement to the bucket policy that denies `s3:*` to every principal when `aws:SecureTransport` is false.",
                ],
                cli: None,
                iac: Some(
                    "data \"aws_iam_policy_document\" \"tls_only\" {\n  statement {\n    effect    = \"Deny\"\n    actions   = [\"s3:*\"]\n    resources = [aws_s3_bucket.this.arn, \"${aws_s3_bucket.this.arn}/*\"]\n    principals {\n      type        = \"*\"\n      identifiers = [\"*\"]\n    }\n    condition {\n      test     = \"Bool\"\n      variable = \"aws:SecureTransport\"\n      values   = [\"false\"]\n    }\n  }\n}",
                ),
            },
            controls: &["KC-NET-03"],
        },
        eval: bind!(AwsS3Buckets, bucket_tls_only),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_versioning",
            title: "S3 buckets keep object versions",
            description: "Versioning is enabled on every bucket (never turned on, or suspended, fails).",
            rationale: "Versions let you recover from an accidental overwrite, a bad deploy or ransomware that rewrites objects.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:ListAllMyBuckets", "s3:GetBucketVersioning"],
            remediation: Remediation {
                steps: &[
                    "Enable versioning on the bucket.",
                    "Add a lifecycle rule that expires old versions so storage does not grow without bound.",
                ],
                cli: Some(
                    "aws s3api put-bucket-versioning --bucket <bucket> --versioning-configuration Status=Enabled",
                ),
                iac: Some(
                    "resource \"aws_s3_bucket_versioning\" \"this\" {\n  bucket = aws_s3_bucket.this.id\n  versioning_configuration {\n    status = \"Enabled\"\n  }\n}",
                ),
            },
            controls: &["KC-BCP-01"],
        },
        eval: bind!(AwsS3Buckets, bucket_versioning),
    },
    Check {
        def: CheckDef {
            id: "aws.s3.bucket_object_lock",
            title: "S3 buckets use Object Lock",
            description: "Object Lock is enabled on every bucket, so objects can be kept immutable for a retention period.",
            rationale: "Object Lock stops anyone, including an attacker with admin rights, from deleting or overwriting protected objects early. It matters most for backups and audit logs.",
            severity: Severity::Low,
            connector: Connector::Aws,
            resource_type: "aws.s3.bucket",
            evidence_kind: kinds::AWS_S3_BUCKETS,
            permissions: &["s3:ListAllMyBuckets", "s3:GetBucketObjectLockConfiguration"],
            remediation: Remediation {
                steps: &[
                    "Decide which buckets hold data that must be immutable (backups, logs, records).",
                    "Enable Object Lock (versioning must be on) and set a default retention period.",
                ],
                cli: Some(
                    "aws s3api put-object-lock-configuration --bucket <bucket> --object-lock-configuration '{\"ObjectLockEnabled\":\"Enabled\",\"Rule\":{\"DefaultRetention\":{\"Mode\":\"GOVERNANCE\",\"Days\":30}}}'",
                ),
                iac: Some(
                    "resource \"aws_s3_bucket_object_lock_configuration\" \"this\" {\n  bucket = aws_s3_bucket.this.id\n  rule {\n    default_retention {\n      mode = \"GOVERNANCE\"\n      days = 30\n    }\n  }\n}",
                ),
            },
            controls: &["KC-BCP-01", "KC-DAT-02"],
        },
        eval: bind!(AwsS3Buckets, bucket_object_lock),
    },
    Check {
        def: CheckDef {
            id: "aws.config.recorder_all_regions",
            title: "AWS Config records every resource in every enabled region",
            description: "Each enabled region has a running configuration recorder that records all supported resource types, and global resources (IAM) are recorded in at least one of them. Regions the account has not opted into are not applicable.",
            rationale: "AWS Config is the inventory and change history of the account. A region without a recorder is a place where resources can appear and change unseen.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.region",
            evidence_kind: kinds::AWS_CONFIG_RECORDERS,
            permissions: CONFIG_RECORDERS,
            remediation: Remediation {
                steps: &[
                    "In each enabled region, create a configuration recorder that records all supported resource types.",
                    "Include global resource types in exactly one region to avoid duplicate records.",
                    "Create a delivery channel and start the recorder.",
                ],
                cli: Some(
                    "aws configservice put-configuration-recorder --configuration-recorder name=default,roleARN=<role-arn> --recording-group allSupported=true,includeGlobalResourceTypes=true && aws configservice start-configuration-recorder --configuration-recorder-name default",
                ),
                iac: Some(
                    "resource \"aws_config_configuration_recorder\" \"this\" {\n  role_arn = aws_iam_role.config.arn\n  recording_group {\n    all_supported                 = true\n    include_global_resource_types = true\n  }\n}",
                ),
            },
            controls: &["KC-LOG-05", "KC-MON-01"],
        },
        eval: bind!(AwsConfigRecorders, recorder_all_regions),
    },
    Check {
        def: CheckDef {
            id: "aws.config.rule_compliance",
            title: "AWS Config rules report no non-compliant resources",
            description: "Every AWS Config rule in the account is compliant. Each non-compliant rule is one failure; rules still gathering data are inconclusive.",
            rationale: "Config rules encode the organisation's own configuration baseline. A non-compliant rule is a known deviation that needs fixing or an explicit exception.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.config.rule",
            evidence_kind: kinds::AWS_CONFIG_RULE_COMPLIANCE,
            permissions: &["config:DescribeComplianceByConfigRule"],
            remediation: Remediation {
                steps: &[
                    "Open the rule in the AWS Config console to list the non-compliant resources.",
                    "Fix each resource or record a documented exception; consider automatic remediation for simple rules.",
                ],
                cli: Some(
                    "aws configservice get-compliance-details-by-config-rule --config-rule-name <rule> --compliance-types NON_COMPLIANT",
                ),
                iac: None,
            },
            controls: &["KC-CHG-05", "KC-MON-01", "KC-MON-02"],
        },
        eval: bind!(AwsConfigRuleCompliance, rule_compliance),
    },
    Check {
        def: CheckDef {
            id: "aws.kms.customer_key_rotation",
            title: "Customer-managed KMS keys rotate automatically",
            description: "Every enabled, symmetric, customer-managed KMS key has automatic rotation on. AWS-managed keys, asymmetric and HMAC keys, and keys that are not enabled are not applicable.",
            rationale: "Rotation limits how much data any one key version protects and is an explicit requirement in several frameworks. AWS does it transparently once switched on.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.kms.key",
            evidence_kind: kinds::AWS_KMS_KEYS,
            permissions: &["kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus"],
            remediation: Remediation {
                steps: &["Enable automatic rotation on the key (yearly by default; a shorter period can be set)."],
                cli: Some("aws kms enable-key-rotation --key-id <key-id>"),
                iac: Some("resource \"aws_kms_key\" \"this\" {\n  enable_key_rotation = true\n}"),
            },
            controls: &["KC-CRY-02"],
        },
        eval: bind!(AwsKmsKeys, customer_key_rotation),
    },
    Check {
        def: CheckDef {
            id: "aws.guardduty.enabled_all_regions",
            title: "GuardDuty is enabled in every enabled region",
            description: "Each enabled region has a GuardDuty detector that is turned on. Regions the account has not opted into are not applicable.",
            rationale: "GuardDuty watches CloudTrail, DNS and network flow data for signs of compromise. Attackers often use regions nobody watches, so it has to run everywhere.",
            severity: Severity::High,
            connector: Connector::Aws,
            resource_type: "aws.region",
            evidence_kind: kinds::AWS_GUARDDUTY_DETECTORS,
            permissions: &["guardduty:ListDetectors", "guardduty:GetDetector"],
            remediation: Remediation {
                steps: &[
                    "Enable GuardDuty in each region, ideally through a delegated administrator for the whole organization.",
                    "Route findings to your alerting channel with EventBridge.",
                ],
                cli: Some("aws guardduty create-detector --enable --region <region>"),
                iac: Some("resource \"aws_guardduty_detector\" \"this\" {\n  enable = true\n}"),
            },
            controls: &["KC-LOG-06", "KC-LOG-04"],
        },
        eval: bind!(AwsGuardDuty, guardduty_enabled),
    },
    Check {
        def: CheckDef {
            id: "aws.ec2.ebs_default_encryption",
            title: "EBS encryption by default is on in every enabled region",
            description: "Each enabled region encrypts new EBS volumes and snapshots by default. Regions the account has not opted into are not applicable.",
            rationale: "With the default on, nobody can create an unencrypted volume by forgetting a flag, and data at rest on block storage is always protected.",
            severity: Severity::Medium,
            connector: Connector::Aws,
            resource_type: "aws.region",
            evidence_kind: kinds::AWS_EC2_EBS_DEFAULT_ENCRYPTION,
            permissions: &["ec2:GetEbsEncryptionByDefault"],
            remediation: Remediation {
                steps: &[
                    "Turn on EBS encryption by default in each region.",
                    "Optionally set a customer-managed KMS key as the default EBS key.",
                ],
                cli: Some("aws ec2 enable-ebs-encryption-by-default --region <region>"),
                iac: Some("resource \"aws_ebs_encryption_by_default\" \"this\" {\n  enabled = true\n}"),
            },
            controls: &["KC-CRY-03", "KC-CRY-01"],
        },
        eval: bind!(AwsEbsDefaultEncryption, ebs_default_encryption),
    },
];

// ---------------------------------------------------------------------------------------------
// IAM credential report

fn user_mfa_console(report: &CredentialReport, _env: &Env<'_>) -> Vec<Finding> {
    report
        .users()
        .map(|u| match u.password_enabled {
            None => not_visible(
                &u.arn,
                "password_enabled",
                format!("The credential report does not say whether {} has a console password.", u.user),
            ),
            Some(false) => not_applicable(&u.arn, format!("{} has no console password.", u.user)),
            Some(true) if u.mfa_active => pass(&u.arn, format!("{} has a console password and an MFA device.", u.user)),
            Some(true) => {
                fail(&u.arn, format!("{} can sign in to the console with a password alone: no MFA device.", u.user))
            }
        })
        .collect()
}

/// Runs `judge` on the root row, or reports the row missing.
fn with_root(
    report: &CredentialReport,
    env: &Env<'_>,
    judge: impl FnOnce(&CredentialReportRow) -> Finding,
) -> Vec<Finding> {
    vec![match report.root() {
        Some(root) => judge(root),
        None => not_visible(env.scope_id(), "<root_account>", "The credential report has no row for the root user."),
    }]
}

fn root_mfa(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    with_root(report, env, |root| {
        if root.mfa_active {
            pass(&root.arn, "The root user has an MFA device.")
        } else {
            fail(&root.arn, "The root user has no MFA device: its password alone opens the whole account.")
        }
    })
}

fn root_access_keys(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    with_root(report, env, |root| {
        let active: Vec<String> = root.active_keys().map(|k| format!("key {}", k.slot)).collect();
        if active.is_empty() {
            pass(&root.arn, "The root user has no active access keys.")
        } else {
            fail(&root.arn, format!("The root user has an active access key ({}).", join_words(&active)))
        }
    })
}

fn root_recent_use(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    with_root(report, env, |root| {
        let uses = [
            ("password", root.password_last_used),
            ("access key 1", root.access_key_1_last_used_date),
            ("access key 2", root.access_key_2_last_used_date),
        ];
        let latest = uses.iter().filter_map(|(what, t)| t.map(|t| (*what, t))).max_by_key(|(_, t)| *t);
        match latest {
            Some((what, t)) if !env.older_than(t, ROOT_RECENT_USE_DAYS) => fail(
                &root.arn,
                format!(
                    "The root user's {what} was used {} days ago ({}), within the last {ROOT_RECENT_USE_DAYS} days.",
                    env.days_since(t).max(0),
                    t.format("%Y-%m-%d")
                ),
            ),
            Some((what, t)) => {
                pass(&root.arn, format!("The root user was last used {} days ago (its {what}).", env.days_since(t)))
            }
            None => pass(&root.arn, "The report shows no use of the root user."),
        }
    })
}

fn access_keys_rotated(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    report
        .users()
        .map(|u| {
            let active: Vec<_> = u.active_keys().collect();
            if active.is_empty() {
                return not_applicable(&u.arn, format!("{} has no active access keys.", u.user));
            }
            let stale: Vec<String> = active
                .iter()
                .filter_map(|k| {
                    let t = k.last_rotated?;
                    env.older_than(t, KEY_ROTATION_DAYS)
                        .then(|| format!("key {} ({} days old)", k.slot, env.days_since(t)))
                })
                .collect();
            if !stale.is_empty() {
                return fail(
                    &u.arn,
                    format!("{} has access keys older than {KEY_ROTATION_DAYS} days: {}.", u.user, join_words(&stale)),
                );
            }
            if let Some(k) = active.iter().find(|k| k.last_rotated.is_none()) {
                let field = format!("access_key_{}_last_rotated", k.slot);
                return not_visible(
                    &u.arn,
                    &field,
                    format!("The report does not say when {}'s key {} was created.", u.user, k.slot),
                );
            }
            pass(&u.arn, format!("{}'s active access keys are younger than {KEY_ROTATION_DAYS} days.", u.user))
        })
        .collect()
}

fn single_active_access_key(report: &CredentialReport, _env: &Env<'_>) -> Vec<Finding> {
    report
        .users()
        .map(|u| match u.active_keys().count() {
            0 => not_applicable(&u.arn, format!("{} has no active access keys.", u.user)),
            1 => pass(&u.arn, format!("{} has one active access key.", u.user)),
            _ => fail(&u.arn, format!("{} has two active access keys.", u.user)),
        })
        .collect()
}

fn credentials_unused(report: &CredentialReport, env: &Env<'_>, days: i64) -> Vec<Finding> {
    report
        .users()
        .map(|u| {
            let Some(password_enabled) = u.password_enabled else {
                return not_visible(
                    &u.arn,
                    "password_enabled",
                    format!("The credential report does not say whether {} has a console password.", u.user),
                );
            };
            // (credential, last activity, whether it was ever used)
            let mut credentials = Vec::with_capacity(3);
            if password_enabled {
                let since = u.password_last_used.or(u.password_last_changed).unwrap_or(u.user_creation_time);
                credentials.push(("console password".to_owned(), since, u.password_last_used.is_some()));
            }
            for k in u.active_keys() {
                let since = k.last_used.or(k.last_rotated).unwrap_or(u.user_creation_time);
                credentials.push((format!("access key {}", k.slot), since, k.last_used.is_some()));
            }
            if credentials.is_empty() {
                return not_applicable(
                    &u.arn,
                    format!("{} has no console password and no active access keys.", u.user),
                );
            }
            let idle: Vec<String> = credentials
                .iter()
                .filter(|(_, since, _)| env.older_than(*since, days))
                .map(|(what, since, used)| {
                    let days_idle = env.days_since(*since);
                    if *used {
                        format!("{what} last used {days_idle} days ago")
                    } else {
                        format!("{what} never used in {days_idle} days")
                    }
                })
                .collect();
            if idle.is_empty() {
                pass(&u.arn, format!("All of {}'s credentials were used in the last {days} days.", u.user))
            } else {
                fail(&u.arn, format!("{} has credentials unused for over {days} days: {}.", u.user, join_words(&idle)))
            }
        })
        .collect()
}

fn credentials_unused_45(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    credentials_unused(report, env, 45)
}

fn credentials_unused_90(report: &CredentialReport, env: &Env<'_>) -> Vec<Finding> {
    credentials_unused(report, env, 90)
}

// ---------------------------------------------------------------------------------------------
// IAM user policies

/// True for `value` being `"*"`/`"*:*"` or an array holding one.
fn is_wildcard(value: Option<&Value>, accept: &[&str]) -> bool {
    match value {
        Some(Value::String(s)) => accept.contains(&s.as_str()),
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str().is_some_and(|s| accept.contains(&s))),
        _ => false,
    }
}

/// True when a policy document has an unconditional statement allowing every action on every
/// resource.
pub(crate) fn grants_full_access(document: &Value) -> bool {
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    statements.into_iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && is_wildcard(s.get("Action"), &["*", "*:*"])
            && is_wildcard(s.get("Resource"), &["*"])
            && s.get("Condition").is_none()
    })
}

fn is_administrator_access(policy: &AttachedPolicy) -> bool {
    policy.is_aws_managed() && policy.policy_arn.ends_with(":policy/AdministratorAccess")
}

fn no_direct_admin_policy(evidence: &UserPolicies, _env: &Env<'_>) -> Vec<Finding> {
    evidence.users.iter().map(judge_user_policies).collect()
}

fn judge_user_policies(user: &UserPolicySet) -> Finding {
    let mut admin = Vec::new();
    let mut unknown: Option<String> = None;
    match &user.attached_policies {
        Some(attached) => {
            for p in attached {
                match &p.document {
                    _ if is_administrator_access(p) => admin.push(format!("attached {}", p.policy_name)),
                    Some(doc) if grants_full_access(doc) => admin.push(format!("attached {}", p.policy_name)),
                    None if !p.is_aws_managed() => {
                        unknown.get_or_insert_with(|| format!("attached_policies.{}.document", p.policy_name));
                    }
                    _ => {}
                }
            }
        }
        None => unknown = Some("attached_policies".to_owned()),
    }
    match &user.inline_policies {
        Some(inline) => admin.extend(
            inline.iter().filter(|p| grants_full_access(&p.document)).map(|p| format!("inline {}", p.policy_name)),
        ),
        None => {
            unknown.get_or_insert_with(|| "inline_policies".to_owned());
        }
    }
    if !admin.is_empty() {
        return fail(
            &user.arn,
            format!("{} holds full administrator rights directly through {}.", user.user_name, join_words(&admin)),
        );
    }
    match unknown {
        Some(field) => not_visible(
            &user.arn,
            &field,
            format!(
                "Not all of {}'s policies could be read, so direct admin rights cannot be ruled out.",
                user.user_name
            ),
        ),
        None => pass(&user.arn, format!("No policy attached to {} grants full administrator rights.", user.user_name)),
    }
}

// ---------------------------------------------------------------------------------------------
// IAM password policy

fn with_policy(
    evidence: &AccountPasswordPolicy,
    env: &Env<'_>,
    judge: impl FnOnce(&PasswordPolicy) -> Result<String, String>,
) -> Vec<Finding> {
    let id = env.scope_id();
    vec![match &evidence.policy {
        None => fail(id, "The account has no IAM password policy, so AWS's permissive defaults apply."),
        Some(policy) => match judge(policy) {
            Ok(reason) => pass(id, reason),
            Err(reason) => fail(id, reason),
        },
    }]
}

fn password_min_length(evidence: &AccountPasswordPolicy, env: &Env<'_>) -> Vec<Finding> {
    with_policy(evidence, env, |p| {
        let n = p.minimum_password_length;
        if n >= 14 {
            Ok(format!("Passwords must be at least {n} characters."))
        } else {
            Err(format!("Passwords need only {n} characters; 14 or more is expected."))
        }
    })
}

fn password_reuse_prevention(evidence: &AccountPasswordPolicy, env: &Env<'_>) -> Vec<Finding> {
    with_policy(evidence, env, |p| match p.password_reuse_prevention {
        Some(n) if n >= 24 => Ok(format!("The last {n} passwords cannot be reused.")),
        Some(n) => Err(format!("Only the last {n} passwords are remembered; 24 is expected.")),
        None => Err("The password policy does not prevent password reuse.".to_owned()),
    })
}

fn password_expiry(evidence: &AccountPasswordPolicy, env: &Env<'_>) -> Vec<Finding> {
    with_policy(evidence, env, |p| match p.max_password_age {
        Some(days) if days > 0 => Ok(format!("Passwords expire after {days} days.")),
        _ => Err("The password policy never expires passwords.".to_owned()),
    })
}

fn password_complexity(evidence: &AccountPasswordPolicy, env: &Env<'_>) -> Vec<Finding> {
    with_policy(evidence, env, |p| {
        let missing: Vec<&str> = [
            ("uppercase letters", p.require_uppercase_characters),
            ("lowercase letters", p.require_lowercase_characters),
            ("numbers", p.require_numbers),
            ("symbols", p.require_symbols),
        ]
        .iter()
        .filter(|(_, required)| !required)
        .map(|(what, _)| *what)
        .collect();
        if missing.is_empty() {
            Ok("Passwords must contain uppercase and lowercase letters, numbers and symbols.".to_owned())
        } else {
            Err(format!("The password policy does not require {}.", join_words(&missing)))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// CloudTrail

fn multi_region_logging(evidence: &Trails, env: &Env<'_>) -> Vec<Finding> {
    let id = env.scope_id();
    let multi: Vec<&Trail> = evidence.trails.iter().filter(|t| t.is_multi_region).collect();
    if let Some(t) = multi.iter().find(|t| t.status.as_ref().is_some_and(|s| s.is_logging)) {
        return vec![pass(id, format!("Multi-region trail {} is logging.", t.name))];
    }
    if let Some(t) = multi.iter().find(|t| t.status.is_none()) {
        return vec![not_visible(
            id,
            "status.is_logging",
            format!("Multi-region trail {} exists but its logging status could not be read.", t.name),
        )];
    }
    let reason = if multi.is_empty() && evidence.trails.is_empty() {
        "The account has no CloudTrail trail.".to_owned()
    } else if multi.is_empty() {
        format!(
            "The account's {} trail(s) each cover a single region; no trail covers every region.",
            evidence.trails.len()
        )
    } else {
        let names: Vec<&str> = multi.iter().map(|t| t.name.as_str()).collect();
        format!("Multi-region trail(s) {} exist but are not logging.", join_words(&names))
    };
    vec![fail(id, reason)]
}

fn log_file_validation(evidence: &Trails, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .trails
        .iter()
        .map(|t| {
            if t.log_file_validation_enabled {
                pass(&t.arn, format!("Trail {} writes digest files for log validation.", t.name))
            } else {
                fail(
                    &t.arn,
                    format!("Trail {} does not validate its log files, so tampering would go unnoticed.", t.name),
                )
            }
        })
        .collect()
}

fn kms_encryption(evidence: &Trails, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .trails
        .iter()
        .map(|t| match &t.kms_key_id {
            Some(key) => pass(&t.arn, format!("Trail {} encrypts its logs with KMS key {key}.", t.name)),
            None => fail(&t.arn, format!("Trail {} relies on S3's default encryption; a KMS key is expected.", t.name)),
        })
        .collect()
}

fn cloudwatch_logs(evidence: &Trails, env: &Env<'_>) -> Vec<Finding> {
    evidence
        .trails
        .iter()
        .map(|t| {
            let Some(group) = &t.cloud_watch_logs_log_group_arn else {
                return fail(&t.arn, format!("Trail {} does not deliver to CloudWatch Logs.", t.name));
            };
            match t.status.as_ref().and_then(|s| s.latest_cloud_watch_logs_delivery_time) {
                Some(last) if env.older_than(last, 1) => fail(
                    &t.arn,
                    format!(
                        "Trail {} is set to deliver to {group}, but the last delivery was {} days ago.",
                        t.name,
                        env.days_since(last)
                    ),
                ),
                _ => pass(&t.arn, format!("Trail {} delivers to CloudWatch Logs group {group}.", t.name)),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// S3

fn bucket_kms_encryption(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .buckets
        .iter()
        .map(|b| match b.encryption {
            None => {
                not_visible(&b.name, "encryption", format!("The default encryption of {} could not be read.", b.name))
            }
            Some(BucketEncryption::SseKms) => pass(&b.name, format!("{} encrypts with SSE-KMS.", b.name)),
            Some(BucketEncryption::DsseKms) => pass(&b.name, format!("{} encrypts with DSSE-KMS.", b.name)),
            Some(BucketEncryption::SseS3) => fail(
                &b.name,
                format!("{} encrypts with SSE-S3 (keys managed by S3); a KMS key (SSE-KMS) is expected.", b.name),
            ),
            Some(BucketEncryption::None) => fail(&b.name, format!("{} has no default encryption.", b.name)),
        })
        .collect()
}

fn bucket_public_access_block(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    let account = evidence.account_public_access_block;
    evidence
        .buckets
        .iter()
        .map(|b| {
            let account_flags = account.map(|a| a.flags());
            let bucket_flags = b.public_access_block.map(|p| p.flags());
            let mut missing = Vec::new();
            let mut unknown = false;
            for i in 0..4 {
                let (name, _) = PublicAccessBlock::ALL.flags()[i];
                let on_bucket = bucket_flags.map(|f| f[i].1);
                let on_account = account_flags.map(|f| f[i].1);
                match (on_bucket, on_account) {
                    (Some(true), _) | (_, Some(true)) => {}
                    (Some(false), Some(false)) => missing.push(name),
                    _ => unknown = true,
                }
            }
            if !missing.is_empty() {
                fail(
                    &b.name,
                    format!("{} is not covered by {} at the bucket or account level.", b.name, join_words(&missing)),
                )
            } else if unknown {
                not_visible(
                    &b.name,
                    "public_access_block",
                    format!("The public access block settings covering {} could not all be read.", b.name),
                )
            } else {
                pass(&b.name, format!("All four Block Public Access settings cover {}.", b.name))
            }
        })
        .collect()
}

fn account_public_access_block(evidence: &S3Buckets, env: &Env<'_>) -> Vec<Finding> {
    let id = env.scope_id();
    vec![match evidence.account_public_access_block {
        None => not_visible(
            id,
            "account_public_access_block",
            "The account-level Block Public Access settings could not be read.",
        ),
        Some(block) if block.all_enabled() => pass(id, "All four account-level Block Public Access settings are on."),
        Some(block) => {
            let off: Vec<&str> = block.flags().iter().filter(|(_, on)| !on).map(|(n, _)| *n).collect();
            fail(id, format!("Account-level Block Public Access is missing {}.", join_words(&off)))
        }
    }]
}

/// Whether RestrictPublicBuckets applies to the bucket (`None` if that cannot be told).
fn restricts_public(bucket: &Bucket, account: Option<PublicAccessBlock>) -> Option<bool> {
    match (bucket.public_access_block.map(|p| p.restrict_public_buckets), account.map(|a| a.restrict_public_buckets)) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn bucket_policy_not_public(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .buckets
        .iter()
        .map(|b| match b.policy_is_public {
            None => not_visible(&b.name, "policy_is_public", format!("The policy status of {} could not be read.", b.name)),
            Some(false) => pass(&b.name, format!("{}'s bucket policy grants no public access.", b.name)),
            Some(true) => match restricts_public(b, evidence.account_public_access_block) {
                Some(true) => pass(
                    &b.name,
                    format!("{}'s policy is public, but RestrictPublicBuckets limits it to the owner's account and AWS services.", b.name),
                ),
                Some(false) => fail(&b.name, format!("{}'s bucket policy grants access to anyone on the internet.", b.name)),
                None => not_visible(
                    &b.name,
                    "public_access_block",
                    format!("{}'s policy is public and it is unknown whether RestrictPublicBuckets neutralises it.", b.name),
                ),
            },
        })
        .collect()
}

fn bucket_tls_only(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .buckets
        .iter()
        .map(|b| {
            judge_flag(
                &b.name,
                b.policy_denies_insecure_transport,
                "policy_denies_insecure_transport",
                || format!("{}'s bucket policy denies requests made without TLS.", b.name),
                || format!("{}'s bucket policy does not deny unencrypted (non-TLS) requests.", b.name),
            )
        })
        .collect()
}

fn bucket_versioning(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .buckets
        .iter()
        .map(|b| match b.versioning {
            None => {
                not_visible(&b.name, "versioning", format!("The versioning state of {} could not be read.", b.name))
            }
            Some(VersioningStatus::Enabled) => pass(&b.name, format!("{} keeps object versions.", b.name)),
            Some(VersioningStatus::Suspended) => fail(&b.name, format!("Versioning on {} is suspended.", b.name)),
            Some(VersioningStatus::Disabled) => fail(&b.name, format!("Versioning was never enabled on {}.", b.name)),
        })
        .collect()
}

fn bucket_object_lock(evidence: &S3Buckets, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .buckets
        .iter()
        .map(|b| {
            judge_flag(
                &b.name,
                b.object_lock_enabled,
                "object_lock_enabled",
                || format!("{} has Object Lock enabled.", b.name),
                || format!("{} does not have Object Lock enabled.", b.name),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// AWS Config

fn records_everything(r: &ConfigRecorder) -> bool {
    r.recording && r.all_supported
}

fn recorder_all_regions(evidence: &ConfigRecorders, _env: &Env<'_>) -> Vec<Finding> {
    let global_region = evidence
        .regions
        .iter()
        .filter(|r| r.opt_in_status.is_enabled())
        .find(|r| {
            r.recorders
                .as_ref()
                .is_some_and(|rs| rs.iter().any(|c| records_everything(c) && c.include_global_resource_types))
        })
        .map(|r| r.region.as_str());
    evidence
        .regions
        .iter()
        .map(|r| {
            let region = r.region.as_str();
            if !r.opt_in_status.is_enabled() {
                return not_applicable(region, format!("Region {region} is not enabled for the account."));
            }
            let Some(recorders) = &r.recorders else {
                return region_unreachable(region);
            };
            let Some(recorder) = recorders.iter().find(|c| records_everything(c)) else {
                return fail(
                    region,
                    match recorders.first() {
                        None => format!("Region {region} has no AWS Config recorder."),
                        Some(c) if !c.recording => format!("The AWS Config recorder in {region} is stopped."),
                        Some(_) => format!("The AWS Config recorder in {region} does not record all resource types."),
                    },
                );
            };
            if recorder.include_global_resource_types {
                pass(region, format!("AWS Config records all resource types in {region}, global ones included."))
            } else if let Some(other) = global_region {
                pass(
                    region,
                    format!(
                        "AWS Config records all resource types in {region}; global resources are recorded in {other}."
                    ),
                )
            } else {
                fail(
                    region,
                    format!("AWS Config records {region}, but no region records global resources such as IAM."),
                )
            }
        })
        .collect()
}

fn rule_compliance(evidence: &ConfigRuleCompliance, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .rules
        .iter()
        .map(|r| {
            let id = format!("{}/{}", r.region, r.rule_name);
            match r.compliance_type {
                ComplianceType::Compliant => pass(id, format!("Config rule {} is compliant.", r.rule_name)),
                ComplianceType::NonCompliant => {
                    let count = match r.non_compliant_resource_count {
                        Some(n) => format!("{n} non-compliant resource(s)"),
                        None => "non-compliant resources".to_owned(),
                    };
                    fail(id, format!("Config rule {} in {} reports {count}.", r.rule_name, r.region))
                }
                ComplianceType::NotApplicable => {
                    not_applicable(id, format!("Config rule {} has no resources in scope.", r.rule_name))
                }
                ComplianceType::InsufficientData => Finding {
                    resource_id: id,
                    status: Status::Inconclusive(InconclusiveReason::InsufficientData {
                        detail: "AWS Config reports INSUFFICIENT_DATA".to_owned(),
                    }),
                    reason: format!("Config rule {} has not evaluated enough data to reach a verdict.", r.rule_name),
                },
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// KMS, GuardDuty, EBS

fn customer_key_rotation(evidence: &KmsKeys, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .keys
        .iter()
        .map(|k| {
            if k.manager == KeyManager::Aws {
                return not_applicable(&k.arn, format!("Key {} is managed and rotated by AWS.", k.key_id));
            }
            if k.key_spec != KeySpec::Symmetric {
                return not_applicable(
                    &k.arn,
                    format!("Key {} is not a symmetric key, so it cannot rotate automatically.", k.key_id),
                );
            }
            if k.key_state != KeyState::Enabled {
                return not_applicable(&k.arn, format!("Key {} is not enabled ({:?}).", k.key_id, k.key_state));
            }
            judge_flag(
                &k.arn,
                k.rotation_enabled,
                "rotation_enabled",
                || format!("Key {} rotates automatically.", k.key_id),
                || format!("Customer-managed key {} does not rotate automatically.", k.key_id),
            )
        })
        .collect()
}

fn guardduty_enabled(evidence: &GuardDutyDetectors, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .regions
        .iter()
        .map(|r| {
            let region = r.region.as_str();
            if !r.opt_in_status.is_enabled() {
                return not_applicable(region, format!("Region {region} is not enabled for the account."));
            }
            match &r.detectors {
                None => region_unreachable(region),
                Some(ds) if ds.iter().any(|d| d.status == DetectorStatus::Enabled) => {
                    pass(region, format!("GuardDuty is enabled in {region}."))
                }
                Some(ds) if ds.is_empty() => fail(region, format!("GuardDuty has no detector in {region}.")),
                Some(_) => fail(region, format!("The GuardDuty detector in {region} is suspended.")),
            }
        })
        .collect()
}

fn ebs_default_encryption(evidence: &EbsDefaultEncryption, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .regions
        .iter()
        .map(|r| {
            let region = r.region.as_str();
            match (r.opt_in_status.is_enabled(), r.enabled) {
                (false, _) => not_applicable(region, format!("Region {region} is not enabled for the account.")),
                (true, None) => region_unreachable(region),
                (true, Some(true)) => pass(region, format!("New EBS volumes in {region} are encrypted by default.")),
                (true, Some(false)) => {
                    fail(region, format!("New EBS volumes in {region} are not encrypted by default."))
                }
            }
        })
        .collect()
}
