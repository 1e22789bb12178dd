//! The rule a tenant submits ([`RuleSpec`]) and the checks on its plain fields: id, title,
//! evidence kind, controls and the failure message template. The expressions themselves are
//! checked by [`crate::CompiledRule::compile`].

use kushim_checks::Severity;
use kushim_checks::evidence::kinds;
use serde::{Deserialize, Serialize};

use crate::RuleError;

/// The longest one expression may be, in characters.
pub const MAX_EXPRESSION_CHARS: usize = 2_000;
/// The longest all the expressions of a rule may be together, in characters.
pub const MAX_TOTAL_CHARS: usize = 8_000;

const MAX_ID_CHARS: usize = 64;
const MAX_TITLE_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 4_000;
const MAX_FAIL_REASON_CHARS: usize = 500;
const MAX_CONTROLS: usize = 50;

/// A custom check, as submitted through the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `custom.<slug>`: lowercase letters, digits, `_` and `.`, at most 64 characters.
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// One of [`kushim_checks::evidence::kinds::ALL`], e.g. `aws.s3.buckets`.
    pub evidence_kind: String,
    /// CEL over `evidence` (and `now`) giving the list of resources to judge, e.g. `evidence.buckets`.
    pub resources: String,
    /// CEL over `resource` giving its id, a string (or an integer), e.g. `resource.name`.
    pub resource_id: String,
    /// Optional CEL boolean over `resource`, `evidence` and `now`; false makes the resource not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applies: Option<String>,
    /// CEL boolean over `resource`, `evidence` and `now`; true passes, false fails.
    pub pass: String,
    /// The reason given for a failure; `{id}` is replaced by the resource id.
    pub fail_reason: String,
    /// Kushim control ids (`KC-<AREA>-<NN>`). Whether they exist is for the caller to check.
    #[serde(default)]
    pub controls: Vec<String>,
}

impl RuleSpec {
    /// Checks every field except the expressions' contents.
    pub(crate) fn validate_fields(&self) -> Result<(), RuleError> {
        validate_id(&self.id)?;
        text("title", &self.title, MAX_TITLE_CHARS, true)?;
        text("description", &self.description, MAX_DESCRIPTION_CHARS, false)?;
        if !kinds::ALL.contains(&self.evidence_kind.as_str()) {
            return Err(RuleError::UnknownEvidenceKind(self.evidence_kind.clone()));
        }
        validate_template(&self.fail_reason)?;
        if self.controls.len() > MAX_CONTROLS {
            return Err(invalid("controls", format!("at most {MAX_CONTROLS} controls")));
        }
        if let Some(bad) = self.controls.iter().find(|c| !is_control_id(c)) {
            return Err(RuleError::InvalidControl(bad.clone()));
        }
        Ok(())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> RuleError {
    RuleError::InvalidField { field, message: message.into() }
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), RuleError> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err(invalid(field, format!("is {chars} characters long; the limit is {max}")));
    }
    Ok(())
}

fn validate_id(id: &str) -> Result<(), RuleError> {
    let shape = "must be `custom.` followed by lowercase letters, digits and `_`, in dot-separated parts";
    if id.len() > MAX_ID_CHARS {
        return Err(invalid("id", format!("is longer than {MAX_ID_CHARS} characters")));
    }
    let Some(slug) = id.strip_prefix("custom.") else {
        return Err(invalid("id", shape));
    };
    let part_ok = |p: &str| {
        p.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if slug.is_empty() || !slug.split('.').all(part_ok) {
        return Err(invalid("id", shape));
    }
    Ok(())
}

/// `KC-[A-Z]{2,4}-\d{2}`.
fn is_control_id(id: &str) -> bool {
    let mut parts = id.split('-');
    let (Some("KC"), Some(area), Some(number), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    (2..=4).contains(&area.len())
        && area.bytes().all(|b| b.is_ascii_uppercase())
        && number.len() == 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// The template may contain `{id}` and no other placeholder.
fn validate_template(template: &str) -> Result<(), RuleError> {
    text("fail_reason", template, MAX_FAIL_REASON_CHARS, true)?;
    if template.replace("{id}", "").contains(['{', '}']) {
        return Err(invalid("fail_reason", "the only placeholder allowed is `{id}`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_control_ids_when_checked_then_only_the_kc_shape_is_accepted() {
        for good in ["KC-IAM-01", "KC-DR-99", "KC-ABCD-00"] {
            assert!(is_control_id(good), "{good}");
        }
        for bad in ["KC-I-01", "KC-ABCDE-01", "KC-iam-01", "KC-IAM-1", "KC-IAM-001", "XX-IAM-01", "KC-IAM-01-2", ""] {
            assert!(!is_control_id(bad), "{bad}");
        }
    }

    #[test]
    fn given_rule_ids_when_checked_then_only_lowercase_custom_slugs_are_accepted() {
        for good in ["custom.s3_versioning", "custom.aws.s3.v2"] {
            assert_eq!(validate_id(good), Ok(()), "{good}");
        }
        let too_long = format!("custom.{}", "a".repeat(60));
        for bad in
            ["custom.", "s3_versioning", "custom.S3", "custom..x", "custom.x.", "custom._x", "custom.a-b", &too_long]
        {
            assert!(validate_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn given_templates_when_checked_then_only_the_id_placeholder_is_allowed() {
        assert_eq!(validate_template("Bucket {id} is bad."), Ok(()));
        assert!(validate_template("Bucket {name} is bad.").is_err());
        assert!(validate_template("  ").is_err());
    }
}
