//! The kvm net device end to end: a unikernel reflecting UDP datagrams over a
//! TAP interface, inside a network namespace this test creates (host side
//! 10.0.0.1/24 on tap0, the unikernel 10.0.0.2) and deletes again, also on
//! failure. Nothing is sent outside that namespace.

mod common;

use std::net::UdpSocket;
use std::process::Stdio;
use std::time::Duration;

use common::{images, kvm_usable, ran, s, text};
use oasis_testkit::netns::{Netns, may_run};

/// Datagrams reflected in the test.
const DATAGRAMS: usize = 200;
/// Datagrams sent before waiting for their reflections.
const BURST: usize = 20;

/// Sends every datagram and checks each comes back with the same payload.
fn exchange(ns: &Netns) -> Result<usize, String> {
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

/// (exits, rx frames, tx frames) from the VMM's
/// `oasis-vmm: stats: N exits (…), net rx R frames, tx T frames, …` line.
fn stats(stderr: &str) -> (u64, u64, u64) {
    let number_before = |word: &str| -> u64 {
        let at = stderr
            .find(word)
            .unwrap_or_else(|| panic!("{word} missing: {stderr}"));
        let digits: String = stderr[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    (
        number_before(" exits"),
        number_before(" frames, tx"),
        number_before(" frames, ran"),
    )
}

/// Whether this test can run a guest and make namespaces and TAPs; prints why not.
fn can_run() -> bool {
    kvm_usable() && may_run(true, &["ip"])
}

#[test]
fn net_frames_move_through_the_rings_in_batches() {
    if !can_run() {
        return;
    }
    let ns = Netns::with_tap("kvmnet-reflect");
    let frames = format!("--frames={DATAGRAMS}");
    let vmm = ns
        .command(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", "--stats"])
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
    let (exits, rx, tx) = stats(&text(&out.stderr));
    assert!(rx >= DATAGRAMS as u64 && tx >= DATAGRAMS as u64, "{out:?}");
    println!(
        "net: {exits} exits for {rx} frames in and {tx} out ({:.3} exits per frame)",
        exits as f64 / (rx + tx) as f64
    );
    drop(ns);
    ran("net_frames_move_through_the_rings_in_batches");
}

#[test]
fn frames_nobody_reads_do_not_wake_the_guest() {
    if !can_run() {
        return;
    }
    let ns = Netns::with_tap("kvmnet-ignore");
    // The guest never answers ARP: name its address by hand.
    ns.ip(&[
        "neigh",
        "add",
        "10.0.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "tap0",
    ]);
    let vmm = ns
        .command(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", "--stats"])
        .args([
            "--net:service=tap0",
            s(&images().net_ignore),
            "--",
            "--seconds=2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the VMM");
    let sent = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                ns.enter();
                let sock = UdpSocket::bind("10.0.0.1:0").unwrap();
                let mut sent = 0;
                for i in 0..1000 {
                    if sock
                        .send_to(format!("unread {i}").as_bytes(), "10.0.0.2:9")
                        .is_ok()
                    {
                        sent += 1;
                    }
                    if i % 100 == 99 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                sent
            })
            .join()
            .unwrap()
    });
    let out = vmm.wait_with_output().expect("wait for the VMM");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (exits, rx, _) = stats(&text(&out.stderr));
    // The ring (256 slots) fills; the rest waits in the TAP. The guest woke
    // for its timer and its log line only, not once per frame.
    assert!(rx > 0 && sent > 500, "rx {rx}, sent {sent}: {out:?}");
    assert!(exits < 20, "{exits} exits while the guest slept: {out:?}");
    println!(
        "net: {sent} frames sent to a guest that never reads: {rx} taken into its ring, {exits} exits"
    );
    drop(ns);
    ran("frames_nobody_reads_do_not_wake_the_guest");
}
