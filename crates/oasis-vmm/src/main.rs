//! `oasis-vmm`: runs an oasis kvm image. See [`oasis_vmm::options`] for the command line.
//!
//! The VMM starts from C's `main`, not Rust's: the standard runtime's start-up
//! (probing the main thread's stack through `/proc/self/maps`, an alternate
//! signal stack, checks of the standard descriptors) is about a dozen
//! system calls on every boot, and the VMM needs none of it. What it does
//! need of that start-up, it does itself: a write to a closed pipe is an
//! error, not a signal.
#![no_main]

use std::io::Write;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal's disposition to "ignore" has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // glibc hands the arguments to the standard library before `main`.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let status = oasis_vmm::main_with(&argv);
    let _ = std::io::stdout().flush();
    std::process::exit(status);
}
