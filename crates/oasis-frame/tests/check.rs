//! The frame check against hand-made and generated frames: every
//! truncation, bad checksum and wrong version is caught; valid datagrams
//! pass with their payload found where it is.

use oasis_frame::samples::ARP_REQUEST;
use oasis_frame::{Frame, Malformed, Transport, check};

/// An Ethernet frame carrying an ICMP echo request from 10.0.0.1 to
/// 10.0.0.2 (taken from a ping on a TAP), checksums valid.
const PING: [u8; 42] = [
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, // eth
    0x45, 0x00, 0x00, 0x1c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x14, 0xab, 10, 0, 0, 1, 10, 0, 0,
    2, // ipv4
    0x08, 0x00, 0xf7, 0xfe, 0x00, 0x01, 0x00, 0x00, // icmp echo, id 1, seq 0
];

#[test]
fn a_valid_ping_passes() {
    assert_eq!(
        check(&PING),
        Ok(Frame::Ip {
            v6: false,
            transport: Transport::Icmp
        })
    );
}

#[test]
fn truncated_headers_are_dropped() {
    for len in [0, 5, 13, 14, 20, 33, 41] {
        assert_eq!(
            check(&PING[..len]).err(),
            Some(Malformed::Truncated),
            "len {len}"
        );
    }
}

#[test]
fn bad_checksums_are_dropped() {
    let mut f = PING;
    f[24] ^= 0xff; // IPv4 header checksum
    assert_eq!(check(&f), Err(Malformed::BadChecksum));
    let mut f = PING;
    f[36] ^= 0x01; // ICMP checksum
    assert_eq!(check(&f), Err(Malformed::BadChecksum));
}

#[test]
fn a_wrong_ip_version_is_a_bad_header() {
    let mut f = PING;
    f[14] = 0x65;
    assert_eq!(check(&f), Err(Malformed::BadHeader));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use smoltcp::wire::{IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, UdpPacket};

    /// A valid Ethernet + IPv4 + UDP frame with `payload`.
    fn udp_frame(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
        let (src, dst) = (Ipv4Address::new(10, 0, 0, 1), Ipv4Address::new(10, 0, 0, 2));
        let udp_len = 8 + payload.len();
        let mut f = vec![0u8; 14 + 20 + udp_len];
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
            let _ = check(&bytes);
        }

        #[test]
        fn valid_udp_frames_pass(payload in proptest::collection::vec(any::<u8>(), 0..1472),
                                 sport in 1u16.., dport in 1u16..) {
            let f = udp_frame(&payload, sport, dport);
            let Ok(Frame::Ip { v6: false, transport: Transport::Udp(u) }) = check(&f) else {
                return Err(TestCaseError::fail(format!("{:?}", check(&f))));
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
            prop_assert!(check(&f).is_err(), "flip at byte {} bit {} passed", i, bit);
        }

        #[test]
        fn every_truncation_of_a_valid_frame_is_caught(
            payload in proptest::collection::vec(any::<u8>(), 0..256),
            cut in any::<prop::sample::Index>(),
        ) {
            let f = udp_frame(&payload, 7, 7);
            let len = cut.index(f.len());
            prop_assert_eq!(check(&f[..len]), Err(Malformed::Truncated));
        }
    }
}

#[test]
fn arp_is_checked_and_told_apart() {
    assert_eq!(
        check(&ARP_REQUEST),
        Ok(Frame::Arp {
            ipv4_request_or_reply: true
        })
    );
    let mut other_op = ARP_REQUEST;
    other_op[21] = 9;
    assert_eq!(
        check(&other_op),
        Ok(Frame::Arp {
            ipv4_request_or_reply: false
        })
    );
    let mut long_hw = ARP_REQUEST;
    long_hw[18] = 8; // hardware address length: longer than the frame holds
    assert_eq!(check(&long_hw), Err(Malformed::Truncated));
    assert_eq!(check(&ARP_REQUEST[..30]), Err(Malformed::Truncated));
}

#[test]
fn other_ethertypes_pass_unexamined() {
    let mut f = ARP_REQUEST;
    f[12..14].copy_from_slice(&[0x88, 0xcc]); // LLDP
    assert_eq!(check(&f), Ok(Frame::Other));
}
