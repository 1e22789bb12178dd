//! Builds the `assessment-results` document: metadata, the import of the assessment plan, and one
//! result holding the reviewed controls, an observation per check result and per evidence file, and
//! a finding per Kushim control.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use kushim_catalog::{FrameworkId, catalog};
use kushim_checks::{CheckResult, InconclusiveReason, Status, find_check};
use kushim_engine::{ControlEvaluation, ControlStatus, Effectiveness};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::ids::{KUSHIM_NS, child, control_token, document};
use crate::input::{AssessmentInput, ControlInput, EvidenceRef};

/// The OSCAL version the documents conform to.
pub const OSCAL_VERSION: &str = "1.1.3";

/// The version of Kushim's document layout, reported as the document version.
const DOCUMENT_VERSION: &str = "1.0.0";

/// Builds the OSCAL 1.1.3 assessment-results document, wrapped as `{"assessment-results": …}`.
///
/// Controls that map to no requirement of `input.framework` are left out. The import of the
/// assessment plan points at `assessment-plan.json` beside the document in the export package.
pub fn assessment_results(input: &AssessmentInput) -> Value {
    let doc_uuid = document(&[
        "assessment-results",
        &input.tenant_name,
        input.framework.as_str(),
        &timestamp(input.window_start),
        &timestamp(input.window_end),
    ]);
    let controls: Vec<&ControlInput> =
        input.controls.iter().filter(|c| !c.control.mapped(input.framework).is_empty()).collect();
    let mut builder = Builder { input, doc: doc_uuid, observations: Vec::new(), seen: BTreeMap::new() };
    let evidence_observations = builder.evidence_observations();
    let findings: Vec<Value> = controls.iter().map(|c| builder.finding(c, &evidence_observations)).collect();
    let inventory = builder.inventory_items();

    let mut result = Map::new();
    result.insert("uuid".into(), json!(child(&doc_uuid, "result")));
    result.insert(
        "title".into(),
        json!(format!("{} assessment of {}", framework_name(input.framework), input.tenant_name)),
    );
    result.insert(
        "description".into(),
        json!(format!(
            "Kushim's automated assessment of {} against {} from {} to {}: one observation per check result and per \
             evidence file, and one finding per Kushim control.",
            input.tenant_name,
            framework_name(input.framework),
            timestamp(input.window_start),
            timestamp(input.window_end),
        )),
    );
    result.insert("start".into(), json!(timestamp(input.window_start)));
    result.insert("end".into(), json!(timestamp(input.window_end)));
    result.insert("props".into(), json!([prop("framework", input.framework.as_str())]));
    if !inventory.is_empty() {
        result.insert("local-definitions".into(), json!({ "inventory-items": inventory }));
    }
    result.insert("reviewed-controls".into(), reviewed_controls(input.framework, &controls));
    if !builder.observations.is_empty() {
        result.insert("observations".into(), Value::Array(builder.observations));
    }
    if !findings.is_empty() {
        result.insert("findings".into(), Value::Array(findings));
    }

    let mut ar = Map::new();
    ar.insert("uuid".into(), json!(doc_uuid));
    ar.insert("metadata".into(), metadata(input, &doc_uuid));
    ar.insert(
        "import-ap".into(),
        json!({
            "href": "assessment-plan.json",
            "remarks": "Kushim assesses continuously against its control catalog; the plan is the catalog's mapping of \
                        Kushim controls to the framework's requirements.",
        }),
    );
    ar.insert("results".into(), json!([Value::Object(result)]));
    let resources = back_matter(input, &doc_uuid);
    if !resources.is_empty() {
        ar.insert("back-matter".into(), json!({ "resources": resources }));
    }
    json!({ "assessment-results": Value::Object(ar) })
}

/// Observations built so far, and the uuid of each check result's observation by its key.
struct Builder<'a> {
    input: &'a AssessmentInput,
    doc: Uuid,
    observations: Vec<Value>,
    /// `(check id, resource id)` → the uuid of that result's observation.
    seen: BTreeMap<(String, String), Uuid>,
}

