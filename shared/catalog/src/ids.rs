//! Identifier formats, checked by hand-written parsers rather than a regex crate.
//!
//! Each framework has its own id shape: SOC 2 `CC6.1` / `A1.2` / `C1.1` / `PI1.3` / `P6.4`; ISO/IEC 27001 Annex A
//! `A.5.1` to `A.8.34`; HIPAA `164.308(a)(1)(ii)(A)`; NIST CSF `GV`, `GV.OC`, `GV.OC-01`; Kushim controls `KC-IAM-01`.
//! Some ids also imply a grouping (the SOC 2 category, the ISO theme, the HIPAA safeguard type, the NIST parent),
//! which validation compares with the data.

use crate::model::{FrameworkId, RequirementKind};

/// Checks that `id` has the shape required for a requirement of this kind in this framework. The error is a short
/// plain-English reason.
pub fn check_requirement_id(framework: FrameworkId, kind: RequirementKind, id: &str) -> Result<(), &'static str> {
    match (framework, kind) {
        (FrameworkId::Soc2, RequirementKind::Criterion) => check_soc2(id),
        (FrameworkId::Iso27001, RequirementKind::Control) => check_iso(id),
        (FrameworkId::Hipaa, RequirementKind::Standard | RequirementKind::ImplementationSpec) => check_hipaa(id),
        (FrameworkId::NistCsf, RequirementKind::Function) => {
            if is_upper(id, 2) {
                Ok(())
            } else {
                Err("a NIST CSF function id is two capital letters, such as GV")
            }
        }
        (FrameworkId::NistCsf, RequirementKind::Category) => match id.split_once('.') {
            Some((f, c)) if is_upper(f, 2) && is_upper(c, 2) => Ok(()),
            _ => Err("a NIST CSF category id looks like GV.OC"),
        },
        (FrameworkId::NistCsf, RequirementKind::Subcategory) => match id.split_once('-') {
            Some((cat, n))
                if check_requirement_id(framework, RequirementKind::Category, cat).is_ok() && two_digits(n) =>
            {
                Ok(())
            }
            _ => Err("a NIST CSF subcategory id looks like GV.OC-01"),
        },
        _ => Err("this kind of requirement does not belong to this framework"),
    }
}

/// Whether `id` is a Kushim control id: `KC-`, two to four capital letters, `-`, two digits (not `00`).
pub fn is_control_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("KC-") else { return false };
    let Some((area, number)) = rest.split_once('-') else { return false };
    (2..=4).contains(&area.len()) && area.bytes().all(|b| b.is_ascii_uppercase()) && two_digits(number)
}

/// The SOC 2 category implied by a criterion id's prefix: `security` (CC), `availability` (A), `confidentiality`
/// (C), `processing_integrity` (PI) or `privacy` (P).
pub fn soc2_category(id: &str) -> Option<&'static str> {
    let (prefix, _, _) = parse_soc2(id)?;
    Some(match prefix {
        "CC" => "security",
        "A" => "availability",
        "C" => "confidentiality",
        "PI" => "processing_integrity",
        "P" => "privacy",
        _ => return None,
    })
}

/// The SOC 2 series of a criterion: everything before the dot, such as `CC6` for `CC6.1`.
pub fn soc2_series(id: &str) -> Option<&str> {
    parse_soc2(id).and_then(|_| id.split_once('.')).map(|(series, _)| series)
}

/// The ISO/IEC 27001:2022 Annex A theme implied by the clause: 5 `organizational`, 6 `people`, 7 `physical`,
/// 8 `technological`.
pub fn iso_theme(id: &str) -> Option<&'static str> {
    let (clause, _) = parse_iso(id)?;
    Some(match clause {
        5 => "organizational",
        6 => "people",
        7 => "physical",
        _ => "technological",
    })
}

/// The HIPAA safeguard type implied by the section: 164.308 `administrative`, 164.310 `physical`, 164.312
/// `technical`.
pub fn hipaa_safeguard(id: &str) -> Option<&'static str> {
    match hipaa_section(id)? {
        "164.308" => Some("administrative"),
        "164.310" => Some("physical"),
        _ => Some("technical"),
    }
}

