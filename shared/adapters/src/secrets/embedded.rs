//! The embedded Secrets adapter: every secret lives in one file, `secrets.json`, in the data
//! directory, each value sealed with AES-256-GCM under a 32-byte key kept next to it in
//! `secrets.key` (created on first use, readable by the owner only).
//!
//! Every write uses a fresh random 96-bit nonce, and the secret's name is bound to its ciphertext as
//! associated data, so a sealed value copied under another name fails to decrypt. Writes replace
//! the file atomically (temporary file, fsync, rename) and are serialized, within the process by a
//! mutex and across processes by an exclusive lock on `secrets.lock`, so a read-modify-write cycle
//! (and [`Secrets::create_if_absent`] in particular) is atomic even when several adapters or
//! processes share the directory; reads go to the file each time, so they see each other's
//! writes. Values are never logged.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, KeyInit, Nonce};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::zeroize::{Zeroize, Zeroizing};
use serde::{Deserialize, Serialize};

use super::{ExposeSecret, MAX_SECRET_BYTES, SecretString, Secrets, validate_secret_name};
use crate::{AdapterError, Result};

/// File holding the sealed secrets.
pub const SECRETS_FILE: &str = "secrets.json";
/// File holding the 32-byte AES-256 key.
pub const KEY_FILE: &str = "secrets.key";
/// Empty file whose exclusive lock serializes writers across processes.
pub const LOCK_FILE: &str = "secrets.lock";

const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 12;
const FORMAT_VERSION: u32 = 1;

/// On-disk layout of `secrets.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SecretsFile {
    version: u32,
    secrets: BTreeMap<String, Sealed>,
}

/// One sealed value: base64 of the nonce and of the ciphertext (which ends with the GCM tag).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Sealed {
    nonce: String,
    ciphertext: String,
}

struct Inner {
    dir: PathBuf,
    cipher: Aes256Gcm,
    /// Serializes read-modify-write cycles on `secrets.json` within this process.
    write_lock: Mutex<()>,
}

/// Secrets in an encrypted file in a local directory.
#[derive(Clone)]
pub struct EmbeddedSecrets {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EmbeddedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedSecrets").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl EmbeddedSecrets {
    /// Opens (creating if needed) the secret store in `dir`. The key file is created on first use
    /// with mode 0600; an existing key file of the wrong length is refused with
    /// `AdapterError::Storage` rather than silently replaced, since that would lose every secret.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| AdapterError::Storage(format!("cannot create secrets directory {}: {e}", dir.display())))?;
        let key = load_or_create_key(&dir.join(KEY_FILE))?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key));
        let store = Self { inner: Arc::new(Inner { dir: dir.to_owned(), cipher, write_lock: Mutex::new(()) }) };
        // Fail now, not on first use, if the secrets file is unreadable.
        store.inner.load()?;
        Ok(store)
    }

    /// The directory holding `secrets.json` and `secrets.key`.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs blocking file work off the async runtime.
    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce(&Inner) -> Result<T> + Send + 'static) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner)).await?
    }
}

