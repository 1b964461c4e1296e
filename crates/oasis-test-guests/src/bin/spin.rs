//! Spins in one known function, `spin_for_the_profiler`, for `--ms`
//! milliseconds (default 1000), then exits: a profile of this guest must
//! name that function in most of its samples. Used by oasis-vmm's
//! `--profile` test.
#![no_std]
#![no_main]

use oasis::{Duration, Instant};

oasis::boot_arg! {
    /// How long to spin.
    static MS: u64 = Arg::new("ms", "milliseconds to spin").default("1000");
}

/// Counts until `until`; kept out of line so that it has a symbol and a frame.
#[inline(never)]
fn spin_for_the_profiler(until: Instant) -> u64 {
    let mut n = 0u64;
    while Instant::now() < until {
        n = core::hint::black_box(n.wrapping_add(1));
    }
    n
}

#[oasis::main]
async fn main() -> oasis::Result {
    let until = Instant::now() + Duration::from_millis(MS.value().unwrap_or(1000));
    let n = spin_for_the_profiler(until);
    oasis::log::info!("spun {n} times");
    Ok(())
}
