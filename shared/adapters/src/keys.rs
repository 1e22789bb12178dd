//! Every DynamoDB key Kushim writes is built here and nowhere else, so the single-table layout is
//! visible in one place. `docs/access-patterns.md` lists the access patterns these keys serve;
//! change both together.
//!
//! Layout conventions:
//! - partition keys start with an entity prefix and a `#`: `TENANT#<tenant>`, `SYSTEM`;
//! - sort keys name the item kind, then its id, so one partition query with `begins_with` lists a
//!   kind;
//! - ids are validated newtypes from `kushim-domain`, which cannot contain `#`.

use kushim_domain::{IntegrationId, JobId, RunId, TenantId};

use crate::table::Key;

/// Partition of platform-wide items that belong to no tenant.
pub const SYSTEM_PK: &str = "SYSTEM";

/// Partition holding everything of one tenant.
pub fn tenant_pk(tenant: &TenantId) -> String {
    format!("TENANT#{tenant}")
}

/// The tenant's own record.
pub fn tenant(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "TENANT")
}

/// The row the health check reads (it need not exist; reading it proves the table answers).
pub fn health_probe() -> Key {
    Key::new(SYSTEM_PK, "HEALTH")
}

/// The last firing of a named schedule (written by the planner).
pub fn schedule_tick(schedule: &str) -> Key {
    Key::new(SYSTEM_PK, format!("SCHEDULE#{schedule}"))
}

/// A run of one tenant; runs sort by id, and ids are time-ordered.
pub fn run(tenant: &TenantId, run: &RunId) -> Key {
    Key::new(tenant_pk(tenant), format!("RUN#{run}"))
}

/// Prefix listing a tenant's runs.
pub const RUN_PREFIX: &str = "RUN#";

/// The record that a job (identified by its idempotency key) was processed.
pub fn job_done(tenant: &TenantId, idempotency_key: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{JOB_DONE_PREFIX}{idempotency_key}"))
}

/// Prefix of finished-job records; `JOB#<run>/` lists one run's (idempotency keys start with the run).
pub const JOB_DONE_PREFIX: &str = "JOB#";

/// The lock a connector holds on a job while working on it (expires with its lease).
pub fn job_lock(tenant: &TenantId, idempotency_key: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("JOBLOCK#{idempotency_key}"))
}

/// The last failure of a job (by idempotency key): what the DLQ listing shows beside a dead job.
pub fn job_failure(tenant: &TenantId, idempotency_key: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{JOB_FAILURE_PREFIX}{idempotency_key}"))
}

/// Prefix of job failure records; `JOBFAIL#<run>/` lists one run's.
pub const JOB_FAILURE_PREFIX: &str = "JOBFAIL#";

/// A job that a worker refused as permanently invalid, for operators to inspect.
pub fn job_rejected(tenant: &TenantId, job: &JobId) -> Key {
    Key::new(tenant_pk(tenant), format!("JOBREJECT#{job}"))
}

/// One audit event; sequence numbers are zero-padded so they sort numerically.
pub fn audit_event(tenant: &TenantId, seq: u64) -> Key {
    Key::new(tenant_pk(tenant), format!("{AUDIT_PREFIX}{seq:020}"))
}

/// Prefix listing a tenant's audit events.
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// The head of a tenant's audit chain (last sequence number and hash).
pub fn audit_head(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "AUDITHEAD")
}

/// The stored outcome of a request made with an `Idempotency-Key`, scoped to the caller
/// (`scope` is the principal id, or `anon` plus a digest for public routes).
pub fn idempotency(partition: &str, scope: &str, key_digest: &str) -> Key {
    Key::new(partition.to_owned(), format!("IDEM#{scope}#{key_digest}"))
}

/// A tenant's request counter for one rate-limit window (epoch seconds of its start).
pub fn rate_window(tenant: &TenantId, window_start: i64) -> Key {
    Key::new(tenant_pk(tenant), format!("RATE#{window_start}"))
}

