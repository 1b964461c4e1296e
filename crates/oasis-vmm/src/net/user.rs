//! `--net:NAME=user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT,…`:
//! user-mode networking, for people without root or a TAP.
//!
//! The VMM is the guest's whole network: a gateway at 10.0.0.1 on a
//! private Ethernet link (it answers ARP, ICMP echo and DHCP, leasing the
//! guest 10.0.0.2/24 with 10.0.0.1 as its router), and one host socket per
//! forward on 127.0.0.1 — a UDP socket for `fwd=udp`, a listener for
//! `fwd=tcp`. Each host UDP client gets its own source port on the link so
//! the guest's replies find it again (at most 256 clients per forward, the
//! least recently heard forgotten first, idle ones after 60 s); each
//! accepted TCP connection is spliced to a connection from the gateway to
//! the guest's port, both directions with half-close and 64 KiB buffers.
//! The gateway itself is oasis-host's `usernet::Gateway` (smoltcp); this
//! file joins it to the guest's rings and to the VMM's POLL.
//!
//! Nothing ever leaves loopback and the link: the gateway only binds and
//! listens on 127.0.0.1, answers the peers that reached it there, and
//! routes nothing from the guest anywhere else (no NAT). Every frame from
//! the guest passes [`super::guard`] first; malformed ones are dropped and
//! counted.

use std::time::{Duration, Instant};

use oasis_abi::ring::Ring;
use oasis_host::usernet::{Gateway, UserNetConfig};

use super::guard::{self, Verdict};
use super::{Moved, NetError};

/// The gateway's timers are never run sooner than this after the last run,
/// so a timer that stays due (a smoltcp socket waiting for room) cannot spin
/// the VMM.
const TIMER_FLOOR: Duration = Duration::from_micros(200);

/// What the device counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Frames from the guest passed to the gateway.
    pub from_guest: u64,
    /// Frames put into the guest's RX ring.
    pub to_guest: u64,
    /// Frames from the guest dropped as malformed.
    pub malformed: u64,
    /// Frames from the guest the link does not carry (IPv6, fragments, …).
    pub ignored: u64,
}

/// A net device backed by the VMM's gateway.
pub struct UserNet {
    gateway: Gateway,
    rx: Ring,
    tx: Ring,
    /// The gateway's clock: nanoseconds since `epoch`, plus `base`.
    epoch: Instant,
    base: u64,
    last_poll: Instant,
    counters: Counters,
}

impl UserNet {
    /// The RX and TX rings.
    pub fn rings(&self) -> (&Ring, &Ring) {
        (&self.rx, &self.tx)
    }

    /// Parses the attachment `spec` (`user,fwd=…`) and opens every forward's
    /// host socket on 127.0.0.1; `seed` randomises the gateway's TCP
    /// sequence numbers and ports. The error says which forward failed.
    pub fn open(spec: &str, rx: Ring, tx: Ring, seed: u64) -> Result<UserNet, String> {
        let config = UserNetConfig::parse(spec)?;
        // Any start will do for the clock; a random one seeds the gateway's
        // stack (smoltcp takes its seed from the first time it is given).
        let base = seed & ((1 << 52) - 1);
        let gateway = Gateway::new(config, base)?;
        let now = Instant::now();
        Ok(UserNet {
            gateway,
            rx,
            tx,
            epoch: now,
            base,
            last_poll: now,
            counters: Counters::default(),
        })
    }

