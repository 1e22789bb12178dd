//! `connector-aws`: the AWS connector. It consumes `AwsJobsQueue` (SQS event source with
//! `ReportBatchItemFailures`); each job is one slice of one customer account
//! (`<account>/<region|global>/<family>`). The shared job engine ([`kushim_connector`]) does the
//! locking, breaker, retries, evidence, evaluation, counting and events; this crate only says how
//! to collect a slice: assume the account's read-only role with the tenant's ExternalId
//! ([`kushim_aws`]), collect the family's evidence, and refresh the integration's enabled regions
//! when the `regions` family runs. [`AwsTester`] is the permissions doctor `api-integrations` runs.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use kushim_adapters::queue::Queue;
use kushim_aws::{AwsConnector, AwsSession, AwsTarget, CollectError, Family, parse_slice};
use kushim_checks::{Evidence, Scope};
use kushim_connector::{CollectFailure, Collected, Collector, SliceScope, Worker};
use kushim_integrations::{ConnectionReport, ConnectionTester, Integration, IntegrationStore, TestContext, TestError};
use kushim_lambda::{Backends, Config, ConfigError};
use lambda_runtime::LambdaEvent;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long an assumed-role session is reused across jobs (it renews its own credentials); a
/// changed role ARN or ExternalId is a different session.
const SESSION_TTL: Duration = Duration::from_secs(10 * 60);

/// Account, role ARN and ExternalId.
type SessionKey = (String, String, String);

/// Collects AWS slices.
pub struct AwsCollector {
    sdk: Option<kushim_aws::SdkConfig>,
    connector: OnceCell<AwsConnector>,
    integrations: IntegrationStore,
    /// Sessions by target, so a run's jobs on one account assume its role once, not once each.
    sessions: Mutex<HashMap<SessionKey, (AwsSession, Instant)>>,
}

impl AwsCollector {
    /// A collector whose AWS connector (Kushim's own credentials, used only to assume customers'
    /// roles) is built once, on first use, from `sdk` or else from the environment.
    pub fn new(sdk: Option<kushim_aws::SdkConfig>, integrations: IntegrationStore) -> Self {
        Self { sdk, connector: OnceCell::new(), integrations, sessions: Mutex::default() }
    }

    /// A collector over a connector built by the caller (tests tune its retries and waits).
    pub fn with_connector(connector: AwsConnector, integrations: IntegrationStore) -> Self {
        Self { sdk: None, connector: OnceCell::new_with(Some(connector)), integrations, sessions: Mutex::default() }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<SessionKey, (AwsSession, Instant)>> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A session in the target account, reused while it is younger than [`SESSION_TTL`].
    async fn session(&self, target: &AwsTarget) -> Result<AwsSession, CollectError> {
        let key = (target.account_id.clone(), target.role_arn.clone(), target.external_id.clone());
        if let Some((session, at)) = self.sessions().get(&key)
            && at.elapsed() < SESSION_TTL
        {
            return Ok(session.clone());
        }
        let session = self.connector().await.session(target).await?;
        let mut sessions = self.sessions();
        sessions.retain(|_, (_, at)| at.elapsed() < SESSION_TTL);
        sessions.insert(key, (session.clone(), Instant::now()));
        Ok(session)
    }

    async fn connector(&self) -> &AwsConnector {
        self.connector
            .get_or_init(|| async {
                match &self.sdk {
                    Some(sdk) => AwsConnector::new(sdk),
                    None => AwsConnector::new(&kushim_adapters::aws::load_config().await),
                }
            })
            .await
    }
}

fn failure(e: CollectError) -> CollectFailure {
    match e {
        CollectError::Transient { message, retry_after } => CollectFailure::Transient { message, retry_after },
        CollectError::Permanent { reason, message } => {
            CollectFailure::Permanent { code: reason.code().into(), message }
        }
    }
}

fn invalid(message: String) -> CollectFailure {
    CollectFailure::Permanent { code: "invalid_config".into(), message }
}

#[async_trait]
impl Collector for AwsCollector {
    fn connector(&self) -> &'static str {
        "aws"
    }

    fn scope(&self, integration: &Integration, slice: &str) -> Result<SliceScope, CollectFailure> {
        let parsed = parse_slice(slice).map_err(failure)?;
        let aws = integration.aws().ok_or_else(|| invalid("not an AWS integration".into()))?;
        if !aws.accounts.iter().any(|a| a.account_id == parsed.account_id) {
            return Err(invalid(format!("account {} is not part of the integration", parsed.account_id)));
        }
        Ok(SliceScope {
            evidence_kinds: parsed.family.evidence_kinds().to_vec(),
            scope: Scope::Aws { account_id: parsed.account_id, region: parsed.region },
        })
    }

