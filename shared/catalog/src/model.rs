//! The catalog's data types: frameworks and their requirements, Kushim controls, and crosswalks between frameworks.
//!
//! These types are plain data. They deserialize straight from the bundled JSON files in `data/` and carry no
//! behaviour beyond small lookups; checking that the data hangs together is the job of [`crate::Catalog::validate`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One of the compliance frameworks the catalog covers. Serialized as `soc2`, `iso27001`, `hipaa` and `nist_csf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameworkId {
    /// SOC 2: the AICPA Trust Services Criteria (2017, points of focus revised 2022).
    Soc2,
    /// ISO/IEC 27001:2022 Annex A.
    Iso27001,
    /// The HIPAA Security Rule (45 CFR 164.308, 164.310, 164.312).
    Hipaa,
    /// NIST Cybersecurity Framework 2.0.
    NistCsf,
}

impl FrameworkId {
    /// Every framework, in the order the catalog lists them.
    pub const ALL: [FrameworkId; 4] =
        [FrameworkId::Soc2, FrameworkId::Iso27001, FrameworkId::Hipaa, FrameworkId::NistCsf];

    /// The serialized name: `soc2`, `iso27001`, `hipaa` or `nist_csf`.
    pub fn as_str(self) -> &'static str {
        match self {
            FrameworkId::Soc2 => "soc2",
            FrameworkId::Iso27001 => "iso27001",
            FrameworkId::Hipaa => "hipaa",
            FrameworkId::NistCsf => "nist_csf",
        }
    }

    /// The kinds of requirement this framework is made of.
    pub fn requirement_kinds(self) -> &'static [RequirementKind] {
        match self {
            FrameworkId::Soc2 => &[RequirementKind::Criterion],
            FrameworkId::Iso27001 => &[RequirementKind::Control],
            FrameworkId::Hipaa => &[RequirementKind::Standard, RequirementKind::ImplementationSpec],
            FrameworkId::NistCsf => {
                &[RequirementKind::Function, RequirementKind::Category, RequirementKind::Subcategory]
            }
        }
    }

    /// The kinds of requirement a Kushim control may map to. NIST CSF functions and categories are groupings, so
    /// controls map to subcategories only.
    pub fn mappable_kinds(self) -> &'static [RequirementKind] {
        match self {
            FrameworkId::NistCsf => &[RequirementKind::Subcategory],
            other => other.requirement_kinds(),
        }
    }
}

impl fmt::Display for FrameworkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when a string is not one of the serialized framework names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown framework id {0:?} (expected soc2, iso27001, hipaa or nist_csf)")]
pub struct UnknownFrameworkId(pub String);

impl FromStr for FrameworkId {
    type Err = UnknownFrameworkId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FrameworkId::ALL.into_iter().find(|id| id.as_str() == s).ok_or_else(|| UnknownFrameworkId(s.to_owned()))
    }
}

/// What a requirement is within its framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementKind {
    /// A SOC 2 trust services criterion, such as `CC6.1`.
    Criterion,
    /// An ISO/IEC 27001 Annex A control, such as `A.8.5`.
    Control,
    /// A HIPAA Security Rule standard, such as `164.312(a)(1)`.
    Standard,
    /// A HIPAA implementation specification under a standard, such as `164.312(a)(2)(iv)`.
    ImplementationSpec,
    /// A NIST CSF function, such as `PR`.
    Function,
    /// A NIST CSF category, such as `PR.AA`.
    Category,
    /// A NIST CSF subcategory, such as `PR.AA-01`.
    Subcategory,
}

impl RequirementKind {
    /// The serialized name, such as `implementation_spec`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequirementKind::Criterion => "criterion",
            RequirementKind::Control => "control",
            RequirementKind::Standard => "standard",
            RequirementKind::ImplementationSpec => "implementation_spec",
            RequirementKind::Function => "function",
            RequirementKind::Category => "category",
            RequirementKind::Subcategory => "subcategory",
        }
    }
}

