//! How compliance state is laid out as Table items, and the small helpers that read and write
//! them. Every key comes from `kushim_adapters::keys`; this module only decides what the items
//! hold:
//!
//! - `RESULT#<check>#<resource key>`: the latest result of a check on a resource, with the
//!   original resource id, the run that produced it and when its status last changed;
//! - `CONTROL#<control>`: the control's current evaluation, when it was made, until when it holds
//!   (the earliest expiry of the exceptions it relied on) and a version for optimistic locking;
//! - `SNAP#<control>#<YYYY-MM-DD>`: the control's status on one day (the day's last evaluation);
//! - `EXCEPTION#<id>`: an exception, with a version for optimistic locking;
//! - `EVCONTROL#<control>#<digest>` (read only): a link from a piece of evidence to a control,
//!   written by the evidence store with the record; uploaded (`manual`) evidence is the manual
//!   evidence the engine judges for freshness.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Item, Query, Table};
use kushim_checks::{CheckResult, Status};
use kushim_domain::TenantId;
use kushim_engine::{ControlEvaluation, ControlStatus, DailyStatus, Exception, ExceptionScope, ManualEvidence};
use serde::{Deserialize, Serialize};

use crate::Result;

/// Most reasons kept with an evaluation; the rest are summarised in one line, so a control with
/// thousands of failing resources still fits in one item.
pub const MAX_REASONS: usize = 20;

/// Reads every item a query matches, page by page.
pub(crate) async fn query_all(table: &dyn Table, query: Query) -> Result<Vec<Item>> {
    Ok(kushim_adapters::table::query_all(table, query).await?)
}

/// The built-in checks supporting each control.
static CHECKS_BY_CONTROL: LazyLock<BTreeMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    let mut map: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for check in kushim_checks::registry() {
        for control in check.def().controls {
            map.entry(*control).or_default().push(check.id());
        }
    }
    map
});

/// The ids of the built-in checks that support a control (empty for manual controls).
pub fn checks_for_control(control_id: &str) -> &'static [&'static str] {
    CHECKS_BY_CONTROL.get(control_id).map_or(&[], Vec::as_slice)
}

/// The controls a check supports (empty for checks that are not built in).
pub(crate) fn controls_for_check(check_id: &str) -> &'static [&'static str] {
    kushim_checks::find_check(check_id).map_or(&[], |c| c.def().controls)
}

/// Keeps the first [`MAX_REASONS`] reasons and counts the rest in one closing line.
pub(crate) fn cap_reasons(mut evaluation: ControlEvaluation) -> ControlEvaluation {
    if evaluation.reasons.len() > MAX_REASONS {
        let more = evaluation.reasons.len() - MAX_REASONS;
        evaluation.reasons.truncate(MAX_REASONS);
        evaluation.reasons.push(format!("and {more} more"));
    }
    evaluation
}

/// The `RESULT#` item: the latest result of one check on one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredResult {
    pub check_id: String,
    pub resource_id: String,
    pub status: Status,
    pub reason: String,
    /// The run that produced this result.
    pub run_id: String,
    /// When this run's result was first recorded.
    pub recorded_at: DateTime<Utc>,
    /// When the status last changed (or was first seen).
    pub status_since: DateTime<Utc>,
    /// The status before the last change (`pass`, `fail`, ...), if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    pub first_seen_at: DateTime<Utc>,
    /// The part of the estate whose collection produced the result (`<integration>/<slice>`), for
    /// results a connector observed; a later observation of the same scope replaces them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When the evidence behind the result was collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<DateTime<Utc>>,
}

impl StoredResult {
    pub fn item(&self, tenant: &TenantId) -> Item {
        let mut item = Item::new(keys::check_result(tenant, &self.check_id, &self.resource_id));
        item.attrs = to_attrs(self);
        item
    }

    pub fn to_result(&self) -> CheckResult {
        CheckResult {
            check_id: self.check_id.clone(),
            resource_id: self.resource_id.clone(),
            status: self.status.clone(),
            reason: self.reason.clone(),
        }
    }
}

/// Reads the latest results of every check, every resource.
pub(crate) async fn load_all_results(table: &dyn Table, tenant: &TenantId) -> Result<Vec<StoredResult>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::CHECK_RESULTS_PREFIX);
    query_all(table, query).await?.iter().map(|i| Ok(i.parse()?)).collect()
}

/// Reads the latest results of one check, every resource.
pub(crate) async fn load_results(table: &dyn Table, tenant: &TenantId, check_id: &str) -> Result<Vec<StoredResult>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::check_results_prefix(check_id));
    query_all(table, query).await?.iter().map(|i| Ok(i.parse()?)).collect()
}

/// The `CONTROL#` item: a control's current evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StoredControl {
    #[serde(flatten)]
    pub evaluation: ControlEvaluation,
    pub evaluated_at: DateTime<Utc>,
    /// The evaluation relied on exceptions; from this instant one of them has expired and the
    /// evaluation must be redone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<DateTime<Utc>>,
    pub version: u64,
}

impl StoredControl {
    pub fn item(&self, tenant: &TenantId) -> Item {
        let mut item = Item::new(keys::control_status(tenant, &self.evaluation.control_id));
        item.attrs = to_attrs(self);
        item
    }

