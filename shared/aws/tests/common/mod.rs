//! Helpers shared by the AWS connector's integration tests: a moto account of one's own, recorded
//! AWS responses for what moto lacks, and reading check results back by check and resource.

#![allow(dead_code)]

mod moto_fixups;
pub use moto_fixups::with_moto_fixups;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_config::operation::describe_compliance_by_config_rule::DescribeComplianceByConfigRuleOutput;
use aws_sdk_config::types::{Compliance, ComplianceByConfigRule, ComplianceContributorCount, ComplianceType};
use aws_smithy_mocks::{Rule, mock};
use kushim_aws::Collected;
use kushim_checks::{CheckResult, Status, evaluate_all};
use serde_json::Value;

/// Kushim's own identity in moto (the default account) and a connector-ready configuration,
/// with moto's one misserialized answer the collector reads repaired (see `moto_fixups`).
pub async fn moto_sdk() -> SdkConfig {
    let moto = kushim_testkit::moto().await;
    with_moto_fixups(&kushim_testkit::sdk_config(moto).await)
}

#[allow(unused_imports)] // moto.rs uses them; mocked.rs does not.
pub use kushim_aws::seed::{emulator_account_config as account_sdk, fresh_account_id};

/// Quick retries so tests that meet 5xx answers do not wait for production backoffs.
pub fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(20))
}

/// The recorded `DescribeComplianceByConfigRule` pages, shaped as AWS documents them.
pub fn config_rule_pages() -> [&'static str; 2] {
    [
        include_str!("../fixtures/describe_compliance_by_config_rule_page1.json"),
        include_str!("../fixtures/describe_compliance_by_config_rule_page2.json"),
    ]
}

/// The first page's continuation token.
pub fn page_one_token() -> String {
    let v: Value = serde_json::from_str(config_rule_pages()[0]).expect("fixture is JSON");
    v["NextToken"].as_str().expect("page one has a NextToken").to_owned()
}

/// A recorded page as the SDK's output type (for rules that override a real answer).
pub fn compliance_output(page: &str) -> DescribeComplianceByConfigRuleOutput {
    let v: Value = serde_json::from_str(page).expect("fixture is JSON");
    let rules = v["ComplianceByConfigRules"].as_array().cloned().unwrap_or_default();
    let mut out = DescribeComplianceByConfigRuleOutput::builder();
    for r in rules {
        let c = &r["Compliance"];
        let mut compliance =
            Compliance::builder().compliance_type(ComplianceType::from(c["ComplianceType"].as_str().unwrap_or("")));
        if let Some(n) = c["ComplianceContributorCount"]["CappedCount"].as_i64() {
            compliance = compliance.compliance_contributor_count(
                ComplianceContributorCount::builder()
                    .capped_count(n as i32)
                    .cap_exceeded(c["ComplianceContributorCount"]["CapExceeded"].as_bool().unwrap_or(false))
                    .build(),
            );
        }
        out = out.compliance_by_config_rules(
            ComplianceByConfigRule::builder()
                .config_rule_name(r["ConfigRuleName"].as_str().unwrap_or_default())
                .compliance(compliance.build())
                .build(),
        );
    }
    if let Some(t) = v["NextToken"].as_str() {
        out = out.next_token(t);
    }
    out.build()
}

/// Rules answering `DescribeComplianceByConfigRule` with the two recorded pages (by NextToken),
/// overriding moto's 500.
pub fn recorded_config_rules() -> Vec<Rule> {
    let token = page_one_token();
    let first = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| compliance_output(config_rule_pages()[0]));
    let second = mock!(aws_sdk_config::Client::describe_compliance_by_config_rule)
        .match_requests(move |r| r.next_token() == Some(token.as_str()))
        .then_output(|| compliance_output(config_rule_pages()[1]));
    vec![first, second]
}

/// Every result of every check on every piece of collected evidence.
pub fn evaluate(collected: &[Collected]) -> Vec<CheckResult> {
    let now = chrono::Utc::now();
    collected.iter().flat_map(|c| evaluate_all(&c.evidence, &c.context, now)).collect()
}

/// Results keyed by (check id, resource id). A check may judge one resource twice: when a value
/// is missing because its action was refused, kushim-checks reports the missing field and adds a
/// result naming the refusal.
pub fn by_resource(results: &[CheckResult]) -> BTreeMap<(String, String), Vec<Status>> {
    let mut map: BTreeMap<(String, String), Vec<Status>> = BTreeMap::new();
    for r in results {
        map.entry((r.check_id.clone(), r.resource_id.clone())).or_default().push(r.status.clone());
    }
    map
}

/// Every status one check gave one resource, or a panic naming what was there.
pub fn statuses(map: &BTreeMap<(String, String), Vec<Status>>, check: &str, resource: &str) -> Vec<Status> {
    map.get(&(check.to_owned(), resource.to_owned())).cloned().unwrap_or_else(|| {
        let seen: Vec<&String> = map.keys().filter(|(c, _)| c == check).map(|(_, r)| r).collect();
        panic!("no result for {check} on {resource}; results for {check}: {seen:?}")
    })
}

/// The one status one check gave one resource.
pub fn status(map: &BTreeMap<(String, String), Vec<Status>>, check: &str, resource: &str) -> Status {
    let all = statuses(map, check, resource);
    assert_eq!(all.len(), 1, "{check} judged {resource} {} times: {all:?}", all.len());
    all.into_iter().next().expect("one status")
}
