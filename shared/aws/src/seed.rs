//! A known demo account, built in the moto emulator: the AWS connector's tests collect it and
//! assert every check's verdict, and `infra/dev/seed-aws` (through the kushim CLI) builds it for
//! demos. Seeding writes to whatever account `sdk`'s credentials act in; it is meant for moto and
//! refuses nothing, so never point it at a real account.
//!
//! Seeding is repeatable: what already exists (users, keys, buckets, trails, aliases, detectors)
//! is reused, so running it twice gives the same account.
//!
//! # The account
//!
//! Primary region `us-east-1`, secondary region `eu-west-1`. `<p>` is `kushim-demo-<account id>`.
//!
//! - Role `kushim-demo-reader`, trusting the account itself, with an inline policy granting
//!   exactly [`crate::role_actions`]; the external id is `kushim-demo-<account id>`.
//! - Password policy: 8 characters, numbers only, remembers 3, never expires.
//! - Users: `demo-console-mfa` (console password and a virtual MFA device),
//!   `demo-console-no-mfa` (console password only), `demo-key-only` (one access key),
//!   `demo-two-keys` (two active access keys), `demo-direct-admin` (AdministratorAccess, or a
//!   customer-managed copy `kushim-demo-full-access` where the emulator lacks AWS's policies),
//!   `demo-inline-admin` (inline `*` on `*`), `demo-scoped` (customer-managed
//!   `kushim-demo-read-buckets`, `s3:Get*` only).
//! - Account Block Public Access: BlockPublicAcls and IgnorePublicAcls on, the other two off.
//! - Buckets: `<p>-kms` (SSE-KMS, all four public access blocks, TLS-only policy, versioned, Object
//!   Lock), `<p>-sse-s3` (SSE-S3 only), `<p>-plain` (no default encryption configured), `<p>-public`
//!   (a policy granting `s3:GetObject` to everyone), `<p>-tls` (TLS-only policy, versioning
//!   suspended), `<p>-trail` in `eu-west-1` (CloudTrail and Config deliveries).
//! - Trails: `demo-main` (multi-region, log file validation, KMS-encrypted, logging, no CloudWatch
//!   Logs) in `us-east-1`; `demo-legacy` (single-region, no validation, no KMS, not logging) in
//!   `eu-west-1`.
//! - KMS in `us-east-1`: `alias/kushim-demo-rotating` (rotation on), `alias/kushim-demo-static`
//!   (rotation off), `alias/kushim-demo-signing` (RSA signing key).
//! - GuardDuty: an enabled detector in `us-east-1` only. EBS encryption by default: `us-east-1`
//!   only. AWS Config: a recording recorder (all resources, global ones included) in `us-east-1`.
//!
//! # Expected findings (with every permission granted)
//!
//! | check | pass | fail | other |
//! | --- | --- | --- | --- |
//! | `aws.iam.user_mfa_console` | demo-console-mfa | demo-console-no-mfa | others not applicable |
//! | `aws.iam.single_active_access_key` | demo-key-only | demo-two-keys | others not applicable |
//! | `aws.iam.access_keys_rotated_90_days` | demo-key-only, demo-two-keys | | others not applicable |
//! | `aws.iam.credentials_unused_45_days` / `_90_days` | every user with a credential (all new) | | demo-direct-admin, demo-inline-admin, demo-scoped not applicable |
//! | `aws.iam.root_*` | | | inconclusive: moto's report has no root row |
//! | `aws.iam.no_direct_admin_policy` | every other user | demo-direct-admin, demo-inline-admin | |
//! | `aws.iam.password_policy_*` (4 checks) | | the account | |
//! | `aws.s3.bucket_kms_encryption` | `<p>-kms` | every other bucket | |
//! | `aws.s3.bucket_public_access_block` | `<p>-kms` | every other bucket | |
//! | `aws.s3.account_public_access_block` | | the account | |
//! | `aws.s3.bucket_policy_not_public` | every other bucket | `<p>-public` | |
//! | `aws.s3.bucket_tls_only` | `<p>-kms`, `<p>-tls` | every other bucket | |
//! | `aws.s3.bucket_versioning` | `<p>-kms` | every other bucket (`<p>-tls` suspended) | |
//! | `aws.s3.bucket_object_lock` | `<p>-kms` | every other bucket | |
//! | `aws.cloudtrail.multi_region_logging` | the account | | |
//! | `aws.cloudtrail.log_file_validation` | demo-main | demo-legacy | |
//! | `aws.cloudtrail.kms_encryption` | demo-main | demo-legacy | |
//! | `aws.cloudtrail.cloudwatch_logs` | | both trails | |
//! | `aws.kms.customer_key_rotation` | rotating key | static key | signing key not applicable |
//! | `aws.guardduty.enabled_all_regions` | us-east-1 | every other enabled region | |
//! | `aws.ec2.ebs_default_encryption` | us-east-1 | every other enabled region | |
//! | `aws.config.recorder_all_regions` | us-east-1 | every other enabled region | |
//!
//! moto cannot backdate access keys or record credential use, so the 90-day rotation and the
//! unused-credential failures cannot be seeded; the credential report parser's unit tests cover
//! old and unused credentials instead. moto has no Config rule evaluations
//! (`DescribeComplianceByConfigRule` answers 500): tests replay recorded responses for it.

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;

