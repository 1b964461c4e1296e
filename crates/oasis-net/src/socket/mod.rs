//! The socket stack (hosted only): the same UDP/TCP API over the host's own
//! sockets, non-blocking and registered in the hosted platform's epoll
//! reactor. UDP moves batches with one `recvmmsg`/`sendmmsg` each, a
//! batch's datagrams to one peer of one length sent as one train with UDP
//! segmentation offload (see `trains.rs`) unless `--udp-no-gso` is given;
//! under load, reading pauses briefly between batches so that they grow
//! (`--udp-hold-us`, see [`SocketStack::set_udp_hold`]).
//!
//! Sockets listen on every local address, dual-stack (`[::]`, IPv4 peers
//! seen as plain IPv4), unless `--ipv4=ADDR/PREFIX` names the one address
//! to listen on.

mod sys;
mod tcp;
mod trains;
mod udp;

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::Config;
use crate::error::NetError;
pub use tcp::{SocketTcpListener, SocketTcpStream};
pub use udp::{SocketUdpSocket, UdpSendStats};

oasis_rt::boot_arg! {
    /// `--udp-no-gso`.
    pub static UDP_NO_GSO: bool = Arg::flag("udp-no-gso", "socket stack: send UDP batches as plain datagrams, never as trains with segmentation offload");
}

oasis_rt::boot_arg! {
    /// `--udp-hold-us=N`.
    pub static UDP_HOLD_US: u32 = Arg::new("udp-hold-us", "socket stack: after a UDP batch of two or more datagrams, pause this many microseconds before reading the next, so batches grow under load (0: never)").default("50");
}

/// The host's sockets as an oasis stack.
#[derive(Clone, Debug)]
pub struct SocketStack {
    /// The address sockets are bound to.
    bind_ip: IpAddr,
    /// Whether UDP batches may leave as trains.
    udp_gso: bool,
    /// The pause under load between UDP batches, µs.
    udp_hold_us: u32,
}

impl SocketStack {
    /// A socket stack for `config`: bound to its `--ipv4` address if given,
    /// otherwise to every address (IPv6 and IPv4).
    pub fn new(config: &Config) -> Result<SocketStack, NetError> {
        let bind_ip = match config.ipv4 {
            Some(c) => IpAddr::V4(c.addr),
            None if ipv6_works() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        log::info!("socket stack on the host's sockets, bound to {bind_ip}");
        Ok(SocketStack {
            bind_ip,
            udp_gso: !UDP_NO_GSO.on(),
            udp_hold_us: UDP_HOLD_US.value().unwrap_or(50).min(999_999),
        })
    }

    /// Whether UDP sockets bound from now on may send batches as trains
    /// with UDP segmentation offload (where the host offers it; the
    /// default unless `--udp-no-gso`).
    pub fn set_udp_gso(&mut self, on: bool) {
        self.udp_gso = on;
    }

    /// Whether new UDP sockets may send trains ([`SocketStack::set_udp_gso`]).
    pub fn udp_gso(&self) -> bool {
        self.udp_gso
    }

    /// The pause, in µs (below 1 s), that UDP sockets bound from now on
    /// take before reading a batch when the one before held two or more
    /// datagrams but was not full (default 50, `--udp-hold-us`; 0: never).
    /// Under load this trades up to that much latency for fewer system
    /// calls and wake-ups per datagram.
    pub fn set_udp_hold(&mut self, micros: u32) {
        self.udp_hold_us = micros.min(999_999);
    }

    /// The pause under load of new UDP sockets ([`SocketStack::set_udp_hold`]).
    pub fn udp_hold_us(&self) -> u32 {
        self.udp_hold_us
    }

    /// The address new sockets are bound to.
    pub fn bind_ip(&self) -> IpAddr {
        self.bind_ip
    }

    fn bind_addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.bind_ip, port)
    }

    fn family(&self) -> i32 {
        sys::family_of(self.bind_ip)
    }

    /// Addresses this stack answers on (the unspecified address means all).
    pub fn addrs(&self) -> Vec<IpAddr> {
        vec![self.bind_ip]
    }
}

/// Whether this host can open IPv6 sockets at all.
fn ipv6_works() -> bool {
    // SAFETY: plain syscalls; the descriptor is closed at once.
    unsafe {
        let fd = libc::socket(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return false;
        }
        libc::close(fd);
    }
    true
}
