//! Signed checkpoints of a tenant's ledger head. A checkpoint signs the canonical JSON of
//! `{tenant, seq, head_hash, time}` with an Ed25519 key kept (as base64url PKCS#8) in the Secrets
//! port under [`SIGNING_KEY_SECRET`], created on first use with the port's create-if-absent, so
//! processes racing to create it all end up with the one key that won. Checkpoints are stored
//! apart from the chain; whoever holds one can tell a rewritten history from the real one with the
//! public key, which [`Checkpoints::public_key`] returns for an API route to publish.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::secrets::{ExposeSecret, SecretString, Secrets};
use kushim_adapters::table::{Condition, Item, Query, Table};
use kushim_domain::TenantId;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::EvidenceError;
use crate::ledger::Ledger;

/// Name of the secret holding the checkpoint signing key.
pub const SIGNING_KEY_SECRET: &str = "evidence-signing-key";

/// A signed statement of the chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The tenant.
    pub tenant: String,
    /// The head's sequence number.
    pub seq: u64,
    /// The head's hash.
    pub head_hash: String,
    /// When it was signed (RFC 3339, UTC, microseconds).
    pub time: String,
    /// Ed25519 signature over [`Checkpoint::signed_bytes`], base64url.
    pub signature: String,
    /// The public key that signed it (raw 32 bytes, base64url).
    pub public_key: String,
}

impl Checkpoint {
    /// The bytes the signature covers: canonical JSON of tenant, seq, head hash and time.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let body = serde_json::json!({
            "tenant": self.tenant, "seq": self.seq, "head_hash": self.head_hash, "time": self.time,
        });
        crate::canonicalize_json(&body)
    }

    /// Whether the signature verifies with a published public key (raw 32 bytes, base64url).
    pub fn verify(&self, public_key_b64: &str) -> bool {
        let (Ok(key), Ok(sig)) = (URL_SAFE_NO_PAD.decode(public_key_b64), URL_SAFE_NO_PAD.decode(&self.signature))
        else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, key).verify(&self.signed_bytes(), &sig).is_ok()
    }
}

/// Creates and lists checkpoints.
#[derive(Clone)]
pub struct Checkpoints {
    table: Arc<dyn Table>,
    secrets: Arc<dyn Secrets>,
    key: Arc<OnceCell<Arc<Ed25519KeyPair>>>,
}

impl Checkpoints {
    /// Wraps the ports.
    pub fn new(table: Arc<dyn Table>, secrets: Arc<dyn Secrets>) -> Self {
        Self { table, secrets, key: Arc::new(OnceCell::new()) }
    }

    async fn key_pair(&self) -> Result<Arc<Ed25519KeyPair>, EvidenceError> {
        self.key.get_or_try_init(|| load_or_create(self.secrets.as_ref())).await.cloned()
    }

    /// The public key (raw 32 bytes, base64url) for an API route to publish.
    pub async fn public_key(&self) -> Result<String, EvidenceError> {
        Ok(URL_SAFE_NO_PAD.encode(self.key_pair().await?.public_key().as_ref()))
    }

    /// Signs the tenant's current head and stores the checkpoint (or returns the one already
    /// stored for that sequence number).
    pub async fn checkpoint(&self, tenant: &TenantId, now: DateTime<Utc>) -> Result<Checkpoint, EvidenceError> {
        let head = Ledger::new(self.table.clone()).head(tenant).await?;
        let key = self.key_pair().await?;
        let mut cp = Checkpoint {
            tenant: tenant.to_string(),
            seq: head.seq,
            head_hash: head.hash,
            time: now.to_rfc3339_opts(SecondsFormat::Micros, true),
            signature: String::new(),
            public_key: URL_SAFE_NO_PAD.encode(key.public_key().as_ref()),
        };
        cp.signature = URL_SAFE_NO_PAD.encode(key.sign(&cp.signed_bytes()).as_ref());
        let attrs = match serde_json::to_value(&cp) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(EvidenceError::Invalid("checkpoint does not serialise".into())),
        };
        let item = Item { attrs, ..Item::new(keys::ledger_checkpoint(tenant, cp.seq)) };
        match self.table.put(item, Some(Condition::NotExists)).await {
            Ok(()) => Ok(cp),
            Err(AdapterError::ConditionFailed) => self
                .table
                .get(&keys::ledger_checkpoint(tenant, cp.seq))
                .await?
                .ok_or_else(|| EvidenceError::Invalid("checkpoint vanished".into()))?
                .parse()
                .map_err(Into::into),
            Err(e) => Err(e.into()),
        }
    }

    /// Every checkpoint of the tenant, oldest first.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Checkpoint>, EvidenceError> {
        list_checkpoints(self.table.as_ref(), tenant).await.map(|v| v.into_iter().filter_map(|(_, c)| c.ok()).collect())
    }
}

/// Every checkpoint row of the tenant, each with its key's sequence number, parsed or not.
pub(crate) async fn list_checkpoints(
    table: &dyn Table,
    tenant: &TenantId,
) -> Result<Vec<(u64, Result<Checkpoint, AdapterError>)>, EvidenceError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let query =
            Query::partition(keys::tenant_pk(tenant)).begins_with(keys::CHECKPOINT_PREFIX).limit(1000).after(cursor);
        let page = table.query(query).await?;
        for item in &page.items {
            let seq = item.key.sk.trim_start_matches(keys::CHECKPOINT_PREFIX).parse().unwrap_or(u64::MAX);
            out.push((seq, item.parse()));
        }
        cursor = page.cursor;
        if cursor.is_none() {
            return Ok(out);
        }
    }
}

async fn load_or_create(secrets: &dyn Secrets) -> Result<Arc<Ed25519KeyPair>, EvidenceError> {
    let stored = match secrets.get(SIGNING_KEY_SECRET).await {
        Ok(v) => v,
        Err(AdapterError::NotFound(_)) => {
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| EvidenceError::Signing("could not generate a key".into()))?;
            let fresh: SecretString = URL_SAFE_NO_PAD.encode(doc.as_ref()).into();
            // Only one of several processes creating the key on first use wins; the others use its key.
            if secrets.create_if_absent(SIGNING_KEY_SECRET, fresh.clone()).await? {
                tracing::info!("created the evidence checkpoint signing key");
                fresh
            } else {
                secrets.get(SIGNING_KEY_SECRET).await?
            }
        }
        Err(e) => return Err(e.into()),
    };
    let der = URL_SAFE_NO_PAD
        .decode(stored.expose_secret().trim())
        .map_err(|_| EvidenceError::Signing("the stored key is not base64url".into()))?;
    let pair =
        Ed25519KeyPair::from_pkcs8(&der).map_err(|e| EvidenceError::Signing(format!("stored key rejected: {e}")))?;
    Ok(Arc::new(pair))
}
