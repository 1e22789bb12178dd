//! The `s3` family: the account-level Block Public Access settings (S3 Control) and, for every
//! bucket, its region, default encryption, Block Public Access settings, policy status (public or
//! not, as S3 itself judges it), whether its policy denies non-TLS requests, versioning and
//! Object Lock. Per-bucket calls go to the bucket's own region and run a few buckets at a time.
//!
//! "Not configured" answers are visible states, not gaps: no encryption configuration is
//! [`BucketEncryption::None`], no public access block is all four flags off, no bucket policy is
//! "not public" and "does not deny insecure transport", no Object Lock configuration is `false`.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{Bucket, BucketEncryption, PublicAccessBlock, S3Buckets, VersioningStatus};
use serde_json::Value;

use super::{Acc, Collected, account_scope};
use crate::error::{CollectError, FailureKind};
use crate::ops;
use crate::session::SessionInner;

/// Buckets asked for per `ListBuckets` page (asking for pages also makes S3 include each
/// bucket's region).
const PAGE: i32 = 1000;

pub(crate) async fn collect(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let home = s.s3(&s.home_region);

    let account_public_access_block = {
        let req = s.s3control().get_public_access_block().account_id(&s.account_id).send();
        match acc.call(ops::S3CONTROL_GET_PUBLIC_ACCESS_BLOCK, req).await? {
            Ok(out) => Some(out.public_access_block_configuration().map(pab_from_control).unwrap_or_default()),
            Err(f) if f.is_code("NoSuchPublicAccessBlockConfiguration") => Some(PublicAccessBlock::default()),
            Err(f) => {
                acc.unreadable(ops::S3CONTROL_GET_PUBLIC_ACCESS_BLOCK, &f, None);
                None
            }
        }
    };

    // Every bucket, every page, with its region when S3 tells it.
    let mut listed: Vec<(String, Option<String>)> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = home.list_buckets().max_buckets(PAGE).set_continuation_token(token.clone()).send();
        match acc.call(ops::S3_LIST_BUCKETS, req).await? {
            Ok(out) => {
                listed.extend(
                    out.buckets()
                        .iter()
                        .filter_map(|b| Some((b.name()?.to_owned(), b.bucket_region().map(str::to_owned)))),
                );
                match out.continuation_token() {
                    Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Err(f) if f.kind == FailureKind::Denied => {
                acc.deny(ops::S3_LIST_BUCKETS, &f.message, None);
                let evidence = Evidence::AwsS3Buckets(S3Buckets { account_public_access_block, buckets: Vec::new() });
                return Ok(acc.finish(evidence, account_scope(s), started));
            }
            Err(f) => return Err(f.into_error(ops::S3_LIST_BUCKETS.api)),
        }
    }

    let results: Vec<Result<(Bucket, Acc), CollectError>> = futures::stream::iter(listed)
        .map(|(name, region)| bucket(s, name, region))
        .buffered(s.options.concurrency)
        .collect()
        .await;
    let mut buckets = Vec::with_capacity(results.len());
    for r in results {
        let (b, sub) = r?;
        acc.merge(sub);
        buckets.push(b);
    }
    let evidence = Evidence::AwsS3Buckets(S3Buckets { account_public_access_block, buckets });
    Ok(acc.finish(evidence, account_scope(s), started))
}

async fn bucket(s: &SessionInner, name: String, region: Option<String>) -> Result<(Bucket, Acc), CollectError> {
    let mut acc = Acc::default();
    let region = match region {
        Some(r) => r,
        None => {
            let req = s.s3(&s.home_region).get_bucket_location().bucket(&name).send();
            match acc.call(ops::S3_GET_BUCKET_LOCATION, req).await? {
                Ok(out) => location_to_region(out.location_constraint().map(|c| c.as_str())),
                Err(f) => {
                    acc.unreadable(ops::S3_GET_BUCKET_LOCATION, &f, Some(&name));
                    s.home_region.clone()
                }
            }
        }
    };
    let s3 = s.s3(&region);
    let n = name.as_str();

    let encryption = match acc.call(ops::S3_GET_BUCKET_ENCRYPTION, s3.get_bucket_encryption().bucket(n).send()).await? {
        Ok(out) => {
            let algorithms: Vec<&aws_sdk_s3::types::ServerSideEncryption> = out
                .server_side_encryption_configuration()
                .map(|c| c.rules())
                .unwrap_or_default()
                .iter()
                .filter_map(|r| r.apply_server_side_encryption_by_default())
                .map(|d| d.sse_algorithm())
                .collect();
            encryption_of(&algorithms)
        }
        Err(f) if f.is_code("ServerSideEncryptionConfigurationNotFoundError") => Some(BucketEncryption::None),
        Err(f) => {
            acc.unreadable(ops::S3_GET_BUCKET_ENCRYPTION, &f, Some(n));
            None
        }
    };

    let public_access_block =
        match acc.call(ops::S3_GET_PUBLIC_ACCESS_BLOCK, s3.get_public_access_block().bucket(n).send()).await? {
            Ok(out) => Some(out.public_access_block_configuration().map(pab_from_s3).unwrap_or_default()),
            Err(f) if f.is_code("NoSuchPublicAccessBlockConfiguration") => Some(PublicAccessBlock::default()),
            Err(f) => {
                acc.unreadable(ops::S3_GET_PUBLIC_ACCESS_BLOCK, &f, Some(n));
                None
            }
        };

    let policy_is_public =
        match acc.call(ops::S3_GET_BUCKET_POLICY_STATUS, s3.get_bucket_policy_status().bucket(n).send()).await? {
            Ok(out) => out.policy_status().and_then(|p| p.is_public()).or(Some(false)),
            Err(f) if f.is_code("NoSuchBucketPolicy") => Some(false),
            Err(f) => {
                acc.unreadable(ops::S3_GET_BUCKET_POLICY_STATUS, &f, Some(n));
                None
            }
        };

    let policy_denies_insecure_transport =
        match acc.call(ops::S3_GET_BUCKET_POLICY, s3.get_bucket_policy().bucket(n).send()).await? {
            Ok(out) => match out.policy().map(serde_json::from_str::<Value>) {
                Some(Ok(doc)) => Some(policy_denies_insecure_transport(&doc)),
                Some(Err(_)) => {
                    tracing::warn!(api = ops::S3_GET_BUCKET_POLICY.api, "a bucket policy is not JSON");
                    None
                }
                None => Some(false),
            },
            Err(f) if f.is_code("NoSuchBucketPolicy") => Some(false),
            Err(f) => {
                acc.unreadable(ops::S3_GET_BUCKET_POLICY, &f, Some(n));
                None
            }
        };

    let versioning = match acc.call(ops::S3_GET_BUCKET_VERSIONING, s3.get_bucket_versioning().bucket(n).send()).await? {
        Ok(out) => match out.status() {
            None => Some(VersioningStatus::Disabled),
            Some(aws_sdk_s3::types::BucketVersioningStatus::Enabled) => Some(VersioningStatus::Enabled),
            Some(aws_sdk_s3::types::BucketVersioningStatus::Suspended) => Some(VersioningStatus::Suspended),
            Some(_) => None,
        },
        Err(f) => {
            acc.unreadable(ops::S3_GET_BUCKET_VERSIONING, &f, Some(n));
            None
        }
    };

    let req = s3.get_object_lock_configuration().bucket(n).send();
    let object_lock_enabled = match acc.call(ops::S3_GET_OBJECT_LOCK_CONFIGURATION, req).await? {
        Ok(out) => Some(matches!(
            out.object_lock_configuration().and_then(|c| c.object_lock_enabled()),
            Some(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
        )),
        Err(f) if f.is_code("ObjectLockConfigurationNotFoundError") => Some(false),
        Err(f) => {
            acc.unreadable(ops::S3_GET_OBJECT_LOCK_CONFIGURATION, &f, Some(n));
            None
        }
    };

    let bucket = Bucket {
        name,
        region,
        encryption,
        public_access_block,
        policy_is_public,
        policy_denies_insecure_transport,
        versioning,
        object_lock_enabled,
    };
    Ok((bucket, acc))
}

/// The strongest default encryption among a bucket's rules; `None` for an algorithm this
/// collector does not know.
fn encryption_of(algorithms: &[&aws_sdk_s3::types::ServerSideEncryption]) -> Option<BucketEncryption> {
    use aws_sdk_s3::types::ServerSideEncryption as Sse;
    let mut best = BucketEncryption::None;
    for a in algorithms {
        let this = match a {
            Sse::AwsKmsDsse => BucketEncryption::DsseKms,
            Sse::AwsKms => BucketEncryption::SseKms,
            Sse::Aes256 => BucketEncryption::SseS3,
            _ => return None,
        };
        let rank = |e: BucketEncryption| match e {
            BucketEncryption::None => 0,
            BucketEncryption::SseS3 => 1,
            BucketEncryption::SseKms => 2,
            BucketEncryption::DsseKms => 3,
        };
        if rank(this) > rank(best) {
            best = this;
        }
    }
    Some(best)
}

/// `GetBucketLocation` answers no constraint for us-east-1 and `EU` for the oldest eu-west-1 buckets.
fn location_to_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    }
}

