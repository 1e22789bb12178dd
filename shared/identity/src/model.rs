//! The records identity keeps in the table, and the public views the API returns. Views never
//! include hashes; records with secrets-derived fields are never returned as they are.

use kushim_domain::{Permission, Role, TenantId};
use serde::{Deserialize, Serialize};

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Id.
    pub id: TenantId,
    /// Display name.
    pub name: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// How many active owners it has (kept ≥ 1).
    pub owners: u32,
    /// Settings owners may change.
    pub settings: TenantSettings,
    /// Optimistic-locking version.
    pub version: u64,
}

/// Tenant-wide settings (owner only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// IANA time zone schedules run in.
    pub time_zone: String,
    /// Requests per minute the tenant may make.
    pub rate_limit_per_minute: u32,
    /// If not empty, invitations only to these email domains.
    pub allowed_email_domains: Vec<String>,
    /// Days of inactivity after which a session ends.
    pub session_days: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            time_zone: "UTC".into(),
            rate_limit_per_minute: 600,
            allowed_email_domains: Vec::new(),
            session_days: 14,
        }
    }
}

impl TenantSettings {
    /// Checks the settings' bounds.
    pub fn validate(&self) -> Result<(), String> {
        if self.time_zone.is_empty() || self.time_zone.len() > 64 {
            return Err("time_zone must be an IANA zone name".into());
        }
        if !(10..=10_000).contains(&self.rate_limit_per_minute) {
            return Err("rate_limit_per_minute must be 10-10000".into());
        }
        if !(1..=90).contains(&self.session_days) {
            return Err("session_days must be 1-90".into());
        }
        if self.allowed_email_domains.len() > 50
            || self.allowed_email_domains.iter().any(|d| d.is_empty() || d.len() > 253 || d.contains('@'))
        {
            return Err("allowed_email_domains must be up to 50 domain names".into());
        }
        Ok(())
    }
}

/// Whether a user may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Normal.
    Active,
    /// Blocked by an admin; every credential is refused.
    Disabled,
}

/// A person in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Normalised (lowercase) email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Status.
    pub status: UserStatus,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Access tokens issued before this epoch second are refused.
    pub sessions_valid_after: i64,
    /// Optimistic-locking version.
    pub version: u64,
}

/// What the API shows of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// Normalised (lowercase) email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role in the tenant.
    pub role: Role,
    /// Whether they may sign in.
    pub status: UserStatus,
    /// When the user was created (RFC 3339).
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            status: u.status,
            created_at: u.created_at.clone(),
        }
    }
}

/// An API key as stored (the hash, never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Public id.
    pub id: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Label.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Optional narrowing scopes.
    pub scopes: Option<Vec<Permission>>,
    /// SHA-256 of the full key.
    pub hash: String,
    /// Who created it.
    pub created_by: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// Epoch second after which it is refused. Stored as `key_expires_at`: `expires_at` is the
    /// table's TTL attribute, reserved by the Table port (a key is refused at expiry, not deleted).
    #[serde(rename = "key_expires_at")]
    pub expires_at: Option<i64>,
    /// Epoch second of its last use (updated at most once a minute).
    pub last_used_at: Option<i64>,
    /// Epoch second it was revoked.
    pub revoked_at: Option<i64>,
}

/// What the API shows of an API key (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    /// Public id.
    pub id: String,
    /// Label.
    pub name: String,
    /// The key's role.
    pub role: Role,
    /// Permissions narrowing the role; absent or null means the whole role.
    pub scopes: Option<Vec<Permission>>,
    /// Id of the user who created it.
    pub created_by: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it expires (epoch seconds); null if never.
    pub expires_at: Option<i64>,
    /// When it was last used (epoch seconds, updated at most once a minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked (epoch seconds); null while active.
    pub revoked_at: Option<i64>,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            role: k.role,
            scopes: k.scopes.clone(),
            created_by: k.created_by.clone(),
            created_at: k.created_at.clone(),
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A refresh token as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// Tenant.
    pub tenant_id: TenantId,
    /// User.
    pub user_id: String,
    /// Its family (session).
    pub family: String,
    /// Whether it has been exchanged already.
    pub used: bool,
}

/// An invitation as stored (keyed by its token's hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationRecord {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Invitee's normalised email.
    pub email: String,
    /// Role they will get.
    pub role: Role,
    /// Who invited.
    pub invited_by: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// Normalises and checks an email address.
pub fn normalize_email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid { Ok(email) } else { Err("email must be a valid address".into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "@x.io", "a@b", "a@.io", "a b@x.io", "a@x.io.", "a@@x.io"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_bounds() {
        assert!(TenantSettings::default().validate().is_ok());
        let s = TenantSettings { rate_limit_per_minute: 1, ..TenantSettings::default() };
        assert!(s.validate().is_err());
    }
}
