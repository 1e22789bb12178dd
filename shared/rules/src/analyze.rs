//! Static analysis of a parsed expression: its size and depth, the variables and functions it
//! names, and the figures the evaluation cost estimate needs ([`Shape`]). The walk uses an explicit
//! stack, so even a pathologically deep tree cannot overflow ours.

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

/// The most nodes one expression may have once its macros are expanded.
pub const MAX_AST_NODES: usize = 500;
/// The deepest one expression may be once its macros are expanded (the root is level 1).
pub const MAX_AST_DEPTH: usize = 32;

/// The variables a rule's expressions may read.
pub(crate) const VARIABLES: [&str; 3] = ["evidence", "resource", "now"];

/// CEL type names, which are identifiers too (`type(x) == string`).
const TYPE_NAMES: [&str; 10] = ["bool", "bytes", "double", "dyn", "int", "list", "map", "null_type", "string", "uint"];

/// What an expression's cost depends on, worked out once at creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// `nodes_at_loop_depth[k]` nodes are evaluated inside `k` nested macro loops.
    pub nodes_at_loop_depth: Vec<u64>,
    /// How many `+` calls the expression makes; each can at most add one list's length to another.
    pub plus_calls: u64,
    /// The longest list or map literal written in the expression.
    pub longest_literal: u64,
    /// Whether the expression reads `evidence` (per-resource expressions that do not only ever see
    /// one resource, so the resource's own lists bound their loops).
    pub reads_evidence: bool,
}

impl Shape {
    /// The worst-case number of steps, if no list or map the expression can iterate is longer
    /// than `longest_data` items. Saturates instead of overflowing.
    pub fn cost(&self, longest_data: u64) -> u128 {
        let bound = u128::from(longest_data.max(self.longest_literal).max(1)) * u128::from(self.plus_calls + 1);
        self.nodes_at_loop_depth.iter().enumerate().fold(0u128, |total, (depth, &nodes)| {
            let per_node = u32::try_from(depth).ok().and_then(|d| bound.checked_pow(d)).unwrap_or(u128::MAX);
            total.saturating_add(per_node.saturating_mul(u128::from(nodes)))
        })
    }
}

/// The outcome of a walk: the shape, and the functions to check exist.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    pub shape: Shape,
    /// Global functions called, other than operators.
    pub functions: Vec<String>,
    /// Member functions called (`x.f()`), other than operators.
    pub member_functions: Vec<String>,
    /// Whether the expression reads `resource`.
    pub reads_resource: bool,
}

/// Why an expression was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    UnknownVariable(String),
    TooComplex(String),
}

/// Walks `root`; refuses unknown variables, more than [`MAX_AST_NODES`] nodes or more than
/// [`MAX_AST_DEPTH`] levels.
pub(crate) fn analyze(root: &IdedExpr) -> Result<Analysis, Refusal> {
    struct Item<'a> {
        expr: &'a IdedExpr,
        depth: usize,
        loops: usize,
        bound: Vec<&'a str>,
    }
    let mut analysis = Analysis::default();
    let mut nodes = 0usize;
    let mut stack = vec![Item { expr: root, depth: 1, loops: 0, bound: Vec::new() }];
    while let Some(Item { expr, depth, loops, bound }) = stack.pop() {
        nodes += 1;
        if nodes > MAX_AST_NODES {
            return Err(Refusal::TooComplex(format!("more than {MAX_AST_NODES} nodes once macros are expanded")));
        }
        if depth > MAX_AST_DEPTH {
            return Err(Refusal::TooComplex(format!("nested more than {MAX_AST_DEPTH} levels deep")));
        }
        let shape = &mut analysis.shape;
        if shape.nodes_at_loop_depth.len() <= loops {
            shape.nodes_at_loop_depth.resize(loops + 1, 0);
        }
        shape.nodes_at_loop_depth[loops] += 1;
        macro_rules! push {
            ($child:expr, $loops:expr, $bound:expr) => {
                stack.push(Item { expr: $child, depth: depth + 1, loops: $loops, bound: $bound })
            };
        }
        match &expr.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => {
                if name == "evidence" && !bound.contains(&"evidence") {
                    shape.reads_evidence = true;
                }
                if name == "resource" && !bound.contains(&"resource") {
                    analysis.reads_resource = true;
                }
                let known = VARIABLES.contains(&name.as_str())
                    || TYPE_NAMES.contains(&name.as_str())
                    || bound.contains(&name.as_str());
                if !known {
                    return Err(Refusal::UnknownVariable(name.clone()));
                }
            }
            Expr::Select(select) => push!(&select.operand, loops, bound),
            Expr::Call(call) => {
                if call.func_name == "_+_" {
                    shape.plus_calls += 1;
                }
                if is_named_function(&call.func_name) {
                    let list =
                        if call.target.is_some() { &mut analysis.member_functions } else { &mut analysis.functions };
                    if !list.contains(&call.func_name) {
                        list.push(call.func_name.clone());
                    }
                }
                if let Some(target) = &call.target {
                    push!(target, loops, bound.clone());
                }
                for arg in &call.args {
                    push!(arg, loops, bound.clone());
                }
            }
            Expr::List(list) => {
                shape.longest_literal = shape.longest_literal.max(list.elements.len() as u64);
                for element in &list.elements {
                    push!(element, loops, bound.clone());
                }
            }
            Expr::Map(map) => {
                shape.longest_literal = shape.longest_literal.max(map.entries.len() as u64);
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(e) => {
                            push!(&e.key, loops, bound.clone());
                            push!(&e.value, loops, bound.clone());
                        }
                        EntryExpr::StructField(f) => push!(&f.value, loops, bound.clone()),
                    }
                }
            }
            Expr::Struct(s) => {
                return Err(Refusal::UnknownVariable(s.type_name.clone()));
            }
            Expr::Comprehension(c) => {
                push!(&c.iter_range, loops, bound.clone());
                push!(&c.accu_init, loops, bound.clone());
                let mut inner = bound.clone();
                inner.push(&c.iter_var);
                if let Some(second) = &c.iter_var2 {
                    inner.push(second);
                }
                inner.push(&c.accu_var);
                push!(&c.loop_cond, loops + 1, inner.clone());
                push!(&c.loop_step, loops + 1, inner.clone());
                push!(&c.result, loops, inner);
            }
        }
    }
    Ok(analysis)
}

/// Operators are spelled `_+_`, `!_`, `@in`...; everything else is a named function.
fn is_named_function(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}
