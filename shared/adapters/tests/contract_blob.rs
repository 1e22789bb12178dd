//! Contract suite for the BlobStore port. Every assertion function runs twice: against the embedded
//! adapter (files and SQLite in a temporary directory) and against S3 in moto (a versioned,
//! object-lock-enabled bucket provisioned from the template by `kushim_testkit::fresh_stack`). Test
//! names read `embedded::<case>` and `s3::<case>`.
//!
//! moto neither verifies checksums nor presigned URLs, and has no GetObjectRetention (the S3 adapter
//! reads the lock headers of HeadObject instead), so the presigned-URL checks that need a verifier
//! run against the embedded adapter only.

mod common;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::{assert_condition_failed, assert_invalid, assert_not_found};
use kushim_adapters::AdapterError;
use kushim_adapters::blob::{BlobStore, LockMode, PutOptions, Retention};
use kushim_domain::sha256;

fn opts(bytes: &[u8]) -> PutOptions {
    PutOptions::for_bytes(bytes, "application/octet-stream")
}

/// Retention until a whole second a day from now (S3 keeps retention dates to the second).
fn a_day_of_compliance() -> Retention {
    let until = DateTime::from_timestamp(Utc::now().timestamp() + 86_400, 0).unwrap();
    Retention { mode: LockMode::Compliance, until }
}

async fn put(store: &dyn BlobStore, key: &str, bytes: &'static [u8]) -> String {
    store.put(key, Bytes::from_static(bytes), opts(bytes)).await.unwrap_or_else(|e| panic!("put {key}: {e}")).version_id
}

async fn bytes_of(store: &dyn BlobStore, key: &str, version: Option<&str>) -> Bytes {
    store.get(key, version).await.unwrap_or_else(|e| panic!("get {key} {version:?}: {e}")).bytes
}

/// Every key under `prefix`, following continuation tokens `limit` at a time.
async fn list_all(store: &dyn BlobStore, prefix: &str, limit: u32) -> (Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut next = None;
    let mut pages = 0;
    loop {
        let page = store.list(prefix, next, limit).await.unwrap();
        pages += 1;
        assert!(pages <= 50, "listing does not end");
        assert!(page.keys.len() <= limit as usize, "a page holds at most `limit` keys");
        keys.extend(page.keys);
        match page.next {
            Some(token) => next = Some(token),
            None => return (keys, pages),
        }
    }
}

// ---- Shared contract: each runs against both adapters. ----

async fn put_get_head_round_trip(store: &dyn BlobStore) {
    // GIVEN bytes of every value, stored with their digest and media type
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let digest = sha256(&data);
    let options = PutOptions::for_bytes(&data, "application/pdf");
    // WHEN they are put
    let meta = store.put("evidence/acme/report.pdf", Bytes::from(data.clone()), options).await.unwrap();
    // THEN the put reports the version, size and digest
    assert_eq!(meta.key, "evidence/acme/report.pdf");
    assert!(!meta.version_id.is_empty() && meta.version_id != "null", "a versioned store names the version");
    assert_eq!((meta.size, meta.sha256), (70_000, Some(digest)));
    // AND get returns the same bytes with the same digest
    let blob = store.get("evidence/acme/report.pdf", None).await.unwrap();
    assert_eq!(blob.bytes, data);
    assert_eq!(blob.meta.sha256, Some(digest));
    assert_eq!(blob.meta.version_id, meta.version_id);
    // AND head returns the digest recorded at put time (the checksum round trip), size and type
    let head = store.head("evidence/acme/report.pdf", None).await.unwrap();
    assert_eq!(head.sha256, Some(digest));
    assert_eq!((head.size, head.content_type.as_deref()), (70_000, Some("application/pdf")));
    assert_eq!(head.version_id, meta.version_id);
    let modified = head.last_modified.expect("a modification time");
    assert!((Utc::now() - modified).num_seconds().abs() < 60, "{modified}");
    // AND head by version id says the same
    assert_eq!(store.head("evidence/acme/report.pdf", Some(&meta.version_id)).await.unwrap().sha256, Some(digest));
    // AND an empty object round-trips too
    put(store, "empty", b"").await;
    assert!(bytes_of(store, "empty", None).await.is_empty());
    assert_eq!(store.head("empty", None).await.unwrap().sha256, Some(sha256(b"")));
    store.probe().await.unwrap();
}

