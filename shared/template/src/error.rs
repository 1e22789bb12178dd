//! The one error type of this crate: what was wrong with a template, naming the resource and the
//! property at fault so the message can be acted on without opening a debugger.

/// Why a template could not be read.
///
/// `resource` is a logical id from `Resources` (or `Globals.Function` for the Globals section), and
/// `property` is a dotted path inside it, such as `Properties.Events.Health.Properties.Path`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The text is not YAML at all (the message carries the line and column).
    #[error("template is not valid YAML: {0}")]
    Yaml(String),

    /// A short-form intrinsic such as `!GetAtt` could not be converted.
    #[error("intrinsic `!{tag}` {problem}")]
    Intrinsic {
        /// The tag, without its `!`.
        tag: String,
        /// What is wrong with it.
        problem: String,
    },

    /// A top-level section the reader needs is absent.
    #[error("template has no `{0}` section")]
    MissingSection(String),

    /// A section (or the document itself) is not a mapping.
    #[error("template section `{0}` must be a mapping")]
    NotAMapping(String),

    /// A property the reader needs is absent.
    #[error("resource `{resource}`: required property `{property}` is missing")]
    MissingProperty {
        /// Logical id (or `Globals.Function`).
        resource: String,
        /// Dotted path of the missing property.
        property: String,
    },

    /// A property is present but has an unusable value.
    #[error("resource `{resource}`: property `{property}` {problem}")]
    InvalidProperty {
        /// Logical id (or `Globals.Function`).
        resource: String,
        /// Dotted path of the offending property.
        property: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl TemplateError {
    pub(crate) fn missing(resource: &str, property: &str) -> Self {
        Self::MissingProperty { resource: resource.to_owned(), property: property.to_owned() }
    }

    pub(crate) fn invalid(resource: &str, property: &str, problem: impl Into<String>) -> Self {
        Self::InvalidProperty { resource: resource.to_owned(), property: property.to_owned(), problem: problem.into() }
    }
}
