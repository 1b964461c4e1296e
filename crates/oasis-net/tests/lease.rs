//! A direct stack's whole DHCP lease lifetime on a virtual clock: offer and
//! ack, renewal at T1, a server that stops answering (rebinding at T2, the
//! lease running out), a server that comes back, a NAK at renewal, then days
//! of quiet — while IPv6 solicits routers that never answer. Throughout, the
//! stack must sleep between events: the number of interface polls in any
//! virtual second stays small. A stack whose timer names a moment that has
//! passed (as smoltcp 0.14's SLAAC did from 12 s after boot) spins, and
//! this test sees it as thousands of polls in one virtual second.
//!
//! The clock jumps to the next deadline whenever the executor waits, and
//! creeps forward 1 µs per reading otherwise, as a real one would while
//! the CPU works: a spinning stack still lets virtual time pass, slowly.

mod common;

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;

use common::{Cable, End};
use oasis_net::Config;
use oasis_net::direct::DirectStack;
use oasis_rt::Instant;
use oasis_rt::device::{Link, Net};
use oasis_rt::platform::Platform;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress,
    EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol, Ipv4Address, Ipv4Packet,
    Ipv4Repr, Ipv6Packet, UdpPacket, UdpRepr,
};

const S: u64 = 1_000_000_000;
const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const LEASED: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
/// Lease, T1 and T2 the server gives, in seconds.
const LEASE: u32 = 3600;
const T1: u32 = 1800;
const T2: u32 = 3150;
/// Interface polls the stack may make in one virtual second.
const MAX_POLLS_PER_SECOND: u64 = 20;

/// Virtual time: a wait jumps to its deadline; each reading costs 1 µs.
#[derive(Default)]
struct VirtualClock {
    now: Cell<u64>,
    /// When the executor said the application serves.
    served_at: Cell<Option<u64>>,
}

impl Platform for VirtualClock {
    fn now(&self) -> u64 {
        let t = self.now.get() + 1_000;
        self.now.set(t);
        t
    }
    fn wait(&self, deadline: Option<u64>) {
        // Frames on the cable wake their reader at once, so a wait with
        // no deadline would be a stack (or this test) waiting forever.
        let deadline = deadline.expect("the executor waits with no timer: deadlock");
        self.now.set(self.now.get().max(deadline));
    }
    fn serving(&self) {
        assert_eq!(self.served_at.get(), None, "serving told twice");
        self.served_at.set(Some(self.now.get()));
    }
}

/// How the scripted DHCP server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Offers, acks, answers ARP.
    Answer,
    /// Says nothing at all (it is down).
    Silent,
    /// NAKs the next renewal, then answers again.
    NakRenewal,
}

/// What the server saw and does, shared with the test's body.
struct Server {
    mode: Cell<Mode>,
    /// DHCP messages from the client: (virtual s, type, unicast to the server).
    seen: RefCell<Vec<(u64, DhcpMessageType, bool)>>,
    /// Router solicitations from the client.
    solicitations: Cell<u64>,
}

