//! Who may do what: the roles a tenant's people and API keys hold, the permissions routes require,
//! and the one matrix that maps the first onto the second. Every authorisation decision in Kushim
//! goes through [`Role::allows`] / [`Grant::allows`]; `docs/permissions.md` prints the same matrix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A role inside one tenant, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including tenant-wide settings and deleting the tenant.
    Owner,
    /// Integrations, users, schedules, exceptions, API keys; not tenant settings.
    Admin,
    /// Reads everything but credentials; runs checks, uploads evidence, comments.
    Member,
    /// Read-only on controls, evidence, reports and the audit log; exports. Nothing about
    /// credentials.
    Auditor,
    /// Read-only dashboards.
    Viewer,
}

/// Every role, for matrices and tests.
pub const ROLES: [Role; 5] = [Role::Owner, Role::Admin, Role::Member, Role::Auditor, Role::Viewer];

/// An action a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Permission {
    /// Read one's own profile, change one's own password.
    #[serde(rename = "profile:self")]
    ProfileSelf,
    /// Read the tenant's name and settings.
    #[serde(rename = "tenant:read")]
    TenantRead,
    /// Change tenant-wide settings.
    #[serde(rename = "tenant:manage")]
    TenantManage,
    /// Delete the tenant.
    #[serde(rename = "tenant:delete")]
    TenantDelete,
    /// List users.
    #[serde(rename = "users:read")]
    UsersRead,
    /// Invite, change roles, disable and remove users.
    #[serde(rename = "users:manage")]
    UsersManage,
    /// List API keys.
    #[serde(rename = "api_keys:read")]
    ApiKeysRead,
    /// Create and revoke API keys.
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    /// Read the audit log.
    #[serde(rename = "audit:read")]
    AuditRead,
    /// Read controls, checks and their results.
    #[serde(rename = "controls:read")]
    ControlsRead,
    /// Read evidence.
    #[serde(rename = "evidence:read")]
    EvidenceRead,
    /// Upload evidence.
    #[serde(rename = "evidence:write")]
    EvidenceWrite,
    /// Read reports and dashboards.
    #[serde(rename = "reports:read")]
    ReportsRead,
    /// Create auditor exports.
    #[serde(rename = "exports:create")]
    ExportsCreate,
    /// Start runs of checks.
    #[serde(rename = "runs:start")]
    RunsStart,
    /// Read runs (their status and counts).
    #[serde(rename = "runs:read")]
    RunsRead,
    /// Comment on controls and findings.
    #[serde(rename = "comments:write")]
    CommentsWrite,
    /// Connect and change integrations (their credentials included).
    #[serde(rename = "integrations:manage")]
    IntegrationsManage,
    /// Read integrations (never their credentials).
    #[serde(rename = "integrations:read")]
    IntegrationsRead,
    /// Change schedules.
    #[serde(rename = "schedules:manage")]
    SchedulesManage,
    /// Approve and revoke exceptions.
    #[serde(rename = "exceptions:manage")]
    ExceptionsManage,
    /// Request an exception (risk acceptance) for approval.
    #[serde(rename = "exceptions:request")]
    ExceptionsRequest,
    /// Create, change and delete custom checks.
    #[serde(rename = "checks:manage")]
    ChecksManage,
}

/// Every permission, for matrices and tests.
pub const PERMISSIONS: [Permission; 23] = [
    Permission::ProfileSelf,
    Permission::TenantRead,
    Permission::TenantManage,
    Permission::TenantDelete,
    Permission::UsersRead,
    Permission::UsersManage,
    Permission::ApiKeysRead,
    Permission::ApiKeysManage,
    Permission::AuditRead,
    Permission::ControlsRead,
    Permission::EvidenceRead,
    Permission::EvidenceWrite,
    Permission::ReportsRead,
    Permission::ExportsCreate,
    Permission::RunsStart,
    Permission::RunsRead,
    Permission::CommentsWrite,
    Permission::IntegrationsManage,
    Permission::IntegrationsRead,
    Permission::SchedulesManage,
    Permission::ExceptionsManage,
    Permission::ExceptionsRequest,
    Permission::ChecksManage,
];

impl Role {
    /// The permission matrix. The single place that decides what a role may do.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(permission, P::TenantManage | P::TenantDelete),
            Role::Member => matches!(
                permission,
                P::ProfileSelf
                    | P::TenantRead
                    | P::UsersRead
                    | P::ControlsRead
                    | P::EvidenceRead
                    | P::EvidenceWrite
                    | P::ReportsRead
                    | P::RunsStart
                    | P::RunsRead
                    | P::CommentsWrite
                    | P::IntegrationsRead
                    | P::ExceptionsRequest
            ),
            Role::Auditor => matches!(
                permission,
                P::ProfileSelf
                    | P::TenantRead
                    | P::ControlsRead
                    | P::EvidenceRead
                    | P::ReportsRead
                    | P::AuditRead
                    | P::ExportsCreate
                    | P::RunsRead
            ),
            Role::Viewer => {
                matches!(permission, P::ProfileSelf | P::TenantRead | P::ReportsRead | P::ControlsRead | P::RunsRead)
            }
        }
    }

    /// Whether a holder of `self` may hand out `other` (to an invitee or an API key): never a
    /// role above one's own, and only owners create owners.
    pub fn can_grant(self, other: Role) -> bool {
        self <= other
    }

    /// The role's name as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Auditor => "auditor",
            Role::Viewer => "viewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ROLES
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| DomainError::InvalidId { kind: "role", reason: format!("unknown role {s:?}") })
    }
}