async fn wrong_digest_is_refused(store: &dyn BlobStore) {
    // WHEN bytes are put with the digest of other bytes
    let options = PutOptions { sha256: sha256(b"what the client meant"), ..opts(b"what arrived") };
    let result = store.put("tampered", Bytes::from_static(b"what arrived"), options).await;
    // THEN the put is refused as a checksum mismatch
    assert!(matches!(result, Err(AdapterError::ChecksumMismatch(_))), "expected ChecksumMismatch, got {result:?}");
    // AND nothing was stored
    assert_not_found(store.head("tampered", None).await);
    assert_not_found(store.get("tampered", None).await);
    assert!(store.list("tampered", None, 10).await.unwrap().keys.is_empty());
}

async fn put_twice_keeps_both_versions(store: &dyn BlobStore) {
    // GIVEN two puts of one key
    let v1 = put(store, "policy.md", b"first draft").await;
    let v2 = put(store, "policy.md", b"second draft").await;
    // THEN they are two versions
    assert_ne!(v1, v2);
    // AND the latest is returned without an id
    assert_eq!(bytes_of(store, "policy.md", None).await, "second draft");
    assert_eq!(store.head("policy.md", None).await.unwrap().version_id, v2);
    // AND each is readable by id, with its own digest
    assert_eq!(bytes_of(store, "policy.md", Some(&v1)).await, "first draft");
    assert_eq!(bytes_of(store, "policy.md", Some(&v2)).await, "second draft");
    assert_eq!(store.head("policy.md", Some(&v1)).await.unwrap().sha256, Some(sha256(b"first draft")));
    // AND an unknown version is not found
    assert_not_found(store.get("policy.md", Some("no-such-version")).await);
    // AND the key is listed once
    assert_eq!(store.list("policy", None, 10).await.unwrap().keys, ["policy.md"]);
}

async fn compliance_retention_blocks_delete(store: &dyn BlobStore) {
    // GIVEN a version under COMPLIANCE retention for a day
    let retention = a_day_of_compliance();
    let options = PutOptions { retention: Some(retention), ..opts(b"locked evidence") };
    let meta = store.put("locked", Bytes::from_static(b"locked evidence"), options).await.unwrap();
    // THEN head reports the retention
    let head = store.head("locked", Some(&meta.version_id)).await.unwrap();
    let got = head.retention.expect("the version has a retention");
    assert_eq!((got.mode, got.until.timestamp()), (LockMode::Compliance, retention.until.timestamp()));
    // WHEN that version is deleted
    let result = store.delete("locked", Some(&meta.version_id)).await;
    // THEN the delete is refused as locked
    assert!(matches!(result, Err(AdapterError::ObjectLocked { .. })), "expected ObjectLocked, got {result:?}");
    // AND the bytes are still readable, by id and as the current version
    assert_eq!(bytes_of(store, "locked", Some(&meta.version_id)).await, "locked evidence");
    assert_eq!(bytes_of(store, "locked", None).await, "locked evidence");
}

async fn delete_without_version_hides_but_keeps(store: &dyn BlobStore) {
    // GIVEN a locked version and a neighbour
    let options = PutOptions { retention: Some(a_day_of_compliance()), ..opts(b"kept forever") };
    let version = store.put("hidden/doc", Bytes::from_static(b"kept forever"), options).await.unwrap().version_id;
    put(store, "hidden/other", b"neighbour").await;
    // WHEN the key is deleted without a version
    store.delete("hidden/doc", None).await.unwrap();
    // THEN the object is gone for plain reads and listings
    assert_not_found(store.get("hidden/doc", None).await);
    assert_not_found(store.head("hidden/doc", None).await);
    assert_eq!(store.list("hidden/", None, 10).await.unwrap().keys, ["hidden/other"]);
    // AND the locked version is still readable by id
    assert_eq!(bytes_of(store, "hidden/doc", Some(&version)).await, "kept forever");
    // AND a new put brings the key back
    put(store, "hidden/doc", b"again").await;
    assert_eq!(bytes_of(store, "hidden/doc", None).await, "again");
}

