//! The direct stack: smoltcp over any oasis [`Net`] device, driven by the
//! oasis executor.
//!
//! One task, the *driver*, owns the device's rhythm: it sleeps until the
//! device has input, a socket has something to send (a *kick*), or
//! smoltcp's next timer; then it takes a whole batch of frames, polls the
//! interface once over the batch, flushes the device once (one exit per
//! burst on kvm), and lets smoltcp wake the sockets' tasks. Sockets are
//! handles into the shared state; their futures register smoltcp wakers.

mod check;
mod fast;
mod guard;
mod port;
mod slaac;
mod stats;
mod tcp;
mod udp;
mod upkeep;

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::future::poll_fn;
use core::net::{IpAddr, Ipv6Addr};
use core::pin::Pin;
use core::task::{Poll, Waker};

use oasis_rt::device::Net;
use oasis_rt::time::{Duration, Instant};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::dhcpv4;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Cidr, Ipv6Cidr};

use crate::config::Config;
use crate::error::NetError;
pub use stats::Stats;
pub use tcp::{DirectTcpListener, DirectTcpStream};
pub use udp::DirectUdpSocket;

/// Interface polls per driver step at most while the device keeps handing
/// over full batches; then other tasks get their turn.
const ROUNDS_PER_STEP: usize = 4;
/// How long a half-open connection (SYN received, our SYN-ACK unanswered)
/// may hold a backlog slot: a SYN flood cannot lock a listener for longer.
const HALF_OPEN_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a closed connection may take to say goodbye (FIN exchange).
const CLOSE_LINGER: Duration = Duration::from_secs(10);
/// First ephemeral port (IANA's dynamic range).
const EPHEMERAL_FIRST: u16 = 49152;

/// A listener's connections being set up or waiting to be accepted.
pub(crate) struct Backlog {
    port: u16,
    /// Bytes per direction of each slot's buffers.
    buffer: usize,
    /// Each slot's socket and, while half-open, when it left `Listen`.
    slots: Vec<(SocketHandle, Option<u64>)>,
}

/// Everything the driver and the sockets share.
pub(crate) struct State {
    dev: Box<dyn Net>,
    rx: port::RxRing,
    iface: Interface,
    sockets: SocketSet<'static>,
    stats: Stats,
    scratch: Vec<u8>,
    unflushed: usize,
    mtu: usize,
    dhcp: Option<SocketHandle>,
    /// Holds back the news that the application serves until DHCP has
    /// given the interface its address (none while configured statically).
    dhcp_wait: Option<oasis_rt::exec::Starting>,
    backlogs: Vec<Option<Backlog>>,
    closing: Vec<(SocketHandle, u64)>,
    udp_ports: Vec<u16>,
    next_ephemeral: u16,
    shown_addrs: Vec<IpCidr>,
    rx_error_logged: bool,
    /// Destination ports of the connection openings in the current batch.
    syn_ports: Vec<u16>,
    /// SLAAC and the raw ICMPv6 socket it hears routers on, when IPv6
    /// addresses come from router advertisements.
    slaac: Option<(slaac::Slaac, SocketHandle)>,
    /// The addresses and router SLAAC last gave the interface.
    slaac_applied: (Vec<Ipv6Cidr>, Option<Ipv6Addr>),
    /// Watches smoltcp's deadlines for a stack that asks to be polled now forever.
    spin: guard::SpinGuard,
    /// UDP ports answered on the fast path ([`fast`]).
    served: Vec<fast::Served>,
    /// Their datagrams, held while a batch from a device that cannot lend
    /// its transmit side during receive is taken in (unused, so empty, on
    /// a device that can).
    fast_held: port::RxRing,
    fast_later: Vec<check::Udp>,
    /// The frames of a lent batch smoltcp is to read (reused).
    keep: Vec<usize>,
}

/// The shared core: the state, and the driver's wake-up line.
pub(crate) struct Core {
    state: RefCell<State>,
    kicked: Cell<bool>,
    driver: RefCell<Option<Waker>>,
}