use crate::error::sanitize;
use crate::permissions::role_actions;

/// The primary region of the demo account.
pub const PRIMARY_REGION: &str = "us-east-1";
/// The secondary region of the demo account.
pub const SECONDARY_REGION: &str = "eu-west-1";
/// The name of the role Kushim assumes in the demo account.
pub const ROLE_NAME: &str = "kushim-demo-reader";

/// A seeding step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("seeding failed at {step}: {message}")]
    Call { step: &'static str, message: String },
}

/// What was seeded: enough to assume the role and to name every resource in assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedSummary {
    pub account_id: String,
    pub role_arn: String,
    pub external_id: String,
    pub primary_region: String,
    pub secondary_region: String,
    pub users: SeedUsers,
    pub buckets: SeedBuckets,
    /// Multi-region, validated, KMS-encrypted, logging.
    pub trail_main_arn: String,
    /// Single-region (secondary), not validated, not encrypted, not logging.
    pub trail_legacy_arn: String,
    pub key_rotating_arn: String,
    pub key_static_arn: String,
    pub key_signing_arn: String,
}

/// The demo users' ARNs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedUsers {
    pub console_mfa: String,
    pub console_no_mfa: String,
    pub key_only: String,
    pub two_keys: String,
    pub direct_admin: String,
    pub inline_admin: String,
    pub scoped: String,
}

/// The demo buckets' names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedBuckets {
    pub kms: String,
    pub sse_s3: String,
    pub plain: String,
    pub public: String,
    pub tls_only: String,
    /// In the secondary region; receives CloudTrail and Config deliveries.
    pub trail: String,
}

impl SeedBuckets {
    /// Every bucket name.
    pub fn all(&self) -> [&str; 6] {
        [&self.kms, &self.sse_s3, &self.plain, &self.public, &self.tls_only, &self.trail]
    }
}

type Sdk<T, E> = Result<T, SdkError<E, HttpResponse>>;

/// Unwraps one step's answer.
fn step<T, E>(name: &'static str, r: Sdk<T, E>) -> Result<T, SeedError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    r.map_err(|e| SeedError::Call { step: name, message: describe(&e) })
}

/// Unwraps one step's answer; `None` when the error code says the thing already exists.
fn step_or_exists<T, E>(name: &'static str, r: Sdk<T, E>, exists: &[&str]) -> Result<Option<T>, SeedError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().and_then(|s| s.code()).is_some_and(|c| exists.contains(&c)) => Ok(None),
        Err(e) => Err(SeedError::Call { step: name, message: describe(&e) }),
    }
}

fn describe<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match e.as_service_error() {
        Some(s) => sanitize(&format!("{}: {}", s.code().unwrap_or("unknown"), s.message().unwrap_or(""))),
        None => sanitize(&aws_smithy_types::error::display::DisplayErrorContext(e).to_string()),
    }
}

const EXISTS_IAM: &[&str] = &["EntityAlreadyExists"];
const EXISTS_S3: &[&str] = &["BucketAlreadyOwnedByYou", "BucketAlreadyExists"];

/// A random 12-digit account id, so each test or demo gets an emulator account of its own.
pub fn fresh_account_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 900_000_000_000 + 100_000_000_000;
    n.to_string()
}

