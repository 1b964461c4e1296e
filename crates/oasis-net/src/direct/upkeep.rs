//! What the driver does after each poll besides moving frames: apply DHCP
//! and SLAAC results, keep every listener's backlog listening (half-open
//! connections expire, or make room under a SYN flood), and let closed
//! connections go.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use smoltcp::socket::{dhcpv4, raw, tcp as stcp};
use smoltcp::wire::{IpCidr, Ipv6Cidr};

use super::{HALF_OPEN_TIMEOUT, State, link_local, slaac};

impl State {
    /// After each poll: DHCP results, backlog slots, closing sockets.
    pub(super) fn upkeep(&mut self, now: u64) {
        self.dhcp_upkeep();
        self.backlog_upkeep(now);
        self.closing_upkeep(now);
        if self.iface.ip_addrs() != self.shown_addrs.as_slice() {
            self.shown_addrs = self.iface.ip_addrs().to_vec();
            let list: Vec<String> = self.shown_addrs.iter().map(|c| format!("{c}")).collect();
            log::info!("addresses {}", list.join(" "));
        }
    }

    fn dhcp_upkeep(&mut self) {
        let Some(h) = self.dhcp else { return };
        match self.sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            None => {}
            Some(dhcpv4::Event::Configured(lease)) => {
                let addr = lease.address;
                let router = lease.router;
                let server = lease.server.address;
                self.iface.update_ip_addrs(|addrs| {
                    addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_)));
                    let _ = addrs.push(IpCidr::Ipv4(addr));
                });
                match router {
                    Some(r) => {
                        let _ = self.iface.routes_mut().add_default_ipv4_route(r);
                    }
                    None => {
                        self.iface.routes_mut().remove_default_ipv4_route();
                    }
                }
                // Reachable now: the application may count as serving.
                self.dhcp_wait = None;
                match router {
                    Some(r) => log::info!("DHCP lease {addr} via {r} from {server}"),
                    None => log::info!("DHCP lease {addr} (no router) from {server}"),
                }
            }
            Some(dhcpv4::Event::Deconfigured) => {
                let had = self.iface.ipv4_addr().is_some();
                self.iface
                    .update_ip_addrs(|addrs| addrs.retain(|a| !matches!(a, IpCidr::Ipv4(_))));
                self.iface.routes_mut().remove_default_ipv4_route();
                if had {
                    log::info!("DHCP: the lease ended, asking again");
                }
            }
        }
    }

    /// Hands SLAAC the router advertisements heard since the last step,
    /// applies its addresses and default router, and queues a router
    /// solicitation when one is due; true if it queued one.
    pub(super) fn slaac_upkeep(&mut self, now: u64) -> bool {
        let Some((machine, handle)) = self.slaac.as_mut() else {
            return false;
        };
        let sock = self.sockets.get_mut::<raw::Socket>(*handle);
        while let Ok(packet) = sock.recv() {
            if let Some(ad) = slaac::parse_advert(packet) {
                machine.advertised(now, &ad);
            }
        }
        let solicit = machine.poll(now);
        if solicit {
            self.stats.router_solicitations += 1;
            let rs = machine.solicitation(link_local(self.dev.mac()));
            if sock.send_slice(&rs).is_err() {
                log::debug!("SLAAC: no room to queue a router solicitation");
            }
        }
        let router = machine.router();
        let (applied, applied_router) = &mut self.slaac_applied;
        // Every driver step passes here: compare in place, allocate only on a change.
        if !machine.addresses().eq(applied.iter().copied()) {
            let addrs: Vec<Ipv6Cidr> = machine.addresses().collect();
            let gone = core::mem::replace(applied, addrs.clone());
            self.iface.update_ip_addrs(|list| {
                list.retain(|a| !matches!(a, IpCidr::Ipv6(c) if gone.contains(c)));
                for c in addrs {
                    if list.push(IpCidr::Ipv6(c)).is_err() {
                        log::warn!("SLAAC: no room on the interface for {c}");
                    }
                }
            });
        }
        if router != *applied_router {
            *applied_router = router;
            match router {
                Some(r) => {
                    let _ = self.iface.routes_mut().add_default_ipv6_route(r);
                    log::info!("IPv6 default router {r}");
                }
                None => {
                    self.iface.routes_mut().remove_default_ipv6_route();
                }
            }
        }
        solicit
    }

    fn backlog_upkeep(&mut self, now: u64) {
        let limit = HALF_OPEN_TIMEOUT.as_nanos() as u64;
        for backlog in self.backlogs.iter_mut().flatten() {
            for (h, since) in backlog.slots.iter_mut() {
                let sock = self.sockets.get_mut::<stcp::Socket>(*h);
                match sock.state() {
                    stcp::State::Listen => *since = None,
                    stcp::State::SynReceived => {
                        let t = *since.get_or_insert(now);
                        if now.saturating_sub(t) > limit {
                            sock.abort();
                            let _ = sock.listen(backlog.port);
                            *since = None;
                            self.stats.tcp_half_open_expired += 1;
                        }
                    }
                    stcp::State::Closed | stcp::State::TimeWait => {
                        // Reset or timed out before it was accepted.
                        sock.abort();
                        let _ = sock.listen(backlog.port);
                        *since = None;
                    }
                    _ => {}
                }
            }
        }
    }

    /// Before a batch with connection openings is polled: a listener whose
    /// slots are all half-open gives up its oldest ones, so that a flood of
    /// SYNs that are never completed cannot lock real clients out (Linux
    /// without SYN cookies does the same). Each one given up is counted.
    pub(super) fn make_room_for_syns(&mut self, now: u64) {
        for backlog in self.backlogs.iter_mut().flatten() {
            let wanted = self
                .syn_ports
                .iter()
                .filter(|p| **p == backlog.port)
                .count();
            if wanted == 0 {
                continue;
            }
            let listening = backlog
                .slots
                .iter()
                .filter(|(h, _)| {
                    self.sockets.get::<stcp::Socket>(*h).state() == stcp::State::Listen
                })
                .count();
            let mut short = wanted.saturating_sub(listening);
            while short > 0 {
                // The oldest half-open slot (one seen half-open in an
                // earlier step; one just become so counts as now).
                let oldest = backlog
                    .slots
                    .iter_mut()
                    .filter(|(h, _)| {
                        self.sockets.get::<stcp::Socket>(*h).state() == stcp::State::SynReceived
                    })
                    .min_by_key(|(_, since)| since.unwrap_or(now));
                let Some((h, since)) = oldest else { break };
                let sock = self.sockets.get_mut::<stcp::Socket>(*h);
                sock.abort();
                let _ = sock.listen(backlog.port);
                *since = None;
                self.stats.tcp_half_open_evicted += 1;
                short -= 1;
            }
        }
    }

    /// When the oldest half-open connection runs out of time, if any.
    pub(super) fn next_half_open_expiry(&self) -> Option<u64> {
        let limit = HALF_OPEN_TIMEOUT.as_nanos() as u64;
        self.backlogs
            .iter()
            .flatten()
            .flat_map(|b| b.slots.iter().filter_map(|(_, since)| *since))
            .min()
            .map(|t| t.saturating_add(limit + 1))
    }

    fn closing_upkeep(&mut self, now: u64) {
        let sockets = &mut self.sockets;
        self.closing.retain(|&(h, deadline)| {
            let sock = sockets.get_mut::<stcp::Socket>(h);
            let done = matches!(sock.state(), stcp::State::Closed | stcp::State::TimeWait);
            if done || now > deadline {
                sockets.remove(h);
                false
            } else {
                true
            }
        });
    }
}
