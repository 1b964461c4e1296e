//! Dynamic UPDATE (RFC 2136) against real clients, hosted on 127.0.0.1,
//! with the update log on a file-backed block device `storage`:
//!
//! - `nsupdate -y` (bind9-dnsutils) with the zone's TSIG key adds records
//!   under a prerequisite, replaces an RRset under a value-dependent
//!   prerequisite, deletes a record; each prerequisite that fails gets its
//!   rcode (YXDOMAIN, NXDOMAIN, NXRRSET, YXRRSET), a name outside the zone
//!   NOTZONE; a wrong secret NOTAUTH, another key and no key REFUSED; every
//!   answer to a signed request verifies (nsupdate checks it), over UDP
//!   and over TCP (`nsupdate -v`).
//! - `knsupdate -y` (knot-dnsutils) adds a record the same way.
//! - `dig` sees each change; IXFR from each older serial, applied to that
//!   version (AXFR then), gives the zone now served, and `dig` shows the
//!   steps from serial 1;
//!   the `--notify` target gets a NOTIFY with the new serial.
//!
//! Prints "skipped: WHY" when a tool is missing, unless CI=true.

mod common;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::xfr::{SECRET, apex, dig, log_file, read, tool, udp};
use common::{Server, free_port, query_bytes};
use oasis_dns::engine::Zone;
use oasis_dns::wire::{Message, RData, Type};
use oasis_dns::xfr::{AxfrCollector, IxfrCollector, IxfrResult, zone_records};

const KEY: &str = "update-key";
const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.10
";

fn nsupdate() -> Option<PathBuf> {
    tool("nsupdate", &["/usr/bin/nsupdate"], "bind9-dnsutils")
}

fn knsupdate() -> Option<PathBuf> {
    tool("knsupdate", &["/usr/bin/knsupdate"], "knot-dnsutils")
}

/// Runs an update client with `key` (`ALGORITHM:NAME:SECRET`, as both
/// take it with -y) on `script`; its success and everything it printed.
fn run(client: &Path, key: Option<&str>, script: &str) -> (bool, String) {
    run_with(client, &[], key, script)
}

/// [`run`] with more options (`-v`: over TCP).
fn run_with(client: &Path, options: &[&str], key: Option<&str>, script: &str) -> (bool, String) {
    let mut c = Command::new(client);
    c.args(options);
    if let Some(k) = key {
        c.args(["-y", k]);
    }
    if client.ends_with("nsupdate") && !client.ends_with("knsupdate") {
        c.args(["-t", "10"]);
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A NOTIFY target: acknowledges every NOTIFY and keeps the serials they
/// carried, until dropped.
struct NotifyTarget {
    port: u16,
    serials: Arc<Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl NotifyTarget {
    fn start() -> NotifyTarget {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let serials = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (serials.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !st.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let mut ack = [0u8; 512];
                if let Some(len) = oasis_dns::xfr::notify_ack(&buf[..n], &mut ack) {
                    let _ = socket.send_to(&ack[..len], from);
                    if let Ok(m) = Message::parse(&buf[..n]) {
                        for r in m.answers {
                            if let RData::Soa(soa) = r.rdata {
                                s.lock().unwrap().push(soa.serial);
                            }
                        }
                    }
                }
            }
        });
        NotifyTarget {
            port,
            serials,
            stop,
            thread: Some(thread),
        }
    }

    fn serials(&self) -> Vec<u32> {
        self.serials.lock().unwrap().clone()
    }
}

impl Drop for NotifyTarget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The zone's SOA serial as served.
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

/// What `name` holds of type `qtype` as served, as `dig +short` prints it.
fn dig_short(dig: &Path, port: u16, name: &str, qtype: &str) -> String {
    let out = Command::new(dig)
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+tries=1"])
        .args(["+short", name, qtype])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The messages answering the transfer request `q` over TCP, each handed
/// to `take` until it says the transfer is complete.
fn tcp_transfer(port: u16, q: &[u8], mut take: impl FnMut(&[u8]) -> bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(q).unwrap();
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).unwrap();
        if take(&msg) {
            return;
        }
    }
}

