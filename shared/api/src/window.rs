//! Date windows for history and effectiveness reads: `from` and `to` as `YYYY-MM-DD` query
//! parameters, defaulting to the last 90 days and bounded to 400.

use chrono::{Duration, NaiveDate};

use crate::{ApiError, Ctx};

/// Days a history shows when the request names no window.
pub const DEFAULT_WINDOW_DAYS: i64 = 90;
/// Longest window a history may cover, in days.
pub const MAX_WINDOW_DAYS: i64 = 400;

/// A `YYYY-MM-DD` query parameter.
pub fn date_param(ctx: &Ctx<'_>, name: &str) -> Result<Option<NaiveDate>, ApiError> {
    ctx.query(name)
        .map(|raw| {
            NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                .map_err(|_| ApiError::Validation(format!("{name} must be a date as YYYY-MM-DD")))
        })
        .transpose()
}

/// The request's window: `from` and `to` (inclusive), by default the last 90 days up to today
/// (UTC); at most 400 days, and not ending before it starts.
pub fn window(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - Duration::days(DEFAULT_WINDOW_DAYS - 1));
    if from > to {
        return Err(ApiError::Validation(format!("from ({from}) must not be after to ({to})")));
    }
    if (to - from).num_days() + 1 > MAX_WINDOW_DAYS {
        return Err(ApiError::Validation(format!("the window may cover at most {MAX_WINDOW_DAYS} days")));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_window_defaults_to_ninety_days_and_is_bounded() {
        let today = d("2025-06-30");
        assert_eq!(window(None, None, today).unwrap(), (d("2025-04-02"), today));
        assert_eq!(window(Some(d("2025-06-01")), None, today).unwrap(), (d("2025-06-01"), today));
        assert_eq!(window(None, Some(d("2025-01-31")), today).unwrap(), (d("2024-11-03"), d("2025-01-31")));
        assert!(window(Some(d("2025-02-01")), Some(d("2025-01-31")), today).is_err());
        assert!(window(Some(d("2024-05-27")), Some(today), today).is_ok(), "400 days is the limit");
        assert!(window(Some(d("2024-05-26")), Some(today), today).is_err());
    }
}