/// The section and first paragraph of a HIPAA id, such as `164.308(a)` for `164.308(a)(1)(ii)(A)`. A specification
/// and its standard always share it.
pub fn hipaa_paragraph(id: &str) -> Option<&str> {
    let section = hipaa_section(id)?;
    let close = id[section.len()..].find(')')?;
    Some(&id[..section.len() + close + 1])
}

/// The parent a NIST CSF id must have: the function for a category (`GV` for `GV.OC`), the category for a
/// subcategory (`GV.OC` for `GV.OC-01`), none for a function.
pub fn nist_parent(id: &str) -> Option<&str> {
    match id.split_once('-') {
        Some((category, _)) => Some(category),
        None => id.split_once('.').map(|(function, _)| function),
    }
}

fn check_soc2(id: &str) -> Result<(), &'static str> {
    let Some((prefix, series, _)) = parse_soc2(id) else {
        return Err("a SOC 2 criterion id is a prefix, a series number, a dot and a number, such as CC6.1");
    };
    let max_series = match prefix {
        "CC" => 9,
        "A" | "C" | "PI" => 1,
        "P" => 8,
        _ => return Err("a SOC 2 criterion id starts with CC, A, C, PI or P"),
    };
    if series > max_series {
        return Err("the SOC 2 series number is out of range for its prefix");
    }
    Ok(())
}

/// Splits a SOC 2 id into prefix letters, series number and criterion number.
fn parse_soc2(id: &str) -> Option<(&str, u32, u32)> {
    let (head, number) = id.split_once('.')?;
    let digits_at = head.find(|c: char| !c.is_ascii_uppercase())?;
    let (prefix, series) = head.split_at(digits_at);
    if prefix.is_empty() {
        return None;
    }
    Some((prefix, positive(series)?, positive(number)?))
}

fn check_iso(id: &str) -> Result<(), &'static str> {
    let Some((clause, number)) = parse_iso(id) else {
        return Err("an ISO/IEC 27001 Annex A id looks like A.5.1, with clause 5 to 8");
    };
    let last = match clause {
        5 => 37,
        6 => 8,
        7 => 14,
        _ => 34,
    };
    if number > last {
        return Err("the Annex A control number is beyond the last control of its clause");
    }
    Ok(())
}

/// Splits an Annex A id such as `A.8.24` into clause (5 to 8) and control number.
fn parse_iso(id: &str) -> Option<(u32, u32)> {
    let (clause, number) = id.strip_prefix("A.")?.split_once('.')?;
    let clause = positive(clause).filter(|c| (5..=8).contains(c))?;
    Some((clause, positive(number)?))
}

fn check_hipaa(id: &str) -> Result<(), &'static str> {
    const SHAPE: &str =
        "a HIPAA id is 164.308, 164.310 or 164.312 followed by paragraph markers, such as (a)(1)(ii)(A)";
    let Some(section) = hipaa_section(id) else { return Err(SHAPE) };
    let mut rest = &id[section.len()..];
    if rest.is_empty() {
        return Err(SHAPE);
    }
    while !rest.is_empty() {
        let Some(inner_and_rest) = rest.strip_prefix('(') else { return Err(SHAPE) };
        let Some((marker, after)) = inner_and_rest.split_once(')') else { return Err(SHAPE) };
        let lower = !marker.is_empty() && marker.bytes().all(|b| b.is_ascii_lowercase());
        let upper = marker.len() == 1 && marker.bytes().all(|b| b.is_ascii_uppercase());
        if !(lower || upper || positive(marker).is_some()) {
            return Err(SHAPE);
        }
        rest = after;
    }
    Ok(())
}

fn hipaa_section(id: &str) -> Option<&'static str> {
    ["164.308", "164.310", "164.312"].into_iter().find(|s| id.starts_with(s) && id[s.len()..].starts_with('('))
}

