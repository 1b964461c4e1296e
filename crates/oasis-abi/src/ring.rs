//! The shared network rings: single-producer, single-consumer queues of
//! fixed-size frame slots in guest memory, so that a burst of frames costs
//! one exit (ARCHITECTURE.md §2).
//!
//! ```text
//! offset  0  producer: u32   free-running count of slots filled (producer writes)
//! offset  4  slots: u32      number of slots, a power of two (VMM writes at setup)
//! offset  8  slot_size: u32  bytes per slot, header included (VMM writes at setup)
//! offset 32  consumer: u32   free-running count of slots drained (consumer writes)
//! offset 64  slot 0, slot 1, … each: SlotHeader { len: u32, _: u32 } + frame bytes
//! ```
//!
//! Each device has an RX ring (the VMM produces, the guest consumes) and a TX
//! ring (the guest produces, the VMM consumes). Each side keeps its own index
//! privately and only *publishes* it into the header, so a side never trusts
//! what the other could have scribbled over its index; the other side's index
//! is read, checked against the geometry, and refused when impossible.

use core::cell::Cell;
use core::sync::atomic::{AtomicU32, Ordering};

/// Bytes before slot 0.
pub const HEADER_SIZE: u32 = 64;
/// Byte offset of the producer index.
const PRODUCER: usize = 0;
/// Byte offset of the slot count.
const SLOTS: usize = 4;
/// Byte offset of the slot size.
const SLOT_SIZE: usize = 8;
/// Byte offset of the consumer index.
const CONSUMER: usize = 32;

/// Header of each slot.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SlotHeader {
    /// Bytes of frame that follow.
    pub len: u32,
    /// Reserved, zero.
    pub _reserved: u32,
}

/// Bytes of [`SlotHeader`].
pub const SLOT_HEADER_SIZE: u32 = 8;
/// Slot size oasis-vmm uses: room for a 1514-byte frame and its header.
pub const DEFAULT_SLOT_SIZE: u32 = 2048;
/// Slots per ring oasis-vmm uses.
pub const DEFAULT_SLOTS: u32 = 256;

/// Bytes of guest memory one ring of `slots` × `slot_size` takes.
pub const fn ring_bytes(slots: u32, slot_size: u32) -> u64 {
    HEADER_SIZE as u64 + slots as u64 * slot_size as u64
}

/// The other side broke the ring's invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingError {
    /// The other side's index claims more slots than exist.
    BadIndex {
        /// The index read.
        index: u32,
        /// This side's own index.
        own: u32,
    },
    /// A slot claims more bytes than it can hold.
    BadLength {
        /// The length read.
        len: u32,
    },
    /// A frame to push is longer than a slot can hold.
    TooLong,
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RingError::BadIndex { index, own } => {
                write!(f, "ring index {index} is impossible against {own}")
            }
            RingError::BadLength { len } => write!(f, "ring slot claims {len} bytes"),
            RingError::TooLong => f.write_str("frame longer than a ring slot"),
        }
    }
}

/// Which end of a ring this side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Fills slots and advances `producer`.
    Producer,
    /// Drains slots and advances `consumer`.
    Consumer,
}

/// One side's handle on a ring in shared memory.
pub struct Ring {
    base: *mut u8,
    slots: u32,
    slot_size: u32,
    end: End,
    /// This side's index, kept privately (see the module doc).
    own: Cell<u32>,
}

impl Ring {
    /// A handle on the ring at `base` with the given geometry, as `end`.
    /// `slots` must be a power of two and `slot_size` > [`SLOT_HEADER_SIZE`].
    ///
    /// # Safety
    /// `base` must point to [`ring_bytes`]`(slots, slot_size)` bytes, 4-byte
    /// aligned, valid for reads and writes for the handle's life, and no other
    /// code may access them concurrently with a call on this handle.
    pub unsafe fn new(base: *mut u8, slots: u32, slot_size: u32, end: End) -> Ring {
        assert!(
            slots.is_power_of_two() && slot_size > SLOT_HEADER_SIZE && slot_size.is_multiple_of(4)
        );
        let ring = Ring {
            base,
            slots,
            slot_size,
            end,
            own: Cell::new(0),
        };
        ring.own.set(ring.load(match end {
            End::Producer => PRODUCER,
            End::Consumer => CONSUMER,
        }));
        ring
    }

    /// Writes a fresh header (both indices zero). Done once, by the VMM.
    pub fn init(&self) {
        self.store(PRODUCER, 0);
        self.store(CONSUMER, 0);
        self.store(SLOTS, self.slots);
        self.store(SLOT_SIZE, self.slot_size);
        self.own.set(0);
    }

