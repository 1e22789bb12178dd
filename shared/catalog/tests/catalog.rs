//! Checks of the bundled catalog: exact requirement counts taken from the publications, id formats, uniqueness,
//! SOC 2 coverage, mapping and crosswalk integrity, the fixed control list, and that `validate` catches deliberately
//! broken data.

use std::collections::{BTreeMap, BTreeSet};

use kushim_catalog::{Catalog, CatalogError, ControlKind, FrameworkId, Requirement, RequirementKind, catalog, ids};

/// The fixed Kushim control ids, in order. Other crates reference these ids; do not change them casually.
#[rustfmt::skip]
const EXPECTED_CONTROL_IDS: [&str; 84] = [
    "KC-GOV-01", "KC-GOV-02", "KC-GOV-03", "KC-GOV-04", "KC-GOV-05", "KC-GOV-06", "KC-HR-01", "KC-HR-02", "KC-HR-03",
    "KC-HR-04", "KC-HR-05", "KC-HR-06", "KC-RSK-01", "KC-RSK-02", "KC-RSK-03", "KC-RSK-04", "KC-VEN-01", "KC-VEN-02",
    "KC-VEN-03", "KC-IAM-01", "KC-IAM-02", "KC-IAM-03", "KC-IAM-04", "KC-IAM-05", "KC-IAM-06", "KC-IAM-07",
    "KC-IAM-08", "KC-IAM-09", "KC-IAM-10", "KC-NET-01", "KC-NET-02", "KC-NET-03", "KC-CRY-01", "KC-CRY-02",
    "KC-CRY-03", "KC-LOG-01", "KC-LOG-02", "KC-LOG-03", "KC-LOG-04", "KC-LOG-05", "KC-LOG-06", "KC-LOG-07",
    "KC-VUL-01", "KC-VUL-02", "KC-VUL-03", "KC-VUL-04", "KC-VUL-05", "KC-CHG-01", "KC-CHG-02", "KC-CHG-03",
    "KC-CHG-04", "KC-CHG-05", "KC-CHG-06", "KC-INC-01", "KC-INC-02", "KC-INC-03", "KC-INC-04", "KC-BCP-01",
    "KC-BCP-02", "KC-BCP-03", "KC-BCP-04", "KC-DAT-01", "KC-DAT-02", "KC-DAT-03", "KC-DAT-04", "KC-DAT-05",
    "KC-PRV-01", "KC-PRV-02", "KC-PRV-03", "KC-PRV-04", "KC-PRV-05", "KC-PRV-06", "KC-PRV-07", "KC-PRV-08",
    "KC-PRV-09", "KC-COM-01", "KC-COM-02", "KC-COM-03", "KC-MON-01", "KC-MON-02", "KC-END-01", "KC-END-02",
    "KC-PHY-01", "KC-PHY-02",
];

fn requirements(framework: FrameworkId) -> &'static [Requirement] {
    &catalog().framework(framework).expect("framework present").requirements
}

/// Counts requirements by a key.
fn count_by<K: Ord>(reqs: &[Requirement], key: impl Fn(&Requirement) -> K) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for req in reqs {
        *counts.entry(key(req)).or_insert(0) += 1;
    }
    counts
}

fn map<K: Ord + Clone>(pairs: &[(K, usize)]) -> BTreeMap<K, usize> {
    pairs.iter().cloned().collect()
}

#[test]
fn bundled_catalog_is_valid() {
    let fresh = Catalog::bundled().unwrap_or_else(|errors| panic!("bundled catalog invalid: {errors:#?}"));
    assert_eq!(catalog().validate(), Ok(()));
    assert_eq!(&fresh, catalog());
}