/// A user of a tenant.
pub fn user(tenant: &TenantId, user_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{USER_PREFIX}{user_id}"))
}

/// Prefix listing a tenant's users.
pub const USER_PREFIX: &str = "USER#";

/// A user's password hash, kept apart from the user record so no listing ever carries it.
pub fn credential(tenant: &TenantId, user_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("CRED#{user_id}"))
}

/// The global claim on an email address (one account per address), pointing at its user.
pub fn email(normalized_email: &str) -> Key {
    Key::new(format!("EMAIL#{normalized_email}"), "EMAIL")
}

/// A sign-in session (a refresh-token family) of a user.
pub fn session(tenant: &TenantId, user_id: &str, family: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{}{family}", session_prefix(user_id)))
}

/// Prefix listing one user's sessions.
pub fn session_prefix(user_id: &str) -> String {
    format!("SESSION#{user_id}#")
}

/// A refresh token, by the SHA-256 of its value.
pub fn refresh_token(token_hash: &str) -> Key {
    Key::new(format!("REFRESH#{token_hash}"), "REFRESH")
}

/// An invitation, by the SHA-256 of its token.
pub fn invitation(token_hash: &str) -> Key {
    Key::new(format!("INVITE#{token_hash}"), "INVITE")
}

/// An API key, by its public id (the part after `kus_`).
pub fn api_key(key_id: &str) -> Key {
    Key::new(format!("APIKEY#{key_id}"), "APIKEY")
}

/// The GSI1 partition listing a tenant's API keys.
pub fn api_keys_index(tenant: &TenantId) -> String {
    format!("{}#APIKEYS", tenant_pk(tenant))
}

/// Failed sign-in attempts of one account, by the SHA-256 of its email address.
pub fn login_failures(email_digest: &str) -> Key {
    Key::new(format!("LOGINFAIL#{email_digest}"), "FAILURES")
}

/// Sign-in attempts from one source address in one window.
pub fn login_source(source: &str, window_start: i64) -> Key {
    Key::new(format!("LOGINSRC#{source}"), format!("W#{window_start}"))
}

/// The latest result of one check on one resource; the resource id is encoded by
/// [`resource_key`] (the item keeps the original).
pub fn check_result(tenant: &TenantId, check_id: &str, resource_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{}{}", check_results_prefix(check_id), resource_key(resource_id)))
}

/// Prefix listing the latest results of every check.
pub const CHECK_RESULTS_PREFIX: &str = "RESULT#";

/// Prefix listing the latest results of one check, every resource.
pub fn check_results_prefix(check_id: &str) -> String {
    format!("{CHECK_RESULTS_PREFIX}{check_id}#")
}

/// A resource id as a sort-key segment free of `#`: base64url without padding, or, past 600
/// characters, `h.` and the hex SHA-256 of the id (so sort keys stay well under 1 KiB).
pub fn resource_key(resource_id: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(resource_id.as_bytes());
    if encoded.len() <= 600 { encoded } else { format!("h.{}", hex::encode(sha2::Sha256::digest(resource_id))) }
}

/// The current evaluation of one control for a tenant.
pub fn control_status(tenant: &TenantId, control_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{CONTROL_STATUS_PREFIX}{control_id}"))
}

/// Prefix listing a tenant's control evaluations.
pub const CONTROL_STATUS_PREFIX: &str = "CONTROL#";

/// A control's status on one day (`date` is `YYYY-MM-DD`, so days sort in order).
pub fn control_snapshot(tenant: &TenantId, control_id: &str, date: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{}{date}", control_snapshots_prefix(control_id)))
}

/// Prefix listing one control's daily snapshots (query a range of days with `between`).
pub fn control_snapshots_prefix(control_id: &str) -> String {
    format!("SNAP#{control_id}#")
}

/// A risk-acceptance exception of a tenant.
pub fn exception(tenant: &TenantId, exception_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{EXCEPTION_PREFIX}{exception_id}"))
}

