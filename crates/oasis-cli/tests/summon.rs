//! `oasis summon` end to end: three services (apps/dns images) on TAPs of
//! one bridge in a network namespace this test creates and deletes (also
//! on failure), the summoner serving the zone `svc.test.` on the
//! namespace's loopback. Checked:
//!
//! - a name of the zone that is no service gets NXDOMAIN and boots nothing;
//! - a cold query boots the service and is answered with its address once
//!   the guest is ready; the service then answers its own DNS there;
//! - a warm query is answered at once, without another boot;
//! - with `max-boots 1`, two services asked at once: one boots, the other
//!   gets SERVFAIL;
//! - after `idle` without a query the VMM is stopped (SIGTERM, gone), and
//!   the next query boots it again;
//! - a VMM killed with SIGKILL is reaped and the next query summons it again;
//! - SIGTERM to the summoner stops every VMM it started.
//!
//! Needs root and a usable /dev/kvm (skips elsewhere, fails under CI=true).
//! Nothing leaves the namespace; processes are signalled by pid; every wait
//! is bounded.

mod common;
mod usernet;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{kvm_usable, ran, s};
use oasis_testkit::netns::{Netns, may_run};
use oasis_testkit::process::Logged;
use usernet::dns;

const SUMMONER: &str = "127.0.0.1:5353";
/// Long enough for the checks after a summon to finish before the stop.
const IDLE: Duration = Duration::from_secs(3);

/// One reply to `name`'s A query from `to`, with its rcode and A records,
/// waiting at most `limit`.
fn ask(to: &str, id: u16, name: &str, limit: Duration) -> (u16, Vec<[u8; 4]>, Duration) {
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.set_read_timeout(Some(limit)).unwrap();
    let t0 = Instant::now();
    sock.send_to(&dns::query(id, name, dns::TYPE_A), to)
        .unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no answer to {name} from {to} within {limit:?}: {e}"));
    let took = t0.elapsed();
    let m = &buf[..n];
    assert_eq!(u16::from_be_bytes([m[0], m[1]]), id, "the reply's ID");
    let rcode = u16::from_be_bytes([m[2], m[3]]) & 0xf;
    let a = dns::answers(m)
        .into_iter()
        .filter(|(t, _)| *t == dns::TYPE_A)
        .map(|(_, d)| d.try_into().unwrap())
        .collect();
    (rcode, a, took)
}

/// The service at `addr` answers `www.example.com A` from its own zone
/// (a few tries: the first may wait for ARP).
fn serves(addr: &str, id: u16, log: &Logged) {
    let to: SocketAddr = format!("{addr}:53").parse().unwrap();
    let sock = UdpSocket::bind("10.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..10 {
        sock.send_to(&dns::query(id, "www.example.com", dns::TYPE_A), to)
            .unwrap();
        if let Ok((n, _)) = sock.recv_from(&mut buf) {
            dns::check_www_answer(&buf[..n], id);
            return;
        }
    }
    panic!(
        "{addr} does not answer its DNS; summoner:\n{}",
        log.output()
    );
}

