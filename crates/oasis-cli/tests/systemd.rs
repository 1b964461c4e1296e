//! oasis under systemd (`dist/systemd/`): apps/dns as a `Type=notify`
//! service whose port the manager bound.
//!
//! - The VMM, started the way systemd starts a unit — `$NOTIFY_SOCKET`
//!   naming a datagram socket this test reads, and a UDP socket this test
//!   bound on 127.0.0.1 passed as descriptor 3 (`$LISTEN_FDS`,
//!   `$LISTEN_PID`, `$LISTEN_FDNAMES=dns`) — sends `READY=1` once the guest
//!   has its DHCP lease and listens, answers through the passed port
//!   (`fwd=udp:sd=dns:53`), and on SIGTERM sends `STOPPING=1` and leaves
//!   with 143, which the unit counts as a clean stop.
//! - The same under systemd's own `systemd-socket-activate`, when it is
//!   installed: the socket is bound by systemd's code and the VMM is
//!   started by the first query.
//! - `systemd-analyze verify` accepts the shipped units (skipped when it is
//!   not installed).
//! - A transient unit started by systemd itself (`systemd-run`): only where
//!   PID 1 is systemd, which on a container or a CI runner without it is
//!   not the case (the test says `skipped: PID 1 is not systemd`).
//!
//! The kvm parts need a usable /dev/kvm (they skip elsewhere, and fail under
//! CI=true where /dev/kvm exists but cannot be opened). Only loopback is
//! used; every wait is bounded; processes are stopped by their pid.

mod common;
mod usernet;

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{kvm_usable, ran, root};
use oasis_testkit::process::Logged;
use usernet::dns;

/// The shipped units.
fn units() -> PathBuf {
    root().join("dist/systemd")
}

/// A service manager's notification socket, read by the test.
struct Manager {
    socket: UnixDatagram,
    path: PathBuf,
    _dir: tempfile::TempDir,
    /// Every notification so far.
    seen: Vec<String>,
}

impl Manager {
    fn new() -> Manager {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        Manager {
            socket,
            path,
            _dir: dir,
            seen: Vec::new(),
        }
    }

    /// Reads notifications until one has a line `line`, for at most
    /// `limit`; fails early if `vmm` (when given) ends meanwhile. The
    /// panic shows `vmm`'s log, or `log`.
    fn wait_for(
        &mut self,
        line: &str,
        limit: Duration,
        mut vmm: Option<&mut Logged>,
        log: &str,
    ) -> String {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let got = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push(got.clone());
                if got.lines().any(|l| l == line) {
                    return got;
                }
            }
            let log = vmm.as_ref().map_or(log.to_string(), |v| v.output());
            if let Some(v) = vmm.as_mut() {
                assert!(v.alive(), "the VMM ended before {line}:\n{log}");
            }
            assert!(
                start.elapsed() < limit,
                "no {line} within {limit:?}; notifications {:?}; VMM:\n{log}",
                self.seen
            );
        }
    }
}

/// Asks `to` for `www.example.com A` until an answer comes (the first
/// query may wait for the gateway to learn the guest's MAC), at most 20
/// tries a second apart; checks the answer.
fn ask(to: SocketAddr, id: u16, log: impl Fn() -> String) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let query = dns::query(id, "www.example.com", dns::TYPE_A);
    let mut buf = [0u8; 4096];
    for _ in 0..20 {
        sock.send_to(&query, to).unwrap();
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            assert_eq!(from, to, "the answer comes from the passed port");
            dns::check_www_answer(&buf[..n], id);
            return;
        }
    }
    panic!("no answer from {to}; VMM:\n{}", log());
}

/// Whether process `pid` runs in seccomp filter mode.
fn sandboxed(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Seccomp:", "2"])
}

/// Stops the VMM with SIGTERM; checks that it says STOPPING=1 (why: the
/// signal) and leaves with 143, and that the guest's readiness was one exit.
fn stop_cleanly(vmm: Logged, manager: &mut Manager) {
    let (status, out) = vmm.stop_within(libc::SIGTERM, Duration::from_secs(20));
    assert_eq!(status, Some(143), "128 + SIGTERM, a clean stop:\n{out}");
    let stopping = manager.wait_for("STOPPING=1", Duration::from_secs(5), None, &out);
    assert!(
        stopping.contains("STATUS=stopped by SIGTERM"),
        "{stopping:?}"
    );
    let stats = out
        .lines()
        .find(|l| l.starts_with("oasis-vmm: stats:"))
        .unwrap_or_else(|| panic!("a stats line:\n{out}"));
    assert!(stats.contains("Ready 1"), "one Ready exit: {stats}");
    let ready = manager.seen.iter().filter(|n| n.starts_with("READY=1"));
    assert_eq!(ready.count(), 1, "READY=1 once: {:?}", manager.seen);
}

