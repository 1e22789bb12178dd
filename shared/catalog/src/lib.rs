//! The Kushim compliance catalog, as data: the requirements of SOC 2 (2017 Trust Services Criteria),
//! ISO/IEC 27001:2022 Annex A, the HIPAA Security Rule and NIST CSF 2.0; Kushim's own controls and how they map onto
//! those requirements; and published crosswalks between frameworks.
//!
//! The data lives in `data/*.json`, is compiled into the crate and is parsed once by [`catalog()`]. Requirement ids,
//! counts and crosswalk pairs are facts taken from the publications; every title, description and piece of evidence
//! guidance is Kushim's own wording. The crate does no I/O.
//!
//! ```
//! use kushim_catalog::{catalog, FrameworkId};
//!
//! let mfa = catalog().control("KC-IAM-01").expect("a bundled control");
//! assert!(mfa.maps_to(FrameworkId::Soc2, "CC6.1"));
//! assert!(catalog().controls_for(FrameworkId::Soc2, "CC6.1").iter().any(|c| c.id == "KC-IAM-01"));
//! ```

mod catalog;
mod data;
pub mod ids;
mod model;
mod validate;

pub use catalog::{Catalog, catalog};
pub use model::{
    Control, ControlKind, Crosswalk, Framework, FrameworkId, Requirement, RequirementKind, UnknownFrameworkId,
};
pub use validate::CatalogError;
