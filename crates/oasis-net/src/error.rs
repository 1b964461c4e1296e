//! What can go wrong on the network, in words that name the input.

use alloc::string::String;
use core::net::SocketAddr;

use oasis_rt::device::DeviceError;

/// Why a network operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// Another socket of this stack already holds the port.
    #[error("port {0} is already in use")]
    AddressInUse(u16),
    /// Every ephemeral port is taken.
    #[error("no local port is free for an outgoing connection")]
    NoPortLeft,
    /// The stack has no address or route to reach the peer.
    #[error("cannot reach {0}: no address or route for it")]
    Unreachable(SocketAddr),
    /// The peer answered a connection attempt with a reset.
    #[error("connection to {0} refused")]
    ConnectionRefused(SocketAddr),
    /// The peer reset an established connection, or it timed out.
    #[error("connection with {0} reset")]
    ConnectionReset(SocketAddr),
    /// Writing after [`crate::TcpStream::shutdown`], or after the peer closed.
    #[error("connection with {0} is closed for writing")]
    Closed(SocketAddr),
    /// A datagram larger than the stack can send in one piece.
    #[error("datagram of {len} bytes to {to} is too large (at most {max})")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The largest size that fits.
        max: usize,
        /// Where it was going.
        to: SocketAddr,
    },
    /// A host system call failed (socket stack only).
    #[error("{what} failed: errno {errno}")]
    Io {
        /// The call, with its argument (e.g. `bind [::]:53`).
        what: String,
        /// The OS error number.
        errno: i32,
    },
    /// The net device failed.
    #[error("net device: {0}")]
    Device(DeviceError),
    /// The boot arguments describe a network the stack cannot set up.
    #[error("network configuration: {0}")]
    Config(String),
}

impl From<DeviceError> for NetError {
    fn from(e: DeviceError) -> Self {
        NetError::Device(e)
    }
}