/// Credentials acting in `account_id` of the emulator: moto lets anyone assume any role ARN, and
/// the credentials it returns act in the role's account. (On real AWS this assumes a role named
/// `seeder` and fails unless one exists.)
pub async fn emulator_account_config(base: &SdkConfig, account_id: &str) -> SdkConfig {
    let sts = aws_sdk_sts::Client::new(base);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account_id}:role/seeder"))
        .role_session_name("seeder")
        .send()
        .await
        .expect("the emulator lets the seeder into a fresh account");
    let c = out.credentials().expect("AssumeRole returns credentials");
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "seeder",
    );
    base.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build()
}

/// Builds the demo account described in the module documentation in the account `sdk` acts in
/// (against moto: the account its credentials map to) and returns what it made.
pub async fn seed_demo_account(sdk: &SdkConfig) -> Result<SeedSummary, SeedError> {
    let regional = |r: &str| sdk.to_builder().region(aws_config::Region::new(r.to_owned())).build();
    let primary = regional(PRIMARY_REGION);
    let secondary = regional(SECONDARY_REGION);

    let sts = aws_sdk_sts::Client::new(&primary);
    let who = step("sts:GetCallerIdentity", sts.get_caller_identity().send().await)?;
    let account_id = who.account().unwrap_or_default().to_owned();
    let prefix = format!("kushim-demo-{account_id}");
    let external_id = prefix.clone();

    let iam = aws_sdk_iam::Client::new(&primary);
    let role_arn = seed_role(&iam, &account_id, &external_id).await?;
    seed_password_policy(&iam).await?;
    let users = seed_users(&iam, &account_id).await?;

    let kms = aws_sdk_kms::Client::new(&primary);
    let key_rotating_arn = seed_key(&kms, "alias/kushim-demo-rotating", KeyKind::Rotating).await?;
    let key_static_arn = seed_key(&kms, "alias/kushim-demo-static", KeyKind::Static).await?;
    let key_signing_arn = seed_key(&kms, "alias/kushim-demo-signing", KeyKind::Signing).await?;

    let path_style = sdk.endpoint_url().is_some();
    let s3_client = |cfg: &SdkConfig| {
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(cfg).force_path_style(path_style).build())
    };
    let s3 = s3_client(&primary);
    let s3_secondary = s3_client(&secondary);
    let buckets = SeedBuckets {
        kms: format!("{prefix}-kms"),
        sse_s3: format!("{prefix}-sse-s3"),
        plain: format!("{prefix}-plain"),
        public: format!("{prefix}-public"),
        tls_only: format!("{prefix}-tls"),
        trail: format!("{prefix}-trail"),
    };
    seed_buckets(&s3, &s3_secondary, &buckets, &key_static_arn).await?;
    seed_account_public_access_block(sdk, &primary, &account_id).await?;

    let (trail_main_arn, trail_legacy_arn) = seed_trails(&primary, &secondary, &buckets.trail, &key_static_arn).await?;
    seed_regional_services(&primary, &role_arn, &buckets.trail).await?;

    Ok(SeedSummary {
        account_id,
        role_arn,
        external_id,
        primary_region: PRIMARY_REGION.to_owned(),
        secondary_region: SECONDARY_REGION.to_owned(),
        users,
        buckets,
        trail_main_arn,
        trail_legacy_arn,
        key_rotating_arn,
        key_static_arn,
        key_signing_arn,
    })
}

async fn seed_role(iam: &aws_sdk_iam::Client, account_id: &str, external_id: &str) -> Result<String, SeedError> {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
        }]
    });
    let req = iam.create_role().role_name(ROLE_NAME).assume_role_policy_document(trust.to_string()).send().await;
    step_or_exists("iam:CreateRole", req, EXISTS_IAM)?;
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "KushimReadOnly", "Effect": "Allow", "Action": role_actions(), "Resource": "*"}]
    });
    let req = iam
        .put_role_policy()
        .role_name(ROLE_NAME)
        .policy_name("kushim-read-only")
        .policy_document(policy.to_string())
        .send()
        .await;
    step("iam:PutRolePolicy", req)?;
    let role = step("iam:GetRole", iam.get_role().role_name(ROLE_NAME).send().await)?;
    Ok(role.role().map(|r| r.arn().to_owned()).unwrap_or_default())
}

