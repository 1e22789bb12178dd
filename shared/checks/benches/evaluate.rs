//! Throughput benchmark: evaluates every registered check over 100,000 synthetic resources
//! (users, buckets, trails, keys, regions, repositories, policies...) generated in memory, on one
//! thread, and prints resources per second per check and overall.
//!
//! Run with `cargo bench -p kushim-checks`. `KUSHIM_BENCH_RESOURCES` overrides the resource count.
//! Kinds that describe a single resource (a password policy, an org's settings, a log summary) are
//! evaluated once per resource instead.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use kushim_checks::evidence::aws::{
    AccountPasswordPolicy, AttachedPolicy, Bucket, BucketEncryption, ComplianceType, ConfigRecorder, ConfigRecorders,
    ConfigRuleCompliance, ConfigRuleResult, CredentialReport, CredentialReportRow, Detector, DetectorStatus,
    EbsDefaultEncryption, GuardDutyDetectors, KeyManager, KeySpec, KeyState, KmsKey, KmsKeys, OptInStatus,
    PasswordPolicy, PublicAccessBlock, RegionalConfigRecorders, RegionalDetectors, RegionalEbsDefault, Regions,
    S3Buckets, Trail, TrailStatus, Trails, UserPolicies, UserPolicySet, VersioningStatus,
};
use kushim_checks::evidence::github::{
    AlertSummary, BasePermission, BranchProtections, BranchRules, CodeScanningSetup, OrgMember, OrgMembers, OrgRole,
    OrgSettings, OutsideCollaborator, OutsideCollaborators, Protection, RepoAlertSummary, RepoAlerts,
    RepoBranchProtection, RepoGrant, RepoPermission, Repositories, Repository, SeverityCounts, Visibility,
};
use kushim_checks::evidence::kinds;
use kushim_checks::evidence::okta::{
    Factor, FactorStatus, MfaEnrollmentPolicies, MfaEnrollmentPolicy, PasswordPolicies, PasswordPolicy as OktaPassword,
    RuleAccess, SessionRule, SignOnPolicies, SystemLogSummary, User, UserStatus, Users,
};
use kushim_checks::{Evidence, EvidenceContext, Scope, registry};

const DEFAULT_RESOURCES: usize = 100_000;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

fn ago(days: usize) -> DateTime<Utc> {
    now() - TimeDelta::days(i64::try_from(days).unwrap_or(i64::MAX / 2))
}

fn opt_in(i: usize) -> OptInStatus {
    match i % 10 {
        0 => OptInStatus::NotOptedIn,
        1 => OptInStatus::OptedIn,
        _ => OptInStatus::OptInNotRequired,
    }
}

