//! Reads `template.yaml`, the SAM template that is the deployable truth of Kushim, so the local
//! platform and the tests build exactly what AWS would: the same functions and binaries, routes,
//! queue sources, schedules, table keys, bucket settings and queue timings.
//!
//! The repository's template is compiled in ([`BUNDLED_YAML`]) and parsed once ([`bundled`]). Any
//! other text can be read with [`parse`]. Reading goes in two steps: the YAML becomes JSON, with
//! CloudFormation's short-form tags rewritten to their long form (`!Ref X` becomes `{"Ref": "X"}`),
//! kept whole in [`Template::raw`]; then the resources Kushim runs are extracted into typed views.

mod error;
mod extract;
mod model;
mod routes;
mod yaml;

use std::sync::OnceLock;

pub use error::TemplateError;
pub use model::{
    BucketDef, EnvValue, Function, GsiDef, QueueDef, Route, RouteMatch, Schedule, SqsSource, TableDef, Template,
};

/// The text of the repository's `template.yaml`, compiled in.
pub const BUNDLED_YAML: &str = include_str!("../../../template.yaml");

/// The repository's template, parsed on first use.
///
/// # Panics
///
/// If the bundled `template.yaml` cannot be read; the message says why. The crate's own tests parse
/// it, so a broken template fails `cargo test` before it reaches anything else.
pub fn bundled() -> &'static Template {
    static BUNDLED: OnceLock<Template> = OnceLock::new();
    BUNDLED.get_or_init(|| match parse(BUNDLED_YAML) {
        Ok(template) => template,
        Err(e) => panic!("the bundled template.yaml is invalid: {e}"),
    })
}

/// Parses a SAM/CloudFormation template written in YAML (JSON, being YAML, works too).
pub fn parse(yaml: &str) -> Result<Template, TemplateError> {
    let document = yaml::load(yaml)?;
    let order = yaml::resource_order(&document);
    let raw = yaml::to_json(document)?;
    extract::build(raw, order)
}

/// Converts template YAML to JSON with short-form intrinsics in long form, without extracting anything.
pub fn to_json(yaml: &str) -> Result<serde_json::Value, TemplateError> {
    yaml::to_json(yaml::load(yaml)?)
}

#[cfg(test)]
mod tests;