/// Prefix listing a tenant's exceptions.
pub const EXCEPTION_PREFIX: &str = "EXCEPTION#";

/// A tenant's custom check (a CEL rule); its id is `custom.<slug>` and never contains `#`.
pub fn custom_check(tenant: &TenantId, check_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{CUSTOM_CHECK_PREFIX}{check_id}"))
}

/// Prefix listing a tenant's custom checks.
pub const CUSTOM_CHECK_PREFIX: &str = "CUSTOMCHECK#";

/// An evidence record of a tenant, by the hex SHA-256 of its canonical bytes (content-addressed).
pub fn evidence(tenant: &TenantId, digest_hex: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{EVIDENCE_PREFIX}{digest_hex}"))
}

/// Prefix listing a tenant's evidence records.
pub const EVIDENCE_PREFIX: &str = "EVIDENCE#";

/// One entry of a tenant's evidence ledger; sequence numbers are zero-padded so they sort numerically.
pub fn ledger_entry(tenant: &TenantId, seq: u64) -> Key {
    Key::new(tenant_pk(tenant), format!("{LEDGER_PREFIX}{seq:020}"))
}

/// Prefix listing a tenant's ledger entries in order.
pub const LEDGER_PREFIX: &str = "LEDGER#";

/// The head of a tenant's evidence ledger (last sequence number and hash).
pub fn ledger_head(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "LEDGERHEAD")
}

/// A signed checkpoint of a tenant's ledger head at one sequence number (zero-padded).
pub fn ledger_checkpoint(tenant: &TenantId, seq: u64) -> Key {
    Key::new(tenant_pk(tenant), format!("{CHECKPOINT_PREFIX}{seq:020}"))
}

/// Prefix listing a tenant's ledger checkpoints in order.
pub const CHECKPOINT_PREFIX: &str = "CHECKPOINT#";

/// One auditor export of a tenant (ids are UUID v7, so the prefix lists them oldest first).
pub fn export(tenant: &TenantId, export_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{EXPORT_PREFIX}{export_id}"))
}

/// Prefix listing a tenant's auditor exports.
pub const EXPORT_PREFIX: &str = "EXPORT#";

/// A tenant's evidence retention policy (days of COMPLIANCE lock on new evidence).
pub fn evidence_retention(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "EVIDENCERETENTION")
}

/// A pending manual evidence upload (declared digest, size and media type; expires after an hour).
pub fn evidence_upload(tenant: &TenantId, upload_id: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("UPLOAD#{upload_id}"))
}

/// The link of one evidence record to one control it supports (collection time, freshness and
/// connector copied from the record), written with the record; the compliance state reads a
/// tenant's links to judge manual evidence freshness per control.
pub fn evidence_control(tenant: &TenantId, control_id: &str, digest_hex: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("{}{digest_hex}", evidence_control_prefix(control_id)))
}

/// Prefix listing every evidence-to-control link of a tenant.
pub const EVIDENCE_CONTROL_PREFIX: &str = "EVCONTROL#";

/// Prefix listing the evidence linked to one control.
pub fn evidence_control_prefix(control_id: &str) -> String {
    format!("{EVIDENCE_CONTROL_PREFIX}{control_id}#")
}

/// One evidence record in the day partition of its `valid_until` (`date` is `yyyy-mm-dd`, UTC),
/// across tenants, so expiry reminders read one partition per day instead of scanning.
pub fn evidence_expiry(date: &str, tenant: &TenantId, digest_hex: &str) -> Key {
    Key::new(evidence_expiry_partition(date), format!("{}{digest_hex}", evidence_expiry_tenant_prefix(tenant)))
}

/// The day partition of evidence expiring on `date` (`yyyy-mm-dd`).
pub fn evidence_expiry_partition(date: &str) -> String {
    format!("EXPIRY#{date}")
}

/// Prefix of one tenant's rows in an expiry day partition.
pub fn evidence_expiry_tenant_prefix(tenant: &TenantId) -> String {
    format!("{tenant}#")
}

