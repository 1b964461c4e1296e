//! Response-rate limiting end to end: apps/dns on kvm over a TAP, inside
//! a network namespace this test creates (tap0 at 10.0.0.1/24 and
//! 10.0.1.1/24, the unikernel 10.0.0.2) and deletes, also on failure.
//! Client A (10.0.0.1) floods one name; client B (10.0.1.1, another /24)
//! asks at an ordinary pace meanwhile. A gets about the configured rate,
//! every second answer held back as a truncated one and the rest nothing;
//! B gets every answer; the server's `dns stats` line counts the same.
//! Nothing is sent outside the namespace. Needs root and /dev/kvm.
//!
//! ```text
//! oasis vmm --net:service=tap0 dns -- --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1 --rrl-rate=20 --dns-stats=1
//! ```

mod common;
#[allow(unused_imports)] // the shared module has more than this test uses
mod usernet;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{kvm_usable, ran, s};
use oasis_testkit::netns::{Netns, may_run};
use oasis_testkit::process::Logged;
use usernet::{dns, image};

const RATE: u64 = 20;
/// Queries client A sends, one a millisecond.
const FLOOD: u64 = 2000;
/// Queries client B sends, spread over the flood.
const CALM: u64 = 50;

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    sent: u64,
    full: u64,
    slipped: u64,
    /// Seconds from the first query to the last.
    span: f64,
}

/// Sorts a reply into `seen`: a truncated one (TC, no answers) or a full one.
fn sort(reply: &[u8], seen: &mut Seen) {
    let flags = u16::from_be_bytes([reply[2], reply[3]]);
    assert!(flags & 0x8000 != 0, "a response: {reply:?}");
    if flags & 0x0200 != 0 {
        assert!(dns::answers(reply).is_empty(), "a slip has no records");
        assert_eq!(&reply[4..6], &[0, 1], "a slip echoes the question");
        seen.slipped += 1;
    } else {
        assert!(!dns::answers(reply).is_empty(), "a full answer: {reply:?}");
        seen.full += 1;
    }
}

/// Client A: `FLOOD` queries from 10.0.0.1, one a millisecond, reading
/// whatever comes back, then 500 ms more for the stragglers.
fn flood() -> Seen {
    let sock = UdpSocket::bind("10.0.0.1:0").unwrap();
    sock.connect("10.0.0.2:53").unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut seen = Seen::default();
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    let mut drain = |seen: &mut Seen| {
        while let Ok(n) = sock.recv(&mut buf) {
            sort(&buf[..n], seen);
        }
    };
    for i in 0..FLOOD {
        let due = start + Duration::from_micros(1000 * i);
        while Instant::now() < due {
            drain(&mut seen);
            std::thread::sleep(Duration::from_micros(200));
        }
        if sock
            .send(&dns::query(i as u16, "www.example.com", dns::TYPE_A))
            .is_ok()
        {
            seen.sent += 1;
        }
    }
    seen.span = start.elapsed().as_secs_f64();
    let end = Instant::now() + Duration::from_millis(500);
    while Instant::now() < end {
        drain(&mut seen);
        std::thread::sleep(Duration::from_millis(1));
    }
    seen
}

/// Client B: `CALM` queries from 10.0.1.1 over two seconds, each waiting
/// (up to a second) for its answer.
fn calm() -> Seen {
    let sock = UdpSocket::bind("10.0.1.1:0").unwrap();
    sock.connect("10.0.0.2:53").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut seen = Seen::default();
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    for i in 0..CALM {
        let due = start + Duration::from_millis(2000 * i / CALM);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let id = 0x8000 | i as u16;
        sock.send(&dns::query(id, "www.example.com", dns::TYPE_A))
            .unwrap();
        seen.sent += 1;
        while let Ok(n) = sock.recv(&mut buf) {
            if buf[..2] == id.to_be_bytes() {
                sort(&buf[..n], &mut seen);
                break;
            }
        }
    }
    seen.span = start.elapsed().as_secs_f64();
    seen
}