fn now_ns() -> u64 {
    Instant::now().as_nanos()
}

fn smol_time(ns: u64) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros((ns / 1000) as i64)
}

/// The EUI-64 link-local address of a MAC (RFC 4291 appendix A).
fn link_local(mac: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

fn show_mac(mac: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

impl Core {
    /// Asks the driver to poll soon (a socket queued something).
    pub(crate) fn kick(&self) {
        self.kicked.set(true);
        if let Some(w) = self.driver.borrow().as_ref() {
            w.wake_by_ref();
        }
    }

    pub(crate) fn state(&self) -> core::cell::RefMut<'_, State> {
        self.state.borrow_mut()
    }

    /// One driver step: batches in, one poll each, one flush, upkeep.
    /// Returns smoltcp's next deadline in monotonic nanoseconds.
    fn step(&self) -> Option<u64> {
        let mut guard = self.state.borrow_mut();
        let st = &mut *guard;
        let now = now_ns();
        let moved_before = st.stats.rx_frames + st.stats.tx_frames;
        for _ in 0..ROUNDS_PER_STEP {
            if st.receive_and_poll(now) < port::RX_BATCH {
                break;
            }
        }
        if st.slaac_upkeep(now) {
            // A router solicitation was queued: send it in this step.
            st.poll_iface(now);
        }
        // Address state learnt in this poll (a router advertisement for
        // SLAAC) is applied at the start of a poll: apply it now, not at
        // the next timer.
        st.iface.poll_maintenance(smol_time(now));
        st.flush();
        st.upkeep(now);
        let mut smoltcp_next = st
            .iface
            .poll_at(smol_time(now), &st.sockets)
            .map(|t| (t.total_micros().max(0) as u64).saturating_mul(1000));
        let moved = st.stats.rx_frames + st.stats.tx_frames != moved_before;
        if let guard::Verdict::BackOff { until, first } = st.spin.judge(smoltcp_next, now, moved) {
            st.stats.spin_backoffs += 1;
            if first {
                log::warn!(
                    "the network stack asked to be polled again at once {} times in a row \
                     without moving a frame (its deadline: {} ns, now {now} ns); polling it \
                     at most once a second until it moves again. Addresses {:?}, {} sockets; {}",
                    guard::SPIN_LIMIT,
                    smoltcp_next.unwrap_or(0),
                    st.iface.ip_addrs(),
                    st.sockets.iter().count(),
                    st.stats_now()
                );
            }
            smoltcp_next = Some(until);
        }
        let slaac_next = st.slaac.as_ref().and_then(|(s, _)| s.poll_at());
        [smoltcp_next, st.next_half_open_expiry(), slaac_next]
            .into_iter()
            .flatten()
            .min()
    }

    /// Waits for input, a kick or `deadline`; true if it was already there.
    async fn idle(&self, deadline: Option<u64>) -> bool {
        let mut sleep = deadline.map(|d| oasis_rt::time::sleep_until(Instant::from_nanos(d)));
        let mut first = true;
        poll_fn(|cx| {
            let was_first = core::mem::replace(&mut first, false);
            if self.kicked.replace(false) {
                return Poll::Ready(was_first);
            }
            {
                let mut driver = self.driver.borrow_mut();
                match &*driver {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *driver = Some(cx.waker().clone()),
                }
            }
            if self
                .state
                .borrow_mut()
                .dev
                .poll_receive_ready(cx)
                .is_ready()
            {
                return Poll::Ready(was_first);
            }
            if let Some(s) = sleep.as_mut()
                && Pin::new(s).poll(cx).is_ready()
            {
                return Poll::Ready(was_first);
            }
            Poll::Pending
        })
        .await
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        log::info!("stats at exit: {}", self.state.get_mut().stats_now());
    }
}

async fn drive(core: Rc<Core>) {
    loop {
        let deadline = core.step();
        if core.idle(deadline).await {
            // Work was waiting already: let the tasks it woke run first.
            oasis_rt::yield_now().await;
        }
    }
}

async fn report(core: Weak<Core>, every: Duration) {
    loop {
        oasis_rt::sleep(every).await;
        let Some(core) = core.upgrade() else { return };
        log::info!("stats: {}", core.state.borrow().stats_now());
    }
}

impl State {
    /// The counters, with the socket gauges as they are now.
    fn stats_now(&self) -> Stats {
        Stats {
            sockets: self.sockets.iter().count() as u64,
            closing: self.closing.len() as u64,
            ..self.stats
        }
    }

    /// Takes one batch of frames from the device and runs one smoltcp poll
    /// over it: inside the loan where the device lends its frames (smoltcp
    /// reads them in their slots), else over copies in the receive ring.
    /// Returns how many frames the device handed over.
    fn receive_and_poll(&mut self, now: u64) -> usize {
        self.syn_ports.clear();
        let fast = port::Fast {
            mac: self.dev.mac(),
            mtu: self.mtu,
        };
        // The device is held apart while it lends, so that the closure may
        // use the rest of the state.
        let mut dev = core::mem::replace(&mut self.dev, Box::new(port::NoDevice));
        let mut keep = core::mem::take(&mut self.keep);
        let lent = dev.receive_lent(&mut |batch, tx| {
            port::take_lent(batch, tx, self.mtu, &mut self.taken(), &fast, &mut keep);
            if !self.syn_ports.is_empty() {
                self.make_room_for_syns(now);
            }
            let rx = port::Rx::Lent {
                batch,
                keep: &keep,
                next: 0,
            };
            self.poll_iface_with(now, rx, port::Tx::Lent(tx));
        });
        self.keep = keep;
        let result = match lent {
            Ok(Some(n)) => Ok((n, n > 0)),
            Ok(None) => {
                let mut rx = core::mem::replace(&mut self.rx, port::RxRing::empty(0));
                let mut held = core::mem::replace(&mut self.fast_held, port::RxRing::empty(0));
                let filled = rx.fill(&mut *dev, &mut self.taken(), &fast, &mut held);
                self.rx = rx;
                self.fast_held = held;
                filled.map(|n| (n, false))
            }
            Err(e) => Err(e),
        };
        self.dev = dev;
        let (taken, polled) = result.unwrap_or_else(|e| {
            self.stats.rx_errors += 1;
            if !self.rx_error_logged {
                log::warn!("receiving from the device failed: {e}");
                self.rx_error_logged = true;
            }
            (0, false)
        });
        if taken > 0 {
            self.stats.rx_batches += 1;
        }
        if !polled {
            if !self.syn_ports.is_empty() {
                self.make_room_for_syns(now);
            }
            self.poll_iface(now);
        }
        taken
    }

    /// What taking in a batch updates.
    fn taken(&mut self) -> port::Taken<'_> {
        port::Taken {
            stats: &mut self.stats,
            syn_ports: &mut self.syn_ports,
            unflushed: &mut self.unflushed,
            fast_later: &mut self.fast_later,
            served: &self.served,
            addrs: self.iface.ip_addrs(),
        }
    }

    /// One smoltcp poll over what the receive ring holds.
    fn poll_iface(&mut self, now: u64) {
        let mut rx = core::mem::replace(&mut self.rx, port::RxRing::empty(0));
        let mut dev = core::mem::replace(&mut self.dev, Box::new(port::NoDevice));
        self.poll_iface_with(now, port::Rx::Ring(&mut rx), port::Tx::Dev(&mut *dev));
        self.dev = dev;
        self.rx = rx;
    }

    /// One smoltcp poll, reading from `rx` and writing to `tx`.
    fn poll_iface_with(&mut self, now: u64, rx: port::Rx<'_>, tx: port::Tx<'_>) {
        self.stats.polls += 1;
        let mut port = port::Port {
            rx,
            tx,
            mtu: self.mtu,
            stats: &mut self.stats,
            scratch: &mut self.scratch,
            unflushed: &mut self.unflushed,
        };
        self.iface
            .poll(smol_time(now), &mut port, &mut self.sockets);
    }

    fn flush(&mut self) {
        if self.unflushed > 0 {
            if let Err(e) = self.dev.flush() {
                self.stats.tx_errors += self.unflushed as u64;
                log::debug!("flushing the device failed: {e}");
            }
            self.stats.tx_flushes += 1;
            self.unflushed = 0;
        }
    }

    /// A free ephemeral port, none of this stack's listeners or UDP sockets.
    pub(crate) fn ephemeral_port(&mut self) -> Result<u16, NetError> {
        for _ in EPHEMERAL_FIRST..=u16::MAX {
            let p = self.next_ephemeral;
            self.next_ephemeral = if p == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                p + 1
            };
            let listening = self.backlogs.iter().flatten().any(|b| b.port == p);
            if !listening && !self.udp_ports.contains(&p) {
                return Ok(p);
            }
        }
        Err(NetError::NoPortLeft)
    }

    /// The largest UDP payload one frame carries towards `to`.
    pub(crate) fn max_udp_payload(&self, to: IpAddr) -> usize {
        let ip = if to.is_ipv4() { 20 } else { 40 };
        self.mtu.saturating_sub(14 + ip + 8)
    }
}

