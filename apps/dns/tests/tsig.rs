//! TSIG (RFC 8945) on zone transfers and NOTIFY, against real peers, hosted
//! on 127.0.0.1:
//!
//! - `dig -y` transfers a zone of several messages from apps/dns with the
//!   right key and verifies every message; a wrong secret gets BADSIG, an
//!   unknown key BADKEY, no key REFUSED; a request signed an hour off gets
//!   BADTIME (signed, the server's time in Other Data), a MAC truncated to
//!   half BADTRUNC and one truncated below that FORMERR.
//! - `kdig -y` (Knot's dig) the same: the transfer verified, a wrong
//!   secret BADSIG, an unknown key BADKEY, no key REFUSED, and an IXFR from
//!   the serial served (one SOA: nothing newer) signed.
//! - NSD as primary with a key, apps/dns as its secondary with the same
//!   key: the zone arrives signed, NSD's signed NOTIFY brings a new serial,
//!   an unsigned NOTIFY is REFUSED, and a secondary with a wrong secret
//!   never serves the zone and says why.
//! - apps/dns as primary requiring the key, NSD as its secondary pulling
//!   with it: NSD answers from the zone.
//!
//! Prints "skipped: WHY" when dig, kdig or nsd is missing, unless CI=true.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::xfr::*;
use common::{Server, free_port, query_bytes};
use oasis_dns::tsig::{self, ResponseVerifier, Signer, TsigError, error};
use oasis_dns::wire::Type;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A zone big enough that its transfer takes several messages.
fn zone_text(serial: u32, mail: &str) -> String {
    let mut z = format!(
        "$ORIGIN example.org.\n$TTL 60\n@ SOA ns h {serial} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nmail A {mail}\n"
    );
    for i in 0..1500 {
        z.push_str(&format!("host-{i} A 198.51.{}.{}\n", i / 256, i % 256));
    }
    z
}

/// apps/dns with `args`, its log in `log`; waits until it answers.
fn oasis(args: &[String], port: u16, log: &Path) -> Server {
    let mut all = args.to_vec();
    all.push(format!("--port={port}"));
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .args(&all)
            .stdout(log_file(log))
            .stderr(log_file(log))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if udp(port, &query_bytes("example.org", 6), 100).is_some() {
            return server;
        }
    }
    panic!("dns did not answer on port {port}:\n{}", read(log));
}

/// The first message answering `q` over TCP.
fn tcp(port: u16, q: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(q).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut msg).unwrap();
    msg
}

/// An AXFR request signed at `at`, its MAC cut to `mac_len` bytes.
fn signed_axfr(at: u64, mac_len: usize) -> (Vec<u8>, Vec<u8>) {
    let mut q = oasis_dns::xfr::query(&apex(), Type::AXFR, 0x4242);
    let mac = Signer::new(&key(), None).sign(&mut q, at);
    if mac_len < mac.len() {
        let found = tsig::find(&q).unwrap().unwrap();
        let t = found.tsig;
        q.truncate(found.at);
        q.extend_from_slice(t.key_name.as_wire());
        q.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
        let rdlen = t.algorithm.wire_len() + 16 + mac_len;
        q.extend_from_slice(&(rdlen as u16).to_be_bytes());
        q.extend_from_slice(t.algorithm.as_wire());
        q.extend_from_slice(&(at & 0xffff_ffff_ffff).to_be_bytes()[2..]);
        q.extend_from_slice(&t.fudge.to_be_bytes());
        q.extend_from_slice(&(mac_len as u16).to_be_bytes());
        q.extend_from_slice(&mac[..mac_len]);
        q.extend_from_slice(&[0x42, 0x42, 0, 0, 0, 0]);
    }
    (q, mac)
}

