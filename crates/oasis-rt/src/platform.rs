//! What a platform gives the runtime: the wait primitive the executor idles
//! in, and the global services (console, clock, random) installed at boot.

use crate::device::{Clock, Console, Random};

/// The one thing the executor needs from a platform: a way to idle.
pub trait Platform {
    /// Monotonic time in nanoseconds (the same source as [`Clock::monotonic_ns`]).
    fn now(&self) -> u64;
    /// Blocks until the monotonic time reaches `deadline`, or until a device
    /// has input, whichever comes first, and wakes the tasks waiting on that
    /// input. `None` means no timer is pending: wait for input only.
    /// This is where an idle unikernel spends its time, using no CPU.
    fn wait(&self, deadline: Option<u64>);
}

/// The services every platform provides, installed once at boot.
#[derive(Clone, Copy)]
pub struct Services {
    /// Log and text output.
    pub console: &'static dyn Console,
    /// Monotonic and wall-clock time.
    pub clock: &'static dyn Clock,
    /// Random bytes.
    pub random: &'static dyn Random,
}

static SERVICES: spin::Once<Services> = spin::Once::new();

/// Installs the platform's services; the first call wins.
pub fn install(services: Services) {
    SERVICES.call_once(|| services);
}

/// The installed services, if a platform has booted.
pub fn services() -> Option<&'static Services> {
    SERVICES.get()
}

/// The installed console. Panics if no platform has booted (a bug, not an input error).
pub fn console() -> &'static dyn Console {
    services().expect("oasis: no platform installed").console
}

/// The installed clock. Panics if no platform has booted.
pub fn clock() -> &'static dyn Clock {
    services().expect("oasis: no platform installed").clock
}

/// Fills `buf` with random bytes from the platform's generator.
pub fn random_fill(buf: &mut [u8]) {
    services()
        .expect("oasis: no platform installed")
        .random
        .fill(buf)
}