/// The direct stack: cheap to clone, every clone is the same stack.
#[derive(Clone)]
pub struct DirectStack {
    core: Rc<Core>,
}

impl DirectStack {
    /// Starts a stack on `dev` with `config`, spawning its driver on the
    /// current executor. Must be called from inside the application.
    pub fn new(dev: impl Net + 'static, config: Config) -> Result<DirectStack, NetError> {
        let mut dev: Box<dyn Net> = Box::new(dev);
        let mac = dev.mac();
        let mtu = dev.mtu();
        if mtu < 1280 + 14 {
            return Err(NetError::Config(format!(
                "the net device's MTU of {mtu} bytes is below IPv6's minimum (1294 with the Ethernet header)"
            )));
        }
        if mac[0] & 1 != 0 {
            return Err(NetError::Config(format!(
                "the net device's MAC {} is a multicast address",
                show_mac(mac)
            )));
        }
        let mut seed = [0u8; 8];
        oasis_rt::platform::random_fill(&mut seed);
        let mut iface_config = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        iface_config.random_seed = u64::from_le_bytes(seed);
        // SLAAC is oasis's own (see slaac.rs), not smoltcp's.
        iface_config.slaac = false;
        // Memory only when a device that cannot lend its frames fills it.
        let mut rx = port::RxRing::empty(mtu);
        let mut stats = Stats::default();
        let mut scratch = Vec::new();
        let mut unflushed = 0;
        let now = now_ns();
        let iface = {
            let mut port = port::Port {
                rx: port::Rx::Ring(&mut rx),
                tx: port::Tx::Dev(&mut *dev),
                mtu,
                stats: &mut stats,
                scratch: &mut scratch,
                unflushed: &mut unflushed,
            };
            Interface::new(iface_config, &mut port, smol_time(now))
        };
        let mut state = State {
            dev,
            rx,
            iface,
            sockets: SocketSet::new(Vec::new()),
            stats,
            scratch,
            unflushed,
            mtu,
            dhcp: None,
            dhcp_wait: None,
            backlogs: Vec::new(),
            closing: Vec::new(),
            udp_ports: Vec::new(),
            next_ephemeral: EPHEMERAL_FIRST + (u16::from_le_bytes([seed[0], seed[1]]) % 16384),
            shown_addrs: Vec::new(),
            rx_error_logged: false,
            syn_ports: Vec::new(),
            slaac: None,
            slaac_applied: (Vec::new(), None),
            spin: guard::SpinGuard::default(),
            served: Vec::new(),
            fast_held: port::RxRing::empty(mtu),
            fast_later: Vec::new(),
            keep: Vec::new(),
        };
        let no_ipv6_router = state.dev.link().no_ipv6_router;
        state.configure(&config, u64::from_le_bytes(seed), now)?;
        log::info!(
            "direct stack on MAC {} (MTU {mtu}), IPv4 {}, IPv6 {}",
            show_mac(mac),
            match config.ipv4 {
                Some(c) => format!("{}/{}", c.addr, c.prefix),
                None => "by DHCP".into(),
            },
            match config.ipv6 {
                Some(c) => format!("{}/{}", c.addr, c.prefix),
                None if no_ipv6_router => "link-local only (no IPv6 router on this link)".into(),
                None => "by SLAAC".into(),
            }
        );
        let core = Rc::new(Core {
            state: RefCell::new(state),
            kicked: Cell::new(false),
            driver: RefCell::new(None),
        });
        oasis_rt::spawn(drive(core.clone()));
        if config.stats_every > 0 {
            let every = Duration::from_secs(u64::from(config.stats_every));
            oasis_rt::spawn(report(Rc::downgrade(&core), every));
        }
        Ok(DirectStack { core })
    }

