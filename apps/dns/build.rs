//! Compiles the built-in zones at build time — `OASIS_DNS_ZONES` (paths
//! separated by `:`) or, by default, `example.com.zone` beside this file —
//! into a catalog image the application loads at boot without parsing or
//! compiling (the zones' answers are "partially evaluated" here). A zone
//! file with an error fails the build, naming the file and line.

use oasis_dns::zone::file::load_all;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-env-changed=OASIS_DNS_ZONES");
    let files: Vec<PathBuf> = match std::env::var("OASIS_DNS_ZONES") {
        Ok(list) if !list.is_empty() => list.split(':').map(PathBuf::from).collect(),
        _ => vec![dir.join("example.com.zone")],
    };
    let mut texts = Vec::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| {
            fail(&format!(
                "OASIS_DNS_ZONES: cannot read {}: {e}",
                f.display()
            ))
        });
        texts.push((f.display().to_string(), text));
    }
    let zones =
        load_all(texts.iter().map(|(f, t)| (f.as_str(), t.as_str()))).unwrap_or_else(|e| fail(&e));
    let catalog = oasis_dns::engine::Catalog::new(zones).unwrap_or_else(|e| fail(&e.to_string()));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("catalog.img");
    std::fs::write(dest, catalog.to_image()).unwrap();
}

fn fail(why: &str) -> ! {
    eprintln!("error: {why}");
    std::process::exit(1);
}
