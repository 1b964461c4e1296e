//! apps/dns hosted, as a user runs it: `dns -- --zone-file=FILE --port=PORT`
//! answers on 127.0.0.1 over UDP and TCP; zones also come from a tar archive
//! on the block device `zones`, or from the image; a bad zone file is one
//! line naming the file and line.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, free_port, query_bytes};
use oasis_dns::wire::{Message, RData, flag};

fn start(args: &[&str], port: u16) -> Server {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.push(format!("--port={port}"));
    let server = common::spawn(&all);
    // Wait until it answers (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if udp_query(port, "example.com", 6, Duration::from_millis(100)).is_some() {
            return server;
        }
    }
    panic!("dns did not answer on port {port}");
}

fn udp_query(port: u16, name: &str, qtype: u16, wait: Duration) -> Option<Message> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(&query_bytes(name, qtype), ("127.0.0.1", port))
        .ok()?;
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(Message::parse(&buf[..n]).expect("a response that parses"))
}

fn tcp_query(port: u16, name: &str, qtype: u16) -> Message {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query_bytes(name, qtype);
    // Two queries on one connection: the server answers both, in order.
    for _ in 0..2 {
        s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&q).unwrap();
    }
    let mut last = None;
    for _ in 0..2 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).unwrap();
        last = Some(Message::parse(&msg).unwrap());
    }
    last.unwrap()
}

