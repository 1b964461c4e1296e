//! How a batch leaves the socket stack: cut into *trains*, runs of datagrams
//! to one peer of one length (the last may be shorter) that the host takes
//! as one send with UDP segmentation offload (`UDP_SEGMENT`, Linux 4.18).
//! A train crosses the host's UDP and IP output, and the loopback device
//! with the receiving side's IP input, once; it is cut into its datagrams
//! only at the end (the receiving socket on loopback, the NIC or the
//! driver on a wire). A train of one is a plain datagram.
//!
//! In batch order a train is a run of consecutive datagrams, so nothing
//! is reordered. A batch marked [`Batch::set_any_order`] is first grouped
//! by peer and length, so that interleaved answers of a few lengths (a DNS
//! server's, say) still make few trains.
//!
//! Planning allocates nothing once its vectors have grown to the batch.

use alloc::vec::Vec;
use core::net::SocketAddr;

use crate::batch::Batch;

/// The longest segment sent in a train: the minimum IPv6 path MTU less
/// the IPv6 and UDP headers (1280 − 40 − 8), so a train never needs a path
/// larger than the smallest the host may meet, where it would refuse it.
pub(crate) const SEGMENT_MAX: usize = 1232;
/// Most datagrams in one train (the host's limit, 64 on older kernels).
pub(crate) const SEGMENTS_MAX: usize = 64;
/// Most payload bytes in one train: one IPv4 datagram's (65535 − 20 − 8).
pub(crate) const TRAIN_BYTES_MAX: usize = 65507;
/// Groups a datagram is compared with before it starts its own: bounds
/// planning to O(datagrams × this) whatever the batch holds.
const SEARCH_MAX: usize = 32;

/// One train: `order[start..start + count]`, all to one peer, every one
/// `segment` bytes long except the last, which may be shorter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Train {
    /// Where it starts in [`Trains::order`].
    pub(crate) start: usize,
    /// How many datagrams it carries.
    pub(crate) count: usize,
    /// The length of its datagrams but the last.
    pub(crate) segment: usize,
}

/// A group of datagrams to one peer of one length, while grouping.
#[derive(Clone, Copy)]
struct Group {
    first: usize,
    peer: SocketAddr,
    len: usize,
    count: usize,
    /// A shorter datagram to the same peer that ends the train.
    tail: Option<usize>,
    /// Where its next member goes in `order`.
    next: usize,
}

/// The sending plan of one batch, rebuilt by [`Trains::plan`].
#[derive(Default)]
pub(crate) struct Trains {
    /// The batch's datagram indices in sending order.
    pub(crate) order: Vec<usize>,
    /// The trains, in sending order, covering `order` exactly.
    pub(crate) trains: Vec<Train>,
    group_of: Vec<usize>,
    groups: Vec<Group>,
}

/// Whether a datagram of `len` bytes may be a segment of a train. An empty
/// one may not: a train cut at `len` bytes cannot end in nothing.
fn segmentable(len: usize) -> bool {
    (1..=SEGMENT_MAX).contains(&len)
}

/// Whether a train of `count` datagrams of `segment` bytes may take one more.
fn room(count: usize, segment: usize) -> bool {
    count < SEGMENTS_MAX && segment * (count + 1) <= TRAIN_BYTES_MAX
}

impl Trains {
    /// Plans how `batch` leaves: in batch order, or grouped when the batch
    /// allows any order.
    pub(crate) fn plan(&mut self, batch: &Batch) {
        self.order.clear();
        self.trains.clear();
        if batch.any_order() {
            self.grouped(batch);
        } else {
            self.in_order(batch);
        }
    }

    /// Trains of consecutive datagrams.
    fn in_order(&mut self, batch: &Batch) {
        let mut iter = batch.iter().enumerate().peekable();
        while let Some((i, d)) = iter.next() {
            let start = self.order.len();
            let segment = d.data.len();
            self.order.push(i);
            let mut count = 1;
            if segmentable(segment) {
                while room(count, segment)
                    && let Some((j, e)) = iter.next_if(|(_, e)| {
                        e.peer == d.peer && segmentable(e.data.len()) && e.data.len() <= segment
                    })
                {
                    self.order.push(j);
                    count += 1;
                    if e.data.len() < segment {
                        break;
                    }
                }
            }
            self.trains.push(Train {
                start,
                count,
                segment,
            });
        }
    }

