//! Prints 32 random bytes in hex on one line, and the wall clock in
//! nanoseconds on the next: two boots must print different bytes, and the
//! clock must agree with the host's.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use core::fmt::Write;

#[oasis::main]
async fn main() -> oasis::Result {
    let mut bytes = [0u8; 32];
    oasis::random(&mut bytes);
    let mut hex = String::new();
    for b in bytes {
        let _ = write!(hex, "{b:02x}");
    }
    oasis::log::info!("random {hex}");
    oasis::log::info!("wall {}", oasis::wall_clock_ns());
    Ok(())
}
