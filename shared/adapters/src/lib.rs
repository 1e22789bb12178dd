//! Kushim's ports and adapters. Each capability the functions need from the outside world is one
//! trait (a port): [`table::Table`], [`blob::BlobStore`], [`queue::Queue`], [`bus::EventBus`] and
//! [`secrets::Secrets`]. Each port has two implementations with the same observable semantics:
//!
//! - an **embedded** adapter (files and SQLite in a data directory) used by `kushim up` and tests;
//! - an **AWS** adapter (DynamoDB, S3, SQS, EventBridge, Secrets Manager), behind cargo features so a
//!   function compiles only the SDK crates it uses.
//!
//! The contract test suites in `tests/` run the same assertions against both adapters.

pub mod blob;
pub mod bus;
pub mod error;
pub mod keys;
pub mod queue;
pub mod secrets;
pub mod table;

#[cfg(feature = "aws-core")]
pub mod aws;

pub use error::{AdapterError, Result};
