//! Time from the TSC, scaled by the frequency the VMM reports: reading the
//! clock never exits.

use core::sync::atomic::{AtomicU64, Ordering};

use oasis_rt::device::Clock;

/// The TSC clock; set once at boot.
pub(crate) struct TscClock {
    tsc_at_entry: u64,
    tsc_khz: u64,
    wall_ns_at_entry: u64,
    /// The latest time handed out: monotonic time never goes back, even if
    /// the TSC does (a host that moves or resets it).
    last_ns: AtomicU64,
}

static CLOCK: spin::Once<TscClock> = spin::Once::new();

/// Sets up the clock: monotonic time 0 is now.
pub(crate) fn init(tsc_khz: u64, wall_ns_at_entry: u64) -> &'static TscClock {
    CLOCK.call_once(|| TscClock {
        tsc_at_entry: rdtsc(),
        tsc_khz: tsc_khz.max(1),
        wall_ns_at_entry,
        last_ns: AtomicU64::new(0),
    })
}

/// `ticks` of a `khz` TSC in nanoseconds: ticks / (khz × 1000) s =
/// ticks × 1_000_000 / khz ns, in 128 bits so it never overflows (and
/// saturates past u64 nanoseconds, 584 years).
fn ticks_to_ns(ticks: u64, khz: u64) -> u64 {
    let ns = u128::from(ticks) * 1_000_000 / u128::from(khz.max(1));
    u64::try_from(ns).unwrap_or(u64::MAX)
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged (the VMM leaves CR4.TSD clear).
    unsafe { core::arch::x86_64::_rdtsc() }
}

impl Clock for TscClock {
    fn monotonic_ns(&self) -> u64 {
        let ticks = rdtsc().saturating_sub(self.tsc_at_entry);
        let ns = ticks_to_ns(ticks, self.tsc_khz);
        // One core, but fetch_max keeps it right whatever reads it.
        let last = self.last_ns.fetch_max(ns, Ordering::Relaxed);
        last.max(ns)
    }

    fn wall_ns(&self) -> u64 {
        self.wall_ns_at_entry.saturating_add(self.monotonic_ns())
    }
}
