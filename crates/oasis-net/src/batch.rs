//! [`Batch`]: many datagrams in one buffer, received or sent with one call.
//!
//! A batch is allocated once and reused: receiving fills its slots in
//! place (with `recvmmsg` on the socket stack, straight from the stack's
//! buffers on the direct stack), and a server can answer by rewriting each
//! slot and sending the same batch back, or by filling a second batch.
//! Nothing here allocates after [`Batch::new`].

use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::slots::Slots;

/// One datagram of a batch: its bytes and the peer it came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The payload.
    pub data: &'a [u8],
    /// The remote address and port.
    pub peer: SocketAddr,
}

/// A fixed number of datagram slots of a fixed size each.
pub struct Batch {
    slots: Slots,
    peers: Vec<SocketAddr>,
    count: usize,
    any_order: bool,
}

const NOWHERE: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));

impl Batch {
    /// A batch of `capacity` slots of `slot_size` bytes (datagrams longer
    /// than a slot are truncated to it on receive).
    pub fn new(capacity: usize, slot_size: usize) -> Batch {
        let capacity = capacity.max(1);
        let slot_size = slot_size.max(1);
        Batch {
            slots: Slots::new(capacity, slot_size),
            peers: vec![NOWHERE; capacity],
            count: 0,
            any_order: false,
        }
    }

    /// Declares whether the datagrams of this batch may leave in any order
    /// (each answers a different query, say). A stack may then group those
    /// to one peer of one length and hand each group to the host at once
    /// (UDP segmentation offload on the socket stack). Off by default:
    /// datagrams to one peer leave in batch order. Kept across
    /// [`Batch::clear`].
    pub fn set_any_order(&mut self, any_order: bool) {
        self.any_order = any_order;
    }

    /// Whether the datagrams may leave in any order ([`Batch::set_any_order`]).
    pub fn any_order(&self) -> bool {
        self.any_order
    }

    /// How many datagrams the batch can hold.
    pub fn capacity(&self) -> usize {
        self.slots.count()
    }

    /// The size of one slot, the longest datagram it holds whole.
    pub fn slot_size(&self) -> usize {
        self.slots.size()
    }

    /// How many datagrams it holds now.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no datagram.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether every slot is used.
    pub fn is_full(&self) -> bool {
        self.count == self.capacity()
    }

    /// Forgets every datagram (the memory stays).
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Datagram `i`, if the batch holds that many.
    pub fn get(&self, i: usize) -> Option<Datagram<'_>> {
        (i < self.count).then(|| Datagram {
            data: self.slots.get(i),
            peer: self.peers[i],
        })
    }

    /// Every datagram held, in order.
    pub fn iter(&self) -> impl Iterator<Item = Datagram<'_>> {
        (0..self.count).filter_map(|i| self.get(i))
    }

    /// The whole slot `i` (not just its datagram), to rewrite an answer in
    /// place; set the answer's length with [`Batch::set`].
    pub fn slot_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        (i < self.count).then(|| self.slots.parts(i).0)
    }

    /// Sets the length and peer of datagram `i` (the length is capped at the slot size).
    pub fn set(&mut self, i: usize, len: usize, peer: SocketAddr) {
        if i < self.count {
            self.slots.set_len(i, len);
            self.peers[i] = peer;
        }
    }

    /// Appends a datagram that `fill` writes into the next slot, returning
    /// its length. Returns false (and calls nothing) when the batch is full.
    pub fn push_with(&mut self, peer: SocketAddr, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        if self.is_full() {
            return false;
        }
        self.push_some(peer, |slot| Some(fill(slot)))
    }

    /// Like [`Batch::push_with`], but `fill` may decline (return `None`), and
    /// then nothing is appended: a server that drops some queries answers
    /// the rest straight into their slots. Returns whether a datagram was appended.
    pub fn push_some(
        &mut self,
        peer: SocketAddr,
        fill: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        if self.is_full() {
            return false;
        }
        let i = self.count;
        match fill(self.slots.parts(i).0) {
            Some(len) => {
                self.slots.set_len(i, len);
                self.peers[i] = peer;
                self.count += 1;
                true
            }
            None => false,
        }
    }

    /// Appends a copy of `data` (truncated to a slot). Returns false when full.
    pub fn push(&mut self, peer: SocketAddr, data: &[u8]) -> bool {
        self.push_with(peer, |slot| {
            let n = data.len().min(slot.len());
            slot[..n].copy_from_slice(&data[..n]);
            n
        })
    }

    /// Raw parts for a receiving stack: slot `i`'s whole buffer, its length
    /// and its peer. The caller sets `count` with [`Batch::set_len`].
    pub(crate) fn slot_parts(&mut self, i: usize) -> (&mut [u8], &mut usize, &mut SocketAddr) {
        let (slot, len) = self.slots.parts(i);
        (slot, len, &mut self.peers[i])
    }

    /// Declares how many leading slots hold datagrams (receiving stacks only).
    pub(crate) fn set_len(&mut self, count: usize) {
        self.count = count.min(self.capacity());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), port))
    }

    #[test]
    fn push_get_rewrite_and_clear() {
        let mut b = Batch::new(2, 8);
        assert!(b.push(peer(1), b"hello"));
        assert!(b.push(peer(2), b"far too long for a slot"));
        assert!(!b.push(peer(3), b"x"), "full");
        assert_eq!(b.get(0).unwrap().data, b"hello");
        assert_eq!(b.get(1).unwrap().data, b"far too ", "truncated to the slot");
        assert_eq!(b.get(1).unwrap().peer, peer(2));
        assert_eq!(b.get(2), None);
        b.slot_mut(0).unwrap()[..2].copy_from_slice(b"ok");
        b.set(0, 2, peer(9));
        assert_eq!(b.get(0).unwrap().data, b"ok");
        assert_eq!(b.iter().count(), 2);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.iter().count(), 0);
    }

    #[test]
    fn push_some_appends_only_what_is_answered() {
        let mut b = Batch::new(2, 8);
        assert!(
            !b.push_some(peer(1), |_| None),
            "declined: nothing appended"
        );
        assert!(b.is_empty());
        assert!(b.push_some(peer(2), |slot| {
            slot[..3].copy_from_slice(b"yes");
            Some(3)
        }));
        assert_eq!(b.get(0).unwrap().data, b"yes");
        assert!(b.push_some(peer(3), |_| Some(100)), "capped at the slot");
        assert_eq!(b.get(1).unwrap().data.len(), 8);
        assert!(!b.push_some(peer(4), |_| Some(1)), "full");
    }
}