    async fn collect(&self, integration: &Integration, slice: &str) -> Result<Vec<Collected>, CollectFailure> {
        let parsed = parse_slice(slice).map_err(failure)?;
        let aws = integration.aws().ok_or_else(|| invalid("not an AWS integration".into()))?;
        let account = aws
            .accounts
            .iter()
            .find(|a| a.account_id == parsed.account_id)
            .ok_or_else(|| invalid(format!("account {} is not part of the integration", parsed.account_id)))?;
        let now = chrono::Utc::now();
        let external_id = self
            .integrations
            .external_id(&integration.tenant_id, now)
            .await
            .map_err(|e| CollectFailure::Transient { message: format!("storage: {e}"), retry_after: None })?;
        let target =
            AwsTarget { account_id: account.account_id.clone(), role_arn: account.role_arn.clone(), external_id };
        let session = self.session(&target).await.map_err(failure)?;
        let collected = match session.collect(&parsed).await {
            Ok(c) => c,
            Err(e) => {
                // Assume the role afresh next time: it may have changed or been revoked.
                self.sessions().retain(|(account, _, _), _| account != &target.account_id);
                return Err(failure(e));
            }
        };
        if parsed.family == Family::Regions {
            // The planner slices regional families by the regions this account has enabled.
            let enabled: Vec<String> = collected
                .iter()
                .filter_map(|c| match &c.evidence {
                    Evidence::AwsRegions(r) => Some(
                        r.regions.iter().filter(|r| r.opt_in_status.is_enabled()).map(|r| r.name.clone()).collect(),
                    ),
                    _ => None,
                })
                .next()
                .unwrap_or_default();
            let allowed: Vec<String> = match &aws.regions {
                Some(allow) => enabled.into_iter().filter(|r| allow.contains(r)).collect(),
                None => enabled,
            };
            if let Err(e) = self
                .integrations
                .set_enabled_regions(&integration.tenant_id, &integration.id, &account.account_id, &allowed, now)
                .await
            {
                tracing::warn!(error = %e, "could not refresh the enabled regions");
            }
        }
        Ok(collected
            .into_iter()
            .map(|c| Collected { evidence: c.evidence, context: c.context, api_calls: c.api_calls })
            .collect())
    }
}

/// Everything the handler needs, built once per process.
pub struct State {
    worker: Worker,
    queue: Arc<dyn Queue>,
    queue_url: String,
}

impl State {
    /// Builds the worker over the backends and the AWS connector over `sdk` (Kushim's own
    /// credentials, which only assume customers' roles; `None`: from the environment).
    pub fn new(config: &Config, backends: &Backends, sdk: Option<kushim_aws::SdkConfig>) -> Result<Self, ConfigError> {
        let table = backends.table()?;
        let secrets = backends.secrets()?;
        let collector = AwsCollector::new(sdk, IntegrationStore::new(table, secrets));
        Self::with_collector(config, backends, Arc::new(collector))
    }

    /// The same with another collector (tests).
    pub fn with_collector(
        config: &Config,
        backends: &Backends,
        collector: Arc<dyn Collector>,
    ) -> Result<Self, ConfigError> {
        let queue_url = config
            .vars
            .get("AWS_JOBS_QUEUE_URL")
            .filter(|v| !v.is_empty())
            .cloned()
            .ok_or(ConfigError::Missing("AWS_JOBS_QUEUE_URL"))?;
        let worker =
            Worker::new(backends.table()?, backends.blobs()?, backends.secrets()?, backends.bus().ok(), collector);
        Ok(Self { worker, queue: backends.queue()?, queue_url })
    }

    /// The job engine.
    pub fn worker(&self) -> &Worker {
        &self.worker
    }
}

/// The Lambda handler.
pub async fn handle(state: &State, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, kushim_lambda::Error> {
    Ok(kushim_connector::handle_batch(&state.worker, state.queue.as_ref(), &state.queue_url, event.payload).await?)
}

/// The AWS "permissions doctor": for every account of an integration, assume its role with the
/// tenant's ExternalId and try one cheap read per action the checks declare; report the refused
/// ones. A role that cannot be assumed is a failed report naming why, not an error.
pub struct AwsTester {
    sdk: Option<kushim_aws::SdkConfig>,
    connector: OnceCell<AwsConnector>,
}

impl AwsTester {
    /// A tester whose connector is built on first use from `sdk`, or else from the environment.
    pub fn new(sdk: Option<kushim_aws::SdkConfig>) -> Self {
        Self { sdk, connector: OnceCell::new() }
    }
}

#[async_trait]
impl ConnectionTester for AwsTester {
    async fn test(&self, integration: &Integration, context: &TestContext) -> Result<ConnectionReport, TestError> {
        let Some(aws) = integration.aws() else { return Err(TestError::NotWired(integration.kind())) };
        let external_id =
            context.external_id.clone().ok_or_else(|| TestError::Unavailable("the tenant has no ExternalId".into()))?;
        let connector = self
            .connector
            .get_or_init(|| async {
                match &self.sdk {
                    Some(sdk) => AwsConnector::new(sdk),
                    None => AwsConnector::new(&kushim_adapters::aws::load_config().await),
                }
            })
            .await;
        let mut report =
            ConnectionReport { ok: true, missing_permissions: Vec::new(), checked: Vec::new(), error: None };
        for account in &aws.accounts {
            let target = AwsTarget {
                account_id: account.account_id.clone(),
                role_arn: account.role_arn.clone(),
                external_id: external_id.clone(),
            };
            let session = match connector.session(&target).await {
                Ok(s) => s,
                Err(CollectError::Transient { message, .. }) => return Err(TestError::Unavailable(message)),
                Err(e) => {
                    report.ok = false;
                    report.checked.push(format!("{}: sts:AssumeRole", account.account_id));
                    report.error = Some(format!("account {}: {} ({})", account.account_id, e.message(), e.code()));
                    continue;
                }
            };
            let probe = session.probe().await;
            let prefix =
                |a: &String| if aws.accounts.len() > 1 { format!("{}: {a}", account.account_id) } else { a.clone() };
            report.checked.extend(probe.ok.iter().chain(&probe.missing).chain(&probe.unverified).map(prefix));
            report.missing_permissions.extend(probe.missing.iter().map(prefix));
        }
        report.ok &= report.missing_permissions.is_empty();
        report.checked.sort();
        report.missing_permissions.sort();
        Ok(report)
    }
}
