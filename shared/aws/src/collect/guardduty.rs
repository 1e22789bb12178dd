//! The `guardduty` family, per region: every detector (`ListDetectors`, every page) and its status
//! (`GetDetector`). A region with no detector is visible as an empty list; a refused or failed
//! call leaves the region's detectors `None`, which the check reports as inconclusive.

use chrono::{DateTime, Utc};
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{Detector, DetectorStatus, GuardDutyDetectors, RegionalDetectors};

use super::{Acc, Collected, region_scope, region_status};
use crate::error::CollectError;
use crate::ops;
use crate::session::SessionInner;

pub(crate) async fn collect(s: &SessionInner, region: &str, started: DateTime<Utc>) -> Result<Collected, CollectError> {
    let mut acc = Acc::default();
    let opt_in_status = region_status(s, &mut acc, region).await?;
    let detectors = if opt_in_status.is_enabled() { detectors(s, &mut acc, region).await? } else { None };
    let evidence = Evidence::AwsGuardDuty(GuardDutyDetectors {
        regions: vec![RegionalDetectors { region: region.to_owned(), opt_in_status, detectors }],
    });
    Ok(acc.finish(evidence, region_scope(s, region), started))
}

async fn detectors(s: &SessionInner, acc: &mut Acc, region: &str) -> Result<Option<Vec<Detector>>, CollectError> {
    let gd = s.guardduty(region);
    let mut ids: Vec<String> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = gd.list_detectors().set_next_token(token.clone()).send();
        match acc.call(ops::GUARDDUTY_LIST_DETECTORS, req).await? {
            Ok(out) => {
                ids.extend(out.detector_ids().iter().cloned());
                match out.next_token() {
                    Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
                    _ => break,
                }
            }
            Err(f) => {
                acc.unreadable(ops::GUARDDUTY_LIST_DETECTORS, &f, Some(region));
                return Ok(None);
            }
        }
    }
    let mut detectors = Vec::with_capacity(ids.len());
    for detector_id in ids {
        match acc.call(ops::GUARDDUTY_GET_DETECTOR, gd.get_detector().detector_id(&detector_id).send()).await? {
            Ok(out) => {
                let status = match out.status() {
                    Some(aws_sdk_guardduty::types::DetectorStatus::Enabled) => DetectorStatus::Enabled,
                    _ => DetectorStatus::Disabled,
                };
                detectors.push(Detector { detector_id, status });
            }
            Err(f) => {
                // Whether this detector runs is unknown, so the region cannot be judged.
                acc.unreadable(ops::GUARDDUTY_GET_DETECTOR, &f, Some(region));
                return Ok(None);
            }
        }
    }
    Ok(Some(detectors))
}
