//! Turning a [`RuleSpec`] into a [`CompiledRule`]: field checks, size limits, parsing, static
//! analysis of each expression, a check that every function called exists, and a dry run on empty
//! input. Everything a tenant can get wrong is reported here, at creation, rather than at the first
//! evaluation.

use std::fmt;

use cel::{Context, ExecutionError, Program, Value};

use crate::analyze::{self, Refusal, Shape};
use crate::spec::{MAX_EXPRESSION_CHARS, MAX_TOTAL_CHARS};
use crate::{RuleError, RuleSpec};

/// The stack of the thread that parses and evaluates expressions. Parsing nests deeply in debug
/// builds (each level of brackets costs tens of kilobytes); the parser stops at 96 levels, which
/// needs under 16 MiB. The memory is reserved, not committed, until used.
pub const STACK_BYTES: usize = 64 * 1024 * 1024;

/// The expressions of a rule, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expression {
    Resources,
    ResourceId,
    Applies,
    Pass,
}

impl Expression {
    /// The field name in [`RuleSpec`].
    pub fn name(self) -> &'static str {
        match self {
            Expression::Resources => "resources",
            Expression::ResourceId => "resource_id",
            Expression::Applies => "applies",
            Expression::Pass => "pass",
        }
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One parsed and analysed expression.
pub(crate) struct Compiled {
    pub program: Program,
    pub shape: Shape,
}

/// A validated rule, ready to evaluate. Build it with [`CompiledRule::compile`].
pub struct CompiledRule {
    pub(crate) spec: RuleSpec,
    pub(crate) resources: Compiled,
    pub(crate) resource_id: Compiled,
    pub(crate) applies: Option<Compiled>,
    pub(crate) pass: Compiled,
}

impl fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRule").field("spec", &self.spec).finish_non_exhaustive()
    }
}

impl CompiledRule {
    /// Validates `spec` and parses its expressions; see the crate documentation for every limit.
    pub fn compile(spec: RuleSpec) -> Result<CompiledRule, RuleError> {
        spec.validate_fields()?;
        let mut sources = vec![
            (Expression::Resources, spec.resources.clone()),
            (Expression::ResourceId, spec.resource_id.clone()),
            (Expression::Pass, spec.pass.clone()),
        ];
        if let Some(applies) = &spec.applies {
            sources.push((Expression::Applies, applies.clone()));
        }
        let mut total = 0;
        for (which, source) in &sources {
            let chars = source.chars().count();
            if chars > MAX_EXPRESSION_CHARS {
                return Err(RuleError::ExpressionTooLong {
                    expression: which.name(),
                    chars,
                    max: MAX_EXPRESSION_CHARS,
                });
            }
            total += chars;
        }
        if total > MAX_TOTAL_CHARS {
            return Err(RuleError::RuleTooLong { chars: total, max: MAX_TOTAL_CHARS });
        }
        let mut compiled = run_isolated(move || {
            sources
                .into_iter()
                .map(|(which, source)| compile_one(which, &source).map(|c| (which, c)))
                .collect::<Result<Vec<_>, RuleError>>()
        })??;
        let mut take = |which: Expression| {
            let at = compiled.iter().position(|(w, _)| *w == which)?;
            Some(compiled.swap_remove(at).1)
        };
        let missing = || RuleError::Internal("an expression went missing while compiling".into());
        Ok(CompiledRule {
            resources: take(Expression::Resources).ok_or_else(missing)?,
            resource_id: take(Expression::ResourceId).ok_or_else(missing)?,
            pass: take(Expression::Pass).ok_or_else(missing)?,
            applies: take(Expression::Applies),
            spec,
        })
    }

    /// The rule as submitted.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// The rule's id (`custom.<slug>`), used as the `check_id` of its results.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The evidence kind the rule judges.
    pub fn evidence_kind(&self) -> &str {
        &self.spec.evidence_kind
    }
}

/// Runs `f` on a fresh thread with a [`STACK_BYTES`] stack and waits for it; a panic becomes
/// [`RuleError::Internal`].
pub(crate) fn run_isolated<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, RuleError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("kushim-rules".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| RuleError::Internal(format!("could not start the rule thread: {e}")))?;
        handle.join().map_err(|_| RuleError::Internal("the expression interpreter panicked".into()))
    })
}

fn compile_one(which: Expression, source: &str) -> Result<Compiled, RuleError> {
    let expression = which.name();
    if source.trim().is_empty() {
        return Err(RuleError::Parse { expression, message: "the expression is empty".into() });
    }
    let program = Program::compile(source)
        .map_err(|e| RuleError::Parse { expression, message: e.to_string().replace("<input>", expression) })?;
    let analysis = analyze::analyze(program.expression()).map_err(|refusal| match refusal {
        Refusal::UnknownVariable(name) => RuleError::UnknownVariable { expression, name },
        Refusal::TooComplex(message) => RuleError::TooComplex { expression, message },
    })?;
    if which == Expression::Resources && analysis.reads_resource {
        return Err(RuleError::UnknownVariable { expression, name: "resource".into() });
    }
    let context = Context::default();
    for (name, member) in
        analysis.functions.iter().map(|n| (n, false)).chain(analysis.member_functions.iter().map(|n| (n, true)))
    {
        if !function_exists(&context, name, member) {
            return Err(RuleError::UnknownFunction { expression, name: name.clone() });
        }
    }
    // Dry run on empty input: missing fields are expected to fail; what matters is that the
    // interpreter copes (a panic surfaces as `RuleError::Internal` through `run_isolated`).
    let mut dry = Context::default();
    dry.add_variable_from_value("evidence", Value::Map(std::collections::HashMap::<String, Value>::new().into()));
    dry.add_variable_from_value("resource", Value::Map(std::collections::HashMap::<String, Value>::new().into()));
    dry.add_variable_from_value("now", Value::Timestamp(chrono::DateTime::UNIX_EPOCH.fixed_offset()));
    let _ = program.execute(&dry);
    Ok(Compiled { program, shape: analysis.shape })
}

/// Calls `name` with no arguments (on `null` for a member function): an unknown function is an
/// undeclared reference, a known one complains about its arguments instead.
fn function_exists(context: &Context<'_, '_>, name: &str, member: bool) -> bool {
    let probe = if member { format!("null.{name}()") } else { format!("{name}()") };
    let Ok(program) = Program::compile(&probe) else {
        return false;
    };
    !matches!(program.execute(context), Err(ExecutionError::UndeclaredReference(n)) if n.as_str() == name)
}
