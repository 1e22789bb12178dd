//! Compliance state per tenant, on the Table port: the latest check result per resource, each
//! control's current evaluation and daily snapshots of it, exceptions (risk acceptances) and the
//! tenant's custom checks (CEL rules).
//! On top of that state it answers the questions the product asks: how does a control stand now,
//! which controls of a framework are failing, how ready is a framework, how did a control operate
//! over an audit window, and how much of a framework Kushim covers.
//!
//! The rules themselves live in the pure `kushim-engine`; this crate stores what the engine needs
//! and what it concludes. Writes are idempotent (recording the same results twice changes
//! nothing), control evaluations use optimistic locking so concurrent runs converge, and reads
//! never trust an evaluation that relied on an exception which has since expired.
//!
//! Every item lives in the tenant's partition (`TENANT#<tenant>`); the keys are built in
//! `kushim_adapters::keys`.

mod custom_checks;
mod error;
mod exceptions;
mod reads;
mod record;
pub mod report;
mod store;

use std::sync::Arc;

use kushim_adapters::table::Table;

pub use custom_checks::{CustomCheck, validate_custom_check};
pub use error::{ComplianceError, Result};
pub use reads::ControlFilter;
pub use record::{Observation, RecordSummary};
pub use report::{ControlEffectiveness, FrameworkEffectiveness, coverage, coverage_to_csv, effectiveness_to_csv};
pub use store::{MAX_REASONS, checks_for_control};

/// The compliance service of every tenant, over one table.
#[derive(Clone)]
pub struct Compliance {
    table: Arc<dyn Table>,
}

impl Compliance {
    /// A service over this table.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }
}
