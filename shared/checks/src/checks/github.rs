//! GitHub checks: organization settings and people (2FA, base permission, outside collaborators),
//! default-branch protection, repository security features and open security alerts.
//!
//! Resource ids: the organization by login, members and collaborators by login, repositories by
//! `owner/name`.

use super::{Env, Finding, bind, fail, join_words, not_applicable, not_visible, pass};
use crate::check::{Check, CheckDef, Connector, Remediation, Severity};
use crate::evidence::github::{
    AlertSummary, BasePermission, BranchProtections, BranchRules, CodeScanningSetup, OrgMembers, OrgSettings,
    OutsideCollaborators, Protection, RepoAlertSummary, RepoAlerts, RepoBranchProtection, RepoPermission, Repositories,
    Repository, Visibility,
};
use crate::evidence::kinds;

const BRANCH_PROTECTION: &[&str] = &["administration:read", "metadata:read"];

/// Days a critical alert may stay open.
pub(crate) const CRITICAL_ALERT_DAYS: i64 = 15;
/// Days a high alert may stay open.
pub(crate) const HIGH_ALERT_DAYS: i64 = 30;

/// The steps shared by every branch-protection check.
macro_rules! branch_steps {
    ($last:expr) => {
        &[
            "Open the repository's Settings → Rules → Rulesets (or Branches for classic protection).",
            "Target the default branch with a ruleset in Active enforcement.",
            $last,
        ]
    };
}

