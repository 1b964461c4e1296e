//! DNS cookies on the kvm unikernel: apps/dns under `oasis run --target
//! kvm` behind a user-mode forward on a free loopback port, cookies
//! required. `dig +cookie` gets BADCOOKIE and a server cookie stamped by
//! the guest's wall clock (within a minute of the host's) and keyed with
//! `--cookie-secret` over the address the guest sees, the gateway
//! 10.0.0.1; the cookie returned is accepted; a forged one is refused over
//! UDP and answered over TCP. Needs /dev/kvm and dig (fails without them
//! under CI=true).
//!
//! ```text
//! oasis run apps/dns --target kvm --net service=user,fwd=udp:PORT:53,fwd=tcp:PORT:53 -- --cookies=require --cookie-secret=HEX32
//! ```

mod common;
mod dig;
mod usernet;

use std::path::Path;
use std::time::SystemTime;

use common::{kvm_usable, ran};
use dig::{cookie, dig, hex};
use oasis_dns::cookie::{Secret, verify};
use usernet::{Guest, unused_port};

const SECRET: &str = "00112233445566778899aabbccddeeff";

#[test]
fn kvm_dns_cookies_are_issued_with_the_guests_clock_and_required_over_udp() {
    if !kvm_usable() {
        return;
    }
    if !["/usr/bin/dig", "/bin/dig"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have dig (dnsutils, see scripts/packages)"
        );
        println!("skipped: dig not installed");
        return;
    }
    let port = unused_port();
    let mut server = Guest::run(
        "apps/dns",
        &format!("service=user,fwd=udp:{port}:53,fwd=tcp:{port}:53"),
        &["--cookies=require", &format!("--cookie-secret={SECRET}")],
    );
    server.wait_for("listening on port 53");
    let out = dig(port, &["+cookie", "+nobadcookie", "www.example.com", "A"]);
    assert!(
        out.contains("status: BADCOOKIE") && out.contains("ANSWER: 0"),
        "{out}\n{}",
        server.output()
    );
    let c = cookie(&out).unwrap_or_else(|| panic!("no COOKIE: {out}"));
    assert_eq!(c.len(), 48, "{c}");
    let bytes = hex(&c);
    let secret: Secret = hex(SECRET).try_into().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    let age = verify(
        &secret,
        bytes[..8].try_into().unwrap(),
        &bytes[8..],
        "10.0.0.1".parse().unwrap(),
        now,
    );
    assert!(
        age.is_some_and(|a| (-60..60).contains(&a)),
        "{c}: age {age:?} at {now}"
    );
    let out = dig(port, &[&format!("+cookie={c}"), "www.example.com", "A"]);
    assert!(
        out.contains("status: NOERROR") && !out.contains("ANSWER: 0"),
        "{out}"
    );
    assert!(out.contains(&format!("; COOKIE: {c} (good)")), "{out}");
    let mut forged = c.clone();
    forged.replace_range(46..48, if &c[46..48] == "00" { "01" } else { "00" });
    let out = dig(
        port,
        &[
            &format!("+cookie={forged}"),
            "+nobadcookie",
            "www.example.com",
            "A",
        ],
    );
    assert!(out.contains("status: BADCOOKIE"), "{out}");
    let out = dig(
        port,
        &["+tcp", &format!("+cookie={forged}"), "www.example.com", "A"],
    );
    assert!(
        out.contains("status: NOERROR") && !out.contains("ANSWER: 0"),
        "{out}"
    );
    let (_, log) = server.stop();
    assert!(
        log.contains("DNS cookies required over UDP: secret given"),
        "{log}"
    );
    ran("kvm_dns_cookies");
}
