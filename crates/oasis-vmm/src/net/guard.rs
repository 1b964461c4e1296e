//! The first look at every frame a guest sends onto a user-mode network.
//! The guest is hostile: a frame that is truncated, oversized, malformed or
//! carries a bad checksum is dropped here and counted before the gateway's
//! stack sees it. Frames the link does not carry (IPv6, other ethertypes,
//! IPv4 fragments, ARP other than an IPv4 request or reply) are set aside
//! as ignored, not as malformed. The check itself is oasis-frame's, the
//! one the guest's own stack runs on what it receives; this module is the
//! link's policy.

use oasis_frame::Malformed as Checked;
use oasis_frame::{Frame, Transport};

/// The largest Ethernet frame on the link (1500 bytes of payload).
pub const FRAME_MAX: usize = 1514;

/// Why a frame was dropped as malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Shorter than a header, or than a length field says.
    Truncated,
    /// Longer than [`FRAME_MAX`].
    Oversize,
    /// A header field that cannot be (the IP version).
    BadHeader,
    /// An IPv4 header, TCP, UDP or ICMP checksum that does not match.
    BadChecksum,
}

/// What to do with a frame from the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the gateway.
    Pass,
    /// Well-formed, but nothing the link carries: drop it quietly.
    Ignore,
    /// Drop it and count it.
    Drop(Malformed),
}

/// Judges one frame from the guest.
pub fn check(frame: &[u8]) -> Verdict {
    if frame.len() > FRAME_MAX {
        return Verdict::Drop(Malformed::Oversize);
    }
    // The link carries ARP and IPv4 only; the rest is not worth parsing.
    match frame.get(12..14) {
        Some([0x08, 0x06] | [0x08, 0x00]) | None => {}
        Some(_) => return Verdict::Ignore,
    }
    match oasis_frame::check(frame) {
        Err(Checked::Truncated) => Verdict::Drop(Malformed::Truncated),
        Err(Checked::BadHeader) => Verdict::Drop(Malformed::BadHeader),
        Err(Checked::BadChecksum) => Verdict::Drop(Malformed::BadChecksum),
        Ok(Frame::Arp {
            ipv4_request_or_reply: true,
        }) => Verdict::Pass,
        Ok(Frame::Ip {
            v6: false,
            transport: Transport::Udp(_) | Transport::Tcp { .. } | Transport::Icmp,
        }) => Verdict::Pass,
        // Fragments (the gateway does not reassemble; a guest at MTU 1500
        // never needs to), other protocols, other ARP.
        Ok(_) => Verdict::Ignore,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The Internet checksum of `parts` laid end to end (each even-sized but the last).
    fn sum(parts: &[&[u8]]) -> u16 {
        let mut s = 0u32;
        for p in parts {
            for pair in p.chunks(2) {
                s += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
            }
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    /// An Ethernet frame from the guest (02:00:00:00:00:02, 10.0.0.2) to
    /// the gateway's 10.0.0.1 carrying `l4` as protocol `proto`, with the
    /// IPv4 and transport checksums made correct.
    fn ipv4_frame(proto: u8, mut l4: Vec<u8>) -> Vec<u8> {
        let (src, dst) = ([10, 0, 0, 2], [10, 0, 0, 1]);
        let len = (l4.len() as u16).to_be_bytes();
        let pseudo = [&src[..], &dst[..], &[0, proto], &len].concat();
        match proto {
            17 => {
                let c = sum(&[&pseudo, &l4]);
                l4[6..8].copy_from_slice(&c.to_be_bytes());
            }
            1 => {
                let c = sum(&[&l4]);
                l4[2..4].copy_from_slice(&c.to_be_bytes());
            }
            _ => unreachable!("UDP and ICMP only"),
        }
        let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto, 0, 0];
        ip[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let c = sum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x00]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&l4);
        f
    }

    /// A UDP datagram from the guest to the gateway.
    pub(crate) fn udp_frame(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
        let mut udp = Vec::new();
        udp.extend_from_slice(&src_port.to_be_bytes());
        udp.extend_from_slice(&dst_port.to_be_bytes());
        udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        ipv4_frame(17, udp)
    }

    /// An ICMP echo request (ping) from the guest to the gateway.
    pub(crate) fn ping_frame(payload: &[u8]) -> Vec<u8> {
        let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
        icmp.extend_from_slice(payload);
        ipv4_frame(1, icmp)
    }

    pub(crate) use oasis_frame::samples::ARP_REQUEST;

    #[test]
    fn good_frames_pass() {
        assert_eq!(check(&ARP_REQUEST), Verdict::Pass);
        assert_eq!(check(&udp_frame(7, 40000, b"hello")), Verdict::Pass);
        assert_eq!(check(&ping_frame(b"ping")), Verdict::Pass);
        let mut no_sum = udp_frame(7, 40000, b"hello");
        no_sum[40..42].fill(0);
        assert_eq!(check(&no_sum), Verdict::Pass);
    }

    #[test]
    fn every_kind_of_bad_frame_is_dropped_with_its_reason() {
        let good = udp_frame(7, 40000, b"hello");
        assert_eq!(check(&[]), Verdict::Drop(Malformed::Truncated));
        assert_eq!(check(&good[..13]), Verdict::Drop(Malformed::Truncated));
        // The IPv4 total length claims more than the frame holds.
        assert_eq!(
            check(&good[..good.len() - 1]),
            Verdict::Drop(Malformed::Truncated)
        );
        assert_eq!(check(&[0u8; 1515]), Verdict::Drop(Malformed::Oversize));
        let mut v6 = good.clone();
        v6[14] = 0x65;
        assert_eq!(check(&v6), Verdict::Drop(Malformed::BadHeader));
        let mut ip_sum = good.clone();
        ip_sum[24] ^= 1;
        assert_eq!(check(&ip_sum), Verdict::Drop(Malformed::BadChecksum));
        let mut udp_sum = good.clone();
        udp_sum[43] ^= 0x40; // a payload byte
        assert_eq!(check(&udp_sum), Verdict::Drop(Malformed::BadChecksum));
        let mut arp = ARP_REQUEST;
        arp[18] = 8; // hardware address length: longer than the frame holds
        assert_eq!(check(&arp), Verdict::Drop(Malformed::Truncated));
        let mut ping = ping_frame(b"ping");
        ping[36] ^= 1; // the ICMP checksum
        assert_eq!(check(&ping), Verdict::Drop(Malformed::BadChecksum));
        let short_tcp = {
            let mut f = udp_frame(7, 40000, b"");
            f[23] = 6; // TCP, with only 8 bytes where a 20-byte header must be
            f[24..26].fill(0);
            let c = sum(&[&f[14..34]]);
            f[24..26].copy_from_slice(&c.to_be_bytes());
            f
        };
        assert_eq!(check(&short_tcp), Verdict::Drop(Malformed::Truncated));
        assert_eq!(
            check(&ARP_REQUEST[..30]),
            Verdict::Drop(Malformed::Truncated)
        );
    }

    #[test]
    fn frames_the_link_does_not_carry_are_ignored() {
        let mut v6 = udp_frame(7, 40000, b"x");
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(check(&v6), Verdict::Ignore);
        let mut frag = udp_frame(7, 40000, b"x");
        frag[20] = 0x20; // more fragments
        let c = sum(&[&{
            let mut h = frag[14..34].to_vec();
            h[10..12].fill(0);
            h
        }]);
        frag[24..26].copy_from_slice(&c.to_be_bytes());
        assert_eq!(check(&frag), Verdict::Ignore);
    }
}
