//! The connector and its sessions. [`AwsConnector`] is built once per process from Kushim's own SDK
//! configuration; [`AwsConnector::session`] assumes the customer's role (with its external id) and
//! returns an [`AwsSession`] whose service clients all sign with the role's temporary credentials.
//!
//! A session caches one client per service and region, remembers the account's regions after the
//! first `ec2:DescribeRegions`, and renews the role's credentials by itself when they near expiry,
//! so one session can collect any number of slices of its account.
//!
//! Throttling is absorbed inside the session: every client uses the SDK's adaptive retry mode
//! (exponential backoff with full jitter, plus client-side rate limiting after throttling
//! answers), so a busy account slows the connector down instead of failing its jobs.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_config::Region;
use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use aws_smithy_runtime_api::client::interceptors::{Intercept, SharedInterceptor};
use kushim_checks::evidence::aws::OptInStatus;
use tokio::sync::OnceCell;

use crate::error::{CollectError, Failure, FailureKind, PermanentReason};
use crate::ops;
use crate::slice::is_account_id;

/// The customer's AWS account as Kushim reaches it: the role to assume and its external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsTarget {
    pub account_id: String,
    pub role_arn: String,
    pub external_id: String,
}

/// Tunables. The defaults suit Lambda; tests shorten the waits.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) retry: RetryConfig,
    pub(crate) timeouts: TimeoutConfig,
    /// First wait between credential report polls; doubles up to 8 s.
    pub(crate) report_first_poll: Duration,
    /// How long to wait for a credential report before giving up (transiently).
    pub(crate) report_max_wait: Duration,
    /// How many per-resource calls (buckets, keys) run at once.
    pub(crate) concurrency: usize,
    /// Lifetime asked of the role session.
    pub(crate) session_duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retry: RetryConfig::adaptive()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(500))
                .with_max_backoff(Duration::from_secs(20)),
            timeouts: TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(180))
                .build(),
            report_first_poll: Duration::from_millis(500),
            report_max_wait: Duration::from_secs(60),
            concurrency: 8,
            session_duration: Duration::from_secs(900),
        }
    }
}

/// Kushim's side of the AWS connector: its own SDK configuration (credentials, region, and
/// `AWS_ENDPOINT_URL` when pointing at an emulator) and the settings every session shares.
#[derive(Clone)]
pub struct AwsConnector {
    base: SdkConfig,
    options: Options,
    interceptors: Vec<SharedInterceptor>,
}

/// Never prints the SDK configuration (it holds Kushim's own credentials provider).
impl fmt::Debug for AwsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConnector")
            .field("region", &self.base.region())
            .field("endpoint_override", &self.base.endpoint_url().is_some())
            .field("interceptors", &self.interceptors.len())
            .finish_non_exhaustive()
    }
}

impl AwsConnector {
    /// A connector using `sdk` (usually `aws_config::load_defaults(BehaviorVersion::latest())`)
    /// to call STS. An endpoint override in `sdk` (`AWS_ENDPOINT_URL`) applies to every client of
    /// every session, and S3 then uses path-style addressing.
    pub fn new(sdk: &SdkConfig) -> Self {
        AwsConnector { base: sdk.clone(), options: Options::default(), interceptors: Vec::new() }
    }

    /// Replaces the retry configuration of every client (default: adaptive, 8 attempts, backoff
    /// from 0.5 s up to 20 s with full jitter).
    pub fn with_retry_config(mut self, retry: RetryConfig) -> Self {
        self.options.retry = retry;
        self
    }

    /// Replaces the timeouts of every client (default: 5 s to connect, 30 s per attempt, 180 s
    /// per operation).
    pub fn with_timeout_config(mut self, timeouts: TimeoutConfig) -> Self {
        self.options.timeouts = timeouts;
        self
    }

    /// How long to wait for IAM to generate the credential report: the first poll after
    /// `first_poll`, then doubling (capped at 8 s) until `max_wait` has passed, after which the
    /// IAM slice fails transiently (default: 0.5 s and 60 s).
    pub fn with_credential_report_wait(mut self, first_poll: Duration, max_wait: Duration) -> Self {
        self.options.report_first_poll = first_poll;
        self.options.report_max_wait = max_wait;
        self
    }

