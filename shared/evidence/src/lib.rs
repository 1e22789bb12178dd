//! Evidence that auditors can verify. Every piece of evidence is stored once, content-addressed by
//! the SHA-256 of its canonical bytes, in a blob under Object Lock COMPLIANCE retention; its
//! metadata row is written only after the blob is durable, in the same transaction as an entry of
//! the tenant's append-only, hash-chained ledger. Checkpoints sign the ledger head with an Ed25519
//! key held in the Secrets port, and [`verify::verify_tenant`] recomputes everything and names the
//! first bad entry. Metadata edits go through the ledger too; [`expiry::expiry_reminders`] (for the
//! daily planner) announces evidence about to stop being current.

pub mod canonical;
pub mod checkpoint;
pub mod error;
pub mod expiry;
pub mod ledger;
pub mod package;
pub mod store;
pub mod verify;

pub use canonical::{canonicalize_json, digest_hex, digest_json};
pub use checkpoint::{Checkpoint, Checkpoints, SIGNING_KEY_SECRET};
pub use error::EvidenceError;
pub use expiry::{ReminderSummary, expiry_reminders};
pub use ledger::{EntryKind, GENESIS, Ledger, LedgerEntry};
pub use store::{
    Content, Currency, EvidenceFilter, EvidenceRecord, EvidenceStore, MetadataPatch, NewEvidence, RetentionPolicy,
    Source,
};
pub use verify::{Problem, ProblemKind, VerifyReport, verify_tenant};
