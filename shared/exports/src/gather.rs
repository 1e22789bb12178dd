//! Gathers what goes into one auditor package: the framework's controls with their status,
//! effectiveness over the window and latest check results; the evidence placed in the window;
//! the ledger segment behind that evidence up to the export's checkpoint; CSV summaries; the OSCAL
//! assessment-results document; and a README telling the auditor how to check it all.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use kushim_adapters::keys;
use kushim_catalog::{Control, FrameworkId};
use kushim_checks::CheckResult;
use kushim_compliance::report::csv_line;
use kushim_compliance::{ControlFilter, effectiveness_to_csv};
use kushim_domain::TenantId;
use kushim_engine::{ControlEvaluation, Effectiveness};
use kushim_evidence::package::{PackageContents, evidence_file_path, ledger_segment};
use kushim_evidence::{Checkpoint, EvidenceRecord};
use kushim_oscal::{AssessmentInput, ControlInput, EvidenceRef};
use serde::Serialize;

use crate::{ExportError, ExportRecord, Exports, Result};

/// Largest total of evidence bytes one package carries; a longer window must be split.
pub const MAX_EVIDENCE_BYTES: u64 = 1024 * 1024 * 1024;

/// A gathered package and how many controls it reports.
pub(crate) struct Gathered {
    pub contents: PackageContents,
    pub controls: usize,
}

/// One control's line of `controls/status.json`.
#[derive(Serialize)]
struct ControlReport<'a> {
    control_id: &'a str,
    title: &'a str,
    requirements: &'a [String],
    evaluation: &'a ControlEvaluation,
    effectiveness: Option<&'a Effectiveness>,
    results: &'a [CheckResult],
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    start_of(day) + chrono::Duration::days(1) - chrono::Duration::seconds(1)
}

/// Whether the evidence is placed in the window: its effective period (or, lacking one, the day it
/// was collected) overlaps `[from, to]`.
fn in_window(r: &EvidenceRecord, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let start = r.effective_from.unwrap_or(r.collected_at);
    let end = r.effective_to.unwrap_or(r.collected_at);
    start <= to && end >= from
}

/// Whether the evidence concerns the framework: linked to one of its controls (directly or through a
/// check), or linked to nothing in particular.
fn in_scope(r: &EvidenceRecord, controls: &BTreeSet<String>, checks: &BTreeSet<&str>) -> bool {
    (r.controls.is_empty() && r.checks.is_empty())
        || r.controls.iter().any(|c| controls.contains(c))
        || r.checks.iter().any(|c| checks.contains(c.as_str()))
}

/// A short human title for an evidence file.
fn title_of(r: &EvidenceRecord) -> String {
    let s = &r.source;
    let mut title = format!("{} evidence", s.connector);
    for part in [&s.api_call, &s.account, &s.region, &s.repo].into_iter().flatten() {
        title.push_str(" · ");
        title.push_str(part);
    }
    title
}

