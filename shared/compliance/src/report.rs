//! Reports that leave the product as files: framework coverage (which requirements Kushim judges
//! automatically, only through uploaded evidence, or not at all) and operating effectiveness over
//! an audit window, each with a CSV rendering (RFC 4180: a header row, fields quoted when they
//! hold a comma, a quote or a line break, lines ending in CRLF).

use std::borrow::Cow;

use chrono::NaiveDate;
use kushim_catalog::{FrameworkId, catalog};
use kushim_engine::{Coverage, Effectiveness};
use serde::Serialize;

/// Coverage of a framework by the catalog's controls and the built-in checks (the same for every
/// tenant).
pub fn coverage(framework: FrameworkId) -> Coverage {
    kushim_engine::coverage(catalog(), framework, &kushim_engine::coverage::checked_controls())
}

/// One control's operating effectiveness over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlEffectiveness {
    /// The control.
    pub control_id: String,
    /// Its title.
    pub title: String,
    /// Its figures.
    pub effectiveness: Effectiveness,
}

/// Operating effectiveness of every control of a framework over a window, and the figures summed
/// over them (a "control-day" is one control on one day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameworkEffectiveness {
    /// The framework.
    pub framework: FrameworkId,
    /// First day of the window.
    pub from: NaiveDate,
    /// Last day of the window (inclusive).
    pub to: NaiveDate,
    /// Each control mapped to the framework, in catalog order.
    pub controls: Vec<ControlEffectiveness>,
    /// Control-days with a snapshot.
    pub control_days_observed: i64,
    /// Control-days passing.
    pub control_days_passing: i64,
    /// Control-days failing.
    pub control_days_failing: i64,
    /// Control-days excepted.
    pub control_days_excepted: i64,
    /// Share of observed control-days passing, 0.0-1.0 (0 when nothing was observed).
    pub share_passing: f64,
    /// The longest run of failing days of any one control.
    pub longest_failing_streak: i64,
    /// The control with that run (the first in catalog order on a tie), if any control failed.
    pub longest_failing_control: Option<String>,
    /// Failure episodes fixed within the window.
    pub remediated_failures: usize,
    /// Failure episodes still open at the end of the window.
    pub open_failures: usize,
    /// Mean days from first failing day to the fix, over the fixed episodes of every control.
    pub mean_days_to_remediate: Option<f64>,
}

impl FrameworkEffectiveness {
    /// Sums the per-control figures.
    pub fn new(framework: FrameworkId, from: NaiveDate, to: NaiveDate, controls: Vec<ControlEffectiveness>) -> Self {
        let sum = |f: fn(&Effectiveness) -> i64| controls.iter().map(|c| f(&c.effectiveness)).sum::<i64>();
        let observed = sum(|e| e.days_observed);
        let passing = sum(|e| e.days_passing);
        let fixed: Vec<i64> =
            controls.iter().flat_map(|c| c.effectiveness.remediations.iter().filter_map(|r| r.days())).collect();
        let open =
            controls.iter().flat_map(|c| &c.effectiveness.remediations).filter(|r| r.remediated_on.is_none()).count();
        let longest = controls.iter().filter(|c| c.effectiveness.longest_failing_streak > 0).fold(
            None::<&ControlEffectiveness>,
            |best, c| match best {
                Some(b) if b.effectiveness.longest_failing_streak >= c.effectiveness.longest_failing_streak => Some(b),
                _ => Some(c),
            },
        );
        Self {
            framework,
            from,
            to,
            control_days_observed: observed,
            control_days_passing: passing,
            control_days_failing: sum(|e| e.days_failing),
            control_days_excepted: sum(|e| e.days_excepted),
            share_passing: if observed == 0 { 0.0 } else { passing as f64 / observed as f64 },
            longest_failing_streak: longest.map_or(0, |c| c.effectiveness.longest_failing_streak),
            longest_failing_control: longest.map(|c| c.control_id.clone()),
            remediated_failures: fixed.len(),
            open_failures: open,
            mean_days_to_remediate: (!fixed.is_empty()).then(|| fixed.iter().sum::<i64>() as f64 / fixed.len() as f64),
            controls,
        }
    }
}

/// One CSV field, quoted when it holds a comma, a quote, a line break or surrounding spaces.
pub fn csv_field(value: &str) -> Cow<'_, str> {
    let needs_quotes = value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ');
    if needs_quotes { Cow::Owned(format!("\"{}\"", value.replace('"', "\"\""))) } else { Cow::Borrowed(value) }
}

/// Appends one CSV line (fields quoted as [`csv_field`] says, CRLF-terminated).
pub fn csv_line(out: &mut String, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(field));
    }
    out.push_str("\r\n");
}

/// Header of [`coverage_to_csv`].
pub const COVERAGE_CSV_HEADER: &str = "framework,requirement,title,coverage,controls";

