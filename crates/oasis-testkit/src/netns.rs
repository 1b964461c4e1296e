//! Network namespaces for tests that need real interfaces: created by the
//! test, holding everything it sends, and deleted when dropped — also when
//! the test panics. Nothing a test sends leaves its namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};

use crate::process::run;

/// Whether this process is root (creating namespaces and TAPs needs it).
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// True if a test may run; otherwise prints `skipped: …` with the reason.
/// Under CI (`CI=true`) a missing requirement is a failure, not a skip:
/// CI runs as root with everything in `scripts/packages` installed.
pub fn may_run(need_root: bool, programs: &[&str]) -> bool {
    let ci = std::env::var("CI").as_deref() == Ok("true");
    if need_root && !is_root() {
        assert!(!ci, "CI must run this test as root");
        println!("skipped: needs root to create a network namespace and a TAP device");
        return false;
    }
    for p in programs {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|d| std::path::Path::new(d).join(p).exists());
        if !found {
            assert!(!ci, "CI must have {p} (see scripts/packages)");
            println!("skipped: needs {p}");
            return false;
        }
    }
    true
}

/// A network namespace holding `tap0` at 10.0.0.1/24 (the guest side is
/// for the test to attach); deleted when dropped.
pub struct Netns {
    /// `oasis-TAG-PID`.
    pub name: String,
}

impl Netns {
    /// Creates `oasis-TAG-PID` with only `lo`, up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("oasis-{tag}-{}", std::process::id());
        // A namespace left by an earlier run of this pid would make `add` fail.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Creates `oasis-TAG-PID` with `lo` up and `tap0` up at 10.0.0.1/24.
    pub fn with_tap(tag: &str) -> Netns {
        let ns = Netns::new(tag);
        ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "tap0"]);
        ns.ip(&["link", "set", "tap0", "up"]);
        ns
    }

    /// Adds bridge `br0` at 10.0.0.1/24 and, for each name, a TAP on it,
    /// all up: one segment for several guests.
    pub fn bridge_with_taps(&self, taps: &[&str]) {
        self.ip(&["link", "add", "br0", "type", "bridge"]);
        self.ip(&["addr", "add", "10.0.0.1/24", "dev", "br0"]);
        self.ip(&["link", "set", "br0", "up"]);
        for tap in taps {
            self.ip(&["tuntap", "add", "dev", tap, "mode", "tap"]);
            self.ip(&["link", "set", tap, "master", "br0"]);
            self.ip(&["link", "set", tap, "up"]);
        }
    }

    /// Runs `ip -n NS ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        run(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Moves the calling thread (only it: a network namespace is per
    /// thread) into the namespace.
    pub fn enter(&self) {
        let ns = File::open(format!("/run/netns/{}", self.name)).expect("open the namespace");
        // SAFETY: a valid namespace descriptor; affects only this thread.
        let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
    }

    /// Runs `f` on a thread inside the namespace and returns its result
    /// (a panic in `f` is the caller's panic).
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                self.enter();
                f()
            })
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
        })
    }

    /// Whether `ping` from the namespace to `addr` gets answers.
    pub fn ping(&self, addr: &str) -> bool {
        self.command("ping")
            .args(["-c", "3", "-i", "0.2", "-W", "2", addr])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
