//! Zones signed by oasis-dns itself ([`oasis_dns::sign`]), checked by
//! other implementations: keys made by Debian's `ldns-keygen` (a KSK and a
//! ZSK, ECDSA P-256 and Ed25519) are read from their files; the
//! differential test's generated zones and the delv test's zone are signed
//! with NSEC, NSEC3 (RFC 9276: no salt, no extra iterations) and NSEC3
//! with a salt, iterations and opt-out; then
//! - `ldns-verify-zone` must accept each signed zone, written out as a
//!   master file (every signature, the chain, the DNSKEY set);
//! - the delv zone is served by oasis-dns on loopback and `delv`
//!   (bind9-dnsutils), with the KSK as its only trust anchor, must fully
//!   validate an existing name, the keys, a CNAME, a name that does not
//!   exist, a type a name lacks, an empty non-terminal, a wildcard answer
//!   and a wildcard without the type, and the DS of a signed and of an
//!   unsigned delegation — but a wildcard answer under opt-out, which must
//!   be "unsigned answer" (RFC 5155 §9.2).
//!
//! Prints "skipped: …" when `delv` or the ldns tools are missing, unless
//! CI=true.

#[path = "nsd/delv.rs"]
#[allow(dead_code)]
mod delv;
#[path = "nsd/gen.rs"]
#[allow(dead_code)]
mod generate;
#[path = "nsd/server.rs"]
#[allow(dead_code)]
mod server;

use generate::{GenZone, Rng, child_zone, main_zone, random_zone, second_zone};
use oasis_dns::engine::Zone;
use oasis_dns::sign::{Denial, Key, Options, sign, to_generic_master};
use oasis_dns::wire::Name;
use std::path::{Path, PathBuf};
use std::process::Command;

use delv::{QUESTIONS, ZONE, anchor};

fn find(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{cmd:?} failed: {text}"));
    }
    Ok(text)
}

