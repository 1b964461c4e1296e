//! Reads an address no memory is mapped at: the VMM must report a fault
//! naming `read_unmapped`.
#![no_std]
#![no_main]

/// Far above any guest memory this test runs with, below the hypercall window.
const UNMAPPED: usize = 0xc000_0000;

#[inline(never)]
fn read_unmapped(addr: usize) -> u64 {
    // SAFETY: none: faulting is the point of this guest.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

#[oasis::main]
async fn main() -> oasis::Result {
    let v = read_unmapped(core::hint::black_box(UNMAPPED));
    oasis::log::info!("read {v} from an unmapped address: the guard did not work");
    Ok(())
}
