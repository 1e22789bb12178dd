//! Outcome tests: for every check, hand-made evidence that drives each outcome it can produce
//! (pass, fail, inconclusive with its reason, not applicable). The table of cases doubles as the
//! `covered` list: a registered check without cases, or missing one of its outcomes, fails
//! `every_check_has_every_outcome`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use kushim_checks::evidence::aws::{
    AttachedPolicy, BucketEncryption, ComplianceType, DetectorStatus, InlinePolicy, KeyManager, KeySpec, KeyState,
    OptInStatus, PublicAccessBlock, TrailStatus, VersioningStatus,
};
use kushim_checks::evidence::github::{
    AlertSummary, BasePermission, CodeScanningSetup, Protection, RepoPermission, SeverityCounts, Visibility,
};
use kushim_checks::evidence::okta::{FactorStatus, RuleAccess, UserStatus};
use kushim_checks::{Evidence, EvidenceContext, InconclusiveReason, Status, find_check, registry};
use serde_json::json;

/// One expected result: resource, status, and a fragment the reason must contain.
struct Exp {
    resource: String,
    status: Status,
    reason_has: &'static str,
}

fn p(resource: impl Into<String>) -> Exp {
    Exp { resource: resource.into(), status: Status::Pass, reason_has: "" }
}

fn f(resource: impl Into<String>, reason_has: &'static str) -> Exp {
    Exp { resource: resource.into(), status: Status::Fail, reason_has }
}

fn na(resource: impl Into<String>) -> Exp {
    Exp { resource: resource.into(), status: Status::NotApplicable, reason_has: "" }
}

fn hidden(resource: impl Into<String>, field: &str) -> Exp {
    inc(resource, InconclusiveReason::FieldNotVisible { field: field.to_owned() })
}

fn denied(resource: impl Into<String>, action: &str) -> Exp {
    inc(resource, InconclusiveReason::PermissionDenied { action: action.to_owned() })
}

fn unreachable_region(region: &str) -> Exp {
    inc(region, InconclusiveReason::RegionDisabled)
}

fn inc(resource: impl Into<String>, reason: InconclusiveReason) -> Exp {
    Exp { resource: resource.into(), status: Status::Inconclusive(reason), reason_has: "" }
}

struct Case {
    check: &'static str,
    name: &'static str,
    evidence: Evidence,
    ctx: EvidenceContext,
    expect: Vec<Exp>,
}

fn case(check: &'static str, name: &'static str, evidence: Evidence, expect: Vec<Exp>) -> Case {
    let ctx = ctx_for(&evidence);
    Case { check, name, evidence, ctx, expect }
}

fn case_ctx(
    check: &'static str,
    name: &'static str,
    evidence: Evidence,
    ctx: EvidenceContext,
    expect: Vec<Exp>,
) -> Case {
    Case { check, name, evidence, ctx, expect }
}

/// Checks that always judge exactly one resource (an account, an org, the root user) and so can
/// never be not applicable.
const NEVER_NOT_APPLICABLE: &[&str] = &[
    "aws.iam.root_mfa",
    "aws.iam.root_access_keys",
    "aws.iam.root_recent_use",
    "aws.iam.password_policy_min_length",
    "aws.iam.password_policy_reuse_prevention",
    "aws.iam.password_policy_expiry",
    "aws.iam.password_policy_complexity",
    "aws.cloudtrail.multi_region_logging",
    "aws.s3.account_public_access_block",
    "github.org.two_factor_required",
    "github.org.base_permission_restricted",
    "github.org.public_repo_creation_restricted",
    "okta.system_log.suspicious_events",
];

fn cases() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(iam_cases());
    all.extend(password_policy_cases());
    all.extend(cloudtrail_cases());
    all.extend(s3_cases());
    all.extend(aws_other_cases());
    all.extend(github_org_cases());
    all.extend(github_branch_cases());
    all.extend(github_repo_cases());
    all.extend(github_alert_cases());
    all.extend(okta_cases());
    all
}

// ------------------------------------------------------------------------------------------------
// AWS IAM

