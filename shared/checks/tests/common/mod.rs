//! Hand-made evidence shared by the integration tests: a fixed clock, contexts for each connector,
//! builders whose defaults are compliant, and one compliant sample of every evidence kind.

#![allow(dead_code)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use kushim_checks::evidence::aws::{
    AccountPasswordPolicy, Bucket, BucketEncryption, ComplianceType, ConfigRecorder, ConfigRecorders,
    ConfigRuleCompliance, ConfigRuleResult, CredentialReport, CredentialReportRow, Detector, DetectorStatus,
    EbsDefaultEncryption, GuardDutyDetectors, KeyManager, KeySpec, KeyState, KmsKey, KmsKeys, OptInStatus,
    PasswordPolicy, PublicAccessBlock, Region, RegionalConfigRecorders, RegionalDetectors, RegionalEbsDefault, Regions,
    S3Buckets, Trail, TrailStatus, Trails, UserPolicies, UserPolicySet, VersioningStatus,
};
use kushim_checks::evidence::github::{
    AlertSummary, BasePermission, BranchProtections, BranchRules, CodeScanningSetup, OrgMember, OrgMembers, OrgRole,
    OrgSettings, OutsideCollaborator, OutsideCollaborators, Protection, RepoAlertSummary, RepoAlerts,
    RepoBranchProtection, RepoGrant, RepoPermission, Repositories, Repository, Visibility,
};
use kushim_checks::evidence::okta::{
    Factor, FactorStatus, MfaEnrollmentPolicies, MfaEnrollmentPolicy, PasswordPolicies, PasswordPolicy as OktaPassword,
    RuleAccess, SessionRule, SignOnPolicies, SystemLogSummary, User, UserStatus, Users,
};
use kushim_checks::{Evidence, EvidenceContext, PermissionError, Scope};

pub const ACCOUNT: &str = "111122223333";
pub const ORG: &str = "acme";
pub const OKTA_ORG: &str = "acme.okta.com";

/// The fixed "now" of every test.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

pub fn days_ago(days: i64) -> DateTime<Utc> {
    now() - TimeDelta::days(days)
}

pub fn aws_ctx() -> EvidenceContext {
    EvidenceContext::new(now(), Scope::Aws { account_id: ACCOUNT.to_owned(), region: None })
}

pub fn github_ctx() -> EvidenceContext {
    EvidenceContext::new(now(), Scope::Github { org: ORG.to_owned() })
}

pub fn okta_ctx() -> EvidenceContext {
    EvidenceContext::new(now(), Scope::Okta { org: OKTA_ORG.to_owned() })
}

/// The context matching an evidence kind's connector.
pub fn ctx_for(evidence: &Evidence) -> EvidenceContext {
    match evidence.kind().split('.').next() {
        Some("aws") => aws_ctx(),
        Some("github") => github_ctx(),
        _ => okta_ctx(),
    }
}

/// `ctx` with `action` refused for the whole scope.
pub fn deny(ctx: EvidenceContext, action: &str) -> EvidenceContext {
    ctx.with_permission_error(action, "AccessDenied")
}

/// `ctx` with `action` refused for one resource.
pub fn deny_on(mut ctx: EvidenceContext, action: &str, resource: &str) -> EvidenceContext {
    ctx.permission_errors.push(PermissionError {
        action: action.to_owned(),
        message: "AccessDenied".to_owned(),
        resource: Some(resource.to_owned()),
    });
    ctx
}

// ----------------------------------------------------------------------------------------------
// AWS

pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}

pub fn root_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT}:root")
}

/// A compliant IAM user: console password with MFA, one fresh, recently used key.
pub fn iam_user(name: &str) -> CredentialReportRow {
    CredentialReportRow {
        user: name.to_owned(),
        arn: user_arn(name),
        user_creation_time: days_ago(400),
        password_enabled: Some(true),
        password_last_used: Some(days_ago(1)),
        password_last_changed: Some(days_ago(30)),
        mfa_active: true,
        access_key_1_active: true,
        access_key_1_last_rotated: Some(days_ago(10)),
        access_key_1_last_used_date: Some(days_ago(1)),
        access_key_2_active: false,
        access_key_2_last_rotated: None,
        access_key_2_last_used_date: None,
    }
}

/// A compliant root row: MFA, no keys, last used long ago.
pub fn root_row() -> CredentialReportRow {
    CredentialReportRow {
        user: "<root_account>".to_owned(),
        arn: root_arn(),
        user_creation_time: days_ago(1000),
        password_enabled: None,
        password_last_used: Some(days_ago(200)),
        password_last_changed: None,
        mfa_active: true,
        access_key_1_active: false,
        access_key_1_last_rotated: None,
        access_key_1_last_used_date: None,
        access_key_2_active: false,
        access_key_2_last_rotated: None,
        access_key_2_last_used_date: None,
    }
}