#[test]
fn soc2_has_61_criteria_in_five_categories() {
    let reqs = requirements(FrameworkId::Soc2);
    assert_eq!(reqs.len(), 61);
    assert!(reqs.iter().all(|r| r.kind == RequirementKind::Criterion));
    let by_category = count_by(reqs, |r| r.category.clone().expect("category"));
    let expected =
        [("security", 33), ("availability", 3), ("confidentiality", 2), ("processing_integrity", 5), ("privacy", 18)];
    assert_eq!(by_category, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect());
    let by_series = count_by(reqs, |r| r.series.clone().expect("series"));
    let expected_series = [
        ("CC1", 5),
        ("CC2", 3),
        ("CC3", 4),
        ("CC4", 2),
        ("CC5", 3),
        ("CC6", 8),
        ("CC7", 5),
        ("CC8", 1),
        ("CC9", 2),
        ("A1", 3),
        ("C1", 2),
        ("PI1", 5),
        ("P1", 1),
        ("P2", 1),
        ("P3", 2),
        ("P4", 3),
        ("P5", 2),
        ("P6", 7),
        ("P7", 1),
        ("P8", 1),
    ];
    assert_eq!(by_series, expected_series.iter().map(|(k, v)| (k.to_string(), *v)).collect());
    let first_and_last: Vec<&str> = [reqs.first(), reqs.last()].into_iter().flatten().map(|r| r.id.as_str()).collect();
    assert_eq!(first_and_last, ["CC1.1", "P8.1"]);
}

#[test]
fn iso27001_annex_a_has_93_controls_in_four_themes() {
    let reqs = requirements(FrameworkId::Iso27001);
    assert_eq!(reqs.len(), 93);
    assert!(reqs.iter().all(|r| r.kind == RequirementKind::Control && r.parent.is_none()));
    let by_theme = count_by(reqs, |r| r.category.clone().expect("theme"));
    let expected = [("organizational", 37), ("people", 8), ("physical", 14), ("technological", 34)];
    assert_eq!(by_theme, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect());
    for (clause, last) in [(5, 37), (6, 8), (7, 14), (8, 34)] {
        for n in 1..=last {
            let id = format!("A.{clause}.{n}");
            assert!(reqs.iter().any(|r| r.id == id), "{id} missing");
        }
    }
}

#[test]
fn hipaa_has_18_standards_and_36_specifications_with_the_published_split() {
    let reqs = requirements(FrameworkId::Hipaa);
    assert_eq!(reqs.len(), 54);
    let by_kind = count_by(reqs, |r| r.kind);
    assert_eq!(by_kind, map(&[(RequirementKind::Standard, 18), (RequirementKind::ImplementationSpec, 36)]));
    // Every standard is required; of the specifications, 14 are required and 22 addressable.
    let split = count_by(reqs, |r| (r.kind, r.required.expect("required flag")));
    assert_eq!(
        split,
        map(&[
            ((RequirementKind::Standard, true), 18),
            ((RequirementKind::ImplementationSpec, true), 14),
            ((RequirementKind::ImplementationSpec, false), 22),
        ])
    );
    let by_safeguard = count_by(reqs, |r| (r.category.clone().expect("safeguard"), r.kind));
    let expected = [
        (("administrative", RequirementKind::Standard), 9),
        (("administrative", RequirementKind::ImplementationSpec), 21),
        (("physical", RequirementKind::Standard), 4),
        (("physical", RequirementKind::ImplementationSpec), 8),
        (("technical", RequirementKind::Standard), 5),
        (("technical", RequirementKind::ImplementationSpec), 7),
    ];
    assert_eq!(by_safeguard, expected.iter().map(|((s, k), v)| ((s.to_string(), *k), *v)).collect());
    // A few specifications whose status is easy to get wrong.
    let required = |id: &str| reqs.iter().find(|r| r.id == id).and_then(|r| r.required);
    assert_eq!(required("164.308(a)(1)(ii)(A)"), Some(true), "risk analysis is required");
    assert_eq!(required("164.312(a)(2)(iv)"), Some(false), "encryption at rest is addressable");
    assert_eq!(required("164.312(e)(2)(ii)"), Some(false), "encryption in transit is addressable");
    assert_eq!(required("164.310(d)(2)(i)"), Some(true), "disposal is required");
    assert_eq!(required("164.308(b)(3)"), Some(true), "written business associate contract is required");
    // Every specification's parent is a standard.
    let hipaa = catalog().framework(FrameworkId::Hipaa).expect("hipaa");
    for spec in hipaa.requirements_of(RequirementKind::ImplementationSpec) {
        let parent = spec.parent.as_deref().and_then(|p| hipaa.requirement(p)).expect("parent exists");
        assert_eq!(parent.kind, RequirementKind::Standard, "{}", spec.id);
    }
}

