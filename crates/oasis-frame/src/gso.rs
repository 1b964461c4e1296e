//! TCP segment trains: consecutive data segments of one TCP connection,
//! taken from a batch of frames a guest sent, written to a TAP as one
//! generic-segmentation-offload (GSO) packet behind a `virtio_net_hdr`.
//!
//! A guest's TCP stack cuts a 10 KiB answer into seven segments of one MSS;
//! on a TAP each one is a `write`, a socket buffer and a pass through the
//! host's TCP receive path — most of what a small HTTP answer costs on the
//! kvm path (ARCHITECTURE.md §3). Written as one GSO packet, the host
//! takes the seven in one `write`: a local receiver gets them as one
//! buffer, and the kernel cuts the packet back into the same segments
//! before it leaves for anywhere else.
//!
//! Segments join a train only when the result is the same byte stream
//! with the same headers: same addresses and ports, same IP and TCP
//! header bytes apart from the lengths, IPv4 ID, checksums, sequence
//! number and PUSH flag; consecutive sequence numbers; every segment but
//! the last exactly one segment size (the first's) long; data and ACK,
//! nothing else (no SYN, FIN, RST, URG, ECN bits); no IP options,
//! extension headers or fragments. A PUSH ends a train. Everything else —
//! and anything a hostile guest could send — is written as it came.

/// Bytes of the `virtio_net_hdr` every frame is written to a TAP opened
/// with `IFF_VNET_HDR` behind (and read from it behind).
pub const VNET_HDR_LEN: usize = 10;

/// `virtio_net_hdr.flags`: the checksum at `csum_start + csum_offset` is
/// to be completed over the bytes from `csum_start` on.
pub const VNET_F_NEEDS_CSUM: u8 = 1;
/// `virtio_net_hdr.gso_type`: TCP over IPv4.
const GSO_TCPV4: u8 = 1;
/// `virtio_net_hdr.gso_type`: TCP over IPv6.
const GSO_TCPV6: u8 = 4;

/// Segments one train takes at most.
pub const MAX_SEGMENTS: usize = 64;

/// Bytes [`Train::header`] writes at most: the `virtio_net_hdr`, Ethernet,
/// IPv6 and a TCP header with 40 bytes of options.
pub const HEADER_MAX: usize = VNET_HDR_LEN + 14 + 40 + 60;

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// A frame that is a TCP data segment a train may start with or take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// IPv6 rather than IPv4.
    v6: bool,
    /// Where the TCP header starts.
    l4: usize,
    /// Bytes of Ethernet, IP and TCP headers (options included).
    header_len: usize,
    /// Bytes of payload.
    payload_len: usize,
    /// The sequence number of the first payload byte.
    seq: u32,
    /// Whether the PUSH flag is set.
    psh: bool,
}

impl Segment {
    /// Bytes of headers: the payload starts here.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// Where the TCP header of an IPv4 or IPv6 TCP frame starts, with the IP
/// version, when the frame is one a train may take: no IP options,
/// extension headers or fragments, its IP length exactly the frame's.
fn tcp_at(frame: &[u8]) -> Option<(bool, usize)> {
    if frame.len() < ETH_LEN + IPV4_LEN + 20 {
        return None;
    }
    match be16(frame, 12) {
        0x0800 => {
            let ok = frame[ETH_LEN] == 0x45
                && ETH_LEN + be16(frame, 16) == frame.len()
                && be16(frame, 20) & 0x3fff == 0
                && frame[23] == 6;
            ok.then_some((false, ETH_LEN + IPV4_LEN))
        }
        0x86dd => {
            let ok = frame.len() >= ETH_LEN + IPV6_LEN + 20
                && frame[ETH_LEN] >> 4 == 6
                && ETH_LEN + IPV6_LEN + be16(frame, 18) == frame.len()
                && frame[20] == 6;
            ok.then_some((true, ETH_LEN + IPV6_LEN))
        }
        _ => None,
    }
}

/// Which TCP connection a frame belongs to, as far as ordering goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    /// Not TCP (ARP, UDP, ICMP, another protocol): it cannot overtake a
    /// train in any way that matters.
    None,
    /// TCP of this connection and direction (Ethernet addresses, IP
    /// addresses and ports).
    Tcp(ConnKey),
    /// Perhaps TCP, of a connection that cannot be told (an IP fragment, an
    /// IPv6 extension header, a truncated header): it must not overtake any
    /// train.
    Unknown,
}

/// The addresses and ports of a TCP frame: Ethernet destination and source,
/// IP source and destination, TCP ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnKey([u8; 12 + 32 + 4]);

