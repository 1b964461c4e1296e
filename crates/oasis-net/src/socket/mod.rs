//! The socket stack (hosted only): the same UDP/TCP API over the host's own
//! sockets, non-blocking and registered in the hosted platform's epoll
//! reactor. UDP moves batches with one `recvmmsg`/`sendmmsg` each.
//!
//! Sockets listen on every local address, dual-stack (`[::]`, IPv4 peers
//! seen as plain IPv4), unless `--ipv4=ADDR/PREFIX` names the one address
//! to listen on.

mod sys;
mod tcp;
mod udp;

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::Config;
use crate::error::NetError;
pub use tcp::{SocketTcpListener, SocketTcpStream};
pub use udp::SocketUdpSocket;

/// The host's sockets as an oasis stack.
#[derive(Clone, Debug)]
pub struct SocketStack {
    /// The address sockets are bound to.
    bind_ip: IpAddr,
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
        Ok(SocketStack { bind_ip })
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
