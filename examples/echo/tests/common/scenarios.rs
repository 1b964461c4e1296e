//! The namespace scenarios, each run against echo on the hosted direct
//! stack and as a kvm unikernel ([`Runner`]).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::frames::*;
use super::*;

/// echo at 10.0.0.2 answers ping, echoes UDP datagrams of every size from
/// 1 to 1472 bytes and 10 MiB over TCP, byte for byte (by hash).
pub fn echo_over_tap(runner: Runner) {
    let ns = Netns::with_tap(&format!("echo-{}", runner.tag()));
    let mut server = start_echo(
        &ns,
        runner,
        &["--ipv4=10.0.0.2/24", "--ipv4-gateway=10.0.0.1"],
        "tap",
    );
    server.wait_for("serving UDP and TCP on port 7", runner.boot_limit());
    assert!(
        ns.ping("10.0.0.2"),
        "no answer to ping:\n{}",
        server.output()
    );
    let to = "10.0.0.2:7".parse().unwrap();
    ns.within(|| udp_every_size(to, 1472));
    let (sent, back, len) = ns.within(|| tcp_echo(to, 10 << 20));
    assert_eq!(len, 10 << 20, "bytes echoed");
    assert_eq!(sent, back, "hash of what came back");
}

/// Debian's dnsmasq, started in the namespace, leases an address to echo
/// (started without --ipv4), which then answers ping and echoes there.
pub fn dhcp_lease(runner: Runner) {
    let ns = Netns::with_tap(&format!("dhcp-{}", runner.tag()));
    let leases = std::env::temp_dir().join(format!(
        "oasis-echo-dhcp-{}-{}.leases",
        runner.tag(),
        std::process::id()
    ));
    let mut dnsmasq = ns.command("dnsmasq");
    dnsmasq.args([
        "--keep-in-foreground",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0", // no DNS, DHCP only
        "--interface=tap0",
        "--bind-interfaces",
        "--dhcp-range=10.0.0.50,10.0.0.59,255.255.255.0,10m",
        "--dhcp-option=option:router,10.0.0.1",
        "--pid-file",
        &format!("--dhcp-leasefile={}", leases.display()),
        "--log-dhcp",
    ]);
    let mut dhcpd = Server::start(dnsmasq, &format!("dnsmasq-{}", runner.tag()));
    dhcpd.wait_for("DHCP, IP range 10.0.0.50", Duration::from_secs(10));

    let mut server = start_echo(&ns, runner, &["--dhcp"], "dhcp");
    let line = server.wait_for("DHCP lease", runner.boot_limit() + Duration::from_secs(30));
    // "… DHCP lease 10.0.0.5x/24 via 10.0.0.1 from 10.0.0.1"
    let addr = line
        .split("DHCP lease ")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in `{line}`"))
        .to_string();
    assert!(
        addr.starts_with("10.0.0.5"),
        "leased {addr}, outside the range"
    );
    assert!(line.contains("via 10.0.0.1"), "{line}");
    assert!(
        ns.ping(&addr),
        "no answer to ping at {addr}:\n{}",
        server.output()
    );
    let to = format!("{addr}:7").parse().unwrap();
    let (sent, back, _) = ns.within(|| tcp_echo(to, 64 << 10));
    assert_eq!(sent, back);
    let _ = std::fs::remove_file(&leases);
}

const EACH: u64 = 50;
const SYNS: u16 = 2000;
const SPOOFED: u16 = 300;

