//! EventBridge event patterns: parsing and matching, used by the embedded bus to decide which
//! subscribers receive an event, with the same rules EventBridge applies to its rules.
//!
//! A pattern is a JSON object mirroring the event envelope
//! (`{"source": ..., "detail-type": ..., "detail": {...}}`). Nested objects select nested fields; every
//! leaf is a non-empty array of allowed values, and a field matches when any of them matches. A value
//! is either a JSON scalar (exact match; numbers compare by value) or one operator object:
//!
//! - `{"prefix": "abc"}`, `{"suffix": "xyz"}` (either may take `{"equals-ignore-case": "..."}`);
//! - `{"equals-ignore-case": "abc"}`;
//! - `{"anything-but": value}` where the value is a scalar, an array of scalars, or a `prefix`,
//!   `suffix` or `equals-ignore-case` operator;
//! - `{"exists": true}` / `{"exists": false}`;
//! - `{"numeric": [">", 0, "<=", 5]}` (one or two comparisons, all must hold).
//!
//! Every field named in the pattern must match (logical AND). When the event holds an array where the
//! pattern expects a value, the field matches if any element does. As in EventBridge, only leaf
//! values count: a field holding an object does not "exist" for a leaf matcher.
//!
//! Not supported (refused by [`EventPattern::parse`] with `Invalid`): `$or`, `wildcard`, `cidr`.

use serde_json::{Map, Value};

use crate::{AdapterError, Result};

/// A parsed, validated event pattern.
#[derive(Debug, Clone)]
pub struct EventPattern(Value, Fields);

/// The fields a pattern object names, each with what it expects.
type Fields = Vec<(String, Node)>;

#[derive(Debug, Clone)]
enum Node {
    /// A nested object pattern.
    Nested(Fields),
    /// A leaf: the field matches if any matcher matches.
    Leaf(Vec<Matcher>),
}

#[derive(Debug, Clone)]
enum Matcher {
    /// A JSON scalar (string, number, bool or null).
    Exact(Value),
    Prefix(Text),
    Suffix(Text),
    /// Lower-cased expected string.
    EqualsIgnoreCase(String),
    /// Matches a present value that none of these matchers match.
    AnythingBut(Vec<Matcher>),
    Exists(bool),
    /// Every comparison must hold.
    Numeric(Vec<(NumericOp, f64)>),
}

/// The string argument of `prefix` / `suffix`, lower-cased when compared ignoring case.
#[derive(Debug, Clone)]
struct Text {
    value: String,
    ignore_case: bool,
}

#[derive(Debug, Clone, Copy)]
enum NumericOp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl EventPattern {
    /// Parses and validates a pattern: the top level must be a non-empty object, every leaf a
    /// non-empty array of scalars or known operators. Anything else is `AdapterError::Invalid`.
    pub fn parse(value: Value) -> Result<Self> {
        let Value::Object(root) = &value else {
            return Err(invalid("an event pattern must be a JSON object"));
        };
        let fields = parse_fields(root, "")?;
        Ok(Self(value, fields))
    }

    /// The pattern as it was given, e.g. to hand to EventBridge's `PutRule`.
    pub fn as_json(&self) -> &Value {
        &self.0
    }

    /// Whether the event envelope (`{"source", "detail-type", "detail", ...}`) matches.
    pub fn matches(&self, envelope: &Value) -> bool {
        fields_match(&self.1, Some(envelope))
    }
}

fn invalid(msg: impl Into<String>) -> AdapterError {
    AdapterError::Invalid(msg.into())
}