fn dhcp_reply(request: &DhcpRepr, kind: DhcpMessageType) -> Vec<u8> {
    let nak = kind == DhcpMessageType::Nak;
    let reply = DhcpRepr {
        message_type: kind,
        transaction_id: request.transaction_id,
        secs: 0,
        client_hardware_address: request.client_hardware_address,
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip: if nak {
            Ipv4Address::UNSPECIFIED
        } else {
            LEASED
        },
        server_ip: SERVER,
        router: (!nak).then_some(SERVER),
        subnet_mask: (!nak).then_some(Ipv4Address::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(SERVER),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: (!nak).then_some(LEASE),
        renew_duration: (!nak).then_some(T1),
        rebind_duration: (!nak).then_some(T2),
        additional_options: &[],
    };
    let dhcp_len = reply.buffer_len();
    let udp_len = 8 + dhcp_len;
    let caps = ChecksumCapabilities::default();
    let mut out = vec![0u8; 14 + 20 + udp_len];
    EthernetRepr {
        src_addr: SERVER_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    Ipv4Repr {
        src_addr: SERVER,
        dst_addr: Ipv4Address::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: udp_len,
        hop_limit: 64,
    }
    .emit(&mut Ipv4Packet::new_unchecked(&mut out[14..]), &caps);
    UdpRepr {
        src_port: 67,
        dst_port: 68,
    }
    .emit(
        &mut UdpPacket::new_unchecked(&mut out[34..]),
        &IpAddress::Ipv4(SERVER),
        &IpAddress::Ipv4(Ipv4Address::BROADCAST),
        dhcp_len,
        |payload| reply.emit(&mut DhcpPacket::new_unchecked(payload)).unwrap(),
        &caps,
    );
    out
}

fn arp_reply(request: &ArpRepr) -> Option<Vec<u8>> {
    let ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = *request
    else {
        return None;
    };
    if target_protocol_addr != SERVER {
        return None;
    }
    let reply = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: SERVER_MAC,
        source_protocol_addr: SERVER,
        target_hardware_addr: source_hardware_addr,
        target_protocol_addr: source_protocol_addr,
    };
    let mut out = vec![0u8; 14 + reply.buffer_len()];
    EthernetRepr {
        src_addr: SERVER_MAC,
        dst_addr: source_hardware_addr,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    reply.emit(&mut ArpPacket::new_unchecked(&mut out[14..]));
    Some(out)
}

impl Server {
    /// A server that answers, and has seen nothing yet.
    fn answering() -> Rc<Server> {
        Rc::new(Server {
            mode: Cell::new(Mode::Answer),
            seen: RefCell::new(Vec::new()),
            solicitations: Cell::new(0),
        })
    }

    /// The answer to one frame from the client, if any.
    fn answer(&self, now_s: u64, frame: &[u8]) -> Option<Vec<u8>> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        let mode = self.mode.get();
        if mode == Mode::Silent {
            return None;
        }
        if eth.ethertype() == EthernetProtocol::Arp {
            let arp = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).ok()?).ok()?;
            return arp_reply(&arp);
        }
        if eth.ethertype() == EthernetProtocol::Ipv6 {
            // Router solicitations (ICMPv6 type 133) nobody answers.
            let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
            if ip.next_header() == IpProtocol::Icmpv6 && ip.payload().first() == Some(&133) {
                self.solicitations.set(self.solicitations.get() + 1);
            }
            return None;
        }
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return None;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        if ip.next_header() != IpProtocol::Udp || udp.dst_port() != 67 {
            return None;
        }
        let dhcp = DhcpPacket::new_checked(udp.payload()).ok()?;
        let request = DhcpRepr::parse(&dhcp).ok()?;
        let unicast = ip.dst_addr() == SERVER;
        self.seen
            .borrow_mut()
            .push((now_s, request.message_type, unicast));
        let kind = match (request.message_type, mode) {
            (DhcpMessageType::Discover, _) => DhcpMessageType::Offer,
            (DhcpMessageType::Request, Mode::NakRenewal) if request.client_ip == LEASED => {
                self.mode.set(Mode::Answer);
                DhcpMessageType::Nak
            }
            (DhcpMessageType::Request, _) => DhcpMessageType::Ack,
            _ => return None,
        };
        Some(dhcp_reply(&request, kind))
    }
}

/// The server's side of the cable, as a task.
async fn serve(mut wire: End, server: Rc<Server>) {
    loop {
        core::future::poll_fn(|cx| wire.poll_receive_ready(cx)).await;
        let now_s = Instant::now().as_nanos() / S;
        let mut replies = Vec::new();
        wire.receive(&mut |f| replies.extend(server.answer(now_s, f)))
            .unwrap();
        for r in replies {
            wire.transmit(r.len(), &mut |b| b.copy_from_slice(&r))
                .unwrap();
        }
        wire.flush().unwrap();
    }
}

fn has_lease(stack: &DirectStack) -> bool {
    stack
        .addrs()
        .contains(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)))
}