/// Truncated, malformed and badly summed frames, then a SYN flood (some
/// from addresses that never answer): each bad frame is dropped and
/// counted by its reason, the SYNs counted, half-open connections expire,
/// and echo keeps serving.
pub fn bad_input(runner: Runner) {
    let ns = Netns::with_tap(&format!("bad-{}", runner.tag()));
    // A deep TAP queue, so that a busy machine (a debug build under CI)
    // loses none of the frames the counters are checked against.
    ns.ip(&["link", "set", "tap0", "txqueuelen", "10000"]);
    let mut server = start_echo(&ns, runner, &["--ipv4=10.0.0.2/24", "--net-stats=1"], "bad");
    let mac = mac_of(&server.wait_for("direct stack on MAC", runner.boot_limit()));
    server.wait_for("serving UDP and TCP", Duration::from_secs(10));
    assert!(ns.ping("10.0.0.2"), "no answer to ping before the test");

    let good_udp = ipv4_frame(mac, HOST, 17, udp(b"hello"));
    let good_tcp = ipv4_frame(mac, HOST, 6, syn(40000));
    let good_icmp = ipv4_frame(mac, HOST, 1, icmp_echo());
    let mut truncated: Vec<Vec<u8>> = Vec::new();
    truncated.push(good_udp[..14].to_vec()); // an Ethernet header and nothing after
    truncated.push(good_udp[..14 + 12].to_vec()); // half an IPv4 header
    let mut long = good_udp.clone();
    long[14 + 2..14 + 4].copy_from_slice(&1400u16.to_be_bytes()); // total length past the frame
    truncated.push(long);
    truncated.push(ipv4_frame(mac, HOST, 6, vec![0u8; 10])); // a TCP header cut short
    let mut bad_sum: Vec<Vec<u8>> = Vec::new();
    let mut f = good_udp.clone();
    f[14 + 10] ^= 0x55; // IPv4 header checksum
    bad_sum.push(f);
    let mut f = good_udp.clone();
    *f.last_mut().unwrap() ^= 0x01; // UDP payload, checksum now wrong
    bad_sum.push(f);
    let mut f = good_tcp.clone();
    f[14 + 20 + 16] ^= 0x01; // TCP checksum
    bad_sum.push(f);
    let mut f = good_icmp.clone();
    f[14 + 20 + 2] ^= 0x01; // ICMP checksum
    bad_sum.push(f);
    let mut malformed: Vec<Vec<u8>> = Vec::new();
    let mut f = good_udp.clone();
    f[14] = 0x65; // IP version 6 in an IPv4 frame
    malformed.push(f);

    let before = counters_now(&mut server);
    ns.within(|| {
        let wire = Wire::open();
        for _ in 0..EACH {
            for f in truncated.iter().chain(&bad_sum).chain(&malformed) {
                wire.send(f);
            }
        }
        // Paced in bursts, so that the TAP's own queue (1000 frames) does
        // not overflow before echo reads it: every SYN should be counted.
        for i in 0..SYNS + SPOOFED {
            let src = if i < SYNS {
                HOST
            } else {
                Ipv4Addr::new(10, 0, 0, 100 + (i % 100) as u8)
            };
            wire.send(&ipv4_frame(mac, src, 6, syn(20000 + i)));
            if i % 100 == 99 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });

    // The counters show every bad frame by its reason, and every SYN.
    let want_syns = before.syns + u64::from(SYNS + SPOOFED);
    // The spoofed openings filled the backlog: older ones were given up for
    // newer ones, and the last ones expired.
    let after = wait_counters(&mut server, |c| {
        c.syns >= want_syns && c.evicted > 0 && c.expired > 0
    });
    assert_eq!(
        after.truncated - before.truncated,
        EACH * truncated.len() as u64
    );
    assert_eq!(
        after.checksum - before.checksum,
        EACH * bad_sum.len() as u64
    );
    assert_eq!(
        after.malformed - before.malformed,
        EACH * malformed.len() as u64
    );

    // And echo still serves.
    assert!(ns.ping("10.0.0.2"), "no answer to ping after the flood");
    let to = "10.0.0.2:7".parse().unwrap();
    ns.within(|| udp_every_size(to, 1472));
    let (sent, back, len) = ns.within(|| tcp_echo(to, 1 << 20));
    assert_eq!((sent, len), (back, 1 << 20), "TCP echo after the flood");
}

#[derive(Debug, Clone, Copy)]
struct Counters {
    truncated: u64,
    checksum: u64,
    malformed: u64,
    syns: u64,
    expired: u64,
    evicted: u64,
}

fn parse(line: &str) -> Counters {
    Counters {
        truncated: counter(line, "truncated"),
        checksum: counter(line, "checksum"),
        malformed: counter(line, "malformed"),
        syns: counter(line, "tcp syn"),
        expired: counter(line, "half-open expired"),
        evicted: counter(line, "evicted"),
    }
}

fn counters_now(server: &mut Server) -> Counters {
    parse(&server.wait_for("stats:", Duration::from_secs(5)))
}

/// Waits (up to 15 s) for a stats line meeting `done`.
fn wait_counters(server: &mut Server, done: impl Fn(&Counters) -> bool) -> Counters {
    let start = Instant::now();
    loop {
        if let Some(line) = server.last_line("stats:") {
            let c = parse(&line);
            if done(&c) {
                return c;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "counters never got there; last: {line}"
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// IPv6: with `--ipv6=fd00::2/64` echo answers ping and echoes UDP and TCP
/// there; without it, a router advertisement for fd00::/64 (from dnsmasq)
/// gives it a SLAAC address derived from its MAC, which answers too.
pub fn ipv6(runner: Runner) {
    // Static.
    let ns = Netns::with_tap(&format!("v6s-{}", runner.tag()));
    ns.ip(&["addr", "add", "fd00::1/64", "dev", "tap0", "nodad"]);
    let mut server = start_echo(
        &ns,
        runner,
        &["--ipv4=10.0.0.2/24", "--ipv6=fd00::2/64"],
        "v6-static",
    );
    server.wait_for("serving UDP and TCP", runner.boot_limit());
    assert!(
        ns.ping("fd00::2"),
        "no answer to ping6:\n{}",
        server.output()
    );
    let to = "[fd00::2]:7".parse().unwrap();
    ns.within(|| udp_every_size(to, 1452));
    let (sent, back, _) = ns.within(|| tcp_echo(to, 1 << 20));
    assert_eq!(sent, back, "TCP over IPv6");
    drop(server);
    drop(ns);

    // SLAAC.
    let ns = Netns::with_tap(&format!("v6a-{}", runner.tag()));
    ns.ip(&["addr", "add", "fd00::1/64", "dev", "tap0", "nodad"]);
    let mut radv = ns.command("dnsmasq");
    radv.args([
        "--keep-in-foreground",
        "--no-daemon",
        "--conf-file=/dev/null",
        "--port=0",
        "--interface=tap0",
        "--bind-interfaces",
        "--enable-ra",
        "--dhcp-range=fd00::,ra-only,64,10m",
        "--pid-file",
        "--leasefile-ro",
    ]);
    let mut router = Server::start(radv, &format!("radv-{}", runner.tag()));
    router.wait_for("router advertisement on fd00::", Duration::from_secs(10));
    let mut server = start_echo(&ns, runner, &["--ipv4=10.0.0.2/24"], "v6-slaac");
    let mac = mac_of(&server.wait_for("direct stack on MAC", runner.boot_limit()));
    let want = slaac_address(mac);
    // The router answers a solicitation after its own delays (RFC 4861
    // rate-limits advertisements to one per 3 s), so this takes seconds.
    server.wait_for(&format!("{want}/64"), Duration::from_secs(30));

    assert!(
        ns.ping(&want.to_string()),
        "no answer to ping6 at {want}:\n{}",
        server.output()
    );
    let to = std::net::SocketAddr::new(want.into(), 7);
    ns.within(|| udp_every_size(to, 200));
}

/// The SLAAC address of `mac` in fd00::/64 (modified EUI-64).
fn slaac_address(mac: [u8; 6]) -> std::net::Ipv6Addr {
    std::net::Ipv6Addr::from([
        0xfd,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 2,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}