/// The zone as served, by AXFR.
fn axfr_zone(port: u16) -> Zone {
    let mut axfr = AxfrCollector::new(&apex(), 0x2f2f);
    tcp_transfer(
        port,
        &oasis_dns::xfr::query(&apex(), Type::AXFR, 0x2f2f),
        |m| axfr.push(m).unwrap(),
    );
    Zone::new(&apex(), axfr.finish().unwrap()).unwrap()
}

/// A zone's records as sorted text, TTL included.
fn canonical(z: &Zone) -> Vec<String> {
    let mut v: Vec<String> = zone_records(z)
        .iter()
        .skip(1)
        .map(|r| {
            format!(
                "{} {} {} {:?}",
                r.name.to_lowercase(),
                r.rtype,
                r.ttl,
                r.rdata.to_wire()
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn nsupdate_and_knsupdate_change_the_zone_and_dig_ixfr_and_notify_see_it() {
    let (Some(nsupdate), Some(dig)) = (nsupdate(), dig()) else {
        return;
    };
    let knsupdate = knsupdate();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(&file, ZONE).unwrap();
    let disk = dir.path().join("storage.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let log = dir.path().join("dns.log");
    let target = NotifyTarget::start();
    let port = free_port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .arg(format!("--block:storage={}", disk.display()))
            .arg("--")
            .arg(format!("--zone-file={}", file.display()))
            .arg(format!("--port={port}"))
            .arg(format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"))
            .arg(format!("--tsig-key=other-key:hmac-sha256:{SECRET}"))
            .arg(format!("--update-key=example.org/{KEY}"))
            .arg("--axfr-allow=127.0.0.1")
            .arg(format!("--notify=127.0.0.1:{}", target.port))
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while serial(port).is_none() {
        assert!(Instant::now() < deadline, "no answer:\n{}", read(&log));
    }
    let what = || read(&log);
    // Every version served, by serial, for IXFR from each.
    let versions = std::cell::RefCell::new(std::collections::BTreeMap::new());
    let snapshot = || {
        let z = axfr_zone(port);
        versions
            .borrow_mut()
            .insert(oasis_dns::xfr::serial_of(z.soa()), z);
    };
    snapshot();
    let key = format!("hmac-sha256:{KEY}:{SECRET}");
    let script = |body: &str| format!("server 127.0.0.1 {port}\nzone example.org\n{body}\nsend\n");
    let ok = |body: &str| {
        let (ok, out) = run(&nsupdate, Some(&key), &script(body));
        assert!(ok, "nsupdate failed on {body:?}: {out}\n{}", what());
        assert!(!out.contains("TSIG"), "{out}");
    };
    let fails = |body: &str, key: Option<&str>, rcode: &str| {
        let (ok, out) = run(&nsupdate, key, &script(body));
        assert!(
            !ok && out.contains(rcode),
            "{body:?} should fail with {rcode}: {out}\n{}",
            what()
        );
    };

    // Adds, if the name is free: the second time it is not (YXDOMAIN).
    let add = "prereq nxdomain new.example.org\n\
               update add new.example.org 60 A 192.0.2.50\n\
               update add new.example.org 60 TXT \"hello\"";
    ok(add);
    snapshot();
    assert_eq!(dig_short(&dig, port, "new.example.org", "A"), "192.0.2.50");
    assert_eq!(serial(port), Some(2));
    fails(add, Some(&key), "YXDOMAIN");
    // Each prerequisite that does not hold, with its rcode; nothing changes.
    fails(
        "prereq yxdomain nowhere.example.org\nupdate delete www.example.org",
        Some(&key),
        "NXDOMAIN",
    );
    fails(
        "prereq yxrrset www.example.org A 192.0.2.99\nupdate delete www.example.org",
        Some(&key),
        "NXRRSET",
    );
    fails(
        "prereq yxrrset www.example.org AAAA\nupdate delete www.example.org",
        Some(&key),
        "NXRRSET",
    );
    fails(
        "prereq nxrrset www.example.org A\nupdate delete www.example.org",
        Some(&key),
        "YXRRSET",
    );
    fails(
        "update add www.example.com 60 A 192.0.2.1",
        Some(&key),
        "NOTZONE",
    );
    assert_eq!(serial(port), Some(2));
    // The RFC's replacement: only if the RRset is what the client thinks.
    ok("prereq yxrrset www.example.org A 192.0.2.10\n\
        update delete www.example.org A\n\
        update add www.example.org 300 A 192.0.2.11");
    snapshot();
    assert_eq!(dig_short(&dig, port, "www.example.org", "A"), "192.0.2.11");
    // One record deleted from an RRset.
    ok("update delete new.example.org TXT \"hello\"");
    snapshot();
    assert_eq!(dig_short(&dig, port, "new.example.org", "TXT"), "");
    assert_eq!(dig_short(&dig, port, "new.example.org", "A"), "192.0.2.50");
    assert_eq!(serial(port), Some(4));
    // Over TCP (nsupdate -v), signed and verified the same way.
    let (tcp_ok, out) = run_with(
        &nsupdate,
        &["-v"],
        Some(&key),
        &script("update add tcp.example.org 60 A 192.0.2.90"),
    );
    assert!(
        tcp_ok && !out.contains("TSIG"),
        "nsupdate -v: {out}\n{}",
        what()
    );
    assert_eq!(dig_short(&dig, port, "tcp.example.org", "A"), "192.0.2.90");
    snapshot();
    assert!(
        read(&log).contains(
            "UPDATE of example.org. from 127.0.0.1 (TSIG key update-key.): serial 4 -> 5"
        ),
        "{}",
        what()
    );

    // A wrong secret: NOTAUTH (BADSIG); another key, or none: REFUSED.
    let add2 = "update add evil.example.org 60 A 192.0.2.66";
    let wrong = format!("hmac-sha256:{KEY}:d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=");
    fails(add2, Some(&wrong), "NOTAUTH");
    fails(
        add2,
        Some(&format!("hmac-sha256:other-key:{SECRET}")),
        "REFUSED",
    );
    fails(add2, None, "REFUSED");
    assert_eq!(dig_short(&dig, port, "evil.example.org", "A"), "");

    // Knot's client.
    if let Some(k) = &knsupdate {
        let (ok, out) = run(
            k,
            Some(&key),
            &script(
                "prereq nxdomain knot.example.org\nupdate add knot.example.org 60 A 192.0.2.70",
            ),
        );
        assert!(ok, "knsupdate: {out}\n{}", what());
        assert_eq!(dig_short(&dig, port, "knot.example.org", "A"), "192.0.2.70");
        snapshot();
        let (ok, out) = run(
            k,
            Some(&key),
            &script(
                "prereq nxdomain knot.example.org\nupdate add knot.example.org 60 A 192.0.2.71",
            ),
        );
        assert!(!ok && out.contains("YXDOMAIN"), "knsupdate: {out}");
    }
    let now = serial(port).unwrap();
    assert_eq!(now, if knsupdate.is_some() { 6 } else { 5 });

    // IXFR from each older serial: its steps, applied to that version,
    // give the zone served now, record for record.
    let versions = versions.into_inner();
    assert_eq!(
        versions.keys().copied().collect::<Vec<_>>(),
        (1..=now).collect::<Vec<_>>()
    );
    let served = &versions[&now];
    for (&from, old) in versions.range(..now) {
        let mut ixfr = IxfrCollector::new(&apex(), 0x1f1f, from);
        tcp_transfer(
            port,
            &oasis_dns::xfr::ixfr_query(&apex(), old.soa(), 0x1f1f),
            |m| ixfr.push(m).unwrap(),
        );
        let IxfrResult::Incremental(z, steps) = ixfr.finish(old).unwrap() else {
            panic!("IXFR from {from} not incremental:\n{}", what());
        };
        assert_eq!(steps as u32, now - from, "one step per update");
        assert_eq!(canonical(&z), canonical(served), "IXFR from {from}");
    }
    let out = Command::new(&dig)
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=5", "+tries=1"])
        .args(["example.org", "IXFR=1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let soas = text.lines().filter(|l| l.contains("\tSOA\t")).count();
    assert_eq!(soas, 2 + 2 * (now as usize - 1), "{text}");
    assert!(
        text.contains("192.0.2.11") && text.contains("192.0.2.10"),
        "{text}"
    );

    // The NOTIFY target heard of the last serial.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !target.serials().contains(&now) {
        assert!(
            Instant::now() < deadline,
            "no NOTIFY for serial {now}: {:?}\n{}",
            target.serials(),
            what()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
