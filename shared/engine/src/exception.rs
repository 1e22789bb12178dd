//! Exceptions (risk acceptance): a scoped, approved, expiring decision to accept a failing result.
//! While active, matching failures count as `excepted` instead of `failing`; when the exception
//! expires or is revoked, the failure is back by itself, because nothing was ever changed in the
//! results. The requester can never approve their own exception, and only admins and owners
//! approve.

use chrono::{DateTime, Utc};
use kushim_domain::Role;
use serde::{Deserialize, Serialize};

/// What an exception covers. Every present field must match; absent fields match anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionScope {
    /// A control id (`KC-IAM-01`).
    pub control_id: Option<String>,
    /// A check id (`aws.iam.user_mfa_console`).
    pub check_id: Option<String>,
    /// A resource id pattern; `*` matches any run of characters.
    pub resource_pattern: Option<String>,
}

/// A risk acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// Id.
    pub id: String,
    /// What it covers.
    pub scope: ExceptionScope,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who asked.
    pub requested_by: String,
    /// Who approved, once approved.
    pub approved_by: Option<String>,
    /// When it was approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When it stops applying.
    pub expires_at: DateTime<Utc>,
    /// The control that mitigates the risk meanwhile, if any.
    pub compensating_control: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why an exception could not be created or approved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExceptionError {
    /// The scope names nothing.
    #[error("an exception must name a control, a check or a resource pattern")]
    EmptyScope,
    /// The expiry is not in the future, or too far.
    #[error("an exception must expire between now and one year from now")]
    BadExpiry,
    /// The reason is missing or too long.
    #[error("an exception needs a reason of 1-2000 characters")]
    BadReason,
    /// The approver asked for it themselves.
    #[error("the requester cannot approve their own exception")]
    SelfApproval,
    /// The approver's role cannot approve.
    #[error("only admins and owners approve exceptions")]
    NotAnApprover,
    /// It was already decided.
    #[error("the exception was already approved or revoked")]
    AlreadyDecided,
}

/// Longest an exception may run.
pub const MAX_DAYS: i64 = 366;

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text.ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

impl Exception {
    /// A requested (not yet approved) exception, checked for shape.
    pub fn request(
        id: String,
        scope: ExceptionScope,
        reason: String,
        requested_by: String,
        expires_at: DateTime<Utc>,
        compensating_control: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, ExceptionError> {
        if scope.control_id.is_none() && scope.check_id.is_none() && scope.resource_pattern.is_none() {
            return Err(ExceptionError::EmptyScope);
        }
        if expires_at <= now || expires_at > now + chrono::Duration::days(MAX_DAYS) {
            return Err(ExceptionError::BadExpiry);
        }
        if reason.trim().is_empty() || reason.chars().count() > 2000 {
            return Err(ExceptionError::BadReason);
        }
        Ok(Self {
            id,
            scope,
            reason,
            requested_by,
            approved_by: None,
            approved_at: None,
            expires_at,
            compensating_control,
            revoked_at: None,
        })
    }

    /// Approves it: an admin or owner other than the requester.
    pub fn approve(&mut self, approver: &str, role: Role, now: DateTime<Utc>) -> Result<(), ExceptionError> {
        if self.approved_by.is_some() || self.revoked_at.is_some() {
            return Err(ExceptionError::AlreadyDecided);
        }
        if approver == self.requested_by {
            return Err(ExceptionError::SelfApproval);
        }
        if !matches!(role, Role::Owner | Role::Admin) {
            return Err(ExceptionError::NotAnApprover);
        }
        self.approved_by = Some(approver.to_owned());
        self.approved_at = Some(now);
        Ok(())
    }

    /// Revokes it (the failure it covered reappears at once).
    pub fn revoke(&mut self, now: DateTime<Utc>) {
        if self.revoked_at.is_none() {
            self.revoked_at = Some(now);
        }
    }

    /// Approved, not revoked, not expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.approved_by.is_some() && self.revoked_at.is_none() && self.expires_at > now
    }

    /// Whether it covers this result of this check on this resource under this control.
    pub fn covers(&self, control_id: &str, check_id: &str, resource_id: &str) -> bool {
        self.scope.control_id.as_deref().is_none_or(|c| c == control_id)
            && self.scope.check_id.as_deref().is_none_or(|c| c == check_id)
            && self.scope.resource_pattern.as_deref().is_none_or(|p| glob(p, resource_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-26T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn scope(pattern: &str) -> ExceptionScope {
        ExceptionScope {
            control_id: None,
            check_id: Some("aws.s3.bucket_versioning".into()),
            resource_pattern: Some(pattern.into()),
        }
    }

    #[test]
    fn globs() {
        assert!(glob("arn:aws:s3:::logs-*", "arn:aws:s3:::logs-2026"));
        assert!(glob("*-tmp", "build-tmp"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(glob("exact", "exact") && !glob("exact", "exactly"));
        assert!(!glob("ab*ba", "aba"), "prefix and suffix must not overlap");
    }

    #[test]
    fn requests_are_checked() {
        let empty = ExceptionScope { control_id: None, check_id: None, resource_pattern: None };
        let e = |s, r: &str, days| {
            Exception::request("e".into(), s, r.into(), "u1".into(), now() + chrono::Duration::days(days), None, now())
        };
        assert_eq!(e(empty, "why", 30).unwrap_err(), ExceptionError::EmptyScope);
        assert_eq!(e(scope("*"), "why", 0).unwrap_err(), ExceptionError::BadExpiry);
        assert_eq!(e(scope("*"), "why", 400).unwrap_err(), ExceptionError::BadExpiry);
        assert_eq!(e(scope("*"), " ", 30).unwrap_err(), ExceptionError::BadReason);
        assert!(e(scope("*"), "legacy bucket, migrating in Q1", 90).is_ok());
    }

    #[test]
    fn approval_rules_and_lifecycle() {
        let mut ex = Exception::request(
            "e".into(),
            scope("arn:aws:s3:::old-*"),
            "why".into(),
            "u1".into(),
            now() + chrono::Duration::days(30),
            None,
            now(),
        )
        .unwrap();
        assert!(!ex.is_active(now()), "requested is not active");
        assert_eq!(ex.approve("u1", Role::Owner, now()), Err(ExceptionError::SelfApproval));
        assert_eq!(ex.approve("u2", Role::Member, now()), Err(ExceptionError::NotAnApprover));
        ex.approve("u2", Role::Admin, now()).unwrap();
        assert_eq!(ex.approve("u3", Role::Owner, now()), Err(ExceptionError::AlreadyDecided));
        assert!(ex.is_active(now()));
        assert!(ex.covers("KC-BCP-01", "aws.s3.bucket_versioning", "arn:aws:s3:::old-logs"));
        assert!(!ex.covers("KC-BCP-01", "aws.s3.bucket_versioning", "arn:aws:s3:::new-logs"));
        assert!(!ex.covers("KC-BCP-01", "aws.s3.bucket_encryption", "arn:aws:s3:::old-logs"));
        assert!(!ex.is_active(now() + chrono::Duration::days(30)), "expired at its expiry");
        ex.revoke(now());
        assert!(!ex.is_active(now()));
    }
}
