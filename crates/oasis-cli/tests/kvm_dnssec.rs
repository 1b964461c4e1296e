//! DNSSEC from the kvm unikernel: a zone signed by Debian's `ldns-signzone`
//! (NSEC3) handed to apps/dns as a tar on the block device `zones`, served
//! behind a user-mode forward, and `delv` validating an answer, a name
//! that does not exist and a type a name lacks against the zone's own key.
//! Needs /dev/kvm, delv and ldns-signzone (fails without them under
//! CI=true).
//!
//! ```text
//! ldns-signzone -n -f val.test.zone zone Kzsk Kksk && tar cf zones.img val.test.zone
//! oasis run apps/dns --target kvm --block zones=zones.img --net service=user,fwd=udp:PORT:53,fwd=tcp:PORT:53
//! delv @127.0.0.1 -p PORT -a anchor.conf +root=val.test www.val.test A
//! ```

mod common;
mod usernet;

use std::path::Path;
use std::process::Command;

use common::{kvm_usable, ran};
use usernet::{Guest, unused_port};

const ZONE: &str = "\
$ORIGIN val.test.
$TTL 300
@ SOA ns1 hostmaster 2026120701 7200 3600 1209600 300
@ NS ns1
ns1 A 10.0.0.2
www A 192.0.2.1
";

fn tool(name: &str) -> Option<String> {
    ["/usr/bin", "/bin", "/usr/sbin"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| Path::new(p).exists())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn kvm_dns_serves_a_signed_zone_that_delv_validates() {
    if !kvm_usable() {
        return;
    }
    let (Some(delv), Some(signzone), Some(keygen)) =
        (tool("delv"), tool("ldns-signzone"), tool("ldns-keygen"))
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have delv and ldns-signzone (dnsutils, ldnsutils: scripts/packages)"
        );
        println!("skipped: delv or ldns-signzone not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("zone"), ZONE).unwrap();
    let ksk =
        run(Command::new(&keygen)
            .current_dir(d)
            .args(["-a", "ECDSAP256SHA256", "-k", "val.test"]));
    let zsk = run(Command::new(&keygen)
        .current_dir(d)
        .args(["-a", "ECDSAP256SHA256", "val.test"]));
    run(Command::new(&signzone).current_dir(d).args([
        "-n",
        "-f",
        "val.test.zone",
        "zone",
        &zsk,
        &ksk,
    ]));
    let key = std::fs::read_to_string(d.join(format!("{ksk}.key"))).unwrap();
    let f: Vec<&str> = key.split_whitespace().collect();
    let at = f.iter().position(|w| *w == "DNSKEY").unwrap();
    let anchor = d.join("anchor.conf");
    std::fs::write(
        &anchor,
        format!(
            "trust-anchors {{ \"val.test.\" static-key {} {} {} \"{}\"; }};\n",
            f[at + 1],
            f[at + 2],
            f[at + 3],
            f[at + 4]
        ),
    )
    .unwrap();
    let img = d.join("zones.img");
    run(Command::new("tar")
        .arg("-cf")
        .arg(&img)
        .arg("-C")
        .arg(d)
        .arg("val.test.zone"));

    let port = unused_port();
    let block = format!("zones={}", img.display());
    let mut server = Guest::run_with(
        "apps/dns",
        &["--block", &block],
        &format!("service=user,fwd=udp:{port}:53,fwd=tcp:{port}:53"),
        &[],
    );
    server.wait_for("listening on port 53");
    for (name, rtype, expect) in [
        ("www.val.test", "A", "; fully validated"),
        ("nope.val.test", "A", "; negative response, fully validated"),
        ("www.val.test", "MX", "; negative response, fully validated"),
    ] {
        let out = Command::new(&delv)
            .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
            .arg(&anchor)
            .args(["+root=val.test", name, rtype])
            .output()
            .expect("delv runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(expect),
            "{name} {rtype}: {text}\n{}",
            server.output()
        );
    }
    let (status, log) = server.stop();
    assert!(log.contains("serving zone val.test."), "{status:?}\n{log}");
    ran("kvm_dns_dnssec");
}
