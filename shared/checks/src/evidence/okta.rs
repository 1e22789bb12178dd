//! Okta evidence: users with their factors and admin roles; password, global session (sign-on)
//! and MFA enrollment policies; and a summary of the system log over a window.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

impl UserStatus {
    /// Statuses of an account that a person can sign in with (possibly after a reset or unlock).
    pub fn can_sign_in(self) -> bool {
        matches!(self, UserStatus::Active | UserStatus::Recovery | UserStatus::PasswordExpired | UserStatus::LockedOut)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactorStatus {
    Active,
    PendingActivation,
    NotSetup,
    Enrolled,
    Disabled,
    Inactive,
    Expired,
}

/// An enrolled factor. `factor_type` is Okta's string: `webauthn`, `u2f`, `signed_nonce` (Okta
/// FastPass), `push`, `token:software:totp`, `token:hardware`, `sms`, `call`, `email`, `question`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Factor {
    pub factor_type: String,
    pub provider: Option<String>,
    pub status: FactorStatus,
}

impl Factor {
    /// Factors bound to the origin they sign in to, which a phishing site cannot relay: FIDO2 /
    /// WebAuthn, U2F and Okta FastPass.
    pub fn is_phishing_resistant(&self) -> bool {
        matches!(self.factor_type.as_str(), "webauthn" | "u2f" | "signed_nonce")
    }

    /// A security question is something the user knows, like the password: not a second factor.
    pub fn is_second_factor(&self) -> bool {
        self.factor_type != "question"
    }
}

/// Kind `okta.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    pub users: Vec<User>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Okta's user id; the resource id of user results.
    pub id: String,
    pub login: String,
    pub status: UserStatus,
    pub created: DateTime<Utc>,
    pub activated: Option<DateTime<Utc>>,
    /// `None` when the user has never signed in.
    pub last_login: Option<DateTime<Utc>>,
    /// Enrolled factors; `None` if they could not be listed.
    pub factors: Option<Vec<Factor>>,
    /// Admin role types assigned to the user directly or through groups (`SUPER_ADMIN`,
    /// `ORG_ADMIN`...); empty for a non-admin, `None` if they could not be listed.
    pub admin_roles: Option<Vec<String>>,
}

/// Kind `okta.policy.password`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicies {
    pub policies: Vec<PasswordPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    pub id: String,
    pub name: String,
    pub active: bool,
    pub priority: u32,
    pub min_length: u32,
    /// Failed attempts before lockout; `None` when lockout is off.
    pub lockout_max_attempts: Option<u32>,
    /// Previous passwords that cannot be reused (0 = none remembered).
    pub history_count: u32,
    /// Days before a password expires; `None` when passwords never expire.
    pub max_age_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAccess {
    Allow,
    Deny,
}

/// Kind `okta.policy.sign_on`: the rules of the global session (sign-on) policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOnPolicies {
    pub rules: Vec<SessionRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRule {
    pub policy_id: String,
    pub policy_name: String,
    pub rule_id: String,
    pub rule_name: String,
    /// Both the policy and the rule are active.
    pub active: bool,
    pub access: RuleAccess,
    /// The rule asks for a second factor when it establishes a session.
    pub require_mfa: bool,
    /// Maximum session lifetime; `None` when sessions never expire.
    pub max_session_lifetime_minutes: Option<u32>,
    /// Idle time before the session ends; `None` when there is no idle limit.
    pub max_session_idle_minutes: Option<u32>,
}

/// Kind `okta.policy.mfa_enrollment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaEnrollmentPolicies {
    pub policies: Vec<MfaEnrollmentPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaEnrollmentPolicy {
    pub id: String,
    pub name: String,
    pub active: bool,
    /// Factors or authenticators users must enroll.
    pub required_factors: Vec<String>,
    /// Factors or authenticators users may enroll.
    pub optional_factors: Vec<String>,
}

/// Kind `okta.system_log.summary`: counts over one window of the system log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemLogSummary {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// `user.account.privilege.grant` events.
    pub admin_role_grants: u64,
    /// Events Okta flagged as suspicious (ThreatInsight, user-reported suspicious activity) that
    /// have not been marked as reviewed; `None` if that could not be determined.
    pub suspicious_events: Option<u64>,
    /// Failed MFA verifications.
    pub failed_mfa: u64,
}
