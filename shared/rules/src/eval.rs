//! Evaluating a [`CompiledRule`] against one piece of evidence: the evidence becomes a CEL value,
//! `resources` selects the items to judge, and each item gets one [`CheckResult`]. The bounds
//! ([`Limits`]) are enforced here; the crate documentation explains them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cel::objects::{Key, Map};
use cel::{Context, Value};
use chrono::{DateTime, Utc};
use kushim_checks::{CheckResult, Evidence, EvidenceContext, InconclusiveReason, Status};

use crate::compile::{Compiled, Expression, run_isolated};
use crate::{CompiledRule, RuleError};

/// The most resources `resources` may select.
pub const MAX_RESOURCES: usize = 100_000;
/// The most steps the worst-case cost estimate may reach over one evaluation.
pub const MAX_COST: u64 = 20_000_000;
/// The wall-clock budget of one evaluation, checked after each resource.
pub const TIME_BUDGET: Duration = Duration::from_secs(2);

/// The bounds of one evaluation. [`Limits::default`] holds the documented constants; tests and
/// callers with stricter needs may lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_resources: usize,
    pub max_cost: u64,
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_resources: MAX_RESOURCES, max_cost: MAX_COST, time_budget: TIME_BUDGET }
    }
}

impl CompiledRule {
    /// Judges `evidence`, collected as `ctx` describes, at time `now`, within [`Limits::default`]:
    /// one result per resource, or one not-applicable result for the scope when there is none.
    pub fn evaluate(
        &self,
        evidence: &Evidence,
        ctx: &EvidenceContext,
        now: DateTime<Utc>,
    ) -> Result<Vec<CheckResult>, RuleError> {
        self.evaluate_with_limits(evidence, ctx, now, &Limits::default())
    }

    /// [`CompiledRule::evaluate`] within `limits`.
    pub fn evaluate_with_limits(
        &self,
        evidence: &Evidence,
        ctx: &EvidenceContext,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Result<Vec<CheckResult>, RuleError> {
        if evidence.kind() != self.spec.evidence_kind {
            return Err(RuleError::WrongEvidenceKind {
                rule_id: self.spec.id.clone(),
                expected: self.spec.evidence_kind.clone(),
                found: evidence.kind(),
            });
        }
        let data = match serde_json::to_value(evidence) {
            Ok(serde_json::Value::Object(mut tagged)) => tagged.remove("data").unwrap_or(serde_json::Value::Null),
            Ok(_) => return Err(RuleError::Internal("evidence did not serialise to an object".into())),
            Err(e) => return Err(RuleError::Internal(format!("evidence did not serialise: {e}"))),
        };
        let mut results = run_isolated(|| Run::new(self, limits).evaluate(data, now))??;
        apply_permission_errors(&self.spec.id, ctx, &mut results);
        if results.is_empty() {
            results.push(CheckResult {
                check_id: self.spec.id.clone(),
                resource_id: ctx.scope.resource_id(),
                status: Status::NotApplicable,
                reason: "The rule's `resources` expression selected nothing to judge.".into(),
            });
        }
        Ok(results)
    }
}

/// The state of one evaluation: what it has spent so far.
struct Run<'r> {
    rule: &'r CompiledRule,
    limits: &'r Limits,
    started: Instant,
    spent: u128,
}

/// The outcome of one expression on one resource.
enum Outcome {
    Value(Value),
    Failed(String),
}

impl<'r> Run<'r> {
    fn new(rule: &'r CompiledRule, limits: &'r Limits) -> Self {
        Run { rule, limits, started: Instant::now(), spent: 0 }
    }

    fn budget(&self, detail: String) -> RuleError {
        RuleError::Budget { rule_id: self.rule.spec.id.clone(), detail }
    }