    /// How many per-resource calls (one per bucket, key or trail) run at once (default 8).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.options.concurrency = concurrency.max(1);
        self
    }

    /// Adds an SDK interceptor to every client this connector builds (STS and every session's
    /// service clients): for instrumentation, or for tests that replay recorded responses.
    pub fn with_interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.interceptors.push(SharedInterceptor::new(interceptor));
        self
    }

    fn sts(&self) -> aws_sdk_sts::Client {
        let mut b = aws_sdk_sts::config::Builder::from(&self.base)
            .retry_config(self.options.retry.clone())
            .timeout_config(self.options.timeouts.clone());
        for i in &self.interceptors {
            b.push_interceptor(i.clone());
        }
        aws_sdk_sts::Client::from_conf(b.build())
    }

    /// Assumes `target`'s role (RoleSessionName `kushim-<random>`, its ExternalId, 900 s) and
    /// returns a session for its account.
    ///
    /// Errors: a refused AssumeRole (role deleted, trust policy or external id changed) is
    /// [`PermanentReason::AccessDenied`]; a malformed account id or role ARN is
    /// [`PermanentReason::InvalidConfig`]; throttling or an STS outage is transient.
    pub async fn session(&self, target: &AwsTarget) -> Result<AwsSession, CollectError> {
        validate_target(target)?;
        let provider = RoleProvider {
            sts: self.sts(),
            role_arn: target.role_arn.clone(),
            external_id: target.external_id.clone(),
            session_name: format!("kushim-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
            duration: self.options.session_duration,
            first: Mutex::new(None),
        };
        let first = provider.assume().await?;
        *provider.first.lock().expect("credentials lock") = Some(first);
        let config = self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .retry_config(self.options.retry.clone())
            .timeout_config(self.options.timeouts.clone())
            .build();
        Ok(AwsSession::from_parts(target.account_id.clone(), config, self.options.clone(), self.interceptors.clone()))
    }
}

fn validate_target(target: &AwsTarget) -> Result<(), CollectError> {
    let invalid = |m: &str| CollectError::permanent(PermanentReason::InvalidConfig, m);
    if !is_account_id(&target.account_id) {
        return Err(invalid("the account id is not 12 digits"));
    }
    let parts: Vec<&str> = target.role_arn.splitn(6, ':').collect();
    let ok_arn = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4] == target.account_id
        && parts[5].starts_with("role/")
        && parts[5].len() > "role/".len();
    if !ok_arn {
        return Err(invalid("the role ARN is not an IAM role of the target account"));
    }
    if target.external_id.len() < 2 || target.external_id.len() > 1224 {
        return Err(invalid("the external id must be 2 to 1224 characters"));
    }
    Ok(())
}

/// Renews the role's credentials whenever the SDK's identity cache finds them expired.
struct RoleProvider {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    external_id: String,
    session_name: String,
    duration: Duration,
    /// The credentials obtained when the session was opened, handed out on first use.
    first: Mutex<Option<Credentials>>,
}

/// Names the role and session only: no credentials, no external id.
impl fmt::Debug for RoleProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleProvider")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .finish_non_exhaustive()
    }
}

impl RoleProvider {
    async fn assume(&self) -> Result<Credentials, CollectError> {
        let answer = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .external_id(&self.external_id)
            .duration_seconds(self.duration.as_secs().try_into().unwrap_or(900))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                let f = Failure::from_sdk(&e);
                let action = ops::STS_ASSUME_ROLE.api;
                return Err(match f.kind {
                    FailureKind::Denied => CollectError::permanent(
                        PermanentReason::AccessDenied,
                        format!(
                            "{action} was refused: the role may have been deleted, or its trust policy or external id changed ({})",
                            f.message
                        ),
                    ),
                    _ => f.into_error(action),
                });
            }
        };
        let c = out.credentials().ok_or_else(|| {
            CollectError::permanent(PermanentReason::UnexpectedResponse, "sts:AssumeRole returned no credentials")
        })?;
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "kushim-assume-role",
        ))
    }
}

impl ProvideCredentials for RoleProvider {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let first = self.first.lock().expect("credentials lock").take();
            let fresh = |c: &Credentials| c.expiry().is_none_or(|e| e > SystemTime::now() + Duration::from_secs(60));
            match first {
                Some(c) if fresh(&c) => Ok(c),
                _ => self.assume().await.map_err(CredentialsError::provider_error),
            }
        })
    }
}

