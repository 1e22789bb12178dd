//! Expiry reminders. Evidence past its `valid_until` is no longer current (its controls need new
//! evidence), so owners are reminded [`REMINDER_DAYS`] before: 7 days, 1 day and on the day. The
//! daily planner calls [`expiry_reminders`] once a day (it may call it more often, or again after
//! a failure: every reminder is sent once).
//!
//! No scan: the store writes every record with a `valid_until` into the day partition of that
//! date (`EXPIRY#<yyyy-mm-dd>`, across tenants), so a run reads three partitions (today, today + 1,
//! today + 7), each entry checked against its current record. Before a reminder is published its
//! marker (`EXPIRYSENT#<digest>#<date>#<days>` in the tenant's partition) is written with
//! `attribute_not_exists`: a rerun, or a second planner running at the same time, finds the
//! marker and skips the reminder. When publishing fails the marker is removed again, so the next
//! run retries it. A run that is missed altogether skips that day's reminders.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::bus::{Event, EventBus, MAX_EVENTS, PublishOutcome};
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Key, Query, Table};
use kushim_domain::TenantId;
use serde::Serialize;

use crate::EvidenceError;
use crate::store::{EvidenceStore, ExpiryEntry, day};

/// Days before `valid_until` a reminder goes out.
pub const REMINDER_DAYS: [u32; 3] = [7, 1, 0];
/// The events' source.
pub const EVENT_SOURCE: &str = "kushim.evidence";
/// The events' detail type.
pub const EXPIRING: &str = "evidence.expiring";
/// How long a sent marker is kept after the `valid_until` it is about.
const MARKER_DAYS: i64 = 30;

/// What one run of [`expiry_reminders`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReminderSummary {
    /// Reminders due today (entries read from the day partitions that still match their record).
    pub due: usize,
    /// Reminders published by this run.
    pub sent: usize,
    /// Reminders an earlier run had already sent.
    pub already_sent: usize,
    /// Reminders the bus refused; their markers were removed so the next run retries them.
    pub failed: usize,
}

/// The detail of an `evidence.expiring` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiringDetail {
    /// The tenant.
    pub tenant: String,
    /// The evidence's id (its SHA-256, hex).
    pub evidence_id: String,
    /// Its title, if it has one.
    pub title: Option<String>,
    /// When it stops being current (RFC 3339).
    pub valid_until: String,
    /// Whole days left: 7, 1 or 0 (expires today).
    pub days_left: u32,
}

/// Publishes an `evidence.expiring` event (source [`EVENT_SOURCE`]) for each record of `tenant`
/// (or of every tenant) whose `valid_until` is 7 days, 1 day or 0 days after `now`'s date (UTC),
/// at most once per record and threshold however often it runs.
pub async fn expiry_reminders(
    store: &EvidenceStore,
    bus: &dyn EventBus,
    tenant: Option<&TenantId>,
    now: DateTime<Utc>,
) -> Result<ReminderSummary, EvidenceError> {
    let table = store.table();
    let mut summary = ReminderSummary::default();
    let mut claimed: Vec<(Key, Event)> = Vec::new();
    for days_left in REMINDER_DAYS {
        let date = day(now + Duration::days(i64::from(days_left)));
        for entry in day_entries(table, &date, tenant).await? {
            let Ok(owner) = TenantId::new(&entry.tenant) else { continue };
            // The entry is written with the record; trust the record, not the entry.
            let Some(record) = store.get(&owner, &entry.digest).await? else { continue };
            let Some(until) = record.valid_until.filter(|u| day(*u) == date) else { continue };
            summary.due += 1;
            let marker = keys::evidence_expiry_reminder(&owner, &record.digest, &date, days_left);
            let item = Item::new(marker.clone())
                .with("sent_at", now.to_rfc3339_opts(SecondsFormat::Secs, true))
                .expiring_at((until + Duration::days(MARKER_DAYS)).timestamp());
            match table.put(item, Some(Condition::NotExists)).await {
                Ok(()) => {}
                Err(AdapterError::ConditionFailed) => {
                    summary.already_sent += 1;
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let detail = ExpiringDetail {
                tenant: owner.to_string(),
                evidence_id: record.digest.clone(),
                title: record.title.clone(),
                valid_until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
                days_left,
            };
            let detail = serde_json::to_value(&detail)
                .map_err(|e| EvidenceError::Invalid(format!("reminder does not serialise: {e}")))?;
            claimed.push((marker, Event { source: EVENT_SOURCE.into(), detail_type: EXPIRING.into(), detail }));
        }
    }
    for batch in claimed.chunks(MAX_EVENTS) {
        let events: Vec<Event> = batch.iter().map(|(_, e)| e.clone()).collect();
        let outcomes = match bus.publish(events).await {
            Ok(outcomes) => outcomes,
            Err(e) => {
                tracing::warn!(code = e.code(), count = batch.len(), "could not publish expiry reminders");
                vec![PublishOutcome::Failed { code: e.code().to_owned(), retryable: e.is_retryable() }; batch.len()]
            }
        };
        for ((marker, _), outcome) in batch.iter().zip(outcomes.iter().chain(std::iter::repeat(&missing()))) {
            match outcome {
                PublishOutcome::Published(_) => summary.sent += 1,
                PublishOutcome::Failed { .. } => {
                    summary.failed += 1;
                    // Release the claim so the next run tries again.
                    if let Err(e) = table.delete(marker, None).await {
                        tracing::warn!(code = e.code(), "could not release an unsent reminder's marker");
                    }
                }
            }
        }
    }
    if summary.sent + summary.failed > 0 {
        tracing::info!(sent = summary.sent, failed = summary.failed, "evidence expiry reminders");
    }
    Ok(summary)
}

/// The outcome assumed for an event the bus did not report on.
fn missing() -> PublishOutcome {
    PublishOutcome::Failed { code: "NoOutcome".into(), retryable: true }
}

/// Every entry of one day partition (one tenant's, when given), deduplicated by (tenant, digest).
async fn day_entries(
    table: &dyn Table,
    date: &str,
    tenant: Option<&TenantId>,
) -> Result<Vec<ExpiryEntry>, EvidenceError> {
    let mut query = Query::partition(keys::evidence_expiry_partition(date)).limit(1000);
    if let Some(t) = tenant {
        query = query.begins_with(keys::evidence_expiry_tenant_prefix(t));
    }
    let mut out = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = table.query(query.clone().after(cursor)).await?;
        for item in &page.items {
            match item.parse::<ExpiryEntry>() {
                Ok(e) => {
                    out.insert((e.tenant.clone(), e.digest.clone()), e);
                }
                Err(e) => tracing::warn!(code = e.code(), "skipping a malformed expiry entry"),
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(out.into_values().collect());
        }
    }
}
