//! Time from the TSC, scaled by the frequency the VMM reports: reading the
//! clock never exits.

use oasis_rt::device::Clock;

/// The TSC clock; set once at boot.
pub(crate) struct TscClock {
    tsc_at_entry: u64,
    tsc_khz: u64,
    wall_ns_at_entry: u64,
}

static CLOCK: spin::Once<TscClock> = spin::Once::new();

/// Sets up the clock: monotonic time 0 is now.
pub(crate) fn init(tsc_khz: u64, wall_ns_at_entry: u64) -> &'static TscClock {
    CLOCK.call_once(|| TscClock {
        tsc_at_entry: rdtsc(),
        tsc_khz: tsc_khz.max(1),
        wall_ns_at_entry,
    })
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged (the VMM leaves CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

impl Clock for TscClock {
    fn monotonic_ns(&self) -> u64 {
        let ticks = rdtsc().saturating_sub(self.tsc_at_entry);
        // ticks / (khz * 1000) seconds = ticks * 1_000_000 / khz ns; 128-bit so it never overflows.
        (u128::from(ticks) * 1_000_000 / u128::from(self.tsc_khz)) as u64
    }

    fn wall_ns(&self) -> u64 {
        self.wall_ns_at_entry.saturating_add(self.monotonic_ns())
    }
}
