//! Operating effectiveness over an observation window, from one status per control per day
//! (the daily snapshots). This is what a SOC 2 Type II auditor asks: on what share of days did the
//! control operate, what was the longest run of failing days, and how long did failures take to
//! remediate.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ControlStatus;

/// One control's status on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyStatus {
    /// The day (in the tenant's time zone).
    pub date: NaiveDate,
    /// The status that day.
    pub status: ControlStatus,
}

/// A failure episode: from the first failing day to the first passing day after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = RemediationEpisode))]
pub struct Remediation {
    /// The first failing day.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub failed_on: NaiveDate,
    /// The first passing day after it; absent while the failure is open.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub remediated_on: Option<NaiveDate>,
}

impl Remediation {
    /// Days from the first failure to the fix.
    pub fn days(&self) -> Option<i64> {
        self.remediated_on.map(|r| (r - self.failed_on).num_days())
    }
}

/// Operating effectiveness of one control (or, summed, of a framework) over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Effectiveness {
    /// Days in the window.
    pub days_in_window: i64,
    /// Days with a snapshot.
    pub days_observed: i64,
    /// Days passing.
    pub days_passing: i64,
    /// Days failing.
    pub days_failing: i64,
    /// Days excepted (accepted risk).
    pub days_excepted: i64,
    /// `days_passing / days_observed` (0 when nothing was observed).
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub share_passing: f64,
    /// Longest run of consecutive failing days.
    pub longest_failing_streak: i64,
    /// Each failure episode and when it was fixed.
    pub remediations: Vec<Remediation>,
    /// Mean days to remediate, over fixed episodes.
    pub mean_days_to_remediate: Option<f64>,
}

/// Effectiveness over `[from, to]` (inclusive) from a control's daily statuses (any order; days
/// outside the window are ignored; a missing day breaks a failing streak but not an episode).
pub fn effectiveness(days: &[DailyStatus], from: NaiveDate, to: NaiveDate) -> Effectiveness {
    let mut in_window: Vec<DailyStatus> = days.iter().copied().filter(|d| d.date >= from && d.date <= to).collect();
    in_window.sort_by_key(|d| d.date);
    in_window.dedup_by_key(|d| d.date);
    let count = |s: ControlStatus| in_window.iter().filter(|d| d.status == s).count() as i64;
    let (days_passing, days_failing, days_excepted) =
        (count(ControlStatus::Passing), count(ControlStatus::Failing), count(ControlStatus::Excepted));
    let mut longest = 0;
    let mut streak = 0;
    let mut prev: Option<NaiveDate> = None;
    let mut remediations: Vec<Remediation> = Vec::new();
    let mut open: Option<NaiveDate> = None;
    for d in &in_window {
        let consecutive = prev.is_some_and(|p| (d.date - p).num_days() == 1);
        if d.status == ControlStatus::Failing {
            streak = if consecutive { streak + 1 } else { 1 };
            longest = longest.max(streak);
            open.get_or_insert(d.date);
        } else {
            streak = 0;
            if d.status == ControlStatus::Passing
                && let Some(failed_on) = open.take()
            {
                remediations.push(Remediation { failed_on, remediated_on: Some(d.date) });
            }
        }
        prev = Some(d.date);
    }
    if let Some(failed_on) = open {
        remediations.push(Remediation { failed_on, remediated_on: None });
    }
    let fixed: Vec<i64> = remediations.iter().filter_map(Remediation::days).collect();
    let observed = in_window.len() as i64;
    Effectiveness {
        days_in_window: (to - from).num_days() + 1,
        days_observed: observed,
        days_passing,
        days_failing,
        days_excepted,
        share_passing: if observed == 0 { 0.0 } else { days_passing as f64 / observed as f64 },
        longest_failing_streak: longest,
        mean_days_to_remediate: (!fixed.is_empty()).then(|| fixed.iter().sum::<i64>() as f64 / fixed.len() as f64),
        remediations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ControlStatus::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, n).unwrap()
    }

    fn series(statuses: &[ControlStatus]) -> Vec<DailyStatus> {
        statuses.iter().enumerate().map(|(i, s)| DailyStatus { date: day(i as u32 + 1), status: *s }).collect()
    }

    #[test]
    fn streaks_shares_and_time_to_remediate() {
        // Jan 1-10: P P F F F P P F P E
        let days = series(&[Passing, Passing, Failing, Failing, Failing, Passing, Passing, Failing, Passing, Excepted]);
        let e = effectiveness(&days, day(1), day(10));
        assert_eq!((e.days_in_window, e.days_observed), (10, 10));
        assert_eq!((e.days_passing, e.days_failing, e.days_excepted), (5, 4, 1));
        assert!((e.share_passing - 0.5).abs() < 1e-9);
        assert_eq!(e.longest_failing_streak, 3);
        assert_eq!(
            e.remediations,
            vec![
                Remediation { failed_on: day(3), remediated_on: Some(day(6)) },
                Remediation { failed_on: day(8), remediated_on: Some(day(9)) },
            ]
        );
        assert_eq!(e.mean_days_to_remediate, Some(2.0));
    }

    #[test]
    fn window_bounds_gaps_and_open_failures() {
        let mut days = series(&[Failing, Failing, Passing, Failing]);
        days.push(DailyStatus { date: day(6), status: Failing });
        let e = effectiveness(&days, day(2), day(7));
        assert_eq!(e.days_in_window, 6);
        assert_eq!(e.days_observed, 4, "day 1 is outside, days 5 and 7 are missing");
        assert_eq!(e.longest_failing_streak, 1, "a missing day breaks the streak");
        assert_eq!(e.remediations.last(), Some(&Remediation { failed_on: day(4), remediated_on: None }));
        assert_eq!(e.remediations[0], Remediation { failed_on: day(2), remediated_on: Some(day(3)) });
        let empty = effectiveness(&[], day(1), day(31));
        assert_eq!((empty.days_observed, empty.share_passing, empty.mean_days_to_remediate), (0, 0.0, None));
    }
}