pub(crate) const CHECKS: &[Check] = &[
    Check {
        def: CheckDef {
            id: "github.org.two_factor_required",
            title: "The organization requires two-factor authentication",
            description: "The organization setting that requires every member and outside collaborator to use 2FA is on.",
            rationale: "Source code and CI secrets are reachable with a GitHub account. Requiring 2FA at the organization level removes anyone who turns it off, instead of relying on each person.",
            severity: Severity::Critical,
            connector: Connector::Github,
            resource_type: "github.organization",
            evidence_kind: kinds::GITHUB_ORG_SETTINGS,
            permissions: &["organization_administration:read"],
            remediation: Remediation {
                steps: &[
                    "Warn members without 2FA: turning the requirement on removes them from the organization.",
                    "Open Organization settings → Authentication security and require two-factor authentication.",
                ],
                cli: None,
                iac: None,
            },
            controls: &["KC-IAM-01", "KC-IAM-09"],
        },
        eval: bind!(GithubOrgSettings, two_factor_required),
    },
    Check {
        def: CheckDef {
            id: "github.org.members_two_factor",
            title: "Organization members have two-factor authentication",
            description: "Every organization member has 2FA enabled on their GitHub account.",
            rationale: "Until the organization requirement is on, each member without 2FA is an account that falls to one stolen password.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.member",
            evidence_kind: kinds::GITHUB_ORG_MEMBERS,
            permissions: &["members:read", "organization_administration:read"],
            remediation: Remediation {
                steps: &[
                    "Ask the member to enable 2FA (a passkey or security key is best).",
                    "Require 2FA for the whole organization once everyone has it.",
                ],
                cli: Some("gh api '/orgs/<org>/members?filter=2fa_disabled' --jq '.[].login'"),
                iac: None,
            },
            controls: &["KC-IAM-01"],
        },
        eval: bind!(GithubOrgMembers, members_two_factor),
    },
    Check {
        def: CheckDef {
            id: "github.org.base_permission_restricted",
            title: "The organization's base permission is read or none",
            description: "Members get at most read access to repositories by default; write or admin as the base permission fails.",
            rationale: "The base permission applies to every member on every repository. Write by default lets anyone push to code they have no business changing.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.organization",
            evidence_kind: kinds::GITHUB_ORG_SETTINGS,
            permissions: &["organization_administration:read"],
            remediation: Remediation {
                steps: &[
                    "Create teams for the people who need write access and grant them access per repository.",
                    "Set Organization settings → Member privileges → Base permissions to Read or No permission.",
                ],
                cli: Some("gh api -X PATCH /orgs/<org> -f default_repository_permission=read"),
                iac: Some(
                    "resource \"github_organization_settings\" \"this\" {\n  default_repository_permission = \"read\"\n}",
                ),
            },
            controls: &["KC-IAM-04", "KC-IAM-09"],
        },
        eval: bind!(GithubOrgSettings, base_permission_restricted),
    },
    Check {
        def: CheckDef {
            id: "github.org.public_repo_creation_restricted",
            title: "Members cannot create public repositories",
            description: "The organization does not let members create public repositories on their own.",
            rationale: "Publishing code is a disclosure decision. If any member can create a public repository, internal code can become public by a single click.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.organization",
            evidence_kind: kinds::GITHUB_ORG_SETTINGS,
            permissions: &["organization_administration:read"],
            remediation: Remediation {
                steps: &["In Organization settings → Member privileges, untick public under repository creation."],
                cli: Some("gh api -X PATCH /orgs/<org> -F members_can_create_public_repositories=false"),
                iac: Some(
                    "resource \"github_organization_settings\" \"this\" {\n  members_can_create_public_repositories = false\n}",
                ),
            },
            controls: &["KC-IAM-09", "KC-DAT-03"],
        },
        eval: bind!(GithubOrgSettings, public_repo_creation_restricted),
    },
    Check {
        def: CheckDef {
            id: "github.org.outside_collaborator_admin",
            title: "Outside collaborators are not repository admins",
            description: "No outside collaborator has admin permission on any repository. Collaborators with no repository access are not applicable.",
            rationale: "Admins can change branch protection, secrets and access. Handing that to people outside the organization's own controls (offboarding, 2FA policy, reviews) is rarely justified.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.outside_collaborator",
            evidence_kind: kinds::GITHUB_ORG_OUTSIDE_COLLABORATORS,
            permissions: &["members:read", "metadata:read"],
            remediation: Remediation {
                steps: &[
                    "Lower the collaborator's permission to the least they need (usually write or triage).",
                    "If they need admin rights, make them an organization member under your normal controls.",
                ],
                cli: Some("gh api -X PUT /repos/<owner>/<repo>/collaborators/<login> -f permission=push"),
                iac: None,
            },
            controls: &["KC-IAM-04", "KC-IAM-09"],
        },
        eval: bind!(GithubOutsideCollaborators, outside_collaborator_admin),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_review_required",
            title: "The default branch requires an approving review",
            description: "Changes to the default branch go through a pull request with at least one approval. Archived and empty repositories are not applicable.",
            rationale: "A second person reading every change is the basic control against mistakes and malicious commits reaching production.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!(
                    "Add \"Require a pull request before merging\" with at least one required approval."
                ),
                cli: None,
                iac: Some(
                    "resource \"github_repository_ruleset\" \"default\" {\n  target      = \"branch\"\n  enforcement = \"active\"\n  conditions {\n    ref_name {\n      include = [\"~DEFAULT_BRANCH\"]\n      exclude = []\n    }\n  }\n  rules {\n    pull_request {\n      required_approving_review_count = 1\n    }\n  }\n}",
                ),
            },
            controls: &["KC-CHG-01"],
        },
        eval: bind!(GithubBranchProtection, branch_review_required),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_dismiss_stale_reviews",
            title: "New commits dismiss earlier approvals",
            description: "On the default branch, pushing new commits to a pull request dismisses approvals given before them.",
            rationale: "Without it, someone can get an approval and then push different code that nobody reviewed.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!(
                    "In the pull request rule, turn on \"Dismiss stale pull request approvals when new commits are pushed\"."
                ),
                cli: None,
                iac: Some("rules {\n  pull_request {\n    dismiss_stale_reviews_on_push = true\n  }\n}"),
            },
            controls: &["KC-CHG-01"],
        },
        eval: bind!(GithubBranchProtection, branch_dismiss_stale_reviews),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_status_checks",
            title: "The default branch requires passing status checks",
            description: "At least one status check (tests, build, scan) must pass before a change merges into the default branch.",
            rationale: "Automated checks catch what reviewers miss, but only if a failing check actually blocks the merge.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!("Add \"Require status checks to pass\" and select the CI jobs that must succeed."),
                cli: None,
                iac: Some(
                    "rules {\n  required_status_checks {\n    required_check {\n      context = \"ci\"\n    }\n  }\n}",
                ),
            },
            controls: &["KC-CHG-02"],
        },
        eval: bind!(GithubBranchProtection, branch_status_checks),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_force_push_blocked",
            title: "Force pushes to the default branch are blocked",
            description: "Nobody can force-push to the default branch.",
            rationale: "A force push rewrites history: it can erase reviewed commits or slip in unreviewed ones without a trace in the pull request record.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!(
                    "Add \"Block force pushes\" (classic protection: leave \"Allow force pushes\" off)."
                ),
                cli: None,
                iac: Some("rules {\n  non_fast_forward = true\n}"),
            },
            controls: &["KC-CHG-03"],
        },
        eval: bind!(GithubBranchProtection, branch_force_push_blocked),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_deletion_blocked",
            title: "The default branch cannot be deleted",
            description: "Deleting the default branch is blocked.",
            rationale: "Deleting the default branch disrupts every deployment and can destroy the only copy of reviewed history.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!("Add \"Restrict deletions\" (classic protection: leave \"Allow deletions\" off)."),
                cli: None,
                iac: Some("rules {\n  deletion = true\n}"),
            },
            controls: &["KC-CHG-03"],
        },
        eval: bind!(GithubBranchProtection, branch_deletion_blocked),
    },
    Check {
        def: CheckDef {
            id: "github.repo.branch_admins_included",
            title: "Branch protection applies to administrators",
            description: "Administrators cannot bypass the default branch's protection (classic \"include administrators\", or a ruleset without bypass actors).",
            rationale: "Rules that admins can skip are the rules an attacker with an admin token skips. Emergencies can still be handled by changing the rule, which leaves a record.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_BRANCH_PROTECTION,
            permissions: BRANCH_PROTECTION,
            remediation: Remediation {
                steps: branch_steps!(
                    "Remove bypass actors from the ruleset (classic protection: enable \"Do not allow bypassing the above settings\")."
                ),
                cli: Some("gh api -X POST /repos/<owner>/<repo>/branches/<branch>/protection/enforce_admins"),
                iac: None,
            },
            controls: &["KC-CHG-01", "KC-CHG-03"],
        },
        eval: bind!(GithubBranchProtection, branch_admins_included),
    },
    Check {
        def: CheckDef {
            id: "github.repo.dependabot_alerts_enabled",
            title: "Dependabot alerts are enabled",
            description: "Every active repository has Dependabot alerts on. Archived repositories are not applicable.",
            rationale: "Most vulnerabilities arrive through dependencies. Alerts are how you learn that a library you ship has a known flaw.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_SETTINGS,
            permissions: &["administration:read"],
            remediation: Remediation {
                steps: &[
                    "Enable Dependabot alerts in the repository's Code security settings.",
                    "Better: enable them for all repositories with an organization security configuration.",
                ],
                cli: Some("gh api -X PUT /repos/<owner>/<repo>/vulnerability-alerts"),
                iac: Some("resource \"github_repository\" \"this\" {\n  vulnerability_alerts = true\n}"),
            },
            controls: &["KC-VUL-01"],
        },
        eval: bind!(GithubRepoSettings, dependabot_alerts_enabled),
    },
    Check {
        def: CheckDef {
            id: "github.repo.secret_scanning_push_protection",
            title: "Secret scanning and push protection are on",
            description: "Every active repository has secret scanning enabled and blocks pushes that contain detected secrets. Archived repositories are not applicable.",
            rationale: "Credentials committed to a repository spread to every clone and fork. Push protection stops them before they land; scanning finds the ones already there.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_SETTINGS,
            permissions: &["administration:read"],
            remediation: Remediation {
                steps: &[
                    "Enable secret scanning and push protection in the repository's Code security settings, or through an organization security configuration.",
                ],
                cli: Some(
                    "gh api -X PATCH /repos/<owner>/<repo> --input - <<< '{\"security_and_analysis\":{\"secret_scanning\":{\"status\":\"enabled\"},\"secret_scanning_push_protection\":{\"status\":\"enabled\"}}}'",
                ),
                iac: Some(
                    "resource \"github_repository\" \"this\" {\n  security_and_analysis {\n    secret_scanning { status = \"enabled\" }\n    secret_scanning_push_protection { status = \"enabled\" }\n  }\n}",
                ),
            },
            controls: &["KC-VUL-02"],
        },
        eval: bind!(GithubRepoSettings, secret_scanning_push_protection),
    },
    Check {
        def: CheckDef {
            id: "github.repo.code_scanning_enabled",
            title: "Code scanning is enabled",
            description: "Every active repository runs code scanning, through default setup or a workflow that uploads results. Archived repositories are not applicable.",
            rationale: "Static analysis on every change catches injection flaws and unsafe patterns before they ship, when they are cheapest to fix.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_SETTINGS,
            permissions: &["administration:read", "security_events:read"],
            remediation: Remediation {
                steps: &[
                    "Turn on CodeQL default setup in the repository's Code security settings.",
                    "For languages default setup does not cover, add a workflow that uploads SARIF results.",
                ],
                cli: Some("gh api -X PATCH /repos/<owner>/<repo>/code-scanning/default-setup -f state=configured"),
                iac: None,
            },
            controls: &["KC-VUL-03"],
        },
        eval: bind!(GithubRepoSettings, code_scanning_enabled),
    },
    Check {
        def: CheckDef {
            id: "github.repo.public_justified",
            title: "Public repositories have a recorded justification",
            description: "Every public, active repository carries a recorded reason for being public. Private and internal repositories pass; archived ones are not applicable.",
            rationale: "Making code public is a deliberate disclosure. A recorded reason shows someone decided it, and flags repositories that were opened by accident.",
            severity: Severity::Medium,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_SETTINGS,
            permissions: &["metadata:read"],
            remediation: Remediation {
                steps: &[
                    "Decide whether the repository should be public; if not, make it private.",
                    "If it should, record the reason in the organization's public-justification custom property on the repository.",
                ],
                cli: Some("gh repo edit <owner>/<repo> --visibility private --accept-visibility-change-consequences"),
                iac: None,
            },
            controls: &["KC-DAT-03", "KC-IAM-09"],
        },
        eval: bind!(GithubRepoSettings, public_justified),
    },
    Check {
        def: CheckDef {
            id: "github.repo.dependabot_alerts_triaged",
            title: "No stale critical or high Dependabot alerts",
            description: "No Dependabot alert stays open past its deadline: 15 days for critical, 30 for high. Without opening dates, any open critical or high alert fails. Archived repositories are not applicable.",
            rationale: "An alert only reduces risk when someone acts on it. Deadlines by severity turn alerts into a remediation process an auditor can verify.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_ALERTS,
            permissions: &["vulnerability_alerts:read"],
            remediation: Remediation {
                steps: &[
                    "Merge the Dependabot update or upgrade the dependency by hand.",
                    "If the vulnerable code is unreachable, dismiss the alert with a documented reason.",
                ],
                cli: Some(
                    "gh api '/repos/<owner>/<repo>/dependabot/alerts?state=open&severity=critical,high' --jq '.[].html_url'",
                ),
                iac: None,
            },
            controls: &["KC-VUL-01", "KC-VUL-05"],
        },
        eval: bind!(GithubRepoAlerts, dependabot_alerts_triaged),
    },
    Check {
        def: CheckDef {
            id: "github.repo.code_scanning_alerts_triaged",
            title: "No stale critical or high code scanning alerts",
            description: "No code scanning alert stays open past its deadline: 15 days for critical, 30 for high. Without opening dates, any open critical or high alert fails. Archived repositories are not applicable.",
            rationale: "Findings from static analysis in the product's own code are directly exploitable until fixed; severity deadlines keep them from piling up.",
            severity: Severity::High,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_ALERTS,
            permissions: &["security_events:read"],
            remediation: Remediation {
                steps: &[
                    "Fix the flagged code, or dismiss the alert as a false positive with a reason.",
                    "Add the fix's test case so the pattern does not return.",
                ],
                cli: Some(
                    "gh api '/repos/<owner>/<repo>/code-scanning/alerts?state=open&severity=critical,high' --jq '.[].html_url'",
                ),
                iac: None,
            },
            controls: &["KC-VUL-03", "KC-VUL-05"],
        },
        eval: bind!(GithubRepoAlerts, code_scanning_alerts_triaged),
    },
    Check {
        def: CheckDef {
            id: "github.repo.secret_scanning_alerts_resolved",
            title: "No open secret scanning alerts",
            description: "No repository has an open secret scanning alert. Archived repositories are not applicable.",
            rationale: "An open secret alert means a credential sits in the repository's history and may still work. It must be revoked, not just deleted from the code.",
            severity: Severity::Critical,
            connector: Connector::Github,
            resource_type: "github.repository",
            evidence_kind: kinds::GITHUB_REPO_ALERTS,
            permissions: &["secret_scanning_alerts:read"],
            remediation: Remediation {
                steps: &[
                    "Revoke or rotate the exposed credential at its provider first.",
                    "Then close the alert as revoked; rewriting history is optional once the secret is dead.",
                ],
                cli: Some("gh api '/repos/<owner>/<repo>/secret-scanning/alerts?state=open' --jq '.[].html_url'"),
                iac: None,
            },
            controls: &["KC-VUL-02", "KC-VUL-05"],
        },
        eval: bind!(GithubRepoAlerts, secret_scanning_alerts_resolved),
    },
];