fn iam_cases() -> Vec<Case> {
    let alice = iam_user("alice");
    let no_mfa = iam_user("bob").with(|u| u.mfa_active = false);
    let no_console = iam_user("carol").with(|u| u.password_enabled = Some(false));
    let unknown_console = iam_user("dave").with(|u| u.password_enabled = None);
    let no_keys = iam_user("erin").with(|u| u.access_key_1_active = false);

    let mut v = vec![
        case(
            "aws.iam.user_mfa_console",
            "mixed users",
            report(vec![root_row(), alice.clone(), no_mfa, no_console.clone(), unknown_console.clone()]),
            vec![
                p(user_arn("alice")),
                f(user_arn("bob"), "no MFA device"),
                na(user_arn("carol")),
                hidden(user_arn("dave"), "password_enabled"),
            ],
        ),
        case("aws.iam.user_mfa_console", "no users", report(vec![root_row()]), vec![na(ACCOUNT)]),
    ];

    // Root checks.
    let root_no_mfa = root_row().with(|r| r.mfa_active = false);
    let root_key = root_row().with(|r| {
        r.access_key_1_active = true;
        r.access_key_1_last_rotated = Some(days_ago(500));
    });
    let root_recent = root_row().with(|r| r.password_last_used = Some(days_ago(5)));
    let root_key_recent = root_row().with(|r| r.access_key_2_last_used_date = Some(days_ago(2)));
    let root_never = root_row().with(|r| r.password_last_used = None);
    let no_root = report(vec![alice.clone()]);
    v.extend([
        case("aws.iam.root_mfa", "mfa", report(vec![root_row()]), vec![p(root_arn())]),
        case("aws.iam.root_mfa", "no mfa", report(vec![root_no_mfa]), vec![f(root_arn(), "no MFA")]),
        case("aws.iam.root_mfa", "no root row", no_root.clone(), vec![hidden(ACCOUNT, "<root_account>")]),
        case("aws.iam.root_access_keys", "no keys", report(vec![root_row()]), vec![p(root_arn())]),
        case("aws.iam.root_access_keys", "key 1 active", report(vec![root_key]), vec![f(root_arn(), "key 1")]),
        case("aws.iam.root_access_keys", "no root row", no_root.clone(), vec![hidden(ACCOUNT, "<root_account>")]),
        case("aws.iam.root_recent_use", "used long ago", report(vec![root_row()]), vec![p(root_arn())]),
        case("aws.iam.root_recent_use", "never used", report(vec![root_never]), vec![p(root_arn())]),
        case(
            "aws.iam.root_recent_use",
            "password 5 days ago",
            report(vec![root_recent]),
            vec![f(root_arn(), "5 days ago")],
        ),
        case(
            "aws.iam.root_recent_use",
            "key 2 days ago",
            report(vec![root_key_recent]),
            vec![f(root_arn(), "access key 2")],
        ),
        case("aws.iam.root_recent_use", "no root row", no_root, vec![hidden(ACCOUNT, "<root_account>")]),
    ]);

    // Access keys.
    let old_key = iam_user("frank").with(|u| u.access_key_1_last_rotated = Some(days_ago(100)));
    let unknown_rotation = iam_user("gina").with(|u| u.access_key_1_last_rotated = None);
    let two_keys = iam_user("hank").with(|u| {
        u.access_key_2_active = true;
        u.access_key_2_last_rotated = Some(days_ago(5));
        u.access_key_2_last_used_date = Some(days_ago(1));
    });
    v.extend([
        case(
            "aws.iam.access_keys_rotated_90_days",
            "mixed keys",
            report(vec![root_row(), alice.clone(), old_key, no_keys.clone(), unknown_rotation]),
            vec![
                p(user_arn("alice")),
                f(user_arn("frank"), "100 days old"),
                na(user_arn("erin")),
                hidden(user_arn("gina"), "access_key_1_last_rotated"),
            ],
        ),
        case(
            "aws.iam.single_active_access_key",
            "mixed keys",
            report(vec![alice.clone(), two_keys.clone(), no_keys.clone()]),
            vec![p(user_arn("alice")), f(user_arn("hank"), "two active"), na(user_arn("erin"))],
        ),
        case_ctx(
            "aws.iam.single_active_access_key",
            "report refused",
            report(vec![alice.clone(), two_keys]),
            deny(aws_ctx(), "iam:GetCredentialReport"),
            vec![denied(user_arn("alice"), "iam:GetCredentialReport"), f(user_arn("hank"), "two active")],
        ),
    ]);

    // Unused credentials.
    let idle_50 = iam_user("ivan").with(|u| u.password_last_used = Some(days_ago(50)));
    let idle_100 = iam_user("judy").with(|u| {
        u.password_last_used = Some(days_ago(100));
        u.access_key_1_last_used_date = Some(days_ago(100));
    });
    let key_never_used_60 = iam_user("kate").with(|u| {
        u.password_enabled = Some(false);
        u.access_key_1_last_rotated = Some(days_ago(60));
        u.access_key_1_last_used_date = None;
    });
    let no_credentials = iam_user("leo").with(|u| {
        u.password_enabled = Some(false);
        u.access_key_1_active = false;
    });
    v.extend([
        case(
            "aws.iam.credentials_unused_45_days",
            "mixed users",
            report(vec![
                root_row(),
                alice.clone(),
                idle_50.clone(),
                key_never_used_60.clone(),
                no_credentials.clone(),
                unknown_console.clone(),
            ]),
            vec![
                p(user_arn("alice")),
                f(user_arn("ivan"), "console password last used 50 days ago"),
                f(user_arn("kate"), "access key 1 never used in 60 days"),
                na(user_arn("leo")),
                hidden(user_arn("dave"), "password_enabled"),
            ],
        ),
        case(
            "aws.iam.credentials_unused_90_days",
            "mixed users",
            report(vec![alice.clone(), idle_50, key_never_used_60, idle_100, no_credentials, unknown_console]),
            vec![
                p(user_arn("alice")),
                p(user_arn("ivan")),
                p(user_arn("kate")),
                f(user_arn("judy"), "over 90 days"),
                na(user_arn("leo")),
                hidden(user_arn("dave"), "password_enabled"),
            ],
        ),
    ]);

    // Direct admin policies.
    let admin_policy = AttachedPolicy {
        policy_name: "AdministratorAccess".to_owned(),
        policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".to_owned(),
        document: None,
    };
    let read_only = AttachedPolicy {
        policy_name: "ReadOnlyAccess".to_owned(),
        policy_arn: "arn:aws:iam::aws:policy/ReadOnlyAccess".to_owned(),
        document: None,
    };
    let custom = |doc: Option<serde_json::Value>| AttachedPolicy {
        policy_name: "Custom".to_owned(),
        policy_arn: format!("arn:aws:iam::{ACCOUNT}:policy/Custom"),
        document: doc,
    };
    let star = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let star_single = json!({"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["*"]}});
    let conditional = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]});
    let narrow = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]});
    v.extend([
        case(
            "aws.iam.no_direct_admin_policy",
            "mixed users",
            user_policies(vec![
                policy_set("ok").with(|u| {
                    u.attached_policies = Some(vec![read_only.clone(), custom(Some(conditional.clone()))]);
                    u.inline_policies = Some(vec![InlinePolicy { policy_name: "narrow".to_owned(), document: narrow }]);
                }),
                policy_set("admin").with(|u| u.attached_policies = Some(vec![admin_policy.clone()])),
                policy_set("inline").with(|u| {
                    u.inline_policies = Some(vec![InlinePolicy { policy_name: "god".to_owned(), document: star }]);
                }),
                policy_set("custom").with(|u| u.attached_policies = Some(vec![custom(Some(star_single))])),
                policy_set("unlisted").with(|u| u.attached_policies = None),
                policy_set("undocumented").with(|u| u.attached_policies = Some(vec![custom(None)])),
                policy_set("admin_and_unknown").with(|u| {
                    u.attached_policies = Some(vec![admin_policy, custom(None)]);
                    u.inline_policies = None;
                }),
            ]),
            vec![
                p(user_arn("ok")),
                f(user_arn("admin"), "attached AdministratorAccess"),
                f(user_arn("inline"), "inline god"),
                f(user_arn("custom"), "attached Custom"),
                hidden(user_arn("unlisted"), "attached_policies"),
                hidden(user_arn("undocumented"), "attached_policies.Custom.document"),
                f(user_arn("admin_and_unknown"), "AdministratorAccess"),
            ],
        ),
        case("aws.iam.no_direct_admin_policy", "no users", user_policies(vec![]), vec![na(ACCOUNT)]),
    ]);
    v
}

