//! DNS cookies (RFC 7873, RFC 9018 server cookies) as `dig` sees them:
//! apps/dns hosted on a free loopback port, asked with `dig +cookie` and
//! with the cookie it returned, a forged one, a malformed option; in
//! `--cookies=require`, `on` (with a rotated secret and response-rate
//! limiting, which a valid cookie is exempt from) and `off`. Only loopback
//! is used; says `skipped: dig not installed` without dig, fails under
//! CI=true.

mod common;
mod dig;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use dig::{cookie, dig, hex};
use oasis_dns::cookie::{Secret, make, verify};
use oasis_testkit::client::free_port;
use oasis_testkit::process::Logged;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const OLD_SECRET: &str = "fedcba9876543210fedcba9876543210";

fn have_dig() -> bool {
    let found = ["/usr/bin/dig", "/bin/dig", "/usr/sbin/dig"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have dig (dnsutils, see scripts/packages)"
        );
        println!("skipped: dig not installed");
    }
    found
}

fn serve(boot: &[&str]) -> (Logged, u16) {
    let port = free_port();
    let mut cmd = Command::new(common::hosted_dns());
    cmd.arg(format!("--port={port}")).args(boot);
    let mut server = Logged::start(cmd, "dns-cookies");
    server.wait_for("listening on port", Duration::from_secs(60));
    (server, port)
}

fn secret(s: &str) -> Secret {
    hex(s).try_into().unwrap()
}

fn now() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

/// Waits (bounded) for the last stats line to contain `expect`.
fn stats(server: &Logged, expect: &str) {
    let start = Instant::now();
    loop {
        let line = server.last_line("dns stats:").unwrap_or_default();
        if line.contains(expect) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no `{expect}` in the stats: {line}\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn required_cookies_are_issued_checked_and_counted() {
    if !have_dig() {
        return;
    }
    let (server, port) = serve(&[
        "--cookies=require",
        &format!("--cookie-secret={SECRET}"),
        "--dns-stats=1",
    ]);
    // A client cookie alone: BADCOOKIE (23), no answer, a server cookie
    // of 16 bytes (version 1) made with the secret for 127.0.0.1.
    let out = dig(port, &["+cookie", "+nobadcookie", "www.example.com", "A"]);
    assert!(
        out.contains("status: BADCOOKIE") && out.contains("ANSWER: 0"),
        "{out}"
    );
    let c = cookie(&out).unwrap_or_else(|| panic!("no COOKIE: {out}"));
    assert_eq!(c.len(), 48, "{out}");
    assert!(c[16..].starts_with("01000000"), "{c}");
    let bytes = hex(&c);
    let client: [u8; 8] = bytes[..8].try_into().unwrap();
    let age = verify(
        &secret(SECRET),
        &client,
        &bytes[8..],
        "127.0.0.1".parse().unwrap(),
        now(),
    );
    assert!(age.is_some_and(|a| (-5..60).contains(&a)), "{c}: {age:?}");
    // The cookie it returned: answered, and echoed.
    let out = dig(port, &[&format!("+cookie={c}"), "www.example.com", "A"]);
    assert!(
        out.contains("status: NOERROR") && !out.contains("ANSWER: 0"),
        "{out}"
    );
    assert!(out.contains(&format!("; COOKIE: {c} (good)")), "{out}");
    // CHAOS answers, made outside the catalog, carry it too.
    let out = dig(
        port,
        &[&format!("+cookie={c}"), "CH", "TXT", "version.bind"],
    );
    assert!(
        out.contains("status: NOERROR") && out.contains("\"oasis\""),
        "{out}"
    );
    assert!(out.contains(&format!("; COOKIE: {c} (good)")), "{out}");
    // A forged server cookie: BADCOOKIE over UDP, with a fresh cookie;
    // answered over TCP.
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
    assert!(
        out.contains("status: BADCOOKIE") && out.contains("ANSWER: 0"),
        "{out}"
    );
    assert_ne!(cookie(&out).as_deref(), Some(forged.as_str()), "{out}");
    let out = dig(
        port,
        &["+tcp", &format!("+cookie={forged}"), "www.example.com", "A"],
    );
    assert!(
        out.contains("status: NOERROR") && !out.contains("ANSWER: 0"),
        "{out}"
    );
    // No COOKIE option: answered as ever, without one.
    let out = dig(port, &["+nocookie", "www.example.com", "A"]);
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(cookie(&out).is_none(), "{out}");
    // A COOKIE option of 2 bytes: FORMERR.
    let out = dig(
        port,
        &["+nocookie", "+ednsopt=10:0102", "www.example.com", "A"],
    );
    assert!(out.contains("status: FORMERR"), "{out}");
    stats(
        &server,
        "cookies valid 2, fresh 3, bad 2, malformed 1, badcookie 2",
    );
    drop(server);
}

#[test]
fn a_previous_secret_is_renewed_and_valid_cookies_pass_rate_limiting() {
    if !have_dig() {
        return;
    }
    let (server, port) = serve(&[
        &format!("--cookie-secret={SECRET}"),
        &format!("--cookie-secret-previous={OLD_SECRET}"),
        "--rrl-rate=1",
        "--rrl-slip=1",
        "--dns-stats=1",
    ]);
    let localhost = "127.0.0.1".parse().unwrap();
    let client = *b"oasis-ck";
    let mut old = client.to_vec();
    old.extend_from_slice(&make(&secret(OLD_SECRET), &client, localhost, now()));
    let old: String = old.iter().map(|b| format!("{b:02x}")).collect();
    // Made with the previous secret: accepted, and replaced by one made
    // with the current secret.
    let out = dig(
        port,
        &[&format!("+cookie={old}"), "+ignore", "www.example.com", "A"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
    let renewed = cookie(&out).unwrap_or_else(|| panic!("no COOKIE: {out}"));
    assert_ne!(renewed, old);
    let bytes = hex(&renewed);
    assert!(
        verify(&secret(SECRET), &client, &bytes[8..], localhost, now()).is_some(),
        "{renewed}"
    );
    // Each query with a valid cookie is answered in full, none truncated
    // by the limiter (1 answer a second, every held-back one truncated);
    // the same queries without a cookie are held back after the first.
    let flags = |out: &str| {
        out.lines()
            .find(|l| l.starts_with(";; flags:"))
            .unwrap_or_else(|| panic!("no flags: {out}"))
            .to_string()
    };
    for _ in 0..6 {
        let out = dig(
            port,
            &[
                &format!("+cookie={renewed}"),
                "+ignore",
                "www.example.com",
                "A",
            ],
        );
        assert!(!flags(&out).contains(" tc"), "{out}");
        assert!(!out.contains("ANSWER: 0"), "{out}");
    }
    let truncated = (0..6)
        .filter(|_| {
            let out = dig(port, &["+nocookie", "+ignore", "www.example.com", "A"]);
            flags(&out).contains(" tc")
        })
        .count();
    assert!(truncated >= 4, "only {truncated} of 6 truncated");
    stats(
        &server,
        "cookies valid 7, fresh 1, bad 0, malformed 0, badcookie 0",
    );
    drop(server);
}

#[test]
fn cookies_off_ignores_the_option() {
    if !have_dig() {
        return;
    }
    let (server, port) = serve(&["--cookies=off"]);
    let out = dig(port, &["+cookie", "www.example.com", "A"]);
    assert!(
        out.contains("status: NOERROR") && cookie(&out).is_none(),
        "{out}"
    );
    let out = dig(
        port,
        &["+nocookie", "+ednsopt=10:0102", "www.example.com", "A"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
    drop(server);
}