// ---------------------------------------------------------------------------------------------
// Organization

fn two_factor_required(org: &OrgSettings, _env: &Env<'_>) -> Vec<Finding> {
    let id = &org.login;
    vec![match org.two_factor_requirement_enabled {
        Some(true) => pass(id, format!("Organization {id} requires two-factor authentication.")),
        Some(false) => fail(id, format!("Organization {id} does not require two-factor authentication.")),
        None => not_visible(
            id,
            "two_factor_requirement_enabled",
            "GitHub shows the 2FA requirement to organization owners only, and the token could not see it.",
        ),
    }]
}

fn base_permission_restricted(org: &OrgSettings, _env: &Env<'_>) -> Vec<Finding> {
    let id = &org.login;
    vec![match org.default_repository_permission {
        Some(BasePermission::None) => pass(id, "Members get no repository access by default."),
        Some(BasePermission::Read) => pass(id, "Members get read access to repositories by default."),
        Some(p @ (BasePermission::Write | BasePermission::Admin)) => fail(
            id,
            format!(
                "Every member gets {} access to every repository by default.",
                if p == BasePermission::Admin { "admin" } else { "write" }
            ),
        ),
        None => {
            not_visible(id, "default_repository_permission", "The organization's base permission could not be read.")
        }
    }]
}

