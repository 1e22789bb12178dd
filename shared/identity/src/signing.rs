//! The access-token signing keys, kept in the Secrets port as one JSON key set. The set is created
//! on first use (create-if-absent, so processes racing to create it all adopt the one that won),
//! rotated when its active key is older than [`ROTATE_AFTER_SECS`] (old keys stay until every
//! token they signed has expired, so verification never breaks across a rotation), and cached in
//! memory for [`CACHE_SECS`] so the hot path does not read the secret store.

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
                // Of several processes creating the set on first use, one wins; the others use its set.
                if self.secrets.create_if_absent(SIGNING_KEYS_SECRET, keys.to_json()?).await? {
                    tracing::info!("created the access-token signing key set");
                    keys
                } else {
                    KeySet::from_json(self.secrets.get(SIGNING_KEYS_SECRET).await?.expose_secret())?
                }
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
            if secrets.create_if_absent(CURSOR_KEY_SECRET, fresh.clone()).await? {
                fresh
            } else {
                secrets.get(CURSOR_KEY_SECRET).await?
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_adapters::secrets::embedded::EmbeddedSecrets;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn processes_racing_to_create_the_keys_all_end_up_with_the_same_ones() {
        // GIVEN several services, each with its own adapter over one empty secrets directory.
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let secrets: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(dir.path()).unwrap());
                tokio::spawn(async move {
                    let kid = SigningKeys::new(secrets.clone()).get(now).await.unwrap().active().kid().to_owned();
                    (kid, cursor_key(secrets.as_ref()).await.unwrap())
                })
            })
            .collect();
        // WHEN each creates the signing key set and the cursor key on first use at once.
        let mut seen = Vec::new();
        for task in tasks {
            seen.push(task.await.unwrap());
        }
        // THEN every one of them uses the same keys: the ones that were stored.
        seen.dedup();
        assert_eq!(seen.len(), 1, "{} different key sets or cursor keys", seen.len());
        let stored: Arc<dyn Secrets> = Arc::new(EmbeddedSecrets::open(dir.path()).unwrap());
        let kid = SigningKeys::new(stored.clone()).get(now).await.unwrap().active().kid().to_owned();
        assert_eq!((kid, cursor_key(stored.as_ref()).await.unwrap()), seen.remove(0));
    }
}
