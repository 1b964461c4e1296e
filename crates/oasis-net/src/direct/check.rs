//! The first look at every received frame: everything from the wire is
//! hostile until parsed. The check itself is oasis-frame's (the same one
//! the monitor runs on a guest's frames); a frame that is truncated,
//! malformed or carries a bad checksum is dropped and counted before the
//! stack sees it, and the stack is then told not to verify checksums again
//! ([`super::port`]). This module is the direct stack's policy: what of a
//! frame that passed the counters and the UDP fast path care about.

use oasis_frame::{Frame, Transport};
pub(crate) use oasis_frame::{Malformed as Drop, Udp};

/// What a frame that passed is, as far as the counters and the UDP fast
/// path care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A TCP segment opening a connection (SYN without ACK) to this port.
    Syn(u16),
    /// A whole UDP datagram (not a fragment), checksum verified.
    Udp(Udp),
    /// Anything else the stack should see (fragments too: smoltcp, which
    /// does not reassemble, drops them).
    Other,
}

/// Checks one received Ethernet frame.
pub(crate) fn frame(bytes: &[u8]) -> Result<Pass, Drop> {
    Ok(match oasis_frame::check(bytes)? {
        Frame::Ip {
            transport: Transport::Udp(u),
            ..
        } => Pass::Udp(u),
        Frame::Ip {
            transport:
                Transport::Tcp {
                    dst_port,
                    opens: true,
                },
            ..
        } => Pass::Syn(dst_port),
        _ => Pass::Other,
    })
}
