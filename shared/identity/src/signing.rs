//! The access-token signing keys, kept in the Secrets port as one JSON key set. The set is created
//! on first use, rotated when its active key is older than [`ROTATE_AFTER_SECS`] (old keys stay
//! until every token they signed has expired, so verification never breaks across a rotation),
//! and cached in memory for [`CACHE_SECS`] so the hot path does not read the secret store.

use std::sync::Arc;

use kushim_adapters::AdapterError;
use kushim_adapters::secrets::{ExposeSecret, SecretString, Secrets};
use kushim_auth::KeySet;
use tokio::sync::RwLock;

use crate::IdentityError;

/// Name of the secret holding the key set.
pub const SIGNING_KEYS_SECRET: &str = "jwt-signing-keys";
/// Name of the secret holding the cursor-signing key.
pub const CURSOR_KEY_SECRET: &str = "cursor-key";
/// Active key age that triggers a rotation.
pub const ROTATE_AFTER_SECS: i64 = 30 * 24 * 3600;
/// How long an old key is kept after it stops signing (longer than any token lives).
pub const KEEP_OLD_SECS: i64 = 3600;
/// How long a loaded key set is trusted before it is read again.
pub const CACHE_SECS: i64 = 300;

/// A loaded key set and when it was loaded.
type Cached = Option<(i64, Arc<KeySet>)>;

/// Cached access to the key set.
#[derive(Clone)]
pub struct SigningKeys {
    secrets: Arc<dyn Secrets>,
    cache: Arc<RwLock<Cached>>,
}

impl SigningKeys {
    /// Wraps the secrets port.
    pub fn new(secrets: Arc<dyn Secrets>) -> Self {
        Self { secrets, cache: Arc::new(RwLock::new(None)) }
    }

    /// The current key set (loading, creating or rotating it as needed).
    pub async fn get(&self, now: i64) -> Result<Arc<KeySet>, IdentityError> {
        if let Some((loaded, keys)) = self.cache.read().await.as_ref()
            && now - loaded < CACHE_SECS
        {
            return Ok(keys.clone());
        }
        let mut guard = self.cache.write().await;
        let mut keys = match self.secrets.get(SIGNING_KEYS_SECRET).await {
            Ok(json) => KeySet::from_json(json.expose_secret())?,
            Err(AdapterError::NotFound(_)) => {
                let keys = KeySet::generate_at(now)?;
                self.secrets.put(SIGNING_KEYS_SECRET, keys.to_json()?).await?;
                tracing::info!("created the access-token signing key set");
                keys
            }
            Err(e) => return Err(e.into()),
        };
        if now - keys.active().created_at() > ROTATE_AFTER_SECS {
            keys.rotate(now)?;
            keys.prune(now, KEEP_OLD_SECS);
            self.secrets.put(SIGNING_KEYS_SECRET, keys.to_json()?).await?;
            tracing::info!(kid = keys.active().kid(), "rotated the access-token signing key");
        }
        let keys = Arc::new(keys);
        *guard = Some((now, keys.clone()));
        Ok(keys)
    }

    /// Forces a rotation now (operators; tests).
    pub async fn rotate(&self, now: i64) -> Result<Arc<KeySet>, IdentityError> {
        let mut keys = (*self.get(now).await?).clone();
        keys.rotate(now)?;
        keys.prune(now, KEEP_OLD_SECS);
        self.secrets.put(SIGNING_KEYS_SECRET, keys.to_json()?).await?;
        let keys = Arc::new(keys);
        *self.cache.write().await = Some((now, keys.clone()));
        Ok(keys)
    }
}

/// The 32-byte key cursors are sealed with: the SHA-256 of the `cursor-key` secret (which the
/// template creates with a generated random value; the embedded platform creates it on first use).
pub async fn cursor_key(secrets: &dyn Secrets) -> Result<[u8; 32], IdentityError> {
    use sha2::{Digest, Sha256};
    let value = match secrets.get(CURSOR_KEY_SECRET).await {
        Ok(v) => v,
        Err(AdapterError::NotFound(_)) => {
            let fresh: SecretString =
                format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()).into();
            secrets.put(CURSOR_KEY_SECRET, fresh.clone()).await?;
            fresh
        }
        Err(e) => return Err(e.into()),
    };
    if value.expose_secret().len() < 32 {
        return Err(IdentityError::Invalid("the cursor key secret is too short".into()));
    }
    Ok(Sha256::digest(value.expose_secret().as_bytes()).into())
}

/// The cursor key, read once per process.
#[derive(Clone)]
pub struct CursorKey {
    secrets: Arc<dyn Secrets>,
    cell: Arc<tokio::sync::OnceCell<[u8; 32]>>,
}

impl CursorKey {
    /// Wraps the secrets port.
    pub fn new(secrets: Arc<dyn Secrets>) -> Self {
        Self { secrets, cell: Arc::new(tokio::sync::OnceCell::new()) }
    }

    /// The key.
    pub async fn get(&self) -> Result<[u8; 32], IdentityError> {
        self.cell.get_or_try_init(|| cursor_key(self.secrets.as_ref())).await.copied()
    }
}
