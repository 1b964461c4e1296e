//! Recurses until the stack runs into its guard page: the VMM must report a
//! stack overflow.
#![no_std]
#![no_main]

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    core::hint::black_box(&mut frame);
    frame[0] = depth as u8;
    if depth == 0 {
        return 0;
    }
    recurse(depth - 1) + u64::from(core::hint::black_box(&frame)[0])
}

#[oasis::main]
async fn main() -> oasis::Result {
    let v = recurse(core::hint::black_box(1 << 20));
    oasis::log::info!("recursed to {v} without overflowing: the guard did not work");
    Ok(())
}
