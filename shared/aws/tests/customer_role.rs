//! The customer-role CloudFormation template (`infra/aws/customer-role.yaml`) grants exactly what
//! the collector needs: the actions of `role_actions()` (the checks' permissions plus the two
//! supporting actions), read-only, to Kushim's account only, with the external id required.

use serde_norway::Value;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/aws/customer-role.yaml");
    let text = std::fs::read_to_string(path).expect("infra/aws/customer-role.yaml is readable");
    serde_norway::from_str(&text).expect("the template is YAML")
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_policy_lists_exactly_the_role_actions_on_every_resource() {
    // GIVEN the template
    let t = template();
    // WHEN its managed policy is read
    let statements = t["Resources"]["KushimReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence()
        .expect("the policy has statements")
        .clone();
    // THEN it has one Allow statement on "*" whose actions are role_actions(), in that order
    assert_eq!(statements.len(), 1);
    let st = &statements[0];
    assert_eq!(st["Effect"].as_str(), Some("Allow"));
    assert_eq!(strings(&st["Resource"]), vec!["*".to_owned()]);
    let actions = strings(&st["Action"]);
    let expected: Vec<String> = kushim_aws::role_actions().into_iter().map(str::to_owned).collect();
    assert_eq!(actions, expected);
    // AND every action the checks declare is in it
    for a in kushim_aws::required_actions() {
        assert!(actions.iter().any(|x| x == a), "{a} is missing from the template");
    }
    // AND nothing else grants anything (no inline policies, no other managed policy)
    assert!(t["Resources"]["KushimRole"]["Properties"].get("Policies").is_none());
    assert_eq!(t["Resources"]["KushimRole"]["Properties"]["ManagedPolicyArns"].as_sequence().map(Vec::len), Some(1));
}

#[test]
fn only_kushims_account_may_assume_the_role_and_only_with_the_external_id() {
    let t = template();
    let trust = &t["Resources"]["KushimRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    let trust = trust.as_sequence().expect("a trust statement");
    assert_eq!(trust.len(), 1);
    let st = &trust[0];
    assert_eq!(st["Effect"].as_str(), Some("Allow"));
    assert_eq!(st["Action"].as_str(), Some("sts:AssumeRole"));
    // The principal is built from the KushimAccountId parameter (a !Sub), never a wildcard.
    let principal = format!("{:?}", st["Principal"]["AWS"]);
    assert!(principal.contains("${KushimAccountId}"), "{principal}");
    assert!(!principal.contains("\"*\""));
    // The external id condition refers to the ExternalId parameter.
    let condition = format!("{:?}", st["Condition"]["StringEquals"]["sts:ExternalId"]);
    assert!(condition.contains("ExternalId"), "{condition}");
    // Both parameters exist and are constrained.
    assert_eq!(t["Parameters"]["KushimAccountId"]["AllowedPattern"].as_str(), Some("^[0-9]{12}$"));
    assert!(t["Parameters"]["ExternalId"]["MinLength"].as_u64().is_some());
}
