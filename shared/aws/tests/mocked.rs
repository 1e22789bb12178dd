//! The connector against recorded AWS answers (aws-smithy-mocks): what moto cannot show. A
//! refused AssumeRole, throttling that stops after N answers and throttling that does not, 5xx,
//! rejected credentials, a credential report that takes time, paginated Config rule results
//! shaped as AWS documents them, and refusals of whole listings. Every rule must match: an
//! unexpected call fails the test.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_types::{Blob, DateTime};
use common::*;
use kushim_aws::{AwsConnector, AwsSession, AwsTarget, CollectError, PermanentReason, parse_slice};
use kushim_checks::evidence::aws::{ComplianceType, OptInStatus};
use kushim_checks::{Evidence, InconclusiveReason, Status};

const ACCOUNT: &str = "111122223333";

/// Collections run on a multi-threaded runtime (Lambda, `tokio::spawn`): their futures must be Send.
fn assert_send<T: Send>(_: &T) {}

fn target() -> AwsTarget {
    AwsTarget {
        account_id: ACCOUNT.into(),
        role_arn: format!("arn:aws:iam::{ACCOUNT}:role/KushimReadOnly"),
        external_id: "tenant-external-id".into(),
    }
}

/// Kushim's own configuration, talking to nothing but the mock rules.
fn mock_sdk() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("AKIDKUSHIM", "secret", None, None, "t")))
        .http_client(create_mock_http_client())
        .build()
}

/// The production retry mode (adaptive, with jitter) with test-sized waits.
fn quick_adaptive(attempts: u32) -> RetryConfig {
    RetryConfig::adaptive()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(2))
        .with_max_backoff(Duration::from_millis(20))
}

fn connector(rules: &[&Rule], attempts: u32) -> AwsConnector {
    let interceptor =
        rules.iter().fold(MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny), |i, r| i.with_rule(r));
    AwsConnector::new(&mock_sdk())
        .with_retry_config(quick_adaptive(attempts))
        .with_credential_report_wait(Duration::from_millis(5), Duration::from_millis(300))
        .with_interceptor(interceptor)
}