/// Joins a field path for error messages, e.g. `detail.state`.
fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn parse_fields(object: &Map<String, Value>, path: &str) -> Result<Fields> {
    if object.is_empty() {
        let at = if path.is_empty() { "the event pattern" } else { path };
        return Err(invalid(format!("{at} is an empty object")));
    }
    let mut fields = Vec::with_capacity(object.len());
    for (key, value) in object {
        let here = join(path, key);
        if key.starts_with('$') {
            return Err(invalid(format!("unsupported pattern keyword {key:?} at {here}")));
        }
        let node = match value {
            Value::Object(nested) => Node::Nested(parse_fields(nested, &here)?),
            Value::Array(items) => Node::Leaf(parse_leaf(items, &here)?),
            _ => return Err(invalid(format!("{here} must be an object or an array of allowed values"))),
        };
        fields.push((key.clone(), node));
    }
    Ok(fields)
}

fn parse_leaf(items: &[Value], path: &str) -> Result<Vec<Matcher>> {
    if items.is_empty() {
        return Err(invalid(format!("{path} is an empty array")));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(op) => parse_operator(op, path),
            Value::Array(_) => Err(invalid(format!("{path} holds a nested array"))),
            scalar => Ok(Matcher::Exact(scalar.clone())),
        })
        .collect()
}

/// Splits an operator object into its single name and argument.
fn single_operator<'a>(op: &'a Map<String, Value>, path: &str) -> Result<(&'a str, &'a Value)> {
    let mut entries = op.iter();
    match (entries.next(), entries.next()) {
        (Some((name, arg)), None) => Ok((name.as_str(), arg)),
        _ => Err(invalid(format!("{path}: an operator object holds exactly one operator"))),
    }
}

fn parse_operator(op: &Map<String, Value>, path: &str) -> Result<Matcher> {
    let (name, arg) = single_operator(op, path)?;
    match name {
        "prefix" => Ok(Matcher::Prefix(parse_text(name, arg, path)?)),
        "suffix" => Ok(Matcher::Suffix(parse_text(name, arg, path)?)),
        "equals-ignore-case" => match arg {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(s.to_lowercase())),
            _ => Err(invalid(format!("{path}: equals-ignore-case takes a string"))),
        },
        "anything-but" => parse_anything_but(arg, path),
        "exists" => match arg {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(invalid(format!("{path}: exists takes true or false"))),
        },
        "numeric" => parse_numeric(arg, path),
        other => Err(invalid(format!("{path}: unknown or unsupported operator {other:?}"))),
    }
}

/// `"abc"` or `{"equals-ignore-case": "abc"}`, as taken by `prefix` and `suffix`.
fn parse_text(op: &str, arg: &Value, path: &str) -> Result<Text> {
    match arg {
        Value::String(s) => Ok(Text { value: s.clone(), ignore_case: false }),
        Value::Object(inner) => match single_operator(inner, path)? {
            ("equals-ignore-case", Value::String(s)) => Ok(Text { value: s.to_lowercase(), ignore_case: true }),
            _ => Err(invalid(format!("{path}: {op} takes a string or {{\"equals-ignore-case\": string}}"))),
        },
        _ => Err(invalid(format!("{path}: {op} takes a string"))),
    }
}

fn parse_anything_but(arg: &Value, path: &str) -> Result<Matcher> {
    let excluded = match arg {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(invalid(format!("{path}: anything-but has an empty list")));
            }
            items
                .iter()
                .map(|item| match item {
                    Value::Array(_) | Value::Object(_) => {
                        Err(invalid(format!("{path}: anything-but lists hold only strings, numbers, booleans or null")))
                    }
                    scalar => Ok(Matcher::Exact(scalar.clone())),
                })
                .collect::<Result<Vec<_>>>()?
        }
        Value::Object(op) => {
            let matcher = parse_operator(op, path)?;
            match matcher {
                Matcher::Prefix(_) | Matcher::Suffix(_) | Matcher::EqualsIgnoreCase(_) => vec![matcher],
                _ => {
                    return Err(invalid(format!(
                        "{path}: anything-but takes a value, a list of values, or a prefix, suffix or \
                         equals-ignore-case operator"
                    )));
                }
            }
        }
        scalar => vec![Matcher::Exact(scalar.clone())],
    };
    Ok(Matcher::AnythingBut(excluded))
}

