//! Rebuilds this crate whenever `template.yaml` (compiled in with `include_str!`) changes.

fn main() {
    println!("cargo:rerun-if-changed=../../template.yaml");
}
