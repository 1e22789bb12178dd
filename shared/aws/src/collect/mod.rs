//! Collection: one module per family, each turning raw AWS answers into the normalized evidence
//! of `kushim_checks::evidence::aws`.
//!
//! What every collector does the same way, through [`Acc`]:
//! - It counts every API operation it calls (`api_calls`, in call order), so the cost of each
//!   slice, and so of each check, can be reported.
//! - A refused action (`AccessDenied`, `AccessDeniedException`, `UnauthorizedOperation`) is not
//!   an error: it is recorded as a [`PermissionError`] naming the IAM action exactly as the checks
//!   list it, with the bucket, user ARN, key ARN or region it concerned, and the value it would
//!   have filled stays `None`. The checks then report the affected resources as inconclusive.
//! - Throttling, 5xx, timeouts and network failures that outlast the SDK's retries fail the whole
//!   slice with a transient [`CollectError`]; rejected credentials fail it permanently.
//! - Any other error answer on a per-resource call leaves that value `None` (the checks report it
//!   as not visible) and is logged by its error code only.

mod cloudtrail;
mod config;
mod ec2;
mod guardduty;
mod iam;
mod kms;
mod s3;

use std::future::Future;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use kushim_checks::evidence::aws::OptInStatus;
use kushim_checks::{Evidence, EvidenceContext, PermissionError, Scope};
use tracing::Instrument;

use crate::error::{CollectError, Failure, FailureKind, PermanentReason};
use crate::ops::{self, Op};
use crate::session::{AwsSession, DEFAULT_REGIONS, SessionInner, partition_of};
use crate::slice::{Family, Slice};

/// One piece of evidence, how it was collected, and the API operations it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    pub evidence: Evidence,
    pub context: EvidenceContext,
    /// Every API operation called for this evidence, in order (`"iam:GetCredentialReport"`);
    /// retries inside the SDK are not counted again.
    pub api_calls: Vec<String>,
}

/// What one piece of evidence accumulates while it is collected.
#[derive(Debug, Default)]
pub(crate) struct Acc {
    pub(crate) api_calls: Vec<String>,
    pub(crate) denials: Vec<PermissionError>,
}

impl Acc {
    /// Calls one AWS operation. `Ok(Err(_))` is an error answer the caller must handle (a denial
    /// or a client error such as "not found"); `Err(_)` ends the slice.
    pub(crate) async fn call<T, E, F>(&mut self, op: Op, fut: F) -> Result<Result<T, Failure>, CollectError>
    where
        F: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.api_calls.push(op.api.to_owned());
        match fut.await {
            Ok(v) => Ok(Ok(v)),
            Err(e) => {
                let f = Failure::from_sdk(&e);
                match f.kind {
                    FailureKind::Denied | FailureKind::Client => Ok(Err(f)),
                    _ => Err(f.into_error(op.api)),
                }
            }
        }
    }

    /// Notes that `op` gave no usable answer for `resource` (or the whole scope): a denial becomes
    /// a permission error, anything else is logged by code.
    pub(crate) fn unreadable(&mut self, op: Op, f: &Failure, resource: Option<&str>) {
        if f.kind == FailureKind::Denied {
            self.deny(op, &f.message, resource);
        } else {
            tracing::warn!(
                api = op.api,
                code = f.code.as_deref().unwrap_or("none"),
                "an AWS call failed; the value is reported as not visible"
            );
        }
    }

    /// Records a refused action once per resource.
    pub(crate) fn deny(&mut self, op: Op, message: &str, resource: Option<&str>) {
        let resource = resource.map(str::to_owned);
        if !self.denials.iter().any(|d| d.action == op.action && d.resource == resource) {
            self.denials.push(PermissionError { action: op.action.to_owned(), message: message.to_owned(), resource });
        }
    }

    /// Folds in what a sub-collection (one bucket, one key) accumulated.
    pub(crate) fn merge(&mut self, other: Acc) {
        self.api_calls.extend(other.api_calls);
        for d in other.denials {
            if !self.denials.iter().any(|x| x.action == d.action && x.resource == d.resource) {
                self.denials.push(d);
            }
        }
    }

    pub(crate) fn finish(self, evidence: Evidence, scope: Scope, collected_at: DateTime<Utc>) -> Collected {
        Collected {
            evidence,
            context: EvidenceContext { collected_at, scope, permission_errors: self.denials },
            api_calls: self.api_calls,
        }
    }
}

/// Converts an SDK timestamp.
pub(crate) fn to_utc(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())
}