/// Synthetic evidence of `kind` describing `n` resources, with a spread of compliant,
/// non-compliant and unreadable ones. `None` for kinds that describe exactly one resource.
fn synthetic(kind: &str, n: usize) -> Option<Evidence> {
    let evidence = match kind {
        kinds::AWS_ACCOUNT_REGIONS => Evidence::AwsRegions(Regions { regions: Vec::new() }),
        kinds::AWS_IAM_CREDENTIAL_REPORT => Evidence::AwsCredentialReport(CredentialReport {
            generated_at: now(),
            rows: (0..n)
                .map(|i| CredentialReportRow {
                    user: format!("user{i}"),
                    arn: format!("arn:aws:iam::111122223333:user/user{i}"),
                    user_creation_time: ago(400),
                    password_enabled: if i.is_multiple_of(50) { None } else { Some(!i.is_multiple_of(3)) },
                    password_last_used: (!i.is_multiple_of(4)).then(|| ago(i % 120)),
                    password_last_changed: Some(ago(200)),
                    mfa_active: !i.is_multiple_of(7),
                    access_key_1_active: i.is_multiple_of(2),
                    access_key_1_last_rotated: Some(ago(i % 180)),
                    access_key_1_last_used_date: (!i.is_multiple_of(5)).then(|| ago(i % 100)),
                    access_key_2_active: i.is_multiple_of(11),
                    access_key_2_last_rotated: (i.is_multiple_of(22)).then(|| ago(30)),
                    access_key_2_last_used_date: None,
                })
                .collect(),
        }),
        kinds::AWS_IAM_USER_POLICIES => {
            let doc = serde_json::json!({"Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "*"},
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
            ]});
            Evidence::AwsUserPolicies(UserPolicies {
                users: (0..n)
                    .map(|i| UserPolicySet {
                        user_name: format!("user{i}"),
                        arn: format!("arn:aws:iam::111122223333:user/user{i}"),
                        attached_policies: (!i.is_multiple_of(40)).then(|| {
                            vec![AttachedPolicy {
                                policy_name: if i.is_multiple_of(9) { "AdministratorAccess" } else { "ReadOnlyAccess" }
                                    .to_owned(),
                                policy_arn: format!(
                                    "arn:aws:iam::aws:policy/{}",
                                    if i.is_multiple_of(9) { "AdministratorAccess" } else { "ReadOnlyAccess" }
                                ),
                                document: None,
                            }]
                        }),
                        inline_policies: Some(vec![kushim_checks::evidence::aws::InlinePolicy {
                            policy_name: "app".to_owned(),
                            document: doc.clone(),
                        }]),
                    })
                    .collect(),
            })
        }
        kinds::AWS_IAM_PASSWORD_POLICY => return None,
        kinds::AWS_CLOUDTRAIL_TRAILS => Evidence::AwsCloudTrail(Trails {
            trails: (0..n)
                .map(|i| Trail {
                    name: format!("trail{i}"),
                    arn: format!("arn:aws:cloudtrail:us-east-1:111122223333:trail/trail{i}"),
                    home_region: "us-east-1".to_owned(),
                    is_multi_region: i.is_multiple_of(2),
                    is_organization_trail: false,
                    log_file_validation_enabled: !i.is_multiple_of(3),
                    kms_key_id: (!i.is_multiple_of(4)).then(|| "arn:aws:kms:us-east-1:111122223333:key/k".to_owned()),
                    cloud_watch_logs_log_group_arn: (!i.is_multiple_of(5))
                        .then(|| "arn:aws:logs:us-east-1:1:log-group:t".to_owned()),
                    status: Some(TrailStatus {
                        is_logging: !i.is_multiple_of(6),
                        latest_delivery_time: Some(ago(0)),
                        latest_cloud_watch_logs_delivery_time: Some(ago(i % 3)),
                    }),
                })
                .collect(),
        }),
        kinds::AWS_S3_BUCKETS => Evidence::AwsS3Buckets(S3Buckets {
            account_public_access_block: Some(PublicAccessBlock::default()),
            buckets: (0..n)
                .map(|i| Bucket {
                    name: format!("bucket-{i}"),
                    region: "us-east-1".to_owned(),
                    encryption: Some(match i % 4 {
                        0 => BucketEncryption::SseS3,
                        1 => BucketEncryption::SseKms,
                        2 => BucketEncryption::DsseKms,
                        _ => BucketEncryption::None,
                    }),
                    public_access_block: (!i.is_multiple_of(30)).then_some(if i.is_multiple_of(2) {
                        PublicAccessBlock::ALL
                    } else {
                        PublicAccessBlock::default()
                    }),
                    policy_is_public: Some(i.is_multiple_of(13)),
                    policy_denies_insecure_transport: Some(i.is_multiple_of(3)),
                    versioning: Some(if i.is_multiple_of(2) {
                        VersioningStatus::Enabled
                    } else {
                        VersioningStatus::Suspended
                    }),
                    object_lock_enabled: Some(i.is_multiple_of(5)),
                })
                .collect(),
        }),
        kinds::AWS_CONFIG_RECORDERS => Evidence::AwsConfigRecorders(ConfigRecorders {
            regions: (0..n)
                .map(|i| RegionalConfigRecorders {
                    region: format!("region-{i}"),
                    opt_in_status: opt_in(i),
                    recorders: (!i.is_multiple_of(25)).then(|| {
                        vec![ConfigRecorder {
                            name: "default".to_owned(),
                            recording: !i.is_multiple_of(7),
                            all_supported: true,
                            include_global_resource_types: i == 2,
                        }]
                    }),
                })
                .collect(),
        }),
        kinds::AWS_CONFIG_RULE_COMPLIANCE => Evidence::AwsConfigRuleCompliance(ConfigRuleCompliance {
            rules: (0..n)
                .map(|i| ConfigRuleResult {
                    rule_name: format!("rule-{i}"),
                    region: "us-east-1".to_owned(),
                    compliance_type: match i % 4 {
                        0 => ComplianceType::Compliant,
                        1 => ComplianceType::NonCompliant,
                        2 => ComplianceType::NotApplicable,
                        _ => ComplianceType::InsufficientData,
                    },
                    non_compliant_resource_count: (i % 4 == 1).then_some(3),
                })
                .collect(),
        }),
        kinds::AWS_KMS_KEYS => Evidence::AwsKmsKeys(KmsKeys {
            keys: (0..n)
                .map(|i| KmsKey {
                    key_id: format!("key-{i}"),
                    arn: format!("arn:aws:kms:us-east-1:111122223333:key/key-{i}"),
                    region: "us-east-1".to_owned(),
                    manager: if i.is_multiple_of(5) { KeyManager::Aws } else { KeyManager::Customer },
                    key_spec: if i.is_multiple_of(7) { KeySpec::Asymmetric } else { KeySpec::Symmetric },
                    key_state: if i.is_multiple_of(11) { KeyState::Disabled } else { KeyState::Enabled },
                    rotation_enabled: Some(i.is_multiple_of(2)),
                })
                .collect(),
        }),
        kinds::AWS_GUARDDUTY_DETECTORS => Evidence::AwsGuardDuty(GuardDutyDetectors {
            regions: (0..n)
                .map(|i| RegionalDetectors {
                    region: format!("region-{i}"),
                    opt_in_status: opt_in(i),
                    detectors: Some(vec![Detector {
                        detector_id: format!("d{i}"),
                        status: if i.is_multiple_of(3) { DetectorStatus::Disabled } else { DetectorStatus::Enabled },
                    }]),
                })
                .collect(),
        }),
        kinds::AWS_EC2_EBS_DEFAULT_ENCRYPTION => Evidence::AwsEbsDefaultEncryption(EbsDefaultEncryption {
            regions: (0..n)
                .map(|i| RegionalEbsDefault {
                    region: format!("region-{i}"),
                    opt_in_status: opt_in(i),
                    enabled: (!i.is_multiple_of(20)).then_some(i.is_multiple_of(2)),
                })
                .collect(),
        }),
        kinds::GITHUB_ORG_SETTINGS => return None,
        kinds::GITHUB_ORG_MEMBERS => Evidence::GithubOrgMembers(OrgMembers {
            members: (0..n)
                .map(|i| OrgMember {
                    login: format!("member{i}"),
                    role: if i.is_multiple_of(50) { OrgRole::Admin } else { OrgRole::Member },
                    two_factor_enabled: (!i.is_multiple_of(20)).then_some(!i.is_multiple_of(9)),
                })
                .collect(),
        }),
        kinds::GITHUB_ORG_OUTSIDE_COLLABORATORS => Evidence::GithubOutsideCollaborators(OutsideCollaborators {
            collaborators: (0..n)
                .map(|i| OutsideCollaborator {
                    login: format!("guest{i}"),
                    repositories: vec![RepoGrant {
                        repo: format!("acme/repo{}", i % 100),
                        permission: if i.is_multiple_of(10) { RepoPermission::Admin } else { RepoPermission::Write },
                    }],
                })
                .collect(),
        }),
        kinds::GITHUB_REPO_SETTINGS => Evidence::GithubRepoSettings(Repositories {
            repos: (0..n)
                .map(|i| Repository {
                    name: format!("acme/repo{i}"),
                    visibility: if i.is_multiple_of(8) { Visibility::Public } else { Visibility::Private },
                    archived: i.is_multiple_of(15),
                    fork: false,
                    default_branch: Some("main".to_owned()),
                    dependabot_alerts_enabled: Some(!i.is_multiple_of(3)),
                    secret_scanning: Some(!i.is_multiple_of(4)),
                    secret_scanning_push_protection: Some(!i.is_multiple_of(5)),
                    code_scanning: Some(if i.is_multiple_of(2) {
                        CodeScanningSetup::DefaultSetup
                    } else {
                        CodeScanningSetup::NotConfigured
                    }),
                    public_justification: (i.is_multiple_of(16)).then(|| "open source".to_owned()),
                })
                .collect(),
        }),
        kinds::GITHUB_REPO_BRANCH_PROTECTION => Evidence::GithubBranchProtection(BranchProtections {
            repos: (0..n)
                .map(|i| RepoBranchProtection {
                    repo: format!("acme/repo{i}"),
                    archived: i.is_multiple_of(15),
                    default_branch: Some("main".to_owned()),
                    protection: match i % 5 {
                        0 => Protection::Unprotected,
                        1 => Protection::NotVisible,
                        _ => Protection::Rules(BranchRules {
                            required_approving_review_count: Some(u32::try_from(i % 3).unwrap_or(0)),
                            dismiss_stale_reviews: i.is_multiple_of(2),
                            require_code_owner_reviews: false,
                            required_status_checks: if i.is_multiple_of(4) {
                                Vec::new()
                            } else {
                                vec!["ci".to_owned()]
                            },
                            enforce_admins: i.is_multiple_of(3),
                            allow_force_pushes: i.is_multiple_of(7),
                            allow_deletions: i.is_multiple_of(9),
                            require_signed_commits: false,
                        }),
                    },
                })
                .collect(),
        }),
        kinds::GITHUB_REPO_ALERTS => {
            let summary = |i: usize| AlertSummary {
                open: SeverityCounts {
                    critical: u32::from(i.is_multiple_of(3)),
                    high: u32::from(i.is_multiple_of(4)),
                    medium: 2,
                    low: 5,
                },
                oldest_open_critical: (i.is_multiple_of(2)).then(|| ago(i % 40)),
                oldest_open_high: (i.is_multiple_of(2)).then(|| ago(i % 60)),
            };
            Evidence::GithubRepoAlerts(RepoAlerts {
                repos: (0..n)
                    .map(|i| RepoAlertSummary {
                        repo: format!("acme/repo{i}"),
                        archived: i.is_multiple_of(15),
                        dependabot: Some(summary(i)),
                        code_scanning: (!i.is_multiple_of(10)).then(|| summary(i + 1)),
                        secret_scanning_open: Some(u32::from(i.is_multiple_of(17))),
                    })
                    .collect(),
            })
        }
        kinds::OKTA_USERS => Evidence::OktaUsers(Users {
            users: (0..n)
                .map(|i| User {
                    id: format!("00u{i}"),
                    login: format!("user{i}@acme.example"),
                    status: if i.is_multiple_of(12) { UserStatus::Suspended } else { UserStatus::Active },
                    created: ago(500),
                    activated: Some(ago(499)),
                    last_login: (!i.is_multiple_of(6)).then(|| ago(i % 150)),
                    factors: Some(vec![Factor {
                        factor_type: if i.is_multiple_of(4) { "webauthn" } else { "push" }.to_owned(),
                        provider: Some("OKTA".to_owned()),
                        status: if i.is_multiple_of(9) {
                            FactorStatus::PendingActivation
                        } else {
                            FactorStatus::Active
                        },
                    }]),
                    admin_roles: Some(if i.is_multiple_of(20) { vec!["ORG_ADMIN".to_owned()] } else { Vec::new() }),
                })
                .collect(),
        }),
        kinds::OKTA_POLICY_PASSWORD => Evidence::OktaPasswordPolicies(PasswordPolicies {
            policies: (0..n)
                .map(|i| OktaPassword {
                    id: format!("pol{i}"),
                    name: format!("Policy {i}"),
                    active: !i.is_multiple_of(10),
                    priority: 1,
                    min_length: u32::try_from(8 + i % 8).unwrap_or(8),
                    lockout_max_attempts: (!i.is_multiple_of(3)).then_some(u32::try_from(i % 15).unwrap_or(5)),
                    history_count: u32::try_from(i % 6).unwrap_or(0),
                    max_age_days: Some(90),
                })
                .collect(),
        }),
        kinds::OKTA_POLICY_SIGN_ON => Evidence::OktaSignOnPolicies(SignOnPolicies {
            rules: (0..n)
                .map(|i| SessionRule {
                    policy_id: "pol".to_owned(),
                    policy_name: "Default".to_owned(),
                    rule_id: format!("rule{i}"),
                    rule_name: format!("Rule {i}"),
                    active: !i.is_multiple_of(10),
                    access: if i.is_multiple_of(25) { RuleAccess::Deny } else { RuleAccess::Allow },
                    require_mfa: !i.is_multiple_of(3),
                    max_session_lifetime_minutes: (!i.is_multiple_of(7))
                        .then_some(u32::try_from(i % 1440).unwrap_or(0)),
                    max_session_idle_minutes: Some(u32::try_from(i % 120).unwrap_or(0)),
                })
                .collect(),
        }),
        kinds::OKTA_POLICY_MFA_ENROLLMENT => Evidence::OktaMfaEnrollmentPolicies(MfaEnrollmentPolicies {
            policies: (0..n)
                .map(|i| MfaEnrollmentPolicy {
                    id: format!("enr{i}"),
                    name: format!("Enrollment {i}"),
                    active: !i.is_multiple_of(10),
                    required_factors: if i.is_multiple_of(3) { Vec::new() } else { vec!["okta_verify".to_owned()] },
                    optional_factors: vec!["sms".to_owned()],
                })
                .collect(),
        }),
        kinds::OKTA_SYSTEM_LOG_SUMMARY => return None,
        other => panic!("no generator for evidence kind {other}"),
    };
    Some(evidence)
}

