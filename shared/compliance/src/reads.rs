//! Reading a tenant's compliance state: control status (alone or listed), the latest results
//! behind a control, framework readiness, daily history and operating effectiveness.
//!
//! A stored evaluation is used as it is unless it relied on an exception that has expired since,
//! or on manual evidence that has gone stale since; then the control is evaluated again from the
//! stored results, uploaded evidence and exceptions (without writing: reads never change state).
//! A control never evaluated for the tenant is evaluated from its uploaded evidence alone (the
//! engine reports nothing at all as not started).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Query, SortKey};
use kushim_catalog::{Control, ControlKind, FrameworkId, catalog};
use kushim_checks::CheckResult;
use kushim_domain::TenantId;
use kushim_engine::{
    ControlEvaluation, ControlStatus, DailyStatus, Effectiveness, Exception, ManualEvidence, Readiness,
};
use serde::{Deserialize, Serialize};

use crate::record::evaluate;
use crate::report::{ControlEffectiveness, FrameworkEffectiveness};
use crate::store::{
    Snapshot, StoredControl, checks_for_control, day, load_controls, load_exceptions, load_manual_evidence,
    load_results, query_all,
};
use crate::{Compliance, ComplianceError, Result};

/// Which controls [`Compliance::list_controls`] returns; every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlFilter {
    /// Controls mapped to this framework.
    pub framework: Option<FrameworkId>,
    /// Controls in this status.
    pub status: Option<ControlStatus>,
    /// Controls of this area (`identity_access`, ...).
    pub area: Option<String>,
}

fn control(control_id: &str) -> Result<&'static Control> {
    catalog().control(control_id).ok_or_else(|| ComplianceError::UnknownControl(control_id.to_owned()))
}

fn check_window(from: NaiveDate, to: NaiveDate) -> Result<()> {
    if from > to {
        return Err(ComplianceError::Invalid(format!("the window {from}..{to} ends before it starts")));
    }
    Ok(())
}

