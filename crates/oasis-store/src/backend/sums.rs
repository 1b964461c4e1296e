//! The engine's page checksums: one 8-byte checksum per block of the
//! engine's storage, kept in the sums region of the device and checked the
//! first time a block is read.
//!
//! The region is an array of little-endian `u64`, entry `b` the sum of
//! engine block `b` ([`block_sum`]: the block's checksum mixed with its
//! number, so a page written where another belongs fails too), a block
//! being `max(4096, sector size)` bytes. Block 0 holds the engine's
//! header, which the engine rewrites in place at every commit and guards
//! itself (two commit slots, each with its checksum): it has no entry that
//! is ever checked.
//!
//! The table is read in chunks of one block (4096 bytes: the sums of 2 MiB
//! of storage) when a read or write first needs them, so opening reads none
//! of it; chunks changed since the last sync are written out before the
//! next one, with the pages they describe. Which blocks were checked (or
//! written here, so known good) is a bitmap: each block is checked once.
//!
//! Why this is sound across a power cut: a page the engine's last durable
//! commit can reach was written, with its checksum, before that commit's
//! flush, and is not written again until a later durable commit frees it;
//! a chunk rewritten since holds the same bytes for it, so whatever part of
//! that rewrite lands, the page's entry is the one that matches it.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

/// The sum recorded for engine block `b` holding `bytes`.
pub(super) fn block_sum(b: u64, bytes: &[u8]) -> u64 {
    placed(b, crate::checksum::checksum(bytes))
}

/// The sum of block `b` whose contents' checksum is `checksum`.
pub(super) fn placed(b: u64, checksum: u64) -> u64 {
    checksum ^ crate::checksum::mix(b.wrapping_add(1))
}

/// The sums of the engine's blocks, as far as they were read, and which
/// blocks were checked.
pub(super) struct Sums {
    /// Bytes per block (and per chunk of the table).
    pub(super) block: u64,
    /// Chunks of the table by index; `None`: not read yet.
    chunks: Vec<Option<Vec<u8>>>,
    /// Chunks changed since they were last written out.
    dirty: BTreeSet<usize>,
    /// One bit per block: checked, or written since the store opened.
    verified: Vec<u64>,
    /// One bit per block: added to the storage since the store opened and
    /// not written since, so zero whatever the device holds there.
    zeroed: Vec<u64>,
    /// Bits set in `zeroed`.
    zeroed_count: u64,
}

fn bit(bits: &[u64], b: u64) -> bool {
    bits.get((b / 64) as usize)
        .is_some_and(|w| w & (1 << (b % 64)) != 0)
}

/// Sets or clears bit `b`; says whether it changed.
fn put(bits: &mut Vec<u64>, b: u64, on: bool) -> bool {
    let (word, mask) = ((b / 64) as usize, 1u64 << (b % 64));
    if bits.len() <= word {
        if !on {
            return false;
        }
        bits.resize(word + 1, 0);
    }
    let was = bits[word] & mask != 0;
    if on {
        bits[word] |= mask;
    } else {
        bits[word] &= !mask;
    }
    was != on
}

impl Sums {
    /// The sums of a table of `len` bytes in chunks of `block` bytes.
    pub(super) fn new(block: u64, len: u64) -> Sums {
        Sums {
            block,
            chunks: (0..len / block).map(|_| None).collect(),
            dirty: BTreeSet::new(),
            verified: Vec::new(),
            zeroed: Vec::new(),
            zeroed_count: 0,
        }
    }

    /// Entries per chunk.
    fn per_chunk(&self) -> u64 {
        self.block / 8
    }

    /// The chunk holding block `b`'s entry (none: past the table), and the
    /// entry's byte offset in it.
    pub(super) fn place(&self, b: u64) -> Option<(usize, usize)> {
        let c = usize::try_from(b / self.per_chunk()).ok()?;
        (c < self.chunks.len()).then_some((c, (b % self.per_chunk()) as usize * 8))
    }

    /// Whether chunk `c` was read.
    pub(super) fn loaded(&self, c: usize) -> bool {
        self.chunks[c].is_some()
    }

    /// Takes chunk `c` as read from the device.
    pub(super) fn load(&mut self, c: usize, bytes: Vec<u8>) {
        self.chunks[c] = Some(bytes);
    }

    /// Block `b`'s recorded sum; its chunk must be loaded.
    pub(super) fn get(&self, b: u64) -> u64 {
        let (c, at) = self.place(b).expect("a block inside the table");
        let chunk = self.chunks[c].as_ref().expect("a loaded chunk");
        crate::le::u64_at(&chunk[at..at + 8])
    }

    /// Records block `b`'s sum; its chunk must be loaded.
    pub(super) fn set(&mut self, b: u64, sum: u64) {
        let (c, at) = self.place(b).expect("a block inside the table");
        let chunk = self.chunks[c].as_mut().expect("a loaded chunk");
        if chunk[at..at + 8] != sum.to_le_bytes() {
            chunk[at..at + 8].copy_from_slice(&sum.to_le_bytes());
            self.dirty.insert(c);
        }
        self.mark(b);
    }

    /// Whether block `b` was checked or written.
    pub(super) fn verified(&self, b: u64) -> bool {
        bit(&self.verified, b)
    }

    /// Notes block `b` as checked.
    pub(super) fn mark(&mut self, b: u64) {
        put(&mut self.verified, b, true);
    }

    /// Whether block `b` reads as zeros without the device (see `zeroed`).
    pub(super) fn zeroed(&self, b: u64) -> bool {
        self.zeroed_count > 0 && bit(&self.zeroed, b)
    }

    /// Whether any of blocks `[first, last)` reads as zeros without the device.
    pub(super) fn any_zeroed(&self, first: u64, last: u64) -> bool {
        self.zeroed_count > 0 && (first..last).any(|b| bit(&self.zeroed, b))
    }

    /// Notes block `b` as zeros not on the device (`true`), or as written.
    pub(super) fn set_zeroed(&mut self, b: u64, on: bool) {
        if put(&mut self.zeroed, b, on) {
            if on {
                self.zeroed_count += 1;
            } else {
                self.zeroed_count -= 1;
            }
        }
    }

    /// The chunks changed since they were last written out, with their
    /// bytes; they count as written.
    pub(super) fn take_dirty(&mut self) -> Vec<(usize, Vec<u8>)> {
        let dirty = core::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .filter_map(|c| self.chunks[c].clone().map(|bytes| (c, bytes)))
            .collect()
    }
}