impl Builder<'_> {
    /// One observation per evidence file; returns each file's observation uuid by index.
    fn evidence_observations(&mut self) -> Vec<Uuid> {
        let mut uuids = Vec::new();
        for ev in &self.input.evidence {
            let uuid = child(&self.doc, &format!("observation/evidence/{}", ev.sha256));
            let mut props = vec![prop("sha256", &ev.sha256)];
            props.extend(ev.control_ids.iter().map(|c| prop("kushim-control", c)));
            self.observations.push(json!({
                "uuid": uuid,
                "title": format!("Evidence: {}", ev.title),
                "description": format!("The evidence file \"{}\" ({}), SHA-256 {}.", ev.title, ev.media_type, ev.sha256),
                "props": props,
                "methods": ["EXAMINE"],
                "types": ["control-objective"],
                "collected": timestamp(ev.collected_at),
                "relevant-evidence": [relevant_evidence(ev, &self.doc)],
            }));
            uuids.push(uuid);
        }
        uuids
    }

    /// The observation for one check result, created on first use (a result that supports two
    /// controls is observed once and cited by both findings).
    fn result_observation(&mut self, control: &ControlInput, r: &CheckResult) -> Uuid {
        let key = (r.check_id.clone(), r.resource_id.clone());
        if let Some(uuid) = self.seen.get(&key) {
            return *uuid;
        }
        let uuid =
            child(&self.doc, &format!("observation/check/{}:{}/{}", r.check_id.len(), r.check_id, r.resource_id));
        let def = find_check(&r.check_id).map(|c| c.def());
        let mut props = vec![
            prop("check-id", &r.check_id),
            prop("resource-id", &r.resource_id),
            prop("result", &r.status.label().replace('_', "-")),
        ];
        if let Status::Inconclusive(reason) = &r.status {
            props.push(prop("inconclusive-cause", inconclusive_cause(reason)));
        }
        if let Some(def) = def {
            props.push(prop("severity", severity(def.severity)));
            props.push(prop("connector", def.connector.as_str()));
        }
        let mut types = vec!["control-objective"];
        if r.status.is_fail() {
            types.push("finding");
        }
        let mut obs = Map::new();
        obs.insert("uuid".into(), json!(uuid));
        obs.insert("title".into(), json!(def.map_or(r.check_id.as_str(), |d| d.title)));
        obs.insert("description".into(), json!(non_empty(&r.reason, "The check gave no reason.")));
        obs.insert("props".into(), json!(props));
        obs.insert("methods".into(), json!(["TEST"]));
        obs.insert("types".into(), json!(types));
        obs.insert(
            "subjects".into(),
            json!([{
                "subject-uuid": self.inventory_uuid(&r.resource_id),
                "type": "inventory-item",
                "title": r.resource_id,
            }]),
        );
        obs.insert("collected".into(), json!(timestamp(self.input.window_end)));
        let evidence: Vec<Value> = self
            .input
            .evidence
            .iter()
            .filter(|e| e.control_ids.contains(&control.control.id))
            .map(|e| relevant_evidence(e, &self.doc))
            .collect();
        if !evidence.is_empty() {
            obs.insert("relevant-evidence".into(), json!(evidence));
        }
        self.observations.push(Value::Object(obs));
        self.seen.insert(key, uuid);
        uuid
    }

    fn inventory_uuid(&self, resource_id: &str) -> Uuid {
        child(&self.doc, &format!("inventory-item/{resource_id}"))
    }

    /// One inventory item per resource a check result is about, in resource id order.
    fn inventory_items(&self) -> Vec<Value> {
        let mut types: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (check_id, resource_id) in self.seen.keys() {
            let entry = types.entry(resource_id.as_str()).or_default();
            if let Some(check) = find_check(check_id) {
                entry.insert(check.def().resource_type);
            }
        }
        types
            .into_iter()
            .map(|(resource_id, kinds)| {
                let mut props = vec![prop("resource-id", resource_id)];
                props.extend(kinds.into_iter().map(|k| prop("resource-type", k)));
                json!({
                    "uuid": self.inventory_uuid(resource_id),
                    "description": format!("The resource {resource_id}, as named by the connector that collected it."),
                    "props": props,
                })
            })
            .collect()
    }

    /// The finding for one Kushim control: its status against its first mapped requirement, with
    /// every mapped requirement listed in its properties.
    fn finding(&mut self, c: &ControlInput, evidence_observations: &[Uuid]) -> Value {
        let framework = self.input.framework;
        let mapped = c.control.mapped(framework);
        let eval = &c.evaluation;
        let mut related: Vec<Uuid> = Vec::new();
        for r in &c.results {
            let uuid = self.result_observation(c, r);
            if !related.contains(&uuid) {
                related.push(uuid);
            }
        }
        for (ev, uuid) in self.input.evidence.iter().zip(evidence_observations) {
            if ev.control_ids.contains(&c.control.id) && !related.contains(uuid) {
                related.push(*uuid);
            }
        }

        let mut props = vec![prop("kushim-control", &c.control.id), prop("control-status", status_label(eval.status))];
        props.extend(mapped.iter().map(|id| prop("requirement", id)));
        if let Some(e) = &c.effectiveness {
            props.extend(effectiveness_props(e));
        }
        let satisfied = eval.status == ControlStatus::Passing;
        let mut target = Map::new();
        target.insert("type".into(), json!("objective-id"));
        target.insert("target-id".into(), json!(control_token(framework, &mapped[0])));
        target.insert("title".into(), json!(format!("{} {}", framework_name(framework), mapped[0])));
        target.insert("props".into(), json!([prop("requirement", &mapped[0])]));
        target.insert(
            "status".into(),
            json!({
                "state": if satisfied { "satisfied" } else { "not-satisfied" },
                "reason": match eval.status {
                    ControlStatus::Passing => "pass",
                    ControlStatus::Failing => "fail",
                    _ => "other",
                },
                "remarks": format!("Kushim status: {}.", status_label(eval.status)),
            }),
        );

        let mut finding = Map::new();
        finding.insert("uuid".into(), json!(child(&self.doc, &format!("finding/{}", c.control.id))));
        finding.insert("title".into(), json!(format!("{} {}", c.control.id, c.control.title)));
        finding.insert("description".into(), json!(finding_description(c, mapped)));
        finding.insert("props".into(), json!(props));
        finding.insert("target".into(), Value::Object(target));
        if !related.is_empty() {
            let related: Vec<Value> = related.iter().map(|u| json!({ "observation-uuid": u })).collect();
            finding.insert("related-observations".into(), json!(related));
        }
        if !eval.reasons.is_empty() {
            finding.insert("remarks".into(), json!(eval.reasons.join("\n\n")));
        }
        Value::Object(finding)
    }
}