pub fn report(rows: Vec<CredentialReportRow>) -> Evidence {
    Evidence::AwsCredentialReport(CredentialReport { generated_at: now(), rows })
}

pub fn policy_set(name: &str) -> UserPolicySet {
    UserPolicySet {
        user_name: name.to_owned(),
        arn: user_arn(name),
        attached_policies: Some(Vec::new()),
        inline_policies: Some(Vec::new()),
    }
}

pub fn user_policies(users: Vec<UserPolicySet>) -> Evidence {
    Evidence::AwsUserPolicies(UserPolicies { users })
}

pub fn strong_password_policy() -> PasswordPolicy {
    PasswordPolicy {
        minimum_password_length: 16,
        require_symbols: true,
        require_numbers: true,
        require_uppercase_characters: true,
        require_lowercase_characters: true,
        allow_users_to_change_password: true,
        max_password_age: Some(90),
        password_reuse_prevention: Some(24),
        hard_expiry: false,
    }
}

pub fn password_policy(policy: Option<PasswordPolicy>) -> Evidence {
    Evidence::AwsPasswordPolicy(AccountPasswordPolicy { policy })
}

pub fn trail_arn(name: &str) -> String {
    format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/{name}")
}

/// A compliant trail: multi-region, logging, validated, KMS-encrypted, delivering to CloudWatch.
pub fn trail(name: &str) -> Trail {
    Trail {
        name: name.to_owned(),
        arn: trail_arn(name),
        home_region: "us-east-1".to_owned(),
        is_multi_region: true,
        is_organization_trail: false,
        log_file_validation_enabled: true,
        kms_key_id: Some(format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/trail")),
        cloud_watch_logs_log_group_arn: Some(format!("arn:aws:logs:us-east-1:{ACCOUNT}:log-group:trail")),
        status: Some(TrailStatus {
            is_logging: true,
            latest_delivery_time: Some(days_ago(0)),
            latest_cloud_watch_logs_delivery_time: Some(days_ago(0)),
        }),
    }
}

pub fn trails(trails: Vec<Trail>) -> Evidence {
    Evidence::AwsCloudTrail(Trails { trails })
}

/// A compliant bucket.
pub fn bucket(name: &str) -> Bucket {
    Bucket {
        name: name.to_owned(),
        region: "us-east-1".to_owned(),
        encryption: Some(BucketEncryption::SseKms),
        public_access_block: Some(PublicAccessBlock::ALL),
        policy_is_public: Some(false),
        policy_denies_insecure_transport: Some(true),
        versioning: Some(VersioningStatus::Enabled),
        object_lock_enabled: Some(true),
    }
}

pub fn buckets(account: Option<PublicAccessBlock>, buckets: Vec<Bucket>) -> Evidence {
    Evidence::AwsS3Buckets(S3Buckets { account_public_access_block: account, buckets })
}

pub fn recorder(recording: bool, all_supported: bool, global: bool) -> ConfigRecorder {
    ConfigRecorder { name: "default".to_owned(), recording, all_supported, include_global_resource_types: global }
}

pub fn config_region(
    region: &str,
    opt_in: OptInStatus,
    recorders: Option<Vec<ConfigRecorder>>,
) -> RegionalConfigRecorders {
    RegionalConfigRecorders { region: region.to_owned(), opt_in_status: opt_in, recorders }
}

pub fn config_recorders(regions: Vec<RegionalConfigRecorders>) -> Evidence {
    Evidence::AwsConfigRecorders(ConfigRecorders { regions })
}

pub fn config_rule(name: &str, compliance: ComplianceType, count: Option<u32>) -> ConfigRuleResult {
    ConfigRuleResult {
        rule_name: name.to_owned(),
        region: "us-east-1".to_owned(),
        compliance_type: compliance,
        non_compliant_resource_count: count,
    }
}

pub fn config_rules(rules: Vec<ConfigRuleResult>) -> Evidence {
    Evidence::AwsConfigRuleCompliance(ConfigRuleCompliance { rules })
}

pub fn key_arn(id: &str) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{id}")
}

/// A compliant key: enabled, symmetric, customer-managed, rotating.
pub fn kms_key(id: &str) -> KmsKey {
    KmsKey {
        key_id: id.to_owned(),
        arn: key_arn(id),
        region: "us-east-1".to_owned(),
        manager: KeyManager::Customer,
        key_spec: KeySpec::Symmetric,
        key_state: KeyState::Enabled,
        rotation_enabled: Some(true),
    }
}

pub fn kms_keys(keys: Vec<KmsKey>) -> Evidence {
    Evidence::AwsKmsKeys(KmsKeys { keys })
}

