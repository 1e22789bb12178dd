//! Identity for a multi-tenant service: tenants and their people, sessions, invitations and API
//! keys, on the Table and Secrets ports. Everything that creates or checks a credential lives
//! here; the HTTP functions and the authorizer only translate requests into these calls.
//!
//! Security properties this crate is responsible for (each has a test):
//! - passwords are stored as argon2id hashes, in a record apart from the user;
//! - unknown account and wrong password take the same time and give the same error;
//! - repeated failures lock an account with exponentially growing delays, and a source address
//!   that fails too often is slowed down too;
//! - refresh tokens and API keys are stored only as SHA-256 hashes; a refresh token is single use,
//!   and presenting a spent one revokes its whole family (theft detection);
//! - an access token is honoured only while its user is active and the token was issued after the
//!   user's last "log out everywhere" or password change, and the role used is the user's current
//!   role, so demotions and removals take effect at once;
//! - a tenant always keeps at least one owner.

pub mod error;
pub mod model;
pub mod service;
pub mod signing;
pub mod throttle;
pub mod wiring;

pub use error::IdentityError;
pub use model::{ApiKeyRecord, TenantRecord, TenantSettings, UserRecord, UserStatus};
pub use service::{Identity, IdentityConfig, Session, SignupInput};
