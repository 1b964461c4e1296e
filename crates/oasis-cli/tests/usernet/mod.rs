//! What the user-mode networking tests share: a unikernel started with
//! `oasis run … --net NAME=user,…` (killed by pid when dropped), loopback
//! clients, and a small DNS client.
#![allow(dead_code)]

pub mod dns;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use oasis_cli::build::{Request, Target, build};
use oasis_testkit::process::Logged;

use crate::common::root;

/// Where these tests build images (shared with the other kvm tests).
fn image_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images")
}

/// A port free on 127.0.0.1 for both UDP and TCP just now.
pub fn unused_port() -> u16 {
    loop {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `setpriv` with every capability dropped, when it exists: the VMM then
/// shows it needs no privilege beyond opening /dev/kvm.
fn unprivileged() -> Option<Command> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut c = Command::new(setpriv);
    c.args([
        "--inh-caps=-all",
        "--ambient-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]);
    Some(c)
}

/// A kvm unikernel under `oasis run`, its output in a log file; killed
/// (by pid) when dropped.
pub struct Guest(Logged);

impl Guest {
    /// Builds `app` for kvm (once; later runs find it fresh) and starts
    /// `oasis run APP --target kvm --net service=NET -- BOOT…`.
    pub fn run(app: &str, net: &str, boot: &[&str]) -> Guest {
        let mut req = Request::new(root().join(app).to_string_lossy(), Target::Kvm);
        req.target_dir = Some(image_dir());
        req.quiet = true;
        build(&req).unwrap_or_else(|e| panic!("building {app}: {e}"));
        let oasis = env!("CARGO_BIN_EXE_oasis");
        let mut cmd = match unprivileged() {
            Some(mut c) => {
                c.arg(oasis);
                c
            }
            None => {
                println!("setpriv not found: the VMM keeps this test's privileges");
                Command::new(oasis)
            }
        };
        cmd.current_dir(root())
            .env("CARGO_TARGET_DIR", image_dir())
            .args(["run", app, "--target", "kvm", "--stats", "--net", net, "--"])
            .args(boot);
        Guest(Logged::start(
            cmd,
            &format!("usernet-{}", app.replace('/', "-")),
        ))
    }

    /// Everything written so far.
    pub fn output(&self) -> String {
        self.0.output()
    }

    /// Waits (up to two minutes: `oasis run` checks the build first) for a
    /// line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        self.0.wait_for(needle, Duration::from_secs(120));
    }

    /// Stops the VMM with SIGTERM (by pid) and returns its exit status and
    /// everything it wrote, `--stats` line included.
    pub fn stop(self) -> (Option<i32>, String) {
        self.0.stop(libc::SIGTERM)
    }

    /// Whether the VMM still runs.
    pub fn alive(&mut self) -> bool {
        self.0.alive()
    }
}

/// Connects to `to`, retrying for a few seconds.
pub fn connect(to: SocketAddr) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
            Ok(c) => {
                c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                return c;
            }
            Err(e) => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "connect {to}: {e}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Pseudo-random bytes from a seed (xorshift).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// `dig @127.0.0.1 -p PORT www.example.com A +short [+tcp]`'s lines, or
/// `None` when dig is not installed.
pub fn dig(port: u16, tcp: bool) -> Option<Vec<String>> {
    let mut cmd = Command::new("dig");
    cmd.args([
        "@127.0.0.1",
        "-p",
        &port.to_string(),
        "www.example.com",
        "A",
        "+short",
        "+tries=3",
        "+time=2",
    ]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().ok()?;
    assert!(out.status.success(), "dig failed: {out:?}");
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}
