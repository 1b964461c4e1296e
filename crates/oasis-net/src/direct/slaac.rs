//! IPv6 stateless address autoconfiguration, host side (RFC 4861 §6.3,
//! RFC 4862 §5.5, RFC 7559): solicit routers until one answers, take a
//! global address for every on-link /64 an advertisement offers, keep a
//! default router, and let each go when its lifetime ends.
//!
//! oasis runs its own rather than smoltcp's: smoltcp 0.14's SLAAC stops
//! soliciting after three router solicitations without moving its state on,
//! so from 12 s after boot its `poll_at` names a moment that has passed and
//! stays there — an event loop that trusts it never sleeps again. (Its
//! `poll_at` also drops the solicitation timer whenever no socket has a
//! timer, so a statically configured stack solicited only once.) This is a
//! pure state machine on explicit times; the driver moves the packets.
//!
//! The invariant the driver relies on: after [`Slaac::poll`] at `now`,
//! [`Slaac::poll_at`] is later than `now`, or `None`.

use alloc::vec::Vec;

use smoltcp::wire::{
    Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Address, Ipv6Cidr, Ipv6Packet, Ipv6Repr,
    NdiscPrefixInfoFlags, NdiscPrefixInformation, NdiscRepr, RawHardwareAddress,
};

/// First wait between router solicitations (RFC 4861's RTR_SOLICITATION_INTERVAL, RFC 7559's IRT).
pub(crate) const FIRST_INTERVAL_NS: u64 = 4_000_000_000;
/// Longest wait between solicitations while no router answers (RFC 7559's MRT).
pub(crate) const MAX_INTERVAL_NS: u64 = 3_600_000_000_000;
/// RFC 4862 §5.5.3 e): an advertisement may shorten a prefix's remaining
/// valid lifetime to no less than two hours (unauthenticated RAs).
const TWO_HOURS_NS: u64 = 7_200_000_000_000;
/// All-routers link-local multicast (ff02::2).
const ALL_ROUTERS: Ipv6Address = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Prefixes oasis keeps at once; more are ignored (smoltcp's interface holds 8 addresses).
const MAX_PREFIXES: usize = 4;
/// Routers oasis remembers at once.
const MAX_ROUTERS: usize = 4;

/// An address taken from an advertised prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prefix {
    addr: Ipv6Cidr,
    /// Monotonic ns after which the address is gone (`u64::MAX`: never).
    valid_until: u64,
}

/// A router that advertised itself as a default router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Router {
    addr: Ipv6Address,
    valid_until: u64,
}

/// What one router advertisement said that SLAAC uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Advert {
    /// The router's link-local address.
    pub router: Ipv6Address,
    /// How long it may be the default router (0: it is not one).
    pub router_lifetime_ns: u64,
    /// The prefix information option, if any.
    pub prefix: Option<NdiscPrefixInformation>,
}

/// The SLAAC state of one interface.
#[derive(Debug)]
pub(crate) struct Slaac {
    mac: [u8; 6],
    /// When the next router solicitation is due; `None` while a router is known.
    solicit_at: Option<u64>,
    /// The wait after the next solicitation.
    interval: u64,
    /// Jitter state (RFC 7559 spreads retransmissions by ±10%).
    rng: u64,
    prefixes: Vec<Prefix>,
    routers: Vec<Router>,
}

/// Lifetimes in RAs are seconds; 0xffffffff is infinity.
fn lifetime_ns(now: u64, d: smoltcp::time::Duration) -> u64 {
    if d.secs() >= u64::from(u32::MAX) {
        u64::MAX
    } else {
        now.saturating_add(d.total_micros().saturating_mul(1000))
    }
}

impl Slaac {
    /// A host that starts soliciting at `now`; `seed` spreads its retransmissions.
    pub(crate) fn new(mac: [u8; 6], now: u64, seed: u64) -> Slaac {
        Slaac {
            mac,
            solicit_at: Some(now),
            interval: FIRST_INTERVAL_NS,
            rng: seed | 1,
            prefixes: Vec::new(),
            routers: Vec::new(),
        }
    }

    /// Advances to `now`: forgets what expired, and says whether a router
    /// solicitation is due (the caller sends it). Afterwards
    /// [`poll_at`](Self::poll_at) is later than `now`.
    pub(crate) fn poll(&mut self, now: u64) -> bool {
        self.prefixes.retain(|p| p.valid_until > now);
        let had_router = !self.routers.is_empty();
        self.routers.retain(|r| r.valid_until > now);
        if had_router && self.routers.is_empty() {
            // The default router is gone: look for one again from the start.
            self.solicit_at = Some(now);
            self.interval = FIRST_INTERVAL_NS;
        }
        match self.solicit_at {
            Some(at) if at <= now => {
                self.solicit_at = Some(now.saturating_add(self.jittered(self.interval)));
                self.interval = self.interval.saturating_mul(2).min(MAX_INTERVAL_NS);
                true
            }
            _ => false,
        }
    }

