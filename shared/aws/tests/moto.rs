//! End to end against the moto emulator: seed a known account, assume its role, collect every
//! slice, run the checks and compare each verdict with what the seed documents. moto lacks Config
//! rule evaluations, so those answers are replayed from recorded AWS responses; everything else is
//! moto's.

mod common;

use std::time::Instant;

use aws_sdk_s3::operation::get_bucket_policy::GetBucketPolicyError;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, mock};
use aws_smithy_types::error::ErrorMetadata;
use common::*;
use kushim_aws::seed::{SeedSummary, seed_demo_account};
use kushim_aws::{AwsConnector, AwsTarget, Collected, Family, parse_slice, slices};
use kushim_checks::{InconclusiveReason, Status};

fn target(seed: &SeedSummary) -> AwsTarget {
    AwsTarget {
        account_id: seed.account_id.clone(),
        role_arn: seed.role_arn.clone(),
        external_id: seed.external_id.clone(),
    }
}

async fn seeded() -> (aws_config::SdkConfig, SeedSummary) {
    let base = moto_sdk().await;
    let account = fresh_account_id();
    let seed = seed_demo_account(&account_sdk(&base, &account).await).await.expect("seeding moto succeeds");
    assert_eq!(seed.account_id, account);
    (base, seed)
}

fn passthrough(rules: &[aws_smithy_mocks::Rule]) -> MockResponseInterceptor {
    rules
        .iter()
        .fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny).allow_passthrough(), |i, r| i.with_rule(r))
}