fn password_policy_cases() -> Vec<Case> {
    let strong = strong_password_policy();
    let weak = strong.clone().with(|p| {
        p.minimum_password_length = 8;
        p.password_reuse_prevention = Some(5);
        p.max_password_age = None;
        p.require_symbols = false;
        p.require_numbers = false;
    });
    let no_reuse = strong.clone().with(|p| {
        p.password_reuse_prevention = None;
        p.max_password_age = Some(0);
    });
    let perm = "iam:GetAccountPasswordPolicy";
    let mut v = Vec::new();
    for (check, weak_reason) in [
        ("aws.iam.password_policy_min_length", "only 8 characters"),
        ("aws.iam.password_policy_reuse_prevention", "Only the last 5"),
        ("aws.iam.password_policy_expiry", "never expires"),
        ("aws.iam.password_policy_complexity", "numbers and symbols"),
    ] {
        v.extend([
            case(check, "strong policy", password_policy(Some(strong.clone())), vec![p(ACCOUNT)]),
            case(check, "weak policy", password_policy(Some(weak.clone())), vec![f(ACCOUNT, weak_reason)]),
            case(check, "no policy", password_policy(None), vec![f(ACCOUNT, "no IAM password policy")]),
            case_ctx(
                check,
                "refused",
                password_policy(Some(strong.clone())),
                deny(aws_ctx(), perm),
                vec![denied(ACCOUNT, perm)],
            ),
        ]);
    }
    v.extend([
        case(
            "aws.iam.password_policy_reuse_prevention",
            "reuse allowed",
            password_policy(Some(no_reuse.clone())),
            vec![f(ACCOUNT, "does not prevent")],
        ),
        case(
            "aws.iam.password_policy_expiry",
            "zero age",
            password_policy(Some(no_reuse)),
            vec![f(ACCOUNT, "never expires")],
        ),
    ]);
    v
}

// ------------------------------------------------------------------------------------------------
// CloudTrail

fn cloudtrail_cases() -> Vec<Case> {
    let single = trail("regional").with(|t| t.is_multi_region = false);
    let stopped = trail("stopped").with(|t| t.status.as_mut().unwrap().is_logging = false);
    let no_status = trail("hidden").with(|t| t.status = None);
    let bad = trail("bad").with(|t| {
        t.log_file_validation_enabled = false;
        t.kms_key_id = None;
        t.cloud_watch_logs_log_group_arn = None;
    });
    let stale_cwl = trail("stale").with(|t| {
        t.status = Some(TrailStatus {
            is_logging: true,
            latest_delivery_time: Some(days_ago(0)),
            latest_cloud_watch_logs_delivery_time: Some(days_ago(3)),
        })
    });
    let mut v = vec![
        case(
            "aws.cloudtrail.multi_region_logging",
            "logging",
            trails(vec![single.clone(), trail("main")]),
            vec![p(ACCOUNT)],
        ),
        case(
            "aws.cloudtrail.multi_region_logging",
            "no trails",
            trails(vec![]),
            vec![f(ACCOUNT, "no CloudTrail trail")],
        ),
        case(
            "aws.cloudtrail.multi_region_logging",
            "single region",
            trails(vec![single]),
            vec![f(ACCOUNT, "single region")],
        ),
        case("aws.cloudtrail.multi_region_logging", "stopped", trails(vec![stopped]), vec![f(ACCOUNT, "not logging")]),
        case(
            "aws.cloudtrail.multi_region_logging",
            "status hidden",
            trails(vec![no_status]),
            vec![hidden(ACCOUNT, "status.is_logging")],
        ),
    ];
    for (check, reason, action) in [
        ("aws.cloudtrail.log_file_validation", "does not validate", "cloudtrail:DescribeTrails"),
        ("aws.cloudtrail.kms_encryption", "a KMS key is expected", "cloudtrail:DescribeTrails"),
        ("aws.cloudtrail.cloudwatch_logs", "does not deliver", "cloudtrail:GetTrailStatus"),
    ] {
        v.extend([
            case(
                check,
                "good and bad",
                trails(vec![trail("main"), bad.clone()]),
                vec![p(trail_arn("main")), f(trail_arn("bad"), reason)],
            ),
            case(check, "no trails", trails(vec![]), vec![na(ACCOUNT)]),
            case_ctx(
                check,
                "refused",
                trails(vec![trail("main")]),
                deny(aws_ctx(), action),
                vec![denied(trail_arn("main"), action)],
            ),
        ]);
    }
    v.push(case(
        "aws.cloudtrail.cloudwatch_logs",
        "stale delivery",
        trails(vec![stale_cwl]),
        vec![f(trail_arn("stale"), "3 days ago")],
    ));
    v
}

// ------------------------------------------------------------------------------------------------
// S3