/// The pid of the `nth` (from 1) boot of service `name`, from the log.
fn boot_pid(log: &Logged, name: &str, nth: usize) -> u32 {
    let line = log
        .output()
        .lines()
        .filter(|l| l.contains(&format!("summon: {name}: booting, pid ")))
        .nth(nth - 1)
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no boot {nth} of {name}:\n{}", log.output()));
    let after = line.split("pid ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().parse().unwrap()
}

fn boots(log: &Logged, name: &str) -> usize {
    let needle = format!("summon: {name}: booting");
    log.output().lines().filter(|l| l.contains(&needle)).count()
}

fn gone(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn kvm_summon_boots_on_query_stops_when_idle_and_resummons_after_a_crash() {
    if !(kvm_usable() && may_run(true, &["ip"])) {
        return;
    }
    let image = usernet::image("apps/dns");
    let ns = Netns::new("summon");
    ns.bridge_with_taps(&["tap-a", "tap-b", "tap-c"]);
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("summon.conf");
    let mut text = format!(
        "zone svc.test.\nlisten {SUMMONER}\nidle {}ms\nmax-boots 1\nboot-timeout 20s\n",
        IDLE.as_millis()
    );
    for (name, last) in [("a", 11), ("b", 12), ("c", 13)] {
        text.push_str(&format!(
            "service {name} 10.0.0.{last} {} --net:service=tap-{name} -- --ipv4=10.0.0.{last}/24 --log-level=warn\n",
            s(&image)
        ));
    }
    std::fs::write(&conf, text).unwrap();
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_oasis"));
    cmd.args(["summon", s(&conf)]);
    let mut log = Logged::start(cmd, "summon");
    log.wait_for("serving svc.test.", Duration::from_secs(20));

    let log = ns.within(move || {
        let mut log = log;
        // Not a service: NXDOMAIN at once, nothing booted.
        let (rcode, a, _) = ask(SUMMONER, 1, "nope.svc.test", Duration::from_secs(5));
        assert_eq!((rcode, a.len()), (3, 0), "NXDOMAIN for nope");
        assert!(!log.output().contains("booting"), "{}", log.output());

        // Cold: booted, answered with its address once ready, serving.
        let (rcode, a, cold) = ask(SUMMONER, 2, "a.svc.test", Duration::from_secs(30));
        assert_eq!((rcode, a), (0, vec![[10, 0, 0, 11]]), "{}", log.output());
        // Logged before the answer went out; the log is read as it comes.
        log.wait_for("summon: a: ready in", Duration::from_secs(5));
        serves("10.0.0.11", 3, &log);
        let first = boot_pid(&log, "a", 1);
        println!("summon: cold query answered in {cold:?}");

        // Warm: at once, no second boot.
        let (rcode, a, warm) = ask(SUMMONER, 4, "A.SVC.TEST", Duration::from_secs(5));
        assert_eq!((rcode, a), (0, vec![[10, 0, 0, 11]]));
        assert_eq!(boots(&log, "a"), 1, "{}", log.output());
        println!("summon: warm query answered in {warm:?}");

        // The bound: b and c asked together with max-boots 1.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        sock.send_to(&dns::query(5, "b.svc.test", dns::TYPE_A), SUMMONER)
            .unwrap();
        sock.send_to(&dns::query(6, "c.svc.test", dns::TYPE_A), SUMMONER)
            .unwrap();
        let mut rcodes = Vec::new();
        let mut buf = [0u8; 1500];
        for _ in 0..2 {
            sock.recv_from(&mut buf).expect("both answered");
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            rcodes.push((id, u16::from_be_bytes([buf[2], buf[3]]) & 0xf));
        }
        rcodes.sort();
        assert_eq!(
            rcodes,
            [(5, 0), (6, 2)],
            "b booted, c SERVFAIL: {}",
            log.output()
        );
        assert_eq!(boots(&log, "c"), 0, "{}", log.output());
        serves("10.0.0.12", 7, &log);

        // Idle: stopped after IDLE without a query, then summoned again.
        log.wait_for(&format!("a: pid {first} exited"), IDLE * 5);
        assert!(log.output().contains("a: idle for"), "{}", log.output());
        assert!(gone(first), "pid {first} is gone");
        let (rcode, a, _) = ask(SUMMONER, 8, "a.svc.test", Duration::from_secs(30));
        assert_eq!((rcode, a), (0, vec![[10, 0, 0, 11]]));
        let second = boot_pid(&log, "a", 2);
        assert_ne!(first, second);
        serves("10.0.0.11", 9, &log);

        // A crash: SIGKILL to the VMM (its pid, from the log); the next
        // query summons it again.
        // SAFETY: kill(2) on the pid of a VMM this test's summoner started.
        unsafe { libc::kill(second as libc::pid_t, libc::SIGKILL) };
        log.wait_for(
            &format!("a: pid {second} exited (signal: 9"),
            Duration::from_secs(10),
        );
        let (rcode, a, _) = ask(SUMMONER, 10, "a.svc.test", Duration::from_secs(30));
        assert_eq!((rcode, a), (0, vec![[10, 0, 0, 11]]));
        let third = boot_pid(&log, "a", 3);
        serves("10.0.0.11", 11, &log);
        let b = boot_pid(&log, "b", 1);
        (log, [first, second, third, b])
    });
    let (log, pids) = log;
    // SIGTERM: the summoner stops its VMMs and leaves cleanly.
    let (status, out) = log.stop_within(libc::SIGTERM, Duration::from_secs(20));
    assert_eq!(status, Some(0), "{out}");
    for pid in pids {
        assert!(gone(pid), "VMM {pid} outlived the summoner:\n{out}");
    }
    drop(ns);
    ran("kvm_summon_boots_on_query_stops_when_idle_and_resummons_after_a_crash");
}