/// Clients of one service, one per region.
type ClientCache<C> = Mutex<HashMap<String, C>>;

/// A session in one customer account. Cheap to clone; clones share clients and caches.
#[derive(Debug, Clone)]
pub struct AwsSession {
    pub(crate) inner: Arc<SessionInner>,
}

pub(crate) struct SessionInner {
    pub(crate) account_id: String,
    pub(crate) config: SdkConfig,
    pub(crate) home_region: String,
    pub(crate) options: Options,
    interceptors: Vec<SharedInterceptor>,
    iam: ClientCache<aws_sdk_iam::Client>,
    s3: ClientCache<aws_sdk_s3::Client>,
    s3control: ClientCache<aws_sdk_s3control::Client>,
    cloudtrail: ClientCache<aws_sdk_cloudtrail::Client>,
    config_service: ClientCache<aws_sdk_config::Client>,
    kms: ClientCache<aws_sdk_kms::Client>,
    guardduty: ClientCache<aws_sdk_guardduty::Client>,
    ec2: ClientCache<aws_sdk_ec2::Client>,
    /// Every region with its opt-in status, read once.
    pub(crate) regions: OnceCell<Vec<(String, OptInStatus)>>,
}

/// Names the account and region only: the SDK configuration holds the role's credentials.
impl fmt::Debug for SessionInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSession")
            .field("account_id", &self.account_id)
            .field("home_region", &self.home_region)
            .finish_non_exhaustive()
    }
}

macro_rules! client {
    ($name:ident, $krate:ident, $field:ident) => {
        pub(crate) fn $name(&self, region: &str) -> $krate::Client {
            let mut cache = self.$field.lock().expect("client cache lock");
            cache
                .entry(region.to_owned())
                .or_insert_with(|| {
                    let mut b = $krate::config::Builder::from(&self.config).region(Region::new(region.to_owned()));
                    for i in &self.interceptors {
                        b.push_interceptor(i.clone());
                    }
                    $krate::Client::from_conf(b.build())
                })
                .clone()
        }
    };
}

impl SessionInner {
    client!(iam, aws_sdk_iam, iam);
    client!(cloudtrail, aws_sdk_cloudtrail, cloudtrail);
    client!(config_service, aws_sdk_config, config_service);
    client!(kms, aws_sdk_kms, kms);
    client!(guardduty, aws_sdk_guardduty, guardduty);
    client!(ec2, aws_sdk_ec2, ec2);

    /// The S3 client for a bucket's region (path-style against an emulator).
    pub(crate) fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let mut cache = self.s3.lock().expect("client cache lock");
        cache
            .entry(region.to_owned())
            .or_insert_with(|| {
                let mut b = aws_sdk_s3::config::Builder::from(&self.config).region(Region::new(region.to_owned()));
                if self.config.endpoint_url().is_some() {
                    b = b.force_path_style(true);
                }
                for i in &self.interceptors {
                    b.push_interceptor(i.clone());
                }
                aws_sdk_s3::Client::from_conf(b.build())
            })
            .clone()
    }

    /// The S3 Control client (account-level settings). Against an emulator the endpoint is used
    /// as given: the generated resolver would prefix the host with the account id, which only
    /// real AWS DNS resolves.
    pub(crate) fn s3control(&self) -> aws_sdk_s3control::Client {
        let region = self.home_region.clone();
        let mut cache = self.s3control.lock().expect("client cache lock");
        cache
            .entry(region.clone())
            .or_insert_with(|| {
                let mut b = aws_sdk_s3control::config::Builder::from(&self.config).region(Region::new(region));
                if let Some(url) = self.config.endpoint_url() {
                    b = b.endpoint_resolver(FixedEndpoint(url.to_owned()));
                }
                for i in &self.interceptors {
                    b.push_interceptor(i.clone());
                }
                aws_sdk_s3control::Client::from_conf(b.build())
            })
            .clone()
    }
}

/// An endpoint resolver that always answers the same URL (emulators only).
#[derive(Debug)]
pub(crate) struct FixedEndpoint(pub(crate) String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_sdk_s3control::config::endpoint::Endpoint::builder().url(self.0.clone()).build(),
        ))
    }
}

