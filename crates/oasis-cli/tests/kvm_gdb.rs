//! `--gdb`: debugging kvm unikernels with Debian's gdb in batch mode, and
//! the stub's robustness against clients that send garbage or go away.
//! Loopback only; every process is stopped by its pid; every wait is
//! bounded. Needs a usable /dev/kvm (skips elsewhere, fails under CI=true
//! if /dev/kvm exists but cannot be used) and, for the gdb tests, `gdb`
//! (scripts/packages; skips without it, fails under CI).
//!
//! ```text
//! oasis run apps/dns --target kvm --gdb=127.0.0.1:G --net service=user,fwd=udp:P:53 -- --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1
//! gdb -batch IMAGE -ex 'target remote 127.0.0.1:G' -ex 'break oasis_dns_server::serve::answer' -ex continue -ex bt …
//! ```

mod common;
mod usernet;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{kvm_usable, ran, root};
use oasis_cli::build::{Request, Target, build};
use oasis_testkit::process::Logged;
use usernet::{dns, unused_port};

/// The guest's static address (the DHCP-configured guest stops answering
/// some seconds after boot on this gateway, so these tests do not use it).
const STATIC_IPV4: [&str; 2] = ["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"];

/// Where these tests build their images: with debug information
/// (`--debug-info`), apart from the other kvm tests' images so that
/// neither build undoes the other's.
fn image_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gdb-images")
}

/// The images, built once per test run: (apps/dns, the spinning guest).
fn images() -> &'static (PathBuf, PathBuf) {
    static IMAGES: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let one = |app: &str, bin: Option<&str>| {
            let mut req = Request::new(root().join(app).to_string_lossy(), Target::Kvm);
            req.bin = bin.map(String::from);
            req.target_dir = Some(image_dir());
            req.quiet = true;
            req.debug_info = true;
            let exes = build(&req).unwrap_or_else(|e| panic!("building {app}: {e}"));
            exes.into_iter().next().expect("one executable")
        };
        (
            one("apps/dns", None),
            one("crates/oasis-test-guests", Some("spin-forever")),
        )
    })
}

/// `oasis run APP [--bin BIN] --target kvm --gdb=127.0.0.1:GDB [--net …] -- BOOT…`
/// (the image is already built: `oasis run` finds it fresh).
fn start_vmm(app: &str, bin: Option<&str>, gdb: u16, net: Option<String>, boot: &[&str]) -> Logged {
    images();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oasis"));
    cmd.current_dir(root())
        .env("CARGO_TARGET_DIR", image_dir())
        .args(["run", app, "--target", "kvm", "--gdb"])
        .arg(format!("127.0.0.1:{gdb}"));
    if let Some(bin) = bin {
        cmd.args(["--bin", bin]);
    }
    if let Some(net) = net {
        cmd.args(["--net", &net]);
    }
    cmd.arg("--").args(boot);
    let mut vmm = Logged::start(cmd, &format!("gdb-vmm-{gdb}"));
    vmm.wait_for("waiting for a client", Duration::from_secs(120));
    vmm
}

