//! Cross-crate test: every control id a check claims to support exists in the Kushim catalog, and
//! the catalog says automated checks contribute to it (it is automated or hybrid, not manual).

use kushim_checks::registry;

#[test]
fn every_control_a_check_references_exists_and_accepts_automated_checks() {
    let catalog = kushim_catalog::catalog();
    let mut problems = Vec::new();
    for check in registry() {
        for id in check.def().controls {
            match catalog.control(id) {
                None => problems.push(format!("{}: control {id} is not in the catalog", check.id())),
                Some(control) if !control.kind.has_automated_checks() => problems.push(format!(
                    "{}: control {id} is {:?}, so checks cannot contribute to it",
                    check.id(),
                    control.kind
                )),
                Some(_) => {}
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
