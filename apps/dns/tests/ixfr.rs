//! IXFR (RFC 1995) against real peers, hosted on 127.0.0.1:
//!
//! - NSD as primary, creating IXFR data from its zone file on each reload
//!   (`store-ixfr`, `create-ixfr`), apps/dns its secondary: three changes
//!   in a row, each brought by NSD's NOTIFY and taken by IXFR (the log
//!   says `by IXFR (1 step)`); then apps/dns answers IXFR from its own
//!   journal: from each older serial (1, 2, 3) exactly the steps between
//!   the versions (as `oasis_dns::xfr::diff` computes them from the zone
//!   files), which applied to that version give the current one; from the
//!   current serial the SOA alone; from a serial its journal does not hold,
//!   the whole zone. `dig IXFR=N` sees the same.
//! - apps/dns as primary from a file, a secondary and the secondary's own
//!   secondary, with TSIG required: the secondary asks IXFR, gets the whole
//!   zone from a primary with no journal (`by IXFR (the whole zone)`), and
//!   its secondary catches up by IXFR from the first secondary's journal;
//!   every message of a signed IXFR is signed, an unsigned IXFR is REFUSED
//!   (over TCP and UDP), and `dig -y` takes the IXFR.
//!
//! Over UDP, an IXFR is answered whole when it fits the client's size and
//! with the current SOA alone when it does not (the first test).
//!
//! Prints "skipped: WHY" when dig or nsd is missing, unless CI=true.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::xfr::*;
use common::{Server, free_port};
use oasis_dns::engine::Zone;
use oasis_dns::tsig::{ResponseVerifier, Signer};
use oasis_dns::wire::{Message, Name, RData, Record};
use oasis_dns::xfr::{IxfrCollector, IxfrResult, diff, ixfr_query, zone_records};

/// Version `v` (1 to 4) of the zone: each changes an address, adds and
/// deletes names, and changes a TTL, with some hosts to make it bigger
/// than one UDP message.
fn zone_text(v: u32) -> String {
    let mut z = format!(
        "$ORIGIN example.org.\n$TTL 60\n@ SOA ns h {v} 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nmail A 192.0.2.{}\n",
        24 + v
    );
    if v >= 2 {
        z.push_str("www TXT \"since v2\"\n");
    }
    if v != 3 {
        z.push_str("old A 192.0.2.99\n");
    }
    z.push_str(&format!(
        "ttl {} A 192.0.2.7\n",
        if v >= 3 { 300 } else { 60 }
    ));
    for i in 0..40 {
        z.push_str(&format!("host-{i} A 198.51.100.{i}\n"));
    }
    z
}

fn zone(v: u32) -> Zone {
    let records = oasis_dns::zone::parse_str(&zone_text(v), "x.zone", &Name::root()).unwrap();
    Zone::new(&apex(), records).unwrap()
}

/// A zone's records as sorted text, TTL included.
fn canonical(z: &Zone) -> Vec<String> {
    let mut v: Vec<String> = zone_records(z)
        .iter()
        .skip(1)
        .map(|r| format!("{} {} {} {:?}", r.name, r.rtype, r.ttl, r.rdata.to_wire()))
        .collect();
    v.sort();
    v
}

/// apps/dns with `args`, its log in `log`.
fn oasis(args: &[String], log: &Path) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .args(args)
            .stdout(log_file(log))
            .stderr(log_file(log))
            .spawn()
            .unwrap(),
    )
}

fn wait_log(log: &Path, line: &str, within: Duration, what: &dyn Fn() -> String) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && !read(log).contains(line) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        read(log).contains(line),
        "no {line:?} in the log:\n{}",
        what()
    );
}

/// The messages answering `q` over TCP, until one with an error rcode, the
/// closing SOA of a transfer, or a lone SOA at or before `have`.
fn tcp_transfer(port: u16, q: &[u8], have: u32) -> Vec<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(q).unwrap();
    let mut c = IxfrCollector::new(&apex(), u16::from_be_bytes([q[0], q[1]]), have);
    let mut out = Vec::new();
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).unwrap();
        let done = c.push(&msg);
        out.push(msg);
        if done != Ok(false) {
            return out;
        }
    }
}

fn answers(msgs: &[Vec<u8>]) -> Vec<Record> {
    msgs.iter()
        .flat_map(|m| Message::parse(m).unwrap().answers)
        .collect()
}

