//! Sign-in throttling. Per account: after [`FREE_FAILURES`] failures in a row the account is
//! locked for 30 s, doubling with every further failure up to an hour; a success clears it. Per
//! source address: at most [`SOURCE_ATTEMPTS`] attempts in a five-minute window. Counters live in
//! the table (atomic adds), so every Lambda instance sees the same counts.

use kushim_adapters::keys;
use kushim_adapters::table::{Table, Update};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::IdentityError;

/// Failures allowed before the first lock.
pub const FREE_FAILURES: i64 = 5;
/// First lock length.
pub const BASE_LOCK_SECS: i64 = 30;
/// Longest lock.
pub const MAX_LOCK_SECS: i64 = 3600;
/// Attempts allowed from one source per window.
pub const SOURCE_ATTEMPTS: i64 = 50;
/// Source window length.
pub const SOURCE_WINDOW_SECS: i64 = 300;

fn account_key(email: &str) -> kushim_adapters::table::Key {
    keys::login_failures(&hex::encode(Sha256::digest(email.as_bytes())))
}

/// Refuses the attempt when the account or the source is locked; counts the source attempt.
pub async fn before_attempt(
    table: &dyn Table,
    email: &str,
    source: Option<&str>,
    now: i64,
) -> Result<(), IdentityError> {
    if let Some(item) = table.get(&account_key(email)).await? {
        let until = item.attrs.get("locked_until").and_then(Value::as_i64).unwrap_or(0);
        if until > now {
            return Err(IdentityError::Locked(u64::try_from(until - now).unwrap_or(1)));
        }
    }
    if let Some(source) = source {
        let start = now - now.rem_euclid(SOURCE_WINDOW_SECS);
        let mut update = Update::default().add("attempts", 1);
        update.expires_at = Some(start + 2 * SOURCE_WINDOW_SECS);
        let item = table.update(&keys::login_source(source, start), update, None).await?;
        if item.attrs.get("attempts").and_then(Value::as_i64).unwrap_or(0) > SOURCE_ATTEMPTS {
            return Err(IdentityError::Locked(u64::try_from(start + SOURCE_WINDOW_SECS - now).unwrap_or(1)));
        }
    }
    Ok(())
}

/// Records a failure; returns the lock length it caused (0 while failures are still free).
pub async fn failed(table: &dyn Table, email: &str, now: i64) -> Result<i64, IdentityError> {
    let mut update = Update::default().add("failures", 1);
    update.expires_at = Some(now + 24 * 3600);
    let item = table.update(&account_key(email), update, None).await?;
    let failures = item.attrs.get("failures").and_then(Value::as_i64).unwrap_or(1);
    if failures < FREE_FAILURES {
        return Ok(0);
    }
    let exponent = u32::try_from((failures - FREE_FAILURES).min(16)).unwrap_or(16);
    let lock = (BASE_LOCK_SECS << exponent).min(MAX_LOCK_SECS);
    table.update(&account_key(email), Update::default().set("locked_until", now + lock), None).await?;
    tracing::warn!(failures, lock_secs = lock, "account locked after repeated sign-in failures");
    Ok(lock)
}

/// Clears the account's failures after a success.
pub async fn succeeded(table: &dyn Table, email: &str) -> Result<(), IdentityError> {
    table.delete(&account_key(email), None).await?;
    Ok(())
}
