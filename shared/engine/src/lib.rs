//! The evaluation engine: how check results, manual evidence and exceptions become a control's
//! status, how statuses roll up into framework readiness, and how daily history becomes the
//! operating-effectiveness figures a SOC 2 Type II auditor asks for. Everything here is a pure
//! function of its inputs (including `now`), so it is fast and exhaustively testable; storage and
//! the API live elsewhere.

pub mod coverage;
pub mod effectiveness;
pub mod exception;
pub mod status;

pub use coverage::{Coverage, coverage};
pub use effectiveness::{DailyStatus, Effectiveness, effectiveness};
pub use exception::{Exception, ExceptionError, ExceptionScope};
pub use status::{
    ControlEvaluation, ControlStatus, ManualEvidence, Readiness, evaluate_control, manual_fresh_through, readiness,
};
