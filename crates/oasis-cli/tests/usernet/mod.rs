//! What the user-mode networking tests share: a unikernel started with
//! `oasis run … --net NAME=user,…` (killed by pid when dropped), loopback
//! clients, and a small DNS client.
#![allow(dead_code)]

pub mod dns;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use oasis_cli::build::{Request, Target, build};
use oasis_testkit::process::Logged;

use crate::common::root;

/// Where these tests build images (shared with the other kvm tests).
fn image_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images")
}

#[allow(unused_imports)] // not every test file picks ports
pub use oasis_testkit::client::free_port as unused_port;
#[allow(unused_imports)] // not every test file sends patterns
pub use oasis_testkit::client::pattern;

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

/// Builds `app` for kvm (once; later runs find it fresh); its image.
pub fn image(app: &str) -> PathBuf {
    let mut req = Request::new(root().join(app).to_string_lossy(), Target::Kvm);
    req.target_dir = Some(image_dir());
    req.quiet = true;
    let exes = build(&req).unwrap_or_else(|e| panic!("building {app}: {e}"));
    exes.into_iter().next().expect("one executable")
}

impl Guest {
    /// Builds `app` for kvm (once; later runs find it fresh) and starts
    /// `oasis run APP --target kvm --net service=NET -- BOOT…`.
    pub fn run(app: &str, net: &str, boot: &[&str]) -> Guest {
        Guest::run_with(app, &[], net, boot)
    }

    /// [`Guest::run`] with more `oasis run` options (`--ring-slots 16`).
    pub fn run_with(app: &str, options: &[&str], net: &str, boot: &[&str]) -> Guest {
        image(app);
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
            .args(["run", app, "--target", "kvm", "--stats", "--net", net])
            .args(options)
            .arg("--")
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

    /// Waits (up to five minutes: `oasis run` checks the build first, and a loaded machine builds slowly) for a
    /// line containing `needle`.
    pub fn wait_for(&mut self, needle: &str) {
        self.0.wait_for(needle, Duration::from_secs(300));
    }

    /// Stops the VMM with SIGTERM (by pid) and returns its exit status and
    /// everything it wrote, `--stats` line included.
    pub fn stop(self) -> (Option<i32>, String) {
        self.0.stop(libc::SIGTERM)
    }

    /// CPU time the VMM (vCPU and devices) has used so far.
    pub fn cpu_time(&self) -> Duration {
        self.0.cpu_time().expect("the VMM's /proc/PID/stat")
    }

    /// The VMM's resident memory (VmRSS), KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.pid()))
            .expect("the VMM's /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("a VmRSS line")
    }

    /// Whether the VMM still runs.
    pub fn alive(&mut self) -> bool {
        self.0.alive()
    }
}

/// Connects to `to`, retrying for a few seconds, with a read timeout.
pub fn connect(to: SocketAddr) -> TcpStream {
    let c = oasis_testkit::client::connect_retrying(to, Duration::from_secs(10));
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c
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