/// Coverage as CSV: one row per requirement (automated first, then manual only, then uncovered),
/// with its title and the controls mapped to it (space-separated).
pub fn coverage_to_csv(coverage: &Coverage) -> String {
    let mut out = format!("{COVERAGE_CSV_HEADER}\r\n");
    let framework = catalog().framework(coverage.framework);
    let groups = [
        ("automated", &coverage.automated),
        ("manual_only", &coverage.manual_only),
        ("uncovered", &coverage.uncovered),
    ];
    for (kind, requirements) in groups {
        for requirement in requirements {
            let title = framework.and_then(|f| f.requirement(requirement)).map_or("", |r| r.title.as_str());
            let controls: Vec<&str> =
                catalog().controls_for(coverage.framework, requirement).iter().map(|c| c.id.as_str()).collect();
            csv_line(&mut out, &[coverage.framework.as_str(), requirement, title, kind, &controls.join(" ")]);
        }
    }
    out
}

/// Header of [`effectiveness_to_csv`].
pub const EFFECTIVENESS_CSV_HEADER: &str = "framework,control_id,title,from,to,days_in_window,days_observed,\
days_passing,days_failing,days_excepted,share_passing,longest_failing_streak,remediated_failures,open_failures,\
mean_days_to_remediate";

/// Framework effectiveness as CSV: one row per control, then an `ALL` row with the figures summed
/// over control-days. Shares have four decimals, mean days two; an empty mean means nothing was
/// fixed in the window.
pub fn effectiveness_to_csv(report: &FrameworkEffectiveness) -> String {
    let mut out = format!("{EFFECTIVENESS_CSV_HEADER}\r\n");
    let (framework, from, to) = (report.framework.as_str(), report.from.to_string(), report.to.to_string());
    let mean = |m: Option<f64>| m.map_or(String::new(), |m| format!("{m:.2}"));
    for c in &report.controls {
        let e = &c.effectiveness;
        let fixed = e.remediations.iter().filter(|r| r.remediated_on.is_some()).count();
        let open = e.remediations.len() - fixed;
        let numbers = [
            e.days_in_window.to_string(),
            e.days_observed.to_string(),
            e.days_passing.to_string(),
            e.days_failing.to_string(),
            e.days_excepted.to_string(),
            format!("{:.4}", e.share_passing),
            e.longest_failing_streak.to_string(),
            fixed.to_string(),
            open.to_string(),
            mean(e.mean_days_to_remediate),
        ];
        let mut fields = vec![framework, c.control_id.as_str(), c.title.as_str(), from.as_str(), to.as_str()];
        fields.extend(numbers.iter().map(String::as_str));
        csv_line(&mut out, &fields);
    }
    let days_in_window = ((report.to - report.from).num_days() + 1) * report.controls.len() as i64;
    let totals = [
        days_in_window.to_string(),
        report.control_days_observed.to_string(),
        report.control_days_passing.to_string(),
        report.control_days_failing.to_string(),
        report.control_days_excepted.to_string(),
        format!("{:.4}", report.share_passing),
        report.longest_failing_streak.to_string(),
        report.remediated_failures.to_string(),
        report.open_failures.to_string(),
        mean(report.mean_days_to_remediate),
    ];
    let mut fields = vec![framework, "ALL", "All controls", from.as_str(), to.as_str()];
    fields.extend(totals.iter().map(String::as_str));
    csv_line(&mut out, &fields);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits CSV text into records of fields (RFC 4180), to check what a reader would see.
    fn parse(text: &str) -> Vec<Vec<String>> {
        let mut records = Vec::new();
        let (mut record, mut field, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, text.chars().peekable());
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => record.push(std::mem::take(&mut field)),
                (false, '\r') => {}
                (false, '\n') => {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(field.is_empty() && record.is_empty(), "the text ends with a line break");
        records
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(" padded"), "\" padded\"");
        let tricky = ["a,b", "say \"hi\"", "two\r\nlines", "", "ünïcødé"];
        let mut text = String::new();
        csv_line(&mut text, &tricky);
        assert_eq!(parse(&text), vec![tricky.map(String::from).to_vec()]);
    }

    #[test]
    fn coverage_csv_has_a_header_and_one_parseable_row_per_requirement() {
        let soc2 = coverage(FrameworkId::Soc2);
        assert!(soc2.uncovered.is_empty(), "every SOC 2 criterion has a control: {:?}", soc2.uncovered);
        let csv = coverage_to_csv(&soc2);
        let records = parse(&csv);
        assert_eq!(records[0].join(","), COVERAGE_CSV_HEADER);
        assert_eq!(records.len(), 1 + soc2.automated.len() + soc2.manual_only.len());
        assert!(records[1..].iter().all(|r| r.len() == 5 && r[0] == "soc2"), "every row has five fields");
        let cc61 = records.iter().find(|r| r[1] == "CC6.1").expect("CC6.1 is listed");
        assert_eq!(cc61[3], "automated");
        assert!(cc61[4].split(' ').any(|c| c == "KC-IAM-01"));
        for fw in FrameworkId::ALL {
            let rows = parse(&coverage_to_csv(&coverage(fw)));
            assert!(rows.iter().all(|r| r.len() == 5), "{fw}: every row has five fields");
        }
    }
}