fn name(s: &str) -> Name {
    oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

/// A KSK and a ZSK of `algorithm` for `apex`, made by `ldns-keygen` in
/// `dir` and read back from their files; and the KSK's `.key` text.
fn keys(keygen: &Path, algorithm: &str, apex: &str, dir: &Path) -> (Vec<Key>, String) {
    let mut keys = Vec::new();
    let mut ksk_text = String::new();
    for ksk in [true, false] {
        let mut c = Command::new(keygen);
        c.current_dir(dir).args(["-a", algorithm]);
        if ksk {
            c.arg("-k");
        }
        let base = run(c.arg(apex)).expect("ldns-keygen runs");
        let base = base.trim();
        let read = |ext: &str| {
            let f = dir.join(format!("{base}.{ext}"));
            (
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            )
        };
        let (private, public) = (read("private"), read("key"));
        let key = Key::from_files(
            (&private.0, &private.1),
            (&public.0, &public.1),
            &name(apex),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.is_ksk(), ksk);
        if ksk {
            ksk_text = public.1;
        }
        keys.push(key);
    }
    (keys, ksk_text)
}

fn load(z: &GenZone) -> Zone {
    let apex = name(&z.apex);
    let records = oasis_dns::zone::parse_str(&z.text, "gen.zone", &apex).unwrap();
    Zone::new(&apex, records).unwrap()
}

fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

fn denials() -> [(&'static str, Denial); 3] {
    [
        ("NSEC", Denial::Nsec),
        ("NSEC3", Denial::nsec3()),
        (
            "NSEC3 opt-out",
            Denial::Nsec3 {
                iterations: 2,
                salt: vec![0xc0, 0xff, 0xee],
                opt_out: true,
            },
        ),
    ]
}

/// Whether the tools are here; panics under CI=true if not.
fn tools() -> Option<(PathBuf, PathBuf, PathBuf)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    match (find("ldns-keygen"), find("ldns-verify-zone"), find("delv")) {
        (Some(k), Some(v), Some(d)) => Some((k, v, d)),
        _ => {
            assert!(
                !ci,
                "CI=true but ldns-keygen, ldns-verify-zone or delv is missing \
                 (apt-get install -y ldnsutils bind9-dnsutils)"
            );
            println!("skipped: ldns-keygen, ldns-verify-zone or delv not installed");
            None
        }
    }
}

#[test]
fn ldns_verify_zone_accepts_zones_signed_here() {
    let Some((keygen, verify, _)) = tools() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("oasis-dns-online-verify-{}", std::process::id()));
    let mut rng = Rng(0x5eed_0051);
    let mut zones = vec![
        main_zone(&mut rng, "diff.test."),
        second_zone("second.test."),
        child_zone("sub0.diff.test."),
    ];
    // Random zones: delegations with glue and wildcards below them, DNAMEs,
    // CNAMEs (this seed has a wildcard delegation below a delegation).
    zones.extend((0..10).map(|i| random_zone(&mut rng, &format!("r{i}.test."))));
    zones.push(GenZone {
        apex: "val.test.".into(),
        text: ZONE.into(),
        names: Vec::new(),
    });
    let mut failures = Vec::new();
    let mut checked = 0;
    for algorithm in ["ECDSAP256SHA256", "ED25519"] {
        for z in &zones {
            let kdir = dir.join(format!("{algorithm}-{}", z.apex));
            std::fs::create_dir_all(&kdir).unwrap();
            let (keys, _) = keys(&keygen, algorithm, &z.apex, &kdir);
            let zone = load(z);
            for (what, denial) in denials() {
                let signed = sign(&zone, &keys, &Options::at(now(), 14 * 86400, denial), None)
                    .unwrap_or_else(|e| panic!("{}: {e}", z.apex));
                let file = kdir.join(format!("signed-{}", what.replace(' ', "-")));
                std::fs::write(&file, to_generic_master(&signed)).unwrap();
                match run(Command::new(&verify).arg(&file)) {
                    Ok(out) => {
                        checked += 1;
                        println!("{algorithm} {what} {}: {}", z.apex, out.trim());
                    }
                    Err(e) => failures.push(format!("{algorithm} {what} {}: {e}", z.apex)),
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "not verified:\n{}",
        failures.join("\n")
    );
    assert_eq!(checked, 2 * zones.len() * 3);
}

#[test]
fn delv_validates_answers_from_zones_signed_here() {
    let Some((keygen, _, delv)) = tools() else {
        return;
    };
    let mut failures = Vec::new();
    for algorithm in ["ECDSAP256SHA256", "ED25519"] {
        let dir = std::env::temp_dir().join(format!(
            "oasis-dns-online-delv-{}-{algorithm}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let (keys, ksk) = keys(&keygen, algorithm, "val.test.", &dir);
        let anchor_file = dir.join("anchor.conf");
        std::fs::write(&anchor_file, anchor(&ksk)).unwrap();
        let zone = load(&GenZone {
            apex: "val.test.".into(),
            text: ZONE.into(),
            names: Vec::new(),
        });
        for (what_denial, denial) in denials() {
            let opt_out = matches!(denial, Denial::Nsec3 { opt_out: true, .. });
            let signed = sign(&zone, &keys, &Options::at(now(), 14 * 86400, denial), None).unwrap();
            let oasis = server::Oasis::start(&[GenZone {
                apex: "val.test.".into(),
                text: to_generic_master(&signed),
                names: Vec::new(),
            }])
            .expect("oasis-dns serves the signed zone");
            for (what, qname, rtype) in QUESTIONS {
                let out = Command::new(&delv)
                    .args(["@127.0.0.1", "-p", &oasis.port.to_string(), "-a"])
                    .arg(&anchor_file)
                    .args(["+root=val.test", qname, rtype])
                    .output()
                    .expect("delv runs");
                let text = String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr);
                let expected = if opt_out && *what == "a wildcard answer" {
                    "; unsigned answer"
                } else {
                    "fully validated"
                };
                if text.contains(expected) {
                    println!("{algorithm} {what_denial}: {what}: {expected}");
                } else {
                    failures.push(format!(
                        "{algorithm} {what_denial}, {what} ({qname} {rtype}):\n{text}"
                    ));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "not validated:\n{}",
        failures.join("\n")
    );
}
