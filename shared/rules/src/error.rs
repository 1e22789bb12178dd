//! What can go wrong with a custom rule: a spec refused at creation (each variant names the field
//! or expression at fault), or an evaluation that could not produce results at all.

/// Why a rule was refused, or why evaluating it produced no results.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A plain field of the spec (`id`, `title`, `controls`...) is malformed.
    #[error("invalid `{field}`: {message}")]
    InvalidField { field: &'static str, message: String },
    /// `evidence_kind` is not one Kushim collects.
    #[error("unknown evidence kind `{0}`")]
    UnknownEvidenceKind(String),
    /// A control id does not look like `KC-<AREA>-<NN>`.
    #[error(
        "invalid control id `{0}`: expected `KC-` then 2 to 4 capital letters, `-` and two digits (e.g. KC-IAM-01)"
    )]
    InvalidControl(String),
    /// One expression is longer than allowed.
    #[error("expression `{expression}` is {chars} characters long; the limit is {max}")]
    ExpressionTooLong { expression: &'static str, chars: usize, max: usize },
    /// All the expressions together are longer than allowed.
    #[error("the rule's expressions are {chars} characters long together; the limit is {max}")]
    RuleTooLong { chars: usize, max: usize },
    /// An expression does not parse.
    #[error("expression `{expression}` does not parse: {message}")]
    Parse { expression: &'static str, message: String },
    /// An expression names a variable other than `evidence`, `resource` and `now`.
    #[error("expression `{expression}` uses unknown variable `{name}`; only `evidence`, `resource` and `now` exist")]
    UnknownVariable { expression: &'static str, name: String },
    /// An expression calls a function CEL's standard library does not have.
    #[error("expression `{expression}` calls unknown function `{name}`")]
    UnknownFunction { expression: &'static str, name: String },
    /// An expression is too deeply nested or has too many nodes.
    #[error("expression `{expression}` is too complex: {message}")]
    TooComplex { expression: &'static str, message: String },
    /// Evidence of another kind was given to the rule.
    #[error("rule {rule_id} judges `{expected}` evidence, but was given `{found}`")]
    WrongEvidenceKind { rule_id: String, expected: String, found: &'static str },
    /// `resources` failed, or did not give a list.
    #[error("rule {rule_id}: `resources` {message}")]
    Resources { rule_id: String, message: String },
    /// `resources` selected more items than allowed.
    #[error("rule {rule_id}: `resources` selected {count} items; the limit is {max}")]
    TooManyResources { rule_id: String, count: usize, max: usize },
    /// The evaluation would cost, or took, more than its budget.
    #[error("rule {rule_id} exceeded its evaluation budget: {detail}")]
    Budget { rule_id: String, detail: String },
    /// Something failed that the rule's author cannot fix (the interpreter panicked, a thread could
    /// not be started, the evidence did not serialise).
    #[error("internal error: {0}")]
    Internal(String),
}