async fn if_absent_refuses_an_existing_key(store: &dyn BlobStore) {
    // GIVEN a stored key
    put(store, "once.json", b"{\"n\":1}").await;
    // WHEN it is put again with if_absent
    let options = PutOptions { if_absent: true, ..opts(b"{\"n\":2}") };
    let result = store.put("once.json", Bytes::from_static(b"{\"n\":2}"), options.clone()).await;
    // THEN the put fails and the first bytes stay current
    assert_condition_failed(result);
    assert_eq!(bytes_of(store, "once.json", None).await, "{\"n\":1}");
    // AND if_absent on a new key succeeds
    store.put("twice.json", Bytes::from_static(b"{\"n\":2}"), options.clone()).await.unwrap();
    assert_eq!(bytes_of(store, "twice.json", None).await, "{\"n\":2}");
    // AND so does it on a key that was deleted (a delete marker is not a current version)
    store.delete("once.json", None).await.unwrap();
    store.put("once.json", Bytes::from_static(b"{\"n\":2}"), options).await.unwrap();
    assert_eq!(bytes_of(store, "once.json", None).await, "{\"n\":2}");
}

async fn list_pages_through_a_prefix(store: &dyn BlobStore) {
    // GIVEN five keys under one prefix, written out of order, and keys outside it
    for key in ["t/acme/3", "t/acme/1", "t/acme/5", "t/acme/2", "t/acme/4", "t/beta/1", "u/1"] {
        store.put(key, Bytes::from(key.to_owned()), opts(key.as_bytes())).await.unwrap();
    }
    // WHEN the prefix is listed two keys at a time
    let (keys, pages) = list_all(store, "t/acme/", 2).await;
    // THEN every key comes once, in lexical order, in three pages
    assert_eq!(keys, ["t/acme/1", "t/acme/2", "t/acme/3", "t/acme/4", "t/acme/5"]);
    assert_eq!(pages, 3);
    // AND a wider prefix includes the other tenant but not the other tree
    let (wider, _) = list_all(store, "t/", 100).await;
    assert_eq!(wider.len(), 6);
    assert!(!wider.contains(&"u/1".to_owned()));
    // AND a second version of a key does not list it twice
    put(store, "t/acme/1", b"v2").await;
    assert_eq!(list_all(store, "t/acme/", 10).await.0.len(), 5);
}

async fn presigned_urls_name_the_object(store: &dyn BlobStore) {
    let version = put(store, "reports/q1.pdf", b"pdf bytes").await;
    // WHEN a download URL is presigned for a minute
    let get = store.presign_get("reports/q1.pdf", Some(&version), Duration::from_secs(60)).await.unwrap();
    // THEN it is a GET of that object and version that expires in a minute
    assert_eq!(get.method, "GET");
    assert!(get.url.contains("reports/q1.pdf"), "{}", get.url);
    assert!(get.url.contains(&version), "the URL names the version: {}", get.url);
    let lifetime = (get.expires_at - Utc::now()).num_seconds();
    assert!((55..=60).contains(&lifetime), "expires in {lifetime} s");
    // WHEN an upload URL is presigned for given bytes and type
    let digest = sha256(b"upload");
    let put = store.presign_put("uploads/u1.bin", digest, "application/pdf", Duration::from_secs(300)).await.unwrap();
    // THEN it is a PUT of that key that tells the client which media type to send
    assert_eq!(put.method, "PUT");
    assert!(put.url.contains("uploads/u1.bin"), "{}", put.url);
    let content_type = put.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    assert_eq!(content_type.map(|(_, v)| v.as_str()), Some("application/pdf"), "{:?}", put.headers);
    assert!((295..=300).contains(&(put.expires_at - Utc::now()).num_seconds()));
    // AND the URLs differ per object
    let other = store.presign_get("reports/q2.pdf", None, Duration::from_secs(60)).await.unwrap();
    assert_ne!(other.url, get.url);
    // AND lifetimes outside 1 s ..= 7 days are refused
    assert_invalid(store.presign_get("reports/q1.pdf", None, Duration::ZERO).await);
    assert_invalid(store.presign_get("reports/q1.pdf", None, Duration::from_secs(7 * 86_400 + 1)).await);
    assert_invalid(
        store.presign_put("uploads/u1.bin", digest, "application/pdf", Duration::from_secs(8 * 86_400)).await,
    );
}

