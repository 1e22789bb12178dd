//! The `cloudtrail` family: every trail visible from any enabled region, deduplicated by ARN.
//!
//! `DescribeTrails` in one region lists that region's trails plus the shadow copies of
//! multi-region and organization trails, so it is called in every enabled region (a single-region
//! trail elsewhere would otherwise go unseen) and the copies are folded into one trail per ARN.
//! `GetTrailStatus` is then asked once per trail, in its home region, by ARN (which also works for
//! organization trails seen from a member account).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{Trail, TrailStatus, Trails};

use super::{Acc, Collected, account_scope, all_regions, to_utc};
use crate::error::{CollectError, FailureKind};
use crate::ops;
use crate::session::{DEFAULT_REGIONS, SessionInner};

pub(crate) async fn collect(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let regions: Vec<String> = match all_regions(s, &mut acc).await? {
        Ok(all) => all.into_iter().filter(|(_, st)| st.is_enabled()).map(|(n, _)| n).collect(),
        Err(f) => {
            acc.unreadable(ops::EC2_DESCRIBE_REGIONS, &f, None);
            if f.kind != FailureKind::Denied {
                return Err(f.into_error(ops::EC2_DESCRIBE_REGIONS.api));
            }
            DEFAULT_REGIONS.iter().map(|r| (*r).to_owned()).collect()
        }
    };

    let mut by_arn: BTreeMap<String, Trail> = BTreeMap::new();
    let listed: Vec<(String, Result<Vec<Trail>, CollectError>, Acc)> = futures::stream::iter(regions)
        .map(|region| async move {
            let mut sub = Acc::default();
            let trails = describe(s, &mut sub, &region).await;
            (region, trails, sub)
        })
        .buffered(s.options.concurrency)
        .collect()
        .await;
    for (_, trails, sub) in listed {
        acc.merge(sub);
        for t in trails? {
            by_arn.entry(t.arn.clone()).or_insert(t);
        }
    }

    let statuses: Vec<Result<(Trail, Acc), CollectError>> = futures::stream::iter(by_arn.into_values())
        .map(|mut trail| async move {
            let mut sub = Acc::default();
            let req = s.cloudtrail(&trail.home_region).get_trail_status().name(&trail.arn).send();
            trail.status = match sub.call(ops::CLOUDTRAIL_GET_TRAIL_STATUS, req).await? {
                Ok(out) => Some(TrailStatus {
                    is_logging: out.is_logging().unwrap_or(false),
                    latest_delivery_time: out.latest_delivery_time().and_then(to_utc),
                    latest_cloud_watch_logs_delivery_time: out.latest_cloud_watch_logs_delivery_time().and_then(to_utc),
                }),
                Err(f) => {
                    sub.unreadable(ops::CLOUDTRAIL_GET_TRAIL_STATUS, &f, Some(&trail.arn));
                    None
                }
            };
            Ok((trail, sub))
        })
        .buffered(s.options.concurrency)
        .collect()
        .await;
    let mut trails = Vec::with_capacity(statuses.len());
    for r in statuses {
        let (t, sub) = r?;
        acc.merge(sub);
        trails.push(t);
    }
    Ok(acc.finish(Evidence::AwsCloudTrail(Trails { trails }), account_scope(s), started))
}

/// The trails one region shows (its own and shadow copies). A refusal or an unreachable region is
/// recorded against the region and yields no trails.
async fn describe(s: &SessionInner, acc: &mut Acc, region: &str) -> Result<Vec<Trail>, CollectError> {
    let req = s.cloudtrail(region).describe_trails().include_shadow_trails(true).send();
    let out = match acc.call(ops::CLOUDTRAIL_DESCRIBE_TRAILS, req).await? {
        Ok(out) => out,
        Err(f) => {
            acc.unreadable(ops::CLOUDTRAIL_DESCRIBE_TRAILS, &f, Some(region));
            return Ok(Vec::new());
        }
    };
    Ok(out
        .trail_list()
        .iter()
        .filter_map(|t| {
            let arn = t.trail_arn()?.to_owned();
            Some(Trail {
                name: t.name().unwrap_or_default().to_owned(),
                home_region: t.home_region().unwrap_or(region).to_owned(),
                is_multi_region: t.is_multi_region_trail().unwrap_or(false),
                is_organization_trail: t.is_organization_trail().unwrap_or(false),
                log_file_validation_enabled: t.log_file_validation_enabled().unwrap_or(false),
                kms_key_id: t.kms_key_id().filter(|k| !k.is_empty()).map(str::to_owned),
                cloud_watch_logs_log_group_arn: t
                    .cloud_watch_logs_log_group_arn()
                    .filter(|a| !a.is_empty())
                    .map(str::to_owned),
                status: None,
                arn,
            })
        })
        .collect())
}
