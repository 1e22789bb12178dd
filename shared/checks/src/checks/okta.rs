//! Okta checks: users (MFA, phishing-resistant admin factors, inactivity), password, session,
//! sign-on and MFA enrollment policies, and unreviewed suspicious events in the system log.
//!
//! Resource ids: users by Okta id, password and enrollment policies by id, session rules as
//! `<policy id>/<rule id>`, and org-wide results by the org's domain.

use super::{Env, Finding, bind, fail, join_words, not_applicable, not_visible, pass};
use crate::check::{Check, CheckDef, Connector, Remediation, Severity};
use crate::evidence::kinds;
use crate::evidence::okta::{
    MfaEnrollmentPolicies, PasswordPolicies, PasswordPolicy, RuleAccess, SessionRule, SignOnPolicies, SystemLogSummary,
    User, Users,
};

/// Days without sign-in after which an account should be deactivated.
pub(crate) const INACTIVE_DAYS: i64 = 90;
/// Longest acceptable session, in minutes (12 hours).
pub(crate) const MAX_SESSION_MINUTES: u32 = 12 * 60;
/// Longest acceptable idle time, in minutes (1 hour).
pub(crate) const MAX_IDLE_MINUTES: u32 = 60;

const POLICIES: &[&str] = &["okta.policies.read"];

