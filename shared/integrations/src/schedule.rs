//! Collection schedules per tenant and integration: `daily` (02:00 by default), `weekly`,
//! `monthly` (day 1-28) or `off`, at a wall-clock time in the tenant's IANA time zone.
//!
//! Each schedule that is on sits in a **due-index** (GSI1 partition `DUE#<shard>` of the tenant,
//! [`keys::due_index_pk`], sort key `<next_due>#<tenant>#<integration>` with `next_due` in UTC
//! RFC 3339), so the planner reads only what is due (`SK <= now`) in each shard and never scans;
//! eight shards keep the index from being one hot partition. [`Schedules::advance`] moves `next_due` with a
//! condition on its old value: of two planners that read the same due schedule, one advances it
//! and the other learns it lost, so a schedule never fires twice.
//!
//! Daylight saving: a time that falls in a spring-forward gap fires at the same UTC instant it
//! would have had before the change (02:30 on the gap day becomes 03:30 summer time); a time that
//! occurs twice on a fall-back day fires once, at the first occurrence.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Cursor, Item, Key, Query, SortKey, Table, TxOp};
use kushim_domain::{IntegrationId, TenantId};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Error, Result};

/// Where a walk over the due-index stopped: which partition, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCursor {
    partition: usize,
    inner: Option<Cursor>,
}

/// A wall-clock time of day, written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub NaiveTime);

impl LocalTime {
    /// `hour:minute`; `None` when out of range.
    pub fn hm(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%H:%M").to_string())
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let ok = raw.len() == 5 && raw.as_bytes()[2] == b':';
        ok.then(|| NaiveTime::parse_from_str(&raw, "%H:%M").ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("time must be HH:MM (00:00-23:59)"))
    }
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    fn chrono(self) -> chrono::Weekday {
        match self {
            Self::Monday => chrono::Weekday::Mon,
            Self::Tuesday => chrono::Weekday::Tue,
            Self::Wednesday => chrono::Weekday::Wed,
            Self::Thursday => chrono::Weekday::Thu,
            Self::Friday => chrono::Weekday::Fri,
            Self::Saturday => chrono::Weekday::Sat,
            Self::Sunday => chrono::Weekday::Sun,
        }
    }
}

/// How often an integration is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "frequency", rename_all = "snake_case", deny_unknown_fields)]
pub enum Cadence {
    /// Every day at `time`.
    Daily {
        /// Local time.
        time: LocalTime,
    },
    /// Every week on `weekday` at `time`.
    Weekly {
        /// Day of the week.
        weekday: Weekday,
        /// Local time.
        time: LocalTime,
    },
    /// Every month on `day` (1-28) at `time`.
    Monthly {
        /// Day of the month, 1-28.
        day: u8,
        /// Local time.
        time: LocalTime,
    },
    /// Never on schedule (on-demand runs only).
    Off,
}

impl Default for Cadence {
    /// Daily at 02:00.
    fn default() -> Self {
        Self::Daily { time: LocalTime(NaiveTime::from_hms_opt(2, 0, 0).expect("02:00 is a time")) }
    }
}

impl Cadence {
    /// Checks the ranges serde cannot (the day of month).
    pub fn validate(&self) -> Result<()> {
        match self {
            Self::Monthly { day, .. } if !(1..=28).contains(day) => {
                Err(Error::Invalid("day must be 1-28 so that every month has it".into()))
            }
            _ => Ok(()),
        }
    }

    /// The local time it fires at; `None` when off.
    fn time(&self) -> Option<NaiveTime> {
        match *self {
            Self::Daily { time } | Self::Weekly { time, .. } | Self::Monthly { time, .. } => Some(time.0),
            Self::Off => None,
        }
    }

    /// Whether it fires on the local date `d`.
    fn fires_on(&self, d: NaiveDate) -> bool {
        match *self {
            Self::Daily { .. } => true,
            Self::Weekly { weekday, .. } => d.weekday() == weekday.chrono(),
            Self::Monthly { day, .. } => d.day() == u32::from(day),
            Self::Off => false,
        }
    }
}

