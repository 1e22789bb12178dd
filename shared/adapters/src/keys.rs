//! Every DynamoDB key Kushim writes is built here and nowhere else, so the single-table layout is
//! visible in one place. `docs/access-patterns.md` lists the access patterns these keys serve;
//! change both together.
//!
//! Layout conventions:
//! - partition keys start with an entity prefix and a `#`: `TENANT#<tenant>`, `SYSTEM`;
//! - sort keys name the item kind, then its id, so one partition query with `begins_with` lists a
//!   kind;
//! - ids are validated newtypes from `kushim-domain`, which cannot contain `#`.

use kushim_domain::{JobId, RunId, TenantId};

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
    Key::new(tenant_pk(tenant), format!("JOB#{idempotency_key}"))
}

/// A job that a worker refused as permanently invalid, for operators to inspect.
pub fn job_rejected(tenant: &TenantId, job: &JobId) -> Key {
    Key::new(tenant_pk(tenant), format!("JOBREJECT#{job}"))
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
    }
}
