//! Benchmark of recording results and rolling control status up, on the embedded table (SQLite in
//! a temporary directory). One tenant has a result for every built-in check on each of 1,000
//! resources. Prints figures; run with `cargo bench -p kushim-compliance --bench rollup`.
//!
//! Measured: the first recording (everything new), the same run redelivered (nothing changes), a
//! later run in which 4% of results flip (half fixed, half newly failing), one call per check, and
//! the roll-up a dashboard does (readiness of all four frameworks and the list of every control).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use kushim_adapters::table::Table;
use kushim_adapters::table::embedded::EmbeddedTable;
use kushim_catalog::FrameworkId;
use kushim_checks::{CheckResult, Status};
use kushim_compliance::{Compliance, ControlFilter};
use kushim_domain::TenantId;

const RESOURCES: usize = 1_000;

fn results(flip_every: Option<usize>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for check in kushim_checks::registry() {
        for i in 0..RESOURCES {
            let mut failing = i % 10 == 0;
            if flip_every.is_some_and(|n| i % n < 2) {
                failing = !failing;
            }
            out.push(CheckResult {
                check_id: check.id().to_owned(),
                resource_id: format!("arn:aws:iam::111122223333:resource/bench/{i:05}"),
                status: if failing { Status::Fail } else { Status::Pass },
                reason: format!("resource {i} judged by {}", check.id()),
            });
        }
    }
    out
}

fn show(what: &str, d: Duration, n: usize) {
    println!("{what:<52} {:>9.2} s  ({:>8.0} results/s)", d.as_secs_f64(), n as f64 / d.as_secs_f64());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let table: Arc<dyn Table> = Arc::new(EmbeddedTable::open(dir.path()).expect("table"));
    let compliance = Compliance::new(table);
    let tenant = TenantId::new("bench").expect("tenant id");
    let day1 = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let day2 = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
    let first = results(None);
    let checks = kushim_checks::registry().len();
    println!("{checks} checks x {RESOURCES} resources = {} results", first.len());

    let start = Instant::now();
    let summary = compliance.record_results(&tenant, "run-1", &first, day1).await.expect("record");
    show("record_results, first run (all new)", start.elapsed(), first.len());
    println!(
        "  written {}, newly failing {}, controls {}",
        summary.written,
        summary.newly_failing.len(),
        summary.controls_evaluated
    );

    let start = Instant::now();
    let summary = compliance.record_results(&tenant, "run-1", &first, day1).await.expect("record");
    show("record_results, same run redelivered", start.elapsed(), first.len());
    assert_eq!(summary.written, 0);

    let second = results(Some(50));
    let start = Instant::now();
    let summary = compliance.record_results(&tenant, "run-2", &second, day2).await.expect("record");
    show("record_results, next day, 4% flipped", start.elapsed(), second.len());
    println!(
        "  written {}, newly failing {}, resolved {}",
        summary.written,
        summary.newly_failing.len(),
        summary.resolved.len()
    );

    let start = Instant::now();
    let mut per_check = 0;
    for chunk in second.chunks(RESOURCES) {
        per_check += compliance.record_results(&tenant, "run-2", chunk, day2).await.expect("record").stored;
    }
    show("record_results, one call per check, unchanged", start.elapsed(), per_check);

    const ROUNDS: u32 = 20;
    let start = Instant::now();
    for _ in 0..ROUNDS {
        for framework in FrameworkId::ALL {
            compliance.readiness(&tenant, framework, day2).await.expect("readiness");
        }
        let all = compliance.list_controls(&tenant, &ControlFilter::default(), day2).await.expect("list");
        assert!(!all.is_empty());
    }
    let per = start.elapsed() / ROUNDS;
    println!(
        "{:<52} {:>9.2} ms per roll-up ({ROUNDS} rounds)",
        "roll-up: readiness x4 + list_controls",
        per.as_secs_f64() * 1000.0
    );
    for framework in FrameworkId::ALL {
        let r = compliance.readiness(&tenant, framework, day2).await.expect("readiness");
        println!(
            "  {framework:<9} {} controls, {:.1}% passing, {:?}",
            r.controls,
            r.share_passing * 100.0,
            r.by_status
        );
    }

    let start = Instant::now();
    let evaluation = compliance.control_status(&tenant, "KC-IAM-01", day2).await.expect("status");
    println!(
        "{:<52} {:>9.2} ms ({:?})",
        "control_status KC-IAM-01",
        start.elapsed().as_secs_f64() * 1000.0,
        evaluation.status
    );
}