/// Which connection `frame` belongs to ([`Connection`]); any bytes.
pub fn connection(frame: &[u8]) -> Connection {
    if frame.len() < ETH_LEN {
        return Connection::None;
    }
    let mut key = [0u8; 48];
    key[..12].copy_from_slice(&frame[..12]);
    match be16(frame, 12) {
        0x0800 => {
            let Some(&vihl) = frame.get(ETH_LEN) else {
                return Connection::Unknown;
            };
            if frame.len() < ETH_LEN + IPV4_LEN || vihl >> 4 != 4 {
                return Connection::Unknown;
            }
            if frame[23] != 6 {
                return Connection::None;
            }
            let l4 = ETH_LEN + usize::from(vihl & 15) * 4;
            if be16(frame, 20) & 0x3fff != 0 || frame.len() < l4 + 4 {
                return Connection::Unknown;
            }
            key[12..20].copy_from_slice(&frame[26..34]);
            key[44..].copy_from_slice(&frame[l4..l4 + 4]);
            Connection::Tcp(ConnKey(key))
        }
        0x86dd => {
            if frame.len() < ETH_LEN + IPV6_LEN {
                return Connection::Unknown;
            }
            match frame[20] {
                6 if frame.len() >= ETH_LEN + IPV6_LEN + 4 => {
                    let l4 = ETH_LEN + IPV6_LEN;
                    key[12..44].copy_from_slice(&frame[22..54]);
                    key[44..].copy_from_slice(&frame[l4..l4 + 4]);
                    Connection::Tcp(ConnKey(key))
                }
                17 | 58 => Connection::None,
                _ => Connection::Unknown,
            }
        }
        _ => Connection::None,
    }
}

/// The frame as a TCP data segment that may ride in a train, if it is one.
pub fn segment(frame: &[u8]) -> Option<Segment> {
    let (v6, l4) = tcp_at(frame)?;
    let tcp_len = usize::from(frame[l4 + 12] >> 4) * 4;
    if tcp_len < 20 || l4 + tcp_len >= frame.len() {
        return None;
    }
    let flags = frame[l4 + 13];
    // ACK, and PUSH at most: no SYN, FIN, RST, URG, ECE or CWR.
    if flags & !TCP_PSH != TCP_ACK {
        return None;
    }
    Some(Segment {
        v6,
        l4,
        header_len: l4 + tcp_len,
        payload_len: frame.len() - l4 - tcp_len,
        seq: u32::from_be_bytes([frame[l4 + 4], frame[l4 + 5], frame[l4 + 6], frame[l4 + 7]]),
        psh: flags & TCP_PSH != 0,
    })
}

/// A train under way: its first frame's facts and what it has taken.
#[derive(Debug, Clone, Copy)]
pub struct Train {
    lead: Segment,
    /// Payload bytes of every segment taken, the first's included.
    payload: usize,
    /// Segments taken, the first included.
    count: usize,
    /// The last segment taken was full and without PUSH: another may follow.
    open: bool,
    /// Some segment taken had PUSH (the last one, since PUSH ends a train).
    psh: bool,
}

impl Train {
    /// A train of the one segment `lead`.
    pub fn start(lead: Segment) -> Train {
        Train {
            lead,
            payload: lead.payload_len,
            count: 1,
            open: !lead.psh,
            psh: lead.psh,
        }
    }

    /// Segments taken.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Takes `next` (the segment of `next_frame`) onto the train led by
    /// `lead_frame` if it continues the same stream with the same headers;
    /// says whether it did.
    pub fn join(&mut self, lead_frame: &[u8], next_frame: &[u8], next: Segment) -> bool {
        let lead = self.lead;
        let ok = self.open
            && self.count < MAX_SEGMENTS
            && next.v6 == lead.v6
            && next.header_len == lead.header_len
            && next.payload_len <= lead.payload_len
            && next.seq == lead.seq.wrapping_add(self.payload as u32)
            && ip_length(lead, self.payload + next.payload_len) <= 0xffff
            && same_headers(lead_frame, next_frame, lead);
        if ok {
            self.payload += next.payload_len;
            self.count += 1;
            self.open = next.payload_len == lead.payload_len && !next.psh;
            self.psh |= next.psh;
        }
        ok
    }

    /// Bytes [`Train::header`] writes.
    pub fn header_len(&self) -> usize {
        VNET_HDR_LEN + self.lead.header_len
    }