#[test]
fn nist_csf_has_6_functions_22_categories_and_106_subcategories() {
    let nist = catalog().framework(FrameworkId::NistCsf).expect("nist");
    let by_kind = count_by(&nist.requirements, |r| r.kind);
    assert_eq!(
        by_kind,
        map(&[(RequirementKind::Function, 6), (RequirementKind::Category, 22), (RequirementKind::Subcategory, 106)])
    );
    let functions: Vec<&str> = nist.requirements_of(RequirementKind::Function).map(|r| r.id.as_str()).collect();
    assert_eq!(functions, ["GV", "ID", "PR", "DE", "RS", "RC"]);
    let per_category = [
        ("GV.OC", 5),
        ("GV.RM", 7),
        ("GV.RR", 4),
        ("GV.PO", 2),
        ("GV.OV", 3),
        ("GV.SC", 10),
        ("ID.AM", 7),
        ("ID.RA", 10),
        ("ID.IM", 4),
        ("PR.AA", 6),
        ("PR.AT", 2),
        ("PR.DS", 4),
        ("PR.PS", 6),
        ("PR.IR", 4),
        ("DE.CM", 5),
        ("DE.AE", 6),
        ("RS.MA", 5),
        ("RS.AN", 4),
        ("RS.CO", 2),
        ("RS.MI", 2),
        ("RC.RP", 6),
        ("RC.CO", 2),
    ];
    for (category, count) in per_category {
        assert_eq!(nist.children(category).count(), count, "{category}");
        let parent = nist.requirement(category).and_then(|c| c.parent.clone()).expect("category parent");
        assert_eq!(nist.requirement(&parent).map(|f| f.kind), Some(RequirementKind::Function));
    }
    for sub in nist.requirements_of(RequirementKind::Subcategory) {
        let parent = sub.parent.as_deref().and_then(|p| nist.requirement(p)).expect("parent exists");
        assert_eq!(parent.kind, RequirementKind::Category, "{}", sub.id);
    }
}

#[test]
fn every_requirement_id_has_its_framework_format() {
    for framework in &catalog().frameworks {
        assert!(framework.source.contains("own"), "{} source should say the wording is Kushim's own", framework.id);
        for req in &framework.requirements {
            assert_eq!(ids::check_requirement_id(framework.id, req.kind, &req.id), Ok(()), "{}", req.id);
            assert!(!req.title.trim().is_empty(), "{} has no title", req.id);
        }
    }
    for control in catalog().controls() {
        assert!(ids::is_control_id(&control.id), "{}", control.id);
        assert!(control.id.starts_with(&format!("KC-{}-", area_code(&control.area))), "{} area", control.id);
    }
}

/// The id code for each control area.
fn area_code(area: &str) -> &'static str {
    match area {
        "governance" => "GOV",
        "people" => "HR",
        "risk" => "RSK",
        "vendors" => "VEN",
        "identity_access" => "IAM",
        "network" => "NET",
        "cryptography" => "CRY",
        "logging_monitoring" => "LOG",
        "vulnerability" => "VUL",
        "change" => "CHG",
        "incident" => "INC",
        "continuity" => "BCP",
        "data" => "DAT",
        "privacy" => "PRV",
        "communication" => "COM",
        "monitoring" => "MON",
        "endpoint" => "END",
        "physical" => "PHY",
        other => panic!("unknown area {other}"),
    }
}

