//! The UDP fast path for request/response servers ([`UdpSocket::serve`]):
//! a datagram to a port served this way is answered while the driver
//! receives it, from the frame where it lies, into the frame that will be
//! sent — the stack writes the Ethernet, IP and UDP headers around the
//! answer, and the answer is the only copy (ARCHITECTURE.md §3).
//!
//! Only what the fast path can answer exactly as the stack would takes it:
//! a whole datagram (not a fragment) to one of the interface's own
//! addresses, checksum verified by [`super::check`]. Everything else
//! (broadcast, another address, IPv6 extension headers) goes through
//! smoltcp to the same socket and is answered by the socket's own loop.
//! The answer goes back to the link-layer address the query came from, as
//! on a point-to-point link or through the router it came by.
//!
//! [`UdpSocket::serve`]: crate::api::UdpSocket::serve

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::net::SocketAddr;

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet,
    Ipv6Packet, UdpPacket,
};

use super::check;

/// An answer function: `(query, peer, out) -> length` of what it wrote.
pub(crate) type AnswerFn = dyn FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize>;

/// What answers the datagrams to one port, shared by the fast path and the
/// socket's own loop.
pub(crate) type Answer = Rc<RefCell<Box<AnswerFn>>>;

/// A port served on the fast path.
pub(crate) struct Served {
    pub(crate) port: u16,
    pub(crate) answer: Answer,
}

/// Ethernet + IPv4 + UDP header bytes.
const V4_HEADERS: usize = 14 + 20 + 8;
/// Ethernet + IPv6 + UDP header bytes.
const V6_HEADERS: usize = 14 + 40 + 8;
/// Hop limit of answers.
const HOP_LIMIT: u8 = 64;

