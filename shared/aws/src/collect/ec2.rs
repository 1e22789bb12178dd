//! The EC2-backed families: `regions` (every region of the partition with its opt-in status) and
//! `ebs` (whether new EBS volumes are encrypted by default, per region).

use chrono::{DateTime, Utc};
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{EbsDefaultEncryption, Region, RegionalEbsDefault, Regions};

use super::{Acc, Collected, account_scope, fetch_regions, region_scope, region_status};
use crate::error::{CollectError, FailureKind};
use crate::ops;
use crate::session::SessionInner;

pub(crate) async fn regions(s: &SessionInner, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    // Always asked afresh: the regions slice is the record of the account's regions on this day.
    let regions = fetch_regions(s, &mut acc).await?;
    let regions = match regions {
        Ok(list) => list.into_iter().map(|(name, opt_in_status)| Region { name, opt_in_status }).collect(),
        Err(f) => {
            acc.unreadable(ops::EC2_DESCRIBE_REGIONS, &f, None);
            if f.kind != FailureKind::Denied {
                return Err(f.into_error(ops::EC2_DESCRIBE_REGIONS.api));
            }
            Vec::new()
        }
    };
    Ok(acc.finish(Evidence::AwsRegions(Regions { regions }), account_scope(s), started))
}

pub(crate) async fn ebs(s: &SessionInner, region: &str, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let opt_in_status = region_status(s, &mut acc, region).await?;
    let enabled = if opt_in_status.is_enabled() {
        let req = s.ec2(region).get_ebs_encryption_by_default().send();
        match acc.call(ops::EC2_GET_EBS_ENCRYPTION_BY_DEFAULT, req).await? {
            Ok(out) => Some(out.ebs_encryption_by_default().unwrap_or(false)),
            Err(f) => {
                acc.unreadable(ops::EC2_GET_EBS_ENCRYPTION_BY_DEFAULT, &f, Some(region));
                None
            }
        }
    } else {
        None
    };
    let evidence = Evidence::AwsEbsDefaultEncryption(EbsDefaultEncryption {
        regions: vec![RegionalEbsDefault { region: region.to_owned(), opt_in_status, enabled }],
    });
    Ok(acc.finish(evidence, region_scope(s, region), started))
}