    /// `d` ± 10%.
    fn jittered(&mut self, d: u64) -> u64 {
        // xorshift64: spreading, not secrecy.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let spread = d / 10;
        d - spread + self.rng % (2 * spread + 1)
    }

    /// When [`poll`](Self::poll) has something to do next, if ever.
    pub(crate) fn poll_at(&self) -> Option<u64> {
        let expiries = self
            .prefixes
            .iter()
            .map(|p| p.valid_until)
            .chain(self.routers.iter().map(|r| r.valid_until))
            .filter(|t| *t != u64::MAX);
        self.solicit_at.into_iter().chain(expiries).min()
    }

    /// Takes in a router advertisement received at `now`.
    pub(crate) fn advertised(&mut self, now: u64, ad: &Advert) {
        if ad.router_lifetime_ns > 0 {
            let until = now.saturating_add(ad.router_lifetime_ns);
            let room = self.routers.len() < MAX_ROUTERS;
            match self.routers.iter_mut().find(|r| r.addr == ad.router) {
                Some(r) => r.valid_until = until,
                None if room => self.routers.push(Router {
                    addr: ad.router,
                    valid_until: until,
                }),
                None => {}
            }
            // RFC 4861 §6.3.7: a host that heard from a router stops soliciting.
            self.solicit_at = None;
        } else {
            // RFC 4861 §6.3.4: a lifetime of 0 withdraws the router.
            let had = !self.routers.is_empty();
            self.routers.retain(|r| r.addr != ad.router);
            if had && self.routers.is_empty() {
                self.solicit_at = Some(now);
                self.interval = FIRST_INTERVAL_NS;
            }
        }
        if let Some(info) = ad.prefix {
            self.prefix_offered(now, &info);
        }
    }

    /// RFC 4862 §5.5.3 for one prefix information option.
    fn prefix_offered(&mut self, now: u64, info: &NdiscPrefixInformation) {
        if !info.flags.contains(NdiscPrefixInfoFlags::ADDRCONF)
            || info.prefix.is_unicast_link_local()
            || info.prefix_len != 64
            || info.preferred_lifetime > info.valid_lifetime
        {
            return;
        }
        let Some(addr) = Ipv6Cidr::from_link_prefix(
            &Ipv6Cidr::new(info.prefix, 64),
            smoltcp::wire::HardwareAddress::Ethernet(smoltcp::wire::EthernetAddress(self.mac)),
        ) else {
            return;
        };
        let offered = lifetime_ns(now, info.valid_lifetime);
        let room = self.prefixes.len() < MAX_PREFIXES;
        match self.prefixes.iter_mut().find(|p| p.addr == addr) {
            Some(p) => {
                let remaining = p.valid_until.saturating_sub(now);
                let offered_for = offered.saturating_sub(now);
                // e): longer, or over two hours, is taken as is; otherwise a
                // spoofed RA may not cut a lifetime below two hours.
                p.valid_until = if offered_for > TWO_HOURS_NS || offered_for > remaining {
                    offered
                } else if remaining <= TWO_HOURS_NS {
                    p.valid_until
                } else {
                    now.saturating_add(TWO_HOURS_NS)
                };
            }
            None if offered > now && room => {
                self.prefixes.push(Prefix {
                    addr,
                    valid_until: offered,
                });
            }
            None => {}
        }
    }

    /// The addresses SLAAC gives the interface now.
    pub(crate) fn addresses(&self) -> impl Iterator<Item = Ipv6Cidr> + '_ {
        self.prefixes.iter().map(|p| p.addr)
    }

    /// The default router, if one is known (the one heard from first).
    pub(crate) fn router(&self) -> Option<Ipv6Address> {
        self.routers.first().map(|r| r.addr)
    }

    /// A router solicitation from `src` (link-local) as an IPv6 packet, for a raw socket.
    pub(crate) fn solicitation(&self, src: Ipv6Address) -> Vec<u8> {
        let rs = NdiscRepr::RouterSolicit {
            lladdr: Some(RawHardwareAddress::from_bytes(&self.mac)),
        };
        ndisc_packet(src, ALL_ROUTERS, 255, rs)
    }
}

/// An IPv6 packet carrying the neighbour-discovery message `msg`.
fn ndisc_packet(src: Ipv6Address, dst: Ipv6Address, hop_limit: u8, msg: NdiscRepr) -> Vec<u8> {
    let icmp = Icmpv6Repr::Ndisc(msg);
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: icmp.buffer_len(),
        hop_limit,
    };
    let mut out = alloc::vec![0u8; ip.buffer_len() + icmp.buffer_len()];
    let mut packet = Ipv6Packet::new_unchecked(&mut out[..]);
    ip.emit(&mut packet);
    icmp.emit(
        &src,
        &dst,
        &mut Icmpv6Packet::new_unchecked(packet.payload_mut()),
        &smoltcp::phy::ChecksumCapabilities::default(),
    );
    out
}

