//! Coverage of a framework: for each requirement, whether Kushim judges it with automated checks,
//! only through manual evidence, or not at all.

use std::collections::BTreeSet;

use kushim_catalog::{Catalog, FrameworkId};
use serde::Serialize;

/// Coverage of one framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// The framework.
    pub framework: FrameworkId,
    /// Requirements with at least one mapped control that an automated check supports.
    pub automated: Vec<String>,
    /// Requirements with mapped controls, none of them checked automatically.
    pub manual_only: Vec<String>,
    /// Requirements no control maps to.
    pub uncovered: Vec<String>,
}

/// Computes coverage with the given set of control ids that have automated checks.
pub fn coverage(catalog: &Catalog, framework: FrameworkId, checked_controls: &BTreeSet<&str>) -> Coverage {
    let mut out = Coverage { framework, automated: Vec::new(), manual_only: Vec::new(), uncovered: Vec::new() };
    let Some(fw) = catalog.framework(framework) else { return out };
    let mappable = framework.mappable_kinds();
    for req in fw.requirements.iter().filter(|r| mappable.contains(&r.kind)) {
        let controls = catalog.controls_for(framework, &req.id);
        if controls.is_empty() {
            out.uncovered.push(req.id.clone());
        } else if controls.iter().any(|c| checked_controls.contains(c.id.as_str())) {
            out.automated.push(req.id.clone());
        } else {
            out.manual_only.push(req.id.clone());
        }
    }
    out
}

/// The controls that the built-in checks support.
pub fn checked_controls() -> BTreeSet<&'static str> {
    kushim_checks::registry().iter().flat_map(|c| c.def().controls.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soc2_is_fully_covered_and_partly_automated() {
        let catalog = kushim_catalog::catalog();
        let checked = checked_controls();
        let c = coverage(catalog, FrameworkId::Soc2, &checked);
        assert!(c.uncovered.is_empty(), "every SOC 2 criterion has a control: {:?}", c.uncovered);
        assert_eq!(c.automated.len() + c.manual_only.len(), 61);
        assert!(c.automated.iter().any(|r| r == "CC6.1"), "logical access is checked automatically");
        assert!(!c.manual_only.is_empty(), "some criteria (e.g. governance) rely on manual evidence");
        let none = coverage(catalog, FrameworkId::Soc2, &BTreeSet::new());
        assert!(none.automated.is_empty());
    }
}
