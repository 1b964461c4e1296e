//! Compiles the built-in zones at build time — `OASIS_DNS_ZONES` (paths
//! separated by `:`) or, by default, `example.com.zone` beside this file —
//! into a catalog image the application loads at boot without parsing or
//! compiling (the zones' answers are "partially evaluated" here). A zone
//! file with an error fails the build, naming the file and line.
//!
//! `OASIS_DNS_SIGN_KEYS` (`ZONE=FILE` pairs separated by `,`, FILE a
//! private key file as `dnssec-keygen` or `ldns-keygen` writes it, its
//! `.key` beside it) signs those zones here, at build time, with
//! signatures valid for `OASIS_DNS_SIG_VALIDITY` days (14) from now, and
//! NSEC, or NSEC3 as `OASIS_DNS_NSEC3` says (the values of `--nsec3`).
//! Such signatures expire: an image meant to serve longer is booted with
//! `--sign-key`, which signs the zones again at boot.

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
    let mut zones =
        load_all(texts.iter().map(|(f, t)| (f.as_str(), t.as_str()))).unwrap_or_else(|e| fail(&e));
    for var in [
        "OASIS_DNS_SIGN_KEYS",
        "OASIS_DNS_NSEC3",
        "OASIS_DNS_SIG_VALIDITY",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    if let Ok(list) = std::env::var("OASIS_DNS_SIGN_KEYS")
        && !list.is_empty()
    {
        sign_zones(&mut zones, &list);
    }
    let catalog = oasis_dns::engine::Catalog::new(zones).unwrap_or_else(|e| fail(&e.to_string()));
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("catalog.img");
    std::fs::write(dest, catalog.to_image()).unwrap();
}

/// Signs the zones named in `list` (`ZONE=FILE,…`) with their keys.
fn sign_zones(zones: &mut [oasis_dns::engine::Zone], list: &str) {
    use oasis_dns::sign::{Denial, Key, Options, sign, unsigned};
    let denial = match std::env::var("OASIS_DNS_NSEC3") {
        Ok(v) if !v.is_empty() => {
            Denial::from_nsec3_arg(&v).unwrap_or_else(|e| fail(&format!("OASIS_DNS_NSEC3: {e}")))
        }
        _ => Denial::Nsec,
    };
    let days: u32 = match std::env::var("OASIS_DNS_SIG_VALIDITY") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .unwrap_or_else(|_| fail("OASIS_DNS_SIG_VALIDITY: expected a number of days")),
        _ => 14,
    };
    let mut keys: Vec<(oasis_dns::wire::Name, Vec<Key>)> = Vec::new();
    for pair in list.split(',') {
        let (zone, file) = pair.split_once('=').unwrap_or_else(|| {
            fail(&format!(
                "OASIS_DNS_SIGN_KEYS: expected ZONE=FILE, found `{pair}`"
            ))
        });
        let mut absolute = zone.to_string();
        if !absolute.ends_with('.') {
            absolute.push('.');
        }
        let apex = oasis_dns::zone::text::name(absolute.as_bytes(), &oasis_dns::wire::Name::root())
            .unwrap_or_else(|e| fail(&format!("OASIS_DNS_SIGN_KEYS: {zone}: {e}")));
        println!("cargo:rerun-if-changed={file}");
        let mut read = |f: &str| {
            let path = std::path::Path::new(f);
            if !path.exists() && f.ends_with(".key") {
                return None;
            }
            Some(std::fs::read_to_string(path).map_err(|e| e.to_string()))
        };
        let key = Key::read(&apex, file, &mut read)
            .unwrap_or_else(|e| fail(&format!("OASIS_DNS_SIGN_KEYS: {e}")));
        match keys.iter_mut().find(|(a, _)| *a == apex) {
            Some((_, k)) => k.push(key),
            None => keys.push((apex, vec![key])),
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let opts = Options::at(now, days.saturating_mul(86400), denial);
    for (apex, k) in keys {
        let zone = zones
            .iter_mut()
            .find(|z| z.apex == apex)
            .unwrap_or_else(|| fail(&format!("OASIS_DNS_SIGN_KEYS: zone {apex} is not built in")));
        *zone = sign(&unsigned(zone), &k, &opts, None)
            .unwrap_or_else(|e| fail(&format!("OASIS_DNS_SIGN_KEYS: {e}")));
    }
}

fn fail(why: &str) -> ! {
    eprintln!("error: {why}");
    std::process::exit(1);
}
