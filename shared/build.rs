//! Lists the console's files at build time: every file at the top of `console/` (its tests are
//! in a folder below), written as `console_files.rs` for `src/console.rs` to include, so a file
//! added to the console is served without a change in Rust.

use std::path::Path;
use std::{env, fs};

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let console = Path::new(&manifest).join("../console");
    println!("cargo::rerun-if-changed={}", console.display());
    let mut names: Vec<String> = fs::read_dir(&console)
        .expect("the console folder")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    let entries: String = names
        .iter()
        .map(|name| format!("({name:?}, include_bytes!({:?})),\n", console.join(name).display().to_string()))
        .collect();
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("console_files.rs");
    fs::write(out, format!("&[\n{entries}]\n")).expect("write console_files.rs");
}
