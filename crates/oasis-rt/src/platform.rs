//! What a platform gives the runtime: the wait primitive the executor idles
//! in, and the global services (console, clock, random, and — where the
//! platform has host descriptors — their readiness) installed at boot.

use core::task::{Context, Poll};

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
    /// The application is serving: the executor calls this once, the
    /// first time it goes idle with nothing holding readiness back
    /// ([`crate::exec::Starting`]). The platform tells whoever supervises
    /// it (kvm: the `Ready` hypercall, which the monitor passes on to
    /// systemd; hosted: systemd's notification socket). Nothing by default.
    fn serving(&self) {}
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
    /// Readiness of the host's file descriptors, on a platform that runs
    /// as a process (hosted); `None` on bare metal. A library that drives
    /// host sockets (oasis-net's socket stack) waits through this, so it
    /// names no platform.
    pub readiness: Option<&'static dyn Readiness>,
}

/// The executor's view of host file descriptors: register one, then wait
/// for it to become readable or writable after a call hit `EAGAIN`. The
/// platform's idle wait (an epoll on hosted) wakes the waiting tasks.
pub trait Readiness: Sync {
    /// Watches `fd` for input and output; returns its token, or the errno.
    fn register(&self, fd: i32) -> Result<usize, i32>;
    /// Stops watching `fd` (registered as `token`); before it is closed.
    fn deregister(&self, fd: i32, token: usize);
    /// Marks `token` as drained: its last read hit `EAGAIN`.
    fn drained(&self, token: usize);
    /// Ready when input may be waiting on `token` since it was drained.
    fn poll_readable(&self, token: usize, cx: &mut Context<'_>) -> Poll<()>;
    /// Marks `token` as blocked: its last write hit `EAGAIN`.
    fn write_blocked(&self, token: usize);
    /// Ready when `token` may accept output since it was blocked.
    fn poll_writable(&self, token: usize, cx: &mut Context<'_>) -> Poll<()>;
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

/// The platform's readiness of host descriptors, if it has any.
pub fn readiness() -> Option<&'static dyn Readiness> {
    services()?.readiness
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
