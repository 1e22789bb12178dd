//! The embedded BlobStore adapter: object versions as files in the data directory, their metadata
//! in a SQLite index. Every put writes a new immutable version (temp file, fsync, rename, then the
//! index row), so a crash never leaves a half-written version visible. Retention is enforced on
//! delete exactly as S3 Object Lock does. Presigned URLs point at the local gateway and carry an
//! HMAC signature that [`EmbeddedBlobs::verify_presigned`] checks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use kushim_domain::{Sha256Digest, sha256};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Sha256;

use super::{
    Blob, BlobMeta, BlobStore, KeyPage, LockMode, PresignedRequest, PutOptions, Retention, validate_blob_key,
    validate_presign,
};
use crate::{AdapterError, Result};

/// File-backed, versioned blob store.
#[derive(Clone)]
pub struct EmbeddedBlobs {
    root: PathBuf,
    conn: Arc<Mutex<Connection>>,
    presign_key: Arc<[u8; 32]>,
    public_url: Arc<RwLock<String>>,
    default_retention: Arc<RwLock<Option<(LockMode, u32)>>>,
}

/// What a verified presigned URL allows.
#[derive(Debug, Clone, PartialEq)]
pub struct PresignedGrant {
    /// `GET` or `PUT`.
    pub method: String,
    /// Object key.
    pub key: String,
    /// Version to read (GET only).
    pub version_id: Option<String>,
    /// Digest the uploaded bytes must have (PUT only).
    pub sha256: Option<Sha256Digest>,
    /// Media type the upload must declare (PUT only).
    pub content_type: Option<String>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS versions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    version_id TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    sha256 TEXT,
    content_type TEXT,
    lock_mode TEXT,
    retain_until INTEGER,
    created_at INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS versions_key ON versions (key, seq);
";

/// The URL path prefix the local gateway serves presigned requests under.
pub const PRESIGN_PATH: &str = "/_local/blobs/";

type Row = (String, String, i64, Option<String>, Option<String>, Option<String>, Option<i64>, i64, bool);

fn row_meta(r: Row) -> Result<Option<BlobMeta>> {
    let (key, version_id, size, sha, ct, mode, until, created, marker) = r;
    if marker {
        return Ok(None);
    }
    let retention = match (mode.as_deref(), until) {
        (Some(m), Some(u)) => Some(Retention {
            mode: if m == "COMPLIANCE" { LockMode::Compliance } else { LockMode::Governance },
            until: DateTime::from_timestamp_millis(u).unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Some(BlobMeta {
        key,
        version_id,
        size: size as u64,
        sha256: sha
            .map(|s| Sha256Digest::from_hex(&s))
            .transpose()
            .map_err(|e| AdapterError::Storage(e.to_string()))?,
        content_type: ct,
        retention,
        last_modified: DateTime::from_timestamp_millis(created),
    }))
}

const META_COLUMNS: &str =
    "key, version_id, size, sha256, content_type, lock_mode, retain_until, created_at, delete_marker";

fn map_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get::<_, i64>(8)? != 0,
    ))
}

