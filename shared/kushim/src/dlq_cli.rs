//! `kushim dlq list|show|redrive`: the operator's view of every dead-letter queue the template
//! declares (any queue with a redrive policy), across tenants: which jobs rest there and the last
//! error their worker recorded, and moving them back to their source queue with the same body (so
//! the same idempotency key) by receive → send → delete.

use std::collections::BTreeSet;

use kushim_domain::TenantId;
use kushim_lambda::deadletter::{DeadLetter, DeadLetters, RedriveReport, Selection};

use crate::platform::Opened;

/// Most messages one pass looks at per queue.
pub const MAX_PASS: usize = 1000;

/// A source queue and its DLQ, by logical id and by the name or URL the adapters use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePair {
    /// The source queue's logical id (`JobsQueue`, `AwsJobsQueue`…).
    pub source_id: String,
    /// The source queue's name or URL.
    pub source: String,
    /// The DLQ's logical id.
    pub dlq_id: String,
    /// The DLQ's name or URL.
    pub dlq: String,
}

/// Every queue with a DLQ in the template, optionally only the one whose source or DLQ logical id
/// is `only`.
pub fn pairs(opened: &Opened, only: Option<&str>) -> Result<Vec<QueuePair>, String> {
    let template = kushim_template::bundled();
    let name = |id: &str| opened.names.by_logical_id.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let all: Vec<QueuePair> = template
        .queues
        .iter()
        .filter_map(|q| {
            let dlq = q.dead_letter_queue.clone()?;
            Some(QueuePair {
                source: name(&q.logical_id),
                source_id: q.logical_id.clone(),
                dlq: name(&dlq),
                dlq_id: dlq,
            })
        })
        .collect();
    match only {
        None => Ok(all),
        Some(id) => {
            let known: Vec<String> = all.iter().map(|p| p.source_id.clone()).collect();
            let chosen: Vec<QueuePair> = all.into_iter().filter(|p| p.source_id == id || p.dlq_id == id).collect();
            if chosen.is_empty() {
                return Err(format!("no queue with a DLQ is called {id}; known: {}", known.join(", ")));
            }
            Ok(chosen)
        }
    }
}

fn dead_letters(opened: &Opened) -> Result<DeadLetters, String> {
    let queue = opened.backends.queue().map_err(|e| e.to_string())?;
    let table = opened.backends.table().map_err(|e| e.to_string())?;
    Ok(DeadLetters::new(queue, table))
}

/// Dead messages of the chosen queues (of one tenant, when given), each with its queue pair.
pub async fn list(
    opened: &Opened,
    only: Option<&str>,
    tenant: Option<&TenantId>,
) -> Result<Vec<(QueuePair, DeadLetter)>, String> {
    let dead = dead_letters(opened)?;
    let mut out = Vec::new();
    for pair in pairs(opened, only)? {
        for d in dead.list(&pair.dlq, tenant, MAX_PASS).await.map_err(|e| e.to_string())? {
            out.push((pair.clone(), d));
        }
    }
    Ok(out)
}

/// Moves the selected dead messages of the chosen queues back to their source queues.
pub async fn redrive(opened: &Opened, only: Option<&str>, selection: &Selection) -> Result<RedriveReport, String> {
    let dead = dead_letters(opened)?;
    let mut total = RedriveReport::default();
    for pair in pairs(opened, only)? {
        let r = dead.redrive(&pair.dlq, &pair.source, selection, MAX_PASS).await.map_err(|e| e.to_string())?;
        total.moved += r.moved;
        total.skipped += r.skipped;
        total.failed += r.failed;
    }
    Ok(total)
}

/// A selection from the CLI's flags.
pub fn selection(tenant: Option<TenantId>, ids: Vec<String>) -> Selection {
    Selection { tenant, message_ids: (!ids.is_empty()).then(|| ids.into_iter().collect::<BTreeSet<_>>()) }
}

/// One line per dead message: queue, message id, tenant, job, receives, last error.
pub fn render_list(items: &[(QueuePair, DeadLetter)]) -> String {
    if items.is_empty() {
        return "No dead messages.\n".into();
    }
    let mut out =
        format!("{:<24} {:<38} {:<16} {:<44} {:>4}  LAST ERROR\n", "QUEUE", "MESSAGE", "TENANT", "JOB", "RCV");
    for (pair, d) in items {
        let (tenant, job) = match &d.job {
            Some(j) => (j.tenant_id.to_string(), j.idempotency_key.clone()),
            None => ("-".into(), "(unreadable body)".into()),
        };
        let error = d
            .last_failure
            .as_ref()
            .map(|f| f.last_error.clone())
            .or_else(|| d.unreadable.clone())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{:<24} {:<38} {:<16} {:<44} {:>4}  {}\n",
            pair.source_id, d.message_id, tenant, job, d.receive_count, error
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{BackendChoice, open_backends};
    use kushim_adapters::queue::OutgoingMessage;
    use kushim_domain::{IntegrationId, Job, JobId, JobKind, RunId};
    use std::time::Duration;

    #[tokio::test]
    async fn given_a_dead_job_in_the_local_platform_then_list_shows_it_and_redrive_returns_it() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open_backends(&BackendChoice::Embedded, dir.path()).await.unwrap();
        let pair = pairs(&opened, Some("JobsQueue")).unwrap().remove(0);
        assert_eq!(pair.dlq_id, "JobsDeadLetterQueue");
        assert!(pairs(&opened, Some("Nope")).is_err());

        let queue = opened.backends.queue().unwrap();
        let job = Job {
            job_id: JobId::new("j1").unwrap(),
            tenant_id: TenantId::new("acme").unwrap(),
            run_id: RunId::new("r1").unwrap(),
            idempotency_key: "r1/i1/s".into(),
            kind: JobKind::Collect { integration_id: IntegrationId::new("i1").unwrap(), slice: "s".into() },
        };
        queue.send_all(&pair.source, vec![OutgoingMessage::new(serde_json::to_string(&job).unwrap())]).await.unwrap();
        // The template's maxReceiveCount is 5: fail it five times.
        for _ in 0..5 {
            let got = queue.receive(&pair.source, 1, Duration::ZERO, Some(Duration::ZERO)).await.unwrap();
            assert_eq!(got.len(), 1);
            kushim_lambda::deadletter::record_failure(
                opened.backends.table().unwrap().as_ref(),
                &job,
                "AccessDenied on sts:AssumeRole",
                got[0].receive_count,
            )
            .await
            .unwrap();
        }
        assert!(queue.receive(&pair.source, 1, Duration::ZERO, None).await.unwrap().is_empty());

        let items = list(&opened, None, None).await.unwrap();
        assert_eq!(items.len(), 1);
        let text = render_list(&items);
        assert!(text.contains("JobsQueue") && text.contains("acme") && text.contains("AccessDenied"), "{text}");
        assert!(list(&opened, None, Some(&TenantId::new("other").unwrap())).await.unwrap().is_empty());

        let report = redrive(&opened, Some("JobsQueue"), &selection(None, vec![])).await.unwrap();
        assert_eq!((report.moved, report.failed), (1, 0));
        let back = queue.receive(&pair.source, 1, Duration::ZERO, None).await.unwrap();
        assert_eq!(serde_json::from_str::<Job>(&back[0].body).unwrap(), job);
        assert!(list(&opened, None, None).await.unwrap().is_empty());
    }
}