pub fn detector(status: DetectorStatus) -> Detector {
    Detector { detector_id: "d-1".to_owned(), status }
}

pub fn guardduty_region(region: &str, opt_in: OptInStatus, detectors: Option<Vec<Detector>>) -> RegionalDetectors {
    RegionalDetectors { region: region.to_owned(), opt_in_status: opt_in, detectors }
}

pub fn guardduty(regions: Vec<RegionalDetectors>) -> Evidence {
    Evidence::AwsGuardDuty(GuardDutyDetectors { regions })
}

pub fn ebs_region(region: &str, opt_in: OptInStatus, enabled: Option<bool>) -> RegionalEbsDefault {
    RegionalEbsDefault { region: region.to_owned(), opt_in_status: opt_in, enabled }
}

pub fn ebs(regions: Vec<RegionalEbsDefault>) -> Evidence {
    Evidence::AwsEbsDefaultEncryption(EbsDefaultEncryption { regions })
}

// ----------------------------------------------------------------------------------------------
// GitHub

/// Compliant organization settings.
pub fn org_settings() -> OrgSettings {
    OrgSettings {
        login: ORG.to_owned(),
        two_factor_requirement_enabled: Some(true),
        default_repository_permission: Some(BasePermission::Read),
        members_can_create_public_repositories: Some(false),
        web_commit_signoff_required: Some(true),
    }
}

pub fn member(login: &str, two_factor: Option<bool>) -> OrgMember {
    OrgMember { login: login.to_owned(), role: OrgRole::Member, two_factor_enabled: two_factor }
}

pub fn members(members: Vec<OrgMember>) -> Evidence {
    Evidence::GithubOrgMembers(OrgMembers { members })
}

pub fn collaborator(login: &str, grants: &[(&str, RepoPermission)]) -> OutsideCollaborator {
    OutsideCollaborator {
        login: login.to_owned(),
        repositories: grants.iter().map(|(repo, p)| RepoGrant { repo: (*repo).to_owned(), permission: *p }).collect(),
    }
}

pub fn collaborators(collaborators: Vec<OutsideCollaborator>) -> Evidence {
    Evidence::GithubOutsideCollaborators(OutsideCollaborators { collaborators })
}

/// Compliant branch rules.
pub fn rules() -> BranchRules {
    BranchRules {
        required_approving_review_count: Some(2),
        dismiss_stale_reviews: true,
        require_code_owner_reviews: true,
        required_status_checks: vec!["ci".to_owned()],
        enforce_admins: true,
        allow_force_pushes: false,
        allow_deletions: false,
        require_signed_commits: false,
    }
}

pub fn branch(repo: &str, protection: Protection) -> RepoBranchProtection {
    RepoBranchProtection { repo: repo.to_owned(), archived: false, default_branch: Some("main".to_owned()), protection }
}

pub fn branches(repos: Vec<RepoBranchProtection>) -> Evidence {
    Evidence::GithubBranchProtection(BranchProtections { repos })
}

/// A compliant private repository.
pub fn repo(name: &str) -> Repository {
    Repository {
        name: name.to_owned(),
        visibility: Visibility::Private,
        archived: false,
        fork: false,
        default_branch: Some("main".to_owned()),
        dependabot_alerts_enabled: Some(true),
        secret_scanning: Some(true),
        secret_scanning_push_protection: Some(true),
        code_scanning: Some(CodeScanningSetup::DefaultSetup),
        public_justification: None,
    }
}

pub fn repos(repos: Vec<Repository>) -> Evidence {
    Evidence::GithubRepoSettings(Repositories { repos })
}

/// A repository with no open alerts.
pub fn alert_repo(name: &str) -> RepoAlertSummary {
    RepoAlertSummary {
        repo: name.to_owned(),
        archived: false,
        dependabot: Some(AlertSummary::default()),
        code_scanning: Some(AlertSummary::default()),
        secret_scanning_open: Some(0),
    }
}

pub fn alerts(repos: Vec<RepoAlertSummary>) -> Evidence {
    Evidence::GithubRepoAlerts(RepoAlerts { repos })
}

// ----------------------------------------------------------------------------------------------
// Okta

pub fn factor(factor_type: &str, status: FactorStatus) -> Factor {
    Factor { factor_type: factor_type.to_owned(), provider: Some("OKTA".to_owned()), status }
}

/// A compliant, active, non-admin user who signed in yesterday with Okta Verify push enrolled.
pub fn okta_user(id: &str) -> User {
    User {
        id: id.to_owned(),
        login: format!("{id}@acme.example"),
        status: UserStatus::Active,
        created: days_ago(400),
        activated: Some(days_ago(399)),
        last_login: Some(days_ago(1)),
        factors: Some(vec![factor("push", FactorStatus::Active)]),
        admin_roles: Some(Vec::new()),
    }
}