fn pab_from_s3(c: &aws_sdk_s3::types::PublicAccessBlockConfiguration) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    }
}

fn pab_from_control(c: &aws_sdk_s3control::types::PublicAccessBlockConfiguration) -> PublicAccessBlock {
    PublicAccessBlock {
        block_public_acls: c.block_public_acls().unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
        block_public_policy: c.block_public_policy().unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
    }
}

/// True when the policy has a statement that denies every S3 action on the bucket's objects to
/// every principal whenever `aws:SecureTransport` is false, and under no other condition (an
/// extra condition would narrow the deny).
pub(crate) fn policy_denies_insecure_transport(doc: &Value) -> bool {
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => Vec::new(),
    };
    statements.into_iter().any(|st| {
        st.get("Effect").and_then(Value::as_str) == Some("Deny")
            && everyone(st.get("Principal"))
            && any_str(st.get("Action"), |a| a == "*" || a.eq_ignore_ascii_case("s3:*"))
            && any_str(st.get("Resource"), |r| r == "*" || r.ends_with("/*"))
            && only_insecure_transport(st.get("Condition"))
    })
}

fn any_str(v: Option<&Value>, pred: impl Fn(&str) -> bool) -> bool {
    match v {
        Some(Value::String(s)) => pred(s),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).any(pred),
        _ => false,
    }
}

