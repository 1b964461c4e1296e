//! Works the kvm heap the way a storage engine does: blocks of every size
//! class and beyond, freed and reused, zeroed allocations over reused
//! memory (big ones come from the heap's top: some stay live beside the
//! first-fit blocks growing up to meet them), growing buffers, 8 MiB live
//! in a guest of the default size.
//! Checks every block's contents against what was written (no two live
//! blocks overlap) and that zeroed blocks are zero, then prints `heap ok
//! BYTES` with the bytes it had live at most. The test reads the VMM's exit counts: the heap must
//! have asked the VMM to back its memory in chunks (`Populate`), far fewer
//! times than it touched pages.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

/// xorshift64: sizes and orders, the same on every boot.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A block filled with its own tag, so an overlap shows as a wrong byte.
struct Block {
    data: Vec<u8>,
    tag: u8,
}

impl Block {
    fn check(&self) -> bool {
        self.data.iter().all(|&b| b == self.tag)
    }
}

#[oasis::main]
async fn main() -> oasis::Result {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut live: Vec<Block> = Vec::new();
    let mut bytes = 0usize;
    let mut most = 0usize;
    for round in 0..20_000u32 {
        // Sizes: mostly small, some page-sized, a few past every class.
        let size = match rng.next() % 100 {
            0..=69 => 1 + (rng.next() % 512) as usize,
            70..=94 => 4096 + (rng.next() % 4200) as usize,
            95..=98 => 9000 + (rng.next() % 60_000) as usize,
            _ => 70_000 + (rng.next() % 400_000) as usize,
        };
        // A zeroed block must be zero even where freed blocks lay before.
        let mut zeroed = vec![0u8; size];
        if zeroed.iter().any(|&b| b != 0) {
            return Err("a zeroed allocation was not zero".into());
        }
        let tag = round as u8 | 1;
        // Every fourth stays live, written all over like the rest.
        if round % 4 == 0 {
            zeroed.fill(tag);
            bytes += zeroed.len();
            live.push(Block { data: zeroed, tag });
        } else {
            drop(zeroed);
        }
        let mut data = Vec::new();
        // Grown in steps, as a buffer that does not know its size.
        while data.len() < size {
            let step = (size - data.len()).min(1 + data.len());
            data.extend(core::iter::repeat_n(tag, step));
        }
        bytes += data.len();
        live.push(Block { data, tag });
        most = most.max(bytes);
        // Keep about 8 MiB live: free random blocks past it.
        while bytes > 8 << 20 {
            let i = (rng.next() % live.len() as u64) as usize;
            let gone = live.swap_remove(i);
            if !gone.check() {
                return Err("a block's bytes changed while it was live".into());
            }
            bytes -= gone.data.len();
        }
    }
    if !live.iter().all(Block::check) {
        return Err("a block's bytes changed while it was live".into());
    }
    oasis::log::info!("heap ok {most}");
    Ok(())
}
