//! [`Slots`]: fixed-size slots in one buffer, each with the length of what
//! it holds. A [`crate::Batch`] of datagrams and the direct stack's ring of
//! copied frames (`direct/port.rs`) are both made of it.

use alloc::vec;
use alloc::vec::Vec;

/// `count()` slots of `size()` bytes, and the length held in each.
pub(crate) struct Slots {
    bytes: Vec<u8>,
    size: usize,
    lens: Vec<usize>,
}

impl Slots {
    /// `count` slots of `size` bytes, zeroed.
    pub(crate) fn new(count: usize, size: usize) -> Slots {
        let mut s = Slots::empty(size);
        s.grow(count);
        s
    }

    /// No slots yet, of `size` bytes once [`Slots::grow`] adds some: takes
    /// no memory until then.
    pub(crate) fn empty(size: usize) -> Slots {
        Slots {
            bytes: Vec::new(),
            size,
            lens: Vec::new(),
        }
    }

    /// Adds `more` slots.
    pub(crate) fn grow(&mut self, more: usize) {
        if self.bytes.is_empty() {
            // A fresh zeroed allocation, not zeros written: on kvm the
            // heap hands out memory never touched as zero without writing
            // it, so slots no datagram reaches cost the host nothing.
            self.bytes = vec![0; more * self.size];
        } else {
            self.bytes.resize(self.bytes.len() + more * self.size, 0);
        }
        self.lens.resize(self.lens.len() + more, 0);
    }

    /// How many slots.
    pub(crate) fn count(&self) -> usize {
        self.lens.len()
    }

    /// Bytes per slot.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// What slot `i` holds.
    pub(crate) fn get(&self, i: usize) -> &[u8] {
        &self.bytes[i * self.size..][..self.lens[i]]
    }

    /// Slot `i`'s whole buffer and the length it holds, to fill in place.
    pub(crate) fn parts(&mut self, i: usize) -> (&mut [u8], &mut usize) {
        (
            &mut self.bytes[i * self.size..][..self.size],
            &mut self.lens[i],
        )
    }

    /// Sets the length slot `i` holds (capped at the slot).
    pub(crate) fn set_len(&mut self, i: usize, len: usize) {
        self.lens[i] = len.min(self.size);
    }

    /// Copies `data` (truncated to a slot) into slot `i`.
    pub(crate) fn copy_in(&mut self, i: usize, data: &[u8]) {
        let n = data.len().min(self.size);
        let (slot, len) = self.parts(i);
        slot[..n].copy_from_slice(&data[..n]);
        *len = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_hold_their_lengths_and_grow_without_losing_them() {
        let mut s = Slots::empty(4);
        assert_eq!(s.count(), 0);
        s.grow(2);
        s.copy_in(0, b"ab");
        s.copy_in(1, b"longer than a slot");
        assert_eq!((s.get(0), s.get(1)), (&b"ab"[..], &b"long"[..]));
        s.grow(1);
        assert_eq!(s.count(), 3);
        assert_eq!(
            (s.get(0), s.get(1), s.get(2)),
            (&b"ab"[..], &b"long"[..], &b""[..])
        );
        s.parts(2).0[..3].copy_from_slice(b"xyz");
        s.set_len(2, 99);
        assert_eq!(s.get(2), b"xyz\0");
        assert_eq!(Slots::new(3, 8).count(), 3);
    }
}
