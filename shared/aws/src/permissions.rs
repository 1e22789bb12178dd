//! The permissions doctor: which IAM actions the customer's role must allow, and a probe that
//! tries each one with a cheap read call and reports which are missing.
//!
//! [`required_actions`] is what the checks declare they need (the union of every AWS check's
//! `permissions`). The collector needs two more actions that no check judges but every
//! collection relies on ([`SUPPORTING_ACTIONS`]: listing regions to plan regional slices, and
//! finding a bucket's region on S3 APIs that do not say). [`role_actions`] is their union: exactly
//! what `infra/aws/customer-role.yaml` grants.

use std::collections::BTreeSet;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use kushim_checks::{Connector, registry};

use crate::error::{Failure, FailureKind};
use crate::ops::{self, Op};
use crate::session::{AwsSession, partition_of};

/// Actions the collector calls that no check lists: `ec2:DescribeRegions` (which regions to
/// sweep, and each region's opt-in status) and `s3:GetBucketLocation` (a bucket's region when
/// `ListBuckets` does not say).
pub const SUPPORTING_ACTIONS: &[&str] = &["ec2:DescribeRegions", "s3:GetBucketLocation"];

/// The sorted union of every AWS check's `permissions` in the kushim-checks registry.
pub fn required_actions() -> Vec<&'static str> {
    let set: BTreeSet<&'static str> = registry()
        .iter()
        .filter(|c| c.def().connector == Connector::Aws)
        .flat_map(|c| c.def().permissions.iter().copied())
        .collect();
    set.into_iter().collect()
}

/// Everything the customer's role must allow: [`required_actions`] plus [`SUPPORTING_ACTIONS`],
/// sorted. All are read-only.
pub fn role_actions() -> Vec<&'static str> {
    let set: BTreeSet<&'static str> =
        required_actions().into_iter().chain(SUPPORTING_ACTIONS.iter().copied()).collect();
    set.into_iter().collect()
}

/// What the probe found, each list sorted by action name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProbeReport {
    /// Actions the role was seen to allow.
    pub ok: Vec<String>,
    /// Actions the role refused (exact names, as in the checks' `permissions`).
    pub missing: Vec<String>,
    /// Actions that could not be tried: no resource to try them on (no bucket, no KMS key) or the
    /// call failed for another reason (throttling, an outage).
    pub unverified: Vec<String>,
    /// The API operations the probe called.
    pub api_calls: Vec<String>,
}

impl ProbeReport {
    /// True when nothing was refused.
    pub fn all_granted(&self) -> bool {
        self.missing.is_empty()
    }

    fn record(&mut self, op: Op, outcome: Outcome) {
        let list = match outcome {
            Outcome::Allowed => &mut self.ok,
            Outcome::Refused => &mut self.missing,
            Outcome::Unknown => &mut self.unverified,
        };
        list.push(op.action.to_owned());
    }

    fn finish(mut self) -> Self {
        for l in [&mut self.ok, &mut self.missing, &mut self.unverified] {
            l.sort();
            l.dedup();
        }
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Refused,
    Unknown,
}

/// Judges one probe call. `absent_ok`: an answer such as "no such entity" proves the action is
/// allowed (IAM authorizes before it looks the resource up).
fn judge<T>(result: Result<T, Failure>, absent_ok: bool) -> Outcome {
    match result {
        Ok(_) => Outcome::Allowed,
        Err(f) if f.kind == FailureKind::Denied => Outcome::Refused,
        Err(f) if f.kind == FailureKind::Client && absent_ok => Outcome::Allowed,
        Err(_) => Outcome::Unknown,
    }
}

/// Calls made by the probe: counted, and never fatal.
#[derive(Debug, Default)]
struct ProbeCalls {
    api_calls: Vec<String>,
}

impl ProbeCalls {
    async fn call<T, E, F>(&mut self, op: Op, fut: F) -> Result<T, Failure>
    where
        F: std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.api_calls.push(op.api.to_owned());
        fut.await.map_err(|e| Failure::from_sdk(&e))
    }
}

/// The name used for resources that are not expected to exist.
const PROBE_NAME: &str = "kushim-permission-probe";

