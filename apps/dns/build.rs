//! Compiles the built-in zones — `OASIS_DNS_ZONES` or, by default,
//! `example.com.zone` beside this file — into the catalog image the
//! application loads at boot, signing the zones `OASIS_DNS_SIGN_KEYS`
//! names (see oasis-dns-build).

fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    oasis_dns_build::write_catalog(&dir.join("example.com.zone"));
}
