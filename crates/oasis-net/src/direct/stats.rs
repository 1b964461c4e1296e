//! The direct stack's counters: frames in and out, how they were batched,
//! and every frame dropped with the reason.

use core::fmt;

use super::check;

/// Counters of one direct stack since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received from the device (dropped ones included).
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Non-empty receive batches taken from the device.
    pub rx_batches: u64,
    /// Received frames copied into the stack's own ring for smoltcp: those
    /// from a device that cannot lend its frames where they lie (zero on
    /// kvm, where smoltcp reads them in the RX ring's slots).
    pub rx_copied: u64,
    /// Device receive calls that failed.
    pub rx_errors: u64,
    /// Datagrams dropped on send because no route or address fits the peer.
    pub udp_unroutable: u64,
    /// Frames handed to the device.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Device flushes that had frames to push (one VM exit each on kvm).
    pub tx_flushes: u64,
    /// Frames the device refused to queue.
    pub tx_errors: u64,
    /// Received frames shorter than their headers say.
    pub dropped_truncated: u64,
    /// Received frames with impossible header fields.
    pub dropped_malformed: u64,
    /// Received frames with a bad IPv4, TCP, UDP or ICMP checksum.
    pub dropped_checksum: u64,
    /// Received frames larger than the device's MTU.
    pub dropped_oversize: u64,
    /// TCP connection openings (SYN without ACK) received.
    pub tcp_syns: u64,
    /// Half-open connections given up (no ACK to our SYN-ACK in time).
    pub tcp_half_open_expired: u64,
    /// Half-open connections given up to make room for a new opening
    /// while every slot of the listener was half-open (a SYN flood).
    pub tcp_half_open_evicted: u64,
    /// UDP datagrams answered on the fast path, in place
    /// ([`crate::api::UdpSocket::serve`]).
    pub udp_answered_in_place: u64,
    /// Interface polls.
    pub polls: u64,
    /// Router solicitations sent (SLAAC).
    pub router_solicitations: u64,
    /// Steps where the stack kept asking to be polled at once without
    /// moving a frame and the driver made it wait instead (a stack bug;
    /// zero in a healthy run).
    pub spin_backoffs: u64,
    /// Sockets the stack holds now (a gauge, not a counter): listeners'
    /// slots, connections, closing ones and its own DHCP and ICMPv6
    /// sockets. Flat under steady load; growing means a leak.
    pub sockets: u64,
    /// Of those, connections dropped by the application and still
    /// closing (their FIN exchange, bounded by a linger time).
    pub closing: u64,
}

impl Stats {
    /// Every received frame dropped before the stack, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_truncated
            + self.dropped_malformed
            + self.dropped_checksum
            + self.dropped_oversize
    }

    pub(crate) fn count_drop(&mut self, why: check::Drop) {
        match why {
            check::Drop::Truncated => self.dropped_truncated += 1,
            check::Drop::BadHeader => self.dropped_malformed += 1,
            check::Drop::BadChecksum => self.dropped_checksum += 1,
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rx {} frames {} bytes in {} batches ({} copied), {} errors; tx {} frames {} bytes in {} flushes, {} errors; \
             dropped {} (truncated {}, malformed {}, checksum {}, oversize {}); \
             tcp syn {}, half-open expired {}, evicted {}; udp unroutable {}, answered in place {}; polls {}, router solicitations {}, spin backoffs {}; \
             sockets {} (closing {})",
            self.rx_frames,
            self.rx_bytes,
            self.rx_batches,
            self.rx_copied,
            self.rx_errors,
            self.tx_frames,
            self.tx_bytes,
            self.tx_flushes,
            self.tx_errors,
            self.dropped(),
            self.dropped_truncated,
            self.dropped_malformed,
            self.dropped_checksum,
            self.dropped_oversize,
            self.tcp_syns,
            self.tcp_half_open_expired,
            self.tcp_half_open_evicted,
            self.udp_unroutable,
            self.udp_answered_in_place,
            self.polls,
            self.router_solicitations,
            self.spin_backoffs,
            self.sockets,
            self.closing
        )
    }
}
