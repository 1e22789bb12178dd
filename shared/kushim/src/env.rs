//! Resolving a function's environment variables from the template, the way CloudFormation would,
//! but onto local resource names: `!Ref Table` becomes the local table's name, `!Ref JobsQueue`
//! the local queue's name (embedded) or URL (AWS), `!GetAtt X.Arn` a local ARN, and parameter
//! references their defaults.

use std::collections::BTreeMap;

use kushim_template::{EnvValue, Function, Template};

/// Names of the resources the platform runs on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceNames {
    /// Logical id → physical name (table, bucket, event bus) or URL (queues).
    pub by_logical_id: BTreeMap<String, String>,
}

impl ResourceNames {
    /// The embedded platform's names: every resource is called by its logical id.
    pub fn embedded(template: &Template) -> Self {
        let mut by_logical_id = BTreeMap::new();
        for id in template
            .tables
            .iter()
            .map(|t| &t.logical_id)
            .chain(template.buckets.iter().map(|b| &b.logical_id))
            .chain(template.queues.iter().map(|q| &q.logical_id))
            .chain(template.event_buses.iter())
        {
            by_logical_id.insert(id.clone(), id.clone());
        }
        Self { by_logical_id }
    }
}

/// The function's variables with every reference resolved, plus `extra` (which wins).
pub fn function_env(
    template: &Template,
    function: &Function,
    names: &ResourceNames,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &function.environment {
        let resolved = match value {
            EnvValue::Literal(s) => s.clone(),
            EnvValue::Ref(id) => names
                .by_logical_id
                .get(id)
                .cloned()
                .or_else(|| template.parameter_defaults.get(id).map(json_text))
                .unwrap_or_else(|| id.clone()),
            EnvValue::GetAtt { resource, attribute } => {
                let name = names.by_logical_id.get(resource).cloned().unwrap_or_else(|| resource.clone());
                format!("arn:aws:local:::{name}/{attribute}")
            }
            EnvValue::Other(v) => json_text(v),
        };
        out.insert(name.clone(), resolved);
    }
    for (k, v) in extra {
        out.insert(k.clone(), v.clone());
    }
    out.into_iter().collect()
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_function_env_resolves_to_local_names() {
        let t = kushim_template::bundled();
        let f = t.function_by_binary("api-health").unwrap();
        let env: BTreeMap<_, _> =
            function_env(t, f, &ResourceNames::embedded(t), &[("KUSHIM_BACKEND".into(), "embedded".into())])
                .into_iter()
                .collect();
        assert_eq!(env["TABLE_NAME"], "Table");
        assert_eq!(env["JOBS_QUEUE_URL"], "JobsQueue");
        assert_eq!(env["EVIDENCE_BUCKET"], "EvidenceBucket");
        assert_eq!(env["KUSHIM_BACKEND"], "embedded");
    }
}