/// The marker that the reminder `days_left` days before `valid_until` (`date`, `yyyy-mm-dd`) was
/// sent for one evidence record; written with `attribute_not_exists` so a rerun does not resend.
pub fn evidence_expiry_reminder(tenant: &TenantId, digest_hex: &str, date: &str, days_left: u32) -> Key {
    Key::new(tenant_pk(tenant), format!("EXPIRYSENT#{digest_hex}#{date}#{days_left}"))
}

/// An integration (a connected AWS account set, GitHub org, …) of a tenant.
pub fn integration(tenant: &TenantId, integration: &IntegrationId) -> Key {
    Key::new(tenant_pk(tenant), format!("{INTEGRATION_PREFIX}{integration}"))
}

/// Prefix listing a tenant's integrations.
pub const INTEGRATION_PREFIX: &str = "INTEGRATION#";

/// An integration's health and circuit breaker (shared by every connector instance).
pub fn integration_breaker(tenant: &TenantId, integration: &IntegrationId) -> Key {
    Key::new(tenant_pk(tenant), format!("BREAKER#{integration}"))
}

/// An integration's collection schedule; indexed in GSI1 under [`due_index_pk`] while it is on.
pub fn integration_schedule(tenant: &TenantId, integration: &IntegrationId) -> Key {
    Key::new(tenant_pk(tenant), format!("INTEGSCHEDULE#{integration}"))
}

/// How many GSI1 partitions each planner index (due schedules, running runs) is spread over, so
/// neither is one hot partition key however many tenants there are. A tenant always lands in the
/// same shard ([`index_shard`]).
pub const INDEX_SHARDS: u32 = 8;

/// A tenant's shard of the planner indexes: FNV-1a of its id, modulo [`INDEX_SHARDS`] (stable
/// across processes and releases, unlike the standard library's hasher).
pub fn index_shard(tenant: &TenantId) -> u32 {
    let hash = tenant.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % INDEX_SHARDS
}

/// The GSI1 partition of schedules that are on, sorted by when they are next due, before the
/// index was sharded; still read so a schedule written then fires (and moves to its shard).
pub const DUE_INDEX: &str = "DUE";

/// Every GSI1 partition of the due-index: the shards `DUE#0`..`DUE#7`, then the unsharded one.
pub fn due_index_partitions() -> Vec<String> {
    (0..INDEX_SHARDS).map(|n| format!("{DUE_INDEX}#{n}")).chain([DUE_INDEX.to_owned()]).collect()
}

/// The GSI1 partition of a tenant's schedules: `DUE#<shard>`.
pub fn due_index_pk(tenant: &TenantId) -> String {
    format!("{DUE_INDEX}#{}", index_shard(tenant))
}

/// A schedule's GSI1 sort key: the next due time (RFC 3339, UTC, whole seconds, so it sorts in
/// time order), then the tenant and the integration.
pub fn due_index_sk(next_due_rfc3339: &str, tenant: &TenantId, integration: &IntegrationId) -> String {
    format!("{next_due_rfc3339}#{tenant}#{integration}")
}

/// The tenant's AWS ExternalId (generated once; customers put it in their role's trust policy).
pub fn aws_external_id(tenant: &TenantId) -> Key {
    Key::new(tenant_pk(tenant), "AWSEXTERNALID")
}

/// The per-integration run lock: at most one running run per integration (TTL = run deadline).
pub fn run_lock(tenant: &TenantId, integration: &IntegrationId) -> Key {
    Key::new(tenant_pk(tenant), format!("RUNLOCK#{integration}"))
}

/// Marks a run as running; indexed in GSI1 under [`active_runs_pk`] by deadline.
pub fn run_active(tenant: &TenantId, run: &RunId) -> Key {
    Key::new(tenant_pk(tenant), format!("RUNACTIVE#{run}"))
}

