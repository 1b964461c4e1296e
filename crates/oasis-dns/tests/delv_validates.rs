//! DNSSEC answers checked by a real validator: a zone signed by Debian's
//! `ldns-signzone` (NSEC; NSEC3; NSEC3 with opt-out) served by oasis-dns on
//! loopback, and `delv` (bind9-dnsutils) asked, with the zone's key-signing
//! key as its only trust anchor, for an existing name, the keys, a name
//! that does not exist, a type a name lacks, an empty non-terminal, a
//! wildcard answer and a wildcard with no data, a CNAME, and the DS of a
//! signed and of an unsigned delegation (what a referral proves). Each must
//! come back "fully validated" — except a wildcard answer under opt-out,
//! which a validator must take as insecure (the NSEC3 that proves the name
//! absent is an opt-out span that may hide an unsigned delegation, RFC 5155
//! §9.2): there `delv` must say "unsigned answer", and nothing worse.
//!
//! Prints "skipped: …" when `delv` or `ldns-signzone` is missing, unless
//! CI=true.

#[path = "nsd/compare.rs"]
#[allow(dead_code)]
mod compare;
#[path = "nsd/delv.rs"]
mod delv;
#[path = "nsd/gen.rs"]
#[allow(dead_code)]
mod generate;
#[path = "nsd/server.rs"]
#[allow(dead_code)]
mod server;
#[path = "nsd/sign.rs"]
mod sign;

use generate::GenZone;
use sign::Denial;
use std::process::Command;

use delv::{QUESTIONS, ZONE, anchor, delv_binary};

#[test]
fn delv_validates_every_kind_of_answer() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let Some(delv) = delv_binary() else {
        assert!(
            !ci,
            "CI=true but delv is not installed (apt-get install -y dnsutils)"
        );
        println!("skipped: delv not installed (dnsutils)");
        return;
    };
    if sign::ldns_tools().is_none() {
        assert!(
            !ci,
            "CI=true but ldns-signzone is not installed (apt-get install -y ldnsutils)"
        );
        println!("skipped: ldns-signzone not installed (ldnsutils)");
        return;
    }
    let mut failures = Vec::new();
    for denial in [Denial::Nsec, Denial::Nsec3, Denial::Nsec3OptOut] {
        let dir =
            std::env::temp_dir().join(format!("oasis-dns-delv-{}-{denial:?}", std::process::id()));
        let zone = GenZone {
            apex: "val.test.".into(),
            text: ZONE.into(),
            names: Vec::new(),
        };
        let signed = sign::sign(&zone, denial, &dir).expect("the zone signs");
        let anchor_file = dir.join("anchor.conf");
        std::fs::write(&anchor_file, anchor(&signed.ksk)).expect("anchor written");
        let oasis = server::Oasis::start(&[GenZone {
            text: signed.text,
            ..zone
        }])
        .expect("oasis-dns loads the signed zone");
        for (what, name, rtype) in QUESTIONS {
            let out = Command::new(&delv)
                .args(["@127.0.0.1", "-p", &oasis.port.to_string(), "-a"])
                .arg(&anchor_file)
                .args(["+root=val.test", name, rtype])
                .output()
                .expect("delv runs");
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            let expected = match (denial, *what) {
                (Denial::Nsec3OptOut, "a wildcard answer") => "; unsigned answer",
                _ => "fully validated",
            };
            if !text.contains(expected) {
                failures.push(format!("{denial:?}, {what} ({name} {rtype}):\n{text}"));
            } else {
                println!(
                    "{denial:?}: {what}: {}",
                    text.lines().find(|l| l.contains(expected)).unwrap_or("")
                );
            }
        }
        drop(oasis);
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "not validated:\n{}",
        failures.join("\n")
    );
}
