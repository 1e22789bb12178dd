//! What became of each job of a run. A connector that finishes a job writes its marker
//! (`JOB#<idempotency key>`, kept 30 days): whether it collected, failed for good or was skipped,
//! why, and what it counted. The marker also makes a redelivered job a no-op. Together with the
//! run's planned slices and the jobs' last failures, the markers answer "which parts of this run
//! are done, which failed and why, which are still retrying".

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kushim_adapters::keys;
use kushim_adapters::table::{Item, Query, Table, query_all};
use kushim_domain::{Job, RunId, TenantId};
use serde::{Deserialize, Serialize};

use crate::runs::JobCounts;
use crate::{Error, Result};

/// How long a finished job's marker is kept.
pub const MARKER_TTL_SECS: i64 = 30 * 86_400;

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// Evidence collected and checks evaluated.
    Collected,
    /// Ended for good without collecting (access denied, invalid credentials, a bad slice); its
    /// checks were recorded as inconclusive with the reason.
    Failed,
    /// Not collected on purpose: the integration was paused or deleted.
    Skipped,
}

/// The marker of a finished job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMarker {
    /// The job's message id.
    pub job_id: String,
    /// Its run.
    pub run_id: String,
    /// How it ended (absent on markers written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<JobOutcome>,
    /// What happened, in a few words (`collected`, or the reason).
    pub note: String,
    /// When it finished (epoch seconds).
    pub finished_at: i64,
    /// What it counted in its run.
    #[serde(default)]
    pub counts: JobCounts,
}

impl JobMarker {
    /// The marker of `job`, finished at `now`.
    pub fn new(job: &Job, outcome: JobOutcome, note: &str, counts: JobCounts, now: DateTime<Utc>) -> Self {
        Self {
            job_id: job.job_id.to_string(),
            run_id: job.run_id.to_string(),
            outcome: Some(outcome),
            note: note.chars().take(300).collect(),
            finished_at: now.timestamp(),
            counts,
        }
    }

    /// The marker as the table item of the job `idempotency_key` of `tenant`.
    pub fn item(&self, tenant: &TenantId, idempotency_key: &str) -> Result<Item> {
        let attrs = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(Error::Invalid("job marker does not serialise".into())),
        };
        Ok(Item { attrs, ..Item::new(keys::job_done(tenant, idempotency_key)) }
            .expiring_at(self.finished_at + MARKER_TTL_SECS))
    }

    /// How the job ended; for markers without it, read from what they counted.
    pub fn outcome(&self) -> JobOutcome {
        match self.outcome {
            Some(o) => o,
            None if self.note == "collected" => JobOutcome::Collected,
            None if self.counts.errored > 0 => JobOutcome::Failed,
            None => JobOutcome::Skipped,
        }
    }
}

/// The markers of a run's finished jobs, by idempotency key.
pub async fn finished_jobs(table: &dyn Table, tenant: &TenantId, run: &RunId) -> Result<BTreeMap<String, JobMarker>> {
    let prefix = format!("{}{run}/", keys::JOB_DONE_PREFIX);
    let items = query_all(table, Query::partition(keys::tenant_pk(tenant)).begins_with(prefix)).await?;
    let mut out = BTreeMap::new();
    for item in &items {
        let key = item.key.sk.strip_prefix(keys::JOB_DONE_PREFIX).unwrap_or(&item.key.sk).to_owned();
        out.insert(key, item.parse()?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kushim_domain::{IntegrationId, JobId, JobKind};

    fn job(run: &str, slice: &str) -> Job {
        let run_id = RunId::new(run).unwrap();
        let integration_id = IntegrationId::new("i1").unwrap();
        let key = crate::planner::idempotency_key(&run_id, &integration_id, slice);
        Job {
            job_id: JobId::new("j1").unwrap(),
            tenant_id: TenantId::new("acme").unwrap(),
            run_id,
            idempotency_key: key,
            kind: JobKind::Collect { integration_id, slice: slice.into() },
        }
    }

    #[tokio::test]
    async fn markers_are_read_back_per_run_and_old_ones_get_an_outcome() {
        use kushim_adapters::table::embedded::EmbeddedTable;
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(dir.path()).unwrap();
        let now = Utc::now();
        let tenant = TenantId::new("acme").unwrap();
        let counts = JobCounts { failed: 2, ..JobCounts::default() };
        for (run, slice, outcome) in [
            ("r1", "a/global/iam", JobOutcome::Collected),
            ("r1", "a/global/s3", JobOutcome::Failed),
            ("r12", "a/x", JobOutcome::Skipped),
        ] {
            let j = job(run, slice);
            let marker = JobMarker::new(&j, outcome, "why", counts, now);
            table.put(marker.item(&tenant, &j.idempotency_key).unwrap(), None).await.unwrap();
        }
        let found = finished_jobs(&table, &tenant, &RunId::new("r1").unwrap()).await.unwrap();
        let outcomes: Vec<(&str, JobOutcome)> = found.iter().map(|(k, m)| (k.as_str(), m.outcome())).collect();
        assert_eq!(
            outcomes,
            vec![("r1/i1/a/global/iam", JobOutcome::Collected), ("r1/i1/a/global/s3", JobOutcome::Failed)]
        );
        assert_eq!(found["r1/i1/a/global/iam"].counts, counts);

        let old = |note: &str, errored: u64| JobMarker {
            outcome: None,
            note: note.into(),
            counts: JobCounts { errored, ..JobCounts::default() },
            ..JobMarker::new(&job("r1", "s"), JobOutcome::Collected, "", JobCounts::default(), now)
        };
        assert_eq!(old("collected", 0).outcome(), JobOutcome::Collected);
        assert_eq!(old("access_denied: no", 1).outcome(), JobOutcome::Failed);
        assert_eq!(old("the integration is paused", 0).outcome(), JobOutcome::Skipped);
    }
}
