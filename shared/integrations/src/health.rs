//! Integration health and the per-integration circuit breaker. Both live in one table item per
//! integration, shared by every concurrent connector instance and changed only with conditional
//! writes (optimistic versioning), so instances never overwrite each other's view:
//!
//! - **closed**: jobs run. Each failure adds to `consecutive_failures` (health `degraded`); after
//!   [`BreakerConfig::failure_threshold`] in a row it **opens** (health `failing`).
//! - **open**: jobs are deferred until the cool-down ends (15 minutes at first, doubling on every
//!   failed probe, at most 6 hours).
//! - **half-open**: after the cool-down exactly one instance wins a conditional claim and runs a
//!   probe; a success closes the breaker (health `healthy`), a failure re-opens it with a longer
//!   cool-down. A probe whose instance died is re-admitted once its lease expires.
//!
//! Every change that moves the health state is returned as a [`HealthTransition`] so the caller
//! can publish `integration.health_changed`. Errors are stored only after [`sanitize_error`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kushim_adapters::AdapterError;
use kushim_adapters::keys;
use kushim_adapters::table::{Condition, Item, Table, Update};
use kushim_domain::{IntegrationId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// Longest stored error message (characters).
pub const MAX_ERROR_CHARS: usize = 300;

/// How the breaker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (default 5).
    pub failure_threshold: u32,
    /// First cool-down (default 15 minutes).
    pub base_cooldown: Duration,
    /// Longest cool-down (default 6 hours).
    pub max_cooldown: Duration,
    /// How long a half-open probe may take before another instance may probe (default 10 minutes).
    pub probe_lease: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            base_cooldown: Duration::from_secs(15 * 60),
            max_cooldown: Duration::from_secs(6 * 3600),
            probe_lease: Duration::from_secs(10 * 60),
        }
    }
}

/// The breaker's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Jobs run.
    #[default]
    Closed,
    /// Jobs are deferred until the cool-down ends.
    Open,
    /// One probe is running (or may run).
    HalfOpen,
}

/// An integration's health as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// The last collection succeeded (or none has run yet).
    #[default]
    Healthy,
    /// Recent collections failed, fewer than the breaker's threshold in a row.
    Degraded,
    /// The breaker is open or probing: collection is failing.
    Failing,
    /// The integration is paused (derived from its status, never stored).
    Paused,
}

/// What `admit` decided for one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Run it.
    Allowed,
    /// Run it as the half-open probe; report its outcome with `on_success` / `on_failure`.
    Probe,
    /// Do not run it before `until` (return the message to the queue with a delay).
    Deferred {
        /// When to try again.
        until: DateTime<Utc>,
    },
}

/// The stored health and breaker of one integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Health {
    /// Stored health (`healthy`, `degraded` or `failing`).
    pub state: HealthState,
    /// Breaker position.
    pub breaker: BreakerState,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Last successful collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<DateTime<Utc>>,
    /// Last failed collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_at: Option<DateTime<Utc>>,
    /// The last error, sanitized (see [`sanitize_error`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// While open: when the cool-down ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_until: Option<DateTime<Utc>>,
    /// While half-open: when the running probe's lease ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_until: Option<DateTime<Utc>>,
    /// The current cool-down in seconds (doubles on each failed probe).
    #[serde(default)]
    pub cooldown_secs: u64,
    /// Optimistic-locking version (0 = never written).
    #[serde(default)]
    pub version: u64,
}

impl Health {
    /// The health to show, given whether the integration is paused.
    pub fn effective(&self, paused: bool) -> HealthState {
        if paused { HealthState::Paused } else { self.state }
    }
}

/// A change of an integration's health, to publish as `integration.health_changed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthTransition {
    /// Tenant.
    pub tenant_id: TenantId,
    /// Integration.
    pub integration_id: IntegrationId,
    /// Before.
    pub from: HealthState,
    /// After.
    pub to: HealthState,
    /// Breaker after the change.
    pub breaker: BreakerState,
    /// The sanitized error that caused it, if any.
    pub last_error: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

const SENSITIVE_KEYS: [&str; 10] = [
    "secret",
    "token",
    "password",
    "passwd",
    "signature",
    "credential",
    "authorization",
    "apikey",
    "api_key",
    "sessionkey",
];