/// One of the kinds that describe a single resource, varied by `i`.
fn single(kind: &str, i: usize) -> Evidence {
    match kind {
        kinds::AWS_IAM_PASSWORD_POLICY => Evidence::AwsPasswordPolicy(AccountPasswordPolicy {
            policy: (!i.is_multiple_of(5)).then(|| PasswordPolicy {
                minimum_password_length: u32::try_from(8 + i % 10).unwrap_or(8),
                require_symbols: i.is_multiple_of(2),
                require_numbers: true,
                require_uppercase_characters: true,
                require_lowercase_characters: i.is_multiple_of(3),
                allow_users_to_change_password: true,
                max_password_age: (!i.is_multiple_of(4)).then_some(90),
                password_reuse_prevention: Some(u32::try_from(i % 30).unwrap_or(0)),
                hard_expiry: false,
            }),
        }),
        kinds::GITHUB_ORG_SETTINGS => Evidence::GithubOrgSettings(OrgSettings {
            login: "acme".to_owned(),
            two_factor_requirement_enabled: (!i.is_multiple_of(10)).then_some(i.is_multiple_of(2)),
            default_repository_permission: Some(if i.is_multiple_of(3) {
                BasePermission::Write
            } else {
                BasePermission::Read
            }),
            members_can_create_public_repositories: Some(i.is_multiple_of(4)),
            web_commit_signoff_required: Some(false),
        }),
        kinds::OKTA_SYSTEM_LOG_SUMMARY => Evidence::OktaSystemLogSummary(SystemLogSummary {
            window_start: ago(7),
            window_end: now(),
            admin_role_grants: 2,
            suspicious_events: (!i.is_multiple_of(10)).then_some(u64::try_from(i % 3).unwrap_or(0)),
            failed_mfa: 12,
        }),
        other => panic!("{other} is not a single-resource kind"),
    }
}