async fn seed_password_policy(iam: &aws_sdk_iam::Client) -> Result<(), SeedError> {
    let req = iam
        .update_account_password_policy()
        .minimum_password_length(8)
        .require_numbers(true)
        .require_symbols(false)
        .require_uppercase_characters(false)
        .require_lowercase_characters(false)
        .allow_users_to_change_password(true)
        .password_reuse_prevention(3)
        .send()
        .await;
    step("iam:UpdateAccountPasswordPolicy", req).map(|_| ())
}

async fn seed_users(iam: &aws_sdk_iam::Client, account_id: &str) -> Result<SeedUsers, SeedError> {
    let arn = |name: &str| format!("arn:aws:iam::{account_id}:user/{name}");
    for name in [
        "demo-console-mfa",
        "demo-console-no-mfa",
        "demo-key-only",
        "demo-two-keys",
        "demo-direct-admin",
        "demo-inline-admin",
        "demo-scoped",
    ] {
        step_or_exists("iam:CreateUser", iam.create_user().user_name(name).send().await, EXISTS_IAM)?;
    }
    for name in ["demo-console-mfa", "demo-console-no-mfa"] {
        let req = iam.create_login_profile().user_name(name).password("Demo-password-1234!").send().await;
        step_or_exists("iam:CreateLoginProfile", req, EXISTS_IAM)?;
    }
    let mfa = step("iam:ListMFADevices", iam.list_mfa_devices().user_name("demo-console-mfa").send().await)?;
    if mfa.mfa_devices().is_empty() {
        let device = step(
            "iam:CreateVirtualMFADevice",
            iam.create_virtual_mfa_device().virtual_mfa_device_name("demo-console-mfa").send().await,
        )?;
        let serial = device.virtual_mfa_device().map(|d| d.serial_number().to_owned()).unwrap_or_default();
        let req = iam
            .enable_mfa_device()
            .user_name("demo-console-mfa")
            .serial_number(serial)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await;
        step("iam:EnableMFADevice", req)?;
    }
    for (name, wanted) in [("demo-key-only", 1), ("demo-two-keys", 2)] {
        let keys = step("iam:ListAccessKeys", iam.list_access_keys().user_name(name).send().await)?;
        for _ in keys.access_key_metadata().len()..wanted {
            // The secret in the answer is dropped unread.
            step("iam:CreateAccessKey", iam.create_access_key().user_name(name).send().await)?;
        }
    }

    let full_access =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let attached = iam.attach_user_policy().user_name("demo-direct-admin").policy_arn(admin).send().await;
    if let Err(e) = attached {
        // The emulator does not load AWS-managed policies by default: attach an equivalent.
        if e.as_service_error().and_then(|s| s.code()) != Some("NoSuchEntity") {
            return Err(SeedError::Call { step: "iam:AttachUserPolicy", message: describe(&e) });
        }
        let copy = customer_policy(iam, account_id, "kushim-demo-full-access", &full_access).await?;
        let req = iam.attach_user_policy().user_name("demo-direct-admin").policy_arn(copy).send().await;
        step("iam:AttachUserPolicy", req)?;
    }
    let req = iam
        .put_user_policy()
        .user_name("demo-inline-admin")
        .policy_name("everything")
        .policy_document(full_access.to_string())
        .send()
        .await;
    step("iam:PutUserPolicy", req)?;
    let read =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]});
    let scoped = customer_policy(iam, account_id, "kushim-demo-read-buckets", &read).await?;
    step("iam:AttachUserPolicy", iam.attach_user_policy().user_name("demo-scoped").policy_arn(scoped).send().await)?;

    Ok(SeedUsers {
        console_mfa: arn("demo-console-mfa"),
        console_no_mfa: arn("demo-console-no-mfa"),
        key_only: arn("demo-key-only"),
        two_keys: arn("demo-two-keys"),
        direct_admin: arn("demo-direct-admin"),
        inline_admin: arn("demo-inline-admin"),
        scoped: arn("demo-scoped"),
    })
}