async fn invalid_keys_are_refused(store: &dyn BlobStore) {
    for key in ["", "/absolute", "a/../b", "./a", "tab\there"] {
        assert_invalid(store.put(key, Bytes::from_static(b"x"), opts(b"x")).await);
        assert_invalid(store.get(key, None).await);
        assert_invalid(store.head(key, None).await);
        assert_invalid(store.delete(key, None).await);
    }
    assert!(store.list("", None, 10).await.unwrap().keys.is_empty(), "nothing was stored");
}

/// Runs each shared assertion against a fresh embedded store and a fresh S3 bucket in moto.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = kushim_adapters::blob::embedded::EmbeddedBlobs::open(dir.path()).unwrap();
                    super::$case(&store).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::common::s3_blobs().await).await;
                }
            )*
        }
    };
}

contract!(
    put_get_head_round_trip,
    wrong_digest_is_refused,
    put_twice_keeps_both_versions,
    compliance_retention_blocks_delete,
    delete_without_version_hides_but_keeps,
    if_absent_refuses_an_existing_key,
    list_pages_through_a_prefix,
    presigned_urls_name_the_object,
    invalid_keys_are_refused,
);

// ---- Embedded only: the local gateway's presigned URLs. ----

mod embedded_presign {
    use std::time::Duration;

    use kushim_adapters::AdapterError;
    use kushim_adapters::blob::BlobStore;
    use kushim_adapters::blob::embedded::{EmbeddedBlobs, PRESIGN_PATH};
    use kushim_domain::sha256;

    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("percent escape"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    /// Splits a presigned URL into the decoded key and query pairs, as the gateway would.
    fn parse(url: &str) -> (String, Vec<(String, String)>) {
        let (path, query) = url.split_once('?').expect("a query");
        let key = path.split_once(PRESIGN_PATH).expect("the presign path").1;
        let pairs = query
            .split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').expect("k=v");
                (decode(k), decode(v))
            })
            .collect();
        (decode(key), pairs)
    }

    fn set(query: &mut [(String, String)], name: &str, value: String) {
        query.iter_mut().find(|(k, _)| k == name).expect("parameter present").1 = value;
    }

    #[track_caller]
    fn assert_denied<T: std::fmt::Debug>(result: Result<T, AdapterError>, why: &str) {
        match result {
            Err(AdapterError::AccessDenied(msg)) => assert!(msg.contains(why), "{msg}"),
            other => panic!("expected AccessDenied ({why}), got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_presigned_get_verifies_and_grants_its_version() {
        // GIVEN a store served at a known address and a presigned download
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBlobs::open(dir.path()).unwrap();
        store.set_public_url("http://127.0.0.1:4000/");
        let version = store
            .put(
                "tenants/a b/ü.pdf",
                bytes::Bytes::from_static(b"x"),
                kushim_adapters::blob::PutOptions::for_bytes(b"x", "a/b"),
            )
            .await
            .unwrap()
            .version_id;
        let req = store.presign_get("tenants/a b/ü.pdf", Some(&version), Duration::from_secs(60)).await.unwrap();
        assert!(req.url.starts_with("http://127.0.0.1:4000/_local/blobs/"), "{}", req.url);
        let (key, query) = parse(&req.url);
        // WHEN the gateway verifies the URL's own path and query
        let grant = store.verify_presigned("GET", &key, &query).unwrap();
        // THEN it grants exactly that key and version
        assert_eq!(grant.key, "tenants/a b/ü.pdf");
        assert_eq!(grant.version_id.as_deref(), Some(version.as_str()));
        // AND another method, another key or another version is refused
        assert_denied(store.verify_presigned("PUT", &key, &query), "");
        assert_denied(store.verify_presigned("DELETE", &key, &query), "method");
        assert_denied(store.verify_presigned("GET", "tenants/a b/other.pdf", &query), "signature");
        let mut other_version = query.clone();
        set(&mut other_version, "version", "0000".into());
        assert_denied(store.verify_presigned("GET", &key, &other_version), "signature");
        // AND a tampered signature is refused
        let mut tampered = query.clone();
        let mut sig = tampered.iter().find(|(k, _)| k == "signature").unwrap().1.clone();
        let last = sig.pop().expect("a signature");
        sig.push(if last == '0' { '1' } else { '0' });
        set(&mut tampered, "signature", sig);
        assert_denied(store.verify_presigned("GET", &key, &tampered), "signature");
        // AND a later expiry written into the URL breaks the signature
        let mut extended = query.clone();
        set(&mut extended, "expires", (chrono::Utc::now().timestamp() + 86_400).to_string());
        assert_denied(store.verify_presigned("GET", &key, &extended), "signature");
        // AND another store's key does not verify it
        let other_dir = tempfile::tempdir().unwrap();
        let other = EmbeddedBlobs::open(other_dir.path()).unwrap();
        assert_denied(other.verify_presigned("GET", &key, &query), "signature");
    }

    #[tokio::test]
    async fn a_presigned_put_carries_its_digest_and_type() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBlobs::open(dir.path()).unwrap();
        let digest = sha256(b"upload");
        let req = store.presign_put("uploads/u1", digest, "application/pdf", Duration::from_secs(60)).await.unwrap();
        let (key, query) = parse(&req.url);
        // WHEN the gateway verifies it
        let grant = store.verify_presigned("PUT", &key, &query).unwrap();
        // THEN the grant names the digest and media type the upload must have
        assert_eq!((grant.method.as_str(), grant.key.as_str()), ("PUT", "uploads/u1"));
        assert_eq!(grant.sha256, Some(digest));
        assert_eq!(grant.content_type.as_deref(), Some("application/pdf"));
        // AND swapping in another digest or type is refused
        let mut other_digest = query.clone();
        set(&mut other_digest, "sha256", sha256(b"something else").to_hex());
        assert_denied(store.verify_presigned("PUT", &key, &other_digest), "signature");
        let mut other_type = query.clone();
        set(&mut other_type, "content_type", "text/html".into());
        assert_denied(store.verify_presigned("PUT", &key, &other_type), "signature");
    }

    #[tokio::test]
    async fn an_expired_presigned_url_is_refused() {
        // GIVEN a URL valid for one second
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBlobs::open(dir.path()).unwrap();
        let req = store.presign_get("k", None, Duration::from_secs(1)).await.unwrap();
        let (key, query) = parse(&req.url);
        store.verify_presigned("GET", &key, &query).unwrap();
        // WHEN its second has passed
        tokio::time::sleep(Duration::from_millis(2100)).await;
        // THEN it is refused as expired
        assert_denied(store.verify_presigned("GET", &key, &query), "expired");
    }
}