#[test]
fn kvm_dns_as_a_notify_service_on_a_passed_socket() {
    if !kvm_usable() {
        return;
    }
    let image = usernet::image("apps/dns");
    let mut manager = Manager::new();
    // The port a .socket unit would bind, bound here on loopback.
    let port = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = port.local_addr().unwrap();
    let fd = port.as_raw_fd();
    // systemd sets LISTEN_PID to the pid it starts; the shell's `$$` is the
    // pid the VMM keeps across `exec`.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", r#"LISTEN_PID=$$ exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_oasis"))
        .args(vmm_on_passed_socket(&image))
        .env("NOTIFY_SOCKET", &manager.path)
        .env("LISTEN_FDS", "1")
        .env("LISTEN_FDNAMES", "dns")
        .env_remove("LISTEN_PID")
        .env_remove("WATCHDOG_USEC");
    // SAFETY: between fork and exec: only dup2 and fcntl, which are
    // async-signal-safe; the socket is descriptor 3 in the child, without
    // close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            let r = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if r < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut vmm = Logged::start(cmd, "systemd-dns");
    // The VMM has its own copy now; the test keeps only the address.
    drop(port);
    let pid = vmm.pid();
    let ready = manager.wait_for("READY=1", Duration::from_secs(60), Some(&mut vmm), "");
    assert!(ready.contains("STATUS=serving"), "{ready:?}");
    // Ready means serving: the guest had its address and its socket when
    // it said so (its log lines come before the Ready call).
    let out = vmm.output();
    for line in ["DHCP lease 10.0.0.2", "listening on port 53"] {
        assert!(out.contains(line), "READY=1 before `{line}`:\n{out}");
    }
    assert!(sandboxed(pid), "the VMM runs in its seccomp filter");
    ask(to, 0x5d01, || vmm.output());
    ask(to, 0x5d02, || vmm.output());
    stop_cleanly(vmm, &mut manager);
    ran("kvm_dns_as_a_notify_service_on_a_passed_socket");
}

/// systemd's own socket activation helper, if installed.
fn socket_activate() -> Option<&'static str> {
    [
        "/usr/bin/systemd-socket-activate",
        "/usr/lib/systemd/systemd-activate",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
}

#[test]
fn kvm_dns_started_by_its_first_query_under_systemd_socket_activate() {
    if !kvm_usable() {
        return;
    }
    let Some(activate) = socket_activate() else {
        println!("skipped: systemd-socket-activate not installed (Debian: systemd)");
        return;
    };
    let image = usernet::image("apps/dns");
    let mut manager = Manager::new();
    let port = usernet::unused_port();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cmd = Command::new(activate);
    cmd.args(["--datagram", "--listen", &to.to_string(), "--fdname=dns"])
        .arg(format!("--setenv=NOTIFY_SOCKET={}", manager.path.display()))
        .arg(env!("CARGO_BIN_EXE_oasis"))
        .args(vmm_on_passed_socket(&image));
    let mut vmm = Logged::start(cmd, "systemd-activate-dns");
    // systemd-socket-activate binds, then starts the VMM when a datagram
    // arrives: the first query is asked of a port nothing serves yet.
    let bound = Instant::now();
    while !vmm.output().contains("Listening on") {
        assert!(
            bound.elapsed() < Duration::from_secs(20),
            "systemd-socket-activate did not listen:\n{}",
            vmm.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !vmm.output().contains("Execing"),
        "started before any query:\n{}",
        vmm.output()
    );
    ask(to, 0x5d11, || vmm.output());
    manager.wait_for("READY=1", Duration::from_secs(30), Some(&mut vmm), "");
    ask(to, 0x5d12, || vmm.output());
    stop_cleanly(vmm, &mut manager);
    ran("kvm_dns_started_by_its_first_query_under_systemd_socket_activate");
}

/// `systemd-analyze verify` on the units, in a copy where the template is
/// instantiated as oasis@dns and the VMM's path is one that exists (verify
/// refuses a unit whose ExecStart is missing). Its output and status.
fn verify(service: &str, socket: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let service_file = dir.path().join("oasis@dns.service");
    let socket_file = dir.path().join("oasis@dns.socket");
    std::fs::write(&service_file, service).unwrap();
    std::fs::write(&socket_file, socket).unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&service_file)
        .arg(&socket_file)
        .current_dir(dir.path())
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn systemd_analyze_verify_accepts_the_shipped_units() {
    let service = std::fs::read_to_string(units().join("oasis@.service")).unwrap();
    let socket = std::fs::read_to_string(units().join("oasis@dns.socket")).unwrap();
    // What the units promise, whether or not systemd-analyze can check them.
    for line in [
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "SuccessExitStatus=143",
        "DeviceAllow=/dev/kvm rw",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "MemoryMax=128M",
        "TasksMax=4",
        "StandardOutput=journal",
        "EnvironmentFile=/etc/oasis/%i.conf",
    ] {
        assert!(service.lines().any(|l| l == line), "oasis@.service: {line}");
    }
    assert!(socket.contains("FileDescriptorName=dns"));
    let conf = std::fs::read_to_string(units().join("dns.conf")).unwrap();
    assert!(
        conf.contains("fwd=udp:sd=dns:53,fwd=tcp:sd=dns:53"),
        "{conf}"
    );
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: systemd-analyze not installed (Debian: systemd)");
        return;
    }
    let exists = std::fs::canonicalize(env!("CARGO_BIN_EXE_oasis")).unwrap();
    let service = service.replace("/usr/local/bin/oasis-vmm", common::s(&exists));
    let (ok, out) = verify(&service, &socket);
    assert!(
        ok && out.trim().is_empty(),
        "systemd-analyze verify:\n{out}"
    );
    // The check has teeth: a misspelt setting is reported.
    let (_, out) = verify(&service.replace("Type=notify", "Type=notfy"), &socket);
    assert!(out.contains("notfy"), "a bad unit passes verify:\n{out}");
}

