//! The integration store: connect, read, change, pause, resume and delete a tenant's
//! integrations, the per-tenant AWS ExternalId, and the enabled-regions cache the AWS connector
//! refreshes. Credentials go only to the Secrets port, under the one name
//! [`secret_name`] builds; the table item only says whether there are some.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::secrets::Secrets;
use kushim_adapters::table::{Condition, Item, Query, Table, TxOp};
use kushim_domain::{IntegrationId, TenantId};
use serde_json::Value;

use crate::model::{
    Credentials, EnabledRegions, Integration, IntegrationKind, IntegrationSettings, IntegrationStatus, is_region,
    validate_display_name,
};
use crate::schedule::{Cadence, Schedule, tenant_time_zone};
use crate::{Error, Result};

/// Most integrations one tenant may connect (a planner transaction holds a tenant's run, its
/// locks and its schedules, within DynamoDB's 100 operations).
pub const MAX_INTEGRATIONS_PER_TENANT: usize = 25;

/// Length of a generated AWS ExternalId.
pub const EXTERNAL_ID_LEN: usize = 40;

/// The Secrets-port name of an integration's credentials (the adapter adds the stack prefix).
pub fn secret_name(tenant: &TenantId, integration: &IntegrationId) -> String {
    format!("tenants/{tenant}/integrations/{integration}")
}

/// What a person asks to connect.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// Display name.
    pub display_name: String,
    /// Validated settings (their kind is the integration's).
    pub settings: IntegrationSettings,
    /// Credentials (required for GitHub and Okta, refused for AWS).
    pub credentials: Option<Credentials>,
    /// Schedule; daily at 02:00 in the tenant's zone when absent.
    pub cadence: Option<Cadence>,
}

/// A change to an integration; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct IntegrationPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New settings (same kind).
    pub settings: Option<IntegrationSettings>,
    /// Rotated credentials.
    pub credentials: Option<Credentials>,
}

/// The result of connecting.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The integration.
    pub integration: Integration,
    /// Its schedule.
    pub schedule: Schedule,
    /// For AWS: the tenant's ExternalId to put in the role's trust policy.
    pub external_id: Option<String>,
}

/// Reads one integration of the tenant from the table.
pub async fn get_integration(table: &dyn Table, tenant: &TenantId, id: &IntegrationId) -> Result<Integration> {
    match table.get(&keys::integration(tenant, id)).await? {
        Some(item) => Ok(item.parse()?),
        None => Err(Error::NotFound),
    }
}

/// Reads every integration of the tenant from the table, oldest first.
pub async fn list_integrations(table: &dyn Table, tenant: &TenantId) -> Result<Vec<Integration>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::INTEGRATION_PREFIX).limit(1000);
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        for item in &page.items {
            out.push(item.parse::<Integration>()?);
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

/// The integration store.
#[derive(Clone)]
pub struct IntegrationStore {
    table: Arc<dyn Table>,
    secrets: Arc<dyn Secrets>,
}

fn to_item(i: &Integration) -> Result<Item> {
    match serde_json::to_value(i) {
        Ok(Value::Object(attrs)) => Ok(Item { attrs, ..Item::new(keys::integration(&i.tenant_id, &i.id)) }),
        _ => Err(Error::Invalid("integration does not serialise".into())),
    }
}

fn generate_external_id() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    let body: String = rand::rng().sample_iter(&Alphanumeric).take(EXTERNAL_ID_LEN).map(char::from).collect();
    format!("kushim-{body}")
}

impl IntegrationStore {
    /// A store on the table and the secrets.
    pub fn new(table: Arc<dyn Table>, secrets: Arc<dyn Secrets>) -> Self {
        Self { table, secrets }
    }

    /// An integration of the tenant.
    pub async fn get(&self, tenant: &TenantId, id: &IntegrationId) -> Result<Integration> {
        get_integration(self.table.as_ref(), tenant, id).await
    }