impl Compliance {
    /// How a control stands for the tenant at `now`.
    pub async fn control_status(
        &self,
        tenant: &TenantId,
        control_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ControlEvaluation> {
        let control = control(control_id)?;
        let stored = match self.table.get(&keys::control_status(tenant, control_id)).await? {
            Some(item) => BTreeMap::from([(control.id.clone(), item.parse::<StoredControl>()?)]),
            None => BTreeMap::new(),
        };
        let mut evaluations = self.current(tenant, &[control], stored, now).await?;
        Ok(evaluations.remove(&control.id).expect("evaluated every control asked for"))
    }

    /// The catalog's controls matching the filter, in catalog order, each with how it stands.
    pub async fn list_controls(
        &self,
        tenant: &TenantId,
        filter: &ControlFilter,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Control, ControlEvaluation)>> {
        let controls: Vec<&Control> = catalog()
            .controls()
            .iter()
            .filter(|c| filter.framework.is_none_or(|f| !c.mapped(f).is_empty()))
            .filter(|c| filter.area.as_deref().is_none_or(|a| c.area == a))
            .collect();
        let stored = load_controls(self.table.as_ref(), tenant).await?;
        let mut evaluations = self.current(tenant, &controls, stored, now).await?;
        Ok(controls
            .into_iter()
            .filter_map(|c| {
                let evaluation = evaluations.remove(&c.id)?;
                filter.status.is_none_or(|s| s == evaluation.status).then(|| (c.clone(), evaluation))
            })
            .collect())
    }

    /// Readiness of one framework for the tenant: how many of its controls stand where.
    pub async fn readiness(&self, tenant: &TenantId, framework: FrameworkId, now: DateTime<Utc>) -> Result<Readiness> {
        let controls: Vec<&Control> = catalog().controls().iter().filter(|c| !c.mapped(framework).is_empty()).collect();
        let stored = load_controls(self.table.as_ref(), tenant).await?;
        let evaluations = self.current(tenant, &controls, stored, now).await?;
        Ok(kushim_engine::readiness(catalog(), framework, &evaluations))
    }

    /// The latest result of each check supporting the control on each resource, by check then
    /// resource id (empty for manual controls).
    pub async fn latest_results(&self, tenant: &TenantId, control_id: &str) -> Result<Vec<CheckResult>> {
        let control = control(control_id)?;
        let mut results = Vec::new();
        for check in checks_for_control(&control.id) {
            let stored = load_results(self.table.as_ref(), tenant, check).await?;
            results.extend(stored.iter().map(|s| s.to_result()));
        }
        results.sort_by(|a, b| (&a.check_id, &a.resource_id).cmp(&(&b.check_id, &b.resource_id)));
        Ok(results)
    }

    /// The control's status on each day of `[from, to]` that has a snapshot, oldest first.
    pub async fn history(
        &self,
        tenant: &TenantId,
        control_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DailyStatus>> {
        let control = control(control_id)?;
        check_window(from, to)?;
        let prefix = keys::control_snapshots_prefix(&control.id);
        let query = Query {
            sort: SortKey::Between(format!("{prefix}{}", day(from)), format!("{prefix}{}", day(to))),
            ..Query::partition(keys::tenant_pk(tenant))
        };
        query_all(self.table.as_ref(), query).await?.iter().map(|i| Ok(i.parse::<Snapshot>()?.daily())).collect()
    }

    /// Operating effectiveness of one control over `[from, to]`.
    pub async fn effectiveness(
        &self,
        tenant: &TenantId,
        control_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Effectiveness> {
        let days = self.history(tenant, control_id, from, to).await?;
        Ok(kushim_engine::effectiveness(&days, from, to))
    }

    /// Operating effectiveness of every control mapped to a framework over `[from, to]`, and the
    /// figures summed over them.
    pub async fn framework_effectiveness(
        &self,
        tenant: &TenantId,
        framework: FrameworkId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<FrameworkEffectiveness> {
        check_window(from, to)?;
        let mut controls = Vec::new();
        for control in catalog().controls().iter().filter(|c| !c.mapped(framework).is_empty()) {
            let effectiveness = self.effectiveness(tenant, &control.id, from, to).await?;
            controls.push(ControlEffectiveness {
                control_id: control.id.clone(),
                title: control.title.clone(),
                effectiveness,
            });
        }
        Ok(FrameworkEffectiveness::new(framework, from, to, controls))
    }

    /// How each of `controls` stands at `now`, given their stored evaluations: stored ones that
    /// still hold are used as they are, the rest are evaluated from stored results and exceptions.
    async fn current(
        &self,
        tenant: &TenantId,
        controls: &[&Control],
        mut stored: BTreeMap<String, StoredControl>,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, ControlEvaluation>> {
        let mut exceptions: Option<Vec<Exception>> = None;
        let mut manual: Option<Vec<ManualEvidence>> = None;
        let mut cache = HashMap::new();
        let mut out = BTreeMap::new();
        for control in controls {
            let stored = stored.remove(&control.id);
            if let Some(s) = stored.as_ref().filter(|s| s.holds_at(now)) {
                out.insert(control.id.clone(), s.evaluation.clone());
                continue;
            }
            if manual.is_none() && control.kind != ControlKind::Automated {
                manual = Some(load_manual_evidence(self.table.as_ref(), tenant).await?);
            }
            let manual = manual.as_deref().unwrap_or_default();
            let evaluation = match stored {
                Some(_) => {
                    if exceptions.is_none() {
                        exceptions = Some(load_exceptions(self.table.as_ref(), tenant).await?);
                    }
                    let results = self.control_results(tenant, control, &mut cache).await?;
                    evaluate(control, &results, manual, exceptions.as_deref().unwrap_or_default(), now).0
                }
                None => evaluate(control, &[], manual, &[], now).0,
            };
            out.insert(control.id.clone(), evaluation);
        }
        Ok(out)
    }
}