fn parse_numeric(arg: &Value, path: &str) -> Result<Matcher> {
    let bad = || invalid(format!("{path}: numeric takes [op, number] or [op, number, op, number]"));
    let Value::Array(items) = arg else { return Err(bad()) };
    if items.len() != 2 && items.len() != 4 {
        return Err(bad());
    }
    items
        .chunks(2)
        .map(|pair| {
            let op = match pair[0].as_str() {
                Some("<") => NumericOp::Lt,
                Some("<=") => NumericOp::Le,
                Some("=") => NumericOp::Eq,
                Some(">=") => NumericOp::Ge,
                Some(">") => NumericOp::Gt,
                _ => return Err(invalid(format!("{path}: numeric operators are <, <=, =, >= and >"))),
            };
            let bound = pair[1].as_f64().ok_or_else(bad)?;
            Ok((op, bound))
        })
        .collect::<Result<Vec<_>>>()
        .map(Matcher::Numeric)
}

/// Whether every field of the pattern matches `value` (absent when the event has no such field).
fn fields_match(fields: &Fields, value: Option<&Value>) -> bool {
    let object = value.and_then(Value::as_object);
    fields.iter().all(|(key, node)| {
        let field = object.and_then(|o| o.get(key));
        match node {
            Node::Nested(inner) => match field {
                // An array of objects matches if any element matches the nested pattern.
                Some(Value::Array(items)) => items.iter().any(|item| fields_match(inner, Some(item))),
                other => fields_match(inner, other),
            },
            Node::Leaf(matchers) => leaf_matches(matchers, field),
        }
    })
}

/// Collects the leaf values of a field: a scalar, or the scalars of an array. Objects are not
/// leaves, so they contribute nothing.
fn leaf_values<'a>(field: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match field {
        None | Some(Value::Object(_)) => {}
        Some(Value::Array(items)) => items.iter().for_each(|item| leaf_values(Some(item), out)),
        Some(scalar) => out.push(scalar),
    }
}

fn leaf_matches(matchers: &[Matcher], field: Option<&Value>) -> bool {
    let mut values = Vec::new();
    leaf_values(field, &mut values);
    matchers.iter().any(|matcher| match matcher {
        Matcher::Exists(expected) => values.is_empty() != *expected,
        other => values.iter().any(|value| other.matches_scalar(value)),
    })
}

impl Matcher {
    /// Whether one present leaf value matches.
    fn matches_scalar(&self, value: &Value) -> bool {
        match self {
            Self::Exact(expected) => match (expected, value) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                _ => expected == value,
            },
            Self::Prefix(text) => value.as_str().is_some_and(|s| text.compare(s, |s, t| s.starts_with(t))),
            Self::Suffix(text) => value.as_str().is_some_and(|s| text.compare(s, |s, t| s.ends_with(t))),
            Self::EqualsIgnoreCase(expected) => value.as_str().is_some_and(|s| s.to_lowercase() == *expected),
            Self::AnythingBut(excluded) => !excluded.iter().any(|m| m.matches_scalar(value)),
            Self::Exists(expected) => *expected,
            Self::Numeric(conditions) => {
                value.is_number()
                    && value.as_f64().is_some_and(|n| {
                        conditions.iter().all(|(op, bound)| match op {
                            NumericOp::Lt => n < *bound,
                            NumericOp::Le => n <= *bound,
                            NumericOp::Eq => n == *bound,
                            NumericOp::Ge => n >= *bound,
                            NumericOp::Gt => n > *bound,
                        })
                    })
            }
        }
    }
}