fn s3_cases() -> Vec<Case> {
    let none = Some(PublicAccessBlock::default());
    let all = Some(PublicAccessBlock::ALL);
    let mut v = vec![
        case(
            "aws.s3.bucket_kms_encryption",
            "every encryption",
            buckets(
                all,
                vec![
                    bucket("kms"),
                    bucket("dsse").with(|b| b.encryption = Some(BucketEncryption::DsseKms)),
                    bucket("s3").with(|b| b.encryption = Some(BucketEncryption::SseS3)),
                    bucket("plain").with(|b| b.encryption = Some(BucketEncryption::None)),
                    bucket("hidden").with(|b| b.encryption = None),
                ],
            ),
            vec![
                p("kms"),
                p("dsse"),
                f("s3", "SSE-S3 (keys managed by S3); a KMS key (SSE-KMS) is expected"),
                f("plain", "no default encryption"),
                hidden("hidden", "encryption"),
            ],
        ),
        case(
            "aws.s3.bucket_public_access_block",
            "no account block",
            buckets(
                none,
                vec![
                    bucket("blocked"),
                    bucket("partial").with(|b| b.public_access_block.as_mut().unwrap().restrict_public_buckets = false),
                    bucket("hidden").with(|b| b.public_access_block = None),
                ],
            ),
            vec![p("blocked"), f("partial", "RestrictPublicBuckets"), hidden("hidden", "public_access_block")],
        ),
        case(
            "aws.s3.bucket_public_access_block",
            "account block covers",
            buckets(all, vec![bucket("open").with(|b| b.public_access_block = Some(PublicAccessBlock::default()))]),
            vec![p("open")],
        ),
        case(
            "aws.s3.bucket_public_access_block",
            "account block unreadable, bucket partial",
            buckets(
                None,
                vec![bucket("partial").with(|b| b.public_access_block.as_mut().unwrap().block_public_acls = false)],
            ),
            vec![hidden("partial", "public_access_block")],
        ),
        case("aws.s3.account_public_access_block", "all on", buckets(all, vec![]), vec![p(ACCOUNT)]),
        case(
            "aws.s3.account_public_access_block",
            "partial",
            buckets(
                Some(PublicAccessBlock { block_public_policy: false, ..PublicAccessBlock::ALL }),
                vec![bucket("b")],
            ),
            vec![f(ACCOUNT, "BlockPublicPolicy")],
        ),
        case(
            "aws.s3.account_public_access_block",
            "unreadable",
            buckets(None, vec![]),
            vec![hidden(ACCOUNT, "account_public_access_block")],
        ),
        case(
            "aws.s3.bucket_policy_not_public",
            "mixed policies",
            buckets(
                none,
                vec![
                    bucket("private"),
                    bucket("public").with(|b| {
                        b.policy_is_public = Some(true);
                        b.public_access_block = Some(PublicAccessBlock::default());
                    }),
                    bucket("restricted").with(|b| b.policy_is_public = Some(true)),
                    bucket("hidden").with(|b| b.policy_is_public = None),
                    bucket("public_unknown_block").with(|b| {
                        b.policy_is_public = Some(true);
                        b.public_access_block = None;
                    }),
                ],
            ),
            vec![
                p("private"),
                f("public", "anyone on the internet"),
                p("restricted"),
                hidden("hidden", "policy_is_public"),
                hidden("public_unknown_block", "public_access_block"),
            ],
        ),
        case(
            "aws.s3.bucket_tls_only",
            "mixed",
            buckets(
                all,
                vec![
                    bucket("tls"),
                    bucket("plain").with(|b| b.policy_denies_insecure_transport = Some(false)),
                    bucket("hidden").with(|b| b.policy_denies_insecure_transport = None),
                ],
            ),
            vec![p("tls"), f("plain", "does not deny"), hidden("hidden", "policy_denies_insecure_transport")],
        ),
        case(
            "aws.s3.bucket_versioning",
            "mixed",
            buckets(
                all,
                vec![
                    bucket("on"),
                    bucket("suspended").with(|b| b.versioning = Some(VersioningStatus::Suspended)),
                    bucket("never").with(|b| b.versioning = Some(VersioningStatus::Disabled)),
                    bucket("hidden").with(|b| b.versioning = None),
                ],
            ),
            vec![p("on"), f("suspended", "suspended"), f("never", "never enabled"), hidden("hidden", "versioning")],
        ),
        case(
            "aws.s3.bucket_object_lock",
            "mixed",
            buckets(
                all,
                vec![
                    bucket("locked"),
                    bucket("unlocked").with(|b| b.object_lock_enabled = Some(false)),
                    bucket("hidden").with(|b| b.object_lock_enabled = None),
                ],
            ),
            vec![p("locked"), f("unlocked", "does not have Object Lock"), hidden("hidden", "object_lock_enabled")],
        ),
    ];
    for check in [
        "aws.s3.bucket_kms_encryption",
        "aws.s3.bucket_public_access_block",
        "aws.s3.bucket_policy_not_public",
        "aws.s3.bucket_tls_only",
        "aws.s3.bucket_versioning",
        "aws.s3.bucket_object_lock",
    ] {
        v.push(case(check, "no buckets", buckets(all, vec![]), vec![na(ACCOUNT)]));
    }
    v
}

// ------------------------------------------------------------------------------------------------
// AWS Config, KMS, GuardDuty, EBS