/// A positive decimal number without leading zeros.
fn positive(s: &str) -> Option<u32> {
    if s.is_empty() || s.starts_with('0') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Exactly two digits, not `00`.
fn two_digits(s: &str) -> bool {
    s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()) && s != "00"
}

/// Exactly `len` ASCII capital letters.
fn is_upper(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use FrameworkId::*;
    use RequirementKind::*;

    #[test]
    fn soc2_ids() {
        for id in ["CC1.1", "CC9.2", "A1.3", "C1.2", "PI1.5", "P1.1", "P8.1"] {
            assert_eq!(check_requirement_id(Soc2, Criterion, id), Ok(()), "{id}");
        }
        for id in
            ["CC0.1", "CC10.1", "CC1.0", "CC1", "C6.5", "A2.1", "P9.1", "X1.1", "cc1.1", "1.1", "CC1.1a", "CC01.1"]
        {
            assert!(check_requirement_id(Soc2, Criterion, id).is_err(), "{id}");
        }
        assert_eq!(soc2_category("PI1.2"), Some("processing_integrity"));
        assert_eq!(soc2_category("P6.6"), Some("privacy"));
        assert_eq!(soc2_series("CC6.8"), Some("CC6"));
        assert_eq!(soc2_series("nonsense"), None);
    }

    #[test]
    fn iso_ids() {
        for id in ["A.5.1", "A.5.37", "A.6.8", "A.7.14", "A.8.34"] {
            assert_eq!(check_requirement_id(Iso27001, Control, id), Ok(()), "{id}");
        }
        for id in ["5.1", "A.5.38", "A.4.1", "A.9.1", "A.8.0", "A.8.01", "A.8", "A..1", "a.5.1"] {
            assert!(check_requirement_id(Iso27001, Control, id).is_err(), "{id}");
        }
        assert_eq!(iso_theme("A.6.3"), Some("people"));
        assert_eq!(iso_theme("A.8.24"), Some("technological"));
    }

    #[test]
    fn hipaa_ids() {
        for id in ["164.308(a)(1)(ii)(A)", "164.308(a)(2)", "164.308(b)(3)", "164.310(d)(2)(iv)", "164.312(b)"] {
            assert_eq!(check_requirement_id(Hipaa, Standard, id), Ok(()), "{id}");
        }
        for id in ["164.308", "164.314(a)(1)", "164.308(a", "164.308()", "164.308(a)(01)", "164.308(AB)", "164.308a"] {
            assert!(check_requirement_id(Hipaa, ImplementationSpec, id).is_err(), "{id}");
        }
        assert_eq!(hipaa_safeguard("164.310(c)"), Some("physical"));
        assert_eq!(hipaa_paragraph("164.308(a)(7)(ii)(E)"), Some("164.308(a)"));
    }

    #[test]
    fn nist_ids() {
        assert_eq!(check_requirement_id(NistCsf, Function, "GV"), Ok(()));
        assert_eq!(check_requirement_id(NistCsf, Category, "PR.AA"), Ok(()));
        assert_eq!(check_requirement_id(NistCsf, Subcategory, "PR.AA-01"), Ok(()));
        for (kind, id) in [(Function, "G"), (Category, "PR-AA"), (Subcategory, "PR.AA-1"), (Subcategory, "PR.AA-00")] {
            assert!(check_requirement_id(NistCsf, kind, id).is_err(), "{id}");
        }
        assert!(check_requirement_id(NistCsf, Criterion, "GV").is_err());
        assert_eq!(nist_parent("RC.CO-04"), Some("RC.CO"));
        assert_eq!(nist_parent("RC.CO"), Some("RC"));
        assert_eq!(nist_parent("RC"), None);
    }

    #[test]
    fn control_ids() {
        assert!(is_control_id("KC-IAM-01"));
        assert!(is_control_id("KC-HR-06"));
        for id in
            ["KC-IAM-1", "KC-IAM-00", "KC-I-01", "KC-IDENT-01", "kc-iam-01", "KC-iam-01", "KC-IAM-011", "XX-IAM-01"]
        {
            assert!(!is_control_id(id), "{id}");
        }
    }
}