fn assume_role_ok() -> Rule {
    mock!(aws_sdk_sts::Client::assume_role)
        .match_requests(|r| {
            r.external_id() == Some("tenant-external-id")
                && r.duration_seconds() == Some(900)
                && r.role_session_name().is_some_and(|n| n.starts_with("kushim-") && n.len() > 8)
        })
        .then_output(|| {
            aws_sdk_sts::operation::assume_role::AssumeRoleOutput::builder()
                .credentials(
                    aws_sdk_sts::types::Credentials::builder()
                        .access_key_id("ASIAROLECREDENTIALS1")
                        .secret_access_key("role-secret")
                        .session_token("role-token")
                        .expiration(DateTime::from_secs(chrono::Utc::now().timestamp() + 900))
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

fn regions_rule() -> Rule {
    mock!(aws_sdk_ec2::Client::describe_regions).then_output(|| {
        use aws_sdk_ec2::types::Region as R;
        aws_sdk_ec2::operation::describe_regions::DescribeRegionsOutput::builder()
            .regions(R::builder().region_name("us-east-1").opt_in_status("opt-in-not-required").build())
            .regions(R::builder().region_name("eu-west-1").opt_in_status("opt-in-not-required").build())
            .regions(R::builder().region_name("af-south-1").opt_in_status("not-opted-in").build())
            .regions(R::builder().region_name("ap-southeast-3").opt_in_status("opted-in").build())
            .build()
    })
}

async fn session(rules: &[&Rule], attempts: u32) -> AwsSession {
    connector(rules, attempts).session(&target()).await.expect("the role is assumed")
}

const EC2_THROTTLED: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>8f7724cf-496f-496e-8fe3-example</RequestID></Response>";

#[tokio::test]
async fn a_revoked_role_is_a_permanent_access_denied_with_a_clean_message() {
    // GIVEN STS refuses the role, as AWS does once the customer deleted it or changed its trust
    let denied = mock!(aws_sdk_sts::Client::assume_role).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            403.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from(
                "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                 <Message>User: arn:aws:sts::999999999999:assumed-role/kushim/AKIAIOSFODNN7EXAMPLE is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/KushimReadOnly</Message>\
                 </Error><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>",
            ),
        )
    });
    // WHEN a session is opened
    let err = connector(&[&denied], 3).session(&target()).await.unwrap_err();
    // THEN it is permanent, access denied, says what was refused and carries no key id
    assert!(!err.is_transient());
    assert!(matches!(err, CollectError::Permanent { reason: PermanentReason::AccessDenied, .. }), "{err:?}");
    assert_eq!(err.code(), "access_denied");
    assert!(err.message().contains("sts:AssumeRole"), "{}", err.message());
    assert!(!err.message().contains("AKIAIOSFODNN7EXAMPLE"), "{}", err.message());
    // AND a refusal is not retried
    assert_eq!(denied.num_calls(), 1);
}

#[tokio::test]
async fn a_malformed_target_is_refused_before_calling_sts() {
    let mut t = target();
    t.role_arn = "arn:aws:iam::999999999999:role/Other".into();
    let err = connector(&[], 3).session(&t).await.unwrap_err();
    assert!(matches!(err, CollectError::Permanent { reason: PermanentReason::InvalidConfig, .. }));
}

#[tokio::test]
async fn throttling_three_times_then_success_completes_the_slice() {
    // GIVEN EC2 answers RequestLimitExceeded three times before answering
    let ebs = mock!(aws_sdk_ec2::Client::get_ebs_encryption_by_default)
        .sequence()
        .http_status(503, Some(EC2_THROTTLED.to_owned()))
        .times(3)
        .output(|| {
            aws_sdk_ec2::operation::get_ebs_encryption_by_default::GetEbsEncryptionByDefaultOutput::builder()
                .ebs_encryption_by_default(true)
                .build()
        })
        .build();
    let (role, regions) = (assume_role_ok(), regions_rule());
    let s = session(&[&role, &regions, &ebs], 6).await;
    // WHEN the EBS slice is collected
    let started = Instant::now();
    let slice = parse_slice(&format!("{ACCOUNT}/us-east-1/ebs")).unwrap();
    let work = s.collect(&slice);
    assert_send(&work);
    let out = work.await.expect("throttling is absorbed");
    // THEN the SDK retried (four attempts) and the evidence is complete
    assert_eq!(ebs.num_calls(), 4);
    let Evidence::AwsEbsDefaultEncryption(e) = &out[0].evidence else { panic!("EBS evidence") };
    assert_eq!(e.regions[0].enabled, Some(true));
    assert_eq!(e.regions[0].opt_in_status, OptInStatus::OptInNotRequired);
    // AND the operation is counted once, however many attempts it took
    assert_eq!(out[0].api_calls, vec!["ec2:DescribeRegions", "ec2:GetEbsEncryptionByDefault"]);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn throttling_that_never_stops_is_transient_with_a_retry_hint() {
    let ebs = mock!(aws_sdk_ec2::Client::get_ebs_encryption_by_default)
        .sequence()
        .http_status(503, Some(EC2_THROTTLED.to_owned()))
        .repeatedly()
        .build();
    let (role, regions) = (assume_role_ok(), regions_rule());
    let s = session(&[&role, &regions, &ebs], 3).await;
    let err = s.collect(&parse_slice(&format!("{ACCOUNT}/us-east-1/ebs")).unwrap()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, CollectError::Transient { retry_after: Some(_), .. }));
    assert!(err.message().contains("RequestLimitExceeded"), "{}", err.message());
    assert_eq!(ebs.num_calls(), 3, "the configured attempts, then give up");
}

#[tokio::test]
async fn server_errors_are_transient() {
    let keys = mock!(aws_sdk_kms::Client::list_keys).sequence().http_status(500, None).repeatedly().build();
    let (role, regions) = (assume_role_ok(), regions_rule());
    let s = session(&[&role, &regions, &keys], 2).await;
    let err = s.collect(&parse_slice(&format!("{ACCOUNT}/us-east-1/kms")).unwrap()).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(keys.num_calls(), 2);
}

#[tokio::test]
async fn rejected_credentials_are_permanent() {
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>1</RequestId></ErrorResponse>";
    let policy = mock!(aws_sdk_iam::Client::get_account_password_policy)
        .sequence()
        .http_status(403, Some(body.to_owned()))
        .build();
    let generate = mock!(aws_sdk_iam::Client::generate_credential_report).then_output(|| {
        aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput::builder()
            .state(aws_sdk_iam::types::ReportStateType::Complete)
            .build()
    });
    let get = mock!(aws_sdk_iam::Client::get_credential_report).then_output(|| report_output(CSV));
    let users = mock!(aws_sdk_iam::Client::list_users).then_output(|| {
        aws_sdk_iam::operation::list_users::ListUsersOutput::builder().set_users(Some(vec![])).build().unwrap()
    });
    let role = assume_role_ok();
    let s = session(&[&role, &generate, &get, &users, &policy], 3).await;
    let err = s.collect(&parse_slice(&format!("{ACCOUNT}/global/iam")).unwrap()).await.unwrap_err();
    assert!(matches!(err, CollectError::Permanent { reason: PermanentReason::InvalidCredentials, .. }), "{err:?}");
}

const CSV: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2014-05-12T21:05:23+00:00,not_supported,2014-06-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
old-keys,arn:aws:iam::111122223333:user/old-keys,2019-01-01T00:00:00+00:00,true,no_information,2019-01-01T00:00:00+00:00,N/A,false,true,2019-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

fn report_output(csv: &'static str) -> aws_sdk_iam::operation::get_credential_report::GetCredentialReportOutput {
    aws_sdk_iam::operation::get_credential_report::GetCredentialReportOutput::builder()
        .content(Blob::new(csv))
        .report_format(aws_sdk_iam::types::ReportFormatType::TextCsv)
        .generated_time(DateTime::from_secs(1_700_000_000))
        .build()
}

#[tokio::test]
async fn the_credential_report_is_polled_until_complete_and_old_credentials_fail() {
    // GIVEN IAM needs two polls to generate the report, and the account has no password policy
    let polls = Arc::new(AtomicUsize::new(0));
    let seen = polls.clone();
    let generate = mock!(aws_sdk_iam::Client::generate_credential_report).then_compute_output(move |_| {
        use aws_sdk_iam::types::ReportStateType as S;
        let state = match seen.fetch_add(1, Ordering::SeqCst) {
            0 => S::Started,
            1 => S::Inprogress,
            _ => S::Complete,
        };
        aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput::builder()
            .state(state)
            .build()
    });
    let get = mock!(aws_sdk_iam::Client::get_credential_report).then_output(|| report_output(CSV));
    let users = mock!(aws_sdk_iam::Client::list_users).then_output(|| {
        aws_sdk_iam::operation::list_users::ListUsersOutput::builder().set_users(Some(vec![])).build().unwrap()
    });
    let no_policy = mock!(aws_sdk_iam::Client::get_account_password_policy).then_error(|| {
        aws_sdk_iam::operation::get_account_password_policy::GetAccountPasswordPolicyError::NoSuchEntityException(
            aws_sdk_iam::types::error::NoSuchEntityException::builder()
                .message("The Password Policy with domain name 111122223333 cannot be found.")
                .meta(aws_smithy_types::error::ErrorMetadata::builder().code("NoSuchEntity").build())
                .build(),
        )
    });
    let role = assume_role_ok();
    let s = session(&[&role, &generate, &get, &users, &no_policy], 3).await;
    // WHEN the IAM slice is collected
    let out = s.collect(&parse_slice(&format!("{ACCOUNT}/global/iam")).unwrap()).await.unwrap();
    // THEN the report was generated (3 polls), read once, and parsed with its placeholders
    assert_eq!(polls.load(Ordering::SeqCst), 3);
    assert_eq!(get.num_calls(), 1);
    assert_eq!(
        out[0].api_calls,
        vec![
            "iam:GenerateCredentialReport",
            "iam:GenerateCredentialReport",
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport"
        ]
    );
    let Evidence::AwsCredentialReport(report) = &out[0].evidence else { panic!("report") };
    assert_eq!(report.generated_at.timestamp(), 1_700_000_000);
    assert_eq!(report.rows.len(), 2);
    // AND the checks judge them: a 2019 key fails rotation and use, the root row is read
    let r = by_resource(&evaluate(&out));
    let old = "arn:aws:iam::111122223333:user/old-keys";
    assert_eq!(status(&r, "aws.iam.access_keys_rotated_90_days", old), Status::Fail);
    assert_eq!(status(&r, "aws.iam.credentials_unused_90_days", old), Status::Fail);
    assert_eq!(status(&r, "aws.iam.user_mfa_console", old), Status::Fail);
    assert_eq!(status(&r, "aws.iam.root_mfa", "arn:aws:iam::111122223333:root"), Status::Pass);
    assert_eq!(status(&r, "aws.iam.root_recent_use", "arn:aws:iam::111122223333:root"), Status::Pass);
    // AND no password policy is a visible state that fails, not a gap
    let Evidence::AwsPasswordPolicy(p) = &out[2].evidence else { panic!("password policy") };
    assert_eq!(p.policy, None);
    assert!(out[2].context.permission_errors.is_empty());
    assert_eq!(status(&r, "aws.iam.password_policy_min_length", ACCOUNT), Status::Fail);
}

#[tokio::test]
async fn a_credential_report_that_never_completes_is_transient() {
    let generate = mock!(aws_sdk_iam::Client::generate_credential_report).then_output(|| {
        aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput::builder()
            .state(aws_sdk_iam::types::ReportStateType::Inprogress)
            .build()
    });
    let role = assume_role_ok();
    let s = session(&[&role, &generate], 3).await;
    let err = s.collect(&parse_slice(&format!("{ACCOUNT}/global/iam")).unwrap()).await.unwrap_err();
    assert!(err.is_transient());
    assert!(err.message().contains("credential report"), "{}", err.message());
    assert!(generate.num_calls() >= 3, "polled with a doubling wait until the bound");
}

fn json_response(body: &'static str) -> aws_smithy_runtime_api::http::Response {
    let mut r = aws_smithy_runtime_api::http::Response::new(
        200.try_into().unwrap(),
        aws_smithy_types::body::SdkBody::from(body),
    );
    r.headers_mut().insert("content-type", "application/x-amz-json-1.1");
    r
}

#[tokio::test]
async fn config_rule_compliance_reads_every_page_of_the_documented_response() {
    // GIVEN AWS Config answers with the recorded, documented JSON: one recorder that records
    // everything, and rule compliance over two pages linked by NextToken
    let recorders = mock!(aws_sdk_config::Client::describe_configuration_recorders).then_http_response(|| {
        json_response(
            r#"{"ConfigurationRecorders":[{"name":"default","roleARN":"arn:aws:iam::111122223333:role/config","recordingGroup":{"allSupported":true,"includeGlobalResourceTypes":true,"resourceTypes":[],"recordingStrategy":{"useOnly":"ALL_SUPPORTED_RESOURCE_TYPES"}}}]}"#,
        )
    });
    let status_rule = mock!(aws_sdk_config::Client::describe_configuration_recorder_status).then_http_response(|| {
        json_response(
            r#"{"ConfigurationRecordersStatus":[{"name":"default","lastStartTime":1.7E9,"recording":true,"lastStatus":"SUCCESS","lastStatusChangeTime":1.7E9}]}"#,
        )
    });
    let [page1, page2] = config_rule_pages();
    let token = page_one_token();
    let first = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.next_token().is_none())
        .then_http_response(move || json_response(page1));
    let second = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(move |r| r.next_token() == Some(token.as_str()))
        .then_http_response(move || json_response(page2));
    let (role, regions) = (assume_role_ok(), regions_rule());
    let s = session(&[&role, &regions, &recorders, &status_rule, &first, &second], 3).await;
    // WHEN the Config slice of an opted-in region is collected
    let out = s.collect(&parse_slice(&format!("{ACCOUNT}/ap-southeast-3/config")).unwrap()).await.unwrap();
    // THEN the recorder is read with its status and the region's opt-in
    let Evidence::AwsConfigRecorders(rec) = &out[0].evidence else { panic!("recorders") };
    assert_eq!(rec.regions[0].opt_in_status, OptInStatus::OptedIn);
    let recorder = &rec.regions[0].recorders.as_ref().unwrap()[0];
    assert!(recorder.recording && recorder.all_supported && recorder.include_global_resource_types);
    // AND both pages of rules are there, typed, in the slice's region
    let Evidence::AwsConfigRuleCompliance(rules) = &out[1].evidence else { panic!("rules") };
    let summary: Vec<(&str, ComplianceType, Option<u32>)> =
        rules.rules.iter().map(|r| (r.rule_name.as_str(), r.compliance_type, r.non_compliant_resource_count)).collect();
    assert_eq!(
        summary,
        vec![
            ("s3-bucket-versioning-enabled", ComplianceType::NonCompliant, Some(3)),
            ("iam-password-policy", ComplianceType::Compliant, None),
            ("ec2-ebs-encryption-by-default", ComplianceType::InsufficientData, None),
            ("restricted-ssh", ComplianceType::NotApplicable, None),
        ]
    );
    assert!(rules.rules.iter().all(|r| r.region == "ap-southeast-3"));
    assert_eq!(first.num_calls(), 1);
    assert_eq!(second.num_calls(), 1);
    assert_eq!(
        out[1].api_calls,
        vec!["config:DescribeComplianceByConfigRule", "config:DescribeComplianceByConfigRule"]
    );
    let r = by_resource(&evaluate(&out));
    assert_eq!(status(&r, "aws.config.recorder_all_regions", "ap-southeast-3"), Status::Pass);
    assert_eq!(status(&r, "aws.config.rule_compliance", "ap-southeast-3/s3-bucket-versioning-enabled"), Status::Fail);
}

