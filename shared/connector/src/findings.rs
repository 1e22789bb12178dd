//! The finding events (`finding.failed`, `finding.resolved`, source `kushim.findings`) that
//! notifications consume, built in one place, and the retirement of a deleted integration's
//! findings.
//!
//! A finding resolves when its resource passes again, no longer applies, or is gone: the scope
//! that reported it no longer sees it (the resource was deleted) or the integration that observed
//! it was deleted. A gone finding's event says `status: "gone"` and why.

use chrono::{DateTime, Utc};
use kushim_adapters::bus::{Event, EventBus};
use kushim_checks::CheckResult;
use kushim_compliance::{Compliance, ComplianceError, RecordSummary};
use kushim_domain::{IntegrationId, TenantId};
use serde_json::json;

/// Source of finding events.
pub const FINDINGS_SOURCE: &str = "kushim.findings";
/// A (check, resource) pair started failing.
pub const FINDING_FAILED: &str = "finding.failed";
/// A failing (check, resource) pair passes again, no longer applies, or is gone.
pub const FINDING_RESOLVED: &str = "finding.resolved";
/// The status a resolved event carries when the resource is no longer observed.
pub const GONE: &str = "gone";

/// Where a finding event comes from: the tenant, the integration and, for a collection, its run.
pub struct FindingOrigin<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The integration whose collection (or deletion) produced the event.
    pub integration: &'a IntegrationId,
    /// The run whose job recorded the change, if a run did.
    pub run_id: Option<&'a str>,
}

/// The finding events of a recording: `finding.failed` for each newly failing pair and
/// `finding.resolved` for each resolved one, with the result that changed it (from `results`) or,
/// for a pair no longer observed, `gone` and `gone_reason`.
pub fn finding_events(
    origin: &FindingOrigin<'_>,
    summary: &RecordSummary,
    results: &[CheckResult],
    gone_reason: &str,
) -> Vec<Event> {
    let mut events = Vec::new();
    for (kind, pairs) in [(FINDING_FAILED, &summary.newly_failing), (FINDING_RESOLVED, &summary.resolved)] {
        for (check, resource) in pairs {
            let result = results.iter().find(|r| &r.check_id == check && &r.resource_id == resource);
            let (status, reason) = result.map_or((GONE, gone_reason), |r| (r.status.label(), r.reason.as_str()));
            events.push(finding_event(origin, kind, check, resource, status, reason));
        }
    }
    events
}

fn finding_event(
    origin: &FindingOrigin<'_>,
    kind: &str,
    check: &str,
    resource: &str,
    status: &str,
    reason: &str,
) -> Event {
    let def = kushim_checks::find_check(check).map(|c| c.def());
    Event {
        source: FINDINGS_SOURCE.into(),
        detail_type: kind.into(),
        detail: json!({
            "tenant_id": origin.tenant,
            "run_id": origin.run_id,
            "integration_id": origin.integration,
            "check_id": check,
            "resource_id": resource,
            "title": def.map(|d| d.title),
            "severity": def.map(|d| d.severity),
            "controls": def.map(|d| d.controls),
            "status": status,
            "reason": reason,
        }),
    }
}

/// Retires every result a deleted integration's collections produced, re-evaluates the controls
/// they supported and publishes `finding.resolved` (status `gone`) for its failing findings, so
/// tickets opened for them close. Safe to repeat: a second call finds nothing.
pub async fn retire_integration(
    compliance: &Compliance,
    bus: Option<&dyn EventBus>,
    tenant: &TenantId,
    integration: &IntegrationId,
    now: DateTime<Utc>,
) -> Result<RecordSummary, ComplianceError> {
    let summary = compliance.retire_scope(tenant, &format!("{integration}/"), now).await?;
    if let Some(bus) = bus {
        let origin = FindingOrigin { tenant, integration, run_id: None };
        let events = finding_events(&origin, &summary, &[], "The integration that observed this resource was deleted.");
        if !events.is_empty()
            && let Err(e) = kushim_integrations::events::publish(bus, events).await
        {
            tracing::warn!(error = %e, "could not publish the deleted integration's resolved findings");
        }
    }
    Ok(summary)
}
