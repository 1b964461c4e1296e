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
//! Which stack is the platform's answer to `Env::net_attachment`: the
//! direct stack over a device (kvm's rings; hosted, a TAP or a user-mode
//! network, `--net:NAME=user,fwd=…`), or the socket stack where the
//! platform attached the host's own sockets (hosted `--net:NAME=socket`, or
//! not attached at all, as on MirageOS's Unix target). oasis-net names no
//! platform: the socket stack waits on its sockets through the runtime's
//! `Readiness`. Addresses come from boot arguments ([`config`]).
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod any;
pub mod api;
pub mod batch;
pub mod config;
pub mod conns;
pub mod direct;
pub mod error;
mod slots;
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
///
/// The platform says how the device is attached: over a device (a kvm
/// ring, a TAP, a user-mode network) the direct stack runs; attached as the
/// host's own sockets (hosted), the socket stack does.
pub fn stack(env: &mut oasis::Env, name: &str) -> Result<AnyStack, NetError> {
    let config = Config::from_boot_args()?;
    let attached = env
        .net_attachment(name)
        .map_err(|e| NetError::Config(alloc::format!("net device `{name}`: {e}")))?;
    match attached {
        oasis::NetAttachment::Device(dev) => {
            Ok(AnyStack::Direct(direct::DirectStack::new(dev, config)?))
        }
        #[cfg(not(target_os = "none"))]
        oasis::NetAttachment::HostSockets => {
            Ok(AnyStack::Socket(socket::SocketStack::new(&config)?))
        }
        #[cfg(target_os = "none")]
        oasis::NetAttachment::HostSockets => Err(NetError::Config(alloc::format!(
            "net device `{name}`: attached as host sockets, which this target has none of"
        ))),
    }
}
