//! A guest scribbling anything over a ring never makes the VMM's ends reach
//! outside it: every frame the VMM drains (TX) and every slot it fills (RX)
//! lies inside the ring.
#![no_main]

use oasis_abi::ring::{End, HEADER_SIZE, Ring, ring_bytes};

const SLOTS: u32 = 8;
const SLOT_SIZE: u32 = 64;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let len = ring_bytes(SLOTS, SLOT_SIZE) as usize;
    let mut mem = vec![0u32; len / 4];
    let base = mem.as_mut_ptr().cast::<u8>();
    // SAFETY: `mem` holds the ring and outlives both handles.
    let (mut guest, vmm_tx, mut vmm_rx) = unsafe {
        let guest = Ring::new(base, SLOTS, SLOT_SIZE, End::Producer);
        guest.init();
        (
            guest,
            Ring::new(base, SLOTS, SLOT_SIZE, End::Consumer),
            Ring::new(base, SLOTS, SLOT_SIZE, End::Producer),
        )
    };
    let inside = |p: *const u8, n: usize| {
        let start = p as usize - base as usize;
        assert!(start >= HEADER_SIZE as usize && start + n <= len);
    };
    for chunk in data.chunks(5) {
        match chunk {
            // The guest writes a word anywhere in the ring.
            [0, a, b, c, d] => {
                let at = (usize::from(*a) * 4) % len;
                mem[at / 4] = u32::from_le_bytes([*b, *c, *d, 0]);
            }
            // The guest queues a frame.
            [1, n, ..] => {
                let _ = guest.push(&vec![*n; usize::from(*n) % 80]);
            }
            // The VMM fills whatever slot the (scribbled) consumer index leaves free.
            [2, n, ..] => {
                if let Ok(Some(slot)) = vmm_rx.next_free() {
                    inside(slot.as_ptr(), slot.len());
                    let _ = vmm_rx.produce(usize::from(*n));
                }
            }
            // The VMM drains whatever the (scribbled) producer index claims.
            _ => {
                if let Ok(Some(frame)) = vmm_tx.peek() {
                    inside(frame.as_ptr(), frame.len());
                    vmm_tx.consume();
                }
            }
        }
    }
});