    /// Writes the packet's `virtio_net_hdr` and headers into `out` (at
    /// least [`Train::header_len`] bytes): the first frame's headers with
    /// the train's lengths, a fresh IPv4 header checksum, PUSH if any
    /// segment had it, and the TCP checksum field holding the
    /// pseudo-header's sum, for the host to complete per segment. The
    /// payloads of the segments follow, in order. Gives the bytes written.
    pub fn header(&self, lead_frame: &[u8], out: &mut [u8]) -> usize {
        let lead = self.lead;
        let (h, rest) = out.split_at_mut(VNET_HDR_LEN);
        let hdr = &mut rest[..lead.header_len];
        hdr.copy_from_slice(&lead_frame[..lead.header_len]);
        let tcp_len = lead.header_len - lead.l4 + self.payload;
        let ip_len = (ip_length(lead, self.payload) as u16).to_be_bytes();
        if lead.v6 {
            hdr[18..20].copy_from_slice(&ip_len);
        } else {
            hdr[16..18].copy_from_slice(&ip_len);
            hdr[24..26].fill(0);
            let sum = !fold(sum16(&hdr[ETH_LEN..ETH_LEN + IPV4_LEN], 0));
            hdr[24..26].copy_from_slice(&sum.to_be_bytes());
        }
        if self.psh {
            hdr[lead.l4 + 13] |= TCP_PSH;
        }
        let pseudo = if lead.v6 {
            sum16(&hdr[22..54], tcp_len as u32 + 6)
        } else {
            sum16(&hdr[26..34], tcp_len as u32 + 6)
        };
        hdr[lead.l4 + 16..lead.l4 + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
        let vnet = VnetHdr {
            flags: VNET_F_NEEDS_CSUM,
            gso_type: if lead.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
            hdr_len: lead.header_len as u16,
            gso_size: lead.payload_len as u16,
            csum_start: lead.l4 as u16,
            csum_offset: 16,
        };
        h.copy_from_slice(&vnet.to_bytes());
        VNET_HDR_LEN + lead.header_len
    }
}

/// What the IP length field (IPv4 total length, IPv6 payload length) of
/// a packet with `seg`'s headers and `payload` bytes says.
fn ip_length(seg: Segment, payload: usize) -> usize {
    seg.header_len - ETH_LEN - if seg.v6 { IPV6_LEN } else { 0 } + payload
}

/// Trains under way at once in [`plan`]; past it the oldest leaves.
const OPEN_MAX: usize = 16;

/// A packet [`plan`] gives to write.
#[derive(Debug)]
pub enum Packet<'a> {
    /// Frame `i` of the batch, as it came (behind [`VnetHdr::PLAIN`]).
    Single(usize),
    /// Frames `members` of the batch (two or more, in stream order) as one
    /// GSO packet: [`Train::header`], then each member's payload (its bytes
    /// from [`Segment::header_len`] on).
    Train(&'a Train, &'a [u16]),
}

struct Open {
    key: ConnKey,
    train: Train,
    members: [u16; MAX_SEGMENTS],
}

