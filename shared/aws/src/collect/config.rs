//! The `config` family, per region: the AWS Config recorders with their status
//! (`aws.config.recorders`, one region per slice) and the compliance of every Config rule
//! (`aws.config.rule_compliance`, every page of `DescribeComplianceByConfigRule`).
//!
//! Service-linked recorders (which AWS services create for their own narrow needs) are left out:
//! only the customer's recorder says whether the region's resources are inventoried.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kushim_checks::Evidence;
use kushim_checks::evidence::aws::{
    ComplianceType, ConfigRecorder, ConfigRecorders, ConfigRuleCompliance, ConfigRuleResult, OptInStatus,
    RegionalConfigRecorders,
};

use super::{Acc, Collected, region_scope, region_status};
use crate::error::CollectError;
use crate::ops;
use crate::session::SessionInner;

pub(crate) async fn collect(
    s: &SessionInner,
    region: &str,
    started: DateTime<Utc>,
) -> Result<Vec<Collected>, CollectError> {
    let mut rec_acc = Acc::default();
    let opt_in_status = region_status(s, &mut rec_acc, region).await?;
    let mut rule_acc = Acc::default();
    if !opt_in_status.is_enabled() {
        let recorders = RegionalConfigRecorders { region: region.to_owned(), opt_in_status, recorders: None };
        return Ok(vec![
            rec_acc.finish(
                Evidence::AwsConfigRecorders(ConfigRecorders { regions: vec![recorders] }),
                region_scope(s, region),
                started,
            ),
            rule_acc.finish(
                Evidence::AwsConfigRuleCompliance(ConfigRuleCompliance { rules: Vec::new() }),
                region_scope(s, region),
                started,
            ),
        ]);
    }
    let recorders = recorders(s, &mut rec_acc, region, opt_in_status).await?;
    let rules = rules(s, &mut rule_acc, region).await?;
    Ok(vec![
        rec_acc.finish(
            Evidence::AwsConfigRecorders(ConfigRecorders { regions: vec![recorders] }),
            region_scope(s, region),
            started,
        ),
        rule_acc.finish(
            Evidence::AwsConfigRuleCompliance(ConfigRuleCompliance { rules }),
            region_scope(s, region),
            started,
        ),
    ])
}

async fn recorders(
    s: &SessionInner,
    acc: &mut Acc,
    region: &str,
    opt_in_status: OptInStatus,
) -> Result<RegionalConfigRecorders, CollectError> {
    let client = s.config_service(region);
    let unreachable = RegionalConfigRecorders { region: region.to_owned(), opt_in_status, recorders: None };
    let listed =
        match acc.call(ops::CONFIG_DESCRIBE_RECORDERS, client.describe_configuration_recorders().send()).await? {
            Ok(out) => out,
            Err(f) => {
                acc.unreadable(ops::CONFIG_DESCRIBE_RECORDERS, &f, Some(region));
                return Ok(unreachable);
            }
        };
    let own: Vec<&aws_sdk_config::types::ConfigurationRecorder> =
        listed.configuration_recorders().iter().filter(|r| r.service_principal().is_none()).collect();
    let mut recording: HashMap<String, bool> = HashMap::new();
    if !own.is_empty() {
        let req = client.describe_configuration_recorder_status().send();
        match acc.call(ops::CONFIG_DESCRIBE_RECORDER_STATUS, req).await? {
            Ok(out) => {
                for st in out.configuration_recorders_status() {
                    if let Some(name) = st.name() {
                        recording.insert(name.to_owned(), st.recording());
                    }
                }
            }
            Err(f) => {
                // Whether the recorders run is unknown: the region cannot be judged.
                acc.unreadable(ops::CONFIG_DESCRIBE_RECORDER_STATUS, &f, Some(region));
                return Ok(unreachable);
            }
        }
    }
    let recorders = own
        .into_iter()
        .map(|r| {
            let name = r.name().unwrap_or_default().to_owned();
            // Without a recording group AWS records every supported type, global ones excluded.
            let (all_supported, include_global_resource_types) = match r.recording_group() {
                None => (true, false),
                Some(g) => {
                    use aws_sdk_config::types::RecordingStrategyType as Strategy;
                    let narrowed = matches!(
                        g.recording_strategy().and_then(|s| s.use_only()),
                        Some(Strategy::InclusionByResourceTypes | Strategy::ExclusionByResourceTypes)
                    );
                    (g.all_supported() && !narrowed, g.include_global_resource_types())
                }
            };
            ConfigRecorder {
                recording: recording.get(&name).copied().unwrap_or(false),
                name,
                all_supported,
                include_global_resource_types,
            }
        })
        .collect();
    Ok(RegionalConfigRecorders { region: region.to_owned(), opt_in_status, recorders: Some(recorders) })
}

async fn rules(s: &SessionInner, acc: &mut Acc, region: &str) -> Result<Vec<ConfigRuleResult>, CollectError> {
    let client = s.config_service(region);
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = client.describe_compliance_by_config_rule().set_next_token(token.clone()).send();
        let out = match acc.call(ops::CONFIG_DESCRIBE_COMPLIANCE_BY_RULE, req).await? {
            Ok(out) => out,
            Err(f) => {
                acc.unreadable(ops::CONFIG_DESCRIBE_COMPLIANCE_BY_RULE, &f, Some(region));
                return Ok(Vec::new());
            }
        };
        for r in out.compliance_by_config_rules() {
            let Some(rule_name) = r.config_rule_name() else { continue };
            let compliance = r.compliance();
            use aws_sdk_config::types::ComplianceType as Ct;
            let compliance_type = match compliance.and_then(|c| c.compliance_type()) {
                Some(Ct::Compliant) => ComplianceType::Compliant,
                Some(Ct::NonCompliant) => ComplianceType::NonCompliant,
                Some(Ct::NotApplicable) => ComplianceType::NotApplicable,
                // INSUFFICIENT_DATA, no verdict yet, or a type this collector does not know.
                _ => ComplianceType::InsufficientData,
            };
            let non_compliant_resource_count = compliance
                .and_then(|c| c.compliance_contributor_count())
                .and_then(|c| u32::try_from(c.capped_count()).ok())
                .filter(|_| compliance_type == ComplianceType::NonCompliant);
            rules.push(ConfigRuleResult {
                rule_name: rule_name.to_owned(),
                region: region.to_owned(),
                compliance_type,
                non_compliant_resource_count,
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(rules)
}