/// `gdb -batch -nx IMAGE -ex 'target remote …' -ex COMMAND…`, logged.
fn start_gdb(image: &PathBuf, port: u16, commands: &[&str], tag: &str) -> Logged {
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx"])
        .arg(image)
        .args(["-ex", "set pagination off", "-ex", "set confirm off"])
        .args(["-ex", &format!("target remote 127.0.0.1:{port}")]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    Logged::start(cmd, &format!("gdb-{tag}-{port}"))
}

/// Waits up to `limit` for `p` to exit.
fn wait_exit(p: &mut Logged, limit: Duration, what: &str) {
    let start = Instant::now();
    while p.alive() {
        assert!(
            start.elapsed() < limit,
            "{what} still runs after {limit:?}:\n{}",
            p.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a query for www.example.com to the forward on `port`, again every
/// two seconds, until an answer comes back (at most `limit`); checks it.
fn query_answered(port: u16, limit: Duration, vmm: &Logged) {
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let query = dns::query(0x6d62, "www.example.com", dns::TYPE_A);
    let mut buf = vec![0u8; 4096];
    let start = Instant::now();
    while start.elapsed() < limit {
        sock.send_to(&query, to).unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            dns::check_www_answer(&buf[..n], 0x6d62);
            return;
        }
    }
    panic!("no answer within {limit:?}; VMM:\n{}", vmm.output());
}

/// Whether gdb may be used here (CI must have it: scripts/packages).
fn gdb_usable() -> bool {
    oasis_testkit::netns::may_run(false, &["gdb"])
}

#[test]
fn kvm_gdb_stops_dns_where_it_answers_a_query_and_lets_it_answer() {
    if !kvm_usable() || !gdb_usable() {
        return;
    }
    let (dns_image, _) = images();
    let (gdb_port, dns_port) = (unused_port(), unused_port());
    let mut vmm = start_vmm(
        "apps/dns",
        None,
        gdb_port,
        Some(format!("service=user,fwd=udp:{dns_port}:53")),
        &STATIC_IPV4,
    );
    let mut gdb = start_gdb(
        dns_image,
        gdb_port,
        &[
            "break oasis_dns_server::serve::answer",
            "continue",
            "bt",
            "delete",
            "continue",
        ],
        "dns",
    );
    gdb.wait_for("Breakpoint 1 at", Duration::from_secs(30));
    vmm.wait_for("listening on port 53", Duration::from_secs(30));
    // The query stops the guest at the breakpoint; gdb shows the stack,
    // deletes the breakpoint and continues; the answer comes back.
    query_answered(dns_port, Duration::from_secs(60), &vmm);
    gdb.wait_for(
        "Breakpoint 1, oasis_dns_server::serve::answer",
        Duration::from_secs(10),
    );
    let out = gdb.output();
    let frames: Vec<&str> = out.lines().filter(|l| l.starts_with('#')).collect();
    assert!(
        frames
            .first()
            .is_some_and(|f| f.contains("oasis_dns_server::serve::answer")
                && f.contains("at crates/oasis-dns-server/src/serve.rs:")),
        "frame #0 is the breakpoint's function, with its file and line:\n{out}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("serve_udp") && f.contains("crates/oasis-dns-server/src/serve.rs:")),
        "the caller is in the backtrace:\n{out}"
    );
    assert!(
        frames.len() >= 4 && frames.iter().all(|f| f.contains(".rs:")),
        "every frame has a source file and line:\n{out}"
    );
    // gdb goes away without a word: the guest runs on and answers.
    drop(gdb);
    vmm.wait_for("disconnected; the guest runs on", Duration::from_secs(10));
    query_answered(dns_port, Duration::from_secs(20), &vmm);
    assert!(vmm.alive(), "the VMM runs on:\n{}", vmm.output());
    let (status, out) = vmm.stop(libc::SIGTERM);
    assert_eq!(status, Some(143), "{out}");
    ran("kvm_gdb_dns_breakpoint_backtrace");
}

/// The innermost two frames of a backtrace: where a guest stopped, and its
/// caller — the stop may fall in an inlined helper (`wrapping_add` inside
/// the spinning loop shows as frame #0 of its own).
fn innermost(bt: &str) -> impl Iterator<Item = &str> {
    bt.lines()
        .filter(|l| l.starts_with("#0 ") || l.starts_with("#1 "))
}

#[test]
fn kvm_gdb_interrupts_a_spinning_guest_and_attaches_to_it() {
    if !kvm_usable() || !gdb_usable() {
        return;
    }
    let (_, spin_image) = images();
    let port = unused_port();
    let mut vmm = start_vmm(
        "crates/oasis-test-guests",
        Some("spin-forever"),
        port,
        None,
        &[],
    );
    // Ctrl-C (SIGINT to gdb, which sends it on) stops the spinning guest.
    let mut gdb = start_gdb(spin_image, port, &["continue", "bt", "detach"], "spin1");
    vmm.wait_for("spinning", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(gdb.pid() as libc::pid_t, libc::SIGINT) };
    wait_exit(&mut gdb, Duration::from_secs(20), "gdb");
    let out = gdb.output();
    assert!(out.contains("received signal SIGINT"), "{out}");
    assert!(
        innermost(&out).any(|l| l.contains("spin_forever::spin_forever")
            && l.contains("crates/oasis-test-guests/src/bin/spin_forever.rs:")),
        "Ctrl-C shows where it spins:\n{out}"
    );
    // Detached, it spins on; a new client stops it where it is.
    vmm.wait_for("detached; the guest runs on", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(300));
    let mut gdb = start_gdb(spin_image, port, &["bt", "kill"], "spin2");
    wait_exit(&mut gdb, Duration::from_secs(20), "gdb");
    let out = gdb.output();
    assert!(
        innermost(&out).any(|l| l.contains("spin_forever::spin_forever")),
        "attaching shows where it spins:\n{out}"
    );
    // gdb's kill ends the VMM as SIGKILL would have.
    wait_exit(&mut vmm, Duration::from_secs(10), "the VMM");
    let (status, out) = vmm.stop(libc::SIGTERM);
    assert_eq!(status, Some(137), "{out}");
    assert!(out.contains("killed the guest"), "{out}");
    ran("kvm_gdb_spinning_guest");
}

/// `$BODY#CHECKSUM`.
fn packet(body: &str) -> Vec<u8> {
    let sum = body.bytes().fold(0u8, |a, b| a.wrapping_add(b));
    format!("${body}#{sum:02x}").into_bytes()
}

/// A raw client of the stub.
struct Raw(TcpStream);

impl Raw {
    fn connect(port: u16) -> Raw {
        let c = TcpStream::connect(("127.0.0.1", port)).expect("connect to the stub");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw(c)
    }

    fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).expect("send to the stub");
    }

    /// Reads until `want` shows up in what came back (acks included).
    fn expect(&mut self, want: &str) -> String {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            match self.0.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => panic!(
                    "waiting for `{want}`: {e}; got {:?}",
                    String::from_utf8_lossy(&got)
                ),
            }
            let text = String::from_utf8_lossy(&got).into_owned();
            if text.contains(want) {
                return text;
            }
        }
        panic!("no `{want}`; got {:?}", String::from_utf8_lossy(&got));
    }

    /// Reads until a stop reply for `signal` (two hex digits) comes back.
    fn expect_stop(&mut self, signal: &str) {
        let got = self.expect(signal);
        assert!(
            got.contains(&format!("$S{signal}")) || got.contains(&format!("$T{signal}")),
            "a stop reply with signal {signal}: {got:?}"
        );
    }

    /// Waits for the stub to close the connection.
    fn expect_closed(&mut self) {
        let mut buf = [0u8; 4096];
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
                Err(e) => panic!("the stub did not close the connection: {e}"),
            }
        }
    }
}

