//! TCP segment trains against generated batches: several connections'
//! streams interleaved with other frames, and random bytes. Every frame
//! leaves exactly once, no frame overtakes an earlier one of its own
//! connection, and each train, its checksum completed as the host would,
//! is a valid packet that carries its members' bytes in order.

use oasis_frame::gso::{self, Packet, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, VnetHdr};
use oasis_frame::{Frame, Transport, check};
use proptest::prelude::*;

const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;

fn sum(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum()
}

fn csum(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet frame of a TCP segment of connection `conn` (its ports),
/// checksums valid.
fn tcp_frame(v6: bool, conn: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&80u16.to_be_bytes());
    tcp.extend_from_slice(&(40000 + conn).to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&7u32.to_be_bytes());
    tcp.extend_from_slice(&[0x50, flags, 0x40, 0x00, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let tcp_len = tcp.len() as u32;
    if v6 {
        f.extend_from_slice(&[0x86, 0xdd]);
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        ip.extend_from_slice(&[6, 64]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        ip.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let c = csum(sum(&ip[8..40]) + tcp_len + 6 + sum(&tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    } else {
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
        ip.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1]);
        let c = csum(sum(&ip));
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let c = csum(sum(&ip[12..20]) + tcp_len + 6 + sum(&tcp));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&ip);
    }
    f.extend_from_slice(&tcp);
    f
}

/// A UDP frame (not TCP: it belongs to no train's connection).
fn udp_frame(n: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let mut ip = vec![
        0x45, 0, 0, 29, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
    ];
    let c = csum(sum(&ip));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[0, 53, 0x30, 0x39, 0, 9, 0, 0, n]);
    f
}

/// What a frame is in a generated batch: the connection (if TCP) and its
/// place in that connection's stream.
#[derive(Clone, Debug)]
struct Made {
    conn: Option<u16>,
    order: usize,
}

/// A connection's frames: data segments of `mss` bytes (the last shorter,
/// PUSH on it), with pure ACKs and a FIN among them where `extras` say.
fn stream(v6: bool, conn: u16, mss: usize, bytes: usize, extras: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut seq = 1000u32 * u32::from(conn);
    let mut left = bytes;
    let mut k = 0;
    while left > 0 {
        let n = left.min(mss);
        let payload: Vec<u8> = (0..n)
            .map(|i| (i as u8) ^ (conn as u8) ^ (k as u8))
            .collect();
        let flags = if n == left { ACK | PSH } else { ACK };
        out.push(tcp_frame(v6, conn, seq, flags, &payload));
        seq = seq.wrapping_add(n as u32);
        left -= n;
        match extras.get(k) {
            Some(1) => out.push(tcp_frame(v6, conn, seq, ACK, &[])),
            Some(2) => out.push(tcp_frame(v6, conn, seq, ACK | FIN, &[])),
            _ => {}
        }
        k += 1;
    }
    out
}

/// Checks a plan of `frames`; gives the number of frames that rode in trains.
fn check_plan(frames: &[Vec<u8>], made: &[Made]) -> usize {
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    let mut seen = vec![0usize; frames.len()];
    let mut order: Vec<usize> = Vec::new();
    let mut in_trains = 0;
    gso::plan(&refs, |p| match p {
        Packet::Single(i) => {
            seen[i] += 1;
            order.push(i);
        }
        Packet::Train(train, members) => {
            assert!(members.len() >= 2, "a train of one");
            assert_eq!(train.count(), members.len());
            for &m in members {
                seen[usize::from(m)] += 1;
                order.push(usize::from(m));
            }
            in_trains += members.len();
            // The packet as the host gets it, its checksum completed.
            let mut head = vec![0u8; train.header_len()];
            assert_eq!(
                train.header(refs[usize::from(members[0])], &mut head),
                head.len()
            );
            let vnet = VnetHdr::from_bytes(head[..VNET_HDR_LEN].try_into().unwrap());
            let mut packet = head[VNET_HDR_LEN..].to_vec();
            let mut payload = Vec::new();
            for &m in members {
                let f = refs[usize::from(m)];
                let seg = gso::segment(f).expect("a member is a segment");
                payload.extend_from_slice(&f[seg.header_len()..]);
            }
            packet.extend_from_slice(&payload);
            assert_eq!(vnet.flags, VNET_F_NEEDS_CSUM);
            assert_eq!(usize::from(vnet.hdr_len), packet.len() - payload.len());
            let first = gso::segment(refs[usize::from(members[0])]).unwrap();
            assert_eq!(
                usize::from(vnet.gso_size),
                refs[usize::from(members[0])].len() - first.header_len()
            );
            assert!(gso::complete_checksum(&mut packet, &vnet));
            assert!(
                matches!(
                    check(&packet),
                    Ok(Frame::Ip {
                        transport: Transport::Tcp { .. },
                        ..
                    })
                ),
                "the joined packet checks: {:?}",
                check(&packet)
            );
            // Cut back at gso_size, the pieces are the members' payloads.
            let size = usize::from(vnet.gso_size);
            for (k, &m) in members.iter().enumerate() {
                let f = refs[usize::from(m)];
                let seg = gso::segment(f).unwrap();
                let piece = &payload[k * size..(k * size + size).min(payload.len())];
                assert_eq!(piece, &f[seg.header_len()..], "member {k}");
            }
        }
    });
    assert!(
        seen.iter().all(|&n| n == 1),
        "every frame leaves once: {seen:?}"
    );
    // No frame overtakes an earlier one of its connection.
    let mut last: std::collections::HashMap<u16, usize> = Default::default();
    for i in order {
        if let Some(c) = made[i].conn {
            let prev = last.insert(c, made[i].order);
            assert!(
                prev.is_none_or(|p| p < made[i].order),
                "connection {c} reordered"
            );
        }
    }
    in_trains
}

#[test]
fn one_answer_of_seven_segments_is_one_train() {
    for v6 in [false, true] {
        let frames = stream(v6, 1, 1448, 10 * 1024 + 200, &[]);
        assert_eq!(frames.len(), 8);
        let made: Vec<Made> = (0..frames.len())
            .map(|order| Made {
                conn: Some(1),
                order,
            })
            .collect();
        assert_eq!(check_plan(&frames, &made), 8, "v6 {v6}");
    }
}

#[test]
fn a_push_or_a_short_segment_ends_a_train_and_a_fin_waits_for_it() {
    // Two answers on one connection: two trains; a FIN after them.
    let mut frames = stream(false, 1, 100, 350, &[]);
    let second = stream(false, 1, 100, 250, &[]);
    // Continue the sequence numbers after the first answer.
    let frames2: Vec<Vec<u8>> = second
        .iter()
        .enumerate()
        .map(|(k, _)| {
            let n = if k < 2 { 100 } else { 50 };
            let flags = if k == 2 { ACK | PSH } else { ACK };
            tcp_frame(false, 1, 1000 + 350 + 100 * k as u32, flags, &vec![9; n])
        })
        .collect();
    frames.extend(frames2);
    frames.push(tcp_frame(false, 1, 1000 + 600, ACK | FIN, &[]));
    let made: Vec<Made> = (0..frames.len())
        .map(|order| Made {
            conn: Some(1),
            order,
        })
        .collect();
    assert_eq!(check_plan(&frames, &made), 7);
}

#[test]
fn different_headers_do_not_join() {
    let a = tcp_frame(false, 1, 1000, ACK, &[1; 100]);
    let mut b = tcp_frame(false, 1, 1100, ACK, &[2; 100]);
    b[14 + 20 + 14] ^= 1; // another window
    let made = vec![
        Made {
            conn: Some(1),
            order: 0,
        },
        Made {
            conn: Some(1),
            order: 1,
        },
    ];
    assert_eq!(check_plan(&[a.clone(), b], &made), 0);
    let gap = tcp_frame(false, 1, 1101, ACK, &[2; 100]);
    assert_eq!(check_plan(&[a, gap], &made), 0, "a gap in the sequence");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn interleaved_connections_keep_their_order_and_bytes(
        conns in proptest::collection::vec((any::<bool>(), 1usize..400, 1usize..3000,
            proptest::collection::vec(0u8..4, 0..40)), 1..6),
        picks in proptest::collection::vec(0usize..64, 0..400),
        udp_every in 0usize..9,
    ) {
        let streams: Vec<Vec<Vec<u8>>> = conns
            .iter()
            .enumerate()
            .map(|(c, (v6, mss, bytes, extras))| stream(*v6, c as u16 + 1, *mss, *bytes, extras))
            .collect();
        let mut next = vec![0usize; streams.len()];
        let (mut frames, mut made) = (Vec::new(), Vec::new());
        let mut picks = picks.into_iter();
        let mut n = 0u8;
        loop {
            let live: Vec<usize> = (0..streams.len()).filter(|&c| next[c] < streams[c].len()).collect();
            if live.is_empty() {
                break;
            }
            let c = live[picks.next().unwrap_or(0) % live.len()];
            frames.push(streams[c][next[c]].clone());
            made.push(Made { conn: Some(c as u16 + 1), order: next[c] });
            next[c] += 1;
            n = n.wrapping_add(1);
            if udp_every > 0 && usize::from(n) % udp_every == 0 {
                frames.push(udp_frame(n));
                made.push(Made { conn: None, order: 0 });
            }
        }
        check_plan(&frames, &made);
    }

    #[test]
    fn any_bytes_leave_once_each(frames in proptest::collection::vec(
        proptest::collection::vec(any::<u8>(), 0..120), 0..40),
        mutate in proptest::collection::vec((0usize..2000, any::<u8>()), 0..8)) {
        // Random bytes, and valid segments with random bytes changed.
        let mut all = frames;
        let base = stream(false, 1, 100, 900, &[1, 2]);
        let mut base2 = base.clone();
        for (at, b) in mutate {
            let f = at % base2.len();
            let len = base2[f].len();
            base2[f][at % len] = b;
        }
        all.extend(base2);
        let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
        let mut seen = vec![0usize; all.len()];
        gso::plan(&refs, |p| match p {
            Packet::Single(i) => seen[i] += 1,
            Packet::Train(t, members) => {
                let mut head = vec![0u8; t.header_len()];
                t.header(refs[usize::from(members[0])], &mut head);
                for &m in members { seen[usize::from(m)] += 1 }
            }
        });
        prop_assert!(seen.iter().all(|&n| n == 1));
    }
}
