//! Hostile input: from inside a namespace the test creates, frames that are
//! truncated, malformed or carry bad checksums, then a flood of SYNs (some
//! from addresses that never answer), are sent at echo on the hosted direct
//! stack. Each bad frame is dropped and counted by its reason, the SYNs are
//! counted, half-open connections expire, and echo keeps serving.
//! Needs root.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;

const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const ECHO: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const HOST_MAC: [u8; 6] = [0x02, 0xaa, 0, 0, 0, 1];

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame to `dst_mac` carrying an IPv4 packet of `proto` with
/// a correct header checksum and a transport checksum made correct.
fn ipv4_frame(dst_mac: [u8; 6], src: Ipv4Addr, proto: u8, mut l4: Vec<u8>) -> Vec<u8> {
    let pseudo = |len: usize| -> Vec<u8> {
        let mut p = Vec::new();
        p.extend_from_slice(&src.octets());
        p.extend_from_slice(&ECHO.octets());
        p.extend_from_slice(&[0, proto]);
        p.extend_from_slice(&(len as u16).to_be_bytes());
        p
    };
    match proto {
        6 if l4.len() >= 20 => {
            l4[16..18].fill(0);
            let c = checksum(&[&pseudo(l4.len()), &l4]);
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
        17 => {
            l4[6..8].fill(0);
            let c = checksum(&[&pseudo(l4.len()), &l4]);
            l4[6..8].copy_from_slice(&c.to_be_bytes());
        }
        1 => {
            l4[2..4].fill(0);
            let c = checksum(&[&l4]);
            l4[2..4].copy_from_slice(&c.to_be_bytes());
        }
        _ => {}
    }
    let total = 20 + l4.len();
    let mut ip = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&ECHO.octets());
    let c = checksum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&l4);
    f
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0x15, 0xb3, 0, 7, 0, 0, 0, 0];
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

fn syn(src_port: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&src_port.to_be_bytes());
    t[2..4].copy_from_slice(&7u16.to_be_bytes());
    t[4..8].copy_from_slice(
        &u32::from(src_port)
            .wrapping_mul(2_654_435_761)
            .to_be_bytes(),
    );
    t[12] = 5 << 4;
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&64240u16.to_be_bytes());
    t
}

fn icmp_echo() -> Vec<u8> {
    vec![8, 0, 0, 0, 0, 1, 0, 1, b'h', b'i']
}

/// Sends raw frames out of tap0 (to the echo process behind it).
struct Wire {
    fd: i32,
    addr: libc::sockaddr_ll,
}

impl Wire {
    fn open() -> Wire {
        // SAFETY: plain syscalls with checked results and valid pointers.
        unsafe {
            let fd = libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0);
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            let index = libc::if_nametoindex(c"tap0".as_ptr());
            assert!(index > 0, "tap0 index");
            let mut addr: libc::sockaddr_ll = std::mem::zeroed();
            addr.sll_family = libc::AF_PACKET as u16;
            addr.sll_ifindex = index as i32;
            addr.sll_halen = 6;
            Wire { fd, addr }
        }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: valid socket, buffer and address of the stated sizes.
        let n = unsafe {
            libc::sendto(
                self.fd,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&self.addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        // SAFETY: our own descriptor.
        unsafe { libc::close(self.fd) };
    }
}

const EACH: u64 = 50;
const SYNS: u16 = 2000;
const SPOOFED: u16 = 300;

#[test]
fn bad_frames_and_a_syn_flood_are_dropped_counted_and_echo_keeps_serving() {
    if !may_run(true, &["ip", "ping"]) {
        return;
    }
    let ns = Netns::with_tap("echo-bad");
    let mut cmd = ns.command(echo_bin());
    cmd.args([
        "--net:service=tap0",
        "--",
        "--ipv4=10.0.0.2/24",
        "--net-stats=1",
    ]);
    let mut server = Server::start(cmd, "bad");
    let mac = mac_of(&server.wait_for("direct stack on MAC", Duration::from_secs(10)));
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
    let after = wait_counters(&mut server, |c| c.syns >= want_syns && c.expired > 0);
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
}

fn parse(line: &str) -> Counters {
    Counters {
        truncated: counter(line, "truncated"),
        checksum: counter(line, "checksum"),
        malformed: counter(line, "malformed"),
        syns: counter(line, "tcp syn"),
        expired: counter(line, "half-open expired"),
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
