//! What the guestbook's end-to-end tests share: the hosted server on a
//! disk, and the crash harness — posts on several kept-alive connections
//! at once, each acknowledged one recorded, and the check after a restart
//! that every one of them is stored (hosted in crash.rs, kvm in
//! crash_kvm.rs).
#![allow(dead_code)] // each test file uses its own part

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oasis_testkit::client::free_port;
use oasis_testkit::http::{Connection, Reply};
use oasis_testkit::process::Logged;

/// Bytes of a test disk (sparse).
pub const DISK_BYTES: u64 = 32 << 20;

/// A blank disk at `path`.
pub fn blank_disk(path: &Path) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(DISK_BYTES))
        .expect("make the disk image");
}

/// The hosted guestbook on `disk`, serving HTTP on a free loopback port
/// (and HTTPS on another with `tls`): the process, the HTTP port, the
/// HTTPS port (0 without). A port taken meanwhile by another process is
/// tried again with another.
pub fn start_hosted(disk: &Path, tls: bool) -> (Logged, u16, u16) {
    start_hosted_with(disk, tls, &[])
}

/// [`start_hosted`] with more boot arguments.
pub fn start_hosted_with(disk: &Path, tls: bool, more: &[&str]) -> (Logged, u16, u16) {
    for _ in 0..5 {
        let port = free_port();
        let tls_port = if tls { free_port() } else { 0 };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_guestbook"));
        cmd.arg(format!("--block:storage={}", disk.display()))
            .arg("--")
            .args([
                "--ipv4=127.0.0.1/8".to_string(),
                format!("--port={port}"),
                format!("--tls-port={tls_port}"),
            ])
            .args(more);
        let mut server = Logged::start(cmd, "guestbook");
        let limit = Instant::now() + Duration::from_secs(30);
        let want = if tls { "serving HTTPS" } else { "no HTTPS" };
        loop {
            let out = server.output();
            if out.contains(want) {
                return (server, port, tls_port);
            }
            if !server.alive() {
                assert!(
                    out.contains("in use"),
                    "the guestbook did not start:\n{out}"
                );
                break;
            }
            assert!(
                Instant::now() < limit,
                "the guestbook did not start:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("no free port in five tries");
}

/// Connects to 127.0.0.1:`port` (5 s timeouts).
pub fn connect(port: u16) -> Connection {
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    Connection::connect(to, Duration::from_secs(5)).expect("connect to the guestbook")
}

/// Waits (`limit` at most) until 127.0.0.1:`port` answers `GET
/// /api/entries` with 200.
pub fn wait_answering(port: u16, limit: Duration) {
    let start = Instant::now();
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    loop {
        if let Ok(mut c) = Connection::connect(to, Duration::from_millis(500))
            && c.request("GET", "/api/entries?limit=1", &[], b"")
                .is_ok_and(|r| r.status == 200)
        {
            return;
        }
        assert!(start.elapsed() < limit, "nothing answers on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// POST /api/entries with `name` and `message`.
pub fn post_json(c: &mut Connection, name: &str, message: &str) -> std::io::Result<Reply> {
    let body = format!(
        "{{\"name\":{},\"message\":{}}}",
        json_string(name),
        json_string(message)
    );
    c.request(
        "POST",
        "/api/entries",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// `s` as a JSON string.
pub fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An acknowledged post: writer `conn`'s post number `seq`, stored as `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acked {
    /// Which connection.
    pub conn: usize,
    /// Its post number on that connection.
    pub seq: u32,
    /// The id the 201 gave.
    pub id: u64,
}

/// The name and message of post `seq` on connection `conn`.
pub fn content(conn: usize, seq: u32) -> (String, String) {
    (
        format!("writer {conn}"),
        format!("post {seq} from writer {conn}"),
    )
}

/// Posts on `conns` connections at once until `stop` (or the server goes
/// away), each post's 201 recorded in `acked`. Returns the threads.
pub fn writers(
    port: u16,
    conns: usize,
    stop: &Arc<AtomicBool>,
    acked: &Arc<Mutex<Vec<Acked>>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..conns)
        .map(|conn| {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let Ok(mut c) =
                    Connection::connect(([127, 0, 0, 1], port).into(), Duration::from_secs(5))
                else {
                    return;
                };
                for seq in 0u32.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let (name, message) = content(conn, seq);
                    match post_json(&mut c, &name, &message) {
                        Ok(r) if r.status == 201 => {
                            let id = r
                                .header("location")
                                .and_then(|l| l.strip_prefix("/api/entries/"))
                                .and_then(|n| n.parse().ok())
                                .expect("a 201 names its entry");
                            acked.lock().unwrap().push(Acked { conn, seq, id });
                        }
                        Ok(r) => panic!("post answered {}: {}", r.status, r.text()),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

/// What a restarted guestbook on 127.0.0.1:`port` holds, checked against
/// the posts acknowledged before the crash: every acknowledged entry is
/// stored under its id with its content, and the ids are 1..=N with no
/// gap (N ≥ the acknowledged; the extra ones were in flight, stored but
/// not answered). Returns N.
pub fn check_after_restart(port: u16, acked: &[Acked], what: &str) -> u64 {
    let mut c = connect(port);
    let top = c.request("GET", "/api/entries?limit=1", &[], b"").unwrap();
    assert_eq!(top.status, 200, "{what}: {}", top.text());
    let n = top
        .text()
        .split("\"id\":")
        .nth(1)
        .map_or(0, |s| s.split(',').next().unwrap().parse::<u64>().unwrap());
    assert!(
        n >= acked.len() as u64,
        "{what}: {} acknowledged, {n} stored",
        acked.len()
    );
    for a in acked {
        let r = c
            .request("GET", &format!("/api/entries/{}", a.id), &[], b"")
            .unwrap();
        let (name, message) = content(a.conn, a.seq);
        assert_eq!(r.status, 200, "{what}: acknowledged entry {} lost", a.id);
        let text = r.text();
        assert!(
            text.contains(&format!("\"name\":{}", json_string(&name)))
                && text.contains(&format!("\"message\":{}", json_string(&message))),
            "{what}: entry {} holds {text}, not {name:?} {message:?}",
            a.id
        );
    }
    for id in 1..=n {
        let r = c
            .request("GET", &format!("/api/entries/{id}"), &[], b"")
            .unwrap();
        assert_eq!(r.status, 200, "{what}: id {id} of 1..={n} missing");
    }
    n
}

/// The totals of a series of crash trials, for the summary line.
#[derive(Default)]
pub struct Tally {
    /// Posts acknowledged in all trials.
    pub acked: usize,
    /// The most in one trial.
    pub most: usize,
    /// Trials killed before any acknowledgement.
    pub none: u32,
    /// Entries stored without an acknowledgement (in flight at the kill).
    pub in_flight: u64,
}

impl Tally {
    /// Adds a trial: `acked` acknowledged, `stored` found after.
    pub fn add(&mut self, acked: usize, stored: u64) {
        self.acked += acked;
        self.most = self.most.max(acked);
        self.none += u32::from(acked == 0);
        self.in_flight += stored - acked as u64;
    }
}