fn pretty<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    Ok(kushim_evidence::package::pretty_json(value)?)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) async fn gather(
    ex: &Exports,
    tenant: &TenantId,
    record: &ExportRecord,
    checkpoint: Checkpoint,
) -> Result<Gathered> {
    let framework = record.framework;
    let (from, to) = (start_of(record.from), end_of(record.to));
    // The package says it was generated at the signed head's time: exporting unchanged state again
    // gives the same bytes.
    let generated_at = DateTime::parse_from_rfc3339(&checkpoint.time)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ExportError::Invalid(format!("checkpoint time: {e}")))?;
    let tenant_name = match ex.table.get(&keys::tenant(tenant)).await? {
        Some(item) => item.attrs.get("name").and_then(|v| v.as_str()).unwrap_or(tenant.as_str()).to_owned(),
        None => tenant.to_string(),
    };

    // Controls: status as of the request, effectiveness over the window, latest results.
    let filter = ControlFilter { framework: Some(framework), ..ControlFilter::default() };
    let controls: Vec<(Control, ControlEvaluation)> =
        ex.compliance.list_controls(tenant, &filter, record.created_at).await?;
    let effectiveness = ex.compliance.framework_effectiveness(tenant, framework, record.from, record.to).await?;
    let by_control: HashMap<&str, &Effectiveness> =
        effectiveness.controls.iter().map(|c| (c.control_id.as_str(), &c.effectiveness)).collect();
    let mut results: BTreeMap<String, Vec<CheckResult>> = BTreeMap::new();
    for (control, _) in &controls {
        results.insert(control.id.clone(), ex.compliance.latest_results(tenant, &control.id).await?);
    }
    let control_ids: BTreeSet<String> = controls.iter().map(|(c, _)| c.id.clone()).collect();
    let check_ids: BTreeSet<&str> =
        control_ids.iter().flat_map(|c| kushim_compliance::checks_for_control(c).iter().copied()).collect();

    // The ledger up to the checkpoint: where each evidence file was first recorded.
    let ledger = ledger_segment(ex.table.as_ref(), tenant, 1, checkpoint.seq).await?;
    let mut first_seq: HashMap<&str, u64> = HashMap::new();
    for entry in &ledger {
        first_seq.entry(entry.reference.as_str()).or_insert(entry.seq);
    }

    // Evidence placed in the window and recorded by the checkpoint's head.
    let mut evidence = Vec::new();
    let mut total = 0u64;
    let mut cursor = None;
    loop {
        let (page, next) = ex.store.list(tenant, 100, cursor).await?;
        for r in page {
            if !in_window(&r, from, to) || !in_scope(&r, &control_ids, &check_ids) {
                continue;
            }
            if !first_seq.contains_key(r.digest.as_str()) {
                continue; // stored after the checkpoint: the next export carries it
            }
            total += r.size;
            if total > MAX_EVIDENCE_BYTES {
                return Err(ExportError::Invalid(
                    "the window holds more than 1 GiB of evidence; export shorter windows".into(),
                ));
            }
            let bytes = ex.store.read_bytes(tenant, &r.digest).await?.to_vec();
            evidence.push((r, bytes));
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    evidence.sort_by(|a, b| a.0.digest.cmp(&b.0.digest));
    let start = evidence.iter().filter_map(|(r, _)| first_seq.get(r.digest.as_str()).copied()).min();
    let start = start.unwrap_or(checkpoint.seq.max(1));
    let segment: Vec<_> = ledger.into_iter().filter(|e| e.seq >= start).collect();

    // Reports.
    let mut extra: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let reports: Vec<ControlReport<'_>> = controls
        .iter()
        .map(|(c, e)| ControlReport {
            control_id: &c.id,
            title: &c.title,
            requirements: c.mapped(framework),
            evaluation: e,
            effectiveness: by_control.get(c.id.as_str()).copied(),
            results: results.get(&c.id).map(Vec::as_slice).unwrap_or_default(),
        })
        .collect();
    extra.insert("controls/status.json".into(), pretty(&reports)?);

    let mut status_csv = String::new();
    csv_line(
        &mut status_csv,
        &[
            "control_id",
            "title",
            "requirements",
            "status",
            "passed",
            "failed",
            "excepted",
            "inconclusive",
            "not_applicable",
            "days_observed",
            "days_passing",
            "share_passing",
        ],
    );
    for r in &reports {
        let e = r.evaluation;
        let status =
            serde_json::to_value(e.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let (observed, passing, share) = r.effectiveness.map_or((String::new(), String::new(), String::new()), |f| {
            (f.days_observed.to_string(), f.days_passing.to_string(), format!("{:.4}", f.share_passing))
        });
        csv_line(
            &mut status_csv,
            &[
                r.control_id,
                r.title,
                &r.requirements.join(" "),
                &status,
                &e.passed.to_string(),
                &e.failed.to_string(),
                &e.excepted.to_string(),
                &e.inconclusive.to_string(),
                &e.not_applicable.to_string(),
                &observed,
                &passing,
                &share,
            ],
        );
    }
    extra.insert("controls/status.csv".into(), status_csv.into_bytes());
    extra.insert("controls/effectiveness.csv".into(), effectiveness_to_csv(&effectiveness).into_bytes());

    let mut results_csv = String::new();
    csv_line(&mut results_csv, &["control_id", "check_id", "resource_id", "status", "reason"]);
    for (control, rs) in &results {
        for r in rs {
            csv_line(&mut results_csv, &[control, &r.check_id, &r.resource_id, r.status.label(), &r.reason]);
        }
    }
    extra.insert("checks/results.csv".into(), results_csv.into_bytes());

    let mut index_csv = String::new();
    csv_line(
        &mut index_csv,
        &[
            "sha256",
            "path",
            "media_type",
            "size",
            "connector",
            "collected_at",
            "effective_from",
            "effective_to",
            "valid_until",
            "controls",
            "checks",
        ],
    );
    let opt = |t: Option<DateTime<Utc>>| t.map(rfc3339).unwrap_or_default();
    for (r, _) in &evidence {
        csv_line(
            &mut index_csv,
            &[
                &r.digest,
                &evidence_file_path(&r.digest),
                &r.media_type,
                &r.size.to_string(),
                &r.source.connector,
                &rfc3339(r.collected_at),
                &opt(r.effective_from),
                &opt(r.effective_to),
                &opt(r.valid_until),
                &r.controls.join(" "),
                &r.checks.join(" "),
            ],
        );
    }
    extra.insert("evidence/index.csv".into(), index_csv.into_bytes());

    // OSCAL assessment-results (evidence paths relative to the document).
    let input = AssessmentInput {
        tenant_name: tenant_name.clone(),
        framework,
        window_start: from,
        window_end: to,
        generated_at,
        controls: controls
            .iter()
            .map(|(c, e)| ControlInput {
                control: c.clone(),
                evaluation: e.clone(),
                results: results.get(&c.id).cloned().unwrap_or_default(),
                effectiveness: by_control.get(c.id.as_str()).map(|e| (*e).clone()),
            })
            .collect(),
        evidence: evidence
            .iter()
            .map(|(r, _)| EvidenceRef {
                sha256: r.digest.clone(),
                media_type: r.media_type.clone(),
                title: title_of(r),
                collected_at: r.collected_at,
                href: format!("../{}", evidence_file_path(&r.digest)),
                control_ids: r.controls.clone(),
            })
            .collect(),
    };
    extra.insert("oscal/assessment-results.json".into(), pretty(&kushim_oscal::assessment_results(&input))?);
    extra.insert("README.txt".into(), readme(&tenant_name, framework, record, &checkpoint).into_bytes());

    let about = serde_json::json!({
        "tenant_name": tenant_name,
        "framework": framework.as_str(),
        "window": { "from": record.from.to_string(), "to": record.to.to_string() },
        "generated_at": rfc3339(generated_at),
        "generator": concat!("kushim ", env!("CARGO_PKG_VERSION")),
    });
    Ok(Gathered {
        controls: controls.len(),
        contents: PackageContents { tenant: tenant.to_string(), about, checkpoint, segment, evidence, extra },
    })
}

fn readme(tenant_name: &str, framework: FrameworkId, record: &ExportRecord, checkpoint: &Checkpoint) -> String {
    format!(
        "Kushim auditor package\n\
         ======================\n\n\
         Organisation: {tenant_name}\n\
         Framework:    {framework}\n\
         Window:       {from} to {to} (UTC, inclusive)\n\
         Ledger head:  entry {seq}, hash {head}, signed {time}\n\n\
         What is inside\n\
         - manifest.json: every other file with its SHA-256 and size.\n\
         - controls/status.json and .csv: each control's status, its operating effectiveness over the window\n  \
           and the latest check results behind it; controls/effectiveness.csv: day counts per control.\n\
         - checks/results.csv: every latest check result, per control and resource.\n\
         - evidence/files/<sha256>: the evidence itself; evidence/records/<sha256>.json: what Kushim recorded\n  \
           about it; evidence/index.csv: one line per file.\n\
         - ledger/segment.jsonl: the hash-chained ledger entries from the first one recording a file here up\n  \
           to the signed head; ledger/checkpoint.json: the Ed25519 signature over that head;\n  \
           ledger/public-key.txt: the key it verifies with.\n\
         - oscal/assessment-results.json: the same assessment as an OSCAL 1.1.3 document.\n\n\
         How to check it\n\
         1. Compare ledger/public-key.txt with the key Kushim publishes at GET /v1/evidence/public-key.\n\
         2. Run `kushim evidence verify --package <this file>`. It needs nothing but this file: it re-hashes\n   \
            every file against the manifest, checks the checkpoint signature, re-walks the hash chain up to\n   \
            the signed head, and checks every evidence file against its record and its ledger entry. Any\n   \
            edit, removal or reordering is reported with the first bad file or entry.\n",
        framework = framework.as_str(),
        from = record.from,
        to = record.to,
        seq = checkpoint.seq,
        head = checkpoint.head_hash,
        time = checkpoint.time,
    )
}