impl AwsSession {
    pub(crate) fn from_parts(
        account_id: String,
        config: SdkConfig,
        options: Options,
        interceptors: Vec<SharedInterceptor>,
    ) -> Self {
        let home_region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".to_owned());
        AwsSession {
            inner: Arc::new(SessionInner {
                account_id,
                config,
                home_region,
                options,
                interceptors,
                iam: Mutex::default(),
                s3: Mutex::default(),
                s3control: Mutex::default(),
                cloudtrail: Mutex::default(),
                config_service: Mutex::default(),
                kms: Mutex::default(),
                guardduty: Mutex::default(),
                ec2: Mutex::default(),
                regions: OnceCell::new(),
            }),
        }
    }

    /// The account this session collects from.
    pub fn account_id(&self) -> &str {
        &self.inner.account_id
    }

    /// The region global services (IAM, S3 Control, DescribeRegions) are called in: Kushim's own
    /// configured region, `us-east-1` when none is set.
    pub fn home_region(&self) -> &str {
        &self.inner.home_region
    }
}

/// The partition a region belongs to, for keeping an emulator's cross-partition answers out.
pub(crate) fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else {
        "aws"
    }
}

/// The regions enabled by default in every account. Used only when `ec2:DescribeRegions` is
/// refused, to tell a regional slice's opt-in status.
pub(crate) use kushim_domain::aws::DEFAULT_REGIONS;

#[cfg(test)]
mod tests {
    use super::*;

    fn target(account: &str, arn: &str, external: &str) -> AwsTarget {
        AwsTarget { account_id: account.into(), role_arn: arn.into(), external_id: external.into() }
    }

    #[test]
    fn targets_are_validated_before_any_call() {
        let ok = target("111122223333", "arn:aws:iam::111122223333:role/KushimReadOnly", "ext-123");
        assert!(validate_target(&ok).is_ok());
        for bad in [
            target("11112222333", "arn:aws:iam::11112222333:role/x", "ext-123"),
            target("111122223333", "arn:aws:iam::999999999999:role/x", "ext-123"),
            target("111122223333", "arn:aws:iam::111122223333:user/x", "ext-123"),
            target("111122223333", "arn:aws:s3:::bucket", "ext-123"),
            target("111122223333", "arn:aws:iam::111122223333:role/", "ext-123"),
            target("111122223333", "arn:aws:iam::111122223333:role/x", ""),
        ] {
            let err = validate_target(&bad).unwrap_err();
            assert!(matches!(err, CollectError::Permanent { reason: PermanentReason::InvalidConfig, .. }), "{bad:?}");
        }
        let gov = target("111122223333", "arn:aws-us-gov:iam::111122223333:role/path/x", "ext-123");
        assert!(validate_target(&gov).is_ok());
    }

    #[test]
    fn debug_output_never_shows_credentials() {
        let provider = RoleProvider {
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::Config::builder().behavior_version(aws_config::BehaviorVersion::latest()).build(),
            ),
            role_arn: "arn:aws:iam::111122223333:role/x".into(),
            external_id: "the-external-id".into(),
            session_name: "kushim-abc".into(),
            duration: Duration::from_secs(900),
            first: Mutex::new(Some(Credentials::new(
                "ASIAEXAMPLEEXAMPLE01",
                "the-secret",
                Some("the-token".into()),
                None,
                "t",
            ))),
        };
        let text = format!("{provider:?}");
        for secret in ["ASIAEXAMPLEEXAMPLE01", "the-secret", "the-token", "the-external-id"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIAKUSHIMOWNKEY0001",
                "s",
                None,
                None,
                "t",
            )))
            .build();
        let session = AwsSession::from_parts("111122223333".into(), sdk.clone(), Options::default(), Vec::new());
        let text = format!("{:?} {:?}", AwsConnector::new(&sdk), session);
        assert!(!text.contains("AKIAKUSHIMOWNKEY0001"), "{text}");
        assert!(text.contains("111122223333"));
    }

    #[test]
    fn partitions_are_told_from_region_names() {
        assert_eq!(partition_of("us-east-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("ap-southeast-5"), "aws");
    }
}
