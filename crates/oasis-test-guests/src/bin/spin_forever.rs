//! Says so, then spins for ever in `spin_forever` without a hypercall: a
//! debugger attached with `--gdb` must still stop it (Ctrl-C) and show
//! where it is.
#![no_std]
#![no_main]

#[inline(never)]
fn spin_forever() -> ! {
    let mut turns: u64 = 0;
    loop {
        turns = core::hint::black_box(turns.wrapping_add(1));
    }
}

#[oasis::main]
async fn main() -> oasis::Result {
    oasis::log::info!("spinning");
    spin_forever()
}