#[tokio::test]
async fn a_region_not_opted_in_is_not_queried_and_not_applicable() {
    let (role, regions) = (assume_role_ok(), regions_rule());
    let s = session(&[&role, &regions], 3).await;
    let out = s.collect(&parse_slice(&format!("{ACCOUNT}/af-south-1/guardduty")).unwrap()).await.unwrap();
    assert_eq!(out[0].api_calls, vec!["ec2:DescribeRegions"]);
    let r = by_resource(&evaluate(&out));
    assert_eq!(status(&r, "aws.guardduty.enabled_all_regions", "af-south-1"), Status::NotApplicable);
    // AND the enabled regions leave it out
    assert_eq!(s.enabled_regions().await.unwrap(), vec!["ap-southeast-3", "eu-west-1", "us-east-1"]);
}

#[tokio::test]
async fn a_refused_listing_is_a_permission_error_for_the_whole_scope() {
    // GIVEN the role may not list buckets, and the account has no account-level block
    let denied = mock!(aws_sdk_s3::Client::list_buckets).then_error(|| {
        aws_sdk_s3::operation::list_buckets::ListBucketsError::generic(
            aws_smithy_types::error::ErrorMetadata::builder().code("AccessDenied").message("Access Denied").build(),
        )
    });
    let pab = mock!(aws_sdk_s3control::Client::get_public_access_block).then_error(|| {
        aws_sdk_s3control::operation::get_public_access_block::GetPublicAccessBlockError::generic(
            aws_smithy_types::error::ErrorMetadata::builder().code("NoSuchPublicAccessBlockConfiguration").build(),
        )
    });
    let role = assume_role_ok();
    let s = session(&[&role, &denied, &pab], 3).await;
    // WHEN the S3 slice is collected
    let out = s.collect(&parse_slice(&format!("{ACCOUNT}/global/s3")).unwrap()).await.expect("not an error");
    // THEN the refusal is recorded for the scope, and no bucket check can pass
    let ctx = &out[0].context;
    assert_eq!(ctx.permission_errors.len(), 1);
    assert_eq!(ctx.permission_errors[0].action, "s3:ListAllMyBuckets");
    assert_eq!(ctx.permission_errors[0].resource, None);
    let r = by_resource(&evaluate(&out));
    assert_eq!(
        status(&r, "aws.s3.bucket_versioning", ACCOUNT),
        Status::Inconclusive(InconclusiveReason::PermissionDenied { action: "s3:ListAllMyBuckets".into() })
    );
    // AND the account-level block, readable, is judged on its own: absent means all four off
    assert_eq!(status(&r, "aws.s3.account_public_access_block", ACCOUNT), Status::Fail);
}

#[tokio::test]
async fn role_credentials_about_to_expire_are_renewed_by_assuming_the_role_again() {
    // GIVEN STS hands out credentials that expire in 30 seconds
    let short = mock!(aws_sdk_sts::Client::assume_role).then_output(|| {
        aws_sdk_sts::operation::assume_role::AssumeRoleOutput::builder()
            .credentials(
                aws_sdk_sts::types::Credentials::builder()
                    .access_key_id("ASIASHORTLIVED000001")
                    .secret_access_key("s")
                    .session_token("t")
                    .expiration(DateTime::from_secs(chrono::Utc::now().timestamp() + 30))
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let regions = regions_rule();
    let s = session(&[&short, &regions], 3).await;
    assert_eq!(short.num_calls(), 1, "opening the session assumes the role once");
    // WHEN the session makes its first call
    s.enabled_regions().await.unwrap();
    // THEN the role was assumed again rather than signing with credentials about to lapse
    assert_eq!(short.num_calls(), 2);
}
