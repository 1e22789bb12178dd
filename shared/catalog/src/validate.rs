//! Consistency checks over a whole [`Catalog`], and the [`CatalogError`] each failed check produces.
//!
//! [`Catalog::validate`] looks for duplicate ids, malformed ids, groupings that contradict an id, broken parent
//! links, controls without the evidence guidance they need, mappings and crosswalk pairs that point at requirements
//! that do not exist, and SOC 2 criteria that no control covers. It reports every problem it finds, not just the
//! first.

use std::collections::{BTreeMap, BTreeSet};

use crate::catalog::Catalog;
use crate::ids;
use crate::model::{Framework, FrameworkId, Requirement, RequirementKind};

/// One problem found in catalog data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// A bundled file is not valid JSON of the expected shape.
    #[error("{file} could not be read: {message}")]
    Parse { file: String, message: String },
    /// One of the four frameworks is absent.
    #[error("the catalog has no {framework} framework")]
    MissingFramework { framework: FrameworkId },
    /// A framework appears more than once.
    #[error("the {framework} framework appears more than once")]
    DuplicateFramework { framework: FrameworkId },
    /// Two requirements of one framework share an id.
    #[error("{framework} requirement {id} appears more than once")]
    DuplicateRequirement { framework: FrameworkId, id: String },
    /// A requirement kind that the framework does not use, such as a NIST-style subcategory inside SOC 2.
    #[error("{framework} requirement {id} has kind {kind}, which {framework} does not use")]
    UnexpectedKind { framework: FrameworkId, id: String, kind: RequirementKind },
    /// A requirement id that does not have its framework's shape.
    #[error("{framework} requirement id {id:?} is malformed: {reason}")]
    InvalidRequirementId { framework: FrameworkId, id: String, reason: &'static str },
    /// A requirement attribute (category, series, required flag, parent) contradicts its id or kind.
    #[error("{framework} requirement {id}: {reason}")]
    InvalidAttribute { framework: FrameworkId, id: String, reason: String },
    /// A HIPAA implementation specification or NIST category or subcategory has no parent.
    #[error("{framework} {kind} {id} has no parent")]
    MissingParent { framework: FrameworkId, id: String, kind: RequirementKind },
    /// A parent link names a requirement that does not exist in the framework.
    #[error("{framework} requirement {id} names parent {parent}, which does not exist")]
    UnknownParent { framework: FrameworkId, id: String, parent: String },
    /// Two controls share an id.
    #[error("control {id} appears more than once")]
    DuplicateControl { id: String },
    /// A control id that is not `KC-<AREA>-<NN>`.
    #[error("control id {id:?} is malformed: expected KC-<AREA>-<NN>, such as KC-IAM-01")]
    InvalidControlId { id: String },
    /// A required piece of text is empty.
    #[error("{owner} has an empty {field}")]
    EmptyText { owner: String, field: &'static str },
    /// A manual or hybrid control lacks evidence guidance or a positive evidence freshness.
    #[error("control {control} needs uploaded evidence but lacks evidence guidance or a freshness period in days")]
    MissingEvidenceGuidance { control: String },
    /// A control maps to a requirement id the framework does not have.
    #[error("control {control} maps to {framework} {requirement}, which does not exist")]
    UnknownMappingTarget { control: String, framework: FrameworkId, requirement: String },
    /// A control maps to a grouping (a NIST CSF function or category) instead of a requirement.
    #[error("control {control} maps to {framework} {requirement}, which is a grouping; map to its subcategories")]
    MappingTooBroad { control: String, framework: FrameworkId, requirement: String },
    /// A control lists the same requirement twice.
    #[error("control {control} lists {framework} {requirement} more than once")]
    DuplicateMapping { control: String, framework: FrameworkId, requirement: String },
    /// No control maps to this SOC 2 criterion.
    #[error("no control covers SOC 2 criterion {id}")]
    UncoveredSoc2Criterion { id: String },
    /// A crosswalk pair names a requirement that does not exist.
    #[error("the {from} to {to} crosswalk names {framework} {id}, which does not exist")]
    UnknownCrosswalkId { from: FrameworkId, to: FrameworkId, framework: FrameworkId, id: String },
    /// A crosswalk lists the same pair twice.
    #[error("the {from} to {to} crosswalk lists ({left}, {right}) more than once")]
    DuplicateCrosswalkPair { from: FrameworkId, to: FrameworkId, left: String, right: String },
}

impl Catalog {
    /// Checks the catalog for internal consistency, returning every problem found.
    pub fn validate(&self) -> Result<(), Vec<CatalogError>> {
        let mut errors = Vec::new();
        check_framework_set(self, &mut errors);
        for framework in &self.frameworks {
            check_framework(framework, &mut errors);
        }
        check_controls(self, &mut errors);
        check_soc2_coverage(self, &mut errors);
        check_crosswalks(self, &mut errors);
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

fn check_framework_set(catalog: &Catalog, errors: &mut Vec<CatalogError>) {
    for framework in FrameworkId::ALL {
        match catalog.frameworks.iter().filter(|f| f.id == framework).count() {
            0 => errors.push(CatalogError::MissingFramework { framework }),
            1 => {}
            _ => errors.push(CatalogError::DuplicateFramework { framework }),
        }
    }
}

fn check_framework(framework: &Framework, errors: &mut Vec<CatalogError>) {
    let fw = framework.id;
    for (field, text) in [("name", &framework.name), ("version", &framework.version), ("source", &framework.source)] {
        if text.trim().is_empty() {
            errors.push(CatalogError::EmptyText { owner: format!("framework {fw}"), field });
        }
    }
    let by_id: BTreeMap<&str, &Requirement> = framework.requirements.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut seen = BTreeSet::new();
    for req in &framework.requirements {
        if !seen.insert(req.id.as_str()) {
            errors.push(CatalogError::DuplicateRequirement { framework: fw, id: req.id.clone() });
        }
        if !fw.requirement_kinds().contains(&req.kind) {
            errors.push(CatalogError::UnexpectedKind { framework: fw, id: req.id.clone(), kind: req.kind });
            continue;
        }
        if let Err(reason) = ids::check_requirement_id(fw, req.kind, &req.id) {
            errors.push(CatalogError::InvalidRequirementId { framework: fw, id: req.id.clone(), reason });
            continue;
        }
        if req.title.trim().is_empty() {
            errors.push(CatalogError::EmptyText { owner: format!("{fw} requirement {}", req.id), field: "title" });
        }
        for reason in attribute_problems(fw, req) {
            errors.push(CatalogError::InvalidAttribute { framework: fw, id: req.id.clone(), reason });
        }
        check_parent(fw, req, &by_id, errors);
    }
}

/// Category, series and required-flag problems: each must agree with what the id and kind imply.
fn attribute_problems(fw: FrameworkId, req: &Requirement) -> Vec<String> {
    let mut problems = Vec::new();
    let expected_category = match fw {
        FrameworkId::Soc2 => ids::soc2_category(&req.id),
        FrameworkId::Iso27001 => ids::iso_theme(&req.id),
        FrameworkId::Hipaa => ids::hipaa_safeguard(&req.id),
        FrameworkId::NistCsf => None,
    };
    if req.category.as_deref() != expected_category {
        problems.push(format!("category should be {expected_category:?}, found {:?}", req.category.as_deref()));
    }
    let expected_series = if fw == FrameworkId::Soc2 { ids::soc2_series(&req.id) } else { None };
    if req.series.as_deref() != expected_series {
        problems.push(format!("series should be {expected_series:?}, found {:?}", req.series.as_deref()));
    }
    match (req.kind, req.required) {
        (RequirementKind::Standard, Some(true)) | (RequirementKind::ImplementationSpec, Some(_)) => {}
        (RequirementKind::Standard, _) => problems.push("a HIPAA standard must be marked required".to_owned()),
        (RequirementKind::ImplementationSpec, None) => {
            problems.push("a HIPAA implementation specification must be marked required or addressable".to_owned())
        }
        (_, Some(_)) => problems.push("only HIPAA requirements carry a required flag".to_owned()),
        (_, None) => {}
    }
    problems
}

/// Parent links: specifications, categories and subcategories need an existing parent of the right kind, in the same
/// section (HIPAA) or with the matching id prefix (NIST); other kinds have no parent.
fn check_parent(
    fw: FrameworkId,
    req: &Requirement,
    by_id: &BTreeMap<&str, &Requirement>,
    errors: &mut Vec<CatalogError>,
) {
    let parent_kind = match req.kind {
        RequirementKind::ImplementationSpec => Some(RequirementKind::Standard),
        RequirementKind::Category => Some(RequirementKind::Function),
        RequirementKind::Subcategory => Some(RequirementKind::Category),
        _ => None,
    };
    let invalid = |reason: String| CatalogError::InvalidAttribute { framework: fw, id: req.id.clone(), reason };
    match (parent_kind, req.parent.as_deref()) {
        (None, None) => {}
        (None, Some(_)) => errors.push(invalid(format!("a {} has no parent", req.kind))),
        (Some(_), None) => {
            errors.push(CatalogError::MissingParent { framework: fw, id: req.id.clone(), kind: req.kind })
        }
        (Some(kind), Some(parent_id)) => {
            let Some(parent) = by_id.get(parent_id) else {
                errors.push(CatalogError::UnknownParent {
                    framework: fw,
                    id: req.id.clone(),
                    parent: parent_id.to_owned(),
                });
                return;
            };
            if parent.kind != kind {
                errors.push(invalid(format!("parent {parent_id} is a {}, expected a {kind}", parent.kind)));
            }
            let consistent = match fw {
                FrameworkId::Hipaa => ids::hipaa_paragraph(&req.id) == ids::hipaa_paragraph(parent_id),
                _ => ids::nist_parent(&req.id) == Some(parent_id),
            };
            if !consistent {
                errors.push(invalid(format!("parent {parent_id} does not match the id")));
            }
        }
    }
}

fn check_controls(catalog: &Catalog, errors: &mut Vec<CatalogError>) {
    let mut seen = BTreeSet::new();
    for control in &catalog.controls {
        let id = &control.id;
        if !seen.insert(id.as_str()) {
            errors.push(CatalogError::DuplicateControl { id: id.clone() });
        }
        if !ids::is_control_id(id) {
            errors.push(CatalogError::InvalidControlId { id: id.clone() });
        }
        for (field, text) in [("title", &control.title), ("description", &control.description), ("area", &control.area)]
        {
            if text.trim().is_empty() {
                errors.push(CatalogError::EmptyText { owner: format!("control {id}"), field });
            }
        }
        if control.kind.needs_uploaded_evidence() {
            let guidance = control.evidence_guidance.as_deref().is_some_and(|g| !g.trim().is_empty());
            let freshness = control.evidence_freshness_days.is_some_and(|d| d > 0);
            if !(guidance && freshness) {
                errors.push(CatalogError::MissingEvidenceGuidance { control: id.clone() });
            }
        }
        for (&fw, targets) in &control.mappings {
            let Some(framework) = catalog.framework(fw) else { continue };
            let mut listed = BTreeSet::new();
            for target in targets {
                let mapping = || (id.clone(), fw, target.clone());
                if !listed.insert(target.as_str()) {
                    let (control, framework, requirement) = mapping();
                    errors.push(CatalogError::DuplicateMapping { control, framework, requirement });
                }
                match framework.requirement(target) {
                    None => {
                        let (control, framework, requirement) = mapping();
                        errors.push(CatalogError::UnknownMappingTarget { control, framework, requirement });
                    }
                    Some(req) if !fw.mappable_kinds().contains(&req.kind) => {
                        let (control, framework, requirement) = mapping();
                        errors.push(CatalogError::MappingTooBroad { control, framework, requirement });
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

fn check_soc2_coverage(catalog: &Catalog, errors: &mut Vec<CatalogError>) {
    let Some(soc2) = catalog.framework(FrameworkId::Soc2) else { return };
    let covered = catalog.requirements_covered(FrameworkId::Soc2);
    for criterion in soc2.requirements_of(RequirementKind::Criterion) {
        if !covered.contains(criterion.id.as_str()) {
            errors.push(CatalogError::UncoveredSoc2Criterion { id: criterion.id.clone() });
        }
    }
}

fn check_crosswalks(catalog: &Catalog, errors: &mut Vec<CatalogError>) {
    for walk in &catalog.crosswalks {
        let (from, to) = (walk.from, walk.to);
        if walk.source.trim().is_empty() {
            errors.push(CatalogError::EmptyText { owner: format!("the {from} to {to} crosswalk"), field: "source" });
        }
        let mut seen = BTreeSet::new();
        for (left, right) in &walk.pairs {
            if !seen.insert((left.as_str(), right.as_str())) {
                errors.push(CatalogError::DuplicateCrosswalkPair {
                    from,
                    to,
                    left: left.clone(),
                    right: right.clone(),
                });
            }
            for (framework, id) in [(from, left), (to, right)] {
                let exists = catalog.framework(framework).is_some_and(|f| f.requirement(id).is_some());
                if !exists {
                    errors.push(CatalogError::UnknownCrosswalkId { from, to, framework, id: id.clone() });
                }
            }
        }
    }
}