/// Sleeps to virtual second `until`, one second at a time, checking the
/// stack's polls in each second and that it holds (or not) its lease.
async fn walk(stack: &DirectStack, until: u64, leased: Option<bool>, what: &str) {
    loop {
        let now = Instant::now().as_nanos();
        if now >= until * S {
            return;
        }
        let before = stack.stats().polls;
        let next = (now / S + 1) * S;
        oasis_rt::time::sleep_until(Instant::from_nanos(next)).await;
        let polls = stack.stats().polls - before;
        let at = Instant::now().as_nanos() as f64 / S as f64;
        assert!(
            polls <= MAX_POLLS_PER_SECOND,
            "{what}: {polls} interface polls in the virtual second before {at:.3} s: \
             the stack does not sleep between events ({})",
            stack.stats()
        );
        if let Some(want) = leased {
            assert_eq!(
                has_lease(stack),
                want,
                "{what}: at {at:.3} s the stack has addresses {:?}",
                stack.addrs()
            );
        }
    }
}

#[test]
fn a_dhcp_lease_lives_its_whole_life_on_a_virtual_clock_without_spinning() {
    oasis_rt::platform::install(oasis_hosted::services());
    let clock = VirtualClock::default();
    let server = Server::answering();
    let srv = server.clone();
    oasis_rt::exec::block_on(&clock, async move {
        let cable = Rc::new(RefCell::new(Cable::default()));
        oasis_rt::spawn(serve(End::new(&cable, 1), srv.clone()));
        let config = Config::from_values(None, None, None, None, false, 0).unwrap();
        let stack = DirectStack::new(End::new(&cable, 0), config).unwrap();

        // Offer and ack within the first second; held through T1 (renewed
        // there) and on, with nothing said in between.
        walk(&stack, 1, None, "boot").await;
        assert!(has_lease(&stack), "no lease after 1 s: {:?}", stack.addrs());
        walk(&stack, u64::from(T1) + 30, Some(true), "first lease").await;
        {
            let seen = srv.seen.borrow();
            let kinds: Vec<_> = seen.iter().map(|s| (s.1, s.2)).collect();
            assert_eq!(
                kinds,
                [
                    (DhcpMessageType::Discover, false),
                    (DhcpMessageType::Request, false),
                    (DhcpMessageType::Request, true),
                ],
                "expected discover, request, and one unicast renewal at T1: {seen:?}"
            );
            let renewed_at = seen[2].0;
            assert!(
                (u64::from(T1)..u64::from(T1) + 2).contains(&renewed_at),
                "renewal at {renewed_at} s, T1 is {T1} s"
            );
        }

        // The server goes down: the lease renewed at ~T1 runs to ~T1 + LEASE.
        // The client renews by unicast, rebinds by broadcast after T2, and
        // keeps its address until the lease ends — not a second longer.
        srv.seen.borrow_mut().clear();
        srv.mode.set(Mode::Silent);
        let renewed = u64::from(T1);
        walk(
            &stack,
            renewed + u64::from(LEASE) - 2,
            Some(true),
            "server down, lease running",
        )
        .await;
        walk(&stack, renewed + u64::from(LEASE) + 3, None, "lease ending").await;
        assert!(
            !has_lease(&stack),
            "the lease ended at ~{} s but the address is still there",
            renewed + u64::from(LEASE)
        );
        walk(
            &stack,
            renewed + u64::from(LEASE) + 600,
            Some(false),
            "no server",
        )
        .await;

        // The server comes back: discovery (every 10 s) finds it.
        srv.mode.set(Mode::Answer);
        let back = Instant::now().as_nanos() / S;
        walk(&stack, back + 12, None, "server back").await;
        assert!(
            has_lease(&stack),
            "no new lease 12 s after the server came back"
        );
        let leased_again = Instant::now().as_nanos() / S;

        // A NAK at the next renewal: the address goes at once, and a new
        // discovery brings it back.
        srv.seen.borrow_mut().clear();
        srv.mode.set(Mode::NakRenewal);
        walk(
            &stack,
            leased_again + u64::from(T1) - 12,
            Some(true),
            "before the NAK",
        )
        .await;
        walk(&stack, leased_again + u64::from(T1) + 30, None, "NAK").await;
        {
            let seen = srv.seen.borrow();
            let kinds: Vec<_> = seen.iter().map(|s| s.1).collect();
            assert!(
                kinds.starts_with(&[DhcpMessageType::Request, DhcpMessageType::Discover]),
                "expected the NAKed renewal then a new discovery: {seen:?}"
            );
        }
        assert!(
            has_lease(&stack),
            "no lease after the NAK and a new discovery"
        );

        // Then two quiet days with the server answering: renewals only.
        let from = Instant::now().as_nanos() / S;
        srv.seen.borrow_mut().clear();
        walk(&stack, from + 2 * 24 * 3600, Some(true), "two quiet days").await;
        let renewals = srv.seen.borrow().len() as u64;
        let expected = 2 * 24 * 3600 / u64::from(T1);
        assert!(
            (expected - 1..=expected + 1).contains(&renewals),
            "{renewals} DHCP messages in two days, expected ~{expected} renewals"
        );
        assert_eq!(
            stack.stats().spin_backoffs,
            0,
            "the spin guard had to step in"
        );
    });
}

