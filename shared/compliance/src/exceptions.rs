//! Exceptions (risk acceptances) of a tenant: requesting, approving, revoking and listing them.
//!
//! The rules (who may approve, how long one may run) are the engine's; this module stores each
//! exception as an `EXCEPTION#<id>` item with a version, so two approvers acting at once cannot
//! both succeed. Approving or revoking one re-evaluates the controls it can affect at once; expiry
//! needs no write, because reads re-evaluate a control whose stored evaluation relied on an
//! exception that has since expired.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::table::Condition;
use kushim_catalog::catalog;
use kushim_domain::{Role, TenantId};
use kushim_engine::{Exception, ExceptionScope};

use crate::store::{StoredException, controls_for_check, load_exceptions};
use crate::{Compliance, ComplianceError, Result};

/// The controls an exception with this scope can change: the one it names, else those of the check
/// it names, else every control that automated checks support.
fn affected_controls(scope: &ExceptionScope) -> BTreeSet<&str> {
    match (&scope.control_id, &scope.check_id) {
        (Some(control), _) => BTreeSet::from([control.as_str()]),
        (None, Some(check)) => controls_for_check(check).iter().copied().collect(),
        (None, None) => kushim_engine::coverage::checked_controls(),
    }
}

impl Compliance {
    /// Asks for an exception. It does not apply until someone else (an admin or owner) approves
    /// it. The control and check in the scope, when given, must exist.
    #[allow(clippy::too_many_arguments)]
    pub async fn request_exception(
        &self,
        tenant: &TenantId,
        requester: &str,
        scope: ExceptionScope,
        reason: &str,
        expires_at: DateTime<Utc>,
        compensating_control: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Exception> {
        if let Some(control) = &scope.control_id
            && catalog().control(control).is_none()
        {
            return Err(ComplianceError::UnknownControl(control.clone()));
        }
        if let Some(check) = &scope.check_id
            && kushim_checks::find_check(check).is_none()
        {
            return Err(ComplianceError::Invalid(format!("unknown check {check}")));
        }
        if let Some(control) = &compensating_control
            && catalog().control(control).is_none()
        {
            return Err(ComplianceError::UnknownControl(control.clone()));
        }
        let id = uuid::Uuid::now_v7().simple().to_string();
        let exception = Exception::request(
            id,
            scope,
            reason.to_owned(),
            requester.to_owned(),
            expires_at,
            compensating_control,
            now,
        )?;
        let stored = StoredException { exception, version: 1 };
        self.table.put(stored.item(tenant), Some(Condition::NotExists)).await?;
        Ok(stored.exception)
    }

    /// Approves an exception (not by its requester; admins and owners only) and re-evaluates the
    /// controls it affects.
    pub async fn approve_exception(
        &self,
        tenant: &TenantId,
        id: &str,
        approver: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<Exception> {
        let mut stored = self.load_exception(tenant, id).await?;
        stored.exception.approve(approver, role, now)?;
        self.save_exception(tenant, &mut stored).await?;
        self.reevaluate(tenant, &affected_controls(&stored.exception.scope), now).await?;
        Ok(stored.exception)
    }

    /// Revokes an exception (revoking twice is harmless) and re-evaluates the controls it
    /// affected: the failures it covered are back at once.
    pub async fn revoke_exception(&self, tenant: &TenantId, id: &str, now: DateTime<Utc>) -> Result<Exception> {
        let mut stored = self.load_exception(tenant, id).await?;
        if stored.exception.revoked_at.is_none() {
            stored.exception.revoke(now);
            self.save_exception(tenant, &mut stored).await?;
        }
        self.reevaluate(tenant, &affected_controls(&stored.exception.scope), now).await?;
        Ok(stored.exception)
    }

    /// One exception of the tenant.
    pub async fn exception(&self, tenant: &TenantId, id: &str) -> Result<Exception> {
        Ok(self.load_exception(tenant, id).await?.exception)
    }

    /// Every exception of the tenant, oldest first (ids are time-ordered), whatever its state.
    pub async fn list_exceptions(&self, tenant: &TenantId) -> Result<Vec<Exception>> {
        load_exceptions(self.table.as_ref(), tenant).await
    }

    async fn load_exception(&self, tenant: &TenantId, id: &str) -> Result<StoredException> {
        if id.is_empty() || id.len() > 64 || id.contains('#') {
            return Err(ComplianceError::ExceptionNotFound(id.to_owned()));
        }
        match self.table.get(&keys::exception(tenant, id)).await? {
            Some(item) => StoredException::parse(&item),
            None => Err(ComplianceError::ExceptionNotFound(id.to_owned())),
        }
    }

    /// Writes a changed exception if nobody else changed it since it was read.
    async fn save_exception(&self, tenant: &TenantId, stored: &mut StoredException) -> Result<()> {
        let read_version = stored.version;
        stored.version += 1;
        match self.table.put(stored.item(tenant), Some(Condition::VersionEquals(read_version))).await {
            Ok(()) => Ok(()),
            Err(AdapterError::ConditionFailed) => {
                Err(ComplianceError::Conflict(format!("exception {}", stored.exception.id)))
            }
            Err(e) => Err(e.into()),
        }
    }
}
