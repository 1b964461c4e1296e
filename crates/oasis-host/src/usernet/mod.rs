//! User-mode networking: a [`Gateway`] that plays the network for a guest
//! with no TAP and no root (the monitor's `--net:NAME=user,…`, and the
//! hosted platform's).
//!
//! The guest sees an Ethernet link with a router at 10.0.0.1 (the gateway,
//! which answers ARP, ICMP echo and DHCP) and is itself 10.0.0.2/24, by
//! DHCP (the default) or given as `--ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1`. Forwards carry UDP
//! datagrams and TCP connections between `127.0.0.1:HOSTPORT` on the host
//! and the guest's port, so a host client reaches the guest's server. The
//! guest cannot open connections to the outside (there is no NAT).
//!
//! The attachment is written
//! `--net:NAME=user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT`
//! ([`UserNetConfig::parse`]); under a service manager, `sd=NAME` in place of
//! HOSTPORT serves a socket it bound and passed ([`crate::activation`]). The owner of the guest's device moves
//! frames: [`Gateway::from_guest`] for each frame the guest sent,
//! [`Gateway::poll`] to do the host side, [`Gateway::drain_to_guest`] to
//! move frames into the guest's ring, and waits on [`Gateway::host_fds`]
//! until [`Gateway::poll_at`]. The monitor does this with the guest's
//! rings; the hosted platform's `UserNetDevice` does it for a direct stack
//! in the same process.

mod dhcp;
mod flows;

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::Ipv4Addr;
use std::os::fd::RawFd;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, HardwareAddress, IpCidr, Ipv4Cidr, Ipv4Packet,
};

use flows::{TcpForward, UdpForward};

/// The transport a forward carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// Datagrams.
    Udp,
    /// Connections.
    Tcp,
}

/// Where a forward's host end listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEnd {
    /// `127.0.0.1:PORT`, bound by the gateway (`HOSTPORT`).
    Port(u16),
    /// A socket a service manager bound and passed, by its name
    /// (`sd=NAME`, see [`crate::activation`]).
    Passed(String),
}

impl core::fmt::Display for HostEnd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HostEnd::Port(p) => write!(f, "{p}"),
            HostEnd::Passed(name) => write!(f, "sd={name}"),
        }
    }
}

/// One forward: the host end (`127.0.0.1:HOSTPORT`, or a passed socket) to
/// the guest's `guest_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// UDP or TCP.
    pub proto: Proto,
    /// Where the host's clients reach it.
    pub host: HostEnd,
    /// The port on the guest.
    pub guest_port: u16,
}

impl core::fmt::Display for Forward {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let proto = match self.proto {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        };
        write!(f, "fwd={proto}:{}:{}", self.host, self.guest_port)
    }
}

/// What the guest's network looks like and what is forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserNetConfig {
    /// The gateway's address (default 10.0.0.1).
    pub gateway: Ipv4Addr,
    /// The guest's address (default 10.0.0.2).
    pub guest: Ipv4Addr,
    /// The link's prefix length (default 24).
    pub prefix: u8,
    /// The forwards.
    pub forwards: Vec<Forward>,
    /// Forwarded TCP connections per forward at most (`tcp-conns=N`,
    /// default 1,024); more wait in the host's listen backlog.
    pub tcp_conns_max: usize,
}

impl Default for UserNetConfig {
    fn default() -> Self {
        UserNetConfig {
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            guest: Ipv4Addr::new(10, 0, 0, 2),
            prefix: 24,
            forwards: Vec::new(),
            tcp_conns_max: 1024,
        }
    }
}