    /// Every integration of the tenant (at most [`MAX_INTEGRATIONS_PER_TENANT`]), oldest first.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Integration>> {
        list_integrations(self.table.as_ref(), tenant).await
    }

    /// The tenant's AWS ExternalId, generated (random, 47 characters) the first time it is asked
    /// for and the same ever after, however many callers race for it.
    pub async fn external_id(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<String> {
        let key = keys::aws_external_id(tenant);
        for _ in 0..5 {
            if let Some(item) = self.table.get(&key).await?
                && let Some(id) = item.attrs.get("external_id").and_then(Value::as_str)
            {
                return Ok(id.to_owned());
            }
            let item = Item::new(key.clone())
                .with("external_id", generate_external_id())
                .with("created_at", serde_json::to_value(now).unwrap_or_default());
            match self.table.put(item, Some(Condition::NotExists)).await {
                Ok(()) | Err(AdapterError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention("external id"))
    }

    /// Connects an integration: validates, stores credentials in the Secrets port, then the
    /// record and its schedule in one transaction.
    pub async fn connect(&self, tenant: &TenantId, new: NewIntegration, now: DateTime<Utc>) -> Result<Connected> {
        validate_display_name(&new.display_name)?;
        new.settings.validate()?;
        let kind = new.settings.kind();
        match (&new.credentials, kind) {
            (Some(_), IntegrationKind::Aws) => {
                return Err(Error::Invalid("AWS integrations take no credentials".into()));
            }
            (None, IntegrationKind::Github | IntegrationKind::Okta) => {
                return Err(Error::Invalid(format!("{kind} integrations need credentials")));
            }
            (Some(c), k) if c.kind() != k => {
                return Err(Error::Invalid(format!("credentials are not {k} credentials")));
            }
            _ => {}
        }
        if let Some(c) = &new.cadence {
            c.validate()?;
        }
        if self.list(tenant).await?.len() >= MAX_INTEGRATIONS_PER_TENANT {
            return Err(Error::Conflict(format!(
                "a tenant may connect at most {MAX_INTEGRATIONS_PER_TENANT} integrations"
            )));
        }
        let external_id = match kind {
            IntegrationKind::Aws => Some(self.external_id(tenant, now).await?),
            _ => None,
        };
        let id = IntegrationId::generate();
        let integration = Integration {
            id: id.clone(),
            tenant_id: tenant.clone(),
            display_name: new.display_name,
            settings: new.settings,
            status: IntegrationStatus::Active,
            has_credentials: new.credentials.is_some(),
            enabled_regions: BTreeMap::new(),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        if let Some(c) = &new.credentials {
            self.secrets.put(&secret_name(tenant, &id), c.to_secret()).await?;
        }
        let tz = tenant_time_zone(self.table.as_ref(), tenant).await?;
        let schedule = Schedule::new(tenant, &id, new.cadence.unwrap_or_default(), tz, now);
        let ops = vec![
            TxOp::Put { item: to_item(&integration)?, condition: Some(Condition::NotExists) },
            TxOp::Put { item: schedule.to_item()?, condition: Some(Condition::NotExists) },
        ];
        if let Err(e) = self.table.transact_write(ops).await {
            if integration.has_credentials {
                let _ = self.secrets.delete(&secret_name(tenant, &id)).await;
            }
            return Err(e.into());
        }
        Ok(Connected { integration, schedule, external_id })
    }

    /// Applies `change` to the current record with an optimistic-locking retry loop.
    async fn modify(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        change: impl Fn(&mut Integration) -> Result<bool>,
    ) -> Result<(Integration, bool)> {
        for _ in 0..20 {
            let current = self.get(tenant, id).await?;
            let mut next = current.clone();
            if !change(&mut next)? {
                return Ok((current, false));
            }
            next.version = current.version + 1;
            match self.table.put(to_item(&next)?, Some(Condition::VersionEquals(current.version))).await {
                Ok(()) => return Ok((next, true)),
                Err(AdapterError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention("integration"))
    }

    /// Changes the display name or settings, or rotates the credentials.
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        patch: IntegrationPatch,
        now: DateTime<Utc>,
    ) -> Result<Integration> {
        if let Some(name) = &patch.display_name {
            validate_display_name(name)?;
        }
        if let Some(s) = &patch.settings {
            s.validate()?;
        }
        let current = self.get(tenant, id).await?;
        if let Some(s) = &patch.settings
            && s.kind() != current.kind()
        {
            return Err(Error::Invalid(format!("settings must stay {} settings", current.kind())));
        }
        if let Some(c) = &patch.credentials {
            if c.kind() != current.kind() {
                return Err(Error::Invalid(format!("credentials are not {} credentials", current.kind())));
            }
            self.secrets.put(&secret_name(tenant, id), c.to_secret()).await?;
        }
        let rotated = patch.credentials.is_some();
        let (updated, _) = self
            .modify(tenant, id, |i| {
                if let Some(name) = &patch.display_name {
                    i.display_name = name.clone();
                }
                if let Some(s) = &patch.settings {
                    i.settings = s.clone();
                    // Forget regions of accounts that were removed.
                    if let IntegrationSettings::Aws(aws) = s {
                        i.enabled_regions.retain(|acct, _| aws.accounts.iter().any(|a| &a.account_id == acct));
                    }
                }
                if rotated {
                    i.has_credentials = true;
                }
                i.updated_at = now;
                Ok(true)
            })
            .await?;
        Ok(updated)
    }

    /// Sets the status; returns the integration and whether it changed.
    pub async fn set_status(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        status: IntegrationStatus,
        now: DateTime<Utc>,
    ) -> Result<(Integration, bool)> {
        self.modify(tenant, id, |i| {
            if i.status == status {
                return Ok(false);
            }
            i.status = status;
            i.updated_at = now;
            Ok(true)
        })
        .await
    }

    /// Records the enabled regions of one AWS account (the connector's region discovery).
    pub async fn set_enabled_regions(
        &self,
        tenant: &TenantId,
        id: &IntegrationId,
        account_id: &str,
        regions: &[String],
        now: DateTime<Utc>,
    ) -> Result<Integration> {
        if let Some(bad) = regions.iter().find(|r| !is_region(r)) {
            return Err(Error::Invalid(format!("{bad:?} is not an AWS region name")));
        }
        let mut sorted = regions.to_vec();
        sorted.sort();
        sorted.dedup();
        let (updated, _) = self
            .modify(tenant, id, |i| {
                let Some(aws) = i.aws() else { return Err(Error::Invalid("not an AWS integration".into())) };
                if !aws.accounts.iter().any(|a| a.account_id == account_id) {
                    return Err(Error::Invalid(format!("account {account_id} is not part of this integration")));
                }
                i.enabled_regions
                    .insert(account_id.to_owned(), EnabledRegions { regions: sorted.clone(), refreshed_at: now });
                Ok(true)
            })
            .await?;
        Ok(updated)
    }

    /// The integration's credentials (for connectors and the connection test), if it has any.
    pub async fn credentials(&self, tenant: &TenantId, id: &IntegrationId) -> Result<Option<Credentials>> {
        match self.secrets.get(&secret_name(tenant, id)).await {
            Ok(secret) => Ok(Some(Credentials::from_secret(&secret)?)),
            Err(AdapterError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the integration, its schedule, its health record and its credentials. Jobs still
    /// in flight then find no integration, which connectors treat as a permanent failure.
    pub async fn delete(&self, tenant: &TenantId, id: &IntegrationId) -> Result<Integration> {
        let current = self.get(tenant, id).await?;
        let ops = vec![
            TxOp::Delete { key: keys::integration(tenant, id), condition: Some(Condition::Exists) },
            crate::schedule::Schedules::delete_op(tenant, id),
            TxOp::Delete { key: keys::integration_breaker(tenant, id), condition: None },
        ];
        match self.table.transact_write(ops).await {
            Ok(()) => {}
            Err(AdapterError::TransactionCanceled { .. }) => return Err(Error::NotFound),
            Err(e) => return Err(e.into()),
        }
        match self.secrets.delete(&secret_name(tenant, id)).await {
            Ok(()) | Err(AdapterError::NotFound(_)) => {}
            Err(e) => {
                tracing::error!(code = e.code(), integration = %id, "integration deleted but its secret was not");
                return Err(e.into());
            }
        }
        Ok(current)
    }
}