#[test]
fn kvm_dns_as_a_transient_unit_under_systemd() {
    // Units start only where systemd is the init system; not in a container
    // or on a CI runner without it, where this test can only be skipped.
    if !Path::new("/run/systemd/system").exists() {
        println!(
            "skipped: PID 1 is not systemd (no /run/systemd/system): a unit cannot be started here"
        );
        return;
    }
    if !kvm_usable() {
        return;
    }
    let image = usernet::image("apps/dns");
    let port = usernet::unused_port();
    let unit = format!("oasis-test-dns-{}-{port}", std::process::id());
    // The shipped unit's service settings that matter here; the sandbox
    // and limits stay with the shipped file (verified above).
    let mut cmd = Command::new("systemd-run");
    cmd.args(["--wait", "--unit", &unit])
        .args([
            "--property=Type=notify",
            "--property=NotifyAccess=main",
            "--property=SuccessExitStatus=143",
            "--property=TimeoutStartSec=120s",
            "--property=TimeoutStopSec=20s",
            "--property=DeviceAllow=/dev/kvm rw",
            "--property=MemoryMax=128M",
        ])
        .arg(env!("CARGO_BIN_EXE_oasis"))
        .args([
            "vmm",
            &format!("--net:service=user,fwd=udp:{port}:53"),
            common::s(&image),
        ]);
    // `--wait` runs until the unit ends: this process stands for the unit.
    let mut run = Logged::start(cmd, "systemd-run-dns");
    let systemctl = |args: &[&str]| {
        let out = Command::new("systemctl").args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // A Type=notify unit is active only once READY=1 has arrived.
    let start = Instant::now();
    loop {
        let state = systemctl(&["show", "-P", "ActiveState", &unit]);
        if state == "active" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120) && run.alive(),
            "{unit} is {state}, not active:\n{}",
            run.output()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    ask(to, 0x5d21, || systemctl(&["status", &unit]));
    let stop = Command::new("systemctl")
        .args(["stop", &unit])
        .status()
        .unwrap();
    assert!(stop.success(), "systemctl stop {unit}");
    let ended = Instant::now();
    while run.alive() {
        assert!(
            ended.elapsed() < Duration::from_secs(30),
            "systemd-run --wait still runs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // systemd-run --wait reports how the unit ended: exit 143 on SIGTERM
    // counts as success (SuccessExitStatus=143).
    let out = run.output();
    assert!(
        out.contains("Finished with result: success"),
        "{unit} did not stop cleanly:\n{out}"
    );
    ran("kvm_dns_as_a_transient_unit_under_systemd");
}

/// `oasis vmm` on apps/dns, its forward serving the UDP socket passed as `dns`.
fn vmm_on_passed_socket(image: &std::path::Path) -> [&str; 4] {
    [
        "vmm",
        "--stats",
        "--net:service=user,fwd=udp:sd=dns:53",
        common::s(image),
    ]
}