#[async_trait]
impl Secrets for EmbeddedSecrets {
    async fn get(&self, name: &str) -> Result<SecretString> {
        validate_secret_name(name)?;
        let name = name.to_owned();
        self.blocking(move |inner| {
            let file = inner.load()?;
            let sealed = file.secrets.get(&name).ok_or_else(|| AdapterError::NotFound(format!("secret {name}")))?;
            inner.open_sealed(&name, sealed)
        })
        .await
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<()> {
        validate_secret_name(name)?;
        if value.expose_secret().len() > MAX_SECRET_BYTES {
            return Err(AdapterError::Invalid(format!("secret {name} is larger than {MAX_SECRET_BYTES} bytes")));
        }
        let name = name.to_owned();
        self.blocking(move |inner| {
            inner.exclusively(|| {
                let mut file = inner.load()?;
                let sealed = inner.seal(&name, &value)?;
                file.secrets.insert(name, sealed);
                inner.save(&file)
            })
        })
        .await
    }

    async fn create_if_absent(&self, name: &str, value: SecretString) -> Result<bool> {
        validate_secret_name(name)?;
        if value.expose_secret().len() > MAX_SECRET_BYTES {
            return Err(AdapterError::Invalid(format!("secret {name} is larger than {MAX_SECRET_BYTES} bytes")));
        }
        let name = name.to_owned();
        self.blocking(move |inner| {
            inner.exclusively(|| {
                let mut file = inner.load()?;
                if file.secrets.contains_key(&name) {
                    return Ok(false);
                }
                let sealed = inner.seal(&name, &value)?;
                file.secrets.insert(name, sealed);
                inner.save(&file)?;
                Ok(true)
            })
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<()> {
        validate_secret_name(name)?;
        let name = name.to_owned();
        self.blocking(move |inner| {
            inner.exclusively(|| {
                let mut file = inner.load()?;
                if file.secrets.remove(&name).is_none() {
                    return Err(AdapterError::NotFound(format!("secret {name}")));
                }
                inner.save(&file)
            })
        })
        .await
    }
}

impl Inner {
    fn secrets_path(&self) -> PathBuf {
        self.dir.join(SECRETS_FILE)
    }

    /// Runs a read-modify-write cycle holding the process mutex and the cross-process file lock
    /// (released when the lock file is closed).
    fn exclusively<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let _guard = self.write_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let path = self.dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock =
            options.open(&path).map_err(|e| AdapterError::Storage(format!("cannot open {}: {e}", path.display())))?;
        lock.lock().map_err(|e| AdapterError::Storage(format!("cannot lock {}: {e}", path.display())))?;
        work()
    }

    /// Reads `secrets.json`; a missing file is an empty store.
    fn load(&self) -> Result<SecretsFile> {
        let path = self.secrets_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Ok(SecretsFile { version: FORMAT_VERSION, secrets: BTreeMap::new() });
            }
            Err(e) => return Err(AdapterError::Storage(format!("cannot read {}: {e}", path.display()))),
        };
        let file: SecretsFile = serde_json::from_slice(&bytes)
            .map_err(|e| AdapterError::Storage(format!("secrets file {} is corrupt: {e}", path.display())))?;
        if file.version != FORMAT_VERSION {
            return Err(AdapterError::Storage(format!(
                "secrets file {} has format version {}, this build reads version {FORMAT_VERSION}",
                path.display(),
                file.version
            )));
        }
        Ok(file)
    }

    /// Replaces `secrets.json` atomically: write a temporary file, fsync it, rename it over the old
    /// one, then fsync the directory so the rename itself is durable.
    fn save(&self, file: &SecretsFile) -> Result<()> {
        let path = self.secrets_path();
        let tmp = self.dir.join(format!(".{SECRETS_FILE}.{}.tmp", uuid::Uuid::new_v4()));
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|e| AdapterError::Storage(format!("cannot encode the secrets file: {e}")))?;
        let written = write_new_private_file(&tmp, &bytes).and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(AdapterError::Storage(format!("cannot write {}: {e}", path.display())));
        }
        sync_dir(&self.dir)
    }

    fn seal(&self, name: &str, value: &SecretString) -> Result<Sealed> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, Payload { msg: value.expose_secret().as_bytes(), aad: name.as_bytes() })
            .map_err(|_| AdapterError::Storage(format!("cannot encrypt secret {name}")))?;
        Ok(Sealed { nonce: BASE64.encode(nonce), ciphertext: BASE64.encode(ciphertext) })
    }

    fn open_sealed(&self, name: &str, sealed: &Sealed) -> Result<SecretString> {
        let corrupt = || AdapterError::Storage(format!("secret {name} is corrupt in {SECRETS_FILE}"));
        let nonce = BASE64.decode(&sealed.nonce).map_err(|_| corrupt())?;
        if nonce.len() != NONCE_BYTES {
            return Err(corrupt());
        }
        let ciphertext = BASE64.decode(&sealed.ciphertext).map_err(|_| corrupt())?;
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: name.as_bytes() })
            .map_err(|_| AdapterError::Storage(format!("secret {name} failed authentication")))?;
        match String::from_utf8(plaintext) {
            Ok(value) => Ok(SecretString::from(value)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(AdapterError::Storage(format!("secret {name} is not UTF-8")))
            }
        }
    }
}

/// Reads the key file, or creates it with a fresh random key when it does not exist yet.
fn load_or_create_key(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => {
            let bytes = Zeroizing::new(bytes);
            if bytes.len() != KEY_BYTES {
                return Err(AdapterError::Storage(format!(
                    "secrets key file {} holds {} bytes, expected {KEY_BYTES}; refusing to start. Restore the \
                     original key file (the secrets cannot be read without it)",
                    path.display(),
                    bytes.len()
                )));
            }
            warn_if_readable_by_others(path);
            Ok(bytes)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let key = Zeroizing::new(Aes256Gcm::generate_key(&mut OsRng).to_vec());
            match write_new_private_file(path, &key) {
                Ok(()) => {
                    sync_dir(path.parent().unwrap_or(Path::new(".")))?;
                    tracing::info!(path = %path.display(), "created a new secrets key");
                    Ok(key)
                }
                // Someone else created it first: use theirs.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => load_or_create_key(path),
                Err(e) => Err(AdapterError::Storage(format!("cannot create secrets key file {}: {e}", path.display()))),
            }
        }
        Err(e) => Err(AdapterError::Storage(format!("cannot read secrets key file {}: {e}", path.display()))),
    }
}

/// Creates `path` (failing if it exists) with owner-only permissions, writes `bytes` and fsyncs.
fn write_new_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename or file creation in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AdapterError::Storage(format!("cannot sync directory {}: {e}", dir.display())))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "secrets key file is accessible to other users; chmod 600 it");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