    /// The addresses of the slots (the ring without its header): what may
    /// be given back to the host while no slot holds a frame.
    pub fn slot_area(&self) -> core::ops::Range<usize> {
        let start = self.base as usize + HEADER_SIZE as usize;
        start..start + self.slots as usize * self.slot_size as usize
    }

    /// Largest frame a slot holds.
    pub fn frame_max(&self) -> usize {
        (self.slot_size - SLOT_HEADER_SIZE) as usize
    }

    fn word(&self, offset: usize) -> &AtomicU32 {
        // SAFETY: offset < HEADER_SIZE, aligned; validity is `new`'s contract.
        unsafe { AtomicU32::from_ptr(self.base.add(offset).cast()) }
    }

    fn load(&self, offset: usize) -> u32 {
        self.word(offset).load(Ordering::Acquire)
    }

    fn store(&self, offset: usize, v: u32) {
        self.word(offset).store(v, Ordering::Release)
    }

    fn slot(&self, index: u32) -> *mut u8 {
        let i = (index & (self.slots - 1)) as usize;
        // SAFETY: i < slots, so the slot lies inside the ring (`new`'s contract).
        unsafe {
            self.base
                .add(HEADER_SIZE as usize + i * self.slot_size as usize)
        }
    }

    /// Slots filled and not yet drained, as this side sees them; an error if
    /// the other side's index is impossible.
    pub fn pending(&self) -> Result<u32, RingError> {
        let (producer, consumer, other) = match self.end {
            End::Producer => {
                let c = self.load(CONSUMER);
                (self.own.get(), c, c)
            }
            End::Consumer => {
                let p = self.load(PRODUCER);
                (p, self.own.get(), p)
            }
        };
        let n = producer.wrapping_sub(consumer);
        if n > self.slots {
            return Err(RingError::BadIndex {
                index: other,
                own: self.own.get(),
            });
        }
        Ok(n)
    }

    /// Producer: slots free to fill.
    pub fn free(&self) -> Result<u32, RingError> {
        Ok(self.slots - self.pending()?)
    }

    /// Producer: the next free slot's frame area (full capacity), or `None`
    /// when the ring is full. Fill it, then [`Ring::produce`] the length.
    pub fn next_free(&mut self) -> Result<Option<&mut [u8]>, RingError> {
        debug_assert_eq!(self.end, End::Producer);
        if self.free()? == 0 {
            return Ok(None);
        }
        let slot = self.slot(self.own.get());
        // SAFETY: the slot is inside the ring and not visible to the consumer
        // until `produce`; `&mut self` keeps the borrow unique on this side.
        Ok(Some(unsafe {
            core::slice::from_raw_parts_mut(slot.add(SLOT_HEADER_SIZE as usize), self.frame_max())
        }))
    }

    /// Producer: publishes the slot returned by [`Ring::next_free`] with `len` bytes.
    pub fn produce(&mut self, len: usize) -> Result<(), RingError> {
        if len > self.frame_max() {
            return Err(RingError::TooLong);
        }
        let slot = self.slot(self.own.get());
        // SAFETY: the slot header is inside the ring, 4-byte aligned.
        unsafe { slot.cast::<u32>().write_volatile(len as u32) };
        let next = self.own.get().wrapping_add(1);
        self.own.set(next);
        self.store(PRODUCER, next);
        Ok(())
    }

    /// Producer: copies `frame` into the next slot; `Ok(false)` when full.
    pub fn push(&mut self, frame: &[u8]) -> Result<bool, RingError> {
        if frame.len() > self.frame_max() {
            return Err(RingError::TooLong);
        }
        match self.next_free()? {
            Some(buf) => buf[..frame.len()].copy_from_slice(frame),
            None => return Ok(false),
        }
        self.produce(frame.len())?;
        Ok(true)
    }

    /// Consumer: the oldest filled slot's frame, or `None` when empty. Call
    /// [`Ring::consume`] when done with it.
    pub fn peek(&self) -> Result<Option<&[u8]>, RingError> {
        self.peek_nth(0)
    }

    /// Consumer: the frame `n` slots after the oldest filled one (0 is
    /// [`Ring::peek`]'s), or `None` past the last. Frames stay in their
    /// slots, untouched by the producer, until [`Ring::consume_n`] releases
    /// them: a stack can read several in place.
    pub fn peek_nth(&self, n: u32) -> Result<Option<&[u8]>, RingError> {
        debug_assert_eq!(self.end, End::Consumer);
        if n >= self.pending()? {
            return Ok(None);
        }
        let slot = self.slot(self.own.get().wrapping_add(n));
        // SAFETY: the slot header is inside the ring, 4-byte aligned.
        let len = unsafe { slot.cast::<u32>().read_volatile() };
        if len as usize > self.frame_max() {
            return Err(RingError::BadLength { len });
        }
        // SAFETY: len checked against the slot's capacity.
        Ok(Some(unsafe {
            core::slice::from_raw_parts(slot.add(SLOT_HEADER_SIZE as usize), len as usize)
        }))
    }