fn public_repo_creation_restricted(org: &OrgSettings, _env: &Env<'_>) -> Vec<Finding> {
    let id = &org.login;
    vec![match org.members_can_create_public_repositories {
        Some(false) => pass(id, "Members cannot create public repositories."),
        Some(true) => fail(id, "Any member can create a public repository."),
        None => not_visible(
            id,
            "members_can_create_public_repositories",
            "The organization's repository creation settings could not be read.",
        ),
    }]
}

fn members_two_factor(evidence: &OrgMembers, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .members
        .iter()
        .map(|m| match m.two_factor_enabled {
            Some(true) => pass(&m.login, format!("{} has two-factor authentication.", m.login)),
            Some(false) => fail(&m.login, format!("{} has no two-factor authentication.", m.login)),
            None => not_visible(
                &m.login,
                "two_factor_enabled",
                format!("Whether {} uses 2FA is visible to organization owners only.", m.login),
            ),
        })
        .collect()
}

fn outside_collaborator_admin(evidence: &OutsideCollaborators, _env: &Env<'_>) -> Vec<Finding> {
    evidence
        .collaborators
        .iter()
        .map(|c| {
            if c.repositories.is_empty() {
                return not_applicable(&c.login, format!("{} has no repository access.", c.login));
            }
            let admin: Vec<&str> = c
                .repositories
                .iter()
                .filter(|g| g.permission == RepoPermission::Admin)
                .map(|g| g.repo.as_str())
                .collect();
            if admin.is_empty() {
                pass(&c.login, format!("Outside collaborator {} has no admin access.", c.login))
            } else {
                fail(&c.login, format!("Outside collaborator {} is an admin of {}.", c.login, join_words(&admin)))
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Branch protection

/// Applies the shared outcomes (archived, empty, hidden, unprotected), then `judge` on the rules.
fn judge_branch(
    evidence: &BranchProtections,
    judge: impl Fn(&RepoBranchProtection, &str, &BranchRules) -> Result<String, String>,
) -> Vec<Finding> {
    evidence
        .repos
        .iter()
        .map(|r| {
            let id = r.repo.as_str();
            if r.archived {
                return not_applicable(id, format!("{id} is archived."));
            }
            let Some(branch) = &r.default_branch else {
                return not_applicable(id, format!("{id} is empty: it has no default branch yet."));
            };
            match &r.protection {
                Protection::NotVisible => not_visible(
                    id,
                    "protection",
                    format!("The protection of {id}'s default branch {branch} could not be read."),
                ),
                Protection::Unprotected => {
                    fail(id, format!("{id}'s default branch {branch} has no protection rule or ruleset."))
                }
                Protection::Rules(rules) => match judge(r, branch, rules) {
                    Ok(reason) => pass(id, reason),
                    Err(reason) => fail(id, reason),
                },
            }
        })
        .collect()
}

fn branch_review_required(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| match rules.required_approving_review_count {
        Some(n) if n >= 1 => Ok(format!("Merges into {}:{branch} need {n} approving review(s).", r.repo)),
        Some(_) => Err(format!("{}:{branch} requires pull requests but no approving review.", r.repo)),
        None => Err(format!("{}:{branch} accepts changes without a pull request review.", r.repo)),
    })
}

fn branch_dismiss_stale_reviews(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| {
        if rules.required_approving_review_count.is_none() {
            Err(format!("{}:{branch} requires no reviews, so there is nothing to keep fresh.", r.repo))
        } else if rules.dismiss_stale_reviews {
            Ok(format!("New commits on pull requests into {}:{branch} dismiss earlier approvals.", r.repo))
        } else {
            Err(format!("Approvals on {}:{branch} survive new commits pushed after them.", r.repo))
        }
    })
}

fn branch_status_checks(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| {
        if rules.required_status_checks.is_empty() {
            Err(format!("{}:{branch} merges without any required status check.", r.repo))
        } else {
            Ok(format!("{}:{branch} requires {} to pass.", r.repo, join_words(&rules.required_status_checks)))
        }
    })
}

fn branch_force_push_blocked(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| {
        if rules.allow_force_pushes {
            Err(format!("Force pushes to {}:{branch} are allowed.", r.repo))
        } else {
            Ok(format!("Force pushes to {}:{branch} are blocked.", r.repo))
        }
    })
}