impl AwsSession {
    /// Tries every action of [`role_actions`] with one cheap read call (in the home region) and
    /// reports which are allowed, refused, or could not be tried. Never fails: a call that errs
    /// for another reason than a refusal lands in `unverified`.
    pub async fn probe(&self) -> ProbeReport {
        let s = &*self.inner;
        let home = s.home_region.as_str();
        let partition = partition_of(home);
        let mut report = ProbeReport::default();
        let mut calls = ProbeCalls::default();

        macro_rules! probe {
            ($op:expr, $fut:expr, $absent_ok:expr) => {{
                let result = calls.call($op, $fut).await;
                let outcome = judge(result, $absent_ok);
                report.record($op, outcome);
            }};
        }

        // EC2.
        probe!(ops::EC2_DESCRIBE_REGIONS, s.ec2(home).describe_regions().region_names(home).send(), false);
        probe!(ops::EC2_GET_EBS_ENCRYPTION_BY_DEFAULT, s.ec2(home).get_ebs_encryption_by_default().send(), false);

        // IAM: made-up names are fine, IAM authorizes before looking them up.
        let iam = s.iam(home);
        probe!(ops::IAM_GENERATE_CREDENTIAL_REPORT, iam.generate_credential_report().send(), false);
        probe!(ops::IAM_GET_CREDENTIAL_REPORT, iam.get_credential_report().send(), true);
        probe!(ops::IAM_LIST_USERS, iam.list_users().max_items(1).send(), false);
        probe!(
            ops::IAM_LIST_ATTACHED_USER_POLICIES,
            iam.list_attached_user_policies().user_name(PROBE_NAME).send(),
            true
        );
        probe!(ops::IAM_LIST_USER_POLICIES, iam.list_user_policies().user_name(PROBE_NAME).send(), true);
        probe!(
            ops::IAM_GET_USER_POLICY,
            iam.get_user_policy().user_name(PROBE_NAME).policy_name(PROBE_NAME).send(),
            true
        );
        let audit = format!("arn:{partition}:iam::aws:policy/SecurityAudit");
        probe!(ops::IAM_GET_POLICY, iam.get_policy().policy_arn(&audit).send(), true);
        probe!(ops::IAM_GET_POLICY_VERSION, iam.get_policy_version().policy_arn(&audit).version_id("v1").send(), true);
        probe!(ops::IAM_GET_ACCOUNT_PASSWORD_POLICY, iam.get_account_password_policy().send(), true);

        // S3: bucket-level actions need a real bucket of the account.
        let s3 = s.s3(home);
        let listed = calls.call(ops::S3_LIST_BUCKETS, s3.list_buckets().max_buckets(1).send()).await;
        let bucket = listed.as_ref().ok().and_then(|o| {
            o.buckets().first().and_then(|b| Some((b.name()?.to_owned(), b.bucket_region().map(str::to_owned))))
        });
        report.record(ops::S3_LIST_BUCKETS, judge(listed, false));
        probe!(
            ops::S3CONTROL_GET_PUBLIC_ACCESS_BLOCK,
            s.s3control().get_public_access_block().account_id(&s.account_id).send(),
            true
        );
        let bucket_ops = [
            ops::S3_GET_BUCKET_LOCATION,
            ops::S3_GET_BUCKET_ENCRYPTION,
            ops::S3_GET_PUBLIC_ACCESS_BLOCK,
            ops::S3_GET_BUCKET_POLICY_STATUS,
            ops::S3_GET_BUCKET_POLICY,
            ops::S3_GET_BUCKET_VERSIONING,
            ops::S3_GET_OBJECT_LOCK_CONFIGURATION,
        ];
        match bucket {
            None => bucket_ops.iter().for_each(|op| report.record(*op, Outcome::Unknown)),
            Some((b, region)) => {
                let b = b.as_str();
                let location = calls.call(ops::S3_GET_BUCKET_LOCATION, s3.get_bucket_location().bucket(b).send()).await;
                let region = region
                    .or_else(|| {
                        location.as_ref().ok().map(|o| match o.location_constraint().map(|c| c.as_str()) {
                            None | Some("") => "us-east-1".to_owned(),
                            Some("EU") => "eu-west-1".to_owned(),
                            Some(r) => r.to_owned(),
                        })
                    })
                    .unwrap_or_else(|| home.to_owned());
                report.record(ops::S3_GET_BUCKET_LOCATION, judge(location, false));
                let s3 = s.s3(&region);
                // "Not configured" answers come after authorization.
                probe!(ops::S3_GET_BUCKET_ENCRYPTION, s3.get_bucket_encryption().bucket(b).send(), true);
                probe!(ops::S3_GET_PUBLIC_ACCESS_BLOCK, s3.get_public_access_block().bucket(b).send(), true);
                probe!(ops::S3_GET_BUCKET_POLICY_STATUS, s3.get_bucket_policy_status().bucket(b).send(), true);
                probe!(ops::S3_GET_BUCKET_POLICY, s3.get_bucket_policy().bucket(b).send(), true);
                probe!(ops::S3_GET_BUCKET_VERSIONING, s3.get_bucket_versioning().bucket(b).send(), false);
                probe!(
                    ops::S3_GET_OBJECT_LOCK_CONFIGURATION,
                    s3.get_object_lock_configuration().bucket(b).send(),
                    true
                );
            }
        }

        // CloudTrail.
        let ct = s.cloudtrail(home);
        probe!(ops::CLOUDTRAIL_DESCRIBE_TRAILS, ct.describe_trails().send(), false);
        let trail = format!("arn:{partition}:cloudtrail:{home}:{}:trail/{PROBE_NAME}", s.account_id);
        probe!(ops::CLOUDTRAIL_GET_TRAIL_STATUS, ct.get_trail_status().name(trail).send(), true);

        // AWS Config.
        let cfg = s.config_service(home);
        probe!(ops::CONFIG_DESCRIBE_RECORDERS, cfg.describe_configuration_recorders().send(), false);
        probe!(ops::CONFIG_DESCRIBE_RECORDER_STATUS, cfg.describe_configuration_recorder_status().send(), false);
        probe!(ops::CONFIG_DESCRIBE_COMPLIANCE_BY_RULE, cfg.describe_compliance_by_config_rule().send(), false);

        // KMS: key actions need a real key (KMS also consults key policies).
        let kms = s.kms(home);
        let listed = calls.call(ops::KMS_LIST_KEYS, kms.list_keys().limit(1).send()).await;
        let key = listed.as_ref().ok().and_then(|o| o.keys().first().and_then(|k| k.key_id().map(str::to_owned)));
        report.record(ops::KMS_LIST_KEYS, judge(listed, false));
        match key {
            None => {
                report.record(ops::KMS_DESCRIBE_KEY, Outcome::Unknown);
                report.record(ops::KMS_GET_KEY_ROTATION_STATUS, Outcome::Unknown);
            }
            Some(k) => {
                probe!(ops::KMS_DESCRIBE_KEY, kms.describe_key().key_id(&k).send(), false);
                let rotation =
                    calls.call(ops::KMS_GET_KEY_ROTATION_STATUS, kms.get_key_rotation_status().key_id(&k).send());
                let rotation = rotation.await;
                // Asymmetric or imported keys answer "unsupported" after authorization.
                let supported = !matches!(&rotation, Err(f) if f.is_code("UnsupportedOperationException"));
                let outcome = if supported { judge(rotation, false) } else { Outcome::Allowed };
                report.record(ops::KMS_GET_KEY_ROTATION_STATUS, outcome);
            }
        }

        // GuardDuty.
        let gd = s.guardduty(home);
        let listed = calls.call(ops::GUARDDUTY_LIST_DETECTORS, gd.list_detectors().send()).await;
        let detector = listed.as_ref().ok().and_then(|o| o.detector_ids().first().cloned());
        report.record(ops::GUARDDUTY_LIST_DETECTORS, judge(listed, false));
        match detector {
            Some(d) => probe!(ops::GUARDDUTY_GET_DETECTOR, gd.get_detector().detector_id(d).send(), false),
            None => report.record(ops::GUARDDUTY_GET_DETECTOR, Outcome::Unknown),
        }

        report.api_calls = calls.api_calls;
        report.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_actions_are_the_sorted_union_of_every_aws_check_permission() {
        let actions = required_actions();
        let mut sorted = actions.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(actions, sorted);
        for check in registry().iter().filter(|c| c.def().connector == Connector::Aws) {
            for p in check.def().permissions {
                assert!(actions.contains(p), "{} needs {p}", check.id());
            }
        }
        assert!(actions.iter().all(|a| a.contains(':') && !a.contains('*')));
        assert!(!actions.iter().any(|a| a.starts_with("github") || a.starts_with("okta")));
    }

    #[test]
    fn the_collector_calls_exactly_the_actions_the_role_grants() {
        // Every operation the collector makes is granted, and every granted action is used.
        let used: BTreeSet<&str> = ops::ALL.iter().map(|o| o.action).collect();
        let granted: BTreeSet<&str> = role_actions().into_iter().collect();
        assert_eq!(used, granted);
        for a in SUPPORTING_ACTIONS {
            assert!(!required_actions().contains(a), "{a} is listed by a check; it is not supporting");
        }
    }

    #[test]
    fn every_action_the_role_grants_is_read_only() {
        for a in role_actions() {
            let verb = a.split(':').nth(1).unwrap();
            let read = ["Get", "List", "Describe"].iter().any(|p| verb.starts_with(p));
            // Generating the credential report only refreshes IAM's own report.
            assert!(read || a == "iam:GenerateCredentialReport", "{a} is not a read");
        }
    }
}