impl UserNetConfig {
    /// Parses an attachment's backing: `user` followed by
    /// `,fwd=udp:HOSTPORT:GUESTPORT` or `,fwd=tcp:HOSTPORT:GUESTPORT`, any
    /// number of times, and optionally `,tcp-conns=N`. `sd=NAME` in place of
    /// HOSTPORT takes the socket a service manager passed under NAME
    /// instead of binding one ([`crate::activation`]). Errors name the part
    /// that is wrong.
    pub fn parse(spec: &str) -> Result<UserNetConfig, String> {
        let mut parts = spec.split(',');
        if parts.next() != Some("user") {
            return Err(format!("`{spec}`: a user-mode network starts with `user`"));
        }
        let mut config = UserNetConfig::default();
        for part in parts {
            if let Some(n) = part.strip_prefix("tcp-conns=") {
                config.tcp_conns_max = n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=65535).contains(n))
                    .ok_or_else(|| format!("`{part}`: N must be from 1 to 65535"))?;
                continue;
            }
            let Some(fwd) = part.strip_prefix("fwd=") else {
                return Err(format!(
                    "`{part}` in `{spec}`: expected fwd=udp:HOSTPORT:GUESTPORT or fwd=tcp:HOSTPORT:GUESTPORT"
                ));
            };
            let mut f = fwd.split(':');
            let proto = match f.next() {
                Some("udp") => Proto::Udp,
                Some("tcp") => Proto::Tcp,
                _ => return Err(format!("`{part}`: the protocol must be udp or tcp")),
            };
            let port = |p: Option<&str>, what: &str| -> Result<u16, String> {
                p.and_then(|p| p.parse::<u16>().ok())
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("`{part}`: {what} must be a port from 1 to 65535"))
            };
            let host = match f.next() {
                Some(name) if name.starts_with("sd=") => match &name[3..] {
                    "" => return Err(format!("`{part}`: sd= needs the passed socket's NAME")),
                    n => HostEnd::Passed(n.into()),
                },
                p => HostEnd::Port(port(p, "HOSTPORT")?),
            };
            let guest_port = port(f.next(), "GUESTPORT")?;
            if f.next().is_some() {
                return Err(format!("`{part}`: expected fwd=PROTO:HOSTPORT:GUESTPORT"));
            }
            if config
                .forwards
                .iter()
                .any(|x| x.proto == proto && x.host == host)
            {
                return Err(format!("`{part}`: host end {host} is forwarded twice"));
            }
            config.forwards.push(Forward {
                proto,
                host,
                guest_port,
            });
        }
        Ok(config)
    }
}

/// A host descriptor the gateway's owner waits on (level-triggered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFd {
    /// The descriptor.
    pub fd: RawFd,
    /// Wake up when it has input.
    pub read: bool,
    /// Wake up when it takes output.
    pub write: bool,
}

/// Frames between the gateway's stack and the guest.
#[derive(Default)]
struct Wire {
    from_guest: VecDeque<Vec<u8>>,
    to_guest: VecDeque<Vec<u8>>,
    /// Frames from the guest the stack may still take in this poll: a
    /// poll takes a bounded burst, so the forwards can drain the gateway's
    /// sockets to the host between bursts before they overflow.
    budget: usize,
}

/// A frame from the guest, lent to the gateway's stack.
struct RxToken(Vec<u8>);
/// The right to send one frame to the guest.
struct TxToken<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = alloc::vec![0; len];
        let r = f(&mut frame);
        if self.0.len() < TO_GUEST_MAX {
            self.0.push_back(frame);
        }
        r
    }
}

