//! Creating the template's S3 bucket: Object Lock when the template enables it, versioning, the
//! public access block, default encryption and the default retention rule (mode and days) from the
//! template's `ObjectLockConfiguration`.
//!
//! Default encryption uses SSE-KMS with the account's AWS-managed `aws/s3` key: the template's own
//! customer-managed key is a separate resource this crate does not create.

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, DefaultRetention,
    ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, VersioningConfiguration,
};
use kushim_template::BucketDef;

use crate::ProvisionError;

fn unsupported(name: &str, message: impl Into<String>) -> ProvisionError {
    ProvisionError::Unsupported { resource: format!("bucket {name}"), message: message.into() }
}

/// The default-retention rule of `def`, checked: a known mode and a positive number of days.
fn retention_rule(def: &BucketDef, name: &str) -> Result<Option<ObjectLockRule>, ProvisionError> {
    let Some((mode, days)) = &def.default_retention else { return Ok(None) };
    if !def.object_lock_enabled {
        return Err(unsupported(name, "a default retention needs ObjectLockEnabled: true"));
    }
    let mode = match mode.as_str() {
        "COMPLIANCE" => ObjectLockRetentionMode::Compliance,
        "GOVERNANCE" => ObjectLockRetentionMode::Governance,
        other => return Err(unsupported(name, format!("unknown retention mode {other:?}"))),
    };
    let days =
        i32::try_from(*days).ok().filter(|d| *d > 0).ok_or_else(|| unsupported(name, "retention days must be ≥ 1"))?;
    let retention = DefaultRetention::builder().mode(mode).days(days).build();
    Ok(Some(ObjectLockRule::builder().default_retention(retention).build()))
}

/// Creates the bucket `name` as `def` describes, or reuses one this account already owns, then
/// applies versioning, the public access block, default encryption and the default retention.
/// Object Lock can only be turned on at creation, so a reused bucket without it fails at
/// `PutObjectLockConfiguration`.
pub async fn create_bucket(client: &Client, def: &BucketDef, name: &str) -> Result<(), ProvisionError> {
    let resource = format!("bucket {name}");
    let rule = retention_rule(def, name)?;
    // us-east-1 takes no location constraint; every other region requires its own.
    let location = client.config().region().map(|r| r.as_ref().to_owned()).filter(|r| r != "us-east-1").map(|r| {
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(r.as_str())).build()
    });
    let created = client
        .create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(def.object_lock_enabled)
        .set_create_bucket_configuration(location)
        .send()
        .await;
    match created {
        Ok(_) => tracing::info!(bucket = name, "created bucket"),
        Err(err) if matches!(err.as_service_error(), Some(CreateBucketError::BucketAlreadyOwnedByYou(_))) => {
            tracing::debug!(bucket = name, "bucket exists; reusing it");
        }
        Err(err) => return Err(ProvisionError::call(&resource, "CreateBucket", err)),
    }
    // Object Lock implies versioning; S3 turns it on by itself then, and saying so again is harmless.
    if def.versioning || def.object_lock_enabled {
        client
            .put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
            )
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "PutBucketVersioning", e))?;
    }
    if def.public_access_blocked {
        let block = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .block_public_policy(true)
            .ignore_public_acls(true)
            .restrict_public_buckets(true)
            .build();
        client
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "PutPublicAccessBlock", e))?;
    }
    if def.kms_encrypted {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .build()
            .map_err(|e| unsupported(name, e.to_string()))?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(true)
            .build();
        let config = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(|e| unsupported(name, e.to_string()))?;
        client
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "PutBucketEncryption", e))?;
    }
    if let Some(rule) = rule {
        let config =
            ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).rule(rule).build();
        client
            .put_object_lock_configuration()
            .bucket(name)
            .object_lock_configuration(config)
            .send()
            .await
            .map_err(|e| ProvisionError::call(&resource, "PutObjectLockConfiguration", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> BucketDef {
        kushim_template::bundled().buckets.first().expect("the template declares a bucket").clone()
    }

    #[test]
    fn retention_rule_comes_from_the_template() {
        let def = evidence();
        let (mode, days) = def.default_retention.clone().expect("the evidence bucket has a default retention");
        let rule = retention_rule(&def, "b").unwrap().unwrap();
        let retention = rule.default_retention().unwrap();
        assert_eq!(retention.mode().map(|m| m.as_str()), Some(mode.as_str()));
        assert_eq!(retention.days(), Some(days as i32));
    }

    #[test]
    fn bad_retention_is_refused() {
        let mut def = evidence();
        def.default_retention = Some(("FOREVER".into(), 1));
        assert!(retention_rule(&def, "b").is_err());
        def.default_retention = Some(("COMPLIANCE".into(), 0));
        assert!(retention_rule(&def, "b").is_err());
        def.default_retention = Some(("COMPLIANCE".into(), 1));
        def.object_lock_enabled = false;
        assert!(retention_rule(&def, "b").is_err());
        def.default_retention = None;
        assert!(retention_rule(&def, "b").unwrap().is_none());
    }
}