#[test]
fn kvm_gdb_stub_survives_garbage_half_packets_and_disconnects() {
    if !kvm_usable() {
        return;
    }
    let (gdb_port, dns_port) = (unused_port(), unused_port());
    let mut vmm = start_vmm(
        "apps/dns",
        None,
        gdb_port,
        Some(format!("service=user,fwd=udp:{dns_port}:53")),
        &STATIC_IPV4,
    );

    // Junk outside packets is ignored; a real packet after it is answered.
    let mut c = Raw::connect(gdb_port);
    c.send(b"hello\r\n\x00\xff+-+#####");
    c.send(&packet("?"));
    c.expect_stop("05");
    // A second client while one is attached is turned away.
    let mut other = Raw::connect(gdb_port);
    other.expect_closed();
    // A bad checksum: the stub drops this client, the guest boots and runs.
    c.send(b"$g#00");
    c.expect_closed();
    vmm.wait_for("listening on port 53", Duration::from_secs(30));
    query_answered(dns_port, Duration::from_secs(30), &vmm);

    // Half a packet, then a disconnect: the guest runs on.
    let mut c = Raw::connect(gdb_port);
    c.send(&packet("?"));
    c.expect_stop("05");
    c.send(b"$m100000,");
    drop(c);
    query_answered(dns_port, Duration::from_secs(30), &vmm);

    // A packet longer than the stub's buffer: dropped, the guest runs on.
    let mut c = Raw::connect(gdb_port);
    c.send(b"$");
    c.send(&vec![b'm'; 64 << 10]);
    c.expect_closed();
    query_answered(dns_port, Duration::from_secs(30), &vmm);

    // Memory outside the guest's mappings is an error to the client, not
    // a crash: the null page, past the end of memory, the hypercall window.
    let mut c = Raw::connect(gdb_port);
    c.send(&packet("QStartNoAckMode"));
    c.expect("OK");
    for addr in ["0", "7fffffff", "100000000", "ffffffffffffff00"] {
        c.send(&packet(&format!("m{addr},10")));
        c.expect("$E");
    }
    c.send(&packet("m100000,4"));
    c.expect("$");
    // Continue, then Ctrl-C: stopped with SIGINT; detach: it runs on.
    c.send(&packet("c"));
    std::thread::sleep(Duration::from_millis(300));
    c.send(&[0x03]);
    c.expect_stop("02");
    c.send(&packet("D"));
    c.expect("OK");
    query_answered(dns_port, Duration::from_secs(30), &vmm);

    assert!(vmm.alive(), "the VMM runs on:\n{}", vmm.output());
    let (status, out) = vmm.stop(libc::SIGTERM);
    assert_eq!(status, Some(143), "{out}");
    ran("kvm_gdb_stub_bad_clients");
}