/// The UTC instant of local `date` + `time` in `tz`: the earlier one when it occurs twice, and
/// the pre-transition offset's instant when it falls in a gap.
fn resolve(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            // Spring-forward gap: use the offset in force a day earlier (before the change).
            let before = local.checked_sub_days(Days::new(1))?;
            let offset = tz.offset_from_local_datetime(&before).earliest()?;
            let fixed = chrono::FixedOffset::east_opt(chrono::Offset::fix(&offset).local_minus_utc())?;
            fixed.from_local_datetime(&local).single().map(|t| t.with_timezone(&Utc))
        }
    }
}

/// The first time the cadence fires strictly after `after`, in `tz`; `None` for `off`.
pub fn next_due(cadence: &Cadence, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let time = cadence.time()?;
    // Start a day early: the local date of `after` may be ahead of a fire time still to come.
    let start = after.with_timezone(&tz).date_naive().checked_sub_days(Days::new(1))?;
    (0..64u64).filter_map(|i| start.checked_add_days(Days::new(i))).filter(|d| cadence.fires_on(*d)).find_map(|d| {
        let t = resolve(tz, d, time)?;
        (t > after).then_some(t)
    })
}

/// The tenant's time zone: its settings' IANA zone if valid, else UTC.
pub async fn tenant_time_zone(table: &dyn Table, tenant: &TenantId) -> Result<Tz> {
    let item = table.get(&keys::tenant(tenant)).await?;
    let zone =
        item.as_ref().and_then(|i| i.attrs.get("settings")).and_then(|s| s.get("time_zone")).and_then(Value::as_str);
    Ok(zone.and_then(|z| Tz::from_str(z).ok()).unwrap_or(Tz::UTC))
}

/// Formats a due time the way the index sorts it (UTC, whole seconds, `Z`).
pub fn index_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stored schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Integration.
    pub integration_id: IntegrationId,
    /// When it fires.
    pub cadence: Cadence,
    /// The IANA zone `next_due` was computed in.
    pub time_zone: String,
    /// Next firing (UTC); absent when off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_due: Option<DateTime<Utc>>,
    /// Last firing by the planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-locking version.
    pub version: u64,
}

impl Schedule {
    /// A fresh schedule computed at `now` in `tz`.
    pub fn new(tenant: &TenantId, integration: &IntegrationId, cadence: Cadence, tz: Tz, now: DateTime<Utc>) -> Self {
        Self {
            tenant_id: tenant.clone(),
            integration_id: integration.clone(),
            cadence,
            time_zone: tz.name().to_owned(),
            next_due: next_due(&cadence, tz, now),
            last_fired_at: None,
            updated_at: now,
            version: 1,
        }
    }