impl AwsSession {
    /// Collects one slice of this session's account.
    ///
    /// Returns one [`Collected`] per evidence kind of the slice's family (see
    /// [`Family::evidence_kinds`]), in that order. Global families are scoped to the account,
    /// regional ones to the account and region.
    ///
    /// Errors: a slice for another account is [`PermanentReason::InvalidConfig`]; throttling and
    /// outages that outlast the retries are transient; refused actions are not errors (see the
    /// module documentation of `collect`).
    pub async fn collect(&self, slice: &Slice) -> Result<Vec<Collected>, CollectError> {
        let s = &*self.inner;
        if slice.account_id != s.account_id {
            return Err(CollectError::permanent(
                PermanentReason::InvalidConfig,
                format!("slice {slice} belongs to another account than this session's"),
            ));
        }
        if slice.family.is_global() != slice.region.is_none() {
            return Err(CollectError::permanent(PermanentReason::InvalidConfig, format!("slice {slice} is malformed")));
        }
        let started = Utc::now();
        let work = async {
            Ok::<_, CollectError>(match (slice.family, slice.region.as_deref()) {
                (Family::Regions, _) => vec![ec2::regions(s, started).await?],
                (Family::Iam, _) => iam::collect(s, started).await?,
                (Family::S3, _) => vec![s3::collect(s, started).await?],
                (Family::Cloudtrail, _) => vec![cloudtrail::collect(s, started).await?],
                (Family::Config, Some(r)) => config::collect(s, r, started).await?,
                (Family::Kms, Some(r)) => vec![kms::collect(s, r, started).await?],
                (Family::Guardduty, Some(r)) => vec![guardduty::collect(s, r, started).await?],
                (Family::Ebs, Some(r)) => vec![ec2::ebs(s, r, started).await?],
                (_, None) => unreachable!("regional families always carry a region (checked above)"),
            })
        };
        let out = work.instrument(tracing::info_span!("aws_collect", slice = %slice)).await?;
        tracing::info!(
            slice = %slice,
            api_calls = out.iter().map(|c| c.api_calls.len()).sum::<usize>(),
            permission_errors = out.iter().map(|c| c.context.permission_errors.len()).sum::<usize>(),
            "slice collected"
        );
        Ok(out)
    }

    /// The regions the account can use (opted in, or not requiring opt-in), sorted. Read with
    /// `ec2:DescribeRegions --all-regions` once per session and remembered.
    ///
    /// Errors: a refused `ec2:DescribeRegions` is [`PermanentReason::AccessDenied`] (without it no
    /// regional slice can be planned).
    pub async fn enabled_regions(&self) -> Result<Vec<String>, CollectError> {
        let mut acc = Acc::default();
        match all_regions(&self.inner, &mut acc).await? {
            Ok(regions) => {
                let mut names: Vec<String> =
                    regions.into_iter().filter(|(_, s)| s.is_enabled()).map(|(n, _)| n).collect();
                names.sort();
                Ok(names)
            }
            Err(f) => Err(f.into_error(ops::EC2_DESCRIBE_REGIONS.action)),
        }
    }
}

/// Every region of the session's partition with its opt-in status; read once per session.
pub(crate) async fn all_regions(
    s: &SessionInner,
    acc: &mut Acc,
) -> Result<Result<Vec<(String, OptInStatus)>, Failure>, CollectError> {
    if let Some(known) = s.regions.get() {
        return Ok(Ok(known.clone()));
    }
    fetch_regions(s, acc).await
}

/// Reads every region of the session's partition now, and remembers the answer if none is yet.
pub(crate) async fn fetch_regions(
    s: &SessionInner,
    acc: &mut Acc,
) -> Result<Result<Vec<(String, OptInStatus)>, Failure>, CollectError> {
    let partition = partition_of(&s.home_region);
    let answer = acc.call(ops::EC2_DESCRIBE_REGIONS, s.ec2(&s.home_region).describe_regions().all_regions(true).send());
    let out = match answer.await? {
        Ok(out) => out,
        Err(f) => return Ok(Err(f)),
    };
    let mut regions: Vec<(String, OptInStatus)> = out
        .regions()
        .iter()
        .filter_map(|r| {
            let name = r.region_name()?.to_owned();
            let status = match r.opt_in_status() {
                Some("opt-in-not-required") | None => OptInStatus::OptInNotRequired,
                Some("opted-in") => OptInStatus::OptedIn,
                _ => OptInStatus::NotOptedIn,
            };
            (partition_of(&name) == partition).then_some((name, status))
        })
        .collect();
    regions.sort_by(|a, b| a.0.cmp(&b.0));
    regions.dedup_by(|a, b| a.0 == b.0);
    let _ = s.regions.set(regions.clone());
    Ok(Ok(regions))
}

/// The opt-in status of the region a regional slice covers. When `ec2:DescribeRegions` is
/// refused, the refusal is recorded and the status is told from the list of default regions.
pub(crate) async fn region_status(s: &SessionInner, acc: &mut Acc, region: &str) -> Result<OptInStatus, CollectError> {
    match all_regions(s, acc).await? {
        Ok(regions) => match regions.iter().find(|(n, _)| n == region) {
            Some((_, status)) => Ok(*status),
            None => Err(CollectError::permanent(
                PermanentReason::InvalidConfig,
                format!("region {region} is not a region of this account's partition"),
            )),
        },
        Err(f) => {
            acc.unreadable(ops::EC2_DESCRIBE_REGIONS, &f, None);
            if f.kind != FailureKind::Denied {
                return Err(f.into_error(ops::EC2_DESCRIBE_REGIONS.api));
            }
            // The slice was planned for this region, so it was enabled when planned.
            Ok(if DEFAULT_REGIONS.contains(&region) { OptInStatus::OptInNotRequired } else { OptInStatus::OptedIn })
        }
    }
}

/// The scope of a global slice.
pub(crate) fn account_scope(s: &SessionInner) -> Scope {
    Scope::Aws { account_id: s.account_id.clone(), region: None }
}

/// The scope of a regional slice.
pub(crate) fn region_scope(s: &SessionInner, region: &str) -> Scope {
    Scope::Aws { account_id: s.account_id.clone(), region: Some(region.to_owned()) }
}