fn aws_other_cases() -> Vec<Case> {
    use OptInStatus::{NotOptedIn, OptInNotRequired, OptedIn};
    vec![
        case(
            "aws.config.recorder_all_regions",
            "mixed regions",
            config_recorders(vec![
                config_region("us-east-1", OptInNotRequired, Some(vec![recorder(true, true, true)])),
                config_region("eu-west-1", OptInNotRequired, Some(vec![recorder(true, true, false)])),
                config_region("ap-east-1", NotOptedIn, None),
                config_region("eu-south-1", OptedIn, None),
                config_region("us-west-2", OptInNotRequired, Some(vec![])),
                config_region("us-west-1", OptInNotRequired, Some(vec![recorder(false, true, true)])),
                config_region("ca-central-1", OptInNotRequired, Some(vec![recorder(true, false, false)])),
            ]),
            vec![
                p("us-east-1"),
                p("eu-west-1"),
                na("ap-east-1"),
                unreachable_region("eu-south-1"),
                f("us-west-2", "no AWS Config recorder"),
                f("us-west-1", "stopped"),
                f("ca-central-1", "does not record all resource types"),
            ],
        ),
        case(
            "aws.config.recorder_all_regions",
            "no global resources anywhere",
            config_recorders(vec![config_region(
                "us-east-1",
                OptInNotRequired,
                Some(vec![recorder(true, true, false)]),
            )]),
            vec![f("us-east-1", "no region records global resources")],
        ),
        case(
            "aws.config.rule_compliance",
            "every compliance type",
            config_rules(vec![
                config_rule("ok", ComplianceType::Compliant, None),
                config_rule("bad", ComplianceType::NonCompliant, Some(3)),
                config_rule("bad_uncounted", ComplianceType::NonCompliant, None),
                config_rule("empty", ComplianceType::NotApplicable, None),
                config_rule("new", ComplianceType::InsufficientData, None),
            ]),
            vec![
                p("us-east-1/ok"),
                f("us-east-1/bad", "3 non-compliant resource(s)"),
                f("us-east-1/bad_uncounted", "non-compliant resources"),
                na("us-east-1/empty"),
                inc(
                    "us-east-1/new",
                    InconclusiveReason::InsufficientData { detail: "AWS Config reports INSUFFICIENT_DATA".to_owned() },
                ),
            ],
        ),
        case(
            "aws.kms.customer_key_rotation",
            "every kind of key",
            kms_keys(vec![
                kms_key("rotating"),
                kms_key("static").with(|k| k.rotation_enabled = Some(false)),
                kms_key("hidden").with(|k| k.rotation_enabled = None),
                kms_key("aws").with(|k| {
                    k.manager = KeyManager::Aws;
                    k.rotation_enabled = Some(false);
                }),
                kms_key("rsa").with(|k| {
                    k.key_spec = KeySpec::Asymmetric;
                    k.rotation_enabled = Some(false);
                }),
                kms_key("hmac").with(|k| k.key_spec = KeySpec::Hmac),
                kms_key("disabled").with(|k| {
                    k.key_state = KeyState::PendingDeletion;
                    k.rotation_enabled = Some(false);
                }),
            ]),
            vec![
                p(key_arn("rotating")),
                f(key_arn("static"), "does not rotate"),
                hidden(key_arn("hidden"), "rotation_enabled"),
                na(key_arn("aws")),
                na(key_arn("rsa")),
                na(key_arn("hmac")),
                na(key_arn("disabled")),
            ],
        ),
        case(
            "aws.guardduty.enabled_all_regions",
            "mixed regions",
            guardduty(vec![
                guardduty_region("us-east-1", OptInNotRequired, Some(vec![detector(DetectorStatus::Enabled)])),
                guardduty_region("eu-west-1", OptInNotRequired, Some(vec![detector(DetectorStatus::Disabled)])),
                guardduty_region("us-west-2", OptInNotRequired, Some(vec![])),
                guardduty_region("ap-east-1", NotOptedIn, None),
                guardduty_region("eu-south-1", OptedIn, None),
            ]),
            vec![
                p("us-east-1"),
                f("eu-west-1", "suspended"),
                f("us-west-2", "no detector"),
                na("ap-east-1"),
                unreachable_region("eu-south-1"),
            ],
        ),
        case(
            "aws.ec2.ebs_default_encryption",
            "mixed regions",
            ebs(vec![
                ebs_region("us-east-1", OptInNotRequired, Some(true)),
                ebs_region("eu-west-1", OptInNotRequired, Some(false)),
                ebs_region("ap-east-1", NotOptedIn, Some(false)),
                ebs_region("eu-south-1", OptedIn, None),
            ]),
            vec![p("us-east-1"), f("eu-west-1", "not encrypted"), na("ap-east-1"), unreachable_region("eu-south-1")],
        ),
    ]
}

// ------------------------------------------------------------------------------------------------
// GitHub

fn github_org_cases() -> Vec<Case> {
    let settings = |edit: fn(&mut kushim_checks::evidence::github::OrgSettings)| {
        Evidence::GithubOrgSettings(org_settings().with(edit))
    };
    vec![
        case("github.org.two_factor_required", "required", settings(|_| {}), vec![p(ORG)]),
        case(
            "github.org.two_factor_required",
            "off",
            settings(|o| o.two_factor_requirement_enabled = Some(false)),
            vec![f(ORG, "does not require")],
        ),
        case(
            "github.org.two_factor_required",
            "hidden",
            settings(|o| o.two_factor_requirement_enabled = None),
            vec![hidden(ORG, "two_factor_requirement_enabled")],
        ),
        case("github.org.base_permission_restricted", "read", settings(|_| {}), vec![p(ORG)]),
        case(
            "github.org.base_permission_restricted",
            "none",
            settings(|o| o.default_repository_permission = Some(BasePermission::None)),
            vec![p(ORG)],
        ),
        case(
            "github.org.base_permission_restricted",
            "write",
            settings(|o| o.default_repository_permission = Some(BasePermission::Write)),
            vec![f(ORG, "write access")],
        ),
        case(
            "github.org.base_permission_restricted",
            "admin",
            settings(|o| o.default_repository_permission = Some(BasePermission::Admin)),
            vec![f(ORG, "admin access")],
        ),
        case(
            "github.org.base_permission_restricted",
            "hidden",
            settings(|o| o.default_repository_permission = None),
            vec![hidden(ORG, "default_repository_permission")],
        ),
        case("github.org.public_repo_creation_restricted", "restricted", settings(|_| {}), vec![p(ORG)]),
        case(
            "github.org.public_repo_creation_restricted",
            "open",
            settings(|o| o.members_can_create_public_repositories = Some(true)),
            vec![f(ORG, "Any member")],
        ),
        case(
            "github.org.public_repo_creation_restricted",
            "hidden",
            settings(|o| o.members_can_create_public_repositories = None),
            vec![hidden(ORG, "members_can_create_public_repositories")],
        ),
        case(
            "github.org.members_two_factor",
            "mixed members",
            members(vec![member("ann", Some(true)), member("ben", Some(false)), member("cat", None)]),
            vec![p("ann"), f("ben", "no two-factor"), hidden("cat", "two_factor_enabled")],
        ),
        case("github.org.members_two_factor", "no members", members(vec![]), vec![na(ORG)]),
        case(
            "github.org.outside_collaborator_admin",
            "mixed collaborators",
            collaborators(vec![
                collaborator("writer", &[("acme/web", RepoPermission::Write), ("acme/docs", RepoPermission::Maintain)]),
                collaborator("boss", &[("acme/web", RepoPermission::Read), ("acme/api", RepoPermission::Admin)]),
                collaborator("idle", &[]),
            ]),
            vec![p("writer"), f("boss", "admin of acme/api"), na("idle")],
        ),
        case_ctx(
            "github.org.outside_collaborator_admin",
            "refused",
            collaborators(vec![collaborator("writer", &[("acme/web", RepoPermission::Write)])]),
            deny(github_ctx(), "members:read"),
            vec![denied("writer", "members:read")],
        ),
    ]
}

/// A check id, an edit that breaks the rule it judges, and the failure reason it should give.
type Weakening = (&'static str, fn(&mut kushim_checks::evidence::github::BranchRules), &'static str);

