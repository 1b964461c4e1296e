//! Stopping a running guest from outside: SIGINT or SIGTERM make the VMM
//! end the guest at its next exit (a POLL wait is cut short; a running
//! vCPU is kicked out of `KVM_RUN` by the signal) and leave as a process
//! killed by that signal would report (128 + the signal), after printing
//! `--stats`. Without this, a signal would end the VMM with no counts.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked the VMM to stop; 0 while none has.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int) {
    STOP.store(signal, Ordering::Relaxed);
}

/// Catches SIGINT and SIGTERM (before the sandbox; handling them needs
/// only `rt_sigreturn`). Without `SA_RESTART`, so waits return `EINTR`.
pub fn catch_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is valid; the handler only stores an atomic.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The exit status to stop with, if a signal asked for it.
pub fn requested() -> Option<i32> {
    match STOP.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(128 + signal),
    }
}

/// The signal behind a [`requested`] status, by name.
pub fn signal_name(status: i32) -> &'static str {
    match status - 128 {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