fn find(conn: &Connection, key: &str, version_id: Option<&str>) -> Result<BlobMeta> {
    let row = match version_id {
        Some(v) => conn
            .query_row(
                &format!("SELECT {META_COLUMNS} FROM versions WHERE key = ?1 AND version_id = ?2"),
                params![key, v],
                map_row,
            )
            .optional()?,
        None => conn
            .query_row(
                &format!("SELECT {META_COLUMNS} FROM versions WHERE key = ?1 ORDER BY seq DESC LIMIT 1"),
                [key],
                map_row,
            )
            .optional()?,
    };
    row.map(row_meta).transpose()?.flatten().ok_or_else(|| AdapterError::NotFound(format!("object {key}")))
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32]> {
    if let Ok(bytes) = std::fs::read(path) {
        return bytes
            .try_into()
            .map_err(|_| AdapterError::Storage(format!("{} must hold exactly 32 bytes", path.display())));
    }
    let key: [u8; 32] = rand::random();
    write_private(path, &key)?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

impl EmbeddedBlobs {
    /// Opens (creating if needed) the store under `dir/blobs`.
    pub fn open(dir: &Path) -> Result<Self> {
        let root = dir.join("blobs");
        std::fs::create_dir_all(root.join("data"))?;
        std::fs::create_dir_all(root.join("tmp"))?;
        let conn = Connection::open(root.join("index.db"))?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let presign_key = load_or_create_key(&root.join("presign.key"))?;
        Ok(Self {
            root,
            conn: Arc::new(Mutex::new(conn)),
            presign_key: Arc::new(presign_key),
            public_url: Arc::new(RwLock::new("http://127.0.0.1:3000".into())),
            default_retention: Arc::new(RwLock::new(None)),
        })
    }

    /// Sets the base URL presigned links point at (the local gateway's address).
    pub fn set_public_url(&self, url: &str) {
        if let Ok(mut g) = self.public_url.write() {
            *g = url.trim_end_matches('/').to_owned();
        }
    }

    /// Applies a default retention to every version put without one, as an S3 bucket's Object
    /// Lock default retention rule does (the template's evidence bucket has one).
    pub fn set_default_retention(&self, rule: Option<(LockMode, u32)>) {
        if let Ok(mut g) = self.default_retention.write() {
            *g = rule;
        }
    }

    fn data_path(&self, version_id: &str) -> PathBuf {
        self.root.join("data").join(version_id)
    }

    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| AdapterError::Storage("blob index lock poisoned".into()))?;
            f(&mut guard)
        })
        .await?
    }

    fn sign(&self, parts: &[&str]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.presign_key.as_slice()).expect("any key length");
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(&[0]);
        }
        hex::encode(mac.finalize().into_bytes())
    }

    fn presign(
        &self,
        method: &str,
        key: &str,
        extra: &[(&str, String)],
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        validate_blob_key(key)?;
        validate_presign(expires_in)?;
        let expires_at =
            Utc::now() + chrono::Duration::from_std(expires_in).map_err(|e| AdapterError::Invalid(e.to_string()))?;
        let exp = expires_at.timestamp().to_string();
        let mut parts = vec![method, key, exp.as_str()];
        parts.extend(extra.iter().map(|(_, v)| v.as_str()));
        let sig = self.sign(&parts);
        let base = self.public_url.read().map(|g| g.clone()).unwrap_or_default();
        let mut query = format!("expires={exp}");
        for (k, v) in extra {
            query.push_str(&format!("&{k}={}", urlencode(v)));
        }
        query.push_str(&format!("&signature={sig}"));
        Ok(PresignedRequest {
            method: method.to_owned(),
            url: format!("{base}{PRESIGN_PATH}{}?{query}", key.split('/').map(urlencode).collect::<Vec<_>>().join("/")),
            headers: Vec::new(),
            expires_at,
        })
    }

    /// Checks a presigned request the gateway received: the signature, the expiry and the method.
    /// `key` is the decoded path after [`PRESIGN_PATH`]; `query` the decoded query parameters.
    pub fn verify_presigned(&self, method: &str, key: &str, query: &[(String, String)]) -> Result<PresignedGrant> {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let denied = |why: &str| AdapterError::AccessDenied(format!("presigned URL refused: {why}"));
        let exp = get("expires").ok_or_else(|| denied("no expiry"))?;
        let sig = get("signature").ok_or_else(|| denied("no signature"))?;
        let (extra_names, grant) = match method {
            "GET" => (
                vec!["version"],
                PresignedGrant {
                    method: "GET".into(),
                    key: key.into(),
                    version_id: get("version"),
                    sha256: None,
                    content_type: None,
                },
            ),
            "PUT" => {
                let sha = get("sha256").ok_or_else(|| denied("no digest"))?;
                let digest = Sha256Digest::from_hex(&sha).map_err(|_| denied("bad digest"))?;
                (
                    vec!["sha256", "content_type"],
                    PresignedGrant {
                        method: "PUT".into(),
                        key: key.into(),
                        version_id: None,
                        sha256: Some(digest),
                        content_type: get("content_type"),
                    },
                )
            }
            _ => return Err(denied("method not allowed")),
        };
        let mut parts = vec![method.to_owned(), key.to_owned(), exp.clone()];
        parts.extend(extra_names.iter().filter_map(|n| get(n)));
        let expected = self.sign(&parts.iter().map(String::as_str).collect::<Vec<_>>());
        let ok = expected.len() == sig.len()
            && expected.bytes().zip(sig.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if !ok {
            return Err(denied("signature does not match"));
        }
        let exp: i64 = exp.parse().map_err(|_| denied("bad expiry"))?;
        if Utc::now().timestamp() > exp {
            return Err(denied("expired"));
        }
        Ok(grant)
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl BlobStore for EmbeddedBlobs {
    async fn put(&self, key: &str, bytes: Bytes, options: PutOptions) -> Result<BlobMeta> {
        validate_blob_key(key)?;
        let actual = sha256(&bytes);
        if actual != options.sha256 {
            return Err(AdapterError::ChecksumMismatch(format!("expected {}, got {actual}", options.sha256)));
        }
        let version_id = uuid::Uuid::now_v7().simple().to_string();
        let (tmp, dest) = (self.root.join("tmp").join(&version_id), self.data_path(&version_id));
        let key = key.to_owned();
        let conn = self.conn.clone();
        let default_retention = self.default_retention.read().ok().and_then(|g| *g);
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            drop(f);
            let mut perms = std::fs::metadata(&tmp)?.permissions();
            perms.set_readonly(true);
            std::fs::set_permissions(&tmp, perms)?;
            let mut c = conn.lock().map_err(|_| AdapterError::Storage("blob index lock poisoned".into()))?;
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if options.if_absent && find(&tx, &key, None).is_ok() {
                let _ = std::fs::remove_file(&tmp);
                return Err(AdapterError::ConditionFailed);
            }
            std::fs::rename(&tmp, &dest)?;
            let now = Utc::now().timestamp_millis();
            let retention = options.retention.or(default_retention
                .map(|(mode, days)| Retention { mode, until: Utc::now() + chrono::Duration::days(i64::from(days)) }));
            let (mode, until) = match retention {
                Some(r) => (
                    Some(match r.mode {
                        LockMode::Compliance => "COMPLIANCE",
                        LockMode::Governance => "GOVERNANCE",
                    }),
                    Some(r.until.timestamp_millis()),
                ),
                None => (None, None),
            };
            tx.execute(
                "INSERT INTO versions (key, version_id, size, sha256, content_type, lock_mode, retain_until, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![key, version_id, bytes.len() as i64, actual.to_hex(), options.content_type, mode, until, now],
            )?;
            let meta = find(&tx, &key, Some(&version_id))?;
            tx.commit()?;
            Ok(meta)
        })
        .await?
    }

    async fn get(&self, key: &str, version_id: Option<&str>) -> Result<Blob> {
        let meta = self.head(key, version_id).await?;
        let path = self.data_path(&meta.version_id);
        let bytes = tokio::fs::read(&path).await?;
        Ok(Blob { meta, bytes: Bytes::from(bytes) })
    }

    async fn head(&self, key: &str, version_id: Option<&str>) -> Result<BlobMeta> {
        validate_blob_key(key)?;
        let (key, version) = (key.to_owned(), version_id.map(str::to_owned));
        self.with_conn(move |c| find(c, &key, version.as_deref())).await
    }

    async fn delete(&self, key: &str, version_id: Option<&str>) -> Result<()> {
        validate_blob_key(key)?;
        let (key, version) = (key.to_owned(), version_id.map(str::to_owned));
        let root = self.root.clone();
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            match version {
                None => {
                    // Like S3 on a versioned bucket: add a delete marker, keep every version.
                    let marker = uuid::Uuid::now_v7().simple().to_string();
                    tx.execute(
                        "INSERT INTO versions (key, version_id, size, created_at, delete_marker) VALUES (?1, ?2, 0, ?3, 1)",
                        params![key, marker, Utc::now().timestamp_millis()],
                    )?;
                }
                Some(v) => {
                    let row = tx
                        .query_row(&format!("SELECT {META_COLUMNS} FROM versions WHERE key = ?1 AND version_id = ?2"), params![key, v], map_row)
                        .optional()?
                        .ok_or_else(|| AdapterError::NotFound(format!("version {v} of {key}")))?;
                    if let Some(r) = row_meta(row)?.and_then(|m| m.retention).filter(|r| r.until > Utc::now()) {
                        return Err(AdapterError::ObjectLocked { until: r.until.to_rfc3339() });
                    }
                    tx.execute("DELETE FROM versions WHERE version_id = ?1", [&v])?;
                    let path = root.join("data").join(&v);
                    if path.exists() {
                        let mut perms = std::fs::metadata(&path)?.permissions();
                        #[allow(clippy::permissions_set_readonly_false)]
                        perms.set_readonly(false);
                        std::fs::set_permissions(&path, perms)?;
                        std::fs::remove_file(&path)?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list(&self, prefix: &str, continuation: Option<String>, limit: u32) -> Result<KeyPage> {
        let limit = limit.clamp(1, 1000) as usize;
        let prefix = prefix.to_owned();
        self.with_conn(move |c| {
            let after = continuation.unwrap_or_default();
            let mut stmt = c.prepare_cached(
                "SELECT v.key FROM versions v
                 WHERE v.key > ?2 AND substr(v.key, 1, length(?1)) = ?1
                   AND v.seq = (SELECT max(seq) FROM versions w WHERE w.key = v.key) AND v.delete_marker = 0
                 ORDER BY v.key LIMIT ?3",
            )?;
            let mut keys: Vec<String> = stmt
                .query_map(params![prefix, after, (limit + 1) as i64], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            let next = if keys.len() > limit {
                keys.truncate(limit);
                keys.last().cloned()
            } else {
                None
            };
            Ok(KeyPage { keys, next })
        })
        .await
    }

    async fn presign_get(&self, key: &str, version_id: Option<&str>, expires_in: Duration) -> Result<PresignedRequest> {
        let extra: Vec<(&str, String)> = version_id.map(|v| vec![("version", v.to_owned())]).unwrap_or_default();
        self.presign("GET", key, &extra, expires_in)
    }

    async fn presign_put(
        &self,
        key: &str,
        sha256: Sha256Digest,
        content_type: &str,
        expires_in: Duration,
    ) -> Result<PresignedRequest> {
        let mut req = self.presign(
            "PUT",
            key,
            &[("sha256", sha256.to_hex()), ("content_type", content_type.to_owned())],
            expires_in,
        )?;
        req.headers.push(("content-type".into(), content_type.to_owned()));
        Ok(req)
    }

    async fn probe(&self) -> Result<()> {
        let root = self.root.clone();
        self.with_conn(move |c| {
            c.query_row("SELECT count(*) FROM versions WHERE key = ''", [], |r| r.get::<_, i64>(0))?;
            let probe = root.join("tmp").join(".probe");
            std::fs::write(&probe, b"ok")?;
            std::fs::remove_file(&probe)?;
            Ok(())
        })
        .await
    }
}
