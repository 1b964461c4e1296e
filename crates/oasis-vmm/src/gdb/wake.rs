//! Waking the vCPU thread for the debugger: the listening socket and the
//! client's socket are in signal-driven mode (`O_ASYNC`), owned by the
//! vCPU thread, so the kernel sends that thread `SIGIO` when a client
//! connects or sends bytes. The handler raises a flag and sets the vCPU's
//! `immediate_exit`: a `KVM_RUN` in progress returns `EINTR`, and one about
//! to start returns at once, so no wake-up is lost between a check of the
//! flag and the next entry into the guest. A POLL hypercall waiting in
//! `ppoll` is cut short by the same signal, and watches the debugger's
//! socket too ([`wait_on`]) for bytes that came just before it blocked.
//!
//! Everything here is process-wide: there is one vCPU and one debugger.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, Ordering};

/// Set by `SIGIO`; cleared by the debugger before it reads its sockets.
static WOKEN: AtomicBool = AtomicBool::new(false);
/// The vCPU's `kvm_run.immediate_exit`, while a debugger is set up.
static IMMEDIATE_EXIT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
/// The socket a POLL hypercall also waits on (the client's, or the
/// listener's while no client is attached); -1 for none.
static WATCHED: AtomicI32 = AtomicI32::new(-1);

/// `fcntl`'s `F_SETOWN_EX` (not in the `libc` crate for this target).
pub const F_SETOWN_EX: libc::c_int = 15;
/// `f_owner_ex.type`: a thread.
const F_OWNER_TID: libc::c_int = 0;

/// `struct f_owner_ex`.
#[repr(C)]
struct OwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

extern "C" fn on_sigio(_: libc::c_int) {
    WOKEN.store(true, Ordering::SeqCst);
    let p = IMMEDIATE_EXIT.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: `arm` stored a pointer into the vCPU's kvm_run mapping,
        // which lives until `disarm`; a byte store is async-signal-safe.
        unsafe { p.write_volatile(1) };
    }
}

/// Installs the `SIGIO` handler (without `SA_RESTART`, so waits return
/// `EINTR`) and remembers the vCPU's `immediate_exit` byte. Before the
/// sandbox: `rt_sigaction` is not allowed after it.
pub fn arm(immediate_exit: *mut u8) -> std::io::Result<()> {
    IMMEDIATE_EXIT.store(immediate_exit, Ordering::SeqCst);
    // SAFETY: a zeroed sigaction is valid; the handler only touches atomics
    // and the byte above.
    let r = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigio as *const () as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGIO, &action, std::ptr::null_mut())
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Forgets the `immediate_exit` byte (the vCPU is going away).
pub fn disarm() {
    IMMEDIATE_EXIT.store(std::ptr::null_mut(), Ordering::SeqCst);
    WATCHED.store(-1, Ordering::SeqCst);
}

/// Makes `fd` signal-driven and non-blocking, `SIGIO` going to thread `tid`.
pub fn signal_driven(fd: RawFd, tid: libc::pid_t) -> std::io::Result<()> {
    let owner = OwnerEx {
        kind: F_OWNER_TID,
        pid: tid,
    };
    // SAFETY: fcntl on a descriptor we own, with a valid f_owner_ex.
    unsafe {
        if libc::fcntl(fd, F_SETOWN_EX, &owner as *const OwnerEx) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0
            || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC | libc::O_NONBLOCK) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether the debugger was signalled since it last cleared the flag.
pub fn woken() -> bool {
    WOKEN.load(Ordering::SeqCst)
}

/// Clears the flag and the vCPU's `immediate_exit`, before the debugger
/// reads what woke it (so bytes arriving after the read wake it again).
/// A signal between the two stores leaves both set again, never the flag
/// alone (a POLL would return at once for ever) nor `immediate_exit`
/// alone (`KVM_RUN` would return `EINTR` for ever).
pub fn clear(vcpu: &mut kvm_ioctls::VcpuFd) {
    WOKEN.store(false, Ordering::SeqCst);
    vcpu.set_kvm_immediate_exit(0);
    if WOKEN.load(Ordering::SeqCst) {
        vcpu.set_kvm_immediate_exit(1);
    }
}

/// Sets the socket a POLL hypercall watches besides its devices (-1: none).
pub fn watch(fd: RawFd) {
    WATCHED.store(fd, Ordering::SeqCst);
}

/// Adds the debugger's socket, if any, to a POLL hypercall's wait: bytes
/// that arrived just before the wait end it at once.
pub fn wait_on(pollfds: &mut Vec<libc::pollfd>) {
    let fd = WATCHED.load(Ordering::SeqCst);
    if fd >= 0 {
        pollfds.push(libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
    }
}
