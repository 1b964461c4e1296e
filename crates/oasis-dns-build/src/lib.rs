//! oasis-dns-build: run by a DNS application's build script, never linked
//! into an image (ARCHITECTURE.md §1, the `build` layer). It compiles the
//! built-in zones into a catalog image the application embeds and loads at
//! boot without parsing or compiling: the zones' answers are "partially
//! evaluated" here.
//!
//! Which zones: `OASIS_DNS_ZONES` (paths separated by `:`) or the
//! application's default. A zone file with an error fails the build,
//! naming the file and line.
//!
//! `OASIS_DNS_SIGN_KEYS` (`ZONE=FILE` pairs separated by `,`, FILE a
//! private key file as `dnssec-keygen` or `ldns-keygen` writes it, its
//! `.key` beside it) signs those zones at build time, with signatures
//! valid for `OASIS_DNS_SIG_VALIDITY` days (14) from now, and NSEC, or
//! NSEC3 as `OASIS_DNS_NSEC3` says (the values of `--nsec3`). Such
//! signatures expire: an image meant to serve longer is booted with
//! `--sign-key`, which signs the zones again at boot.
//!
//! ```no_run
//! // build.rs
//! let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
//! oasis_dns_build::write_catalog(&dir.join("example.com.zone"));
//! ```

use std::path::{Path, PathBuf};

use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::sign::{Denial, Key, Options, sign, unsigned};
use oasis_dns::wire::Name;
use oasis_dns::zone::file::load_all;

/// The environment variables this crate reads (cargo reruns the build
/// script when one changes).
pub const VARIABLES: [&str; 4] = [
    "OASIS_DNS_ZONES",
    "OASIS_DNS_SIGN_KEYS",
    "OASIS_DNS_NSEC3",
    "OASIS_DNS_SIG_VALIDITY",
];

/// Compiles the zones (`OASIS_DNS_ZONES`, else `default_zone`), signs those
/// `OASIS_DNS_SIGN_KEYS` names, and writes the catalog image to
/// `OUT_DIR/catalog.img`, telling cargo what to rerun on. Any error ends
/// the build script with it.
pub fn write_catalog(default_zone: &Path) {
    let image = catalog_image(default_zone, |v| std::env::var(v).ok(), now()).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("catalog.img");
    std::fs::write(dest, image).expect("write OUT_DIR/catalog.img");
}