/// Sorts a batch of frames a guest sent into packets to write: the data
/// segments of each connection joined into trains, everything else alone.
/// A frame never overtakes an earlier frame of its own connection; frames
/// of different connections may leave in another order than they came (as
/// on any multi-queue link). Calls `out` once per packet.
pub fn plan(frames: &[&[u8]], mut out: impl FnMut(Packet<'_>)) {
    let mut open: [Option<Open>; OPEN_MAX] = [const { None }; OPEN_MAX];
    let leave = |o: Open, out: &mut dyn FnMut(Packet<'_>)| {
        if o.train.count == 1 {
            out(Packet::Single(usize::from(o.members[0])));
        } else {
            out(Packet::Train(&o.train, &o.members[..o.train.count]));
        }
    };
    for (i, frame) in frames.iter().enumerate() {
        let Ok(index) = u16::try_from(i) else {
            // Batches are ring-sized; past 65,535 frames, one at a time.
            for o in open.iter_mut().filter_map(Option::take) {
                leave(o, &mut out);
            }
            out(Packet::Single(i));
            continue;
        };
        let conn = connection(frame);
        let seg = segment(frame);
        match conn {
            Connection::None => {
                out(Packet::Single(i));
                continue;
            }
            Connection::Unknown => {
                for o in open.iter_mut().filter_map(Option::take) {
                    leave(o, &mut out);
                }
                out(Packet::Single(i));
                continue;
            }
            Connection::Tcp(key) => {
                let slot = open
                    .iter()
                    .position(|o| o.as_ref().is_some_and(|o| o.key == key));
                if let (Some(k), Some(seg)) = (slot, seg) {
                    let o = open[k].as_mut().expect("found above");
                    let lead = frames[usize::from(o.members[0])];
                    if o.train.join(lead, frame, seg) {
                        o.members[o.train.count - 1] = index;
                        continue;
                    }
                }
                if let Some(k) = slot {
                    let o = open[k].take().expect("found above");
                    leave(o, &mut out);
                }
                let Some(seg) = seg else {
                    out(Packet::Single(i));
                    continue;
                };
                let train = Train::start(seg);
                if !train.open {
                    out(Packet::Single(i));
                    continue;
                }
                let k = match open.iter().position(Option::is_none) {
                    Some(k) => k,
                    None => {
                        // Every place taken: the train begun first leaves.
                        let k = (0..OPEN_MAX)
                            .min_by_key(|&k| open[k].as_ref().map_or(u16::MAX, |o| o.members[0]))
                            .unwrap_or(0);
                        let o = open[k].take().expect("every place is taken");
                        leave(o, &mut out);
                        k
                    }
                };
                let mut members = [0; MAX_SEGMENTS];
                members[0] = index;
                open[k] = Some(Open {
                    key,
                    train,
                    members,
                });
            }
        }
    }
    // The trains still open, in the order they began.
    let mut rest: [Option<Open>; OPEN_MAX] = open;
    rest.sort_unstable_by_key(|o| o.as_ref().map_or(u16::MAX, |o| o.members[0]));
    for o in rest.into_iter().flatten() {
        leave(o, &mut out);
    }
}

/// Whether `b`'s headers are `a`'s but for what differs between segments
/// of one stream: IP lengths, IPv4 ID and checksum, TCP sequence number,
/// PUSH and checksum.
fn same_headers(a: &[u8], b: &[u8], seg: Segment) -> bool {
    let l4 = seg.l4;
    let ip_same = if seg.v6 {
        a[..18] == b[..18] && a[20..l4] == b[20..l4]
    } else {
        a[..16] == b[..16] && a[20..24] == b[20..24] && a[26..l4] == b[26..l4]
    };
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && (a[l4 + 13] | TCP_PSH) == (b[l4 + 13] | TCP_PSH)
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 18..seg.header_len] == b[l4 + 18..seg.header_len]
}

/// A `virtio_net_hdr` (legacy layout, little-endian as on x86).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// `VNET_F_*` bits.
    pub flags: u8,
    /// Segmentation asked for (0: none).
    pub gso_type: u8,
    /// Bytes of headers before the payload.
    pub hdr_len: u16,
    /// Payload bytes of each segment.
    pub gso_size: u16,
    /// Where the checksummed bytes start.
    pub csum_start: u16,
    /// Where the checksum lies, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// The header of a frame written as it is: no segmentation, its
    /// checksums complete.
    pub const PLAIN: [u8; VNET_HDR_LEN] = [0; VNET_HDR_LEN];

    /// The header's bytes.
    pub fn to_bytes(self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_le_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_le_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_le_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_le_bytes());
        b
    }

    /// The header in `b`.
    pub fn from_bytes(b: &[u8; VNET_HDR_LEN]) -> VnetHdr {
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u16::from_le_bytes([b[2], b[3]]),
            gso_size: u16::from_le_bytes([b[4], b[5]]),
            csum_start: u16::from_le_bytes([b[6], b[7]]),
            csum_offset: u16::from_le_bytes([b[8], b[9]]),
        }
    }
}

/// Completes the checksum a received frame's header says is partial
/// (`VNET_F_NEEDS_CSUM`): the one's-complement sum of the bytes from
/// `csum_start` on, the field at `csum_start + csum_offset` holding the
/// pseudo-header's part. Gives false, and leaves the frame alone, when the
/// header points outside it.
pub fn complete_checksum(frame: &mut [u8], hdr: &VnetHdr) -> bool {
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    if start >= frame.len() || at + 2 > frame.len() {
        return false;
    }
    let sum = !fold(sum16(&frame[start..], 0));
    frame[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    true
}

/// The one's-complement sum of `bytes` as big-endian 16-bit words (an odd
/// last byte padded with zero), plus `add`, not yet folded.
fn sum16(bytes: &[u8], add: u32) -> u64 {
    let mut sum = u64::from(add);
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u64::from(*last) << 8;
    }
    sum
}

/// `sum` folded to 16 bits (not complemented).
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fold_carries_every_overflow() {
        assert_eq!(fold(0x1_fffe), 0xffff);
        assert_eq!(fold(0xffff_ffff), 0xffff);
        assert_eq!(sum16(&[0x12, 0x34, 0x56], 0), 0x1234 + 0x5600);
    }
}
