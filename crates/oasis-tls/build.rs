//! Compiles a certificate into the image: the PEM files named by
//! `OASIS_TLS_CERT` (the chain) and `OASIS_TLS_KEY` (its key), else a
//! self-signed ECDSA P-256 certificate for `localhost`, `127.0.0.1` and
//! `::1`, made here with `rcgen`, valid from the build for ten years.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=OASIS_TLS_CERT");
    println!("cargo:rerun-if-env-changed=OASIS_TLS_KEY");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let var = |n| std::env::var(n).ok().filter(|v: &String| !v.is_empty());
    let (cert, key, self_signed) = match (var("OASIS_TLS_CERT"), var("OASIS_TLS_KEY")) {
        (Some(c), Some(k)) => {
            println!("cargo:rerun-if-changed={c}");
            println!("cargo:rerun-if-changed={k}");
            let read = |p: &str| {
                std::fs::read(p).unwrap_or_else(|e| fail(&format!("cannot read {p}: {e}")))
            };
            (read(&c), read(&k), false)
        }
        (None, None) => {
            // Made once per build directory, not on every build.
            if out.join("self_signed").exists()
                && std::fs::read(out.join("self_signed")).unwrap() == b"1"
            {
                return;
            }
            let names = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
            let mut params = rcgen::CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "localhost");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            params.not_before = rcgen::date_time_ymd(1970, 1, 1)
                + std::time::Duration::from_secs((now - 86_400).max(0) as u64);
            params.not_after =
                params.not_before + std::time::Duration::from_secs(10 * 365 * 86_400);
            let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let cert = params.self_signed(&key).unwrap();
            (
                cert.pem().into_bytes(),
                key.serialize_pem().into_bytes(),
                true,
            )
        }
        _ => fail("give both OASIS_TLS_CERT and OASIS_TLS_KEY, or neither"),
    };
    std::fs::write(out.join("cert.pem"), cert).unwrap();
    std::fs::write(out.join("key.pem"), key).unwrap();
    std::fs::write(out.join("self_signed"), if self_signed { "1" } else { "0" }).unwrap();
}

fn fail(why: &str) -> ! {
    eprintln!("error: OASIS_TLS_CERT/OASIS_TLS_KEY: {why}");
    std::process::exit(1);
}
