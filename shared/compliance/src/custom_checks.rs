//! A tenant's custom checks: CEL rules ([`RuleSpec`]) stored as `CUSTOMCHECK#<id>` items with a
//! version, so two editors acting at once cannot both succeed. Every write compiles the rule first
//! (a rule that would not compile is never stored), checks that each control it names is in the
//! catalog, and refuses an id a built-in check already uses.

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Query};
use kushim_catalog::catalog;
use kushim_domain::TenantId;
use kushim_rules::{CompiledRule, RuleSpec};
use serde::{Deserialize, Serialize};

use crate::store::query_all;
use crate::{Compliance, ComplianceError, Result};

/// A custom check as stored: the rule as submitted, and who made it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomCheck {
    /// The rule.
    pub spec: RuleSpec,
    /// Starts at 1; each update adds one.
    pub version: u64,
    /// The principal that created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

impl CustomCheck {
    fn item(&self, tenant: &TenantId) -> Item {
        let mut item = Item::new(keys::custom_check(tenant, &self.spec.id));
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(self) {
            item.attrs = map;
        }
        item
    }
}

/// Compiles the rule and checks what compiling cannot: its controls exist and its id is not a
/// built-in check's.
pub fn validate_custom_check(spec: &RuleSpec) -> Result<CompiledRule> {
    let compiled = CompiledRule::compile(spec.clone())?;
    if kushim_checks::find_check(&spec.id).is_some() {
        return Err(ComplianceError::Invalid(format!("{} is the id of a built-in check", spec.id)));
    }
    if let Some(control) = spec.controls.iter().find(|c| catalog().control(c).is_none()) {
        return Err(ComplianceError::UnknownControl(control.clone()));
    }
    Ok(compiled)
}

/// Whether `id` can name a stored custom check at all (anything else is simply not found).
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && !id.contains('#')
}

impl Compliance {
    /// Stores a new custom check; its id must not be taken.
    pub async fn create_custom_check(
        &self,
        tenant: &TenantId,
        spec: RuleSpec,
        created_by: &str,
        now: DateTime<Utc>,
    ) -> Result<CustomCheck> {
        validate_custom_check(&spec)?;
        let check =
            CustomCheck { spec, version: 1, created_by: created_by.to_owned(), created_at: now, updated_at: now };
        match self.table.put(check.item(tenant), Some(Condition::NotExists)).await {
            Ok(()) => Ok(check),
            Err(AdapterError::ConditionFailed) => Err(ComplianceError::CustomCheckExists(check.spec.id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces the rule of an existing custom check (the id cannot change). With
    /// `expected_version`, refuses if the stored check is at another version.
    pub async fn update_custom_check(
        &self,
        tenant: &TenantId,
        spec: RuleSpec,
        expected_version: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<CustomCheck> {
        let mut check = self.custom_check(tenant, &spec.id).await?;
        validate_custom_check(&spec)?;
        let read_version = check.version;
        if expected_version.is_some_and(|v| v != read_version) {
            return Err(ComplianceError::Conflict(format!("custom check {}", spec.id)));
        }
        check.spec = spec;
        check.version += 1;
        check.updated_at = now;
        match self.table.put(check.item(tenant), Some(Condition::VersionEquals(read_version))).await {
            Ok(()) => Ok(check),
            Err(AdapterError::ConditionFailed) => {
                Err(ComplianceError::Conflict(format!("custom check {}", check.spec.id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes a custom check; not found if there was none.
    pub async fn delete_custom_check(&self, tenant: &TenantId, id: &str) -> Result<()> {
        if !plausible_id(id) || !self.table.delete(&keys::custom_check(tenant, id), None).await? {
            return Err(ComplianceError::CustomCheckNotFound(id.to_owned()));
        }
        Ok(())
    }

    /// One custom check of the tenant.
    pub async fn custom_check(&self, tenant: &TenantId, id: &str) -> Result<CustomCheck> {
        if !plausible_id(id) {
            return Err(ComplianceError::CustomCheckNotFound(id.to_owned()));
        }
        match self.table.get(&keys::custom_check(tenant, id)).await? {
            Some(item) => Ok(item.parse()?),
            None => Err(ComplianceError::CustomCheckNotFound(id.to_owned())),
        }
    }

    /// Every custom check of the tenant, by id.
    pub async fn list_custom_checks(&self, tenant: &TenantId) -> Result<Vec<CustomCheck>> {
        let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::CUSTOM_CHECK_PREFIX);
        query_all(self.table.as_ref(), query).await?.iter().map(|i| Ok(i.parse()?)).collect()
    }
}
