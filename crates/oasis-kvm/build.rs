//! Puts the image's linker script where the final link finds it: `-Toasis-kvm.ld`
//! (passed by `.cargo/config.toml` or `oasis build`) searches the link paths,
//! and this adds the build directory to them, for every image that depends on
//! this crate.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy("oasis-kvm.ld", out.join("oasis-kvm.ld")).expect("copy oasis-kvm.ld to OUT_DIR");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rerun-if-changed=oasis-kvm.ld");
}