/// Creates (or reuses) a customer-managed policy and returns its ARN.
async fn customer_policy(
    iam: &aws_sdk_iam::Client,
    account_id: &str,
    name: &str,
    document: &serde_json::Value,
) -> Result<String, SeedError> {
    let req = iam.create_policy().policy_name(name).policy_document(document.to_string()).send().await;
    step_or_exists("iam:CreatePolicy", req, EXISTS_IAM)?;
    Ok(format!("arn:aws:iam::{account_id}:policy/{name}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rotating,
    Static,
    Signing,
}

/// Creates (or finds, by alias) one KMS key and returns its ARN.
async fn seed_key(kms: &aws_sdk_kms::Client, alias: &str, kind: KeyKind) -> Result<String, SeedError> {
    if let Ok(found) = kms.describe_key().key_id(alias).send().await {
        return Ok(found.key_metadata().and_then(|m| m.arn()).unwrap_or_default().to_owned());
    }
    let mut req = kms.create_key().description(format!("Kushim demo key ({alias})"));
    if kind == KeyKind::Signing {
        req =
            req.key_spec(aws_sdk_kms::types::KeySpec::Rsa2048).key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify);
    }
    let created = step("kms:CreateKey", req.send().await)?;
    let meta = created.key_metadata().cloned();
    let key_id = meta.as_ref().map(|m| m.key_id().to_owned()).unwrap_or_default();
    let arn = meta.as_ref().and_then(|m| m.arn()).unwrap_or_default().to_owned();
    step("kms:CreateAlias", kms.create_alias().alias_name(alias).target_key_id(&key_id).send().await)?;
    if kind == KeyKind::Rotating {
        step("kms:EnableKeyRotation", kms.enable_key_rotation().key_id(&key_id).send().await)?;
    }
    Ok(arn)
}

async fn seed_buckets(
    s3: &aws_sdk_s3::Client,
    s3_secondary: &aws_sdk_s3::Client,
    b: &SeedBuckets,
    kms_key_arn: &str,
) -> Result<(), SeedError> {
    use aws_sdk_s3::types::{
        BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration,
        ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
        ServerSideEncryptionRule, VersioningConfiguration,
    };
    for name in [&b.sse_s3, &b.plain, &b.public, &b.tls_only] {
        step_or_exists("s3:CreateBucket", s3.create_bucket().bucket(name).send().await, EXISTS_S3)?;
    }
    let req = s3.create_bucket().bucket(&b.kms).object_lock_enabled_for_bucket(true).send().await;
    step_or_exists("s3:CreateBucket", req, EXISTS_S3)?;
    let req = s3_secondary
        .create_bucket()
        .bucket(&b.trail)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(SECONDARY_REGION))
                .build(),
        )
        .send()
        .await;
    step_or_exists("s3:CreateBucket", req, EXISTS_S3)?;

    let encryption = |algorithm: ServerSideEncryption, key: Option<&str>| {
        let mut default = ServerSideEncryptionByDefault::builder().sse_algorithm(algorithm);
        if let Some(k) = key {
            default = default.kms_master_key_id(k);
        }
        ServerSideEncryptionConfiguration::builder()
            .rules(
                ServerSideEncryptionRule::builder()
                    .apply_server_side_encryption_by_default(default.build().expect("algorithm set"))
                    .build(),
            )
            .build()
            .expect("one rule")
    };
    let req = s3
        .put_bucket_encryption()
        .bucket(&b.kms)
        .server_side_encryption_configuration(encryption(ServerSideEncryption::AwsKms, Some(kms_key_arn)))
        .send()
        .await;
    step("s3:PutBucketEncryption", req)?;
    for name in [&b.sse_s3, &b.public, &b.tls_only] {
        let req = s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(encryption(ServerSideEncryption::Aes256, None))
            .send()
            .await;
        step("s3:PutBucketEncryption", req)?;
    }
    let req = s3_secondary
        .put_bucket_encryption()
        .bucket(&b.trail)
        .server_side_encryption_configuration(encryption(ServerSideEncryption::Aes256, None))
        .send()
        .await;
    step("s3:PutBucketEncryption", req)?;

    let all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    let req = s3.put_public_access_block().bucket(&b.kms).public_access_block_configuration(all).send().await;
    step("s3:PutPublicAccessBlock", req)?;

    let versioning = |status| VersioningConfiguration::builder().status(status).build();
    let req = s3
        .put_bucket_versioning()
        .bucket(&b.kms)
        .versioning_configuration(versioning(BucketVersioningStatus::Enabled))
        .send()
        .await;
    step("s3:PutBucketVersioning", req)?;
    for status in [BucketVersioningStatus::Enabled, BucketVersioningStatus::Suspended] {
        let req =
            s3.put_bucket_versioning().bucket(&b.tls_only).versioning_configuration(versioning(status)).send().await;
        step("s3:PutBucketVersioning", req)?;
    }

    let tls_only = |bucket: &str| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            }]
        })
        .to_string()
    };
    step("s3:PutBucketPolicy", s3.put_bucket_policy().bucket(&b.kms).policy(tls_only(&b.kms)).send().await)?;
    step("s3:PutBucketPolicy", s3.put_bucket_policy().bucket(&b.tls_only).policy(tls_only(&b.tls_only)).send().await)?;
    let public = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "PublicRead",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{}/*", b.public)
        }]
    });
    step("s3:PutBucketPolicy", s3.put_bucket_policy().bucket(&b.public).policy(public.to_string()).send().await)?;
    Ok(())
}

async fn seed_account_public_access_block(
    sdk: &SdkConfig,
    primary: &SdkConfig,
    account_id: &str,
) -> Result<(), SeedError> {
    let mut builder = aws_sdk_s3control::config::Builder::from(primary);
    if let Some(url) = sdk.endpoint_url() {
        builder = builder.endpoint_resolver(crate::session::FixedEndpoint(url.to_owned()));
    }
    let control = aws_sdk_s3control::Client::from_conf(builder.build());
    let partial = aws_sdk_s3control::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    let req = control
        .put_public_access_block()
        .account_id(account_id)
        .public_access_block_configuration(partial)
        .send()
        .await;
    step("s3control:PutPublicAccessBlock", req).map(|_| ())
}

async fn seed_trails(
    primary: &SdkConfig,
    secondary: &SdkConfig,
    bucket: &str,
    kms_key_arn: &str,
) -> Result<(String, String), SeedError> {
    let ct = aws_sdk_cloudtrail::Client::new(primary);
    let exists = &["TrailAlreadyExistsException"];
    let req = ct
        .create_trail()
        .name("demo-main")
        .s3_bucket_name(bucket)
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .kms_key_id(kms_key_arn)
        .send()
        .await;
    step_or_exists("cloudtrail:CreateTrail", req, exists)?;
    step("cloudtrail:StartLogging", ct.start_logging().name("demo-main").send().await)?;
    let ct_eu = aws_sdk_cloudtrail::Client::new(secondary);
    let req = ct_eu.create_trail().name("demo-legacy").s3_bucket_name(bucket).send().await;
    step_or_exists("cloudtrail:CreateTrail", req, exists)?;
    let arn = |c: &aws_sdk_cloudtrail::operation::get_trail::GetTrailOutput| {
        c.trail().and_then(|t| t.trail_arn()).unwrap_or_default().to_owned()
    };
    let main = step("cloudtrail:GetTrail", ct.get_trail().name("demo-main").send().await)?;
    let legacy = step("cloudtrail:GetTrail", ct_eu.get_trail().name("demo-legacy").send().await)?;
    Ok((arn(&main), arn(&legacy)))
}

async fn seed_regional_services(primary: &SdkConfig, role_arn: &str, bucket: &str) -> Result<(), SeedError> {
    let gd = aws_sdk_guardduty::Client::new(primary);
    let detectors = step("guardduty:ListDetectors", gd.list_detectors().send().await)?;
    if detectors.detector_ids().is_empty() {
        step("guardduty:CreateDetector", gd.create_detector().enable(true).send().await)?;
    }

    let ec2 = aws_sdk_ec2::Client::new(primary);
    step("ec2:EnableEbsEncryptionByDefault", ec2.enable_ebs_encryption_by_default().send().await)?;

    use aws_sdk_config::types::{ConfigurationRecorder, DeliveryChannel, RecordingGroup};
    let config = aws_sdk_config::Client::new(primary);
    let recorder = ConfigurationRecorder::builder()
        .name("default")
        .role_arn(role_arn)
        .recording_group(RecordingGroup::builder().all_supported(true).include_global_resource_types(true).build())
        .build();
    step(
        "config:PutConfigurationRecorder",
        config.put_configuration_recorder().configuration_recorder(recorder).send().await,
    )?;
    let channel = DeliveryChannel::builder().name("default").s3_bucket_name(bucket).build();
    step("config:PutDeliveryChannel", config.put_delivery_channel().delivery_channel(channel).send().await)?;
    step(
        "config:StartConfigurationRecorder",
        config.start_configuration_recorder().configuration_recorder_name("default").send().await,
    )?;
    Ok(())
}
