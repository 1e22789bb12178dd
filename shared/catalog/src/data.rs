//! The bundled data: the JSON files under `data/`, compiled into the crate with `include_str!`, and the code that
//! parses them into a [`Catalog`].
//!
//! Parsing only checks that each file has the expected shape; whether the contents agree with each other is checked
//! afterwards by [`Catalog::validate`].

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::catalog::Catalog;
use crate::model::{Control, Crosswalk, Framework};
use crate::validate::CatalogError;

/// The framework files, in catalog order.
const FRAMEWORK_FILES: [(&str, &str); 4] = [
    ("soc2.json", include_str!("../data/soc2.json")),
    ("iso27001_2022.json", include_str!("../data/iso27001_2022.json")),
    ("hipaa_security_rule.json", include_str!("../data/hipaa_security_rule.json")),
    ("nist_csf_2_0.json", include_str!("../data/nist_csf_2_0.json")),
];

/// The Kushim controls file.
const CONTROLS_FILE: (&str, &str) = ("controls.json", include_str!("../data/controls.json"));

/// The crosswalk files.
const CROSSWALK_FILES: [(&str, &str); 2] = [
    ("crosswalk_soc2_iso27001.json", include_str!("../data/crosswalk_soc2_iso27001.json")),
    ("crosswalk_nist_iso27001.json", include_str!("../data/crosswalk_nist_iso27001.json")),
];

/// The shape of `controls.json`: a note for human readers and the controls.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlsFile {
    #[serde(rename = "note")]
    _note: String,
    controls: Vec<Control>,
}

/// Parses every bundled file. Reports every file that fails to parse, not just the first.
pub(crate) fn parse_bundled() -> Result<Catalog, Vec<CatalogError>> {
    let mut errors = Vec::new();
    let frameworks: Vec<Framework> =
        FRAMEWORK_FILES.iter().filter_map(|(file, text)| parse(file, text, &mut errors)).collect();
    let controls = parse::<ControlsFile>(CONTROLS_FILE.0, CONTROLS_FILE.1, &mut errors).map(|f| f.controls);
    let crosswalks: Vec<Crosswalk> =
        CROSSWALK_FILES.iter().filter_map(|(file, text)| parse(file, text, &mut errors)).collect();
    match controls {
        Some(controls) if errors.is_empty() => Ok(Catalog { frameworks, controls, crosswalks }),
        _ => Err(errors),
    }
}

fn parse<T: DeserializeOwned>(file: &str, text: &str, errors: &mut Vec<CatalogError>) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(e) => {
            errors.push(CatalogError::Parse { file: file.to_owned(), message: e.to_string() });
            None
        }
    }
}