pub fn okta_users(users: Vec<User>) -> Evidence {
    Evidence::OktaUsers(Users { users })
}

/// A compliant, active password policy.
pub fn okta_password(id: &str) -> OktaPassword {
    OktaPassword {
        id: id.to_owned(),
        name: format!("Policy {id}"),
        active: true,
        priority: 1,
        min_length: 14,
        lockout_max_attempts: Some(5),
        history_count: 5,
        max_age_days: Some(90),
    }
}

pub fn okta_passwords(policies: Vec<OktaPassword>) -> Evidence {
    Evidence::OktaPasswordPolicies(PasswordPolicies { policies })
}

/// A compliant, active allow rule.
pub fn session_rule(rule_id: &str) -> SessionRule {
    SessionRule {
        policy_id: "pol".to_owned(),
        policy_name: "Default".to_owned(),
        rule_id: rule_id.to_owned(),
        rule_name: format!("Rule {rule_id}"),
        active: true,
        access: RuleAccess::Allow,
        require_mfa: true,
        max_session_lifetime_minutes: Some(480),
        max_session_idle_minutes: Some(30),
    }
}

pub fn session_rules(rules: Vec<SessionRule>) -> Evidence {
    Evidence::OktaSignOnPolicies(SignOnPolicies { rules })
}

pub fn enrollment(id: &str, required: &[&str]) -> MfaEnrollmentPolicy {
    MfaEnrollmentPolicy {
        id: id.to_owned(),
        name: format!("Enrollment {id}"),
        active: true,
        required_factors: required.iter().map(|s| (*s).to_owned()).collect(),
        optional_factors: vec!["sms".to_owned()],
    }
}

pub fn enrollments(policies: Vec<MfaEnrollmentPolicy>) -> Evidence {
    Evidence::OktaMfaEnrollmentPolicies(MfaEnrollmentPolicies { policies })
}

pub fn log_summary(suspicious: Option<u64>) -> Evidence {
    Evidence::OktaSystemLogSummary(SystemLogSummary {
        window_start: days_ago(7),
        window_end: now(),
        admin_role_grants: 1,
        suspicious_events: suspicious,
        failed_mfa: 4,
    })
}

// ----------------------------------------------------------------------------------------------
// One compliant sample of every kind

pub fn samples() -> Vec<Evidence> {
    vec![
        Evidence::AwsRegions(Regions {
            regions: vec![
                Region { name: "us-east-1".to_owned(), opt_in_status: OptInStatus::OptInNotRequired },
                Region { name: "ap-east-1".to_owned(), opt_in_status: OptInStatus::NotOptedIn },
            ],
        }),
        report(vec![root_row(), iam_user("alice")]),
        user_policies(vec![policy_set("alice")]),
        password_policy(Some(strong_password_policy())),
        trails(vec![trail("main")]),
        buckets(Some(PublicAccessBlock::ALL), vec![bucket("data")]),
        config_recorders(vec![config_region(
            "us-east-1",
            OptInStatus::OptInNotRequired,
            Some(vec![recorder(true, true, true)]),
        )]),
        config_rules(vec![config_rule("s3-encryption", ComplianceType::Compliant, None)]),
        kms_keys(vec![kms_key("k1")]),
        guardduty(vec![guardduty_region(
            "us-east-1",
            OptInStatus::OptInNotRequired,
            Some(vec![detector(DetectorStatus::Enabled)]),
        )]),
        ebs(vec![ebs_region("us-east-1", OptInStatus::OptInNotRequired, Some(true))]),
        Evidence::GithubOrgSettings(org_settings()),
        members(vec![member("octocat", Some(true))]),
        collaborators(vec![collaborator("contractor", &[("acme/web", RepoPermission::Write)])]),
        repos(vec![repo("acme/api")]),
        branches(vec![branch("acme/api", Protection::Rules(rules()))]),
        alerts(vec![alert_repo("acme/api")]),
        okta_users(vec![User {
            admin_roles: Some(vec!["SUPER_ADMIN".to_owned()]),
            factors: Some(vec![factor("push", FactorStatus::Active), factor("webauthn", FactorStatus::Active)]),
            ..okta_user("u1")
        }]),
        okta_passwords(vec![okta_password("p1")]),
        session_rules(vec![session_rule("r1")]),
        enrollments(vec![enrollment("e1", &["okta_verify"])]),
        log_summary(Some(0)),
    ]
}

/// The compliant sample of one kind.
pub fn sample(kind: &str) -> Evidence {
    samples().into_iter().find(|e| e.kind() == kind).unwrap_or_else(|| panic!("no sample of kind {kind}"))
}