fn everyone(principal: Option<&Value>) -> bool {
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => any_str(map.get("AWS"), |p| p == "*"),
        _ => false,
    }
}

fn only_insecure_transport(condition: Option<&Value>) -> bool {
    let Some(Value::Object(ops)) = condition else { return false };
    if ops.len() != 1 {
        return false;
    }
    let Some((op, Value::Object(keys))) = ops.iter().next() else { return false };
    if !(op == "Bool" || op == "BoolIfExists") || keys.len() != 1 {
        return false;
    }
    let Some((key, value)) = keys.iter().next() else { return false };
    let is_false = |v: &Value| match v {
        Value::String(s) => s.eq_ignore_ascii_case("false"),
        Value::Bool(b) => !b,
        _ => false,
    };
    key.eq_ignore_ascii_case("aws:SecureTransport")
        && match value {
            Value::Array(items) => !items.is_empty() && items.iter().all(is_false),
            v => is_false(v),
        }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tls_only(bucket: &str) -> Value {
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
    }

    #[test]
    fn the_documented_tls_only_statement_is_recognised_in_its_common_spellings() {
        assert!(policy_denies_insecure_transport(&tls_only("b")));
        let variants = [
            json!({"Statement": {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": false}}}}),
            json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": "*", "Resource": "*",
                   "Condition": {"BoolIfExists": {"aws:securetransport": ["false"]}}}]}),
        ];
        for v in variants {
            assert!(policy_denies_insecure_transport(&v), "{v}");
        }
    }

    #[test]
    fn partial_or_conditional_denies_do_not_count() {
        let not = [
            // Only some actions.
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            // Only some principals.
            json!({"Statement": [{"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            // An extra condition narrows it.
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}]}),
            // The bucket only, not its objects.
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b",
                   "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
            // Allowing TLS is not denying plain HTTP.
            json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
            // Denying TLS requests is the opposite.
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*",
                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
            json!({"Statement": []}),
            json!({}),
        ];
        for v in not {
            assert!(!policy_denies_insecure_transport(&v), "{v}");
        }
    }

    #[test]
    fn encryption_takes_the_strongest_rule_and_refuses_to_guess() {
        use aws_sdk_s3::types::ServerSideEncryption as Sse;
        assert_eq!(encryption_of(&[]), Some(BucketEncryption::None));
        assert_eq!(encryption_of(&[&Sse::Aes256]), Some(BucketEncryption::SseS3));
        assert_eq!(encryption_of(&[&Sse::Aes256, &Sse::AwsKms]), Some(BucketEncryption::SseKms));
        assert_eq!(encryption_of(&[&Sse::AwsKmsDsse]), Some(BucketEncryption::DsseKms));
        assert_eq!(encryption_of(&[&Sse::from("aws:future")]), None);
    }

    #[test]
    fn bucket_locations_map_to_regions() {
        assert_eq!(location_to_region(None), "us-east-1");
        assert_eq!(location_to_region(Some("")), "us-east-1");
        assert_eq!(location_to_region(Some("EU")), "eu-west-1");
        assert_eq!(location_to_region(Some("ap-south-1")), "ap-south-1");
    }
}