    /// Trains of datagrams grouped by peer and length, each group in batch
    /// order, groups in the order of their first datagram; a lone shorter
    /// datagram may end a group of its peer.
    fn grouped(&mut self, batch: &Batch) {
        self.groups.clear();
        self.group_of.clear();
        for (i, d) in batch.iter().enumerate() {
            let len = d.data.len();
            let window = self.groups.len().saturating_sub(SEARCH_MAX);
            let found = segmentable(len)
                .then(|| {
                    self.groups[window..]
                        .iter()
                        .position(|g| g.len == len && g.peer == d.peer && room(g.count, len))
                })
                .flatten()
                .map(|at| window + at);
            let g = found.unwrap_or_else(|| {
                self.groups.push(Group {
                    first: i,
                    peer: d.peer,
                    len,
                    count: 0,
                    tail: None,
                    next: 0,
                });
                self.groups.len() - 1
            });
            self.groups[g].count += 1;
            self.group_of.push(g);
        }
        self.attach_tails();
        let mut at = 0;
        for g in self.groups.iter_mut().filter(|g| g.count > 0) {
            self.trains.push(Train {
                start: at,
                count: g.count,
                segment: g.len,
            });
            g.next = at;
            at += g.count;
        }
        self.order.resize(at, 0);
        for (i, &g) in self.group_of.iter().enumerate() {
            let group = &mut self.groups[g];
            if group.tail != Some(i) {
                self.order[group.next] = i;
                group.next += 1;
            }
        }
        for g in &self.groups {
            if let Some(t) = g.tail {
                self.order[g.next] = t;
            }
        }
    }

    /// Moves each group of one datagram behind a nearby group of two or
    /// more to the same peer with longer datagrams, as its train's end.
    fn attach_tails(&mut self) {
        for g in 0..self.groups.len() {
            let lone = self.groups[g];
            if lone.count != 1 || !segmentable(lone.len) {
                continue;
            }
            let near = g.saturating_sub(SEARCH_MAX)..(g + SEARCH_MAX).min(self.groups.len());
            let host = near.into_iter().find(|&h| {
                let c = &self.groups[h];
                c.count >= 2
                    && c.tail.is_none()
                    && c.len > lone.len
                    && c.peer == lone.peer
                    && room(c.count, c.len)
            });
            if let Some(h) = host {
                self.groups[h].tail = Some(lone.first);
                self.groups[h].count += 1;
                self.groups[g].count = 0;
                self.group_of[lone.first] = h;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{IpAddr, Ipv4Addr};
    use proptest::prelude::*;

    extern crate std;
    use std::vec;

    fn peer(n: u8) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), 53)
    }

    fn batch(any_order: bool, items: &[(u8, usize)]) -> Batch {
        let mut b = Batch::new(items.len().max(1), 2048);
        b.set_any_order(any_order);
        for (i, &(p, len)) in items.iter().enumerate() {
            b.push_with(peer(p), |slot| {
                slot[..len].fill(i as u8);
                len
            });
        }
        b
    }

    /// `(first index of each train, its count)` and the order.
    fn shape(b: &Batch) -> (Vec<usize>, Vec<(usize, usize)>) {
        let mut t = Trains::default();
        t.plan(b);
        let trains = t.trains.iter().map(|x| (x.start, x.count)).collect();
        (t.order.clone(), trains)
    }

    #[test]
    fn in_order_trains_are_runs_and_a_shorter_one_ends_a_run() {
        let b = batch(
            false,
            &[
                (1, 50),
                (1, 50),
                (1, 50),
                (1, 40),
                (1, 50),
                (2, 50),
                (2, 50),
            ],
        );
        let (order, trains) = shape(&b);
        assert_eq!(order, (0..7).collect::<Vec<_>>(), "nothing reordered");
        assert_eq!(trains, vec![(0, 4), (4, 1), (5, 2)]);
    }