/// The document metadata, with the tenant as the assessed organisation.
fn metadata(input: &AssessmentInput, doc: &Uuid) -> Value {
    let party = child(doc, "party/tenant");
    json!({
        "title": format!("{} assessment results for {}", framework_name(input.framework), input.tenant_name),
        "last-modified": timestamp(input.generated_at),
        "version": DOCUMENT_VERSION,
        "oscal-version": OSCAL_VERSION,
        "props": [prop("generator", "kushim")],
        "roles": [{ "id": "assessed-organization", "title": "Assessed Organization" }],
        "parties": [{ "uuid": party, "type": "organization", "name": non_empty(&input.tenant_name, "Unnamed tenant") }],
        "responsible-parties": [{ "role-id": "assessed-organization", "party-uuids": [party] }],
    })
}

/// `control-selections` listing every requirement the assessed controls map to, in the order the
/// framework lists them.
fn reviewed_controls(framework: FrameworkId, controls: &[&ControlInput]) -> Value {
    let mapped: BTreeSet<&str> =
        controls.iter().flat_map(|c| c.control.mapped(framework)).map(String::as_str).collect();
    let order: Vec<&str> = catalog()
        .framework(framework)
        .map(|f| f.requirements.iter().map(|r| r.id.as_str()).filter(|id| mapped.contains(id)).collect())
        .unwrap_or_default();
    let mut ids: Vec<&str> = order;
    ids.extend(mapped.iter().filter(|id| !ids.contains(id)).copied().collect::<Vec<_>>());
    let description =
        format!("The {} requirements that the assessed Kushim controls map to.", framework_name(framework));
    let selection = if ids.is_empty() {
        json!({ "description": description, "remarks": "No assessed control maps to this framework." })
    } else {
        let include: Vec<Value> = ids.iter().map(|id| json!({ "control-id": control_token(framework, id) })).collect();
        json!({ "description": description, "include-controls": include })
    };
    json!({ "control-selections": [selection] })
}