async fn collect_all(
    session: &kushim_aws::AwsSession,
    account: &str,
    regions: &[String],
) -> Vec<(String, Vec<Collected>)> {
    let mut out = Vec::new();
    for s in slices(account, regions) {
        let slice = parse_slice(&s).unwrap();
        let collected = session.collect(&slice).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        out.push((s, collected));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_account_is_collected_and_judged_as_documented() {
    // GIVEN the demo account seeded in its own moto account, and a connector whose Config rule
    // answers are replayed from recorded AWS responses
    let (base, seed) = seeded().await;
    let connector = AwsConnector::new(&base)
        .with_retry_config(fast_retry())
        .with_interceptor(passthrough(&recorded_config_rules()));

    // WHEN Kushim assumes the role, plans the account's slices and collects every one of them
    let session = connector.session(&target(&seed)).await.expect("the role can be assumed");
    let regions = session.enabled_regions().await.expect("regions are listed");
    assert!(regions.contains(&"us-east-1".to_owned()) && regions.contains(&"eu-west-1".to_owned()));
    assert!(regions.iter().all(|r| !r.starts_with("cn-") && !r.starts_with("us-gov-")), "{regions:?}");
    let started = Instant::now();
    let per_slice = collect_all(&session, &seed.account_id, &regions).await;
    let elapsed = started.elapsed();
    let collected: Vec<Collected> = per_slice.iter().flat_map(|(_, c)| c.clone()).collect();

    // THEN every slice produced its family's evidence kinds, scoped to the account (and region)
    for (s, c) in &per_slice {
        let slice = parse_slice(s).unwrap();
        let kinds: Vec<&str> = c.iter().map(|x| x.evidence.kind()).collect();
        assert_eq!(kinds, slice.family.evidence_kinds(), "{s}");
        for x in c {
            assert_eq!(
                x.context.scope,
                kushim_checks::Scope::Aws { account_id: seed.account_id.clone(), region: slice.region.clone() }
            );
            assert!(x.context.permission_errors.is_empty(), "{s}: {:?}", x.context.permission_errors);
            assert!(!x.api_calls.is_empty() || slice.family != Family::Iam, "{s}");
        }
    }
    let calls: usize = collected.iter().map(|c| c.api_calls.len()).sum();
    println!("{} slices over {} regions: {calls} API calls in {elapsed:?}", per_slice.len(), regions.len());
    let mut per_kind: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for c in &collected {
        *per_kind.entry(c.evidence.kind()).or_default() += c.api_calls.len();
    }
    println!("API calls per evidence kind: {per_kind:?}");

    // AND the checks reach the verdicts the seed documents
    let results = evaluate(&collected);
    let r = by_resource(&results);
    let pass =
        |check: &str, resource: &str| assert_eq!(status(&r, check, resource), Status::Pass, "{check} {resource}");
    let fail =
        |check: &str, resource: &str| assert_eq!(status(&r, check, resource), Status::Fail, "{check} {resource}");
    let na = |check: &str, resource: &str| {
        assert_eq!(status(&r, check, resource), Status::NotApplicable, "{check} {resource}")
    };
    let u = &seed.users;
    let acct = seed.account_id.as_str();

    // IAM credential report.
    pass("aws.iam.user_mfa_console", &u.console_mfa);
    fail("aws.iam.user_mfa_console", &u.console_no_mfa);
    na("aws.iam.user_mfa_console", &u.key_only);
    pass("aws.iam.single_active_access_key", &u.key_only);
    fail("aws.iam.single_active_access_key", &u.two_keys);
    na("aws.iam.single_active_access_key", &u.console_mfa);
    pass("aws.iam.access_keys_rotated_90_days", &u.two_keys);
    pass("aws.iam.credentials_unused_90_days", &u.key_only);
    na("aws.iam.credentials_unused_45_days", &u.scoped);
    // moto's report has no root row: root checks cannot pass.
    for check in ["aws.iam.root_mfa", "aws.iam.root_access_keys", "aws.iam.root_recent_use"] {
        assert!(matches!(status(&r, check, acct), Status::Inconclusive(InconclusiveReason::FieldNotVisible { .. })));
    }
    // IAM user policies (customer-managed documents read through GetPolicy + GetPolicyVersion).
    fail("aws.iam.no_direct_admin_policy", &u.direct_admin);
    fail("aws.iam.no_direct_admin_policy", &u.inline_admin);
    pass("aws.iam.no_direct_admin_policy", &u.scoped);
    pass("aws.iam.no_direct_admin_policy", &u.console_mfa);
    // Weak password policy.
    for check in [
        "aws.iam.password_policy_min_length",
        "aws.iam.password_policy_reuse_prevention",
        "aws.iam.password_policy_expiry",
        "aws.iam.password_policy_complexity",
    ] {
        fail(check, acct);
    }

    // S3.
    let b = &seed.buckets;
    pass("aws.s3.bucket_kms_encryption", &b.kms);
    fail("aws.s3.bucket_kms_encryption", &b.sse_s3);
    fail("aws.s3.bucket_kms_encryption", &b.plain);
    pass("aws.s3.bucket_public_access_block", &b.kms);
    fail("aws.s3.bucket_public_access_block", &b.sse_s3);
    fail("aws.s3.account_public_access_block", acct);
    pass("aws.s3.bucket_policy_not_public", &b.kms);
    fail("aws.s3.bucket_policy_not_public", &b.public);
    pass("aws.s3.bucket_policy_not_public", &b.plain);
    pass("aws.s3.bucket_tls_only", &b.kms);
    pass("aws.s3.bucket_tls_only", &b.tls_only);
    fail("aws.s3.bucket_tls_only", &b.public);
    fail("aws.s3.bucket_tls_only", &b.plain);
    pass("aws.s3.bucket_versioning", &b.kms);
    fail("aws.s3.bucket_versioning", &b.tls_only);
    fail("aws.s3.bucket_versioning", &b.plain);
    pass("aws.s3.bucket_object_lock", &b.kms);
    fail("aws.s3.bucket_object_lock", &b.sse_s3);
    let s3 = collected.iter().find_map(|c| match &c.evidence {
        kushim_checks::Evidence::AwsS3Buckets(x) => Some(x.clone()),
        _ => None,
    });
    let trail_bucket = s3.unwrap().buckets.into_iter().find(|x| x.name == b.trail).expect("the trail bucket is listed");
    assert_eq!(trail_bucket.region, seed.secondary_region, "the bucket's region comes from GetBucketLocation");

    // CloudTrail: one multi-region logging trail; each trail judged once although seen from every region.
    pass("aws.cloudtrail.multi_region_logging", acct);
    pass("aws.cloudtrail.log_file_validation", &seed.trail_main_arn);
    fail("aws.cloudtrail.log_file_validation", &seed.trail_legacy_arn);
    pass("aws.cloudtrail.kms_encryption", &seed.trail_main_arn);
    fail("aws.cloudtrail.kms_encryption", &seed.trail_legacy_arn);
    fail("aws.cloudtrail.cloudwatch_logs", &seed.trail_main_arn);
    let trail_results = results.iter().filter(|x| x.check_id == "aws.cloudtrail.log_file_validation").count();
    assert_eq!(trail_results, 2, "shadow copies are folded into one trail per ARN");

    // KMS.
    pass("aws.kms.customer_key_rotation", &seed.key_rotating_arn);
    fail("aws.kms.customer_key_rotation", &seed.key_static_arn);
    na("aws.kms.customer_key_rotation", &seed.key_signing_arn);

    // Regional services: on in the primary region only.
    for check in
        ["aws.guardduty.enabled_all_regions", "aws.ec2.ebs_default_encryption", "aws.config.recorder_all_regions"]
    {
        pass(check, &seed.primary_region);
        fail(check, &seed.secondary_region);
        for region in &regions {
            let expected = if *region == seed.primary_region { Status::Pass } else { Status::Fail };
            assert_eq!(status(&r, check, region), expected, "{check} {region}");
        }
    }

    // Config rules (recorded answers, both pages read).
    let rule = |name: &str| format!("{}/{name}", seed.primary_region);
    fail("aws.config.rule_compliance", &rule("s3-bucket-versioning-enabled"));
    pass("aws.config.rule_compliance", &rule("iam-password-policy"));
    na("aws.config.rule_compliance", &rule("restricted-ssh"));
    assert!(matches!(
        status(&r, "aws.config.rule_compliance", &rule("ec2-ebs-encryption-by-default")),
        Status::Inconclusive(InconclusiveReason::InsufficientData { .. })
    ));
    let config = per_slice.iter().find(|(s, _)| s.ends_with("/us-east-1/config")).unwrap();
    let compliance_calls =
        config.1[1].api_calls.iter().filter(|c| *c == "config:DescribeComplianceByConfigRule").count();
    assert_eq!(compliance_calls, 2, "both pages are read");

    // Every AWS check produced at least one result.
    for check in kushim_checks::registry().iter().filter(|c| c.def().connector == kushim_checks::Connector::Aws) {
        assert!(results.iter().any(|x| x.check_id == check.id()), "{} produced nothing", check.id());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refused_action_is_recorded_and_makes_only_its_checks_inconclusive() {
    // GIVEN the demo account, where s3:GetBucketPolicy is refused for one bucket only
    let (base, seed) = seeded().await;
    let denied_bucket = seed.buckets.kms.clone();
    let matcher_bucket = denied_bucket.clone();
    let deny = mock!(aws_sdk_s3::Client::get_bucket_policy)
        .match_requests(move |r| r.bucket() == Some(matcher_bucket.as_str()))
        .then_error(|| {
            GetBucketPolicyError::generic(
                ErrorMetadata::builder().code("AccessDenied").message("Access Denied").build(),
            )
        });
    let connector = AwsConnector::new(&base).with_retry_config(fast_retry()).with_interceptor(passthrough(&[deny]));
    let session = connector.session(&target(&seed)).await.unwrap();

    // WHEN the S3 slice is collected
    let slice = parse_slice(&format!("{}/global/s3", seed.account_id)).unwrap();
    let collected = session.collect(&slice).await.expect("a refusal does not fail the slice");

    // THEN the refusal is in the context, for that bucket, with the IAM action the checks list
    let ctx = &collected[0].context;
    assert_eq!(ctx.permission_errors.len(), 1, "{:?}", ctx.permission_errors);
    let denial = &ctx.permission_errors[0];
    assert_eq!(denial.action, "s3:GetBucketPolicy");
    assert_eq!(denial.resource.as_deref(), Some(denied_bucket.as_str()));
    assert!(denial.message.contains("AccessDenied"));
    // AND the rest of the bucket was still collected
    let kushim_checks::Evidence::AwsS3Buckets(s3) = &collected[0].evidence else { panic!("S3 evidence") };
    let bucket = s3.buckets.iter().find(|b| b.name == denied_bucket).unwrap();
    assert_eq!(bucket.policy_denies_insecure_transport, None);
    assert_eq!(bucket.versioning, Some(kushim_checks::evidence::aws::VersioningStatus::Enabled));
    // AND the TLS check, which passed before, is inconclusive for that bucket only
    let r = by_resource(&evaluate(&collected));
    let tls = statuses(&r, "aws.s3.bucket_tls_only", &denied_bucket);
    assert!(
        tls.contains(&Status::Inconclusive(InconclusiveReason::PermissionDenied {
            action: "s3:GetBucketPolicy".into()
        })),
        "{tls:?}"
    );
    assert!(tls.iter().all(|s| matches!(s, Status::Inconclusive(_))), "{tls:?}");
    assert_eq!(status(&r, "aws.s3.bucket_tls_only", &seed.buckets.tls_only), Status::Pass);
    assert_eq!(status(&r, "aws.s3.bucket_versioning", &denied_bucket), Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_finds_every_action_of_the_role_granted() {
    // GIVEN the demo account (buckets, keys and a detector to try actions on)
    let (base, seed) = seeded().await;
    let connector = AwsConnector::new(&base).with_retry_config(fast_retry());
    let session = connector.session(&target(&seed)).await.unwrap();
    // WHEN the permissions doctor runs
    let probing = session.probe();
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&probing);
    let report = probing.await;
    // THEN every action of the role was tried, none is missing (moto enforces no IAM), and only
    // what moto cannot answer is unverified
    let mut seen: Vec<String> = report.ok.iter().chain(&report.missing).chain(&report.unverified).cloned().collect();
    seen.sort();
    let expected: Vec<String> = kushim_aws::role_actions().into_iter().map(str::to_owned).collect();
    assert_eq!(seen, expected);
    assert!(report.missing.is_empty(), "{:?}", report.missing);
    assert!(report.all_granted());
    assert_eq!(report.unverified, vec!["config:DescribeComplianceByConfigRule".to_owned()], "moto answers 500");
    assert!(report.api_calls.len() >= expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_of_another_account_is_refused_as_invalid() {
    let (base, seed) = seeded().await;
    let session = AwsConnector::new(&base).session(&target(&seed)).await.unwrap();
    let other = parse_slice("999999999999/global/iam").unwrap();
    let err = session.collect(&other).await.unwrap_err();
    assert!(matches!(
        err,
        kushim_aws::CollectError::Permanent { reason: kushim_aws::PermanentReason::InvalidConfig, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_twice_gives_the_same_account() {
    // GIVEN a seeded account
    let base = moto_sdk().await;
    let account = account_sdk(&base, &fresh_account_id()).await;
    let first = seed_demo_account(&account).await.expect("first seeding");
    // WHEN it is seeded again (as `infra/dev/seed-aws` may be re-run)
    let second = seed_demo_account(&account).await.expect("seeding again reuses what exists");
    // THEN nothing new was made: same role, keys, trails and buckets
    assert_eq!(first, second);
    let iam = aws_sdk_iam::Client::new(&account);
    let keys = iam.list_access_keys().user_name("demo-two-keys").send().await.unwrap();
    assert_eq!(keys.access_key_metadata().len(), 2);
    let detectors = aws_sdk_guardduty::Client::new(&account).list_detectors().send().await.unwrap();
    assert_eq!(detectors.detector_ids().len(), 1);
}