impl fmt::Display for RequirementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One requirement of a framework: a criterion, control, standard, specification, function, category or subcategory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// The identifier used by the publication, such as `CC6.1`, `A.8.5`, `164.308(a)(1)(ii)(A)` or `PR.AA-01`.
    pub id: String,
    /// What the requirement is within its framework.
    pub kind: RequirementKind,
    /// A short title in Kushim's own words.
    pub title: String,
    /// The enclosing requirement: a HIPAA specification's standard, a NIST category's function or a NIST
    /// subcategory's category. `None` for top-level requirements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// The framework's grouping: the SOC 2 category (`security`, `availability`, `confidentiality`,
    /// `processing_integrity`, `privacy`), the ISO theme (`organizational`, `people`, `physical`, `technological`) or
    /// the HIPAA safeguard type (`administrative`, `physical`, `technical`). `None` for NIST CSF, whose grouping is
    /// given by `parent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The SOC 2 series a criterion belongs to, such as `CC6`. `None` for other frameworks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// For HIPAA: `true` when required, `false` when addressable. Standards are always required. `None` for other
    /// frameworks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// A compliance framework: where it comes from and the list of its requirements, with parent links forming its tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    /// Which framework this is.
    pub id: FrameworkId,
    /// Display name, such as "NIST Cybersecurity Framework".
    pub name: String,
    /// The edition the ids and counts follow.
    pub version: String,
    /// Which publication the ids come from, and a note that the titles are Kushim's own words.
    pub source: String,
    /// Every requirement, parents before their children.
    pub requirements: Vec<Requirement>,
}

impl Framework {
    /// The requirement with this id, if the framework has one.
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// The requirements of one kind, in catalog order.
    pub fn requirements_of(&self, kind: RequirementKind) -> impl Iterator<Item = &Requirement> {
        self.requirements.iter().filter(move |r| r.kind == kind)
    }

    /// The requirements whose parent is `parent_id`, in catalog order.
    pub fn children<'a>(&'a self, parent_id: &'a str) -> impl Iterator<Item = &'a Requirement> {
        self.requirements.iter().filter(move |r| r.parent.as_deref() == Some(parent_id))
    }
}

/// How a Kushim control is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlKind {
    /// Kushim checks evaluate it from AWS, GitHub or Okta evidence.
    Automated,
    /// The customer uploads evidence for it.
    Manual,
    /// Partly checked automatically, partly backed by uploaded evidence.
    Hybrid,
}

impl ControlKind {
    /// Whether the control needs evidence uploaded by the customer (manual and hybrid controls).
    pub fn needs_uploaded_evidence(self) -> bool {
        matches!(self, ControlKind::Manual | ControlKind::Hybrid)
    }

    /// Whether Kushim checks contribute to the control's status (automated and hybrid controls).
    pub fn has_automated_checks(self) -> bool {
        matches!(self, ControlKind::Automated | ControlKind::Hybrid)
    }
}

/// A Kushim control: something the customer operates, mapped to the framework requirements it helps satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// The fixed id, `KC-<AREA>-<NN>`, such as `KC-IAM-01`.
    pub id: String,
    /// A short title.
    pub title: String,
    /// One or two plain sentences on what the customer operates.
    pub description: String,
    /// The control area, such as `identity_access` or `privacy`.
    pub area: String,
    /// How the control is evaluated (serialized as `type`).
    #[serde(rename = "type")]
    pub kind: ControlKind,
    /// For manual and hybrid controls: what an auditor expects to see in uploaded evidence.
    pub evidence_guidance: Option<String>,
    /// For manual and hybrid controls: how many days uploaded evidence stays current.
    pub evidence_freshness_days: Option<u32>,
    /// For each framework, the ids of the requirements this control helps satisfy.
    pub mappings: BTreeMap<FrameworkId, Vec<String>>,
}

impl Control {
    /// The requirement ids this control maps to in one framework (empty when it maps to none).
    pub fn mapped(&self, framework: FrameworkId) -> &[String] {
        self.mappings.get(&framework).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether this control maps to the given requirement.
    pub fn maps_to(&self, framework: FrameworkId, requirement_id: &str) -> bool {
        self.mapped(framework).iter().any(|id| id == requirement_id)
    }
}

/// A published correspondence between two frameworks' requirements, as `(from id, to id)` pairs. A pair means the
/// two requirements overlap; it does not mean one fully satisfies the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crosswalk {
    /// The framework of the first id in each pair.
    pub from: FrameworkId,
    /// The framework of the second id in each pair.
    pub to: FrameworkId,
    /// Where the pairs come from and how they were derived.
    pub source: String,
    /// `(from id, to id)` pairs.
    pub pairs: Vec<(String, String)>,
}