/// A link the platform knows has no IPv6 router (the VMM's user-mode
/// network) costs no router solicitations, so an idle guest there wakes for
/// nothing IPv6; on a link it knows nothing about, the stack solicits with
/// RFC 7559's backoff (at about 0, 4, 12, 28 and 60 s).
#[test]
fn a_stack_solicits_ipv6_routers_only_where_one_may_be() {
    oasis_rt::platform::install(oasis_hosted::services());
    for no_ipv6_router in [false, true] {
        let clock = VirtualClock::default();
        let server = Server::answering();
        let srv = server.clone();
        let stats = oasis_rt::exec::block_on(&clock, async move {
            let cable = Rc::new(RefCell::new(Cable::default()));
            oasis_rt::spawn(serve(End::new(&cable, 1), srv.clone()));
            let config = Config::from_values(None, None, None, None, false, 0).unwrap();
            let mut end = End::new(&cable, 0);
            end.link = Link { no_ipv6_router };
            let stack = DirectStack::new(end, config).unwrap();
            walk(&stack, 90, None, "soliciting").await;
            assert!(has_lease(&stack), "no DHCP lease: {:?}", stack.addrs());
            stack.stats()
        });
        let sent = server.solicitations.get();
        assert_eq!(
            sent, stats.router_solicitations,
            "the wire and the counter disagree"
        );
        if no_ipv6_router {
            assert_eq!(
                sent, 0,
                "router solicitations on a link with no IPv6 router"
            );
        } else {
            assert!(
                (5..=6).contains(&sent),
                "{sent} router solicitations in 90 s, expected 5 (0, 4, 12, 28, 60 s ± 10%)"
            );
        }
    }
}

#[test]
fn the_application_serves_only_once_dhcp_has_given_an_address() {
    oasis_rt::platform::install(oasis_hosted::services());
    let clock = VirtualClock::default();
    let server = Server::answering();
    server.mode.set(Mode::Silent);
    let srv = server.clone();
    let clock_ref = &clock;
    oasis_rt::exec::block_on(&clock, async move {
        let cable = Rc::new(RefCell::new(Cable::default()));
        oasis_rt::spawn(serve(End::new(&cable, 1), srv.clone()));
        let config = Config::from_values(None, None, None, None, false, 0).unwrap();
        let stack = DirectStack::new(End::new(&cable, 0), config).unwrap();
        // No DHCP server answers: idle for a minute, never serving.
        walk(&stack, 60, Some(false), "no server").await;
        assert_eq!(
            clock_ref.served_at.get(),
            None,
            "serving without an address"
        );
        // It answers: serving once the lease is there, within the retries.
        srv.mode.set(Mode::Answer);
        walk(&stack, 180, None, "server back").await;
        assert!(has_lease(&stack), "no lease: {:?}", stack.addrs());
        let at = clock_ref.served_at.get().expect("serving after the lease");
        assert!(at > 60 * S, "served at {at} ns, before the server answered");
    });
}