    /// Consumer: releases the slot returned by [`Ring::peek`] to the producer.
    pub fn consume(&self) {
        self.consume_n(1);
    }

    /// Consumer: releases the `n` oldest filled slots to the producer (no
    /// more than are filled).
    pub fn consume_n(&self, n: u32) {
        let n = n.min(self.pending().unwrap_or(0));
        let next = self.own.get().wrapping_add(n);
        self.own.set(next);
        self.store(CONSUMER, next);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn pair(mem: &mut [u32], slots: u32, size: u32) -> (Ring, Ring) {
        let base = mem.as_mut_ptr().cast::<u8>();
        // SAFETY: mem is large enough and outlives both handles in each test.
        unsafe {
            let p = Ring::new(base, slots, size, End::Producer);
            p.init();
            (p, Ring::new(base, slots, size, End::Consumer))
        }
    }

    #[test]
    fn frames_come_out_in_order_across_wraparound() {
        let mut mem = vec![0u32; ring_bytes(4, 64) as usize / 4];
        let (mut tx, rx) = pair(&mut mem, 4, 64);
        assert_eq!(tx.frame_max(), 56);
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        for round in 0..50 {
            let burst = round % 5;
            for _ in 0..burst {
                let frame = vec![next_in; usize::from(next_in % 57)];
                if tx.push(&frame).unwrap() {
                    next_in = next_in.wrapping_add(1);
                }
            }
            while let Some(f) = rx.peek().unwrap() {
                assert_eq!(f.len(), usize::from(next_out % 57));
                assert!(f.iter().all(|&b| b == next_out));
                rx.consume();
                next_out = next_out.wrapping_add(1);
            }
        }
        assert_eq!(next_in, next_out);
        assert!(next_in > 20);
    }

    #[test]
    fn several_frames_are_read_in_place_then_released_together() {
        let mut mem = vec![0u32; ring_bytes(4, 64) as usize / 4];
        let (mut tx, rx) = pair(&mut mem, 4, 64);
        for round in 0u8..10 {
            // Three frames in, read in any order where they lie, released at once.
            for i in 0..3 {
                assert!(tx.push(&[round * 3 + i; 5]).unwrap());
            }
            assert_eq!(rx.peek_nth(3), Ok(None));
            for i in (0..3).rev() {
                let f = rx.peek_nth(u32::from(i)).unwrap().unwrap();
                assert_eq!(f, [round * 3 + i; 5]);
            }
            // Held slots are not free to the producer.
            assert_eq!(tx.free(), Ok(1));
            rx.consume_n(2);
            assert_eq!(rx.peek().unwrap().unwrap(), [round * 3 + 2; 5]);
            rx.consume_n(10); // more than filled: only what is filled
            assert_eq!(rx.pending(), Ok(0));
            assert_eq!(tx.free(), Ok(4));
        }
    }

    #[test]
    fn full_ring_refuses_and_long_frames_are_errors() {
        let mut mem = vec![0u32; ring_bytes(2, 32) as usize / 4];
        let (mut tx, _rx) = pair(&mut mem, 2, 32);
        assert_eq!(tx.push(&[1; 24]), Ok(true));
        assert_eq!(tx.push(&[2; 3]), Ok(true));
        assert_eq!(tx.push(&[3; 3]), Ok(false));
        assert_eq!(tx.push(&[4; 25]), Err(RingError::TooLong));
    }

    #[test]
    fn a_scribbled_index_or_length_is_refused() {
        let mut mem = vec![0u32; ring_bytes(4, 32) as usize / 4];
        let (mut tx, rx) = pair(&mut mem, 4, 32);
        tx.push(&[9; 8]).unwrap();
        // The "guest" claims 1000 frames.
        mem[PRODUCER / 4] = 1000;
        assert!(matches!(rx.pending(), Err(RingError::BadIndex { .. })));
        mem[PRODUCER / 4] = 1;
        // and a slot longer than the slot.
        mem[HEADER_SIZE as usize / 4] = 999;
        assert_eq!(rx.peek(), Err(RingError::BadLength { len: 999 }));
        // A consumer index moved backwards past the producer is refused too.
        mem[HEADER_SIZE as usize / 4] = 8;
        mem[CONSUMER / 4] = 7;
        assert!(tx.pending().is_err());
        let drained: Vec<usize> = rx.peek().unwrap().map(|f| f.len()).into_iter().collect();
        assert_eq!(drained, [8]);
    }
}