fn branch_deletion_blocked(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| {
        if rules.allow_deletions {
            Err(format!("{}:{branch} can be deleted.", r.repo))
        } else {
            Ok(format!("{}:{branch} cannot be deleted.", r.repo))
        }
    })
}

fn branch_admins_included(evidence: &BranchProtections, _env: &Env<'_>) -> Vec<Finding> {
    judge_branch(evidence, |r, branch, rules| {
        if rules.enforce_admins {
            Ok(format!("Administrators are held to {}:{branch}'s protection.", r.repo))
        } else {
            Err(format!("Administrators can bypass {}:{branch}'s protection.", r.repo))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Repository settings

/// Archived repositories are not applicable; `judge` handles the rest.
fn active_repos(evidence: &Repositories, judge: impl Fn(&Repository) -> Finding) -> Vec<Finding> {
    evidence
        .repos
        .iter()
        .map(|r| if r.archived { not_applicable(&r.name, format!("{} is archived.", r.name)) } else { judge(r) })
        .collect()
}

fn dependabot_alerts_enabled(evidence: &Repositories, _env: &Env<'_>) -> Vec<Finding> {
    active_repos(evidence, |r| match r.dependabot_alerts_enabled {
        Some(true) => pass(&r.name, format!("{} has Dependabot alerts on.", r.name)),
        Some(false) => fail(&r.name, format!("{} has Dependabot alerts off.", r.name)),
        None => not_visible(
            &r.name,
            "dependabot_alerts_enabled",
            format!("Dependabot alert settings of {} could not be read.", r.name),
        ),
    })
}

fn secret_scanning_push_protection(evidence: &Repositories, _env: &Env<'_>) -> Vec<Finding> {
    active_repos(evidence, |r| match (r.secret_scanning, r.secret_scanning_push_protection) {
        (Some(false), _) => fail(&r.name, format!("{} has secret scanning off.", r.name)),
        (_, Some(false)) => {
            fail(&r.name, format!("{} scans for secrets but does not block pushes containing them.", r.name))
        }
        (Some(true), Some(true)) => pass(&r.name, format!("{} has secret scanning with push protection.", r.name)),
        (None, _) => not_visible(
            &r.name,
            "secret_scanning",
            format!("Secret scanning settings of {} could not be read.", r.name),
        ),
        (_, None) => not_visible(
            &r.name,
            "secret_scanning_push_protection",
            format!("The push protection setting of {} could not be read.", r.name),
        ),
    })
}

fn code_scanning_enabled(evidence: &Repositories, _env: &Env<'_>) -> Vec<Finding> {
    active_repos(evidence, |r| match r.code_scanning {
        Some(CodeScanningSetup::DefaultSetup) => {
            pass(&r.name, format!("{} runs code scanning with default setup.", r.name))
        }
        Some(CodeScanningSetup::AdvancedSetup) => {
            pass(&r.name, format!("{} uploads code scanning results from a workflow.", r.name))
        }
        Some(CodeScanningSetup::NotConfigured) => fail(&r.name, format!("{} has no code scanning.", r.name)),
        None => {
            not_visible(&r.name, "code_scanning", format!("The code scanning setup of {} could not be read.", r.name))
        }
    })
}

fn public_justified(evidence: &Repositories, _env: &Env<'_>) -> Vec<Finding> {
    active_repos(evidence, |r| {
        if r.visibility != Visibility::Public {
            return pass(&r.name, format!("{} is not public.", r.name));
        }
        match r.public_justification.as_deref().map(str::trim) {
            Some(why) if !why.is_empty() => pass(&r.name, format!("{} is public for a recorded reason: {why}", r.name)),
            _ => fail(&r.name, format!("{} is public and nobody recorded why.", r.name)),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Alerts

/// Judges open critical/high alerts against their deadlines.
fn judge_alert_age(repo: &str, tool: &str, summary: &AlertSummary, env: &Env<'_>) -> Finding {
    let mut overdue = Vec::new();
    for (severity, count, oldest, limit) in [
        ("critical", summary.open.critical, summary.oldest_open_critical, CRITICAL_ALERT_DAYS),
        ("high", summary.open.high, summary.oldest_open_high, HIGH_ALERT_DAYS),
    ] {
        if count == 0 {
            continue;
        }
        match oldest {
            Some(t) if env.older_than(t, limit) => overdue.push(format!(
                "{count} open {severity} alert(s), the oldest open for {} days (limit {limit})",
                env.days_since(t)
            )),
            Some(_) => {}
            None => overdue.push(format!(
                "{count} open {severity} alert(s) with no opening date to check against the {limit}-day limit"
            )),
        }
    }
    if overdue.is_empty() {
        let open = summary.open.critical + summary.open.high;
        pass(
            repo,
            format!("{repo} has no overdue critical or high {tool} alerts ({open} open within their deadlines)."),
        )
    } else {
        fail(repo, format!("{repo} has {tool} alerts past their deadline: {}.", join_words(&overdue)))
    }
}

fn active_alert_repos(evidence: &RepoAlerts, judge: impl Fn(&RepoAlertSummary) -> Finding) -> Vec<Finding> {
    evidence
        .repos
        .iter()
        .map(|r| if r.archived { not_applicable(&r.repo, format!("{} is archived.", r.repo)) } else { judge(r) })
        .collect()
}

fn dependabot_alerts_triaged(evidence: &RepoAlerts, env: &Env<'_>) -> Vec<Finding> {
    active_alert_repos(evidence, |r| match &r.dependabot {
        Some(summary) => judge_alert_age(&r.repo, "Dependabot", summary, env),
        None => not_visible(&r.repo, "dependabot", format!("Dependabot alerts of {} could not be listed.", r.repo)),
    })
}

fn code_scanning_alerts_triaged(evidence: &RepoAlerts, env: &Env<'_>) -> Vec<Finding> {
    active_alert_repos(evidence, |r| match &r.code_scanning {
        Some(summary) => judge_alert_age(&r.repo, "code scanning", summary, env),
        None => {
            not_visible(&r.repo, "code_scanning", format!("Code scanning alerts of {} could not be listed.", r.repo))
        }
    })
}

fn secret_scanning_alerts_resolved(evidence: &RepoAlerts, _env: &Env<'_>) -> Vec<Finding> {
    active_alert_repos(evidence, |r| match r.secret_scanning_open {
        Some(0) => pass(&r.repo, format!("{} has no open secret scanning alerts.", r.repo)),
        Some(n) => fail(
            &r.repo,
            format!("{} has {n} open secret scanning alert(s): exposed credentials may still work.", r.repo),
        ),
        None => not_visible(
            &r.repo,
            "secret_scanning_open",
            format!("Secret scanning alerts of {} could not be listed.", r.repo),
        ),
    })
}