/// Back-matter resources for the evidence files, with their SHA-256 so a reader can verify them.
fn back_matter(input: &AssessmentInput, doc: &Uuid) -> Vec<Value> {
    input
        .evidence
        .iter()
        .map(|ev| {
            json!({
                "uuid": evidence_resource(doc, ev),
                "title": ev.title,
                "props": [prop("collected", &timestamp(ev.collected_at))],
                "rlinks": [{
                    "href": ev.href,
                    "media-type": non_empty(&ev.media_type, "application/octet-stream"),
                    "hashes": [{ "algorithm": "SHA-256", "value": non_empty(&ev.sha256, "unknown") }],
                }],
            })
        })
        .collect()
}

fn evidence_resource(doc: &Uuid, ev: &EvidenceRef) -> Uuid {
    child(doc, &format!("resource/evidence/{}", ev.sha256))
}

/// A `relevant-evidence` entry pointing at the file in the package and at its back-matter resource.
fn relevant_evidence(ev: &EvidenceRef, doc: &Uuid) -> Value {
    json!({
        "href": ev.href,
        "description": format!("{} (SHA-256 {})", ev.title, ev.sha256),
        "links": [{ "href": format!("#{}", evidence_resource(doc, ev)), "rel": "reference" }],
    })
}

fn finding_description(c: &ControlInput, mapped: &[String]) -> String {
    let e: &ControlEvaluation = &c.evaluation;
    format!(
        "{} Kushim control {} maps to {}. Status: {} ({} passed, {} failed, {} excepted, {} inconclusive, {} not \
         applicable).",
        c.control.description.trim(),
        c.control.id,
        mapped.join(", "),
        status_label(e.status),
        e.passed,
        e.failed,
        e.excepted,
        e.inconclusive,
        e.not_applicable,
    )
}

fn effectiveness_props(e: &Effectiveness) -> Vec<Value> {
    let mut props = vec![
        prop("days-in-window", &e.days_in_window.to_string()),
        prop("days-observed", &e.days_observed.to_string()),
        prop("days-passing", &e.days_passing.to_string()),
        prop("days-failing", &e.days_failing.to_string()),
        prop("days-excepted", &e.days_excepted.to_string()),
        prop("share-passing", &format!("{:.4}", e.share_passing)),
        prop("longest-failing-streak", &e.longest_failing_streak.to_string()),
    ];
    if let Some(mean) = e.mean_days_to_remediate {
        props.push(prop("mean-days-to-remediate", &format!("{mean:.2}")));
    }
    props
}

/// A Kushim property. The value is made a valid OSCAL string (no surrounding or repeated
/// whitespace, never empty).
fn prop(name: &str, value: &str) -> Value {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    json!({ "name": name, "ns": KUSHIM_NS, "value": non_empty(&value, "unknown") })
}

fn non_empty<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.trim().is_empty() { fallback } else { s.trim() }
}

/// RFC 3339 in UTC with a `Z`, whole seconds (the form the OSCAL schema's pattern accepts).
fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn framework_name(f: FrameworkId) -> &'static str {
    match f {
        FrameworkId::Soc2 => "SOC 2",
        FrameworkId::Iso27001 => "ISO/IEC 27001:2022",
        FrameworkId::Hipaa => "HIPAA Security Rule",
        FrameworkId::NistCsf => "NIST CSF 2.0",
    }
}

fn status_label(s: ControlStatus) -> &'static str {
    match s {
        ControlStatus::Passing => "passing",
        ControlStatus::Failing => "failing",
        ControlStatus::NeedsEvidence => "needs-evidence",
        ControlStatus::Excepted => "excepted",
        ControlStatus::NotStarted => "not-started",
    }
}

fn severity(s: kushim_checks::Severity) -> &'static str {
    use kushim_checks::Severity::*;
    match s {
        Critical => "critical",
        High => "high",
        Medium => "medium",
        Low => "low",
        Info => "info",
    }
}

fn inconclusive_cause(r: &InconclusiveReason) -> &'static str {
    match r {
        InconclusiveReason::PermissionDenied { .. } => "permission-denied",
        InconclusiveReason::FieldNotVisible { .. } => "field-not-visible",
        InconclusiveReason::ApiError { .. } => "api-error",
        InconclusiveReason::RegionDisabled => "region-disabled",
        InconclusiveReason::InsufficientData { .. } => "insufficient-data",
    }
}