/// The numbers of the last `dns stats:` line:
/// [queries, malformed, refused, truncated, dropped, slipped, evicted]
/// (the cookie counts after them left out: these queries carry none).
fn stats(vmm: &Logged) -> [u64; 7] {
    let line = vmm
        .last_line("dns stats:")
        .unwrap_or_else(|| panic!("no stats line:\n{}", vmm.output()));
    let numbers: Vec<u64> = line
        .split("dns stats:")
        .nth(1)
        .unwrap()
        .split("; cookies")
        .next()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    numbers
        .try_into()
        .unwrap_or_else(|n| panic!("seven counts expected in {line:?}: {n:?}"))
}

#[test]
fn kvm_dns_limits_a_flood_from_one_prefix_and_answers_another() {
    if !(kvm_usable() && may_run(true, &["ip"])) {
        return;
    }
    let dns_image = image("apps/dns");
    let ns = Netns::with_tap("rrl");
    ns.ip(&["addr", "add", "10.0.1.1/24", "dev", "tap0"]);
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_oasis"));
    cmd.args(["vmm", "--net:service=tap0", s(&dns_image), "--"])
        .args(["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"])
        .args([&format!("--rrl-rate={RATE}"), "--dns-stats=1"]);
    let mut vmm = Logged::start(cmd, "kvm-rrl");
    vmm.wait_for("listening on port 53", Duration::from_secs(60));
    // Logged just after: the console is read as it comes, so wait for it too.
    vmm.wait_for(
        "response-rate limiting over UDP: 20 answers/s",
        Duration::from_secs(10),
    );

    // One answer first, so the namespace knows the guest's MAC; then a
    // second and a half for that client's bucket to fill again.
    let warm = ns.within(|| {
        let sock = UdpSocket::bind("10.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 1500];
        (1..=10).find(|_| {
            sock.send_to(
                &dns::query(1, "www.example.com", dns::TYPE_A),
                "10.0.0.2:53",
            )
            .unwrap();
            sock.recv(&mut buf).is_ok()
        })
    });
    let warm = warm.unwrap_or_else(|| panic!("no answer at all:\n{}", vmm.output()));
    std::thread::sleep(Duration::from_millis(1500));

    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| ns.within(flood));
        let b = scope.spawn(|| ns.within(calm));
        (a.join().unwrap(), b.join().unwrap())
    });
    println!("rrl: client A {a:?}");
    println!("rrl: client B {b:?}");

    // B, in another /24, is not limited at all.
    assert_eq!((b.sent, b.full, b.slipped), (CALM, CALM, 0), "{b:?}");
    // A: a burst (one second's worth) and the rate for the time it flooded.
    assert_eq!(a.sent, FLOOD);
    let most = (RATE as f64 * (a.span + 0.1)) as u64 + RATE + 2;
    let least = (RATE as f64 * a.span * 0.8) as u64;
    assert!(
        (least..=most).contains(&a.full),
        "A's full answers {} not within {least}..={most} ({:.2} s)",
        a.full,
        a.span
    );
    // Every second answer held back leaves truncated.
    let held = a.sent - a.full;
    let silent = held - a.slipped;
    assert!(
        a.slipped.abs_diff(silent) <= held / 50 + 2,
        "slipped {} against {silent} dropped",
        a.slipped
    );

    // The server counted the same (its line comes a second after the last change).
    std::thread::sleep(Duration::from_millis(2500));
    let [queries, _, _, _, dropped, slipped, evicted] = stats(&vmm);
    let asked = warm + a.sent + b.sent;
    assert_eq!(queries, asked, "{}", vmm.output());
    assert!(
        slipped >= a.slipped && slipped - a.slipped <= 5,
        "{slipped} slipped against {} seen",
        a.slipped
    );
    assert!(
        dropped.abs_diff(silent) <= 5 + slipped - a.slipped,
        "{dropped} dropped against {silent} unanswered"
    );
    assert_eq!(evicted, 0);
    println!(
        "rrl: server counted {queries} queries, {dropped} dropped, {slipped} slipped, {evicted} evicted"
    );
    drop(vmm);
    drop(ns);
    ran("kvm_dns_limits_a_flood_from_one_prefix_and_answers_another");
}