#[test]
fn no_duplicate_ids_anywhere() {
    let cat = catalog();
    let framework_ids: BTreeSet<FrameworkId> = cat.frameworks.iter().map(|f| f.id).collect();
    assert_eq!(framework_ids, FrameworkId::ALL.into_iter().collect());
    assert_eq!(cat.frameworks.len(), 4);
    for framework in &cat.frameworks {
        let unique: BTreeSet<&str> = framework.requirements.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(unique.len(), framework.requirements.len(), "{}", framework.id);
    }
    let control_ids: BTreeSet<&str> = cat.controls().iter().map(|c| c.id.as_str()).collect();
    assert_eq!(control_ids.len(), cat.controls().len());
    for control in cat.controls() {
        for (framework, targets) in &control.mappings {
            let unique: BTreeSet<&String> = targets.iter().collect();
            assert_eq!(unique.len(), targets.len(), "{} {framework}", control.id);
        }
    }
    for walk in &cat.crosswalks {
        let unique: BTreeSet<&(String, String)> = walk.pairs.iter().collect();
        assert_eq!(unique.len(), walk.pairs.len(), "{} to {}", walk.from, walk.to);
    }
}

#[test]
fn every_soc2_criterion_is_covered_by_a_control() {
    let cat = catalog();
    let covered = cat.requirements_covered(FrameworkId::Soc2);
    for criterion in requirements(FrameworkId::Soc2) {
        assert!(covered.contains(criterion.id.as_str()), "{} is not covered", criterion.id);
        assert!(!cat.controls_for(FrameworkId::Soc2, &criterion.id).is_empty());
    }
    assert_eq!(covered.len(), 61);
}

#[test]
fn every_mapping_target_exists_and_is_mappable() {
    let cat = catalog();
    for control in cat.controls() {
        assert!(!control.mapped(FrameworkId::Soc2).is_empty(), "{} maps to no SOC 2 criterion", control.id);
        for (&framework, targets) in &control.mappings {
            let fw = cat.framework(framework).expect("framework");
            for target in targets {
                let req = fw.requirement(target).unwrap_or_else(|| panic!("{} maps to unknown {target}", control.id));
                assert!(framework.mappable_kinds().contains(&req.kind), "{} maps to grouping {target}", control.id);
            }
        }
    }
}

#[test]
fn controls_are_exactly_the_fixed_list() {
    let ids: Vec<&str> = catalog().controls().iter().map(|c| c.id.as_str()).collect();
    assert!(ids.len() >= 64);
    assert_eq!(ids, EXPECTED_CONTROL_IDS);
}

#[test]
fn control_texts_are_present_and_distinct() {
    let mut descriptions = BTreeSet::new();
    for control in catalog().controls() {
        assert!(!control.title.trim().is_empty(), "{} title", control.id);
        assert!(!control.description.trim().is_empty(), "{} description", control.id);
        assert!(descriptions.insert(control.description.as_str()), "{} repeats another description", control.id);
        if control.kind.needs_uploaded_evidence() {
            let guidance = control.evidence_guidance.as_deref().unwrap_or_default();
            assert!(!guidance.trim().is_empty(), "{} needs evidence guidance", control.id);
            assert!(control.evidence_freshness_days.is_some_and(|d| d > 0), "{} needs a freshness period", control.id);
        } else {
            assert_eq!(control.evidence_freshness_days, None, "{} is automated", control.id);
        }
    }
    let kinds: BTreeSet<ControlKind> = catalog().controls().iter().map(|c| c.kind).collect();
    assert_eq!(kinds.len(), 3, "automated, manual and hybrid controls all occur");
}

