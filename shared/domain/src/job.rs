//! The message every collection job carries through the jobs queue. Later capabilities fill in the
//! kinds; the envelope (tenant, run, idempotency key) is fixed here so producers and consumers agree.

use serde::{Deserialize, Serialize};

use crate::{IntegrationId, JobId, RunId, TenantId};

/// What a job asks a worker to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobKind {
    /// Collect evidence for one integration slice (e.g. one AWS account and region).
    Collect {
        /// The integration to collect from.
        integration_id: IntegrationId,
        /// Which part of the integration (e.g. `123456789012/eu-west-1/iam`).
        slice: String,
    },
    /// Build the auditor package of one export (`run_id` is then the export's id).
    Export {
        /// The export to build.
        export_id: String,
    },
}

/// A job envelope. `idempotency_key` is deterministic for the same work so that redelivered or
/// re-planned messages can be recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// Unique id of this message.
    pub job_id: JobId,
    /// The tenant the work belongs to.
    pub tenant_id: TenantId,
    /// The run that planned it (for an export, the export's id).
    pub run_id: RunId,
    /// Same value for the same unit of work in the same run.
    pub idempotency_key: String,
    /// The work itself.
    pub kind: JobKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_json_round_trip_and_strictness() {
        let job = Job {
            job_id: JobId::new("j1").unwrap(),
            tenant_id: TenantId::new("t1").unwrap(),
            run_id: RunId::new("r1").unwrap(),
            idempotency_key: "r1/i1/slice".into(),
            kind: JobKind::Collect { integration_id: IntegrationId::new("i1").unwrap(), slice: "a/b".into() },
        };
        let json = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Job>(v).is_err());
    }
}