/// The catalog image of the zones the variables (read with `var`) name,
/// signed at `now` (seconds since the epoch) where asked; prints cargo's
/// `rerun-if` lines for every file and variable read.
pub fn catalog_image(
    default_zone: &Path,
    var: impl Fn(&str) -> Option<String>,
    now: u32,
) -> Result<Vec<u8>, String> {
    for v in VARIABLES {
        println!("cargo:rerun-if-env-changed={v}");
    }
    let files: Vec<PathBuf> = match var("OASIS_DNS_ZONES") {
        Some(list) if !list.is_empty() => list.split(':').map(PathBuf::from).collect(),
        _ => vec![default_zone.to_path_buf()],
    };
    let mut texts = Vec::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let text = std::fs::read_to_string(f)
            .map_err(|e| format!("OASIS_DNS_ZONES: cannot read {}: {e}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    let mut zones = load_all(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?;
    if let Some(list) = var("OASIS_DNS_SIGN_KEYS").filter(|l| !l.is_empty()) {
        sign_zones(&mut zones, &list, &var, now)?;
    }
    Ok(Catalog::new(zones).map_err(|e| e.to_string())?.to_image())
}

/// Signs the zones named in `list` (`ZONE=FILE,…`) with their keys.
fn sign_zones(
    zones: &mut [Zone],
    list: &str,
    var: &impl Fn(&str) -> Option<String>,
    now: u32,
) -> Result<(), String> {
    let denial = match var("OASIS_DNS_NSEC3").filter(|v| !v.is_empty()) {
        Some(v) => Denial::from_nsec3_arg(&v).map_err(|e| format!("OASIS_DNS_NSEC3: {e}"))?,
        None => Denial::Nsec,
    };
    let days: u32 = match var("OASIS_DNS_SIG_VALIDITY").filter(|v| !v.is_empty()) {
        Some(v) => v
            .parse()
            .map_err(|_| "OASIS_DNS_SIG_VALIDITY: expected a number of days".to_string())?,
        None => 14,
    };
    let mut keys: Vec<(Name, Vec<Key>)> = Vec::new();
    for pair in list.split(',') {
        let (zone, file) = pair
            .split_once('=')
            .ok_or_else(|| format!("OASIS_DNS_SIGN_KEYS: expected ZONE=FILE, found `{pair}`"))?;
        let mut absolute = zone.to_string();
        if !absolute.ends_with('.') {
            absolute.push('.');
        }
        let apex = oasis_dns::zone::text::name(absolute.as_bytes(), &Name::root())
            .map_err(|e| format!("OASIS_DNS_SIGN_KEYS: {zone}: {e}"))?;
        println!("cargo:rerun-if-changed={file}");
        let mut read = |f: &str| {
            let path = Path::new(f);
            if !path.exists() && f.ends_with(".key") {
                return None;
            }
            Some(std::fs::read_to_string(path).map_err(|e| e.to_string()))
        };
        let key =
            Key::read(&apex, file, &mut read).map_err(|e| format!("OASIS_DNS_SIGN_KEYS: {e}"))?;
        match keys.iter_mut().find(|(a, _)| *a == apex) {
            Some((_, k)) => k.push(key),
            None => keys.push((apex, vec![key])),
        }
    }
    let opts = Options::at(now, days.saturating_mul(86400), denial);
    for (apex, k) in keys {
        let zone = zones
            .iter_mut()
            .find(|z| z.apex == apex)
            .ok_or_else(|| format!("OASIS_DNS_SIGN_KEYS: zone {apex} is not built in"))?;
        *zone = sign(&unsigned(zone), &k, &opts, None)
            .map_err(|e| format!("OASIS_DNS_SIGN_KEYS: {e}"))?;
    }
    Ok(())
}

/// Seconds since the epoch, now.
fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn a_zone_file_compiles_and_a_broken_one_is_named_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.zone");
        std::fs::write(
            &good,
            "$ORIGIN t.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
        )
        .unwrap();
        let image = catalog_image(&good, vars(&[]), 0).unwrap();
        let catalog = Catalog::from_image(&image).unwrap();
        assert_eq!(catalog.zones().len(), 1);
        let bad = dir.path().join("bad.zone");
        std::fs::write(&bad, "$ORIGIN t.\n@ SOA ns h 1 2 3 4 5\nns A 300.0.0.1\n").unwrap();
        let list = format!("{}:{}", good.display(), bad.display());
        let e = catalog_image(&good, vars(&[("OASIS_DNS_ZONES", list)]), 0).unwrap_err();
        assert!(e.contains("bad.zone") && e.contains('3'), "{e}");
        let e = catalog_image(&good, vars(&[("OASIS_DNS_SIGN_KEYS", "t.".to_string())]), 0)
            .unwrap_err();
        assert!(e.contains("expected ZONE=FILE"), "{e}");
    }

    #[test]
    fn a_zone_named_with_a_key_is_signed_at_build_time() {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("t.zone");
        std::fs::write(
            &zone,
            "$ORIGIN t.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
        )
        .unwrap();
        let key = dir.path().join("Kt.+015+00001.private");
        std::fs::write(
            &key,
            "Private-key-format: v1.3\nAlgorithm: 15 (ED25519)\n\
             PrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n",
        )
        .unwrap();
        let signed = |nsec3: &str| {
            let image = catalog_image(
                &zone,
                vars(&[
                    ("OASIS_DNS_SIGN_KEYS", format!("t={}", key.display())),
                    ("OASIS_DNS_NSEC3", nsec3.to_string()),
                    ("OASIS_DNS_SIG_VALIDITY", "3".to_string()),
                ]),
                1_800_000_000,
            )
            .unwrap();
            let catalog = Catalog::from_image(&image).unwrap();
            oasis_dns::xfr::zone_records(&catalog.zones()[0])
                .iter()
                .map(|r| r.rtype.to_string())
                .collect::<Vec<_>>()
        };
        let nsec = signed("");
        for t in ["DNSKEY", "RRSIG", "NSEC"] {
            assert!(nsec.iter().any(|r| r == t), "{t} missing: {nsec:?}");
        }
        assert!(signed("on").iter().any(|r| r == "NSEC3PARAM"));
        let e = catalog_image(
            &zone,
            vars(&[("OASIS_DNS_SIGN_KEYS", format!("other={}", key.display()))]),
            0,
        )
        .unwrap_err();
        assert!(e.contains("not built in"), "{e}");
    }
}
