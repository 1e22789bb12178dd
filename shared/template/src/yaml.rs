//! Reads CloudFormation YAML into plain JSON.
//!
//! CloudFormation's short-form intrinsics (`!Ref X`, `!GetAtt A.B`, `!Sub "..."`) are YAML tags. This
//! module rewrites each one into the long form that JSON templates use (`{"Ref": "X"}`,
//! `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": "..."}`), so everything downstream sees one shape.

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

use crate::error::TemplateError;

/// Parses YAML text into its document tree, tags still attached.
pub(crate) fn load(yaml: &str) -> Result<Yaml, TemplateError> {
    serde_norway::from_str(yaml).map_err(|e| TemplateError::Yaml(e.to_string()))
}

/// The logical ids under `Resources`, in the order the file declares them.
pub(crate) fn resource_order(doc: &Yaml) -> Vec<String> {
    match doc.get("Resources") {
        Some(Yaml::Mapping(resources)) => resources.keys().filter_map(key_string).collect(),
        _ => Vec::new(),
    }
}

/// Converts a YAML document tree into JSON, rewriting short-form intrinsics into their long form.
pub(crate) fn to_json(value: Yaml) -> Result<Value, TemplateError> {
    Ok(match value {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                let Some(key) = key_string(&key) else {
                    return Err(TemplateError::Yaml(format!("mapping key {key:?} is not a scalar")));
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            intrinsic(tag.trim_start_matches('!'), to_json(tagged.value)?)?
        }
    })
}

/// The long form of one short-form intrinsic: `!Ref`, `!Condition` and `!GetAtt` are special, and any
/// other `!Foo v` becomes `{"Fn::Foo": v}`.
fn intrinsic(tag: &str, value: Value) -> Result<Value, TemplateError> {
    let error = |problem: String| TemplateError::Intrinsic { tag: tag.to_owned(), problem };
    let (key, value) = match tag {
        "" => return Err(error("has an empty tag name".to_owned())),
        "Ref" | "Condition" => (tag.to_owned(), value),
        "GetAtt" => {
            let value = match value {
                Value::String(dotted) => match dotted.split_once('.') {
                    Some((resource, attribute)) if !resource.is_empty() && !attribute.is_empty() => {
                        Value::Array(vec![resource.into(), attribute.into()])
                    }
                    _ => return Err(error(format!("needs `Resource.Attribute`, found `{dotted}`"))),
                },
                Value::Array(parts) if parts.len() == 2 => Value::Array(parts),
                other => {
                    return Err(error(format!("needs `Resource.Attribute` or [Resource, Attribute], found {other}")));
                }
            };
            ("Fn::GetAtt".to_owned(), value)
        }
        other => (format!("Fn::{other}"), value),
    };
    Ok(Value::Object(Map::from_iter([(key, value)])))
}

/// A YAML scalar used as a mapping key, as a string (`8080: x` has key `"8080"`).
fn key_string(key: &Yaml) -> Option<String> {
    match key {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Null => Some("null".to_owned()),
        _ => None,
    }
}

fn number(n: &serde_norway::Number) -> Value {
    if let Some(u) = n.as_u64() {
        Value::Number(u.into())
    } else if let Some(i) = n.as_i64() {
        Value::Number(i.into())
    } else {
        // Non-finite floats (`.nan`, `.inf`) have no JSON number; keep their YAML spelling.
        n.as_f64().and_then(Number::from_f64).map_or_else(|| Value::String(n.to_string()), Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn convert(yaml: &str) -> Result<Value, TemplateError> {
        to_json(load(yaml)?)
    }

    #[test]
    fn short_form_intrinsics_become_long_form() {
        let value = convert(
            r#"
a: !Ref Table
b: !GetAtt Queue.Arn
c: !GetAtt [Queue, Arn]
d: !Sub "${Table.Arn}/index/*"
e: !Sub ["${A}-x", {A: !Ref B}]
f: !Join [",", [!Ref X, y]]
g: !Condition IsProd
h: !GetAtt Db.Endpoint.Address
i: !Split [",", !Ref Origins]
"#,
        )
        .unwrap();
        assert_eq!(
            value,
            json!({
                "a": {"Ref": "Table"},
                "b": {"Fn::GetAtt": ["Queue", "Arn"]},
                "c": {"Fn::GetAtt": ["Queue", "Arn"]},
                "d": {"Fn::Sub": "${Table.Arn}/index/*"},
                "e": {"Fn::Sub": ["${A}-x", {"A": {"Ref": "B"}}]},
                "f": {"Fn::Join": [",", [{"Ref": "X"}, "y"]]},
                "g": {"Condition": "IsProd"},
                "h": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
                "i": {"Fn::Split": [",", {"Ref": "Origins"}]},
            })
        );
    }

    #[test]
    fn scalars_and_keys_keep_their_meaning() {
        let value = convert("n: 30\ns: '30'\nf: 1.5\nb: true\nz:\n8080: port\n").unwrap();
        assert_eq!(value, json!({"n": 30, "s": "30", "f": 1.5, "b": true, "z": null, "8080": "port"}));
    }

    #[test]
    fn getatt_without_attribute_is_an_error() {
        let err = convert("a: !GetAtt Queue").unwrap_err();
        assert!(matches!(&err, TemplateError::Intrinsic { tag, .. } if tag == "GetAtt"), "{err}");
        assert!(err.to_string().contains("Resource.Attribute"), "{err}");
    }

    #[test]
    fn broken_yaml_reports_where() {
        let err = convert("a: [1, 2\nb: 3").unwrap_err();
        assert!(matches!(err, TemplateError::Yaml(ref m) if m.contains("line")), "{err}");
    }

    #[test]
    fn resource_order_follows_the_file() {
        let doc = load("Resources:\n  Zeta: {Type: X}\n  Alpha: {Type: Y}\n").unwrap();
        assert_eq!(resource_order(&doc), ["Zeta", "Alpha"]);
    }
}
