//! apps/dns stays configuration — boot arguments, where the zones come
//! from, and a call into oasis-dns-server — in under 250 lines of Rust, its
//! build script included: a server feature, its boot arguments and their
//! wiring belong in the library (the build-time zone compiling in
//! oasis-dns-build), where every DNS application gets them.

#[test]
fn the_application_is_under_250_lines() {
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![app.join("src")];
    let mut total = std::fs::read_to_string(app.join("build.rs")).map_or(0, |b| b.lines().count());
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                total += std::fs::read_to_string(&path).unwrap().lines().count();
            }
        }
    }
    assert!(total > 0, "no Rust files under apps/dns/src");
    assert!(
        total < 250,
        "apps/dns (src and build.rs) is {total} lines of Rust, over the 250 of a configuration: \
         move server code and its boot arguments into crates/oasis-dns-server"
    );
}