    /// The item, indexed in the due-index when the schedule is on.
    pub fn to_item(&self) -> Result<Item> {
        let attrs = match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Error::Invalid("schedule does not serialise".into())),
        };
        let mut item = Item { attrs, ..Item::new(keys::integration_schedule(&self.tenant_id, &self.integration_id)) };
        if let Some(due) = self.next_due {
            item.gsi1 = Some(Key::new(
                keys::due_index_pk(&self.tenant_id),
                keys::due_index_sk(&index_time(due), &self.tenant_id, &self.integration_id),
            ));
        }
        Ok(item)
    }

    /// This schedule after the planner fired it at `now`: `next_due` moves past `now` (missed
    /// firings are not replayed), in the tenant's current zone.
    pub fn advanced(&self, tz: Tz, now: DateTime<Utc>) -> Self {
        let after = self.next_due.map_or(now, |d| d.max(now));
        Self {
            next_due: next_due(&self.cadence, tz, after),
            time_zone: tz.name().to_owned(),
            last_fired_at: Some(now),
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The transaction operation that advances this schedule, conditional on `next_due` still
    /// being the value read (so only one planner wins it).
    pub fn advance_op(&self, tz: Tz, now: DateTime<Utc>) -> Result<(TxOp, Schedule)> {
        let next = self.advanced(tz, now);
        let old = serde_json::to_value(self.next_due).unwrap_or(Value::Null);
        Ok((
            TxOp::Put { item: next.to_item()?, condition: Some(Condition::AttributeEquals("next_due".into(), old)) },
            next,
        ))
    }
}

/// The schedule store.
#[derive(Clone)]
pub struct Schedules {
    table: Arc<dyn Table>,
}

impl Schedules {
    /// A store on the table.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// A schedule, if the integration has one.
    pub async fn get(&self, tenant: &TenantId, integration: &IntegrationId) -> Result<Option<Schedule>> {
        Ok(match self.table.get(&keys::integration_schedule(tenant, integration)).await? {
            Some(i) => Some(i.parse()?),
            None => None,
        })
    }

    /// Sets the cadence (recomputing `next_due` from `now` in the tenant's zone). The integration
    /// must exist; callers check that.
    pub async fn set(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        cadence: Cadence,
        now: DateTime<Utc>,
    ) -> Result<Schedule> {
        cadence.validate()?;
        let tz = tenant_time_zone(self.table.as_ref(), tenant).await?;
        for _ in 0..20 {
            let current = self.get(tenant, integration).await?;
            let mut next = Schedule::new(tenant, integration, cadence, tz, now);
            let condition = match &current {
                Some(c) => {
                    next.version = c.version + 1;
                    next.last_fired_at = c.last_fired_at;
                    Condition::VersionEquals(c.version)
                }
                None => Condition::NotExists,
            };
            match self.table.put(next.to_item()?, Some(condition)).await {
                Ok(()) => return Ok(next),
                Err(AdapterError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention("schedule"))
    }

    /// One page of schedules due at `now` (next_due ≤ now), shard by shard, oldest first within
    /// each shard; pass the returned cursor back for the next page (`None` when all are read).
    pub async fn due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        cursor: Option<DueCursor>,
    ) -> Result<(Vec<Schedule>, Option<DueCursor>)> {
        let partitions = keys::due_index_partitions();
        let (mut at, mut inner) = cursor.map_or((0, None), |c| (c.partition, c.inner));
        let mut out = Vec::new();
        while at < partitions.len() && out.len() < limit as usize {
            let query = Query { sort: SortKey::Le(format!("{}#~", index_time(now))), ..Query::gsi1(&partitions[at]) }
                .limit(limit - out.len() as u32)
                .after(inner.take());
            let page = self.table.query(query).await?;
            for item in &page.items {
                out.push(item.parse::<Schedule>()?);
            }
            match page.cursor {
                Some(c) => inner = Some(c),
                None => at += 1,
            }
        }
        Ok((out, (at < partitions.len()).then_some(DueCursor { partition: at, inner })))
    }

    /// Advances a due schedule past `now`; `None` when another planner (or a person changing the
    /// schedule) got there first.
    pub async fn advance(&self, schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Result<Option<Schedule>> {
        let (op, next) = schedule.advance_op(tz, now)?;
        let TxOp::Put { item, condition } = op else { unreachable!("advance_op builds a put") };
        match self.table.put(item, condition).await {
            Ok(()) => Ok(Some(next)),
            Err(AdapterError::ConditionFailed) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The operation deleting an integration's schedule (in the integration's delete transaction).
    pub fn delete_op(tenant: &TenantId, integration: &IntegrationId) -> TxOp {
        TxOp::Delete { key: keys::integration_schedule(tenant, integration), condition: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn at(h: u32, m: u32) -> LocalTime {
        LocalTime::hm(h, m).unwrap()
    }

    #[test]
    fn daily_in_utc_fires_at_the_next_occurrence() {
        let c = Cadence::default();
        assert_eq!(next_due(&c, Tz::UTC, utc("2026-01-10T01:59:59Z")), Some(utc("2026-01-10T02:00:00Z")));
        assert_eq!(next_due(&c, Tz::UTC, utc("2026-01-10T02:00:00Z")), Some(utc("2026-01-11T02:00:00Z")));
        assert_eq!(next_due(&Cadence::Off, Tz::UTC, utc("2026-01-10T02:00:00Z")), None);
    }

    #[test]
    fn berlin_daily_at_two_across_spring_forward_and_fall_back() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let c = Cadence::Daily { time: at(2, 0) };
        // Winter: 02:00 CET = 01:00 UTC.
        let sat = next_due(&c, berlin, utc("2026-03-27T12:00:00Z")).unwrap();
        assert_eq!(sat, utc("2026-03-28T01:00:00Z"));
        // 29 March 2026: clocks jump 02:00 → 03:00; 02:00 does not exist and fires at 03:00 CEST.
        let gap_day = next_due(&c, berlin, sat).unwrap();
        assert_eq!(gap_day, utc("2026-03-29T01:00:00Z"));
        // Summer: 02:00 CEST = 00:00 UTC, exactly one firing per local day.
        let monday = next_due(&c, berlin, gap_day).unwrap();
        assert_eq!(monday, utc("2026-03-30T00:00:00Z"));
        // 25 October 2026: 02:00-03:00 happens twice; it fires once, at the first one.
        let before = next_due(&c, berlin, utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(before, utc("2026-10-25T00:00:00Z"));
        assert_eq!(next_due(&c, berlin, before).unwrap(), utc("2026-10-26T01:00:00Z"));
    }

    #[test]
    fn a_time_inside_the_gap_keeps_its_distance_from_midnight() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let c = Cadence::Daily { time: at(2, 30) };
        assert_eq!(next_due(&c, berlin, utc("2026-03-28T12:00:00Z")), Some(utc("2026-03-29T01:30:00Z")));
    }

    #[test]
    fn weekly_and_monthly_in_a_far_zone() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // Monday 09:00 JST = Monday 00:00 UTC. 2026-01-05 is a Monday.
        let weekly = Cadence::Weekly { weekday: Weekday::Monday, time: at(9, 0) };
        assert_eq!(next_due(&weekly, tokyo, utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-05T00:00:00Z")));
        assert_eq!(next_due(&weekly, tokyo, utc("2026-01-05T00:00:00Z")), Some(utc("2026-01-12T00:00:00Z")));
        // 28th at 00:30 JST = 27th 15:30 UTC; from 28 Jan (UTC, already the 28th in Tokyo) → February.
        let monthly = Cadence::Monthly { day: 28, time: at(0, 30) };
        assert_eq!(next_due(&monthly, tokyo, utc("2026-01-27T16:00:00Z")), Some(utc("2026-02-27T15:30:00Z")));
        assert!(Cadence::Monthly { day: 29, time: at(1, 0) }.validate().is_err());
    }

    #[test]
    fn cadences_parse_strictly() {
        let ok: Cadence = serde_json::from_str(r#"{"frequency":"weekly","weekday":"friday","time":"23:15"}"#).unwrap();
        assert_eq!(ok, Cadence::Weekly { weekday: Weekday::Friday, time: at(23, 15) });
        assert_eq!(serde_json::to_string(&Cadence::Off).unwrap(), r#"{"frequency":"off"}"#);
        for bad in [
            r#"{"frequency":"daily","time":"2:00"}"#,
            r#"{"frequency":"daily","time":"24:00"}"#,
            r#"{"frequency":"daily","time":"02:00","x":1}"#,
            r#"{"frequency":"hourly"}"#,
            r#"{"frequency":"weekly","time":"02:00"}"#,
        ] {
            assert!(serde_json::from_str::<Cadence>(bad).is_err(), "{bad}");
        }
    }
}
