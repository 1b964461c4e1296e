//! oasis-frame: the one check of an Ethernet frame that came from a hostile
//! peer — the network, for the guest's direct stack (oasis-net), or the
//! guest, for the monitor's user-mode gateway (oasis-vmm). Both sides use
//! this function, so a frame one side accepts the other parses the same way
//! (ARCHITECTURE.md §1, the `wire` layer: platform-free, no oasis crate).
//!
//! [`check`] verifies every length, the IP version, the IPv4 header
//! checksum and the TCP, UDP, ICMP and ICMPv6 checksums, and says what the
//! frame is, with a UDP datagram's payload located in the frame (the UDP
//! fast path answers it where it lies). What to do with each kind is the
//! caller's policy: the guest hands everything that passes to its stack,
//! the gateway carries only ARP and IPv4.
//!
//! [`gso`] sorts a batch of frames a guest sent into trains of TCP
//! segments the monitor writes to a TAP as one packet.
#![no_std]
#![warn(missing_docs)]

pub mod gso;

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv6Packet,
    IpAddress, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket,
};

/// Why a frame is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than a header, or than a length field says.
    Truncated,
    /// A header field that cannot be (the IP version).
    BadHeader,
    /// An IPv4 header, TCP, UDP, ICMP or ICMPv6 checksum that does not match.
    BadChecksum,
}

/// What a frame that passed is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// ARP; `ipv4_request_or_reply`: an Ethernet/IPv4 request or reply (the
    /// only ARP a stack acts on).
    Arp {
        /// Whether it is an Ethernet/IPv4 request or reply.
        ipv4_request_or_reply: bool,
    },
    /// An IPv4 or IPv6 packet.
    Ip {
        /// IPv6 rather than IPv4.
        v6: bool,
        /// What it carries.
        transport: Transport,
    },
    /// Another ethertype, not looked into.
    Other,
}

/// What an IP packet carries; every checksum named here was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A whole UDP datagram.
    Udp(Udp),
    /// A TCP segment.
    Tcp {
        /// Its destination port.
        dst_port: u16,
        /// SYN without ACK: it opens a connection.
        opens: bool,
    },
    /// ICMP (IPv4) or ICMPv6.
    Icmp,
    /// An IPv4 fragment: its transport header and checksum cover the whole
    /// datagram, so neither is checked.
    Fragment,
    /// Another protocol (or an IPv6 extension header), not looked into.
    Other,
}

/// Where a checked UDP datagram sits in its frame, and who sent it to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Udp {
    /// Source address and port.
    pub src: (IpAddress, u16),
    /// Destination address and port.
    pub dst: (IpAddress, u16),
    /// The payload's offset in the frame.
    pub payload_at: usize,
    /// The payload's length.
    pub payload_len: usize,
}

/// Frames for tests of what runs this check (feature `samples`).
#[cfg(feature = "samples")]
pub mod samples {
    /// A real ARP request (who has 10.0.0.1, tell 10.0.0.2), as a guest
    /// at 02:00:00:00:00:02 sends it.
    pub const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, //
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, //
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 10, 0, 0, 2, //
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 1,
    ];
}

/// Checks one Ethernet frame (without its FCS).
pub fn check(bytes: &[u8]) -> Result<Frame, Malformed> {
    let eth = EthernetFrame::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
    const ETH: usize = 14;
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => ipv4(eth.payload(), ETH),
        EthernetProtocol::Ipv6 => ipv6(eth.payload(), ETH),
        EthernetProtocol::Arp => {
            let packet = ArpPacket::new_checked(eth.payload()).map_err(|_| Malformed::Truncated)?;
            let ipv4_request_or_reply = matches!(
                ArpRepr::parse(&packet),
                Ok(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request | ArpOperation::Reply,
                    ..
                })
            );
            Ok(Frame::Arp {
                ipv4_request_or_reply,
            })
        }
        _ => Ok(Frame::Other),
    }
}

/// An IPv4 packet at offset `at` of the frame.
fn ipv4(bytes: &[u8], at: usize) -> Result<Frame, Malformed> {
    if bytes.first().is_some_and(|b| b >> 4 != 4) {
        return Err(Malformed::BadHeader);
    }
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
    if !ip.verify_checksum() {
        return Err(Malformed::BadChecksum);
    }
    let transport = if ip.more_frags() || ip.frag_offset() != 0 {
        Transport::Fragment
    } else {
        let (src, dst) = (
            IpAddress::Ipv4(ip.src_addr()),
            IpAddress::Ipv4(ip.dst_addr()),
        );
        let header = usize::from(ip.header_len());
        transport(ip.next_header(), src, dst, ip.payload(), at + header)?
    };
    Ok(Frame::Ip {
        v6: false,
        transport,
    })
}

/// An IPv6 packet at offset `at` of the frame.
fn ipv6(bytes: &[u8], at: usize) -> Result<Frame, Malformed> {
    if bytes.first().is_some_and(|b| b >> 4 != 6) {
        return Err(Malformed::BadHeader);
    }
    let ip = Ipv6Packet::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
    let (src, dst) = (
        IpAddress::Ipv6(ip.src_addr()),
        IpAddress::Ipv6(ip.dst_addr()),
    );
    let transport = transport(ip.next_header(), src, dst, ip.payload(), at + 40)?;
    Ok(Frame::Ip {
        v6: true,
        transport,
    })
}

/// The transport header of a packet from `src` to `dst`, at offset `at`.
fn transport(
    proto: IpProtocol,
    src: IpAddress,
    dst: IpAddress,
    bytes: &[u8],
    at: usize,
) -> Result<Transport, Malformed> {
    match (proto, src, dst) {
        (IpProtocol::Tcp, _, _) => {
            let tcp = TcpPacket::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
            if !tcp.verify_checksum(&src, &dst) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Tcp {
                dst_port: tcp.dst_port(),
                opens: tcp.syn() && !tcp.ack(),
            })
        }
        (IpProtocol::Udp, _, _) => {
            let udp = UdpPacket::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
            // smoltcp reads a zero checksum as "none" (RFC 768).
            if !udp.verify_checksum(&src, &dst) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Udp(Udp {
                src: (src, udp.src_port()),
                dst: (dst, udp.dst_port()),
                payload_at: at + 8,
                payload_len: udp.payload().len(),
            }))
        }
        (IpProtocol::Icmp, IpAddress::Ipv4(_), _) => {
            let icmp = Icmpv4Packet::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
            if !icmp.verify_checksum() {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Icmp)
        }
        (IpProtocol::Icmpv6, IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
            let icmp = Icmpv6Packet::new_checked(bytes).map_err(|_| Malformed::Truncated)?;
            if !icmp.verify_checksum(&s, &d) {
                return Err(Malformed::BadChecksum);
            }
            Ok(Transport::Icmp)
        }
        _ => Ok(Transport::Other),
    }
}
