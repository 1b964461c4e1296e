//! The kvm net device end to end: a unikernel reflecting UDP datagrams over a
//! TAP interface, inside a network namespace this test creates (host side
//! 10.0.0.1/24 on tap0, the unikernel 10.0.0.2) and deletes again, also on
//! failure. Nothing is sent outside that namespace.

mod common;

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{images, kvm_usable, ran, s, text};

/// Datagrams reflected in the test.
const DATAGRAMS: usize = 200;
/// Datagrams sent before waiting for their reflections.
const BURST: usize = 20;

/// A network namespace, deleted when dropped.
struct Namespace(String);

impl Namespace {
    fn create() -> Result<Namespace, String> {
        let name = format!("oasis-kvmnet-{}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Namespace(name);
        ip(&[
            "netns", "exec", &ns.0, "ip", "tuntap", "add", "dev", "tap0", "mode", "tap",
        ])?;
        ip(&["-n", &ns.0, "addr", "add", "10.0.0.1/24", "dev", "tap0"])?;
        ip(&["-n", &ns.0, "link", "set", "tap0", "up"])?;
        ip(&["-n", &ns.0, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Moves the calling thread into the namespace.
    fn enter(&self) {
        let f = std::fs::File::open(format!("/run/netns/{}", self.0)).expect("open the namespace");
        // SAFETY: setns on a namespace descriptor affects only this thread.
        let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "delete", &self.0]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            text(&out.stderr).trim()
        ))
    }
}

/// Sends every datagram and checks each comes back with the same payload.
fn exchange(ns: &Namespace) -> Result<usize, String> {
    ns.enter();
    let sock = UdpSocket::bind("10.0.0.1:0").map_err(|e| e.to_string())?;
    sock.connect("10.0.0.2:7").map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    // The first datagram waits for ARP; retry until it comes back.
    let mut first = false;
    for _ in 0..5 {
        sock.send(b"datagram 0").map_err(|e| e.to_string())?;
        if let Ok(n) = sock.recv(&mut buf) {
            first = &buf[..n] == b"datagram 0";
            break;
        }
    }
    if !first {
        return Err("the first datagram never came back".into());
    }
    let mut back = 1;
    let mut sent = 1;
    while sent < DATAGRAMS {
        let burst = BURST.min(DATAGRAMS - sent);
        for i in sent..sent + burst {
            sock.send(format!("datagram {i}").as_bytes())
                .map_err(|e| e.to_string())?;
        }
        for i in sent..sent + burst {
            let n = sock
                .recv(&mut buf)
                .map_err(|e| format!("datagram {i} did not come back: {e}"))?;
            if buf[..n] != *format!("datagram {i}").as_bytes() {
                return Err(format!("datagram {i} came back as {:?}", text(&buf[..n])));
            }
            back += 1;
        }
        sent += burst;
    }
    Ok(back)
}

#[test]
fn net_frames_move_through_the_rings_in_batches() {
    if !kvm_usable() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root"
        );
        println!("skipped: not root (network namespaces and TAP need root)");
        return;
    }
    let ns = Namespace::create().unwrap_or_else(|e| panic!("creating the namespace: {e}"));
    let frames = format!("--frames={DATAGRAMS}");
    let vmm = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_oasis"),
            "vmm",
            "--stats",
        ])
        .args([
            "--net:service=tap0",
            s(&images().net_reflect),
            "--",
            &frames,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the VMM");
    let result = std::thread::scope(|scope| scope.spawn(|| exchange(&ns)).join());
    let out = vmm.wait_with_output().expect("wait for the VMM");
    let back = result
        .expect("exchange thread")
        .unwrap_or_else(|e| panic!("{e}; VMM: {out:?}"));
    assert_eq!(back, DATAGRAMS);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        text(&out.stdout).contains(&format!("reflected {DATAGRAMS} datagrams")),
        "{out:?}"
    );
    // `oasis-vmm: stats: N exits (…), net rx R frames, tx T frames, …`
    let stats = text(&out.stderr);
    let number_before = |word: &str| -> u64 {
        let at = stats
            .find(word)
            .unwrap_or_else(|| panic!("{word} missing: {stats}"));
        let digits: String = stats[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    let exits = number_before(" exits");
    let rx = number_before(" frames, tx");
    let tx = number_before(" frames, ran");
    assert!(rx >= DATAGRAMS as u64 && tx >= DATAGRAMS as u64, "{stats}");
    println!(
        "net: {exits} exits for {rx} frames in and {tx} out ({:.3} exits per frame)",
        exits as f64 / (rx + tx) as f64
    );
    drop(ns);
    ran("net_frames_move_through_the_rings_in_batches");
}
