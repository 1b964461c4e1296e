//! Writes over its own code: the VMM maps text read-only, so this must fault
//! in `overwrite`.
#![no_std]
#![no_main]

#[inline(never)]
fn overwrite(target: *mut u8) {
    // SAFETY: none: faulting is the point of this guest.
    unsafe { core::ptr::write_volatile(target, 0xcc) }
}

#[oasis::main]
async fn main() -> oasis::Result {
    let code = overwrite as fn(*mut u8) as usize as *mut u8;
    overwrite(core::hint::black_box(code));
    oasis::log::info!("wrote into the image's code: text is not read-only");
    Ok(())
}