    /// Whether the evaluation still holds at `now`.
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_none_or(|until| until > now)
    }
}

/// Reads every stored control evaluation of a tenant, by control id.
pub(crate) async fn load_controls(table: &dyn Table, tenant: &TenantId) -> Result<BTreeMap<String, StoredControl>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::CONTROL_STATUS_PREFIX);
    query_all(table, query)
        .await?
        .iter()
        .map(|i| {
            let stored: StoredControl = i.parse()?;
            Ok((stored.evaluation.control_id.clone(), stored))
        })
        .collect()
}

/// The `SNAP#` item: a control's status on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    pub control_id: String,
    pub date: NaiveDate,
    pub status: ControlStatus,
    pub passed: usize,
    pub failed: usize,
    pub excepted: usize,
    pub inconclusive: usize,
    pub not_applicable: usize,
    pub evaluated_at: DateTime<Utc>,
}

impl Snapshot {
    pub fn of(evaluation: &ControlEvaluation, now: DateTime<Utc>) -> Self {
        Self {
            control_id: evaluation.control_id.clone(),
            date: now.date_naive(),
            status: evaluation.status,
            passed: evaluation.passed,
            failed: evaluation.failed,
            excepted: evaluation.excepted,
            inconclusive: evaluation.inconclusive,
            not_applicable: evaluation.not_applicable,
            evaluated_at: now,
        }
    }

    pub fn item(&self, tenant: &TenantId) -> Item {
        let mut item = Item::new(keys::control_snapshot(tenant, &self.control_id, &day(self.date)));
        item.attrs = to_attrs(self);
        item
    }

    pub fn daily(&self) -> DailyStatus {
        DailyStatus { date: self.date, status: self.status }
    }
}

/// A date as it appears in snapshot keys (`YYYY-MM-DD`).
pub(crate) fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// An exception as stored: the engine's record plus a version. Its expiry is stored as
/// `ends_at`, because `expires_at` is the table's TTL attribute and an exception must outlive its
/// expiry (it stays listed, and history refers to it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredException {
    pub exception: Exception,
    pub version: u64,
}

/// The attributes of an `EXCEPTION#` item.
#[derive(Serialize, Deserialize)]
struct ExceptionAttrs {
    id: String,
    scope: ExceptionScope,
    reason: String,
    requested_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approved_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    approved_at: Option<DateTime<Utc>>,
    ends_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compensating_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
    version: u64,
}

impl StoredException {
    pub fn item(&self, tenant: &TenantId) -> Item {
        let e = self.exception.clone();
        let attrs = ExceptionAttrs {
            id: e.id,
            scope: e.scope,
            reason: e.reason,
            requested_by: e.requested_by,
            approved_by: e.approved_by,
            approved_at: e.approved_at,
            ends_at: e.expires_at,
            compensating_control: e.compensating_control,
            revoked_at: e.revoked_at,
            version: self.version,
        };
        let mut item = Item::new(keys::exception(tenant, &self.exception.id));
        item.attrs = to_attrs(&attrs);
        item
    }

    pub fn parse(item: &Item) -> Result<Self> {
        let a: ExceptionAttrs = item.parse()?;
        let exception = Exception {
            id: a.id,
            scope: a.scope,
            reason: a.reason,
            requested_by: a.requested_by,
            approved_by: a.approved_by,
            approved_at: a.approved_at,
            expires_at: a.ends_at,
            compensating_control: a.compensating_control,
            revoked_at: a.revoked_at,
        };
        Ok(Self { exception, version: a.version })
    }
}

/// Reads every exception of a tenant (requested, approved, revoked and expired alike).
pub(crate) async fn load_exceptions(table: &dyn Table, tenant: &TenantId) -> Result<Vec<Exception>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::EXCEPTION_PREFIX);
    query_all(table, query).await?.iter().map(|i| Ok(StoredException::parse(i)?.exception)).collect()
}

/// The connector of manually uploaded evidence.
pub(crate) const MANUAL_CONNECTOR: &str = "manual";

/// The fields of an `EVCONTROL#` link row the engine needs (the evidence store writes more).
#[derive(Deserialize)]
struct EvidenceLink {
    control_id: String,
    connector: String,
    collected_at: DateTime<Utc>,
    #[serde(default)]
    valid_until: Option<DateTime<Utc>>,
}

/// The tenant's uploaded evidence, one entry per control it is linked to (fresh or not: the
/// engine decides).
pub(crate) async fn load_manual_evidence(table: &dyn Table, tenant: &TenantId) -> Result<Vec<ManualEvidence>> {
    let query = Query::partition(keys::tenant_pk(tenant)).begins_with(keys::EVIDENCE_CONTROL_PREFIX);
    let mut out = Vec::new();
    for item in query_all(table, query).await? {
        let link: EvidenceLink = item.parse()?;
        if link.connector == MANUAL_CONNECTOR {
            out.push(ManualEvidence {
                control_id: link.control_id,
                collected_at: link.collected_at,
                valid_until: link.valid_until,
            });
        }
    }
    Ok(out)
}

fn to_attrs<T: Serialize>(value: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => unreachable!("stored records are structs of plain data"),
    }
}