fn github_branch_cases() -> Vec<Case> {
    let checks: [Weakening; 6] = [
        ("github.repo.branch_review_required", |r| r.required_approving_review_count = Some(0), "no approving review"),
        ("github.repo.branch_dismiss_stale_reviews", |r| r.dismiss_stale_reviews = false, "survive new commits"),
        ("github.repo.branch_status_checks", |r| r.required_status_checks.clear(), "without any required status check"),
        ("github.repo.branch_force_push_blocked", |r| r.allow_force_pushes = true, "are allowed"),
        ("github.repo.branch_deletion_blocked", |r| r.allow_deletions = true, "can be deleted"),
        ("github.repo.branch_admins_included", |r| r.enforce_admins = false, "can bypass"),
    ];
    let mut v = Vec::new();
    for (check, weaken, reason) in checks {
        v.push(case(
            check,
            "mixed repositories",
            branches(vec![
                branch("acme/good", Protection::Rules(rules())),
                branch("acme/weak", Protection::Rules(rules().with(weaken))),
                branch("acme/open", Protection::Unprotected),
                branch("acme/hidden", Protection::NotVisible),
                branch("acme/old", Protection::Unprotected).with(|b| b.archived = true),
                branch("acme/empty", Protection::Unprotected).with(|b| b.default_branch = None),
            ]),
            vec![
                p("acme/good"),
                f("acme/weak", reason),
                f("acme/open", "no protection rule"),
                hidden("acme/hidden", "protection"),
                na("acme/old"),
                na("acme/empty"),
            ],
        ));
    }
    let no_pr = rules().with(|r| r.required_approving_review_count = None);
    v.extend([
        case(
            "github.repo.branch_review_required",
            "no pull request required",
            branches(vec![branch("acme/direct", Protection::Rules(no_pr.clone()))]),
            vec![f("acme/direct", "without a pull request review")],
        ),
        case(
            "github.repo.branch_dismiss_stale_reviews",
            "no pull request required",
            branches(vec![branch("acme/direct", Protection::Rules(no_pr))]),
            vec![f("acme/direct", "requires no reviews")],
        ),
    ]);
    v
}

fn github_repo_cases() -> Vec<Case> {
    let archived = repo("acme/old").with(|r| {
        r.archived = true;
        r.dependabot_alerts_enabled = Some(false);
        r.secret_scanning = Some(false);
        r.code_scanning = Some(CodeScanningSetup::NotConfigured);
        r.visibility = Visibility::Public;
    });
    vec![
        case(
            "github.repo.dependabot_alerts_enabled",
            "mixed",
            repos(vec![
                repo("acme/on"),
                repo("acme/off").with(|r| r.dependabot_alerts_enabled = Some(false)),
                repo("acme/hidden").with(|r| r.dependabot_alerts_enabled = None),
                archived.clone(),
            ]),
            vec![
                p("acme/on"),
                f("acme/off", "off"),
                hidden("acme/hidden", "dependabot_alerts_enabled"),
                na("acme/old"),
            ],
        ),
        case(
            "github.repo.secret_scanning_push_protection",
            "mixed",
            repos(vec![
                repo("acme/on"),
                repo("acme/noscan").with(|r| {
                    r.secret_scanning = Some(false);
                    r.secret_scanning_push_protection = Some(false);
                }),
                repo("acme/nopush").with(|r| r.secret_scanning_push_protection = Some(false)),
                repo("acme/hidden").with(|r| r.secret_scanning = None),
                repo("acme/hiddenpush").with(|r| r.secret_scanning_push_protection = None),
                archived.clone(),
            ]),
            vec![
                p("acme/on"),
                f("acme/noscan", "secret scanning off"),
                f("acme/nopush", "does not block pushes"),
                hidden("acme/hidden", "secret_scanning"),
                hidden("acme/hiddenpush", "secret_scanning_push_protection"),
                na("acme/old"),
            ],
        ),
        case(
            "github.repo.code_scanning_enabled",
            "mixed",
            repos(vec![
                repo("acme/default"),
                repo("acme/advanced").with(|r| r.code_scanning = Some(CodeScanningSetup::AdvancedSetup)),
                repo("acme/none").with(|r| r.code_scanning = Some(CodeScanningSetup::NotConfigured)),
                repo("acme/hidden").with(|r| r.code_scanning = None),
                archived.clone(),
            ]),
            vec![
                p("acme/default"),
                p("acme/advanced"),
                f("acme/none", "no code scanning"),
                hidden("acme/hidden", "code_scanning"),
                na("acme/old"),
            ],
        ),
        case(
            "github.repo.public_justified",
            "mixed",
            repos(vec![
                repo("acme/private"),
                repo("acme/sdk").with(|r| {
                    r.visibility = Visibility::Public;
                    r.public_justification = Some("Open-source SDK for customers".to_owned());
                }),
                repo("acme/leak").with(|r| r.visibility = Visibility::Public),
                repo("acme/blank").with(|r| {
                    r.visibility = Visibility::Public;
                    r.public_justification = Some("  ".to_owned());
                }),
                archived,
            ]),
            vec![
                p("acme/private"),
                p("acme/sdk"),
                f("acme/leak", "nobody recorded why"),
                f("acme/blank", "nobody recorded why"),
                na("acme/old"),
            ],
        ),
        case_ctx(
            "github.repo.public_justified",
            "refused",
            repos(vec![repo("acme/private")]),
            deny(github_ctx(), "metadata:read"),
            vec![denied("acme/private", "metadata:read")],
        ),
    ]
}

