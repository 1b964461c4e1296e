//! Primary and secondaries, hosted on 127.0.0.1: the secondary loads the
//! zone by AXFR, a NOTIFY after a change brings the new serial, the
//! secondary's own secondary follows through the NOTIFY the secondary sends
//! on each new copy, and AXFR is refused to addresses not allowed to
//! transfer.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oasis_dns::wire::{Message, RData, flag};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn dns(args: &[String]) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .arg("--")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    q
}

/// The A record of `name` at `port`, if the server answers with one.
fn a_of(port: u16, name: &str) -> Option<[u8; 4]> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s.send_to(&query(name, 1), ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 1500];
    let n = s.recv(&mut buf).ok()?;
    let m = Message::parse(&buf[..n]).ok()?;
    m.answers.iter().find_map(|r| match r.rdata {
        RData::A(a) => Some(a),
        _ => None,
    })
}

fn wait_for(port: u16, name: &str, want: [u8; 4], within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if a_of(port, name) == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{name} at port {port} never became {want:?} (last: {:?})",
        a_of(port, name)
    );
}

/// The rcode of an AXFR query over TCP, and how many records came back.
fn axfr(port: u16, zone: &str) -> (u16, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query(zone, 252);
    s.write_all(&(q.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&q).unwrap();
    let mut records = 0;
    let mut soas = 0;
    loop {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut msg).unwrap();
        let m = Message::parse(&msg).unwrap();
        let rcode = m.flags & flag::RCODE_MASK;
        if rcode != 0 {
            return (rcode, records);
        }
        for r in &m.answers {
            records += 1;
            if matches!(r.rdata, RData::Soa(_)) {
                soas += 1;
            }
        }
        if soas >= 2 {
            return (0, records);
        }
    }
}

const ZONE: &str = "$ORIGIN example.org.\n$TTL 60\n@ SOA ns h SERIAL 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nmail A ADDR\n";

#[test]
fn a_secondary_follows_its_primary_through_axfr_and_notify() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    let write = |serial: &str, addr: &str| {
        std::fs::write(&file, ZONE.replace("SERIAL", serial).replace("ADDR", addr)).unwrap()
    };
    write("1", "192.0.2.25");
    let (p, s, t) = (free_port(), free_port(), free_port());
    let primary_args = vec![
        format!("--zone-file={}", file.display()),
        format!("--port={p}"),
        "--axfr-allow=127.0.0.1".to_string(),
        format!("--notify=127.0.0.1:{s}"),
    ];
    let primary = dns(&primary_args);
    let _secondary = dns(&[
        format!("--port={s}"),
        format!("--secondary=example.org@127.0.0.1:{p}"),
        "--axfr-allow=127.0.0.1".to_string(),
        format!("--notify=127.0.0.1:{t}"),
    ]);
    // A secondary of the secondary: its first transfer may come before the
    // secondary has the zone; the secondary's NOTIFY on loading it, not the
    // 600 s retry timer, must bring it.
    let _tertiary = dns(&[
        format!("--port={t}"),
        format!("--secondary=example.org@127.0.0.1:{s}"),
    ]);
    wait_for(
        s,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(20),
    );
    wait_for(
        t,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(20),
    );

    // A full transfer from the primary, to an allowed address.
    let (rcode, records) = axfr(p, "example.org");
    assert_eq!(rcode, 0);
    assert_eq!(records, 5, "SOA, NS, ns A, mail A, SOA");

    // Change the zone; the restarted primary notifies, the secondary follows
    // long before its 3600 s refresh timer.
    drop(primary);
    write("2", "192.0.2.26");
    let _primary = dns(&primary_args);
    wait_for(
        s,
        "mail.example.org",
        [192, 0, 2, 26],
        Duration::from_secs(20),
    );
    // The secondary's NOTIFY of its new copy moves the tertiary too.
    wait_for(
        t,
        "mail.example.org",
        [192, 0, 2, 26],
        Duration::from_secs(20),
    );
}

#[test]
fn axfr_is_refused_to_addresses_not_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.org.zone");
    std::fs::write(
        &file,
        ZONE.replace("SERIAL", "1").replace("ADDR", "192.0.2.25"),
    )
    .unwrap();
    let p = free_port();
    let _primary = dns(&[
        format!("--zone-file={}", file.display()),
        format!("--port={p}"),
        "--axfr-allow=192.0.2.200".to_string(),
    ]);
    wait_for(
        p,
        "mail.example.org",
        [192, 0, 2, 25],
        Duration::from_secs(10),
    );
    assert_eq!(axfr(p, "example.org"), (5, 0), "REFUSED");
}