    /// Adds the worst case of `compiled` over data whose longest list or map has `longest` items.
    fn charge(&mut self, which: Expression, compiled: &Compiled, longest: u64) -> Result<(), RuleError> {
        let cost = compiled.shape.cost(longest);
        self.spent = self.spent.saturating_add(cost);
        if self.spent > u128::from(self.limits.max_cost) {
            return Err(self.budget(format!(
                "the worst case of `{which}` over this evidence is about {cost} steps (lists of up to {longest} items, \
                 iterated by nested macros), which takes the evaluation past its limit of {} steps",
                self.limits.max_cost
            )));
        }
        Ok(())
    }

    fn evaluate(mut self, data: serde_json::Value, now: DateTime<Utc>) -> Result<Vec<CheckResult>, RuleError> {
        let rule = self.rule;
        let evidence = json_to_cel(data);
        let longest_evidence = longest_container(&evidence);
        let mut root = Context::default();
        root.add_variable_from_value("evidence", evidence);
        root.add_variable_from_value("now", Value::Timestamp(now.fixed_offset()));

        self.charge(Expression::Resources, &rule.resources, longest_evidence)?;
        let resources_error = |message: String| RuleError::Resources { rule_id: rule.spec.id.clone(), message };
        let items = match rule.resources.program.execute(&root) {
            Ok(Value::List(items)) => items,
            Ok(other) => return Err(resources_error(format!("gave {}, not a list", type_name(&other)))),
            Err(e) => return Err(resources_error(format!("failed: {e}"))),
        };
        if items.len() > self.limits.max_resources {
            return Err(RuleError::TooManyResources {
                rule_id: rule.spec.id.clone(),
                count: items.len(),
                max: self.limits.max_resources,
            });
        }

        let mut results = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let longest = longest_container(item);
            let mut scope = root.new_inner_scope();
            scope.add_variable_from_value("resource", item.clone());
            results.push(self.judge(&scope, index, longest, longest_evidence)?);
            let elapsed = self.started.elapsed();
            if elapsed > self.limits.time_budget {
                return Err(self.budget(format!(
                    "stopped after {} of {} resources: {elapsed:?} exceeds the time budget of {:?}",
                    index + 1,
                    items.len(),
                    self.limits.time_budget
                )));
            }
        }
        Ok(results)
    }

    fn run(
        &mut self,
        which: Expression,
        compiled: &Compiled,
        scope: &Context<'_, '_>,
        longest: u64,
        longest_evidence: u64,
    ) -> Result<Outcome, RuleError> {
        let bound = if compiled.shape.reads_evidence { longest.max(longest_evidence) } else { longest };
        self.charge(which, compiled, bound)?;
        Ok(match compiled.program.execute(scope) {
            Ok(value) => Outcome::Value(value),
            Err(e) => Outcome::Failed(e.to_string()),
        })
    }

    fn judge(
        &mut self,
        scope: &Context<'_, '_>,
        index: usize,
        longest: u64,
        longest_evidence: u64,
    ) -> Result<CheckResult, RuleError> {
        let rule = self.rule;
        let spec = &rule.spec;
        let result = |resource_id: &str, status: Status, reason: String| CheckResult {
            check_id: spec.id.clone(),
            resource_id: resource_id.to_owned(),
            status,
            reason,
        };
        let inconclusive = |resource_id: &str, which: Expression, message: String| {
            result(
                resource_id,
                Status::Inconclusive(InconclusiveReason::FieldNotVisible { field: message.clone() }),
                format!(
                    "{resource_id} could not be judged: `{which}` could not be evaluated ({message}), so the evidence \
                     may not show what the rule needs."
                ),
            )
        };

        let fallback_id = format!("{}[{index}]", spec.resources);
        let id = match self.run(Expression::ResourceId, &rule.resource_id, scope, longest, longest_evidence)? {
            Outcome::Value(Value::String(s)) => s.to_string(),
            Outcome::Value(Value::Int(i)) => i.to_string(),
            Outcome::Value(Value::UInt(u)) => u.to_string(),
            Outcome::Value(other) => {
                let message = format!("it gave {}, not a string", type_name(&other));
                return Ok(inconclusive(&fallback_id, Expression::ResourceId, message));
            }
            Outcome::Failed(message) => return Ok(inconclusive(&fallback_id, Expression::ResourceId, message)),
        };

        if let Some(applies) = &rule.applies {
            match self.run(Expression::Applies, applies, scope, longest, longest_evidence)? {
                Outcome::Value(Value::Bool(true)) => {}
                Outcome::Value(Value::Bool(false)) => {
                    let reason = format!("{id} is outside the rule's scope: its `applies` condition is false.");
                    return Ok(result(&id, Status::NotApplicable, reason));
                }
                Outcome::Value(other) => {
                    let message = format!("it gave {}, not a boolean", type_name(&other));
                    return Ok(inconclusive(&id, Expression::Applies, message));
                }
                Outcome::Failed(message) => return Ok(inconclusive(&id, Expression::Applies, message)),
            }
        }

        Ok(match self.run(Expression::Pass, &rule.pass, scope, longest, longest_evidence)? {
            Outcome::Value(Value::Bool(true)) => {
                result(&id, Status::Pass, format!("{id} meets the rule \"{}\".", spec.title))
            }
            Outcome::Value(Value::Bool(false)) => result(&id, Status::Fail, spec.fail_reason.replace("{id}", &id)),
            Outcome::Value(other) => {
                inconclusive(&id, Expression::Pass, format!("it gave {}, not a boolean", type_name(&other)))
            }
            Outcome::Failed(message) => inconclusive(&id, Expression::Pass, message),
        })
    }
}

