//! oasis-net: the network stacks of oasis (ARCHITECTURE.md §1), behind one
//! UDP/TCP API ([`Stack`], [`UdpSocket`], [`TcpListener`], [`TcpStream`]).
//!
//! - The **direct stack** ([`direct::DirectStack`]): smoltcp over any
//!   `oasis_rt::device::Net` — Ethernet, ARP, IPv4, IPv6 (static, SLAAC,
//!   link-local), ICMP echo, UDP, TCP, DHCPv4 — driven by the oasis
//!   executor, one device flush per burst.
//! - The **socket stack** ([`socket::SocketStack`], hosted only): the host's
//!   UDP/TCP sockets, UDP batched with `recvmmsg`/`sendmmsg`.
//!
//! An application asks for its stack by the net device's name and names no
//! platform:
//!
//! ```ignore
//! #[oasis::main(net = "service")]
//! async fn main(mut env: oasis::Env) -> oasis::Result {
//!     let stack = oasis_net::stack(&mut env, "service")?;
//!     let udp = stack.bind_udp(7)?;
//!     // …
//! }
//! ```
//!
//! Which stack: the direct stack over the attached device, except on hosted
//! when the device is attached as `--net:NAME=socket` or not attached at
//! all, which means the host's own sockets (as on MirageOS's Unix target).
//! Hosted `--net:NAME=user,fwd=…` runs the direct stack over a user-mode
//! network (the hosted platform's `UserNetDevice`).
//! Addresses come from boot arguments ([`config`]).
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod any;
pub mod api;
pub mod batch;
pub mod config;
pub mod direct;
pub mod error;
#[cfg(not(target_os = "none"))]
pub mod socket;

pub use any::{AnyStack, AnyTcpListener, AnyTcpStream, AnyUdpSocket};
pub use api::{Stack, TcpListener, TcpStream, UdpSocket};
pub use batch::{Batch, Datagram};
pub use config::Config;
pub use error::NetError;

/// Everything an application or protocol library needs in scope.
pub mod prelude {
    pub use crate::api::{Stack, TcpListener, TcpStream, UdpSocket};
    pub use crate::batch::Batch;
}

/// Opens the network stack for the net device the application declared as
/// `name`, configured by the boot arguments ([`config`]). Call once, from
/// inside the application (it starts the stack's task).
pub fn stack(env: &mut oasis::Env, name: &str) -> Result<AnyStack, NetError> {
    let config = Config::from_boot_args()?;
    #[cfg(not(target_os = "none"))]
    if oasis_hosted::net_uses_host_sockets(name) {
        return Ok(AnyStack::Socket(socket::SocketStack::new(&config)?));
    }
    #[cfg(not(target_os = "none"))]
    if let Some(spec) = oasis_hosted::net_user_mode(name) {
        return user_mode_stack(name, &spec, config);
    }
    let dev = env
        .net(name)
        .map_err(|e| NetError::Config(alloc::format!("net device `{name}`: {e}")))?;
    Ok(AnyStack::Direct(direct::DirectStack::new(dev, config)?))
}

/// The direct stack over a user-mode network (hosted `--net:NAME=user,…`).
/// Without `--ipv4` the stack asks DHCP, which the gateway answers.
#[cfg(not(target_os = "none"))]
fn user_mode_stack(name: &str, spec: &str, config: Config) -> Result<AnyStack, NetError> {
    let dev = oasis_hosted::usernet::UserNetDevice::open(spec)
        .map_err(|e| NetError::Config(alloc::format!("net device `{name}`: {e}")))?;
    Ok(AnyStack::Direct(direct::DirectStack::new(dev, config)?))
}
