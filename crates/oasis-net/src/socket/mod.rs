//! The socket stack (hosted only): the same UDP/TCP API over the host's own
//! sockets, non-blocking and registered in the hosted platform's epoll
//! reactor. UDP moves batches with one `recvmmsg`/`sendmmsg` each, a
//! batch's datagrams to one peer of one length sent as one train with UDP
//! segmentation offload (see `trains.rs`) unless `--udp-no-gso` is given.
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

/// The host's sockets as an oasis stack.
#[derive(Clone, Debug)]
pub struct SocketStack {
    /// The address sockets are bound to.
    bind_ip: IpAddr,
    /// Whether UDP batches may leave as trains.
    udp_gso: bool,
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
