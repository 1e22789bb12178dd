//! Kushim's pure domain: identifiers, the entities every capability shares, domain errors and
//! evidence hashing. Nothing here knows about AWS, Lambda or HTTP, so it compiles fast and is tested
//! in isolation. Adapters and functions depend on it, never the other way round.

pub mod access;
pub mod aws;
pub mod error;
pub mod hashing;
pub mod ids;
pub mod job;

pub use access::{Grant, Permission, Role};
pub use error::DomainError;
pub use hashing::{Sha256Digest, sha256};
pub use ids::{IntegrationId, JobId, RunId, TenantId};
pub use job::{Job, JobKind};