impl Permission {
    /// The scope string API keys use for this permission (e.g. `users:read`).
    pub fn as_scope(self) -> &'static str {
        // Same order as PERMISSIONS; a test checks these equal the serde names.
        SCOPE_NAMES[PERMISSIONS.iter().position(|p| *p == self).expect("every permission is listed")]
    }
}

const SCOPE_NAMES: [&str; 23] = [
    "profile:self",
    "tenant:read",
    "tenant:manage",
    "tenant:delete",
    "users:read",
    "users:manage",
    "api_keys:read",
    "api_keys:manage",
    "audit:read",
    "controls:read",
    "evidence:read",
    "evidence:write",
    "reports:read",
    "exports:create",
    "runs:start",
    "runs:read",
    "comments:write",
    "integrations:manage",
    "integrations:read",
    "schedules:manage",
    "exceptions:manage",
    "exceptions:request",
    "checks:manage",
];

impl FromStr for Permission {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SCOPE_NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| PERMISSIONS[i])
            .ok_or_else(|| DomainError::InvalidId { kind: "scope", reason: format!("unknown scope {s:?}") })
    }
}

/// What a verified principal holds: a role, optionally narrowed to a set of scopes (API keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// When present, only these permissions (and only those the role also allows).
    pub scopes: Option<Vec<Permission>>,
}

impl Grant {
    /// Whether the grant allows the permission: the role must, and the scopes (if any) too.
    pub fn allows(&self, permission: Permission) -> bool {
        self.role.allows(permission) && self.scopes.as_ref().is_none_or(|s| s.contains(&permission))
    }
}

/// The permission matrix as a Markdown table (roles across, permissions down). The copy in
/// `docs/permissions.md` is checked against this by a test, so the document cannot drift.
pub fn matrix_markdown() -> String {
    let mut out = String::from("| permission |");
    for r in ROLES {
        out.push_str(&format!(" {r} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(ROLES.len()));
    out.push('\n');
    for p in PERMISSIONS {
        out.push_str(&format!("| `{}` |", p.as_scope()));
        for r in ROLES {
            out.push_str(if r.allows(p) { " yes |" } else { " – |" });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_matrix_is_the_enforced_one() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md"))
            .expect("docs/permissions.md exists");
        assert!(
            doc.contains(&matrix_markdown()),
            "docs/permissions.md is out of date; replace its table with:\n{}",
            matrix_markdown()
        );
    }

    #[test]
    fn owner_does_everything_and_admin_all_but_tenant_settings() {
        for p in PERMISSIONS {
            assert!(Role::Owner.allows(p), "{p:?}");
        }
        assert!(!Role::Admin.allows(Permission::TenantManage));
        assert!(!Role::Admin.allows(Permission::TenantDelete));
        assert!(Role::Admin.allows(Permission::UsersManage));
    }

    #[test]
    fn auditors_never_touch_credentials_or_write() {
        for p in [
            Permission::IntegrationsManage,
            Permission::IntegrationsRead,
            Permission::ApiKeysRead,
            Permission::ApiKeysManage,
            Permission::EvidenceWrite,
            Permission::UsersManage,
        ] {
            assert!(!Role::Auditor.allows(p), "{p:?}");
        }
        assert!(Role::Auditor.allows(Permission::AuditRead));
        assert!(Role::Auditor.allows(Permission::ExportsCreate));
    }

    #[test]
    fn roles_are_ordered_by_power_and_grants_never_escalate() {
        assert!(Role::Admin.can_grant(Role::Member));
        assert!(!Role::Admin.can_grant(Role::Owner));
        assert!(Role::Owner.can_grant(Role::Owner));
        // Every permission of a lower role in the chain owner > admin > member is held above it.
        for p in PERMISSIONS {
            if Role::Member.allows(p) {
                assert!(Role::Admin.allows(p), "{p:?}");
            }
        }
    }

    #[test]
    fn scopes_narrow_but_never_widen() {
        let g = Grant { role: Role::Member, scopes: Some(vec![Permission::ControlsRead, Permission::UsersManage]) };
        assert!(g.allows(Permission::ControlsRead));
        assert!(!g.allows(Permission::EvidenceRead), "not in the scopes");
        assert!(!g.allows(Permission::UsersManage), "in the scopes but not the role's");
    }

    #[test]
    fn names_round_trip() {
        for r in ROLES {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        for p in PERMISSIONS {
            assert_eq!(p.as_scope().parse::<Permission>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_scope());
        }
        assert!("root".parse::<Role>().is_err());
    }
}