fn a_records(m: &Message) -> Vec<[u8; 4]> {
    m.answers
        .iter()
        .filter_map(|r| match r.rdata {
            RData::A(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn rcode(m: &Message) -> u16 {
    m.flags & flag::RCODE_MASK
}

const ZONE: &str =
    "$ORIGIN test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.7\nwww CNAME ns\n";

#[test]
fn serves_a_zone_file_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.zone");
    std::fs::write(&file, ZONE).unwrap();
    let port = free_port();
    let arg = format!("--zone-file={}", file.display());
    let _server = start(&["--", &arg], port);
    let m = udp_query(port, "www.test", 1, Duration::from_secs(2)).expect("UDP answer");
    assert_eq!(rcode(&m), 0);
    assert!(m.flags & flag::AA != 0, "authoritative");
    assert_eq!(a_records(&m), [[192, 0, 2, 7]], "CNAME chased in zone");
    let m = tcp_query(port, "ns.test", 1);
    assert_eq!(a_records(&m), [[192, 0, 2, 7]]);
    let m = udp_query(port, "nope.test", 1, Duration::from_secs(2)).unwrap();
    assert_eq!(rcode(&m), 3, "NXDOMAIN");
    let m = udp_query(port, "example.com", 1, Duration::from_secs(2)).unwrap();
    assert_eq!(
        rcode(&m),
        5,
        "REFUSED: the built-in zone is not served when a file is given"
    );
}

#[test]
fn serves_the_built_in_zone_by_default() {
    let port = free_port();
    let _server = start(&["--"], port);
    let m = udp_query(port, "mail.example.com", 1, Duration::from_secs(2)).unwrap();
    assert_eq!(a_records(&m), [[192, 0, 2, 25]]);
}

#[test]
fn serves_the_zones_of_a_tar_on_the_zones_device() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.zone"), ZONE).unwrap();
    std::fs::write(dir.path().join("README"), "not a zone").unwrap();
    let img = dir.path().join("zones.img");
    let st = Command::new("tar")
        .arg("-cf")
        .arg(&img)
        .arg("-C")
        .arg(dir.path())
        .args(["test.zone", "README"])
        .status()
        .unwrap();
    assert!(st.success());
    let port = free_port();
    let attach = format!("--block:zones={}", img.display());
    let _server = start(&[&attach, "--"], port);
    let m = udp_query(port, "ns.test", 1, Duration::from_secs(2)).unwrap();
    assert_eq!(a_records(&m), [[192, 0, 2, 7]]);
}

/// `dns --help` lists every boot argument: the application's own and the
/// server's, declared by oasis-dns-server (`oasis_dns_server::args`).
#[test]
fn help_lists_every_boot_argument() {
    let out = Command::new(env!("CARGO_BIN_EXE_dns"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for key in [
        "zone-file=FILE ...",
        "port=PORT",
        "tcp-idle=SECONDS",
        "tcp-max=N",
        "tcp-per-client=N",
        "axfr-allow=ADDR ...",
        "notify=",
        "secondary=",
        "ixfr-journal=N",
        "tsig-key=",
        "xfr-key=",
        "update-key=",
        "update-allow=",
        "sign-key=ZONE/FILE ...",
        "nsec3=",
        "sig-validity=DAYS",
        "rrl-rate=N",
        "rrl-burst=N",
        "rrl-slip=N",
        "rrl-ipv4-prefix=BITS",
        "rrl-ipv6-prefix=BITS",
        "rrl-buckets=N",
        "dns-stats=SECONDS",
        "metrics-port=PORT",
        "metrics-allow=ADDR ...",
        "nsid=",
        "chaos=on|off",
        "version-string=TEXT",
        "identity=TEXT",
        "cookies=",
        "cookie-secret=HEX32",
        "cookie-secret-previous=HEX32",
    ] {
        assert!(
            help.contains(&format!("  --{key}")),
            "--{key} missing from: {help}"
        );
    }
}

#[test]
fn a_bad_zone_file_is_one_line_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.zone");
    std::fs::write(&file, "$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww A 300.1.2.3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dns"))
        .arg(format!("--zone-file={}", file.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("bad.zone") && err.contains(":3"),
        "names file and line: {err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let missing = Command::new(env!("CARGO_BIN_EXE_dns"))
        .arg("--zone-file=/nonexistent.zone")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("cannot read /nonexistent.zone"), "{err}");
}

/// `GET /metrics` over HTTP/1.1 on `port`: the status line and the body.
fn get_metrics(port: u16) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: dns\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

/// The value of the sample `name` (with its labels) in an exposition.
fn sample(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn metrics_count_queries_by_type_and_rcode_for_a_scrape() {
    let (port, metrics) = (free_port(), free_port());
    let _server = start(
        &[
            "--",
            &format!("--metrics-port={metrics}"),
            "--metrics-allow=127.0.0.1",
        ],
        port,
    );
    let (head, before) = get_metrics(metrics);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    udp_query(port, "www.example.com", 1, Duration::from_secs(2)).unwrap();
    udp_query(port, "nope.example.com", 1, Duration::from_secs(2)).unwrap();
    udp_query(port, "example.org", 15, Duration::from_secs(2)).unwrap();
    let (_, after) = get_metrics(metrics);
    let grew = |name: &str| sample(&after, name) - sample(&before, name);
    assert_eq!(grew("oasis_dns_queries_total"), 3, "{after}");
    assert_eq!(
        grew("oasis_dns_queries_by_type_total{type=\"A\"}"),
        2,
        "{after}"
    );
    assert_eq!(
        grew("oasis_dns_queries_by_type_total{type=\"MX\"}"),
        1,
        "{after}"
    );
    assert_eq!(
        grew("oasis_dns_responses_total{rcode=\"NXDOMAIN\"}"),
        1,
        "{after}"
    );
    assert_eq!(
        grew("oasis_dns_responses_total{rcode=\"REFUSED\"}"),
        1,
        "{after}"
    );
    assert_eq!(
        grew("oasis_dns_responses_total{rcode=\"NOERROR\"}"),
        1,
        "{after}"
    );
    assert!(
        sample(&after, "oasis_dns_zone_serial{zone=\"example.com.\"}") > 0,
        "{after}"
    );

    // Another server lets only 192.0.2.9 read them.
    let (port, metrics) = (free_port(), free_port());
    let _other = start(
        &[
            "--",
            &format!("--metrics-port={metrics}"),
            "--metrics-allow=192.0.2.9",
        ],
        port,
    );
    let (head, body) = get_metrics(metrics);
    assert!(head.starts_with("HTTP/1.1 403"), "{head}\n{body}");
    assert!(!body.contains("oasis_dns_queries_total"), "{body}");
}

/// Sends SIGHUP to `server`.
fn hangup(server: &Server) {
    let ok = Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP");
}

/// The A records for `name`, asked until they are `want` (at most 10 s).
fn wait_for_a(port: u16, name: &str, want: [u8; 4]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if udp_query(port, name, 1, Duration::from_millis(200))
            .is_some_and(|m| a_records(&m) == [want])
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn sighup_reloads_the_zone_files_and_a_broken_one_changes_nothing() {
    let zone = |serial: u32, addr: &str| {
        format!("$ORIGIN test.\n$TTL 60\n@ SOA ns h {serial} 2 3 4 5\n@ NS ns\nns A {addr}\n")
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("test.zone");
    std::fs::write(&file, zone(1, "192.0.2.7")).unwrap();
    let port = free_port();
    let arg = format!("--zone-file={}", file.display());
    let server = start(&["--", &arg, "--axfr-allow=127.0.0.1"], port);
    assert!(wait_for_a(port, "ns.test", [192, 0, 2, 7]));

    // A new serial: served after the SIGHUP, and IXFR from the old one
    // gives the step.
    std::fs::write(&file, zone(2, "192.0.2.8")).unwrap();
    hangup(&server);
    assert!(wait_for_a(port, "ns.test", [192, 0, 2, 8]), "not reloaded");
    let old = oasis_dns::zone::file::load("test.zone", &zone(1, "192.0.2.7")).unwrap();
    let q = oasis_dns::xfr::ixfr_query(&old.apex, old.soa(), 7);
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    let m = Message::parse(&buf[..n]).unwrap();
    let soas = m
        .answers
        .iter()
        .filter(|r| matches!(r.rdata, RData::Soa(_)))
        .count();
    assert_eq!(
        soas, 4,
        "an incremental IXFR (new, old, new, new SOA): {m:?}"
    );

    // A broken file: the zone stays as it was, and keeps answering.
    std::fs::write(&file, "$ORIGIN test.\n@ SOA broken\n").unwrap();
    hangup(&server);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        wait_for_a(port, "ns.test", [192, 0, 2, 8]),
        "a broken reload changed the zone"
    );
    // And the next good one is taken.
    std::fs::write(&file, zone(3, "192.0.2.9")).unwrap();
    hangup(&server);
    assert!(
        wait_for_a(port, "ns.test", [192, 0, 2, 9]),
        "not reloaded after a broken file"
    );
}