#[test]
fn crosswalks_reference_existing_ids() {
    let cat = catalog();
    let soc2_iso = cat.crosswalk(FrameworkId::Soc2, FrameworkId::Iso27001);
    let nist_iso = cat.crosswalk(FrameworkId::NistCsf, FrameworkId::Iso27001);
    assert!(!soc2_iso.is_empty());
    assert!(!nist_iso.is_empty());
    for (pairs, from) in [(&soc2_iso, FrameworkId::Soc2), (&nist_iso, FrameworkId::NistCsf)] {
        let from_fw = cat.framework(from).expect("from");
        let iso = cat.framework(FrameworkId::Iso27001).expect("iso");
        for (left, right) in pairs {
            assert!(from_fw.requirement(left).is_some(), "{from} {left}");
            assert!(iso.requirement(right).is_some(), "iso27001 {right}");
        }
    }
    // A few published pairs, including the one whose source id is misspelt "C6.5" in the reference data.
    for pair in [("CC6.5", "A.7.14"), ("CC7.4", "A.5.26"), ("A1.2", "A.8.13"), ("C1.2", "A.8.10")] {
        assert!(soc2_iso.contains(&(pair.0.to_owned(), pair.1.to_owned())), "{pair:?}");
    }
    assert!(nist_iso.contains(&("PR.DS-11".to_owned(), "A.8.13".to_owned())));
    // The reverse direction swaps each pair; unrelated frameworks have no crosswalk.
    let reversed = cat.crosswalk(FrameworkId::Iso27001, FrameworkId::Soc2);
    assert_eq!(reversed.len(), soc2_iso.len());
    assert!(reversed.contains(&("A.7.14".to_owned(), "CC6.5".to_owned())));
    assert!(cat.crosswalk(FrameworkId::Soc2, FrameworkId::Hipaa).is_empty());
}

#[test]
fn lookups() {
    let cat = catalog();
    for id in FrameworkId::ALL {
        assert_eq!(cat.framework(id).map(|f| f.id), Some(id));
        assert_eq!(id.as_str().parse::<FrameworkId>(), Ok(id));
        assert_eq!(serde_json::to_string(&id).expect("serialize"), format!("\"{id}\""));
    }
    assert!("nist".parse::<FrameworkId>().is_err());
    assert_eq!(FrameworkId::ALL.map(FrameworkId::as_str), ["soc2", "iso27001", "hipaa", "nist_csf"]);
    let mfa = cat.control("KC-IAM-01").expect("KC-IAM-01");
    assert_eq!(mfa.kind, ControlKind::Automated);
    assert!(mfa.maps_to(FrameworkId::Hipaa, "164.312(d)"));
    assert!(cat.control("KC-NOPE-01").is_none());
    let for_cc81: Vec<&str> = cat.controls_for(FrameworkId::Soc2, "CC8.1").iter().map(|c| c.id.as_str()).collect();
    assert!(for_cc81.contains(&"KC-CHG-01"));
    assert!(cat.controls_for(FrameworkId::Soc2, "CC0.0").is_empty());
    assert!(cat.requirements_covered(FrameworkId::NistCsf).iter().all(|id| id.contains('-')));
}

/// Validates a clone of the bundled catalog after `edit`, returning the errors.
fn errors_after(edit: impl FnOnce(&mut Catalog)) -> Vec<CatalogError> {
    let mut broken = catalog().clone();
    edit(&mut broken);
    broken.validate().expect_err("the edit should break the catalog")
}

fn framework_mut(catalog: &mut Catalog, id: FrameworkId) -> &mut kushim_catalog::Framework {
    catalog.frameworks.iter_mut().find(|f| f.id == id).expect("framework")
}

fn requirement_mut<'a>(catalog: &'a mut Catalog, fw: FrameworkId, id: &str) -> &'a mut Requirement {
    framework_mut(catalog, fw).requirements.iter_mut().find(|r| r.id == id).expect("requirement")
}

fn control_mut<'a>(catalog: &'a mut Catalog, id: &str) -> &'a mut kushim_catalog::Control {
    catalog.controls.iter_mut().find(|c| c.id == id).expect("control")
}

#[test]
fn validate_reports_duplicate_requirements_and_controls() {
    let errors = errors_after(|c| {
        let soc2 = framework_mut(c, FrameworkId::Soc2);
        let copy = soc2.requirements[0].clone();
        soc2.requirements.push(copy);
    });
    assert_eq!(errors, [CatalogError::DuplicateRequirement { framework: FrameworkId::Soc2, id: "CC1.1".into() }]);

    let errors = errors_after(|c| {
        let copy = c.controls[0].clone();
        c.controls.push(copy);
    });
    assert_eq!(errors, [CatalogError::DuplicateControl { id: "KC-GOV-01".into() }]);
}

