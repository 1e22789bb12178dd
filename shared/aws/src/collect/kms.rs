//! The `kms` family, per region: every key (`ListKeys`, every page), its metadata (`DescribeKey`)
//! and, for customer-managed symmetric keys (the only ones the rotation check judges, and the only
//! ones that can rotate automatically), `GetKeyRotationStatus`. `rotation_enabled` stays `None` for
//! the other keys. A key whose metadata is refused cannot be described at all: it is left out and
//! the refusal is recorded against its ARN.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{KeyManager, KeySpec, KeyState, KmsKey, KmsKeys};

use super::{Acc, Collected, region_scope, region_status};
use crate::error::{CollectError, FailureKind};
use crate::ops;
use crate::session::SessionInner;

pub(crate) async fn collect(s: &SessionInner, region: &str, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let opt_in = region_status(s, &mut acc, region).await?;
    let scope = region_scope(s, region);
    if !opt_in.is_enabled() {
        return Ok(acc.finish(Evidence::AwsKmsKeys(KmsKeys { keys: Vec::new() }), scope, started));
    }
    let kms = s.kms(region);
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let req = kms.list_keys().limit(1000).set_marker(marker.clone()).send();
        match acc.call(ops::KMS_LIST_KEYS, req).await? {
            Ok(out) => {
                listed.extend(out.keys().iter().filter_map(|k| {
                    let id = k.key_id()?.to_owned();
                    let arn = k.key_arn().map(str::to_owned).unwrap_or_else(|| id.clone());
                    Some((id, arn))
                }));
                match out.next_marker() {
                    Some(m) if out.truncated() && Some(m) != marker.as_deref() => marker = Some(m.to_owned()),
                    _ => break,
                }
            }
            Err(f) => {
                acc.unreadable(ops::KMS_LIST_KEYS, &f, Some(region));
                if f.kind != FailureKind::Denied {
                    return Err(f.into_error(ops::KMS_LIST_KEYS.api));
                }
                return Ok(acc.finish(Evidence::AwsKmsKeys(KmsKeys { keys: Vec::new() }), scope, started));
            }
        }
    }

    let results: Vec<Result<(Option<KmsKey>, Acc), CollectError>> = futures::stream::iter(listed)
        .map(|(id, arn)| {
            let kms = kms.clone();
            async move { key(&kms, region, id, arn).await }
        })
        .buffered(s.options.concurrency)
        .collect()
        .await;
    let mut keys = Vec::with_capacity(results.len());
    for r in results {
        let (k, sub) = r?;
        acc.merge(sub);
        keys.extend(k);
    }
    Ok(acc.finish(Evidence::AwsKmsKeys(KmsKeys { keys }), scope, started))
}

async fn key(
    kms: &aws_sdk_kms::Client,
    region: &str,
    id: String,
    arn: String,
) -> Result<(Option<KmsKey>, Acc), CollectError> {
    let mut acc = Acc::default();
    let meta = match acc.call(ops::KMS_DESCRIBE_KEY, kms.describe_key().key_id(&id).send()).await? {
        Ok(out) => match out.key_metadata() {
            Some(m) => m.clone(),
            None => return Ok((None, acc)),
        },
        Err(f) => {
            acc.unreadable(ops::KMS_DESCRIBE_KEY, &f, Some(&arn));
            return Ok((None, acc));
        }
    };
    use aws_sdk_kms::types::{KeyManagerType, KeySpec as Spec, KeyState as State};
    let manager = match meta.key_manager() {
        Some(KeyManagerType::Aws) => KeyManager::Aws,
        _ => KeyManager::Customer,
    };
    let key_spec = match meta.key_spec() {
        Some(Spec::SymmetricDefault) | None => KeySpec::Symmetric,
        Some(Spec::Hmac224 | Spec::Hmac256 | Spec::Hmac384 | Spec::Hmac512) => KeySpec::Hmac,
        Some(_) => KeySpec::Asymmetric,
    };
    let key_state = match meta.key_state() {
        Some(State::Enabled) => KeyState::Enabled,
        Some(State::Disabled) => KeyState::Disabled,
        Some(State::PendingDeletion) => KeyState::PendingDeletion,
        Some(State::PendingImport) => KeyState::PendingImport,
        Some(State::PendingReplicaDeletion) => KeyState::PendingReplicaDeletion,
        Some(State::Creating) => KeyState::Creating,
        Some(State::Updating) => KeyState::Updating,
        _ => KeyState::Unavailable,
    };
    let arn = meta.arn().map(str::to_owned).unwrap_or(arn);
    let rotation_enabled = if manager == KeyManager::Customer && key_spec == KeySpec::Symmetric {
        let req = kms.get_key_rotation_status().key_id(&id).send();
        match acc.call(ops::KMS_GET_KEY_ROTATION_STATUS, req).await? {
            Ok(out) => Some(out.key_rotation_enabled()),
            // Imported key material and custom key stores cannot rotate automatically.
            Err(f) if f.is_code("UnsupportedOperationException") => Some(false),
            Err(f) => {
                acc.unreadable(ops::KMS_GET_KEY_ROTATION_STATUS, &f, Some(&arn));
                None
            }
        }
    } else {
        None
    };
    let key = KmsKey {
        key_id: meta.key_id().to_owned(),
        arn,
        region: region.to_owned(),
        manager,
        key_spec,
        key_state,
        rotation_enabled,
    };
    Ok((Some(key), acc))
}