pub(crate) const CHECKS: &[Check] = &[
    Check {
        def: CheckDef {
            id: "okta.user.mfa_enrolled",
            title: "Active Okta users have an MFA factor",
            description: "Every user who can sign in has at least one active factor besides the password (security questions do not count). Suspended, deprovisioned and not-yet-activated users are not applicable.",
            rationale: "Okta is the front door to every connected application. A user with only a password puts all of them one phishing email away.",
            severity: Severity::High,
            connector: Connector::Okta,
            resource_type: "okta.user",
            evidence_kind: kinds::OKTA_USERS,
            permissions: &["okta.users.read"],
            remediation: Remediation {
                steps: &[
                    "Require at least one strong authenticator in the authenticator enrollment policy.",
                    "Ask the user to enroll Okta Verify or a security key at their next sign-in.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-01", "KC-IAM-08"],
        },
        eval: bind!(OktaUsers, mfa_enrolled),
    },
    Check {
        def: CheckDef {
            id: "okta.user.admin_phishing_resistant",
            title: "Okta administrators use a phishing-resistant factor",
            description: "Every active user holding an Okta admin role has an active phishing-resistant factor: FIDO2/WebAuthn, U2F or Okta FastPass. Non-admins are not applicable.",
            rationale: "Push, SMS and one-time codes can be relayed by a phishing proxy. Admin accounts are the prime target of such attacks and need factors bound to the real sign-in origin.",
            severity: Severity::High,
            connector: Connector::Okta,
            resource_type: "okta.user",
            evidence_kind: kinds::OKTA_USERS,
            permissions: &["okta.users.read", "okta.roles.read"],
            remediation: Remediation {
                steps: &[
                    "Enable the FIDO2 (WebAuthn) authenticator or Okta FastPass.",
                    "Ask each administrator to enroll it.",
                    "Add a phishing-resistant constraint to the authentication policy of the Okta Admin Console.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-01", "KC-IAM-02"],
        },
        eval: bind!(OktaUsers, admin_phishing_resistant),
    },
    Check {
        def: CheckDef {
            id: "okta.user.inactive_deprovisioned",
            title: "Okta users inactive for 90 days are deactivated",
            description: "No user who can sign in has gone more than 90 days without signing in (counted from activation or creation when never used). Suspended and deprovisioned users are not applicable.",
            rationale: "Dormant accounts usually belong to people who left or changed roles. They keep their access to every app until someone notices.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.user",
            evidence_kind: kinds::OKTA_USERS,
            permissions: &["okta.users.read"],
            remediation: Remediation {
                steps: &[
                    "Confirm with the user's manager whether the account is still needed.",
                    "Deactivate it (or suspend it when the person is on leave).",
                    "Automate it: Okta Workflows or an HR-driven lifecycle can deactivate dormant accounts.",
                ],
                cli: Some(
                    "curl -X POST -H \"Authorization: SSWS $OKTA_TOKEN\" https://<org>/api/v1/users/<id>/lifecycle/deactivate",
                ),
                iac: None,
            },
            controls: &["KC-IAM-06", "KC-HR-04"],
        },
        eval: bind!(OktaUsers, inactive_deprovisioned),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.password_min_length",
            title: "Okta passwords must be at least 12 characters",
            description: "Every active password policy requires 12 or more characters. Inactive policies are not applicable.",
            rationale: "Short passwords fall quickly to guessing and credential stuffing; length is the most effective requirement.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.password_policy",
            evidence_kind: kinds::OKTA_POLICY_PASSWORD,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &[
                    "In Security → Authenticators → Password, set the minimum length of each policy to 12 or more.",
                ],
                cli: None,
                iac: Some("resource \"okta_policy_password\" \"this\" {\n  password_min_length = 12\n}"),
            },
            controls: &["KC-IAM-03"],
        },
        eval: bind!(OktaPasswordPolicies, password_min_length),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.password_lockout",
            title: "Okta locks accounts after at most 10 failed attempts",
            description: "Every active password policy locks the account after 10 or fewer failed sign-ins. Lockout turned off fails.",
            rationale: "Lockout turns an online guessing attack from unlimited tries into a handful.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.password_policy",
            evidence_kind: kinds::OKTA_POLICY_PASSWORD,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &["In each password policy, enable lockout after 10 or fewer unsuccessful attempts."],
                cli: None,
                iac: Some("resource \"okta_policy_password\" \"this\" {\n  password_max_lockout_attempts = 10\n}"),
            },
            controls: &["KC-IAM-10", "KC-IAM-03"],
        },
        eval: bind!(OktaPasswordPolicies, password_lockout),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.password_history",
            title: "Okta remembers at least 4 previous passwords",
            description: "Every active password policy prevents reuse of the last 4 or more passwords.",
            rationale: "Without history, a user can reset and immediately set back a password that was exposed.",
            severity: Severity::Low,
            connector: Connector::Okta,
            resource_type: "okta.password_policy",
            evidence_kind: kinds::OKTA_POLICY_PASSWORD,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &["In each password policy, set password history to 4 or more."],
                cli: None,
                iac: Some("resource \"okta_policy_password\" \"this\" {\n  password_history_count = 4\n}"),
            },
            controls: &["KC-IAM-03"],
        },
        eval: bind!(OktaPasswordPolicies, password_history),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.session_lifetime",
            title: "Okta sessions last at most 12 hours",
            description: "Every active allow rule of the global session policy ends sessions after 12 hours or less. Unlimited sessions fail; deny rules are not applicable.",
            rationale: "A stolen session cookie is as good as a password and MFA together. Bounding session life bounds how long it works.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.session_rule",
            evidence_kind: kinds::OKTA_POLICY_SIGN_ON,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &[
                    "In Security → Global Session Policy, set each rule's maximum session lifetime to 12 hours or less.",
                ],
                cli: None,
                iac: Some("resource \"okta_policy_rule_signon\" \"this\" {\n  session_lifetime = 720\n}"),
            },
            controls: &["KC-IAM-10"],
        },
        eval: bind!(OktaSignOnPolicies, session_lifetime),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.session_idle_timeout",
            title: "Idle Okta sessions end within an hour",
            description: "Every active allow rule of the global session policy ends sessions idle for 60 minutes or less.",
            rationale: "An unattended, signed-in browser is an open door. A short idle timeout closes it.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.session_rule",
            evidence_kind: kinds::OKTA_POLICY_SIGN_ON,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &[
                    "In Security → Global Session Policy, set each rule's session idle time to 60 minutes or less.",
                ],
                cli: None,
                iac: Some("resource \"okta_policy_rule_signon\" \"this\" {\n  session_idle = 60\n}"),
            },
            controls: &["KC-IAM-10"],
        },
        eval: bind!(OktaSignOnPolicies, session_idle_timeout),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.sign_on_mfa",
            title: "Okta sign-on requires MFA",
            description: "Every active allow rule of the global session policy asks for a second factor when it establishes a session.",
            rationale: "Enrolled factors only protect users when sign-on actually asks for them. A rule that grants a session on a password alone undoes MFA enrollment.",
            severity: Severity::High,
            connector: Connector::Okta,
            resource_type: "okta.session_rule",
            evidence_kind: kinds::OKTA_POLICY_SIGN_ON,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &[
                    "In Security → Global Session Policy, set each allow rule to require multifactor authentication.",
                ],
                cli: None,
                iac: Some("resource \"okta_policy_rule_signon\" \"this\" {\n  mfa_required = true\n}"),
            },
            controls: &["KC-IAM-01", "KC-IAM-10"],
        },
        eval: bind!(OktaSignOnPolicies, sign_on_mfa),
    },
    Check {
        def: CheckDef {
            id: "okta.policy.mfa_enrollment_required",
            title: "Okta enrollment policies require a factor",
            description: "Every active MFA (authenticator) enrollment policy makes at least one factor required rather than optional.",
            rationale: "If every factor is optional, users can skip enrollment indefinitely and stay on passwords alone.",
            severity: Severity::Medium,
            connector: Connector::Okta,
            resource_type: "okta.mfa_enrollment_policy",
            evidence_kind: kinds::OKTA_POLICY_MFA_ENROLLMENT,
            permissions: POLICIES,
            remediation: Remediation {
                steps: &[
                    "In Security → Authenticators → Enrollment, mark at least one strong authenticator as Required in each policy.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-01"],
        },
        eval: bind!(OktaMfaEnrollmentPolicies, mfa_enrollment_required),
    },
    Check {
        def: CheckDef {
            id: "okta.system_log.suspicious_events",
            title: "Suspicious Okta events have been reviewed",
            description: "The system log window holds no event flagged as suspicious that is still unreviewed.",
            rationale: "Okta flags password sprays, impossible travel and user-reported suspicious activity. A flag nobody looks at does not stop an attack.",
            severity: Severity::High,
            connector: Connector::Okta,
            resource_type: "okta.org",
            evidence_kind: kinds::OKTA_SYSTEM_LOG_SUMMARY,
            permissions: &["okta.logs.read"],
            remediation: Remediation {
                steps: &[
                    "Review each flagged event in the System Log and decide whether it was an attack.",
                    "Reset credentials and sessions of affected users where needed, and record the review.",
                    "Forward Okta events to your SIEM so new flags raise alerts.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-LOG-07", "KC-LOG-04"],
        },
        eval: bind!(OktaSystemLogSummary, suspicious_events),
    },
];

// ---------------------------------------------------------------------------------------------
// Users

fn cannot_sign_in(user: &User) -> Option<Finding> {
    (!user.status.can_sign_in())
        .then(|| not_applicable(&user.id, format!("{} cannot sign in (status {:?}).", user.login, user.status)))
}

fn mfa_enrolled(evidence: &Users, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .users
        .iter()
        .map(|u| {
            if let Some(na) = cannot_sign_in(u) {
                return na;
            }
            let Some(factors) = &u.factors else {
                return not_visible(&u.id, "factors", format!("The factors of {} could not be listed.", u.login));
            };
            let active: Vec<&str> = factors
                .iter()
                .filter(|f| f.status == crate::evidence::okta::FactorStatus::Active && f.is_second_factor())
                .map(|f| f.factor_type.as_str())
                .collect();
            if active.is_empty() {
                fail(&u.id, format!("{} can sign in but has no active MFA factor.", u.login))
            } else {
                pass(&u.id, format!("{} has MFA: {}.", u.login, join_words(&active)))
            }
        })
        .collect()
}

fn admin_phishing_resistant(evidence: &Users, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .users
        .iter()
        .map(|u| {
            if let Some(na) = cannot_sign_in(u) {
                return na;
            }
            let Some(roles) = &u.admin_roles else {
                return not_visible(
                    &u.id,
                    "admin_roles",
                    format!("The admin roles of {} could not be listed.", u.login),
                );
            };
            if roles.is_empty() {
                return not_applicable(&u.id, format!("{} holds no admin role.", u.login));
            }
            let Some(factors) = &u.factors else {
                return not_visible(&u.id, "factors", format!("The factors of admin {} could not be listed.", u.login));
            };
            let strong = factors
                .iter()
                .find(|f| f.status == crate::evidence::okta::FactorStatus::Active && f.is_phishing_resistant());
            match strong {
                Some(f) => {
                    pass(&u.id, format!("Admin {} has a phishing-resistant factor ({}).", u.login, f.factor_type))
                }
                None => fail(
                    &u.id,
                    format!("Admin {} ({}) has no active phishing-resistant factor.", u.login, join_words(roles)),
                ),
            }
        })
        .collect()
}

fn inactive_deprovisioned(evidence: &Users, env: &Env<'_>) -> Vec<Finding> {
    evidence
        .users
        .iter()
        .map(|u| {
            if let Some(na) = cannot_sign_in(u) {
                return na;
            }
            let since = u.last_login.or(u.activated).unwrap_or(u.created);
            let days = env.days_since(since);
            match (env.older_than(since, INACTIVE_DAYS), u.last_login.is_some()) {
                (false, _) => pass(&u.id, format!("{} was active within the last {INACTIVE_DAYS} days.", u.login)),
                (true, true) => fail(&u.id, format!("{} last signed in {days} days ago and is still active.", u.login)),
                (true, false) => {
                    fail(&u.id, format!("{} has never signed in in {days} days and is still active.", u.login))
                }
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Policies

fn active_password_policies(
    evidence: &PasswordPolicies,
    judge: impl Fn(&PasswordPolicy) -> Result<String, String>,
) -> Vec<Finding> {
    evidence
        .policies
        .iter()
        .map(|p| {
            if !p.active {
                return not_applicable(&p.id, format!("Password policy {} is inactive.", p.name));
            }
            match judge(p) {
                Ok(reason) => pass(&p.id, reason),
                Err(reason) => fail(&p.id, reason),
            }
        })
        .collect()
}

fn password_min_length(evidence: &PasswordPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_password_policies(evidence, |p| {
        if p.min_length >= 12 {
            Ok(format!("Password policy {} requires {} characters.", p.name, p.min_length))
        } else {
            Err(format!("Password policy {} requires only {} characters; 12 is expected.", p.name, p.min_length))
        }
    })
}

fn password_lockout(evidence: &PasswordPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_password_policies(evidence, |p| match p.lockout_max_attempts {
        Some(n) if (1..=10).contains(&n) => {
            Ok(format!("Password policy {} locks accounts after {n} failed attempts.", p.name))
        }
        Some(n) => Err(format!(
            "Password policy {} allows {n} failed attempts before lockout; at most 10 is expected.",
            p.name
        )),
        None => Err(format!("Password policy {} never locks accounts after failed attempts.", p.name)),
    })
}

fn password_history(evidence: &PasswordPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_password_policies(evidence, |p| {
        if p.history_count >= 4 {
            Ok(format!("Password policy {} remembers {} previous passwords.", p.name, p.history_count))
        } else {
            Err(format!(
                "Password policy {} remembers only {} previous passwords; 4 is expected.",
                p.name, p.history_count
            ))
        }
    })
}

fn active_allow_rules(
    evidence: &SignOnPolicies,
    judge: impl Fn(&SessionRule) -> Result<String, String>,
) -> Vec<Finding> {
    evidence
        .rules
        .iter()
        .map(|r| {
            let id = format!("{}/{}", r.policy_id, r.rule_id);
            let name = format!("{} / {}", r.policy_name, r.rule_name);
            if !r.active {
                return not_applicable(id, format!("Session rule {name} is inactive."));
            }
            if r.access == RuleAccess::Deny {
                return not_applicable(id, format!("Session rule {name} denies access, so it creates no session."));
            }
            match judge(r) {
                Ok(reason) => pass(id, format!("Session rule {name}: {reason}")),
                Err(reason) => fail(id, format!("Session rule {name}: {reason}")),
            }
        })
        .collect()
}

fn session_lifetime(evidence: &SignOnPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_allow_rules(evidence, |r| match r.max_session_lifetime_minutes {
        Some(m) if m <= MAX_SESSION_MINUTES => Ok(format!("sessions end after {m} minutes.")),
        Some(m) => Err(format!("sessions last {m} minutes; at most {MAX_SESSION_MINUTES} is expected.")),
        None => Err("sessions never expire.".to_owned()),
    })
}

fn session_idle_timeout(evidence: &SignOnPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_allow_rules(evidence, |r| match r.max_session_idle_minutes {
        Some(m) if m <= MAX_IDLE_MINUTES => Ok(format!("idle sessions end after {m} minutes.")),
        Some(m) => Err(format!("idle sessions last {m} minutes; at most {MAX_IDLE_MINUTES} is expected.")),
        None => Err("idle sessions never end.".to_owned()),
    })
}

fn sign_on_mfa(evidence: &SignOnPolicies, _env: &Env<'_>) -> Vec<Finding> {
    active_allow_rules(evidence, |r| {
        if r.require_mfa {
            Ok("a second factor is required.".to_owned())
        } else {
            Err("a session is granted without a second factor.".to_owned())
        }
    })
}

fn mfa_enrollment_required(evidence: &MfaEnrollmentPolicies, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .policies
        .iter()
        .map(|p| {
            if !p.active {
                not_applicable(&p.id, format!("Enrollment policy {} is inactive.", p.name))
            } else if p.required_factors.is_empty() {
                fail(&p.id, format!("Enrollment policy {} makes every factor optional.", p.name))
            } else {
                pass(&p.id, format!("Enrollment policy {} requires {}.", p.name, join_words(&p.required_factors)))
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// System log

fn suspicious_events(summary: &SystemLogSummary, env: &Env<'_>) -> Vec<Finding> {
    let id = env.scope_id();
    let window = format!(
        "{} to {}",
        summary.window_start.format("%Y-%m-%d %H:%M"),
        summary.window_end.format("%Y-%m-%d %H:%M UTC")
    );
    vec![match summary.suspicious_events {
        None => {
            not_visible(id, "suspicious_events", "The summary does not say how many suspicious events are unreviewed.")
        }
        Some(0) => pass(id, format!("No unreviewed suspicious events from {window}.")),
        Some(n) => fail(id, format!("{n} suspicious event(s) from {window} have not been reviewed.")),
    }]
}
