//! The first look at every received frame: everything from the wire is
//! hostile until parsed. A frame that is truncated, malformed or carries a
//! bad checksum is dropped here and counted, before the stack sees it; the
//! stack is then told not to verify checksums again ([`super::port`]).

use smoltcp::wire::{
    ArpPacket, EthernetFrame, EthernetProtocol, Icmpv4Packet, Icmpv6Packet, IpAddress, IpProtocol,
    Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket,
};

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drop {
    /// Shorter than a header or length field says.
    Truncated,
    /// A header field that cannot be (wrong IP version).
    Malformed,
    /// An IPv4 header, TCP, UDP or ICMP checksum that does not match.
    BadChecksum,
}

/// What a frame that passed is, as far as the counters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A TCP segment opening a connection (SYN without ACK).
    Syn,
    /// Anything else the stack should see.
    Other,
}

/// Checks one received Ethernet frame.
pub(crate) fn frame(bytes: &[u8]) -> Result<Pass, Drop> {
    let eth = EthernetFrame::new_checked(bytes).map_err(|_| Drop::Truncated)?;
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => ipv4(eth.payload()),
        EthernetProtocol::Ipv6 => ipv6(eth.payload()),
        EthernetProtocol::Arp => ArpPacket::new_checked(eth.payload())
            .map(|_| Pass::Other)
            .map_err(|_| Drop::Truncated),
        _ => Ok(Pass::Other),
    }
}

fn ipv4(bytes: &[u8]) -> Result<Pass, Drop> {
    if bytes.first().is_some_and(|b| b >> 4 != 4) {
        return Err(Drop::Malformed);
    }
    let ip = Ipv4Packet::new_checked(bytes).map_err(|_| Drop::Truncated)?;
    if !ip.verify_checksum() {
        return Err(Drop::BadChecksum);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        // A fragment's transport header and checksum cover the whole
        // datagram; the stack (which does not reassemble) drops it.
        return Ok(Pass::Other);
    }
    let src = IpAddress::Ipv4(ip.src_addr());
    let dst = IpAddress::Ipv4(ip.dst_addr());
    transport(ip.next_header(), src, dst, ip.payload())
}

fn ipv6(bytes: &[u8]) -> Result<Pass, Drop> {
    if bytes.first().is_some_and(|b| b >> 4 != 6) {
        return Err(Drop::Malformed);
    }
    let ip = Ipv6Packet::new_checked(bytes).map_err(|_| Drop::Truncated)?;
    let src = IpAddress::Ipv6(ip.src_addr());
    let dst = IpAddress::Ipv6(ip.dst_addr());
    transport(ip.next_header(), src, dst, ip.payload())
}

fn transport(
    proto: IpProtocol,
    src: IpAddress,
    dst: IpAddress,
    bytes: &[u8],
) -> Result<Pass, Drop> {
    match (proto, src, dst) {
        (IpProtocol::Tcp, _, _) => {
            let tcp = TcpPacket::new_checked(bytes).map_err(|_| Drop::Truncated)?;
            if !tcp.verify_checksum(&src, &dst) {
                return Err(Drop::BadChecksum);
            }
            Ok(if tcp.syn() && !tcp.ack() {
                Pass::Syn
            } else {
                Pass::Other
            })
        }
        (IpProtocol::Udp, _, _) => {
            let udp = UdpPacket::new_checked(bytes).map_err(|_| Drop::Truncated)?;
            if !udp.verify_checksum(&src, &dst) {
                return Err(Drop::BadChecksum);
            }
            Ok(Pass::Other)
        }
        (IpProtocol::Icmp, IpAddress::Ipv4(_), _) => {
            let icmp = Icmpv4Packet::new_checked(bytes).map_err(|_| Drop::Truncated)?;
            if !icmp.verify_checksum() {
                return Err(Drop::BadChecksum);
            }
            Ok(Pass::Other)
        }
        (IpProtocol::Icmpv6, IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
            let icmp = Icmpv6Packet::new_checked(bytes).map_err(|_| Drop::Truncated)?;
            if !icmp.verify_checksum(&s, &d) {
                return Err(Drop::BadChecksum);
            }
            Ok(Pass::Other)
        }
        _ => Ok(Pass::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame carrying an ICMP echo request from 10.0.0.1 to
    /// 10.0.0.2 (taken from a ping on a TAP), checksums valid.
    const PING: [u8; 42] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,
        0x00, // eth
        0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x14, 0xab, 10, 0, 0, 1, 10, 0,
        0, 2, // ipv4
        0x08, 0x00, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x00, // icmp echo, id 1, seq 0
    ];

    #[test]
    fn a_valid_ping_passes() {
        assert_eq!(frame(&PING), Ok(Pass::Other));
    }

    #[test]
    fn truncated_headers_are_dropped() {
        for len in [0, 5, 13, 14, 20, 33, 41] {
            assert_eq!(
                frame(&PING[..len]).err(),
                Some(Drop::Truncated),
                "len {len}"
            );
        }
    }

    #[test]
    fn bad_checksums_are_dropped() {
        let mut f = PING;
        f[24] ^= 0xff; // IPv4 header checksum
        assert_eq!(frame(&f), Err(Drop::BadChecksum));
        let mut f = PING;
        f[36] ^= 0x01; // ICMP checksum
        assert_eq!(frame(&f), Err(Drop::BadChecksum));
    }

    #[test]
    fn a_wrong_ip_version_is_malformed() {
        let mut f = PING;
        f[14] = 0x65;
        assert_eq!(frame(&f), Err(Drop::Malformed));
    }
}