// ---- Embedded only: storage. ----

#[tokio::test]
async fn embedded_versions_survive_a_reopen() {
    use kushim_adapters::blob::embedded::EmbeddedBlobs;
    let dir = tempfile::tempdir().unwrap();
    let version = {
        let store = EmbeddedBlobs::open(dir.path()).unwrap();
        let v = put(&store, "kept", b"v1").await;
        put(&store, "kept", b"v2").await;
        v
    };
    let store = EmbeddedBlobs::open(dir.path()).unwrap();
    assert_eq!(bytes_of(&store, "kept", Some(&version)).await, "v1");
    assert_eq!(bytes_of(&store, "kept", None).await, "v2");
}

#[tokio::test]
async fn embedded_unlocked_and_expired_versions_can_be_deleted() {
    use kushim_adapters::blob::embedded::EmbeddedBlobs;
    // (On S3 the evidence bucket's default retention locks every version, so this is embedded only.)
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedBlobs::open(dir.path()).unwrap();
    let free = put(&store, "doc", b"unlocked").await;
    let past = Retention { mode: LockMode::Compliance, until: Utc::now() - chrono::Duration::seconds(1) };
    let options = PutOptions { retention: Some(past), ..opts(b"lock over") };
    let over = store.put("doc", Bytes::from_static(b"lock over"), options).await.unwrap().version_id;
    store.delete("doc", Some(&free)).await.unwrap();
    store.delete("doc", Some(&over)).await.unwrap();
    assert_not_found(store.get("doc", Some(&free)).await);
    assert_not_found(store.get("doc", None).await);
    assert_not_found(store.delete("doc", Some(&free)).await);
}