/// What `dig` prints for an IXFR from `serial`.
fn dig_ixfr(dig: &Path, port: u16, serial: u32, extra: &[&str]) -> String {
    let out = Command::new(dig)
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+tries=1"])
        .args(extra)
        .args(["example.org", &format!("IXFR={serial}")])
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

impl Nsd {
    /// Writes version `v` of the zone and reloads (SIGHUP).
    fn change(&self, v: u32) {
        std::thread::sleep(Duration::from_millis(1100)); // a new mtime
        std::fs::write(self.dir.path().join("example.org.zone"), zone_text(v)).unwrap();
        let hup = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(hup.success());
    }
}

#[test]
fn oasis_catches_up_from_nsd_by_ixfr_and_serves_ixfr_from_its_journal() {
    let (Some(bin), Some(dig)) = (nsd(), dig()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let s = free_port();
    let primary = Nsd::start(
        &bin,
        Some(&zone_text(1)),
        &format!(
            "  provide-xfr: 127.0.0.1 NOKEY\n  notify: 127.0.0.1@{s} NOKEY\n  \
store-ixfr: yes\n  create-ixfr: yes\n  ixfr-number: 10\n"
        ),
    );
    let log = dir.path().join("secondary.log");
    let _secondary = oasis(
        &[
            format!("--port={s}"),
            format!("--secondary=example.org@127.0.0.1:{}", primary.port),
            "--axfr-allow=127.0.0.1".into(),
        ],
        &log,
    );
    let what = || format!("oasis:\n{}\nNSD:\n{}", read(&log), primary.log());
    wait_for(
        s,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(30),
        &what,
    );
    // Three changes, each NOTIFYed by NSD on reload and taken by IXFR.
    for v in 2..=4 {
        primary.change(v);
        wait_for(
            s,
            "mail.example.org",
            [192, 0, 2, 24 + v as u8],
            Duration::from_secs(30),
            &what,
        );
        let line = format!(
            "serial {v} from 127.0.0.1:{} by IXFR (1 step)",
            primary.port
        );
        wait_log(&log, &line, Duration::from_secs(5), &what);
    }
    assert_eq!(a_of(s, "old.example.org"), Some([192, 0, 2, 99]));

    // IXFR out of oasis's journal, from each older serial.
    let vs: Vec<Zone> = (1..=4).map(zone).collect();
    for from in 1..=3u32 {
        let held = &vs[from as usize - 1];
        let q = ixfr_query(&apex(), held.soa(), 0x100 + from as u16);
        let msgs = tcp_transfer(s, &q, from);
        let mut expected = vec![vs[3].soa().clone()];
        for w in vs[from as usize - 1..].windows(2) {
            expected.extend(diff(&w[0], &w[1]).records().cloned());
        }
        expected.push(vs[3].soa().clone());
        assert_eq!(answers(&msgs), expected, "IXFR from serial {from}");
        let mut c = IxfrCollector::new(&apex(), 0x100 + from as u16, from);
        for m in &msgs {
            c.push(m).unwrap();
        }
        match c.finish(held).unwrap() {
            IxfrResult::Incremental(z, n) => {
                assert_eq!(n, 4 - from as usize);
                assert_eq!(canonical(&z), canonical(&vs[3]), "from serial {from}");
            }
            other => panic!("from serial {from}: {other:?}"),
        }
        let out = dig_ixfr(&dig, s, from, &[]);
        assert!(
            out.contains(&format!("XFR size: {} records", expected.len())),
            "dig IXFR={from}:\n{out}"
        );
    }
    // Up to date: the SOA alone.
    let msgs = tcp_transfer(s, &ixfr_query(&apex(), vs[3].soa(), 7), 4);
    assert_eq!(answers(&msgs), vec![vs[3].soa().clone()]);
    // A serial the journal never held: the whole zone, AXFR-style.
    let mut old = vs[0].soa().clone();
    if let RData::Soa(soa) = &mut old.rdata {
        soa.serial = 0;
    }
    let msgs = tcp_transfer(s, &ixfr_query(&apex(), &old, 8), 0);
    assert_eq!(answers(&msgs), zone_records(&vs[3]));
    let out = dig_ixfr(&dig, s, 0, &[]);
    let whole = zone_records(&vs[3]).len();
    assert!(
        out.contains(&format!("XFR size: {whole} records")),
        "dig IXFR=0:\n{out}"
    );
    // Over UDP: what fits the client's size is sent whole; the whole zone
    // does not fit 512 bytes (no EDNS): the current SOA alone.
    let r = udp(s, &ixfr_query(&apex(), &old, 9), 1000).unwrap();
    assert_eq!(
        Message::parse(&r).unwrap().answers,
        vec![vs[3].soa().clone()]
    );
    let mut q = ixfr_query(&apex(), vs[0].soa(), 10);
    q[11] = 1; // an OPT record: 4096 bytes
    q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    let r = udp(s, &q, 1000).unwrap();
    let tcp = answers(&tcp_transfer(s, &ixfr_query(&apex(), vs[0].soa(), 11), 1));
    assert_eq!(Message::parse(&r).unwrap().answers, tcp);
    let log_text = read(&log);
    for line in [
        "IXFR: 3 steps to",
        "IXFR: 1 step to",
        "IXFR: up to date, the SOA alone",
        "IXFR: not in the journal, the whole zone",
    ] {
        assert!(log_text.contains(line), "no {line:?}:\n{log_text}");
    }
}

#[test]
fn a_secondary_of_a_secondary_catches_up_by_ixfr_with_tsig() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(&file, zone_text(1)).unwrap();
    let (p, s, t) = (free_port(), free_port(), free_port());
    let tsig = format!("--tsig-key={KEY}:hmac-sha256:{SECRET}");
    let primary_args = vec![
        format!("--zone-file={}", file.display()),
        format!("--port={p}"),
        "--axfr-allow=127.0.0.1".into(),
        format!("--notify=127.0.0.1:{s}"),
    ];
    let (plog, slog, tlog) = (
        dir.path().join("p.log"),
        dir.path().join("s.log"),
        dir.path().join("t.log"),
    );
    let primary = oasis(&primary_args, &plog);
    let _secondary = oasis(
        &[
            format!("--port={s}"),
            format!("--secondary=example.org@127.0.0.1:{p}"),
            "--axfr-allow=127.0.0.1".into(),
            tsig.clone(),
            format!("--xfr-key={KEY}"),
            format!("--notify=127.0.0.1:{t}/{KEY}"),
        ],
        &slog,
    );
    let _tertiary = oasis(
        &[
            format!("--port={t}"),
            tsig,
            format!("--secondary=example.org@127.0.0.1:{s}/{KEY}"),
        ],
        &tlog,
    );
    let what = || {
        format!(
            "primary:\n{}\nsecondary:\n{}\ntertiary:\n{}",
            read(&plog),
            read(&slog),
            read(&tlog)
        )
    };
    wait_for(
        t,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(20),
        &what,
    );
    // A new version at the primary (restarted from the changed file): the
    // primary has no journal and sends the whole zone as its IXFR answer;
    // the secondary's journal has the step, which its secondary takes.
    drop(primary);
    std::fs::write(&file, zone_text(2)).unwrap();
    let _primary = oasis(&primary_args, &plog);
    wait_for(
        t,
        "mail.example.org",
        [192, 0, 2, 26],
        Duration::from_secs(20),
        &what,
    );
    let line = format!("serial 2 from 127.0.0.1:{p} by IXFR (the whole zone)");
    wait_log(&slog, &line, Duration::from_secs(5), &what);
    let line = format!("serial 2 from 127.0.0.1:{s} by IXFR (1 step)");
    wait_log(&tlog, &line, Duration::from_secs(5), &what);

    // Signed: every message verifies; unsigned: REFUSED, over TCP and UDP.
    let v1 = zone(1);
    let mut q = ixfr_query(&apex(), v1.soa(), 0x77);
    let mac = Signer::new(&key(), None).sign(&mut q, now());
    let msgs = tcp_transfer(s, &q, 1);
    let mut v = ResponseVerifier::new(&key(), &mac);
    for m in &msgs {
        v.verify(m, now()).unwrap();
    }
    v.finish().unwrap();
    let mut c = IxfrCollector::new(&apex(), 0x77, 1);
    for m in &msgs {
        c.push(m).unwrap();
    }
    match c.finish(&v1).unwrap() {
        IxfrResult::Incremental(z, 1) => assert_eq!(canonical(&z), canonical(&zone(2))),
        other => panic!("{other:?}"),
    }
    let unsigned = ixfr_query(&apex(), v1.soa(), 0x78);
    let msgs = tcp_transfer(s, &unsigned, 1);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0][3] & 0x0f, 5, "REFUSED over TCP");
    let r = udp(s, &unsigned, 1000).expect("an answer over UDP");
    assert_eq!(r[3] & 0x0f, 5, "REFUSED over UDP");

    // Over UDP, signed: the changes fit 4096 bytes; not 512 (no EDNS).
    let mut q = ixfr_query(&apex(), v1.soa(), 0x79);
    Signer::new(&key(), None).sign(&mut q, now());
    let r = udp(s, &q, 1000).expect("an answer over UDP");
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.flags & 0x0f, 0);
    let n = m.answers.len();
    assert!(
        n == 1 || n == 2 + diff(&v1, &zone(2)).records().count(),
        "{m:?}"
    );
    if let Some(dig) = dig() {
        let k = format!("hmac-sha256:{KEY}:{SECRET}");
        let out = dig_ixfr(&dig, s, 1, &["-y", &k]);
        let steps = 2 + diff(&v1, &zone(2)).records().count();
        assert!(out.contains(&format!("XFR size: {steps} records")), "{out}");
        assert!(!out.contains("tsig verify failure") && !out.contains("Couldn't verify"));
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
