//! Test support shared by the adapter contract suites and the end-to-end tests.
//!
//! - [`moto`] finds the moto emulator the test command started (`KUSHIM_MOTO_ENDPOINT`), or starts
//!   one from the project's venv, or fails with a message saying how to set it up. It never skips.
//! - [`resources`] creates the template's table, bucket and queues in moto under unique names, from
//!   the template's own resource definitions.

pub mod moto;
pub mod resources;

pub use moto::{Moto, moto, sdk_config};
pub use resources::{fresh_stack, unique_prefix};
