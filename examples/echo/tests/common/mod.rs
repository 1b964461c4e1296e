//! What the echo tests share: a network namespace that is always removed,
//! a server process that is always killed (by pid), and the clients.
#![allow(dead_code)] // each test file uses a different part

pub mod frames;
pub mod scenarios;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Whether this process is root.
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// True if the test may run; otherwise prints why it is skipped. On CI
/// (CI=true) a missing requirement is a failure, not a skip.
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

/// A network namespace holding tap0 at 10.0.0.1/24; deleted when dropped,
/// also when the test panics.
pub struct Netns {
    pub name: String,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    /// Creates `oasis-<tag>-<pid>` with lo up and tap0 at 10.0.0.1/24.
    pub fn with_tap(tag: &str) -> Netns {
        let name = format!("oasis-{tag}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        ns.ip(&["addr", "add", "10.0.0.1/24", "dev", "tap0"]);
        ns.ip(&["link", "set", "tap0", "up"]);
        ns
    }

    /// Runs `ip -n NS ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) {
        run(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// A command to run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Runs `f` on a thread that has entered the namespace (a network
    /// namespace is per thread), and returns its result.
    pub fn within<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let ns = File::open(format!("/var/run/netns/{}", self.name)).expect("netns file");
                // SAFETY: a valid namespace descriptor; affects only this thread.
                let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
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

/// A started server whose output goes to a file; killed (by pid) when dropped.
pub struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd` with stdout and stderr in a log file.
    pub fn start(mut cmd: Command, tag: &str) -> Server {
        let log = std::env::temp_dir().join(format!("oasis-echo-{tag}-{}.log", std::process::id()));
        let out = File::create(&log).expect("create the server log");
        let err = out.try_clone().expect("clone the log handle");
        let child = cmd
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .stdin(Stdio::null())
            .spawn()
            .expect("start the server");
        Server { child, log }
    }

    /// Everything the server wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for a line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited ({status}) before `{needle}`:\n{out}");
            }
            assert!(
                start.elapsed() < limit,
                "no `{needle}` from the server within {limit:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last line containing `needle`, if any.
    pub fn last_line(&self, needle: &str) -> Option<String> {
        self.output()
            .lines()
            .rev()
            .find(|l| l.contains(needle))
            .map(str::to_string)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

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
            Server::start(cmd, &log_tag)
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
            Server::start(cmd, &log_tag)
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

/// Pseudo-random bytes from a seed (xorshift), so sender and checker agree.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
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

/// Connects to `to`, retrying refusals until `limit`.
pub fn connect_retrying(to: SocketAddr, limit: Duration) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
            Ok(c) => return c,
            Err(e) if start.elapsed() < limit => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("connecting to {to}: {e}"),
        }
    }
}

/// A free TCP and UDP port on loopback (best effort: free when asked).
pub fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
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