#[test]
fn validate_reports_malformed_ids() {
    let errors = errors_after(|c| requirement_mut(c, FrameworkId::Iso27001, "A.5.6").id = "5.6".into());
    assert!(
        matches!(&errors[..], [CatalogError::InvalidRequirementId { framework: FrameworkId::Iso27001, id, .. }] if id == "5.6"),
        "{errors:?}"
    );

    // The clearinghouse specification is mapped by no control, so renaming it breaks nothing else.
    let errors =
        errors_after(|c| requirement_mut(c, FrameworkId::Hipaa, "164.308(a)(4)(ii)(A)").id = "164.308a4".into());
    assert!(matches!(&errors[..], [CatalogError::InvalidRequirementId { framework: FrameworkId::Hipaa, .. }]));

    let errors = errors_after(|c| control_mut(c, "KC-PHY-02").id = "KC-phy-2".into());
    assert_eq!(errors, [CatalogError::InvalidControlId { id: "KC-phy-2".into() }]);
}

#[test]
fn validate_reports_attributes_that_contradict_the_id() {
    let errors = errors_after(|c| requirement_mut(c, FrameworkId::Soc2, "A1.1").category = Some("security".into()));
    assert!(
        matches!(&errors[..], [CatalogError::InvalidAttribute { framework: FrameworkId::Soc2, id, .. }] if id == "A1.1")
    );

    let errors = errors_after(|c| requirement_mut(c, FrameworkId::Hipaa, "164.312(a)(2)(iv)").required = None);
    assert!(matches!(&errors[..], [CatalogError::InvalidAttribute { framework: FrameworkId::Hipaa, .. }]));

    let errors = errors_after(|c| {
        requirement_mut(c, FrameworkId::NistCsf, "PR.AA-01").kind = RequirementKind::Criterion;
    });
    assert!(matches!(&errors[..], [CatalogError::UnexpectedKind { framework: FrameworkId::NistCsf, .. }, ..]));
}

#[test]
fn validate_reports_broken_parent_links() {
    let errors = errors_after(|c| {
        requirement_mut(c, FrameworkId::Hipaa, "164.308(a)(1)(ii)(A)").parent = Some("164.308(a)(9)(i)".into());
    });
    assert_eq!(
        errors,
        [CatalogError::UnknownParent {
            framework: FrameworkId::Hipaa,
            id: "164.308(a)(1)(ii)(A)".into(),
            parent: "164.308(a)(9)(i)".into(),
        }]
    );

    let errors = errors_after(|c| requirement_mut(c, FrameworkId::NistCsf, "DE.AE-08").parent = Some("DE.XX".into()));
    assert_eq!(
        errors,
        [CatalogError::UnknownParent {
            framework: FrameworkId::NistCsf,
            id: "DE.AE-08".into(),
            parent: "DE.XX".into()
        }]
    );

    let errors = errors_after(|c| requirement_mut(c, FrameworkId::NistCsf, "GV.OC").parent = None);
    assert_eq!(
        errors,
        [CatalogError::MissingParent {
            framework: FrameworkId::NistCsf,
            id: "GV.OC".into(),
            kind: RequirementKind::Category
        }]
    );

    // An existing parent of the wrong kind, or from another section, is also caught.
    let errors =
        errors_after(|c| requirement_mut(c, FrameworkId::NistCsf, "DE.AE-08").parent = Some("DE.CM-01".into()));
    assert!(errors.iter().all(|e| matches!(e, CatalogError::InvalidAttribute { .. })), "{errors:?}");
    let errors = errors_after(|c| {
        requirement_mut(c, FrameworkId::Hipaa, "164.310(d)(2)(i)").parent = Some("164.310(a)(1)".into());
    });
    assert!(matches!(&errors[..], [CatalogError::InvalidAttribute { .. }]), "{errors:?}");
}

