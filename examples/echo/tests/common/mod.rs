//! What the echo tests share: a network namespace that is always removed,
//! a server process that is always killed (by pid), and the clients.
#![allow(dead_code)] // each test file uses a different part

pub mod frames;
pub mod scenarios;

use std::io::{Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

#[allow(unused_imports)] // not every test file uses each
pub use oasis_testkit::client::{connect_retrying, free_port, pattern};
#[allow(unused_imports)] // not every test file needs root
pub use oasis_testkit::netns::{Netns, is_root, may_run};
/// A started server whose output goes to a file; killed (by pid) when dropped.
pub use oasis_testkit::process::Logged as Server;
pub use oasis_testkit::process::run;

/// The echo binary under test.
pub fn echo_bin() -> &'static str {
    env!("CARGO_BIN_EXE_echo")
}

/// How echo is run: a hosted process, or a kvm unikernel under `oasis run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// `echo --net:service=tap0 -- BOOT…` (the hosted direct stack).
    Hosted,
    /// `oasis run examples/echo --target kvm --net service=tap0 -- BOOT…`.
    Kvm,
}

impl Runner {
    /// A short name for namespaces and logs.
    pub fn tag(self) -> &'static str {
        match self {
            Runner::Hosted => "hosted",
            Runner::Kvm => "kvm",
        }
    }

    /// How long start-up may take.
    pub fn boot_limit(self) -> Duration {
        match self {
            Runner::Hosted => Duration::from_secs(10),
            // `oasis run` checks the (pre-built) image with cargo first.
            Runner::Kvm => Duration::from_secs(120),
        }
    }
}

/// Starts echo inside `ns` on tap0 with boot arguments `boot`.
pub fn start_echo(ns: &Netns, runner: Runner, boot: &[&str], tag: &str) -> Server {
    let log_tag = format!("{tag}-{}", runner.tag());
    match runner {
        Runner::Hosted => {
            let mut cmd = ns.command(echo_bin());
            cmd.args(["--net:service=tap0", "--"]).args(boot);
            Server::start(cmd, &format!("echo-{log_tag}"))
        }
        Runner::Kvm => {
            let oasis = kvm_tools();
            let mut cmd = ns.command(oasis.to_str().expect("UTF-8 path"));
            cmd.current_dir(repo_root())
                .env("CARGO_TARGET_DIR", kvm_target_dir())
                .args([
                    "run",
                    "examples/echo",
                    "--target",
                    "kvm",
                    "--net",
                    "service=tap0",
                    "--",
                ])
                .args(boot);
            Server::start(cmd, &format!("echo-{log_tag}"))
        }
    }
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the kvm tests build the `oasis` command and the echo image (apart
/// from the target directory running these tests, whose lock cargo holds).
pub fn kvm_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images")
}

/// Builds the `oasis` command and the echo kvm image once per test run,
/// outside any namespace; returns the command's path.
pub fn kvm_tools() -> &'static PathBuf {
    static OASIS: OnceLock<PathBuf> = OnceLock::new();
    OASIS.get_or_init(|| {
        let dir = kvm_target_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(Command::new(cargo)
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", &dir)
            .args(["build", "-q", "-p", "oasis-cli", "--bin", "oasis"]));
        let oasis = dir.join("debug").join("oasis");
        run(Command::new(&oasis)
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", &dir)
            .args(["build", "examples/echo", "--target", "kvm"]));
        oasis
    })
}

#[allow(unused_imports)] // not every test file records kvm runs
pub use oasis_testkit::kvm_test_ran as ran;

/// Whether /dev/kvm can be used; prints why not, or fails under CI.
pub fn kvm_usable() -> bool {
    oasis_testkit::kvm_usable("echo on kvm")
}

/// Sends a datagram of every size from 1 to `max` bytes and checks each
/// comes back unchanged (a lost datagram is retried a few times).
pub fn udp_every_size(to: SocketAddr, max: usize) {
    let bind: SocketAddr = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .unwrap();
    let sock = UdpSocket::bind(bind).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut back = vec![0u8; 65536];
    for size in 1..=max {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        let mut ok = false;
        for _ in 0..5 {
            sock.send_to(&data, to).unwrap();
            match sock.recv_from(&mut back) {
                Ok((n, from)) if from == to && back[..n] == data[..] => {
                    ok = true;
                    break;
                }
                Ok((n, from)) => {
                    panic!("{size} bytes sent, {n} bytes from {from} came back, differing")
                }
                Err(_) => continue,
            }
        }
        assert!(ok, "no echo of a {size}-byte datagram from {to}");
    }
}

/// FNV-1a, 64 bits, over a stream.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    pub fn value(self) -> u64 {
        self.0
    }
}

/// Sends `len` bytes over TCP to `to`, reads the echo on another thread,
/// and returns the hashes of what was sent and what came back.
pub fn tcp_echo(to: SocketAddr, len: usize) -> (u64, u64, usize) {
    let data = pattern(len as u64, len);
    let mut sent = Fnv::new();
    sent.update(&data);
    let conn = connect_retrying(to, Duration::from_secs(10));
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = conn.try_clone().unwrap();
    let got = std::thread::spawn(move || {
        let mut h = Fnv::new();
        let mut total = 0;
        let mut buf = vec![0u8; 65536];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    h.update(&buf[..n]);
                    total += n;
                }
                Err(e) => panic!("reading the echo after {total} bytes: {e}"),
            }
        }
        (h.value(), total)
    });
    let mut w = &conn;
    w.write_all(&data).unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let (h, total) = got.join().unwrap();
    (sent.value(), h, total)
}

/// The MAC in the direct stack's start-up line (`… on MAC xx:xx:… (MTU …`).
pub fn mac_of(line: &str) -> [u8; 6] {
    let text = line
        .split("MAC ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap_or_else(|| panic!("no MAC in `{line}`"));
    let mut mac = [0u8; 6];
    for (i, part) in text.split(':').enumerate().take(6) {
        mac[i] = u8::from_str_radix(part, 16).unwrap();
    }
    mac
}

/// The counter named `name` in a stats line (`… name N …`).
pub fn counter(line: &str, name: &str) -> u64 {
    let rest = line
        .split(name)
        .nth(1)
        .unwrap_or_else(|| panic!("no `{name}` in `{line}`"));
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{name}` in `{line}`"))
}
