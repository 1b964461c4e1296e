//! Builds the zones into the image: `OASIS_DNS_ZONES` (paths separated by
//! `:`) or, by default, `example.com.zone` beside this file.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=OASIS_DNS_ZONES");
    let files: Vec<PathBuf> = match std::env::var("OASIS_DNS_ZONES") {
        Ok(list) if !list.is_empty() => list.split(':').map(PathBuf::from).collect(),
        _ => vec![dir.join("example.com.zone")],
    };
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let path = std::fs::canonicalize(f)
            .unwrap_or_else(|e| panic!("OASIS_DNS_ZONES: cannot read {}: {e}", f.display()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push(']');
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("zones.rs");
    std::fs::write(dest, out).unwrap();
}