#[test]
fn validate_reports_bad_mappings_and_coverage_gaps() {
    let errors = errors_after(|c| {
        control_mut(c, "KC-IAM-01").mappings.get_mut(&FrameworkId::Soc2).expect("soc2").push("CC6.9".into());
    });
    assert_eq!(
        errors,
        [CatalogError::UnknownMappingTarget {
            control: "KC-IAM-01".into(),
            framework: FrameworkId::Soc2,
            requirement: "CC6.9".into()
        }]
    );

    let errors = errors_after(|c| {
        control_mut(c, "KC-IAM-01").mappings.insert(FrameworkId::NistCsf, vec!["PR.AA".into()]);
    });
    assert!(matches!(&errors[..], [CatalogError::MappingTooBroad { requirement, .. }] if requirement == "PR.AA"));

    let errors = errors_after(|c| {
        control_mut(c, "KC-IAM-01").mappings.get_mut(&FrameworkId::Iso27001).expect("iso").push("A.8.5".into());
    });
    assert!(matches!(&errors[..], [CatalogError::DuplicateMapping { .. }]));

    // KC-PRV-09 is the only control for P8.1.
    let errors = errors_after(|c| {
        control_mut(c, "KC-PRV-09").mappings.remove(&FrameworkId::Soc2);
    });
    assert_eq!(errors, [CatalogError::UncoveredSoc2Criterion { id: "P8.1".into() }]);
}

#[test]
fn validate_reports_missing_evidence_guidance() {
    let errors = errors_after(|c| control_mut(c, "KC-GOV-01").evidence_guidance = None);
    assert_eq!(errors, [CatalogError::MissingEvidenceGuidance { control: "KC-GOV-01".into() }]);
    let errors = errors_after(|c| control_mut(c, "KC-IAM-07").evidence_freshness_days = Some(0));
    assert_eq!(errors, [CatalogError::MissingEvidenceGuidance { control: "KC-IAM-07".into() }]);
    let errors = errors_after(|c| control_mut(c, "KC-HR-01").description = " ".into());
    assert_eq!(errors, [CatalogError::EmptyText { owner: "control KC-HR-01".into(), field: "description" }]);
}

#[test]
fn validate_reports_bad_crosswalks_and_missing_frameworks() {
    let errors = errors_after(|c| c.crosswalks[0].pairs.push(("CC6.5".into(), "A.9.1".into())));
    assert_eq!(
        errors,
        [CatalogError::UnknownCrosswalkId {
            from: FrameworkId::Soc2,
            to: FrameworkId::Iso27001,
            framework: FrameworkId::Iso27001,
            id: "A.9.1".into()
        }]
    );
    let errors = errors_after(|c| {
        let copy = c.crosswalks[1].pairs[0].clone();
        c.crosswalks[1].pairs.push(copy);
    });
    assert!(matches!(&errors[..], [CatalogError::DuplicateCrosswalkPair { from: FrameworkId::NistCsf, .. }]));

    let errors = errors_after(|c| c.frameworks.retain(|f| f.id != FrameworkId::Hipaa));
    assert_eq!(errors, [CatalogError::MissingFramework { framework: FrameworkId::Hipaa }]);
    let errors = errors_after(|c| {
        let copy = c.frameworks[0].clone();
        c.frameworks.push(copy);
    });
    assert!(errors.contains(&CatalogError::DuplicateFramework { framework: FrameworkId::Soc2 }));
}

#[test]
fn validate_collects_every_problem_at_once() {
    let errors = errors_after(|c| {
        control_mut(c, "KC-GOV-01").evidence_guidance = None;
        control_mut(c, "KC-PRV-09").mappings.clear();
        requirement_mut(c, FrameworkId::NistCsf, "RC.CO-04").parent = Some("RC.XX".into());
    });
    assert_eq!(errors.len(), 3, "{errors:?}");
    let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(message.contains("KC-GOV-01") && message.contains("P8.1") && message.contains("RC.XX"), "{message}");
}