impl Text {
    fn compare(&self, candidate: &str, test: impl Fn(&str, &str) -> bool) -> bool {
        if self.ignore_case { test(&candidate.to_lowercase(), &self.value) } else { test(candidate, &self.value) }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(detail: Value) -> Value {
        json!({"source": "kushim.runs", "detail-type": "run.completed", "detail": detail})
    }

    fn matches(pattern: Value, detail: Value) -> bool {
        EventPattern::parse(pattern).expect("valid pattern").matches(&envelope(detail))
    }

    fn refused(pattern: Value) -> String {
        match EventPattern::parse(pattern) {
            Err(AdapterError::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn exact_values_of_every_scalar_type() {
        assert!(matches(json!({"source": ["kushim.runs"]}), json!({})));
        assert!(matches(json!({"detail": {"n": [5]}}), json!({"n": 5.0})));
        assert!(matches(json!({"detail": {"ok": [true]}}), json!({"ok": true})));
        assert!(matches(json!({"detail": {"v": [null]}}), json!({"v": null})));
        assert!(!matches(json!({"detail": {"ok": [true]}}), json!({"ok": "true"})));
        assert!(!matches(json!({"detail": {"v": [null]}}), json!({})));
    }

    #[test]
    fn any_allowed_value_and_all_fields() {
        let pattern = json!({"source": ["a", "kushim.runs"], "detail-type": ["run.completed"]});
        assert!(matches(pattern.clone(), json!({})));
        let pattern = json!({"source": ["kushim.runs"], "detail-type": ["run.failed"]});
        assert!(!matches(pattern, json!({})));
    }

    #[test]
    fn non_match() {
        assert!(!matches(json!({"source": ["kushim.billing"]}), json!({})));
        assert!(!matches(json!({"detail": {"state": ["FAILED"]}}), json!({"state": "PASSED"})));
        assert!(!matches(json!({"detail": {"missing": ["x"]}}), json!({"state": "x"})));
    }

    #[test]
    fn prefix_and_suffix() {
        assert!(matches(json!({"detail": {"k": [{"prefix": "runs/"}]}}), json!({"k": "runs/42"})));
        assert!(!matches(json!({"detail": {"k": [{"prefix": "runs/"}]}}), json!({"k": "jobs/42"})));
        assert!(matches(json!({"detail": {"k": [{"suffix": ".json"}]}}), json!({"k": "a/b.json"})));
        assert!(!matches(json!({"detail": {"k": [{"suffix": ".json"}]}}), json!({"k": "a/b.yaml"})));
        assert!(!matches(json!({"detail": {"k": [{"prefix": "1"}]}}), json!({"k": 12})));
        let ci = json!({"detail": {"k": [{"prefix": {"equals-ignore-case": "RUNS/"}}]}});
        assert!(matches(ci, json!({"k": "Runs/1"})));
        let ci = json!({"detail": {"k": [{"suffix": {"equals-ignore-case": ".JSON"}}]}});
        assert!(matches(ci, json!({"k": "x.Json"})));
    }

    #[test]
    fn anything_but() {
        let single = json!({"detail": {"state": [{"anything-but": "FAILED"}]}});
        assert!(matches(single.clone(), json!({"state": "PASSED"})));
        assert!(!matches(single.clone(), json!({"state": "FAILED"})));
        // Like EventBridge, anything-but needs the field to be present.
        assert!(!matches(single, json!({})));
        let list = json!({"detail": {"n": [{"anything-but": [1, 2]}]}});
        assert!(matches(list.clone(), json!({"n": 3})));
        assert!(!matches(list, json!({"n": 2.0})));
        let prefix = json!({"detail": {"k": [{"anything-but": {"prefix": "tmp/"}}]}});
        assert!(matches(prefix.clone(), json!({"k": "runs/1"})));
        assert!(!matches(prefix, json!({"k": "tmp/1"})));
    }

    #[test]
    fn exists() {
        let yes = json!({"detail": {"k": [{"exists": true}]}});
        let no = json!({"detail": {"k": [{"exists": false}]}});
        assert!(matches(yes.clone(), json!({"k": "v"})));
        assert!(matches(yes.clone(), json!({"k": null})));
        assert!(!matches(yes.clone(), json!({})));
        // Objects are not leaves.
        assert!(!matches(yes, json!({"k": {"inner": 1}})));
        assert!(matches(no.clone(), json!({})));
        assert!(!matches(no, json!({"k": 0})));
    }

    #[test]
    fn numeric() {
        let range = json!({"detail": {"n": [{"numeric": [">", 0, "<=", 5]}]}});
        assert!(matches(range.clone(), json!({"n": 5})));
        assert!(matches(range.clone(), json!({"n": 0.5})));
        assert!(!matches(range.clone(), json!({"n": 0})));
        assert!(!matches(range.clone(), json!({"n": 6})));
        assert!(!matches(range, json!({"n": "3"})));
        assert!(matches(json!({"detail": {"n": [{"numeric": ["=", 3]}]}}), json!({"n": 3.0})));
        assert!(matches(json!({"detail": {"n": [{"numeric": [">=", 3]}]}}), json!({"n": 3})));
        assert!(matches(json!({"detail": {"n": [{"numeric": ["<", 3]}]}}), json!({"n": -1})));
    }

    #[test]
    fn equals_ignore_case() {
        let pattern = json!({"detail": {"state": [{"equals-ignore-case": "Failed"}]}});
        assert!(matches(pattern.clone(), json!({"state": "FAILED"})));
        assert!(!matches(pattern, json!({"state": "FAILING"})));
    }

    #[test]
    fn nested_objects_recurse() {
        let pattern = json!({"detail": {"run": {"owner": {"team": ["grc"]}}}});
        assert!(matches(pattern.clone(), json!({"run": {"owner": {"team": "grc"}}})));
        assert!(!matches(pattern.clone(), json!({"run": {"owner": {"team": "ops"}}})));
        assert!(!matches(pattern, json!({"run": "grc"})));
    }

    #[test]
    fn arrays_in_the_event_match_if_any_element_does() {
        assert!(matches(json!({"detail": {"tags": ["soc2"]}}), json!({"tags": ["iso", "soc2"]})));
        assert!(!matches(json!({"detail": {"tags": ["hipaa"]}}), json!({"tags": ["iso", "soc2"]})));
        let objects = json!({"detail": {"checks": {"state": ["FAILED"]}}});
        assert!(matches(objects.clone(), json!({"checks": [{"state": "PASSED"}, {"state": "FAILED"}]})));
        assert!(!matches(objects, json!({"checks": [{"state": "PASSED"}]})));
        assert!(matches(json!({"detail": {"n": [{"numeric": [">", 10]}]}}), json!({"n": [1, 20]})));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        refused(json!(["source"]));
        refused(json!({}));
        refused(json!({"source": "kushim.runs"}));
        refused(json!({"source": []}));
        refused(json!({"detail": {}}));
        refused(json!({"source": [["nested"]]}));
        assert!(refused(json!({"source": [{"wildcard": "k*"}]})).contains("wildcard"));
        assert!(refused(json!({"source": [{"regex": "k.*"}]})).contains("regex"));
        refused(json!({"$or": [{"source": ["a"]}]}));
        refused(json!({"source": [{"prefix": "a", "suffix": "b"}]}));
        refused(json!({"source": [{"prefix": 1}]}));
        refused(json!({"source": [{"exists": "yes"}]}));
        refused(json!({"source": [{"equals-ignore-case": 3}]}));
        refused(json!({"n": [{"numeric": [">", "zero"]}]}));
        refused(json!({"n": [{"numeric": ["!=", 1]}]}));
        refused(json!({"n": [{"numeric": [">", 1, "<"]}]}));
        refused(json!({"n": [{"anything-but": []}]}));
        refused(json!({"n": [{"anything-but": {"exists": true}}]}));
    }

    #[test]
    fn keeps_the_original_json() {
        let raw = json!({"source": ["kushim.runs"]});
        assert_eq!(EventPattern::parse(raw.clone()).unwrap().as_json(), &raw);
    }
}