/// A refused action means part of the evidence is missing. A custom rule does not declare which
/// actions it depends on, so every refusal counts: as for built-in checks, a result that would
/// have passed becomes inconclusive (`PermissionDenied`), failures stay failures, and a refusal no
/// result names yet gets a result of its own. A refusal for one resource affects only that
/// resource.
fn apply_permission_errors(rule_id: &str, ctx: &EvidenceContext, results: &mut Vec<CheckResult>) {
    for denial in &ctx.permission_errors {
        let denied = || Status::Inconclusive(InconclusiveReason::PermissionDenied { action: denial.action.clone() });
        let mut named = false;
        for result in results.iter_mut() {
            if denial.resource.as_ref().is_some_and(|r| *r != result.resource_id) {
                continue;
            }
            if result.status.is_pass() {
                result.status = denied();
                result.reason = format!(
                    "The visible evidence looked compliant, but {} was refused ({}), so part of it is missing.",
                    denial.action, denial.message
                );
            }
            named |= result.status == denied();
        }
        if !named {
            results.push(CheckResult {
                check_id: rule_id.to_owned(),
                resource_id: denial.resource.clone().unwrap_or_else(|| ctx.scope.resource_id()),
                status: denied(),
                reason: format!(
                    "{} was refused ({}), so this rule could not see all the evidence it needs.",
                    denial.action, denial.message
                ),
            });
        }
    }
}

/// JSON to CEL. Object fields that are `null` (values the collector could not see) are dropped,
/// so reading them is an error rather than a comparison with `null`.
fn json_to_cel(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::UInt(u),
            (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::String(Arc::new(s)),
        serde_json::Value::Array(items) => Value::List(Arc::new(items.into_iter().map(json_to_cel).collect())),
        serde_json::Value::Object(fields) => {
            let map: HashMap<Key, Value> =
                fields.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (Key::from(k), json_to_cel(v))).collect();
            Value::Map(Map { map: Arc::new(map) })
        }
    }
}

/// The length of the longest list or map in `value`, itself included.
fn longest_container(value: &Value) -> u64 {
    let mut longest = 0u64;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::List(items) => {
                longest = longest.max(items.len() as u64);
                stack.extend(items.iter());
            }
            Value::Map(map) => {
                longest = longest.max(map.map.len() as u64);
                stack.extend(map.map.values());
            }
            _ => {}
        }
    }
    longest
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Function(..) => "a function",
        Value::Int(_) => "an int",
        Value::UInt(_) => "a uint",
        Value::Float(_) => "a double",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "a bool",
        Value::Duration(_) => "a duration",
        Value::Timestamp(_) => "a timestamp",
        Value::Null => "null",
        _ => "a value of another type",
    }
}