fn github_alert_cases() -> Vec<Case> {
    let summary = |critical: u32, high: u32, oldest_critical: Option<i64>, oldest_high: Option<i64>| AlertSummary {
        open: SeverityCounts { critical, high, medium: 7, low: 9 },
        oldest_open_critical: oldest_critical.map(days_ago),
        oldest_open_high: oldest_high.map(days_ago),
    };
    let archived = alert_repo("acme/old").with(|r| {
        r.archived = true;
        r.dependabot = Some(summary(5, 5, Some(400), Some(400)));
        r.code_scanning = Some(summary(5, 5, Some(400), Some(400)));
        r.secret_scanning_open = Some(3);
    });
    vec![
        case(
            "github.repo.dependabot_alerts_triaged",
            "mixed",
            repos_alerts(vec![
                alert_repo("acme/clean"),
                alert_repo("acme/fresh").with(|r| r.dependabot = Some(summary(1, 2, Some(3), Some(20)))),
                alert_repo("acme/overdue").with(|r| r.dependabot = Some(summary(1, 0, Some(20), None))),
                alert_repo("acme/undated").with(|r| r.dependabot = Some(summary(0, 4, None, None))),
                alert_repo("acme/hidden").with(|r| r.dependabot = None),
                archived.clone(),
            ]),
            vec![
                p("acme/clean"),
                p("acme/fresh"),
                f("acme/overdue", "1 open critical alert(s), the oldest open for 20 days (limit 15)"),
                f("acme/undated", "4 open high alert(s) with no opening date"),
                hidden("acme/hidden", "dependabot"),
                na("acme/old"),
            ],
        ),
        case(
            "github.repo.code_scanning_alerts_triaged",
            "mixed",
            repos_alerts(vec![
                alert_repo("acme/clean"),
                alert_repo("acme/overdue").with(|r| r.code_scanning = Some(summary(0, 2, None, Some(40)))),
                alert_repo("acme/hidden").with(|r| r.code_scanning = None),
                archived.clone(),
            ]),
            vec![
                p("acme/clean"),
                f("acme/overdue", "oldest open for 40 days (limit 30)"),
                hidden("acme/hidden", "code_scanning"),
                na("acme/old"),
            ],
        ),
        case(
            "github.repo.secret_scanning_alerts_resolved",
            "mixed",
            repos_alerts(vec![
                alert_repo("acme/clean"),
                alert_repo("acme/leaky").with(|r| r.secret_scanning_open = Some(2)),
                alert_repo("acme/hidden").with(|r| r.secret_scanning_open = None),
                archived,
            ]),
            vec![
                p("acme/clean"),
                f("acme/leaky", "2 open"),
                hidden("acme/hidden", "secret_scanning_open"),
                na("acme/old"),
            ],
        ),
    ]
}

fn repos_alerts(repos: Vec<kushim_checks::evidence::github::RepoAlertSummary>) -> Evidence {
    alerts(repos)
}

// ------------------------------------------------------------------------------------------------
// Okta

fn okta_cases() -> Vec<Case> {
    let admin = |id: &str, factors: &[&str]| {
        okta_user(id).with(|u| {
            u.admin_roles = Some(vec!["SUPER_ADMIN".to_owned()]);
            u.factors = Some(factors.iter().map(|t| factor(t, FactorStatus::Active)).collect());
        })
    };
    let suspended = okta_user("suspended").with(|u| {
        u.status = UserStatus::Suspended;
        u.factors = Some(vec![]);
        u.last_login = Some(days_ago(300));
        u.admin_roles = Some(vec!["ORG_ADMIN".to_owned()]);
    });
    let deprovisioned = okta_user("gone").with(|u| {
        u.status = UserStatus::Deprovisioned;
        u.factors = None;
    });
    let mut v = vec![
        case(
            "okta.user.mfa_enrolled",
            "mixed users",
            okta_users(vec![
                okta_user("ok"),
                okta_user("bare").with(|u| u.factors = Some(vec![])),
                okta_user("question").with(|u| u.factors = Some(vec![factor("question", FactorStatus::Active)])),
                okta_user("pending").with(|u| u.factors = Some(vec![factor("push", FactorStatus::PendingActivation)])),
                okta_user("locked").with(|u| u.status = UserStatus::LockedOut),
                suspended.clone(),
                deprovisioned.clone(),
                okta_user("hidden").with(|u| u.factors = None),
            ]),
            vec![
                p("ok"),
                f("bare", "no active MFA factor"),
                f("question", "no active MFA factor"),
                f("pending", "no active MFA factor"),
                p("locked"),
                na("suspended"),
                na("gone"),
                hidden("hidden", "factors"),
            ],
        ),
        case(
            "okta.user.admin_phishing_resistant",
            "mixed users",
            okta_users(vec![
                admin("fido", &["push", "webauthn"]),
                admin("fastpass", &["signed_nonce"]),
                admin("push", &["push", "sms", "token:software:totp"]),
                okta_user("regular"),
                suspended.clone(),
                okta_user("roles_hidden").with(|u| u.admin_roles = None),
                admin("factors_hidden", &[]).with(|u| u.factors = None),
            ]),
            vec![
                p("fido"),
                p("fastpass"),
                f("push", "no active phishing-resistant factor"),
                na("regular"),
                na("suspended"),
                hidden("roles_hidden", "admin_roles"),
                hidden("factors_hidden", "factors"),
            ],
        ),
        case(
            "okta.user.inactive_deprovisioned",
            "mixed users",
            okta_users(vec![
                okta_user("recent"),
                okta_user("dormant").with(|u| u.last_login = Some(days_ago(100))),
                okta_user("never").with(|u| {
                    u.last_login = None;
                    u.activated = Some(days_ago(120));
                }),
                okta_user("new").with(|u| {
                    u.last_login = None;
                    u.activated = Some(days_ago(10));
                }),
                suspended,
                deprovisioned,
            ]),
            vec![
                p("recent"),
                f("dormant", "100 days ago"),
                f("never", "never signed in"),
                p("new"),
                na("suspended"),
                na("gone"),
            ],
        ),
        case_ctx(
            "okta.user.inactive_deprovisioned",
            "refused",
            okta_users(vec![okta_user("recent")]),
            deny(okta_ctx(), "okta.users.read"),
            vec![denied("recent", "okta.users.read")],
        ),
        case_ctx(
            "okta.user.mfa_enrolled",
            "no users, refused",
            okta_users(vec![]),
            deny(okta_ctx(), "okta.users.read"),
            vec![denied(OKTA_ORG, "okta.users.read")],
        ),
    ];

    let inactive = okta_password("off").with(|p| {
        p.active = false;
        p.min_length = 4;
        p.lockout_max_attempts = None;
        p.history_count = 0;
    });
    for (check, weaken, reason) in [
        (
            "okta.policy.password_min_length",
            (|p: &mut kushim_checks::evidence::okta::PasswordPolicy| p.min_length = 8) as fn(&mut _),
            "only 8 characters",
        ),
        ("okta.policy.password_lockout", |p| p.lockout_max_attempts = Some(20), "allows 20 failed attempts"),
        ("okta.policy.password_history", |p| p.history_count = 0, "only 0 previous"),
    ] {
        v.extend([
            case(
                check,
                "mixed policies",
                okta_passwords(vec![okta_password("good"), okta_password("weak").with(weaken), inactive.clone()]),
                vec![p("good"), f("weak", reason), na("off")],
            ),
            case_ctx(
                check,
                "refused",
                okta_passwords(vec![okta_password("good")]),
                deny(okta_ctx(), "okta.policies.read"),
                vec![denied("good", "okta.policies.read")],
            ),
        ]);
    }
    v.push(case(
        "okta.policy.password_lockout",
        "lockout off",
        okta_passwords(vec![okta_password("nolock").with(|p| p.lockout_max_attempts = None)]),
        vec![f("nolock", "never locks")],
    ));

    let deny_rule = session_rule("deny").with(|r| {
        r.access = RuleAccess::Deny;
        r.require_mfa = false;
        r.max_session_lifetime_minutes = None;
        r.max_session_idle_minutes = None;
    });
    let inactive_rule = session_rule("inactive").with(|r| {
        r.active = false;
        r.require_mfa = false;
        r.max_session_lifetime_minutes = None;
    });
    for (check, weaken, reason) in [
        (
            "okta.policy.session_lifetime",
            (|r: &mut kushim_checks::evidence::okta::SessionRule| r.max_session_lifetime_minutes = Some(1440))
                as fn(&mut _),
            "last 1440 minutes",
        ),
        ("okta.policy.session_idle_timeout", |r| r.max_session_idle_minutes = Some(120), "last 120 minutes"),
        ("okta.policy.sign_on_mfa", |r| r.require_mfa = false, "without a second factor"),
    ] {
        v.extend([
            case(
                check,
                "mixed rules",
                session_rules(vec![
                    session_rule("good"),
                    session_rule("weak").with(weaken),
                    deny_rule.clone(),
                    inactive_rule.clone(),
                ]),
                vec![p("pol/good"), f("pol/weak", reason), na("pol/deny"), na("pol/inactive")],
            ),
            case_ctx(
                check,
                "refused",
                session_rules(vec![session_rule("good")]),
                deny(okta_ctx(), "okta.policies.read"),
                vec![denied("pol/good", "okta.policies.read")],
            ),
        ]);
    }
    v.extend([
        case(
            "okta.policy.session_lifetime",
            "unlimited",
            session_rules(vec![session_rule("forever").with(|r| r.max_session_lifetime_minutes = None)]),
            vec![f("pol/forever", "never expire")],
        ),
        case(
            "okta.policy.session_idle_timeout",
            "no idle limit",
            session_rules(vec![session_rule("forever").with(|r| r.max_session_idle_minutes = None)]),
            vec![f("pol/forever", "never end")],
        ),
        case(
            "okta.policy.mfa_enrollment_required",
            "mixed policies",
            enrollments(vec![
                enrollment("strict", &["okta_verify", "webauthn"]),
                enrollment("lax", &[]),
                enrollment("off", &[]).with(|p| p.active = false),
            ]),
            vec![p("strict"), f("lax", "every factor optional"), na("off")],
        ),
        case_ctx(
            "okta.policy.mfa_enrollment_required",
            "refused",
            enrollments(vec![enrollment("strict", &["okta_verify"])]),
            deny(okta_ctx(), "okta.policies.read"),
            vec![denied("strict", "okta.policies.read")],
        ),
        case("okta.system_log.suspicious_events", "none", log_summary(Some(0)), vec![p(OKTA_ORG)]),
        case(
            "okta.system_log.suspicious_events",
            "some",
            log_summary(Some(3)),
            vec![f(OKTA_ORG, "3 suspicious event(s)")],
        ),
        case(
            "okta.system_log.suspicious_events",
            "unknown",
            log_summary(None),
            vec![hidden(OKTA_ORG, "suspicious_events")],
        ),
    ]);
    v
}