fn run_dig(dig: &Path, port: u16, key: Option<&str>, qtype: &str) -> String {
    let mut c = Command::new(dig);
    c.args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+tries=1"]);
    if let Some(k) = key {
        c.args(["-y", k]);
    }
    c.args(["example.org", qtype]);
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn kdig_transfers_with_the_key_and_wrong_keys_get_their_errors() {
    let Some(kdig) = tool(
        "kdig",
        &["/usr/bin/kdig", "/usr/local/bin/kdig"],
        "knot-dnsutils",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(&file, zone_text(1, "192.0.2.25")).unwrap();
    let log = dir.path().join("dns.log");
    let port = free_port();
    let _server = oasis(
        &[
            format!("--zone-file={}", file.display()),
            "--axfr-allow=127.0.0.1".into(),
            format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"),
            format!("--xfr-key={KEY}"),
        ],
        port,
        &log,
    );
    let run = |key: Option<String>, qtype: &str| {
        let mut c = Command::new(&kdig);
        c.args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+retry=0"]);
        if let Some(k) = key {
            c.args(["-y", &k]);
        }
        let out = c.args(["example.org", qtype]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let right = format!("hmac-sha256:{KEY}:{SECRET}");
    let out = run(Some(right.clone()), "AXFR");
    // kdig verifies every message and says so when one fails.
    assert!(out.contains("1505 records"), "{out}\n{}", read(&log));
    assert!(
        !out.contains(";; WARNING") && !out.contains(";; ERROR"),
        "{out}"
    );
    assert!(out.contains("TSIG\thmac-sha256."), "{out}");
    let wrong = format!("hmac-sha256:{KEY}:AAAA{}", &SECRET[4..]);
    assert!(run(Some(wrong), "AXFR").contains("error 'BADSIG'"));
    let unknown = format!("hmac-sha256:other-key:{SECRET}");
    assert!(run(Some(unknown), "AXFR").contains("error 'BADKEY'"));
    assert!(run(None, "AXFR").contains("error 'REFUSED'"));
    let out = run(Some(right), "IXFR=1");
    assert!(out.contains("1 records"), "{out}");
    assert!(
        !out.contains(";; WARNING") && !out.contains(";; ERROR"),
        "{out}"
    );
}

#[test]
fn dig_transfers_with_the_key_and_every_wrong_request_gets_its_error() {
    let Some(dig) = dig() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(&file, zone_text(1, "192.0.2.25")).unwrap();
    let log = dir.path().join("dns.log");
    let port = free_port();
    let _server = oasis(
        &[
            format!("--zone-file={}", file.display()),
            "--axfr-allow=127.0.0.1".into(),
            format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"),
            format!("--xfr-key={KEY}"),
        ],
        port,
        &log,
    );

    // The right key: every message of the transfer is signed and verified.
    let out = run_dig(
        &dig,
        port,
        Some(&format!("hmac-sha256:{KEY}:{SECRET}")),
        "AXFR",
    );
    assert!(out.contains("XFR size: 1505 records"), "{out}");
    let messages: usize = out
        .split("messages ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(messages >= 2, "a transfer of several messages: {out}");
    assert!(out.contains("ANY\tTSIG\thmac-sha256."), "{out}");
    for bad in ["tsig verify failure", "Couldn't verify", "expected a TSIG"] {
        assert!(!out.contains(bad), "{bad}: {out}");
    }
    // A signed UDP query is answered signed, and dig verifies it.
    let out = run_dig(
        &dig,
        port,
        Some(&format!("hmac-sha256:{KEY}:{SECRET}")),
        "SOA",
    );
    assert!(
        out.contains("status: NOERROR") && out.contains("TSIG PSEUDOSECTION"),
        "{out}"
    );
    assert!(
        !out.contains("tsig verify failure") && !out.contains("Couldn't verify"),
        "{out}"
    );

    // A wrong secret: BADSIG; an unknown key: BADKEY; both unsigned
    // NOTAUTH answers, and the transfer fails.
    let wrong = "hmac-sha256:xfr-key:d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=";
    let out = run_dig(&dig, port, Some(wrong), "AXFR");
    assert!(
        out.contains("BADSIG") && out.contains("Transfer failed"),
        "{out}"
    );
    let unknown = format!("hmac-sha256:other-key:{SECRET}");
    let out = run_dig(&dig, port, Some(&unknown), "AXFR");
    assert!(
        out.contains("BADKEY") && out.contains("Transfer failed"),
        "{out}"
    );
    // No key where one is required: REFUSED.
    let out = run_dig(&dig, port, None, "AXFR");
    assert!(out.contains("Transfer failed"), "{out}");
    let r = tcp(port, &oasis_dns::xfr::query(&apex(), Type::AXFR, 9));
    assert_eq!(r[3] & 0x0f, 5, "REFUSED");

    // Signed an hour ago: BADTIME, signed with the key over the request's
    // MAC, the server's time in Other Data.
    let (q, mac) = signed_axfr(now() - 3600, 32);
    let r = tcp(port, &q);
    assert_eq!(r[3] & 0x0f, 9, "NOTAUTH");
    let t = tsig::find(&r).unwrap().unwrap().tsig;
    assert_eq!(t.error, error::BADTIME);
    assert_eq!(t.other.len(), 6);
    let server_time = t.other.iter().fold(0u64, |a, b| a << 8 | u64::from(*b));
    assert!(server_time.abs_diff(now()) < 60, "{server_time}");
    let mut v = ResponseVerifier::new(&key(), &mac);
    assert_eq!(
        v.verify(&r, now() - 3600),
        Err(TsigError::Peer(error::BADTIME))
    );

    // A MAC truncated to half of HMAC-SHA256's 32 bytes: allowed by the
    // RFC, not by oasis's policy: BADTRUNC. Below half: FORMERR.
    let (q, _) = signed_axfr(now(), 16);
    let r = tcp(port, &q);
    assert_eq!(r[3] & 0x0f, 9, "NOTAUTH");
    assert_eq!(tsig::find(&r).unwrap().unwrap().tsig.error, error::BADTRUNC);
    let (q, _) = signed_axfr(now(), 12);
    let r = tcp(port, &q);
    assert_eq!(r[3] & 0x0f, 1, "FORMERR");
    assert_eq!(tsig::find(&r).unwrap(), None, "a FORMERR carries no TSIG");

    let log = read(&log);
    for e in [
        "TSIG BADSIG",
        "TSIG BADKEY",
        "TSIG BADTIME",
        "TSIG BADTRUNC",
        "not allowed, or unsigned",
    ] {
        assert!(log.contains(e), "log lacks {e}:\n{log}");
    }
}

/// A NOTIFY for example.org, unsigned, and its answer's rcode.
fn unsigned_notify(port: u16) -> Option<u8> {
    let n = oasis_dns::xfr::notify(&apex(), 77, None);
    udp(port, &n, 1000).map(|r| r[3] & 0x0f)
}

#[test]
fn oasis_is_a_secondary_of_nsd_with_tsig_and_takes_its_signed_notify() {
    let Some(bin) = nsd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let s = free_port();
    let primary = Nsd::start(
        &bin,
        Some(&zone_text(1, "192.0.2.25")),
        &format!("  provide-xfr: 127.0.0.1 {KEY}\n  notify: 127.0.0.1@{s} {KEY}\n"),
    );
    let log = dir.path().join("secondary.log");
    let _secondary = Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .args([
                format!("--port={s}"),
                format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"),
                format!("--secondary=example.org@127.0.0.1:{}/{KEY}", primary.port),
            ])
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .unwrap(),
    );
    let what = || format!("oasis:\n{}\nNSD:\n{}", read(&log), primary.log());
    wait_for(
        s,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(30),
        &what,
    );
    assert!(
        read(&log).contains("secondary example.org.: serial 1 from"),
        "{}",
        what()
    );

    // An unsigned NOTIFY for a zone that wants its key: REFUSED.
    assert_eq!(unsigned_notify(s), Some(5), "{}", what());

    // A new serial at NSD: its signed NOTIFY (on reload, SIGHUP) brings it
    // long before the 3600 s refresh timer.
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime
    std::fs::write(primary.zone_file(), zone_text(2, "192.0.2.26")).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &primary.child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    wait_for(
        s,
        "mail.example.org",
        [192, 0, 2, 26],
        Duration::from_secs(30),
        &what,
    );
    assert!(read(&log).contains("serial 2 from"), "{}", what());

    // A secondary with another secret never serves the zone, and its log
    // says why.
    let bad_log = dir.path().join("bad.log");
    let b = free_port();
    let _bad = Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .args([
                format!("--port={b}"),
                format!(
                    "--tsig-key={KEY}:hmac-sha256:d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE="
                ),
                format!("--secondary=example.org@127.0.0.1:{}/{KEY}", primary.port),
            ])
            .stdout(log_file(&bad_log))
            .stderr(log_file(&bad_log))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !read(&bad_log).contains("TSIG: the peer answered") {
        std::thread::sleep(Duration::from_millis(100));
    }
    let bad = read(&bad_log);
    assert!(
        bad.contains("SOA check with") && bad.contains("TSIG: the peer answered BADSIG"),
        "{bad}"
    );
    assert_eq!(a_of(b, "mail.example.org"), None);
}

#[test]
fn nsd_is_a_secondary_of_oasis_with_tsig() {
    let Some(bin) = nsd() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(&file, zone_text(1, "192.0.2.25")).unwrap();
    let log = dir.path().join("dns.log");
    let p = free_port();
    let secondary = Nsd::start(
        &bin,
        None,
        &format!("  request-xfr: AXFR 127.0.0.1@{p} {KEY}\n  allow-notify: 127.0.0.1 {KEY}\n"),
    );
    let _primary = oasis(
        &[
            format!("--zone-file={}", file.display()),
            "--axfr-allow=127.0.0.1".into(),
            format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"),
            format!("--xfr-key={KEY}"),
            format!("--notify=127.0.0.1:{}/{KEY}", secondary.port),
        ],
        p,
        &log,
    );
    let what = || format!("oasis:\n{}\nNSD:\n{}", read(&log), secondary.log());
    wait_for(
        secondary.port,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(30),
        &what,
    );
    wait_for(
        secondary.port,
        "host-1499.example.org",
        [198, 51, 5, 219],
        Duration::from_secs(5),
        &what,
    );
    let r = udp(secondary.port, &query_bytes("example.org", 6), 1000).unwrap();
    assert!(r[2] & 0x04 != 0, "NSD answers authoritatively: {}", what());
    // oasis's NOTIFY at start went signed, and NSD's signed
    // acknowledgement verified.
    let deadline = Instant::now() + Duration::from_secs(10);
    let acked = format!(
        "NOTIFY example.org. sent to 127.0.0.1:{}, acknowledged",
        secondary.port
    );
    while Instant::now() < deadline && !read(&log).contains(&acked) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(read(&log).contains(&acked), "{}", what());
}