    #[test]
    fn in_order_alternating_lengths_make_no_trains() {
        let b = batch(false, &[(1, 50), (1, 60), (1, 50), (1, 60)]);
        let (_, trains) = shape(&b);
        assert_eq!(
            trains.len(),
            3,
            "a longer one cannot follow; a shorter one ends"
        );
        assert_eq!(trains[0], (0, 1));
        assert_eq!(trains[1], (1, 2), "60 then the shorter 50 as its last");
    }

    #[test]
    fn any_order_groups_by_peer_and_length_in_batch_order() {
        let b = batch(
            true,
            &[(1, 50), (1, 60), (2, 50), (1, 50), (1, 60), (1, 50)],
        );
        let (order, trains) = shape(&b);
        assert_eq!(order, vec![0, 3, 5, 1, 4, 2]);
        assert_eq!(trains, vec![(0, 3), (3, 2), (5, 1)]);
    }

    #[test]
    fn any_order_a_lone_shorter_datagram_ends_a_train() {
        let b = batch(true, &[(1, 50), (1, 30), (1, 50), (1, 70)]);
        let (order, trains) = shape(&b);
        assert_eq!(order, vec![0, 2, 1, 3]);
        assert_eq!(trains, vec![(0, 3), (3, 1)]);
    }

    #[test]
    fn limits_split_trains() {
        let b = batch(false, &vec![(1, 100); 70]);
        assert_eq!(shape(&b).1, vec![(0, 64), (64, 6)], "at most 64 segments");
        let n = TRAIN_BYTES_MAX / SEGMENT_MAX;
        let b = batch(true, &vec![(1, SEGMENT_MAX); n + 1]);
        assert_eq!(
            shape(&b).1,
            vec![(0, n), (n, 1)],
            "at most one datagram's bytes"
        );
        let b = batch(
            true,
            &[(1, SEGMENT_MAX + 1), (1, SEGMENT_MAX + 1), (1, 0), (1, 0)],
        );
        assert_eq!(shape(&b).1.len(), 4, "too long or empty: alone");
    }

    proptest! {
        #[test]
        fn every_plan_is_a_valid_cut(
            any_order in any::<bool>(),
            items in proptest::collection::vec(
                (1u8..4, prop_oneof![Just(0usize), 1usize..4, 60usize..63, Just(SEGMENT_MAX + 1)]),
                0..150,
            ),
        ) {
            let b = batch(any_order, &items);
            let mut t = Trains::default();
            t.plan(&b);
            let mut sorted = t.order.clone();
            sorted.sort_unstable();
            prop_assert_eq!(sorted, (0..items.len()).collect::<Vec<_>>(), "a permutation");
            if !any_order {
                prop_assert_eq!(&t.order, &(0..items.len()).collect::<Vec<_>>());
            }
            let mut at = 0;
            for train in &t.trains {
                prop_assert_eq!(train.start, at, "trains cover the order");
                at += train.count;
                let members = &t.order[train.start..train.start + train.count];
                let first = b.get(members[0]).unwrap();
                prop_assert_eq!(train.segment, first.data.len());
                if train.count < 2 {
                    continue;
                }
                prop_assert!(train.count <= SEGMENTS_MAX);
                prop_assert!(segmentable(train.segment));
                prop_assert!(train.segment * train.count <= TRAIN_BYTES_MAX);
                for (k, &i) in members.iter().enumerate() {
                    let d = b.get(i).unwrap();
                    prop_assert_eq!(d.peer, first.peer);
                    if k + 1 < members.len() {
                        prop_assert_eq!(d.data.len(), train.segment);
                        prop_assert!(k == 0 || members[k - 1] < i, "a group keeps batch order");
                    } else {
                        prop_assert!(segmentable(d.data.len()) && d.data.len() <= train.segment);
                    }
                }
            }
            prop_assert_eq!(at, items.len());
        }
    }
}
