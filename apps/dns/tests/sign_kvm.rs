//! A zone signed by the kvm guest with keys from its `zones` archive:
//! apps/dns as a kvm unikernel under oasis-vmm, the block device `zones` a
//! tar of an unsigned zone file and the zone's two `ldns-keygen` key pairs
//! (`--sign-key=example.org/K….private`, each `.key` beside it), UDP and
//! TCP forwarded by the user-mode network. `delv` (with the KSK as trust
//! anchor) fully validates a name and a name that does not exist; after
//! `nsupdate -y` adds a name, the new name validates too.
//!
//! Without a usable /dev/kvm it prints `skipped: …` (and fails under
//! CI=true where /dev/kvm exists); without the tools, `skipped` unless
//! CI=true.
//!
//! Its own `main` (no test harness), as update_kvm.rs: run with
//! `DNS_VMM_IMAGE`, `DNS_VMM_ZONES`, `DNS_VMM_PORT` and `DNS_VMM_ARGS`, it
//! is the VMM, a process of its own that the test stops by its pid.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::crash::up;
use common::xfr::{SECRET, tool};

const KEY: &str = "update-key";
const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
";

fn main() {
    if let (Ok(image), Ok(zones), Ok(port), Ok(args)) = (
        std::env::var("DNS_VMM_IMAGE"),
        std::env::var("DNS_VMM_ZONES"),
        std::env::var("DNS_VMM_PORT"),
        std::env::var("DNS_VMM_ARGS"),
    ) {
        let mut config = oasis_vmm::Config::new(image);
        config.blocks = vec![("zones".into(), PathBuf::from(zones))];
        config.nets = vec![(
            "service".into(),
            format!("user,fwd=udp:{port}:53,fwd=tcp:{port}:53"),
        )];
        config.args = args.split(' ').map(String::from).collect();
        let status = oasis_vmm::run(&config).unwrap_or_else(|e| {
            eprintln!("vmm: {e}");
            70
        });
        std::process::exit(status);
    }
    if !oasis_testkit::kvm_usable("apps/dns signing a zone with keys from its archive on kvm") {
        println!("sign_kvm: 0 passed, 0 failed (skipped)");
        return;
    }
    let tools = (
        tool("nsupdate", &["/usr/bin/nsupdate"], "bind9-dnsutils"),
        tool("delv", &["/usr/bin/delv"], "bind9-dnsutils"),
        tool("ldns-keygen", &["/usr/bin/ldns-keygen"], "ldnsutils"),
    );
    let (Some(nsupdate), Some(delv), Some(keygen)) = tools else {
        return;
    };
    signs_on_kvm(&kvm_image(), &nsupdate, &delv, &keygen);
    oasis_testkit::kvm_test_ran("dns_signs_with_keys_from_its_archive_kvm");
    println!("sign_kvm: 1 passed, 0 failed");
}

/// Builds apps/dns for kvm into this test's own target directory.
fn kvm_image() -> PathBuf {
    use oasis_cli::build::{Request, Target, build};
    let app = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut req = Request::new(app.to_string_lossy(), Target::Kvm);
    req.target_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"));
    req.quiet = true;
    let exes = build(&req).unwrap_or_else(|e| panic!("building apps/dns for kvm: {e}"));
    exes.into_iter().next().expect("one image")
}

fn output(c: &mut Command) -> String {
    let out = c.output().unwrap();
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn signs_on_kvm(image: &Path, nsupdate: &Path, delv: &Path, keygen: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("example.org.zone"), ZONE).unwrap();
    let mut files = vec!["example.org.zone".to_string()];
    let mut sign_args = Vec::new();
    let mut anchor_key = String::new();
    for ksk in [true, false] {
        let mut c = Command::new(keygen);
        c.current_dir(d).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        let base = output(c.arg("example.org")).trim().to_string();
        if ksk {
            anchor_key = std::fs::read_to_string(d.join(format!("{base}.key"))).unwrap();
        }
        files.push(format!("{base}.private"));
        files.push(format!("{base}.key"));
        sign_args.push(format!("--sign-key=example.org/{base}.private"));
    }
    let tar = d.join("zones.img");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(d)
        .args(&files)
        .status()
        .unwrap();
    assert!(st.success());
    let f: Vec<&str> = anchor_key.split_whitespace().collect();
    let at = f.iter().position(|w| *w == "DNSKEY").unwrap();
    let anchor = d.join("anchor.conf");
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
    let mut args = sign_args;
    args.push(format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"));
    args.push(format!("--update-key=example.org/{KEY}"));
    args.push("--nsec3=on".into());
    let args = args.join(" ");
    let log = d.join("vmm.log");
    let boot = |port: u16, log: &Path| -> Child {
        let out = std::fs::File::create(log).unwrap();
        Command::new(std::env::current_exe().expect("own path"))
            .env("DNS_VMM_IMAGE", image)
            .env("DNS_VMM_ZONES", &tar)
            .env("DNS_VMM_PORT", port.to_string())
            .env("DNS_VMM_ARGS", &args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start the VMM")
    };
    let (mut vmm, port, serial) = up(&boot, &log, "example.org", "the VMM");
    assert_eq!(serial, 1);
    let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let validated = |name: &str, qtype: &str| {
        let out = output(
            Command::new(delv)
                .args(["@127.0.0.1", "-p", &port.to_string(), "-a"])
                .arg(&anchor)
                .args(["+root=example.org", name, qtype]),
        );
        assert!(
            out.contains("fully validated"),
            "{name} {qtype} not validated:\n{out}\n{}",
            read_log()
        );
        out
    };
    validated("www.example.org", "A");
    validated("nope.example.org", "A");
    let mut child = Command::new(nsupdate)
        .args(["-t", "10", "-y", &format!("hmac-sha256:{KEY}:{SECRET}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = format!(
        "server 127.0.0.1 {port}\nzone example.org\nupdate add new.example.org 60 A 192.0.2.50\nsend\n"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nsupdate: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        read_log()
    );
    let out = validated("new.example.org", "A");
    assert!(out.contains("192.0.2.50"), "{out}");
    vmm.kill().unwrap();
    vmm.wait().unwrap();
    assert!(read_log().contains("signed 1 zone(s)"), "{}", read_log());
}
