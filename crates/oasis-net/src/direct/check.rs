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

/// What a frame that passed is, as far as the counters and the UDP fast
/// path care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// A TCP segment opening a connection (SYN without ACK) to this port.
    Syn(u16),
    /// A whole UDP datagram (not a fragment), checksum verified.
    Udp(Udp),
    /// Anything else the stack should see.
    Other,
}

/// Where a checked UDP datagram sits in its frame, and who sent it to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Udp {
    /// Source address and port.
    pub(crate) src: (IpAddress, u16),
    /// Destination address and port.
    pub(crate) dst: (IpAddress, u16),
    /// The payload's offset in the frame.
    pub(crate) payload_at: usize,
    /// The payload's length.
    pub(crate) payload_len: usize,
}

/// Checks one received Ethernet frame.
pub(crate) fn frame(bytes: &[u8]) -> Result<Pass, Drop> {
    let eth = EthernetFrame::new_checked(bytes).map_err(|_| Drop::Truncated)?;
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => ipv4(eth.payload()).map(|p| p.offset(14)),
        EthernetProtocol::Ipv6 => ipv6(eth.payload()).map(|p| p.offset(14)),
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
    let header = usize::from(ip.header_len());
    transport(ip.next_header(), src, dst, ip.payload()).map(|p| p.offset(header))
}

fn ipv6(bytes: &[u8]) -> Result<Pass, Drop> {
    if bytes.first().is_some_and(|b| b >> 4 != 6) {
        return Err(Drop::Malformed);
    }
    let ip = Ipv6Packet::new_checked(bytes).map_err(|_| Drop::Truncated)?;
    let src = IpAddress::Ipv6(ip.src_addr());
    let dst = IpAddress::Ipv6(ip.dst_addr());
    transport(ip.next_header(), src, dst, ip.payload()).map(|p| p.offset(40))
}

impl Pass {
    /// The same, with a UDP payload's offset counted from `by` bytes earlier.
    fn offset(self, by: usize) -> Pass {
        match self {
            Pass::Udp(u) => Pass::Udp(Udp {
                payload_at: u.payload_at + by,
                ..u
            }),
            p => p,
        }
    }
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
                Pass::Syn(tcp.dst_port())
            } else {
                Pass::Other
            })
        }
        (IpProtocol::Udp, _, _) => {
            let udp = UdpPacket::new_checked(bytes).map_err(|_| Drop::Truncated)?;
            if !udp.verify_checksum(&src, &dst) {
                return Err(Drop::BadChecksum);
            }
            Ok(Pass::Udp(Udp {
                src: (src, udp.src_port()),
                dst: (dst, udp.dst_port()),
                payload_at: 8,
                payload_len: udp.payload().len(),
            }))
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

    mod properties {
        extern crate std;
        use super::super::*;
        use alloc::vec::Vec;
        use proptest::prelude::*;
        use smoltcp::wire::{IpAddress, Ipv4Address, UdpPacket};

        /// A valid Ethernet + IPv4 + UDP frame with `payload`.
        fn udp_frame(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
            let (src, dst) = (Ipv4Address::new(10, 0, 0, 1), Ipv4Address::new(10, 0, 0, 2));
            let udp_len = 8 + payload.len();
            let mut f = alloc::vec![0u8; 14 + 20 + udp_len];
            f[12..14].copy_from_slice(&[0x08, 0x00]);
            {
                let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
                ip.set_version(4);
                ip.set_header_len(20);
                ip.set_total_len((20 + udp_len) as u16);
                ip.set_hop_limit(64);
                ip.set_next_header(IpProtocol::Udp);
                ip.set_src_addr(src);
                ip.set_dst_addr(dst);
                ip.fill_checksum();
            }
            {
                let mut udp = UdpPacket::new_unchecked(&mut f[34..]);
                udp.set_src_port(sport);
                udp.set_dst_port(dport);
                udp.set_len(udp_len as u16);
                udp.payload_mut().copy_from_slice(payload);
                udp.fill_checksum(&IpAddress::Ipv4(src), &IpAddress::Ipv4(dst));
            }
            f
        }

        proptest! {
            #[test]
            fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600)) {
                let _ = frame(&bytes);
            }

            #[test]
            fn valid_udp_frames_pass(payload in proptest::collection::vec(any::<u8>(), 0..1472),
                                     sport in 1u16.., dport in 1u16..) {
                let f = udp_frame(&payload, sport, dport);
                let Ok(Pass::Udp(u)) = frame(&f) else {
                    return Err(TestCaseError::fail(alloc::format!("{:?}", frame(&f))));
                };
                // The payload is found where it is, whole, with both ends.
                prop_assert_eq!(&f[u.payload_at..u.payload_at + u.payload_len], &payload[..]);
                prop_assert_eq!(u.src, (IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)), sport));
                prop_assert_eq!(u.dst, (IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)), dport));
            }

            #[test]
            fn a_flipped_bit_in_the_ip_header_or_payload_never_passes(
                payload in proptest::collection::vec(any::<u8>(), 1..512),
                at in any::<prop::sample::Index>(),
                bit in 0u8..8,
            ) {
                let mut f = udp_frame(&payload, 5353, 53);
                // The IPv4 header (14..34) or the UDP payload (42..): every
                // single-bit error there is caught by a check or a checksum.
                let spots: Vec<usize> = (14..34).chain(42..f.len()).collect();
                let i = spots[at.index(spots.len())];
                f[i] ^= 1 << bit;
                prop_assert!(frame(&f).is_err(), "flip at byte {} bit {} passed", i, bit);
            }

            #[test]
            fn every_truncation_of_a_valid_frame_is_caught(
                payload in proptest::collection::vec(any::<u8>(), 0..256),
                cut in any::<prop::sample::Index>(),
            ) {
                let f = udp_frame(&payload, 7, 7);
                let len = cut.index(f.len());
                prop_assert_eq!(frame(&f[..len]), Err(Drop::Truncated));
            }
        }
    }
}