const SECRET_PREFIXES: [&str; 11] =
    ["AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "eyJ", "SSWS"];

fn looks_like_uuid(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && t.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn looks_secret(t: &str) -> bool {
    if SECRET_PREFIXES.iter().any(|p| t.starts_with(p)) && t.len() >= 12 {
        return true;
    }
    if t.len() < 24 || looks_like_uuid(t) {
        return false;
    }
    let charset = t.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=_-".contains(&b));
    let digits = t.bytes().any(|b| b.is_ascii_digit());
    let letters = t.bytes().any(|b| b.is_ascii_alphabetic());
    charset && digits && letters
}

/// Makes an error message safe to store and show: control characters become spaces, anything
/// that looks like a key, token, password or signature is replaced by `[redacted]` (known
/// prefixes such as `AKIA`, `ghp_`, `eyJ`, `Bearer <x>`, `key=value` pairs with a sensitive key,
/// and long high-entropy words), and the result is cut to [`MAX_ERROR_CHARS`] characters.
pub fn sanitize_error(raw: &str) -> String {
    let cleaned: String = raw.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let mut out: Vec<String> = Vec::new();
    let mut redact_next = false;
    for word in cleaned.split_whitespace() {
        if redact_next {
            out.push("[redacted]".into());
            redact_next = false;
            continue;
        }
        let trimmed = word.trim_matches(|c: char| "\"'`,;()[]{}<>".contains(c));
        let lower = trimmed.to_ascii_lowercase();
        if lower == "bearer" || lower == "basic" || lower == "ssws" {
            out.push(word.to_owned());
            redact_next = true;
            continue;
        }
        if let Some(pos) = trimmed.find(['=', ':']) {
            let (key, value) = trimmed.split_at(pos);
            let key_l = key.to_ascii_lowercase().replace('-', "_");
            if SENSITIVE_KEYS.iter().any(|k| key_l.contains(k)) {
                if value.len() > 1 {
                    out.push(format!("{key}{}[redacted]", &value[..1]));
                } else {
                    // `password: hunter2` — the value is the next word.
                    out.push(word.to_owned());
                    redact_next = true;
                }
                continue;
            }
        }
        if looks_secret(trimmed) || trimmed.split(['=', ':', '/']).any(looks_secret) {
            out.push("[redacted]".into());
        } else {
            out.push(word.to_owned());
        }
    }
    let joined = out.join(" ");
    if joined.chars().count() <= MAX_ERROR_CHARS {
        joined
    } else {
        let mut cut: String = joined.chars().take(MAX_ERROR_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The breaker and health store.
#[derive(Clone)]
pub struct Breaker {
    table: Arc<dyn Table>,
    config: BreakerConfig,
}

fn secs(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

const ATTEMPTS: u32 = 40;

async fn backoff(attempt: u32) {
    let jitter: u64 = rand::random::<u64>() % 5;
    tokio::time::sleep(Duration::from_millis(2 + u64::from(attempt.min(6)) * 3 + jitter)).await;
}

impl Breaker {
    /// A breaker store with the default configuration.
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self::with_config(table, BreakerConfig::default())
    }

    /// A breaker store with an explicit configuration.
    pub fn with_config(table: Arc<dyn Table>, config: BreakerConfig) -> Self {
        Self { table, config }
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The stored health (defaults when nothing was recorded yet).
    pub async fn health(&self, tenant: &TenantId, integration: &IntegrationId) -> Result<Health> {
        let item = self.table.get(&keys::integration_breaker(tenant, integration)).await?;
        Ok(match item {
            Some(i) => i.parse()?,
            None => Health::default(),
        })
    }

    /// Writes `next` if the stored version is still `prev.version`; `false` when another writer won.
    async fn write(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        prev: &Health,
        mut next: Health,
    ) -> Result<bool> {
        next.version = prev.version + 1;
        let attrs = match serde_json::to_value(&next) {
            Ok(Value::Object(m)) => m,
            _ => return Err(Error::Invalid("health does not serialise".into())),
        };
        let item = Item { attrs, ..Item::new(keys::integration_breaker(tenant, integration)) };
        let condition = if prev.version == 0 { Condition::NotExists } else { Condition::VersionEquals(prev.version) };
        match self.table.put(item, Some(condition)).await {
            Ok(()) => Ok(true),
            Err(AdapterError::ConditionFailed) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Decides whether a job of the integration may run now. Only one concurrent caller gets
    /// [`Admission::Probe`] once a cool-down has ended.
    pub async fn admit(&self, tenant: &TenantId, integration: &IntegrationId, now: DateTime<Utc>) -> Result<Admission> {
        for attempt in 0..ATTEMPTS {
            let h = self.health(tenant, integration).await?;
            let claimable = match h.breaker {
                BreakerState::Closed => return Ok(Admission::Allowed),
                BreakerState::Open => match h.open_until {
                    Some(until) if now < until => return Ok(Admission::Deferred { until }),
                    _ => true,
                },
                BreakerState::HalfOpen => match h.probe_until {
                    Some(until) if now < until => return Ok(Admission::Deferred { until }),
                    _ => true,
                },
            };
            if claimable {
                let next = Health {
                    breaker: BreakerState::HalfOpen,
                    probe_until: Some(now + secs(self.config.probe_lease)),
                    open_until: None,
                    ..h.clone()
                };
                if self.write(tenant, integration, &h, next).await? {
                    return Ok(Admission::Probe);
                }
            }
            backoff(attempt).await;
        }
        Err(Error::Contention("integration breaker"))
    }

    /// Records a successful collection: closes the breaker, clears the failure count and the
    /// cool-down. Returns the health transition, if the health state changed.
    pub async fn on_success(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        now: DateTime<Utc>,
    ) -> Result<Option<HealthTransition>> {
        // Fast path: already healthy and closed; only the time of the last success moves, and the
        // condition keeps it from racing a failure that just arrived.
        let fast = self
            .table
            .update(
                &keys::integration_breaker(tenant, integration),
                Update::default().set("last_success_at", serde_json::to_value(now).unwrap_or_default()),
                Some(Condition::AttributeEquals("consecutive_failures".into(), Value::from(0))),
            )
            .await;
        match fast {
            Ok(_) => return Ok(None),
            Err(AdapterError::ConditionFailed) => {}
            Err(e) => return Err(e.into()),
        }
        for attempt in 0..ATTEMPTS {
            let h = self.health(tenant, integration).await?;
            let next = Health {
                state: HealthState::Healthy,
                breaker: BreakerState::Closed,
                consecutive_failures: 0,
                last_success_at: Some(now),
                open_until: None,
                probe_until: None,
                cooldown_secs: 0,
                ..h.clone()
            };
            if self.write(tenant, integration, &h, next).await? {
                return Ok(self.transition(
                    tenant,
                    integration,
                    &h,
                    HealthState::Healthy,
                    BreakerState::Closed,
                    None,
                    now,
                ));
            }
            backoff(attempt).await;
        }
        Err(Error::Contention("integration breaker"))
    }

    /// Records a failed collection with its error (sanitized before it is stored). Opens the
    /// breaker after the threshold, re-opens it with a doubled cool-down after a failed probe.
    pub async fn on_failure(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        now: DateTime<Utc>,
        error: &str,
    ) -> Result<Option<HealthTransition>> {
        let error = sanitize_error(error);
        let base = self.config.base_cooldown.as_secs().max(1);
        let max = self.config.max_cooldown.as_secs().max(base);
        for attempt in 0..ATTEMPTS {
            let h = self.health(tenant, integration).await?;
            let failures = h.consecutive_failures.saturating_add(1);
            let mut next = Health {
                consecutive_failures: failures,
                last_failure_at: Some(now),
                last_error: Some(error.clone()),
                ..h.clone()
            };
            match h.breaker {
                BreakerState::Closed if failures >= self.config.failure_threshold => {
                    next.breaker = BreakerState::Open;
                    next.cooldown_secs = base;
                    next.open_until = Some(now + chrono::Duration::seconds(base as i64));
                    next.state = HealthState::Failing;
                }
                BreakerState::Closed => next.state = HealthState::Degraded,
                BreakerState::HalfOpen => {
                    let cooldown = if h.cooldown_secs == 0 { base } else { (h.cooldown_secs * 2).min(max) };
                    next.breaker = BreakerState::Open;
                    next.cooldown_secs = cooldown;
                    next.open_until = Some(now + chrono::Duration::seconds(cooldown as i64));
                    next.probe_until = None;
                    next.state = HealthState::Failing;
                }
                // A job admitted before the breaker opened failed too: the cool-down stands.
                BreakerState::Open => next.state = HealthState::Failing,
            }
            let (to, breaker) = (next.state, next.breaker);
            if self.write(tenant, integration, &h, next).await? {
                return Ok(self.transition(tenant, integration, &h, to, breaker, Some(error), now));
            }
            backoff(attempt).await;
        }
        Err(Error::Contention("integration breaker"))
    }

    #[allow(clippy::too_many_arguments)]
    fn transition(
        &self,
        tenant: &TenantId,
        integration: &IntegrationId,
        before: &Health,
        to: HealthState,
        breaker: BreakerState,
        last_error: Option<String>,
        at: DateTime<Utc>,
    ) -> Option<HealthTransition> {
        (before.state != to).then(|| HealthTransition {
            tenant_id: tenant.clone(),
            integration_id: integration.clone(),
            from: before.state,
            to,
            breaker,
            last_error,
            at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_redacts_keys_tokens_and_truncates() {
        let raw = "AccessDenied: AKIAIOSFODNN7EXAMPLE is not authorized; header Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc \
                   token=ghp_abcdefghijklmnop1234 password: hunter2 sig wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let s = sanitize_error(raw);
        for secret in ["AKIAIOSFODNN7EXAMPLE", "eyJhbGci", "ghp_abcdef", "hunter2", "wJalrXUtnFEMI"] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert!(s.starts_with("AccessDenied:"), "{s}");
        assert!(s.contains("token=[redacted]"), "{s}");
        let kept = "User arn:aws:iam::123456789012:role/KushimReadOnly request c0ffee00-1234-4bcd-9f00-000000000000";
        assert_eq!(sanitize_error(kept), kept, "ARNs, account ids and request ids are not secrets");
        let long = sanitize_error(&"word ".repeat(200));
        assert_eq!(long.chars().count(), MAX_ERROR_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(sanitize_error("line1\nline2\u{0}"), "line1 line2");
    }
}