/// The GSI1 partition of running runs, sorted by deadline (the planner times out stale ones),
/// before the index was sharded; still read so a run started then times out.
pub const ACTIVE_RUNS_INDEX: &str = "RUNS#ACTIVE";

/// Every GSI1 partition of the running-runs index: `RUNS#ACTIVE#0`..`#7`, then the unsharded one.
pub fn active_runs_partitions() -> Vec<String> {
    (0..INDEX_SHARDS).map(|n| format!("{ACTIVE_RUNS_INDEX}#{n}")).chain([ACTIVE_RUNS_INDEX.to_owned()]).collect()
}

/// The GSI1 partition of a tenant's running runs: `RUNS#ACTIVE#<shard>`.
pub fn active_runs_pk(tenant: &TenantId) -> String {
    format!("{ACTIVE_RUNS_INDEX}#{}", index_shard(tenant))
}

/// A running run's GSI1 sort key: its deadline (RFC 3339, UTC), then the tenant and the run.
pub fn active_run_sk(deadline_rfc3339: &str, tenant: &TenantId, run: &RunId) -> String {
    format!("{deadline_rfc3339}#{tenant}#{run}")
}

/// The marker that one job of a run (by its idempotency key) was counted in the run's totals.
pub fn run_job(tenant: &TenantId, idempotency_key: &str) -> Key {
    Key::new(tenant_pk(tenant), format!("RUNJOB#{idempotency_key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_and_distinct() {
        let t = TenantId::new("acme").unwrap();
        assert_eq!(tenant(&t), Key::new("TENANT#acme", "TENANT"));
        assert_eq!(run(&t, &RunId::new("r1").unwrap()).sk, "RUN#r1");
        assert!(run(&t, &RunId::new("r1").unwrap()).sk.starts_with(RUN_PREFIX));
        assert_ne!(health_probe(), schedule_tick("daily"));
        assert!(audit_event(&t, 2).sk < audit_event(&t, 10).sk, "sequence numbers sort numerically");
        let i = IntegrationId::new("aws-main").unwrap();
        assert!(integration(&t, &i).sk.starts_with(INTEGRATION_PREFIX));
        assert!(
            !integration_schedule(&t, &i).sk.starts_with(INTEGRATION_PREFIX),
            "schedules are not listed as integrations"
        );
        assert!(
            !run_lock(&t, &i).sk.starts_with(RUN_PREFIX)
                && !run_active(&t, &RunId::new("r1").unwrap()).sk.starts_with(RUN_PREFIX)
        );
        assert!(due_index_sk("2026-01-01T02:00:00Z", &t, &i) < due_index_sk("2026-01-01T02:00:01Z", &t, &i));
    }

    #[test]
    fn planner_indexes_are_sharded_stably_and_evenly() {
        // Stable: FNV-1a, not a per-process random hasher (these values must never change, or
        // indexed schedules would sit in a shard nobody reads).
        let shard = |id: &str| index_shard(&TenantId::new(id).unwrap());
        assert_eq!((shard("acme"), shard("globex"), shard("t-0")), (7, 6, 6));
        let t = TenantId::new("acme").unwrap();
        assert_eq!(due_index_pk(&t), "DUE#7");
        assert_eq!(active_runs_pk(&t), "RUNS#ACTIVE#7");
        let due = due_index_partitions();
        assert_eq!(due.len(), INDEX_SHARDS as usize + 1, "every shard and the unsharded partition");
        assert!(due.contains(&due_index_pk(&t)) && due.contains(&DUE_INDEX.to_owned()));
        assert!(active_runs_partitions().contains(&active_runs_pk(&t)));
        // Even: 10,000 tenants spread within 10% of the mean over the shards.
        let mut counts = [0u32; INDEX_SHARDS as usize];
        for n in 0..10_000 {
            counts[shard(&format!("tenant-{n}")) as usize] += 1;
        }
        let mean = 10_000 / INDEX_SHARDS;
        assert!(counts.iter().all(|c| c.abs_diff(mean) < mean / 10), "{counts:?}");
    }
}