    /// The stack's counters so far.
    pub fn stats(&self) -> Stats {
        self.core.state.borrow().stats_now()
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.core.state.borrow().dev.mac()
    }

    /// The stack's addresses now, with their prefixes.
    pub fn addrs(&self) -> Vec<IpAddr> {
        self.core
            .state
            .borrow()
            .iface
            .ip_addrs()
            .iter()
            .map(|c| IpAddr::from(c.address()))
            .collect()
    }
}

impl State {
    fn configure(&mut self, config: &Config, seed: u64, now: u64) -> Result<(), NetError> {
        let mac = self.dev.mac();
        let mut full = false;
        self.iface.update_ip_addrs(|addrs| {
            full |= addrs
                .push(IpCidr::Ipv6(Ipv6Cidr::new(link_local(mac), 64)))
                .is_err();
            if let Some(v4) = config.ipv4 {
                full |= addrs
                    .push(IpCidr::Ipv4(Ipv4Cidr::new(v4.addr, v4.prefix)))
                    .is_err();
            }
            if let Some(v6) = config.ipv6 {
                full |= addrs
                    .push(IpCidr::Ipv6(Ipv6Cidr::new(v6.addr, v6.prefix)))
                    .is_err();
            }
        });
        if full {
            return Err(NetError::Config(
                "too many addresses for the interface".into(),
            ));
        }
        if let Some(gw) = config.ipv4_gateway {
            self.iface
                .routes_mut()
                .add_default_ipv4_route(gw)
                .map_err(|_| NetError::Config(format!("cannot add the IPv4 route via {gw}")))?;
        }
        if let Some(gw) = config.ipv6_gateway {
            self.iface
                .routes_mut()
                .add_default_ipv6_route(gw)
                .map_err(|_| NetError::Config(format!("cannot add the IPv6 route via {gw}")))?;
        }
        if config.dhcp() {
            self.dhcp = Some(self.sockets.add(dhcpv4::Socket::new()));
            self.dhcp_wait = Some(oasis_rt::exec::starting());
        }
        if config.slaac() && !self.dev.link().no_ipv6_router {
            use smoltcp::socket::raw;
            use smoltcp::wire::{IpProtocol, IpVersion};
            let buffer = || {
                raw::PacketBuffer::new(
                    alloc::vec![raw::PacketMetadata::EMPTY; 8],
                    alloc::vec![0u8; 4096],
                )
            };
            let icmp = raw::Socket::new(
                Some(IpVersion::Ipv6),
                Some(IpProtocol::Icmpv6),
                buffer(),
                buffer(),
            );
            let handle = self.sockets.add(icmp);
            self.slaac = Some((slaac::Slaac::new(mac, now, seed), handle));
        }
        Ok(())
    }
}
