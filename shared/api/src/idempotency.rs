//! `Idempotency-Key` for POSTs that create something. The first request with a key runs and its
//! response is stored for 24 hours; the same key with the same body replays that response; the
//! same key with another body is refused (422); a key whose first request is still running gets a
//! 409 asking to retry. Keys are scoped to the caller (or, on public routes, to the body), so one
//! client can never read another's stored response.
//!
//! Stored responses are encrypted (AES-256-GCM) under a key derived from the `Idempotency-Key`
//! itself, which is stored only as a digest. Responses that carry a one-time secret (a new API
//! key, fresh tokens) can therefore be replayed to the client that holds the key, while the table
//! alone never yields the secret: at rest it is as unreadable as a hash.

use std::future::Future;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use chrono::Utc;
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Table, Update};
use lambda_http::Body;
use lambda_http::http::{HeaderValue, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ApiError, Ctx, Response, body};

/// How long a completed request's response is kept.
pub const RETENTION_SECS: i64 = 24 * 3600;
/// How long a started request holds its key before another attempt may take over.
pub const IN_PROGRESS_SECS: i64 = 60;

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn cipher(idempotency_key: &str, request_hash: &str) -> Aes256Gcm {
    let key = Sha256::new()
        .chain_update(b"kushim-idempotency-v1\0")
        .chain_update(idempotency_key.as_bytes())
        .chain_update([0])
        .chain_update(request_hash.as_bytes())
        .finalize();
    Aes256Gcm::new(&key)
}

fn seal(cipher: &Aes256Gcm, body: &str) -> Option<String> {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(&nonce, body.as_bytes()).ok()?);
    Some(hex::encode(out))
}

fn unseal(cipher: &Aes256Gcm, sealed: &str) -> Option<String> {
    let bytes = hex::decode(sealed).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ct) = bytes.split_at(12);
    String::from_utf8(cipher.decrypt(Nonce::from_slice(nonce), ct).ok()?).ok()
}

fn stored_response(item: &Item, cipher: &Aes256Gcm) -> Option<Response> {
    let status = item.attrs.get("status").and_then(Value::as_u64)?;
    let body = match item.attrs.get("body").and_then(Value::as_str) {
        Some(sealed) => unseal(cipher, sealed)?,
        None => String::new(),
    };
    let mut resp = Response::new(if body.is_empty() { Body::Empty } else { Body::Text(body) });
    *resp.status_mut() = StatusCode::from_u16(u16::try_from(status).ok()?).ok()?;
    if let Some(ct) = item.attrs.get("content_type").and_then(Value::as_str).and_then(|c| HeaderValue::from_str(c).ok())
    {
        resp.headers_mut().insert("content-type", ct);
    }
    if let Some(loc) = item.attrs.get("location").and_then(Value::as_str).and_then(|c| HeaderValue::from_str(c).ok()) {
        resp.headers_mut().insert("location", loc);
    }
    resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    Some(resp)
}

/// Runs `run` at most once per idempotency key (when the request carries one).
pub async fn once<F, Fut>(table: &dyn Table, ctx: &Ctx<'_>, run: F) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    let Some(key) = ctx.header("idempotency-key").map(str::to_owned) else { return run().await };
    if !valid_key(&key) {
        return Err(ApiError::Validation("Idempotency-Key must be 1-255 visible ASCII characters".into()));
    }
    let route = format!("{} {}", ctx.req.method(), ctx.req.uri().path());
    // Salted with the key itself: bodies can hold passwords, and the key (stored only as a digest)
    // keeps this digest from being a fast offline guessing target.
    let request_hash = digest(&[key.as_bytes(), route.as_bytes(), body::bytes(ctx.req)]);
    let (partition, scope) = match &ctx.principal {
        Some(p) => (keys::tenant_pk(&p.tenant_id), p.id.clone()),
        // Public routes: the stored response is only reachable with the same key and body.
        None => ("PUBLIC".to_owned(), format!("anon-{}", &request_hash[..16])),
    };
    let record_key = keys::idempotency(&partition, &scope, &digest(&[key.as_bytes()]));
    let now = Utc::now().timestamp();
    let claim = Item::new(record_key.clone())
        .with("request_hash", request_hash.clone())
        .with("state", "in_progress")
        .expiring_at(now + IN_PROGRESS_SECS);
    match table.put(claim, Some(Condition::NotExists)).await {
        Ok(()) => {}
        Err(AdapterError::ConditionFailed) => {
            let existing = table.get(&record_key).await?.ok_or(ApiError::IdempotencyInProgress)?;
            if existing.attrs.get("request_hash").and_then(Value::as_str) != Some(request_hash.as_str()) {
                return Err(ApiError::IdempotencyMismatch);
            }
            return match existing.attrs.get("state").and_then(Value::as_str) {
                Some("done") => stored_response(&existing, &cipher(&key, &request_hash)).ok_or(ApiError::Internal),
                _ => Err(ApiError::IdempotencyInProgress),
            };
        }
        Err(e) => return Err(e.into()),
    }
    let outcome = run().await;
    let keep = matches!(&outcome, Ok(r) if !r.status().is_server_error());
    if !keep {
        // Let the client retry a failed attempt with the same key.
        let _ = table.delete(&record_key, None).await;
        return outcome;
    }
    let resp = outcome?;
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let mut update = Update::default().set("status", resp.status().as_u16()).set("state", "done");
    update.expires_at = Some(now + RETENTION_SECS);
    if !body.is_empty() {
        let Some(sealed) = seal(&cipher(&key, &request_hash), &body) else {
            let _ = table.delete(&record_key, None).await;
            return Ok(resp);
        };
        update = update.set("body", sealed);
    }
    if let Some(ct) = resp.headers().get("content-type").and_then(|v| v.to_str().ok()) {
        update = update.set("content_type", ct);
    }
    if let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) {
        update = update.set("location", loc);
    }
    if let Err(e) = table.update(&record_key, update, None).await {
        tracing::warn!(code = e.code(), "could not store an idempotent response; a replay will run again");
    }
    Ok(resp)
}