/// The router advertisement in an IPv6 packet (from a raw ICMPv6 socket),
/// if it is one that RFC 4861 §6.1.2 lets a host accept: from a link-local
/// address, hop limit 255, code 0, valid checksum.
pub(crate) fn parse_advert(packet: &[u8]) -> Option<Advert> {
    let ip = Ipv6Packet::new_checked(packet).ok()?;
    let ip_repr = Ipv6Repr::parse(&ip).ok()?;
    if ip_repr.next_header != IpProtocol::Icmpv6
        || ip_repr.hop_limit != 255
        || !ip_repr.src_addr.is_unicast_link_local()
    {
        return None;
    }
    let icmp = Icmpv6Packet::new_checked(ip.payload()).ok()?;
    let repr = Icmpv6Repr::parse(
        &ip_repr.src_addr,
        &ip_repr.dst_addr,
        &icmp,
        &smoltcp::phy::ChecksumCapabilities::default(),
    )
    .ok()?;
    match repr {
        Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert {
            router_lifetime,
            prefix_info,
            ..
        }) if icmp.msg_code() == 0 => Some(Advert {
            router: ip_repr.src_addr,
            router_lifetime_ns: router_lifetime.total_micros().saturating_mul(1000),
            prefix: prefix_info,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use smoltcp::time::Duration as SDuration;

    const S: u64 = 1_000_000_000;
    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
    const ROUTER: Ipv6Address = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    const PREFIX: Ipv6Address = Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 0);

    fn info(valid: u64, preferred: u64) -> NdiscPrefixInformation {
        NdiscPrefixInformation {
            prefix_len: 64,
            flags: NdiscPrefixInfoFlags::ADDRCONF | NdiscPrefixInfoFlags::ON_LINK,
            valid_lifetime: SDuration::from_secs(valid),
            preferred_lifetime: SDuration::from_secs(preferred),
            prefix: PREFIX,
        }
    }

    fn ad(router_lifetime: u64, prefix: Option<NdiscPrefixInformation>) -> Advert {
        Advert {
            router: ROUTER,
            router_lifetime_ns: router_lifetime * S,
            prefix,
        }
    }

    /// Runs `slaac` the way the driver does, from `from` to `to`, sleeping
    /// until each `poll_at`; returns the times solicitations went out.
    fn run(slaac: &mut Slaac, from: u64, to: u64) -> Vec<u64> {
        let mut sent = Vec::new();
        let mut now = from;
        let mut polls = 0;
        loop {
            if slaac.poll(now) {
                sent.push(now);
            }
            polls += 1;
            assert!(polls < 10_000, "SLAAC keeps asking to be polled");
            match slaac.poll_at() {
                Some(t) => {
                    assert!(t > now, "poll_at {t} is not after now {now}");
                    if t > to {
                        return sent;
                    }
                    now = t;
                }
                None => return sent,
            }
        }
    }

    #[test]
    fn solicits_with_backoff_forever_while_no_router_answers() {
        let mut s = Slaac::new(MAC, 0, 7);
        let sent = run(&mut s, 0, 3 * 24 * 3600 * S);
        // 4, 8, 16, ... s apart (±10%), then hourly: never stuck, never silent.
        assert_eq!(sent[0], 0);
        for (i, w) in sent.windows(2).enumerate().take(8) {
            let want = FIRST_INTERVAL_NS << i;
            let gap = w[1] - w[0];
            assert!(
                gap >= want - want / 10 && gap <= want + want / 10,
                "gap {i}: {gap}"
            );
        }
        let last = sent.windows(2).last().unwrap();
        assert!(last[1] - last[0] >= MAX_INTERVAL_NS * 9 / 10);
        // About 72 hourly ones plus the first dozen.
        assert!(
            (70..100).contains(&sent.len()),
            "{} solicitations",
            sent.len()
        );
    }

    #[test]
    fn a_router_stops_solicitation_and_its_prefix_gives_an_address() {
        let mut s = Slaac::new(MAC, 0, 1);
        assert!(s.poll(0));
        s.advertised(2 * S, &ad(1800, Some(info(3600, 1800))));
        assert_eq!(s.router(), Some(ROUTER));
        let addrs: Vec<_> = s.addresses().collect();
        assert_eq!(addrs.len(), 1);
        assert_eq!(
            addrs[0].address(),
            Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0xff, 0xfe00, 1)
        );
        // Nothing to send until the router's lifetime ends at 1802 s.
        assert_eq!(run(&mut s, 2 * S, 1801 * S), Vec::<u64>::new());
        assert_eq!(s.router(), Some(ROUTER));
        // Then it solicits again at once, and the address lives to 3602 s.
        assert_eq!(run(&mut s, 1802 * S, 1802 * S), alloc::vec![1802 * S]);
        assert!(s.router().is_none());
        assert_eq!(s.addresses().count(), 1);
        run(&mut s, 1802 * S, 3602 * S);
        assert_eq!(s.addresses().count(), 0);
    }

    #[test]
    fn refreshed_prefixes_live_on_and_short_lifetimes_keep_two_hours() {
        let mut s = Slaac::new(MAC, 0, 1);
        s.advertised(0, &ad(600, Some(info(86_400, 3600))));
        // A spoofed RA cannot cut a day down to a minute: two hours remain.
        s.advertised(S, &ad(600, Some(info(60, 60))));
        run(&mut s, S, 7_000 * S);
        assert_eq!(s.addresses().count(), 1);
        run(&mut s, 7_000 * S, 7_202 * S);
        assert_eq!(s.addresses().count(), 0);
        // Infinite lifetimes never expire.
        s.advertised(8_000 * S, &ad(600, Some(info(u64::from(u32::MAX), 3600))));
        run(&mut s, 8_000 * S, 400 * 24 * 3600 * S);
        assert_eq!(s.addresses().count(), 1);
    }

    #[test]
    fn ignores_prefixes_it_cannot_use() {
        let mut s = Slaac::new(MAC, 0, 1);
        let mut no_auto = info(3600, 1800);
        no_auto.flags = NdiscPrefixInfoFlags::ON_LINK;
        let mut short = info(3600, 1800);
        short.prefix_len = 48;
        let mut link_local = info(3600, 1800);
        link_local.prefix = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 0);
        let inverted = info(60, 1800);
        for p in [no_auto, short, link_local, inverted, info(0, 0)] {
            s.advertised(S, &ad(0, Some(p)));
        }
        assert_eq!(s.addresses().count(), 0);
        // A router lifetime of 0 is not a default router: keep soliciting.
        assert!(s.router().is_none());
        assert!(s.poll_at().is_some());
    }

    #[test]
    fn solicitation_round_trips_and_adverts_are_checked() {
        let s = Slaac::new(MAC, 0, 1);
        let ll = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 1);
        let rs = s.solicitation(ll);
        let ip = Ipv6Packet::new_checked(&rs[..]).unwrap();
        assert_eq!(ip.dst_addr(), ALL_ROUTERS);
        assert_eq!(ip.hop_limit(), 255);
        // Not an advertisement.
        assert!(parse_advert(&rs).is_none());
        // An advertisement, built with smoltcp's emitter, parses; with hop limit 64 it does not.
        let build = |hop_limit: u8| {
            let ra = NdiscRepr::RouterAdvert {
                hop_limit: 64,
                flags: smoltcp::wire::NdiscRouterFlags::empty(),
                router_lifetime: SDuration::from_secs(1800),
                reachable_time: SDuration::from_millis(0),
                retrans_time: SDuration::from_millis(0),
                lladdr: None,
                mtu: None,
                prefix_info: Some(info(3600, 1800)),
            };
            let all_nodes = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
            ndisc_packet(ROUTER, all_nodes, hop_limit, ra)
        };
        let good = parse_advert(&build(255)).unwrap();
        assert_eq!(good.router, ROUTER);
        assert_eq!(good.router_lifetime_ns, 1800 * S);
        assert!(parse_advert(&build(64)).is_none());
        let mut bad_sum = build(255);
        let last = bad_sum.len() - 1;
        bad_sum[last] ^= 1;
        assert!(parse_advert(&bad_sum).is_none());
    }

    proptest! {
        /// Whatever advertisements arrive whenever, after a poll the next
        /// deadline is in the future: the driver can always sleep.
        #[test]
        fn poll_at_is_always_later_than_now(
            events in proptest::collection::vec(
                (0u64..100_000, 0u64..5_000, any::<Option<(u32, u32, bool)>>()), 0..40)
        ) {
            let mut s = Slaac::new(MAC, 0, 3);
            let mut now = 0;
            for (step, lifetime, prefix) in events {
                now += step * S / 10;
                let prefix = prefix.map(|(v, p, auto)| {
                    let mut i = info(u64::from(v), u64::from(p));
                    if !auto { i.flags = NdiscPrefixInfoFlags::ON_LINK; }
                    i
                });
                s.advertised(now, &ad(lifetime, prefix));
                s.poll(now);
                if let Some(t) = s.poll_at() {
                    prop_assert!(t > now);
                }
            }
        }

        /// Any bytes: parsing never panics.
        #[test]
        fn parse_advert_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_advert(&bytes);
        }
    }
}
