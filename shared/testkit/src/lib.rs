//! Test support shared by the adapter contract suites and the end-to-end tests.
//!
//! - [`moto`] finds the moto emulator the test command started (`KUSHIM_MOTO_ENDPOINT`), or starts
//!   one from the project's venv, or fails with a message saying how to set it up. It never skips.
//! - [`resources`] creates the template's table, bucket and queues in moto under unique names, from
//!   the template's own resource definitions.
//! - [`queue`] wraps a Queue port to count batch sends and record visibility changes.

// The watchdog shell that keeps moto alive is deliberately never waited for: it ends with the test
// process (the last process standing reaps it).
#[allow(clippy::zombie_processes)]
pub mod moto;
pub mod queue;
pub mod resources;

pub use moto::{Moto, OwnMoto, moto, sdk_config};
pub use queue::RecordingQueue;
pub use resources::{fresh_stack, unique_prefix};

/// The template reader, re-exported for test crates that do not depend on it themselves.
pub use kushim_template;