/// Writes into `out` the frame answering the datagram `udp` of `frame`
/// (headers around what `answer` writes) and returns its length; 0 when
/// `answer` has nothing to say or `out` has no room for an answer.
pub(crate) fn reply(
    frame: &[u8],
    udp: &check::Udp,
    our_mac: [u8; 6],
    answer: &mut AnswerFn,
    out: &mut [u8],
) -> usize {
    let headers = match udp.dst.0 {
        IpAddress::Ipv4(_) => V4_HEADERS,
        IpAddress::Ipv6(_) => V6_HEADERS,
    };
    if out.len() <= headers || frame.len() < 14 {
        return 0;
    }
    let query = &frame[udp.payload_at..][..udp.payload_len];
    let peer = SocketAddr::new(udp.src.0.into(), udp.src.1);
    let room = (out.len() - headers).min(usize::from(u16::MAX) - 8 - 40);
    let Some(n) = answer(query, peer, &mut out[headers..][..room]) else {
        return 0;
    };
    let n = n.min(room);
    let udp_len = 8 + n;
    {
        let mut eth = EthernetFrame::new_unchecked(&mut *out);
        eth.set_dst_addr(EthernetAddress::from_bytes(&frame[6..12]));
        eth.set_src_addr(EthernetAddress(our_mac));
    }
    let (src, dst) = (udp.dst.0, udp.src.0);
    match (src, dst) {
        (IpAddress::Ipv4(s), IpAddress::Ipv4(d)) => {
            EthernetFrame::new_unchecked(&mut *out).set_ethertype(EthernetProtocol::Ipv4);
            let mut ip = Ipv4Packet::new_unchecked(&mut out[14..]);
            ip.set_version(4);
            ip.set_header_len(20);
            ip.set_dscp(0);
            ip.set_ecn(0);
            ip.set_total_len((20 + udp_len) as u16);
            ip.set_ident(0);
            ip.clear_flags();
            ip.set_dont_frag(true);
            ip.set_frag_offset(0);
            ip.set_hop_limit(HOP_LIMIT);
            ip.set_next_header(IpProtocol::Udp);
            ip.set_src_addr(s);
            ip.set_dst_addr(d);
            ip.fill_checksum();
        }
        (IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
            EthernetFrame::new_unchecked(&mut *out).set_ethertype(EthernetProtocol::Ipv6);
            let mut ip = Ipv6Packet::new_unchecked(&mut out[14..]);
            ip.set_version(6);
            ip.set_traffic_class(0);
            ip.set_flow_label(0);
            ip.set_payload_len(udp_len as u16);
            ip.set_next_header(IpProtocol::Udp);
            ip.set_hop_limit(HOP_LIMIT);
            ip.set_src_addr(s);
            ip.set_dst_addr(d);
        }
        // A datagram's two addresses are of one family (check parsed them
        // from one IP header).
        _ => return 0,
    }
    let at = headers - 8;
    let mut packet = UdpPacket::new_unchecked(&mut out[at..at + udp_len]);
    packet.set_src_port(udp.dst.1);
    packet.set_dst_port(udp.src.1);
    packet.set_len(udp_len as u16);
    packet.fill_checksum(&src, &dst);
    headers + n
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;
    use smoltcp::wire::{Ipv4Address, Ipv6Address};

    const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

    /// A checked frame carrying `payload` from `src` to `dst`.
    fn query(src: (IpAddress, u16), dst: (IpAddress, u16), payload: &[u8]) -> Vec<u8> {
        let v4 = matches!(src.0, IpAddress::Ipv4(_));
        let headers = if v4 { V4_HEADERS } else { V6_HEADERS };
        let mut f = vec![0u8; headers + payload.len()];
        f[..6].copy_from_slice(&OUR_MAC);
        f[6..12].copy_from_slice(&CLIENT_MAC);
        match (src.0, dst.0) {
            (IpAddress::Ipv4(s), IpAddress::Ipv4(d)) => {
                f[12..14].copy_from_slice(&[0x08, 0x00]);
                let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
                ip.set_version(4);
                ip.set_header_len(20);
                ip.set_total_len((28 + payload.len()) as u16);
                ip.set_hop_limit(64);
                ip.set_next_header(IpProtocol::Udp);
                ip.set_src_addr(s);
                ip.set_dst_addr(d);
                ip.fill_checksum();
            }
            (IpAddress::Ipv6(s), IpAddress::Ipv6(d)) => {
                f[12..14].copy_from_slice(&[0x86, 0xdd]);
                let mut ip = Ipv6Packet::new_unchecked(&mut f[14..]);
                ip.set_version(6);
                ip.set_payload_len((8 + payload.len()) as u16);
                ip.set_next_header(IpProtocol::Udp);
                ip.set_hop_limit(64);
                ip.set_src_addr(s);
                ip.set_dst_addr(d);
            }
            _ => unreachable!(),
        }
        let mut udp = UdpPacket::new_unchecked(&mut f[headers - 8..]);
        udp.set_src_port(src.1);
        udp.set_dst_port(dst.1);
        udp.set_len((8 + payload.len()) as u16);
        udp.payload_mut().copy_from_slice(payload);
        udp.fill_checksum(&src.0, &dst.0);
        f
    }

    fn reversed(q: &[u8], _: SocketAddr, out: &mut [u8]) -> Option<usize> {
        let n = q.len().min(out.len());
        for (o, b) in out.iter_mut().zip(q.iter().rev()) {
            *o = *b;
        }
        Some(n)
    }

    #[test]
    fn answers_over_ipv4_and_ipv6_pass_the_stacks_own_checks_addressed_back() {
        let v4 = (
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)),
        );
        let v6 = (
            IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
        );
        for (client, server) in [v4, v6] {
            let f = query((client, 5353), (server, 53), b"question");
            let Ok(check::Pass::Udp(u)) = check::frame(&f) else {
                panic!("{:?}", check::frame(&f))
            };
            let mut out = vec![0u8; 1514];
            let n = reply(&f, &u, OUR_MAC, &mut reversed, &mut out);
            let Ok(check::Pass::Udp(back)) = check::frame(&out[..n]) else {
                panic!("the answer does not pass: {:?}", check::frame(&out[..n]))
            };
            assert_eq!(back.src, (server, 53));
            assert_eq!(back.dst, (client, 5353));
            assert_eq!(&out[back.payload_at..][..back.payload_len], b"noitseuq");
            assert_eq!(&out[..6], &CLIENT_MAC, "to the sender's link address");
            assert_eq!(&out[6..12], &OUR_MAC);
        }
    }

    #[test]
    fn no_answer_or_no_room_sends_nothing() {
        let (c, s) = (
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)),
        );
        let f = query((c, 1), (s, 53), b"q");
        let Ok(check::Pass::Udp(u)) = check::frame(&f) else {
            panic!()
        };
        let mut out = vec![0u8; 1514];
        assert_eq!(reply(&f, &u, OUR_MAC, &mut |_, _, _| None, &mut out), 0);
        assert_eq!(
            reply(&f, &u, OUR_MAC, &mut reversed, &mut out[..V4_HEADERS]),
            0
        );
        // An answer that claims more than its room is cut to the room.
        let n = reply(&f, &u, OUR_MAC, &mut |_, _, _| Some(9999), &mut out[..100]);
        assert_eq!(n, 100);
        assert!(matches!(check::frame(&out[..n]), Ok(check::Pass::Udp(_))));
    }
}