/// Small builder helper: modify a clone in place.
trait With: Sized {
    fn with(self, edit: impl FnOnce(&mut Self)) -> Self;
}

impl<T> With for T {
    fn with(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}

// ------------------------------------------------------------------------------------------------
// The tests

#[test]
fn every_case_produces_its_expected_results() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 100, "only {} cases", all.len());
    for c in &all {
        let Some(check) = find_check(c.check) else {
            failures.push(format!("{} / {}: no such check", c.check, c.name));
            continue;
        };
        let results = match check.evaluate(&c.evidence, &c.ctx, now()) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{} / {}: {e}", c.check, c.name));
                continue;
            }
        };
        let got: Vec<(String, Status)> = results.iter().map(|r| (r.resource_id.clone(), r.status.clone())).collect();
        let want: Vec<(String, Status)> = c.expect.iter().map(|e| (e.resource.clone(), e.status.clone())).collect();
        if got != want {
            failures.push(format!("{} / {}:\n   got  {got:?}\n   want {want:?}", c.check, c.name));
            continue;
        }
        for (r, e) in results.iter().zip(&c.expect) {
            assert_eq!(r.check_id, c.check);
            if r.reason.trim().is_empty() || !r.reason.contains(e.reason_has) {
                failures.push(format!(
                    "{} / {} / {}: reason {:?} should contain {:?}",
                    c.check, c.name, r.resource_id, r.reason, e.reason_has
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), all.len(), failures.join("\n"));
}

#[test]
fn every_check_has_every_outcome() {
    let mut covered: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for c in cases() {
        let outcomes = covered.entry(c.check).or_default();
        for e in &c.expect {
            outcomes.insert(e.status.label());
        }
    }
    let mut missing = Vec::new();
    for check in registry() {
        let id = check.id();
        let Some(outcomes) = covered.get(id) else {
            missing.push(format!("{id}: no test cases"));
            continue;
        };
        let mut needed = vec!["pass", "fail", "inconclusive"];
        if !NEVER_NOT_APPLICABLE.contains(&id) {
            needed.push("not_applicable");
        }
        for outcome in needed {
            if !outcomes.contains(outcome) {
                missing.push(format!("{id}: no case produces {outcome}"));
            }
        }
    }
    for id in covered.keys() {
        if find_check(id).is_none() {
            missing.push(format!("{id}: tested but not registered"));
        }
    }
    assert!(missing.is_empty(), "outcome coverage gaps:\n{}", missing.join("\n"));
}