    fn clock(&self, now: Instant) -> u64 {
        self.base + now.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// What the device counted so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Passes every frame in the TX ring through the guard to the gateway.
    fn take_tx(&mut self) -> Result<u32, NetError> {
        let mut n = 0;
        while let Some(frame) = self.tx.peek().map_err(NetError::Ring)? {
            match guard::check(frame) {
                Verdict::Pass => {
                    self.gateway.from_guest(frame);
                    self.counters.from_guest += 1;
                }
                Verdict::Ignore => self.counters.ignored += 1,
                Verdict::Drop(_) => self.counters.malformed += 1,
            }
            self.tx.consume();
            n += 1;
        }
        Ok(n)
    }

    /// Moves frames the gateway has for the guest into free RX slots.
    fn put_rx(&mut self) -> Result<u32, NetError> {
        let rx = &mut self.rx;
        let mut broken = None;
        let n = self
            .gateway
            .drain_to_guest(&mut |frame| match rx.next_free() {
                Ok(Some(slot)) if frame.len() <= slot.len() => {
                    slot[..frame.len()].copy_from_slice(frame);
                    match rx.produce(frame.len()) {
                        Ok(()) => true,
                        Err(e) => {
                            broken = Some(e);
                            false
                        }
                    }
                }
                // Longer than a slot: the gateway never makes one; drop it.
                Ok(Some(_)) => true,
                Ok(None) => false,
                Err(e) => {
                    broken = Some(e);
                    false
                }
            });
        if let Some(e) = broken {
            return Err(NetError::Ring(e));
        }
        self.counters.to_guest += n as u64;
        Ok(n as u32)
    }

    fn run_gateway(&mut self, now: Instant) {
        self.gateway.poll(self.clock(now));
        self.last_poll = now;
    }

    /// NetTx: the guest's frames go to the gateway, which answers the host
    /// at once (a reply to a host client leaves in this exit).
    pub fn send(&mut self, now: Instant) -> Result<u32, NetError> {
        let n = self.take_tx()?;
        self.run_gateway(now);
        Ok(n)
    }

    /// NetRx: the host's input, through the gateway, into the RX ring.
    pub fn receive(&mut self, now: Instant) -> Result<u32, NetError> {
        self.run_gateway(now);
        self.put_rx()
    }

    /// Both directions at once, for POLL.
    pub fn exchange(&mut self, now: Instant) -> Result<Moved, NetError> {
        let tx = self.take_tx()?;
        self.run_gateway(now);
        let rx = self.put_rx()?;
        Ok(Moved {
            tx,
            rx,
            pending: self.rx.pending().map_err(NetError::Ring)? > 0,
        })
    }

    /// The gateway's host sockets, each with what it waits for.
    pub fn wait_on(&self, out: &mut Vec<libc::pollfd>) {
        for h in self.gateway.host_fds() {
            let mut events = 0;
            if h.read {
                events |= libc::POLLIN;
            }
            if h.write {
                events |= libc::POLLOUT;
            }
            if events != 0 {
                out.push(libc::pollfd {
                    fd: h.fd,
                    events,
                    revents: 0,
                });
            }
        }
    }

    /// When the gateway's timers (TCP retransmission, ARP, delayed ACKs) next
    /// need it to run; never sooner than 200 µs after its last run.
    pub fn wake_at(&mut self, now: Instant) -> Option<Instant> {
        let at = self.gateway.poll_at(self.clock(now))?;
        let at = self.epoch + Duration::from_nanos(at.saturating_sub(self.base));
        Some(at.max(self.last_poll + TIMER_FLOOR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::guard::tests::{ARP_REQUEST, ping_frame, udp_frame};
    use oasis_abi::ring::{DEFAULT_SLOT_SIZE, DEFAULT_SLOTS, End, ring_bytes};

    /// Both rings in one buffer, with the guest's ends beside the VMM's.
    struct Link {
        _mem: Vec<u64>,
        net: UserNet,
        guest_rx: Ring,
        guest_tx: Ring,
    }

    fn link(spec: &str) -> Link {
        let bytes = ring_bytes(DEFAULT_SLOTS, DEFAULT_SLOT_SIZE) as usize;
        let mut mem = vec![0u64; bytes / 4];
        let base = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: two rings of `bytes` inside `mem`, which the Link keeps alive.
        let (rx, tx, guest_rx, guest_tx) = unsafe {
            let (rx, tx) =
                crate::net::rings(base, base.add(bytes), DEFAULT_SLOTS, DEFAULT_SLOT_SIZE);
            (
                rx,
                tx,
                Ring::new(base, DEFAULT_SLOTS, DEFAULT_SLOT_SIZE, End::Consumer),
                Ring::new(
                    base.add(bytes),
                    DEFAULT_SLOTS,
                    DEFAULT_SLOT_SIZE,
                    End::Producer,
                ),
            )
        };
        Link {
            net: UserNet::open(spec, rx, tx, 12345).unwrap(),
            _mem: mem,
            guest_rx,
            guest_tx,
        }
    }

    impl Link {
        fn guest_sends(&mut self, frame: &[u8]) {
            assert!(self.guest_tx.push(frame).unwrap());
        }
        fn guest_receives(&mut self) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            while let Some(f) = self.guest_rx.peek().unwrap() {
                out.push(f.to_vec());
                self.guest_rx.consume();
            }
            out
        }
    }

    #[test]
    fn the_gateway_answers_arp_and_malformed_frames_are_counted() {
        let mut l = link("user");
        l.guest_sends(&ARP_REQUEST);
        l.guest_sends(&[0u8; 10]);
        let mut bad = udp_frame(7, 40000, b"x");
        bad[30] ^= 1;
        l.guest_sends(&bad);
        let moved = l.net.exchange(Instant::now()).unwrap();
        assert_eq!((moved.tx, moved.rx, moved.pending), (3, 1, true));
        let replies = l.guest_receives();
        assert_eq!(replies.len(), 1);
        let reply = &replies[0];
        assert_eq!(&reply[12..14], &[0x08, 0x06], "an ARP frame");
        assert_eq!(&reply[20..22], &[0, 2], "a reply");
        assert_eq!(&reply[28..32], &[10, 0, 0, 1], "from the gateway's address");
        assert_eq!(&reply[0..6], &ARP_REQUEST[6..12], "to the asker");
        let c = l.net.counters();
        assert_eq!((c.from_guest, c.malformed, c.to_guest), (1, 2, 1));
    }

    /// A link with a UDP forward from a free host port to the guest's port
    /// 7, after the guest asked for its gateway (as a stack does first; the
    /// gateway learns the guest's MAC from it).
    fn udp_forward_link() -> (Link, u16) {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut l = link(&format!("user,fwd=udp:{port}:7"));
        l.guest_sends(&ARP_REQUEST);
        l.net.exchange(Instant::now()).unwrap();
        l.guest_receives();
        (l, port)
    }

    /// A datagram from a host client reaches the guest's port from a gateway
    /// port, and the guest's answer to that port reaches the client.
    #[test]
    fn a_udp_forward_carries_a_request_and_its_reply() {
        let (mut l, port) = udp_forward_link();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        client.send_to(b"question", ("127.0.0.1", port)).unwrap();
        let mut frames = Vec::new();
        for _ in 0..100 {
            l.net.exchange(Instant::now()).unwrap();
            frames = l.guest_receives();
            if !frames.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let f = frames
            .iter()
            .find(|f| f.len() > 42 && f[23] == 17)
            .unwrap_or_else(|| panic!("no datagram for the guest in {frames:?}"));
        assert_eq!(&f[30..34], &[10, 0, 0, 2], "to the guest");
        assert_eq!(&f[36..38], &7u16.to_be_bytes(), "to the guest's port");
        assert_eq!(&f[42..], b"question");
        let gateway_port = u16::from_be_bytes([f[34], f[35]]);
        l.guest_sends(&udp_frame(7, gateway_port, b"answer"));
        l.net.send(Instant::now()).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"answer");
        assert_eq!(from.port(), port, "from the forward's host port");
    }

    #[test]
    fn a_burst_from_one_client_reaches_the_guest_whole() {
        let (mut l, port) = udp_forward_link();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..200u8 {
            client.send_to(&[i], ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let mut total = 0;
        for _ in 0..10 {
            l.net.exchange(Instant::now()).unwrap();
            total += l.guest_receives().len();
        }
        assert_eq!(total, 200);
    }

    #[test]
    fn connections_beyond_the_limit_wait_in_the_backlog() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut l = link(&format!("user,fwd=tcp:{port}:7,tcp-conns=64"));
        l.guest_sends(&ARP_REQUEST);
        l.net.exchange(Instant::now()).unwrap();
        l.guest_receives();
        let clients: Vec<_> = (0..100)
            .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let mut syns = std::collections::BTreeSet::new();
        for _ in 0..5 {
            l.net.exchange(Instant::now()).unwrap();
            for f in l.guest_receives() {
                if f.len() >= 54 && f[23] == 6 && f[47] & 0x02 != 0 {
                    syns.insert(u16::from_be_bytes([f[34], f[35]]));
                }
            }
        }
        assert_eq!(syns.len(), 64);
        let mut fds = Vec::new();
        l.net.wait_on(&mut fds);
        // Neither the listener (at its limit) nor a connection still opening
        // towards the guest is waited on for input.
        assert_eq!(
            fds.iter().filter(|p| p.events & libc::POLLIN != 0).count(),
            0
        );
        drop(clients);
    }

    #[test]
    fn the_gateway_answers_ping() {
        let mut l = link("user");
        l.guest_sends(&ARP_REQUEST);
        l.guest_sends(&ping_frame(b"are you there"));
        l.net.exchange(Instant::now()).unwrap();
        let replies = l.guest_receives();
        let pong = replies
            .iter()
            .find(|f| f.len() > 34 && f[12..14] == [0x08, 0x00] && f[23] == 1)
            .unwrap_or_else(|| panic!("no ICMP reply in {replies:?}"));
        assert_eq!(pong[34], 0, "an echo reply");
        assert_eq!(&pong[26..30], &[10, 0, 0, 1], "from the gateway");
        assert_eq!(&pong[42..], b"are you there");
        assert_eq!(guard::check(pong), Verdict::Pass, "a well-formed reply");
    }

    #[test]
    fn forwards_bind_loopback_and_are_waited_on() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        drop(udp);
        let l = link(&format!("user,fwd=udp:{port}:7"));
        let mut fds = Vec::new();
        l.net.wait_on(&mut fds);
        assert_eq!(fds.len(), 1);
        assert_eq!(fds[0].events, libc::POLLIN);
        // The port is taken now, on 127.0.0.1.
        assert!(std::net::UdpSocket::bind(("127.0.0.1", port)).is_err());
        let e = UserNet::open(
            &format!("user,fwd=udp:{port}:7"),
            // SAFETY: never used; open fails before it touches the rings.
            unsafe { dummy_ring(End::Producer) },
            unsafe { dummy_ring(End::Consumer) },
            1,
        )
        .err()
        .unwrap();
        assert!(e.contains(&format!("cannot bind 127.0.0.1:{port}")), "{e}");
        assert!(
            UserNet::open(
                "user,fwd=icmp:1:2",
                unsafe { dummy_ring(End::Producer) },
                unsafe { dummy_ring(End::Consumer) },
                1
            )
            .is_err()
        );
    }

    /// A ring over leaked memory, for calls that fail before using it.
    ///
    /// # Safety
    /// None beyond leaking a small buffer.
    unsafe fn dummy_ring(end: End) -> Ring {
        let mem: &'static mut [u64] = Box::leak(vec![0u64; 64].into_boxed_slice());
        // SAFETY: 512 bytes hold a ring of 2 slots of 16 bytes plus the header.
        unsafe { Ring::new(mem.as_mut_ptr().cast(), 2, 16, end) }
    }
}
