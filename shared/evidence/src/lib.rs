//! Evidence that auditors can verify. Every piece of evidence is stored once, content-addressed by
//! the SHA-256 of its canonical bytes, in a blob under Object Lock COMPLIANCE retention; its
//! metadata row is written only after the blob is durable, in the same transaction as an entry of
//! the tenant's append-only, hash-chained ledger. Checkpoints sign the ledger head with an Ed25519
//! key held in the Secrets port, and [`verify::verify_tenant`] recomputes everything and names the
//! first bad entry.

pub mod canonical;
pub mod checkpoint;
pub mod error;
pub mod ledger;
pub mod store;
pub mod verify;

pub use canonical::{canonicalize_json, digest_hex, digest_json};
pub use checkpoint::{Checkpoint, Checkpoints, SIGNING_KEY_SECRET};
pub use error::EvidenceError;
pub use ledger::{EntryKind, GENESIS, Ledger, LedgerEntry};
pub use store::{Content, EvidenceRecord, EvidenceStore, NewEvidence, RetentionPolicy, Source};
pub use verify::{Problem, ProblemKind, VerifyReport, verify_tenant};