fn context(kind: &str) -> EvidenceContext {
    let scope = match kind.split('.').next() {
        Some("aws") => Scope::Aws { account_id: "111122223333".to_owned(), region: None },
        Some("github") => Scope::Github { org: "acme".to_owned() },
        _ => Scope::Okta { org: "acme.okta.com".to_owned() },
    };
    EvidenceContext::new(now(), scope)
}

fn rate(resources: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { resources as f64 / secs } else { f64::INFINITY }
}

fn main() {
    let n = std::env::var("KUSHIM_BENCH_RESOURCES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RESOURCES);
    let now = now();
    println!("evaluating {} checks over {n} synthetic resources each (one thread)", registry().len());
    println!("{:<48} {:>10} {:>10} {:>14}", "check", "results", "ms", "resources/s");

    let mut total_resources = 0usize;
    let mut total_time = Duration::ZERO;
    for kind in kinds::ALL.iter().filter(|k| registry().iter().any(|c| c.def().evidence_kind == **k)) {
        let ctx = context(kind);
        let bulk = synthetic(kind, n);
        let singles: Vec<Evidence> =
            if bulk.is_none() { (0..n).map(|i| single(kind, i)).collect() } else { Vec::new() };
        for check in registry().iter().filter(|c| c.def().evidence_kind == *kind) {
            let start = Instant::now();
            let results = match &bulk {
                Some(evidence) => check.evaluate(black_box(evidence), &ctx, now).map(|r| r.len()).unwrap_or(0),
                None => singles
                    .iter()
                    .map(|evidence| check.evaluate(black_box(evidence), &ctx, now).map(|r| r.len()).unwrap_or(0))
                    .sum(),
            };
            let elapsed = start.elapsed();
            black_box(results);
            total_resources += n;
            total_time += elapsed;
            println!(
                "{:<48} {:>10} {:>10.1} {:>14.0}",
                check.id(),
                results,
                elapsed.as_secs_f64() * 1000.0,
                rate(n, elapsed)
            );
        }
    }
    println!(
        "total: {total_resources} resource evaluations in {:.3} s = {:.0} resources/s",
        total_time.as_secs_f64(),
        rate(total_resources, total_time)
    );
}
