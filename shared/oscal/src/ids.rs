//! Identifiers in the document: deterministic uuids, OSCAL tokens for framework requirement ids,
//! and the Kushim property namespace.

use kushim_catalog::FrameworkId;
use uuid::Uuid;

/// The namespace of every property Kushim defines (OSCAL requires one for non-NIST names).
pub const KUSHIM_NS: &str = "https://kushim.dev/ns/oscal";

/// The uuid namespace all document uuids descend from: a version 5 uuid of [`KUSHIM_NS`].
fn root() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, KUSHIM_NS.as_bytes())
}

/// A version 5 uuid for `name` within `parent` (the document uuid for everything inside it).
pub(crate) fn child(parent: &Uuid, name: &str) -> Uuid {
    Uuid::new_v5(parent, name.as_bytes())
}

/// A version 5 uuid for the document itself, from the parts that identify it. The parts are
/// joined with a separator that cannot occur in them unnoticed (each is length-prefixed).
pub(crate) fn document(parts: &[&str]) -> Uuid {
    let name: String = parts.iter().map(|p| format!("{}:{p};", p.len())).collect();
    child(&root(), &name)
}

/// The OSCAL token for a framework requirement id, lowercased as OSCAL catalogs spell control ids:
/// `CC6.1` → `cc6.1`, `A.8.5` → `a.8.5`, `PR.AA-01` → `pr.aa-01`. A HIPAA id such as
/// `164.308(a)(1)(ii)(A)` is not a valid token (it starts with a digit and has brackets), so its
/// brackets become dots and it gets the framework as prefix: `hipaa-164.308.a.1.ii.a`.
pub fn control_token(framework: FrameworkId, id: &str) -> String {
    let mut token = String::with_capacity(id.len() + 8);
    for c in id.chars() {
        match c {
            '(' => token.push('.'),
            ')' => {}
            c if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') => token.extend(c.to_lowercase()),
            _ => token.push('_'),
        }
    }
    if !token.starts_with(|c: char| c.is_alphabetic() || c == '_') {
        token = format!("{}-{token}", framework.as_str().replace('_', "-"));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_oscal_conventions() {
        assert_eq!(control_token(FrameworkId::Soc2, "CC6.1"), "cc6.1");
        assert_eq!(control_token(FrameworkId::Iso27001, "A.8.24"), "a.8.24");
        assert_eq!(control_token(FrameworkId::NistCsf, "PR.AA-01"), "pr.aa-01");
        assert_eq!(control_token(FrameworkId::Hipaa, "164.308(a)(1)(ii)(A)"), "hipaa-164.308.a.1.ii.a");
        assert_eq!(control_token(FrameworkId::Hipaa, "164.312(b)"), "hipaa-164.312.b");
    }

    #[test]
    fn uuids_are_stable_version_5() {
        let a = document(&["acme", "soc2"]);
        assert_eq!(a, document(&["acme", "soc2"]));
        assert_ne!(a, document(&["acm", "esoc2"]), "parts are length-prefixed");
        assert_eq!(a.get_version_num(), 5);
        assert_eq!(child(&a, "x").get_version_num(), 5);
    }
}
