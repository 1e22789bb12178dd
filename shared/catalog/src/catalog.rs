//! The [`Catalog`]: every framework, Kushim control and crosswalk in one value, with the lookups the rest of Kushim
//! uses, and [`catalog()`], which parses and checks the bundled data once per process.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::data;
use crate::model::{Control, Crosswalk, Framework, FrameworkId};
use crate::validate::CatalogError;

/// The whole compliance catalog. The fields are public so tests and tools can build or adjust a catalog; call
/// [`Catalog::validate`] after changing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The frameworks, one per [`FrameworkId`].
    pub frameworks: Vec<Framework>,
    /// Kushim's controls, in id order.
    pub controls: Vec<Control>,
    /// Published correspondences between frameworks.
    pub crosswalks: Vec<Crosswalk>,
}

static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// The catalog bundled with this crate, parsed and validated on first use.
///
/// # Panics
///
/// Panics, listing every problem found, if the bundled data does not parse or does not pass
/// [`Catalog::validate`]. The crate's tests check that it does, so this only happens after a bad data edit.
pub fn catalog() -> &'static Catalog {
    CATALOG.get_or_init(|| {
        Catalog::bundled().unwrap_or_else(|errors| {
            let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
            panic!(
                "kushim-catalog: the bundled catalog data in shared/catalog/data is invalid ({} problem(s)):\n{}",
                errors.len(),
                list.join("\n")
            )
        })
    })
}

impl Catalog {
    /// Parses and validates the bundled data afresh. Most callers want the cached [`catalog()`] instead.
    pub fn bundled() -> Result<Catalog, Vec<CatalogError>> {
        let catalog = data::parse_bundled()?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// The framework with this id.
    pub fn framework(&self, id: FrameworkId) -> Option<&Framework> {
        self.frameworks.iter().find(|f| f.id == id)
    }

    /// The control with this id, such as `KC-IAM-01`.
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// Every control, in id order.
    pub fn controls(&self) -> &[Control] {
        &self.controls
    }

    /// The controls that map to one requirement, in catalog order.
    pub fn controls_for(&self, framework: FrameworkId, requirement_id: &str) -> Vec<&Control> {
        self.controls.iter().filter(|c| c.maps_to(framework, requirement_id)).collect()
    }

    /// The ids of the requirements of one framework that at least one control maps to.
    pub fn requirements_covered(&self, framework: FrameworkId) -> BTreeSet<&str> {
        self.controls.iter().flat_map(|c| c.mapped(framework)).map(String::as_str).collect()
    }

    /// The crosswalk pairs from one framework to another, as `(from id, to id)`. A crosswalk stored in the other
    /// direction is returned with each pair swapped. Empty when the catalog has no crosswalk between the two.
    pub fn crosswalk(&self, from: FrameworkId, to: FrameworkId) -> Vec<(String, String)> {
        if let Some(walk) = self.crosswalks.iter().find(|w| w.from == from && w.to == to) {
            return walk.pairs.clone();
        }
        if let Some(walk) = self.crosswalks.iter().find(|w| w.from == to && w.to == from) {
            return walk.pairs.iter().map(|(a, b)| (b.clone(), a.clone())).collect();
        }
        Vec::new()
    }
}