impl phy::Device for Wire {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        self.budget = self.budget.checked_sub(1)?;
        let frame = self.from_guest.pop_front()?;
        Some((RxToken(frame), TxToken(&mut self.to_guest)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken(&mut self.to_guest))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// Frames from the guest the stack takes between two rounds of moving its
/// sockets' data to the host (below a UDP flow socket's 64 datagrams).
const INGRESS_BURST: usize = 32;
/// Frames from the guest held at most; more are dropped, as a full NIC would.
const FROM_GUEST_MAX: usize = 1024;
/// Frames for the guest held at most while its ring is full; more are
/// dropped (TCP sends them again).
const TO_GUEST_MAX: usize = 4096;

/// The gateway's MAC address.
const GATEWAY_MAC: EthernetAddress = EthernetAddress([0x02, 0x00, 0x0a, 0x00, 0x00, 0x01]);

/// The gateway: the guest's router, and the forwards to host ports.
pub struct Gateway {
    config: UserNetConfig,
    iface: Interface,
    sockets: SocketSet<'static>,
    wire: Wire,
    udp: Vec<UdpForward>,
    tcp: Vec<TcpForward>,
    next_port: u16,
    dropped: u64,
    /// The guest MAC the gateway's stack was last told of ([`Gateway::learn`]).
    told: Option<EthernetAddress>,
}

fn smol(ns: u64) -> Instant {
    Instant::from_micros((ns / 1000) as i64)
}

impl Gateway {
    /// Opens every forward's host socket on 127.0.0.1 and sets up the link.
    pub fn new(config: UserNetConfig, now_ns: u64) -> Result<Gateway, String> {
        let mut wire = Wire::default();
        let mut ic = IfaceConfig::new(HardwareAddress::Ethernet(GATEWAY_MAC));
        ic.random_seed = now_ns;
        let mut iface = Interface::new(ic, &mut wire, smol(now_ns));
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(config.gateway, config.prefix)));
        });
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for f in &config.forwards {
            match f.proto {
                Proto::Udp => udp.push(UdpForward::open(f)?),
                Proto::Tcp => tcp.push(TcpForward::open(f, config.tcp_conns_max)?),
            }
        }
        Ok(Gateway {
            config,
            iface,
            sockets: SocketSet::new(Vec::new()),
            wire,
            udp,
            tcp,
            next_port: 40000,
            dropped: 0,
            told: None,
        })
    }

    /// Takes one frame the guest sent.
    pub fn from_guest(&mut self, frame: &[u8]) {
        if let Some(reply) = dhcp::answer(frame, &self.config, GATEWAY_MAC) {
            self.learn(frame, true);
            if self.wire.to_guest.len() < TO_GUEST_MAX {
                self.wire.to_guest.push_back(reply);
            }
            return;
        }
        self.learn(frame, false);
        if self.wire.from_guest.len() >= FROM_GUEST_MAX {
            self.dropped += 1;
            return;
        }
        self.wire.from_guest.push_back(frame.to_vec());
    }

    /// Tells the gateway's stack the guest's MAC (the sender of `frame`) once
    /// the guest has its address — it asked DHCP for it, or sends from it —
    /// as an ARP request from the guest for the gateway would: the stack
    /// learns its neighbour from that. Without it, a datagram forwarded
    /// while the guest was still booting (whose ARP request nobody
    /// answered) would wait out the stack's second of silence towards an
    /// unresolved neighbour before it asked again.
    /// `dhcp` says the frame asked the gateway's DHCP server.
    fn learn(&mut self, frame: &[u8], dhcp: bool) {
        if frame.get(6..12) == self.told.as_ref().map(EthernetAddress::as_bytes) {
            return; // the usual case: one compare per frame
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return;
        };
        let from_address = || {
            eth.ethertype() == EthernetProtocol::Ipv4
                && Ipv4Packet::new_checked(eth.payload())
                    .is_ok_and(|ip| ip.src_addr() == self.config.guest)
        };
        let mac = eth.src_addr();
        if !mac.is_unicast()
            || !(dhcp || from_address())
            || self.wire.from_guest.len() >= FROM_GUEST_MAX
        {
            return;
        }
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: mac,
            source_protocol_addr: self.config.guest,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: self.config.gateway,
        };
        let repr = EthernetRepr {
            src_addr: mac,
            dst_addr: GATEWAY_MAC,
            ethertype: EthernetProtocol::Arp,
        };
        let mut buf = alloc::vec![0; repr.buffer_len() + arp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        repr.emit(&mut f);
        arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
        self.wire.from_guest.push_back(buf);
        self.told = Some(mac);
    }

    /// Does everything that is ready: host sockets in both directions and
    /// the link. Frames for the guest queue up; take them with
    /// [`Gateway::drain_to_guest`].
    pub fn poll(&mut self, now_ns: u64) {
        let now = smol(now_ns);
        let guest = self.config.guest;
        for f in &mut self.udp {
            f.host_to_guest(&mut self.sockets, guest, &mut self.next_port, now_ns);
        }
        for f in &mut self.tcp {
            f.accept(
                &mut self.sockets,
                &mut self.iface,
                guest,
                &mut self.next_port,
            );
            f.host_to_guest(&mut self.sockets);
        }
        loop {
            self.wire.budget = INGRESS_BURST;
            self.iface.poll(now, &mut self.wire, &mut self.sockets);
            for f in &mut self.udp {
                f.guest_to_host(&mut self.sockets, now_ns);
            }
            for f in &mut self.tcp {
                f.guest_to_host(&mut self.sockets);
            }
            if self.wire.from_guest.is_empty() {
                break;
            }
        }
        // Window updates and FINs the shovelling above made due.
        self.iface.poll(now, &mut self.wire, &mut self.sockets);
    }

    /// Hands queued frames for the guest to `put`, oldest first, until the
    /// queue is empty or `put` returns false (the guest's ring is full; that
    /// frame stays queued). Returns how many were taken.
    pub fn drain_to_guest(&mut self, put: &mut dyn FnMut(&[u8]) -> bool) -> usize {
        let mut n = 0;
        while let Some(frame) = self.wire.to_guest.front() {
            if !put(frame) {
                break;
            }
            self.wire.to_guest.pop_front();
            n += 1;
        }
        n
    }

    /// Whether frames wait for the guest.
    pub fn has_frames_for_guest(&self) -> bool {
        !self.wire.to_guest.is_empty()
    }

    /// The latest time, in the caller's monotonic nanoseconds, to call
    /// [`Gateway::poll`] again even if nothing arrives.
    pub fn poll_at(&mut self, now_ns: u64) -> Option<u64> {
        if self.udp.iter().any(UdpForward::has_held) {
            return Some(now_ns);
        }
        // A connection whose host side is full waits for the host socket to
        // take output (its descriptor is waited on for writing), not on a timer.
        self.iface
            .poll_at(smol(now_ns), &self.sockets)
            .map(|t| (t.total_micros().max(0) as u64) * 1000)
    }

    /// The host descriptors to wait on, and for what.
    pub fn host_fds(&self) -> Vec<HostFd> {
        let mut fds = Vec::new();
        for f in &self.udp {
            f.fds(&mut fds);
        }
        for f in &self.tcp {
            f.fds(&self.sockets, &mut fds);
        }
        fds
    }

    /// Frames from the guest dropped because too many were waiting.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP frame from `src` (10.0.0.2, MAC `mac`) to the gateway.
    fn guest_udp(mac: EthernetAddress, payload: &[u8]) -> Vec<u8> {
        use smoltcp::phy::ChecksumCapabilities;
        use smoltcp::wire::{IpProtocol, Ipv4Address, Ipv4Repr, UdpPacket, UdpRepr};
        let (src, dst) = (Ipv4Address::new(10, 0, 0, 2), Ipv4Address::new(10, 0, 0, 1));
        let udp = UdpRepr {
            src_port: 53,
            dst_port: 9,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Udp,
            payload_len: udp.header_len() + payload.len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: GATEWAY_MAC,
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = alloc::vec![0; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut f);
        let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
        let caps = ChecksumCapabilities::default();
        ip.emit(&mut p, &caps);
        udp.emit(
            &mut UdpPacket::new_unchecked(p.payload_mut()),
            &src.into(),
            &dst.into(),
            payload.len(),
            |b| b.copy_from_slice(payload),
            &caps,
        );
        buf
    }

    #[test]
    fn a_datagram_forwarded_while_the_guest_booted_reaches_it_as_soon_as_it_speaks() {
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec = alloc::format!("user,fwd=udp:{port}:53");
        let mut gw = Gateway::new(UserNetConfig::parse(&spec).unwrap(), 1_000_000).unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"query", ("127.0.0.1", port)).unwrap();
        let frames = |gw: &mut Gateway| {
            let mut out = Vec::new();
            gw.drain_to_guest(&mut |f| {
                out.push(f.to_vec());
                true
            });
            out
        };
        let carries = |frames: &[Vec<u8>], what: &[u8]| {
            frames
                .iter()
                .any(|f| f.windows(what.len()).any(|w| w == what))
        };
        // The guest is not up: the gateway asks for its MAC, nobody answers.
        let mut now = 1_000_000u64;
        let mut sent = Vec::new();
        for _ in 0..100 {
            now += 1_000_000;
            gw.poll(now);
            sent.extend(frames(&mut gw));
            if !sent.is_empty() {
                break;
            }
        }
        assert!(!sent.is_empty(), "the gateway sends an ARP request");
        assert!(!carries(&sent, b"query"), "nothing to send it to yet");
        // The guest comes up and sends from its address: the datagram goes
        // out at the next poll, well inside the stack's second of silence.
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 0x42]);
        gw.from_guest(&guest_udp(mac, b"hello"));
        now += 10_000_000;
        gw.poll(now);
        let sent = frames(&mut gw);
        assert!(
            carries(&sent, b"query"),
            "the held datagram reaches the guest"
        );
        let to_guest = sent
            .iter()
            .find(|f| carries(core::slice::from_ref(f), b"query"))
            .unwrap();
        assert_eq!(&to_guest[..6], mac.as_bytes());
    }

    #[test]
    fn attachments_parse_and_errors_name_the_part() {
        let c = UserNetConfig::parse("user,fwd=udp:5353:53,fwd=tcp:8080:80").unwrap();
        assert_eq!(
            c.forwards,
            [
                Forward {
                    proto: Proto::Udp,
                    host: HostEnd::Port(5353),
                    guest_port: 53
                },
                Forward {
                    proto: Proto::Tcp,
                    host: HostEnd::Port(8080),
                    guest_port: 80
                }
            ]
        );
        assert_eq!(UserNetConfig::parse("user").unwrap().forwards, []);
        let c = UserNetConfig::parse("user,fwd=udp:sd=dns:53,fwd=tcp:sd=1:53").unwrap();
        assert_eq!(c.forwards[0].host, HostEnd::Passed("dns".into()));
        assert_eq!(c.forwards[1].host, HostEnd::Passed("1".into()));
        assert_eq!(c.forwards[0].to_string(), "fwd=udp:sd=dns:53");
        assert_eq!(UserNetConfig::parse("user").unwrap().tcp_conns_max, 1024);
        let c = UserNetConfig::parse("user,tcp-conns=16,fwd=tcp:1:2").unwrap();
        assert_eq!((c.tcp_conns_max, c.forwards.len()), (16, 1));
        for (bad, want) in [
            ("user,tcp-conns=0", "from 1 to 65535"),
            ("user,tcp-conns=x", "from 1 to 65535"),
            ("tap0", "starts with `user`"),
            ("user,fwd=sctp:1:2", "udp or tcp"),
            ("user,fwd=udp:0:2", "HOSTPORT"),
            ("user,fwd=udp:1:x", "GUESTPORT"),
            ("user,fwd=udp:1:2:3", "expected fwd="),
            ("user,port=1", "`port=1`"),
            (
                "user,fwd=tcp:1:2,fwd=tcp:1:3",
                "host end 1 is forwarded twice",
            ),
            (
                "user,fwd=udp:sd=a:2,fwd=udp:sd=a:3",
                "sd=a is forwarded twice",
            ),
            ("user,fwd=udp:sd=:2", "needs the passed socket's NAME"),
            ("user,fwd=udp:sd=a", "GUESTPORT"),
        ] {
            let e = UserNetConfig::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
