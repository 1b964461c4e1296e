//! Dynamic UPDATE of a zone signed here (`--sign-key`), hosted on
//! 127.0.0.1, with NSEC and with NSEC3: the zone file is unsigned, its
//! keys (a KSK and a ZSK, ECDSA P-256) made by `ldns-keygen`; `nsupdate`
//! adds a name and deletes another, and `delv` (with the KSK as trust
//! anchor) fully validates the new name, the NXDOMAIN of the deleted one
//! and an untouched name; the IXFR since the first serial carries the new
//! name's signatures and the changed chain; after a restart (the update
//! log on `storage` replayed, the zone signed again) the same validates.
//!
//! Prints "skipped: WHY" when a tool is missing, unless CI=true.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::xfr::{log_file, read, tool, udp};
use common::{Server, free_port, query_bytes};
use oasis_dns::wire::{Message, RData};

const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
old A 192.0.2.11
";

fn serial(port: u16) -> Option<u32> {
    let r = udp(port, &query_bytes("example.org", 6), 1000)?;
    Message::parse(&r)
        .ok()?
        .answers
        .iter()
        .find_map(|r| match &r.rdata {
            RData::Soa(s) => Some(s.serial),
            _ => None,
        })
}

fn output(c: &mut Command) -> String {
    let out = c.output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// `delv`'s verdict on `name` `qtype`, served on `port`, with `anchor`.
fn delv(delv: &Path, anchor: &Path, port: u16, name: &str, qtype: &str) -> String {
    output(
        Command::new(delv)
            .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
            .arg(anchor)
            .args(["+root=example.org", name, qtype]),
    )
}

fn start(dir: &Path, port: u16, keys: &[String], nsec3: &str, log: &Path) -> Server {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dns"));
    c.arg(format!(
        "--block:storage={}",
        dir.join("storage.img").display()
    ))
    .arg("--")
    .arg(format!(
        "--zone-file={}",
        dir.join("example.org.zone").display()
    ))
    .arg(format!("--port={port}"))
    .arg("--update-allow=127.0.0.1")
    .arg("--axfr-allow=127.0.0.1")
    .arg(format!("--nsec3={nsec3}"));
    for k in keys {
        c.arg(format!("--sign-key=example.org/{k}"));
    }
    let server = Server(
        c.stdout(log_file(log))
            .stderr(log_file(log))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while serial(port).is_none() {
        assert!(Instant::now() < deadline, "no answer:\n{}", read(log));
    }
    server
}

fn nsupdate(bin: &Path, port: u16, body: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(["-t", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!("server 127.0.0.1 {port}\nzone example.org\n{body}\nsend\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn nsupdate_on_a_zone_signed_here_validates() {
    let (Some(nsupdate_bin), Some(delv_bin), Some(keygen), Some(dig)) = (
        tool("nsupdate", &["/usr/bin/nsupdate"], "bind9-dnsutils"),
        tool("delv", &["/usr/bin/delv"], "bind9-dnsutils"),
        tool("ldns-keygen", &["/usr/bin/ldns-keygen"], "ldnsutils"),
        tool("dig", &["/usr/bin/dig"], "dnsutils"),
    ) else {
        return;
    };
    for nsec3 in ["off", "on"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("example.org.zone"), ZONE).unwrap();
        std::fs::File::create(dir.path().join("storage.img"))
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        let mut keys = Vec::new();
        let mut anchor_key = String::new();
        for ksk in [true, false] {
            let mut c = Command::new(&keygen);
            c.current_dir(dir.path()).args(["-a", "ECDSAP256SHA256"]);
            if ksk {
                c.arg("-k");
            }
            let base = output(c.arg("example.org")).trim().to_string();
            let path: PathBuf = dir.path().join(format!("{base}.private"));
            if ksk {
                anchor_key =
                    std::fs::read_to_string(dir.path().join(format!("{base}.key"))).unwrap();
            }
            keys.push(path.display().to_string());
        }
        let f: Vec<&str> = anchor_key.split_whitespace().collect();
        let at = f.iter().position(|w| *w == "DNSKEY").unwrap();
        let anchor = dir.path().join("anchor.conf");
        std::fs::write(
            &anchor,
            format!(
                "trust-anchors {{ \"example.org.\" static-key {} {} {} \"{}\"; }};\n",
                f[at + 1],
                f[at + 2],
                f[at + 3],
                f[at + 4]
            ),
        )
        .unwrap();
        let log = dir.path().join("dns.log");
        let port = free_port();
        let validated = |name: &str, qtype: &str| {
            let out = delv(&delv_bin, &anchor, port, name, qtype);
            assert!(
                out.contains("fully validated"),
                "nsec3={nsec3}: {name} {qtype} not validated:\n{out}\n{}",
                read(&log)
            );
            out
        };
        {
            let _server = start(dir.path(), port, &keys, nsec3, &log);
            validated("www.example.org", "A");
            let (ok, out) = nsupdate(
                &nsupdate_bin,
                port,
                "update add new.example.org 60 A 192.0.2.50\nupdate delete old.example.org",
            );
            assert!(ok, "nsupdate: {out}\n{}", read(&log));
            assert_eq!(serial(port), Some(2));
            let out = validated("new.example.org", "A");
            assert!(out.contains("192.0.2.50"), "{out}");
            let out = validated("old.example.org", "A");
            assert!(
                out.contains("NXDOMAIN") || out.contains("nxdomain"),
                "{out}"
            );
            validated("www.example.org", "A");
            validated("example.org", "SOA");
            // The IXFR from serial 1 carries the signatures of what changed.
            let ixfr = output(
                Command::new(&dig)
                    .args(["@127.0.0.1", "-p", &port.to_string(), "+tcp"])
                    .args(["example.org", "IXFR=1"]),
            );
            // (owner, type, first field of the data) of each record.
            let records: Vec<(String, String, String)> = ixfr
                .lines()
                .filter(|l| !l.starts_with(';'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    Some((
                        f.first()?.to_string(),
                        f.get(3)?.to_string(),
                        f.get(4)?.to_string(),
                    ))
                })
                .collect();
            let has = |owner: &str, t: &str, first: &str| {
                records
                    .iter()
                    .any(|(o, ty, f)| o == owner && ty == t && (first.is_empty() || f == first))
            };
            assert!(has("new.example.org.", "RRSIG", "A"), "{ixfr}");
            assert!(has("example.org.", "RRSIG", "SOA"), "{ixfr}");
            let chain = if nsec3 == "off" { "NSEC" } else { "NSEC3" };
            assert!(records.iter().any(|(_, t, _)| t == chain), "{ixfr}");
            assert!(
                !has("www.example.org.", "RRSIG", "A"),
                "an unchanged RRset re-signed: {ixfr}"
            );
        }
        // Restarted: the update replayed from `storage`, the zone signed again.
        {
            let _server = start(dir.path(), port, &keys, nsec3, &log);
            assert_eq!(serial(port), Some(2), "{}", read(&log));
            validated("new.example.org", "A");
            validated("old.example.org", "A");
        }
        println!("nsec3={nsec3}: validated after UPDATE and after restart");
    }
}

#[test]
fn a_bad_key_file_stops_the_start_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("example.org.zone"), ZONE).unwrap();
    let key = dir.path().join("Kexample.org.+013+00001.private");
    std::fs::write(
        &key,
        "Private-key-format: v1.2\nAlgorithm: 8 (RSASHA256)\nPrivateKey: AAAA\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dns"))
        .arg("--")
        .arg(format!(
            "--zone-file={}",
            dir.path().join("example.org.zone").display()
        ))
        .arg(format!("--port={}", free_port()))
        .arg(format!("--sign-key=example.org/{}", key.display()))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let want = format!(
        "{}:2: algorithm 13 (ECDSAP256SHA256) or 15 (ED25519)",
        key.display()
    );
    assert!(text.contains(&want), "{text}");
}
