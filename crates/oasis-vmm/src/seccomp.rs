//! The sandbox the VMM enters once the guest is set up: a seccomp filter
//! allowing only the syscalls the vCPU loop and the attached devices need.
//! Anything else kills the process. The whole list is here, in one place.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::error::Error;

/// `_IOC` for KVM's ioctl numbers.
const fn kvm_ioc(dir: u64, nr: u64, size: usize) -> u64 {
    (dir << 30) | ((size as u64) << 16) | (0xae << 8) | nr
}
/// `KVM_RUN`.
const KVM_RUN: u64 = kvm_ioc(0, 0x80, 0);
/// `KVM_GET_REGS` (the fault report).
const KVM_GET_REGS: u64 = kvm_ioc(2, 0x81, size_of::<kvm_bindings::kvm_regs>());
/// `KVM_GET_SREGS` (the fault report).
const KVM_GET_SREGS: u64 = kvm_ioc(2, 0x83, size_of::<kvm_bindings::kvm_sregs>());
/// `KVM_SET_REGS` (`--gdb`: a client writes registers; a breakpoint moves RIP back).
const KVM_SET_REGS: u64 = kvm_ioc(1, 0x82, size_of::<kvm_bindings::kvm_regs>());
/// `KVM_GET_FPU` (`--gdb`: x87 and SSE registers).
const KVM_GET_FPU: u64 = kvm_ioc(2, 0x8c, size_of::<kvm_bindings::kvm_fpu>());
/// `KVM_SET_FPU` (`--gdb`).
const KVM_SET_FPU: u64 = kvm_ioc(1, 0x8d, size_of::<kvm_bindings::kvm_fpu>());
/// `KVM_SET_GUEST_DEBUG` (`--gdb`: breakpoints and single steps).
const KVM_SET_GUEST_DEBUG: u64 = kvm_ioc(1, 0x9b, size_of::<kvm_bindings::kvm_guest_debug>());
/// `KVM_GET_DEBUGREGS` (`--gdb`: DR6 tells a single step from a fault).
const KVM_GET_DEBUGREGS: u64 = kvm_ioc(2, 0xa1, size_of::<kvm_bindings::kvm_debugregs>());
/// `KVM_SET_DEBUGREGS` (`--gdb`: DR6 cleared before a step).
const KVM_SET_DEBUGREGS: u64 = kvm_ioc(1, 0xa2, size_of::<kvm_bindings::kvm_debugregs>());

/// Which device kinds are attached.
#[derive(Debug, Clone, Copy)]
pub struct Needs {
    /// A net device is attached (TAP read/write, polling on fds).
    pub net: bool,
    /// A user-mode network is attached: its host sockets on 127.0.0.1
    /// (accepting, reading and writing, closing; no new sockets, no
    /// connects, no binds after setup).
    pub user_net: bool,
    /// A block device is attached (pread/pwrite/fdatasync).
    pub block: bool,
    /// `--profile` is given: its timer is deleted at exit (the timer and
    /// the file are made before the filter; samples need only `KVM_GET_REGS`).
    pub profile: bool,
    /// A GDB client may attach (`--gdb`): its listening socket exists
    /// before the filter; accepting and talking to clients, making their
    /// sockets signal-driven, and the vCPU ioctls of a debugger.
    pub gdb: bool,
    /// `--stats`: `/proc/self/smaps`, opened before the filter, is read
    /// with pread at exit ([`crate::footprint`]).
    pub stats: bool,
}

/// The syscalls allowed, each with the argument conditions it must meet.
fn rules(needs: Needs) -> Result<BTreeMap<i64, Vec<SeccompRule>>, Error> {
    let e = |e: seccompiler::BackendError| Error::Seccomp(e.to_string());
    let mut requests = vec![KVM_RUN, KVM_GET_REGS, KVM_GET_SREGS];
    if needs.user_net {
        // An accepted connection is made non-blocking.
        requests.push(libc::FIONBIO);
    }
    if needs.gdb {
        requests.extend([
            KVM_SET_REGS,
            KVM_GET_FPU,
            KVM_SET_FPU,
            KVM_SET_GUEST_DEBUG,
            KVM_GET_DEBUGREGS,
            KVM_SET_DEBUGREGS,
        ]);
    }
    let ioctl = requests
        .into_iter()
        .map(|req| {
            SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req)
                .and_then(|c| SeccompRule::new(vec![c]))
                .map_err(e)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut allowed: Vec<i64> = vec![
        libc::SYS_write,      // console (stdout, stderr)
        libc::SYS_ppoll,      // POLL: sleep until the deadline or input
        libc::SYS_exit_group, // the end
        libc::SYS_exit,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_rt_sigprocmask,
        libc::SYS_futex, // stdout's lock
        libc::SYS_brk,   // the VMM's own heap (messages at exit)
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_close,         // devices dropped at exit
        libc::SYS_clock_gettime, // wall clock, if the vDSO is unavailable
    ];
    if needs.net {
        // TAP frames, each behind its virtio_net_hdr (a train of segments:
        // one writev)
        allowed.extend([libc::SYS_read, libc::SYS_readv, libc::SYS_writev]);
    }
    if needs.user_net {
        allowed.extend([
            libc::SYS_recvfrom,   // UDP datagrams and TCP bytes from host clients
            libc::SYS_sendto,     // and to them
            libc::SYS_accept4,    // TCP connections to a forward
            libc::SYS_setsockopt, // TCP_NODELAY on an accepted connection
            libc::SYS_shutdown,   // half-close towards a host client
        ]);
    }
    if needs.block {
        allowed.extend([libc::SYS_pread64, libc::SYS_pwrite64, libc::SYS_fdatasync]);
    }
    if needs.stats && !needs.block {
        allowed.push(libc::SYS_pread64);
    }
    if needs.profile {
        allowed.push(libc::SYS_timer_delete);
    }
    if needs.gdb {
        allowed.extend([
            libc::SYS_recvfrom,   // a client's packets
            libc::SYS_sendto,     // and the replies
            libc::SYS_accept4,    // a client connecting (one at a time)
            libc::SYS_setsockopt, // TCP_NODELAY on it
        ]);
    }
    // Closing a descriptor checks it first in debug builds (`fcntl(fd, F_GETFD)`).
    let getfd = SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::F_GETFD as u64,
    )
    .and_then(|c| SeccompRule::new(vec![c]))
    .map_err(e)?;
    let mut fcntl = vec![getfd];
    if needs.gdb {
        // A client's socket is made signal-driven and non-blocking, its
        // SIGIO going to the vCPU thread (gdb::wake).
        for cmd in [libc::F_GETFL, libc::F_SETFL, crate::gdb::wake::F_SETOWN_EX] {
            fcntl.push(
                SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, cmd as u64)
                    .and_then(|c| SeccompRule::new(vec![c]))
                    .map_err(e)?,
            );
        }
    }
    let mut map: BTreeMap<i64, Vec<SeccompRule>> =
        allowed.into_iter().map(|s| (s, vec![])).collect();
    map.insert(libc::SYS_ioctl, ioctl);
    map.insert(libc::SYS_fcntl, fcntl);
    Ok(map)
}

/// The compiled filter for `needs`.
pub fn program(needs: Needs) -> Result<BpfProgram, Error> {
    let filter = SeccompFilter::new(
        rules(needs)?,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .map_err(|e| Error::Seccomp(e.to_string()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| Error::Seccomp(e.to_string()))
}

/// Installs the filter on this thread; from here on, only the listed syscalls work.
pub fn install(needs: Needs) -> Result<(), Error> {
    let prog = program(needs)?;
    seccompiler::apply_filter(&prog).map_err(|e| Error::Seccomp(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        assert_eq!(KVM_RUN, 0xae80);
        assert_eq!(KVM_GET_REGS, 0x8090_ae81);
        assert_eq!(KVM_GET_SREGS, 0x8138_ae83);
        assert_eq!(KVM_SET_REGS, 0x4090_ae82);
        assert_eq!(KVM_GET_FPU, 0x81a0_ae8c);
        assert_eq!(KVM_SET_FPU, 0x41a0_ae8d);
        assert_eq!(KVM_SET_GUEST_DEBUG, 0x4048_ae9b);
        assert_eq!(KVM_GET_DEBUGREGS, 0x8080_aea1);
        assert_eq!(KVM_SET_DEBUGREGS, 0x4080_aea2);
    }

    #[test]
    fn filters_compile_for_every_device_mix() {
        for (net, block) in [(false, false), (true, false), (false, true), (true, true)] {
            for user_net in [false, net] {
                for profile in [false, true] {
                    for gdb in [false, true] {
                        let p = program(Needs {
                            net,
                            user_net,
                            block,
                            profile,
                            gdb,
                            stats: gdb,
                        })
                        .unwrap();
                        assert!(!p.is_empty());
                    }
                }
            }
        }
        let r = rules(Needs {
            net: false,
            user_net: false,
            block: false,
            profile: false,
            gdb: false,
            stats: false,
        })
        .unwrap();
        assert!(!r.contains_key(&libc::SYS_read));
        assert!(!r.contains_key(&libc::SYS_writev));
        assert!(!r.contains_key(&libc::SYS_pwrite64));
        assert!(!r.contains_key(&libc::SYS_openat));
        assert!(!r.contains_key(&libc::SYS_accept4));
        let tap = rules(Needs {
            net: true,
            user_net: false,
            block: false,
            profile: false,
            gdb: false,
            stats: false,
        })
        .unwrap();
        assert!(tap.contains_key(&libc::SYS_read));
        assert!(tap.contains_key(&libc::SYS_readv));
        assert!(tap.contains_key(&libc::SYS_writev));
        assert!(!tap.contains_key(&libc::SYS_recvfrom));
        assert_eq!(tap[&libc::SYS_ioctl].len(), 3);
        let user = rules(Needs {
            net: true,
            user_net: true,
            block: false,
            profile: false,
            gdb: false,
            stats: false,
        })
        .unwrap();
        for call in [libc::SYS_recvfrom, libc::SYS_sendto, libc::SYS_accept4] {
            assert!(user.contains_key(&call), "{call}");
        }
        // The gateway's sockets all exist before the filter: it may not make,
        // bind or connect new ones.
        for call in [libc::SYS_socket, libc::SYS_connect, libc::SYS_bind] {
            assert!(!user.contains_key(&call), "{call}");
        }
        assert_eq!(user[&libc::SYS_ioctl].len(), 4);
    }

    #[test]
    fn only_profiling_may_delete_timers() {
        let needs = |profile| Needs {
            net: false,
            user_net: false,
            block: false,
            profile,
            gdb: false,
            stats: false,
        };
        let plain = rules(needs(false)).unwrap();
        let profiled = rules(needs(true)).unwrap();
        assert!(!plain.contains_key(&libc::SYS_timer_delete));
        assert!(profiled.contains_key(&libc::SYS_timer_delete));
        // Nothing else widens: the timer is made before the filter.
        for call in [
            libc::SYS_timer_create,
            libc::SYS_timer_settime,
            libc::SYS_openat,
            libc::SYS_rt_sigaction,
        ] {
            assert!(!profiled.contains_key(&call), "{call}");
        }
        let mut extra: Vec<i64> = profiled
            .keys()
            .filter(|k| !plain.contains_key(k))
            .copied()
            .collect();
        extra.sort();
        assert_eq!(extra, [libc::SYS_timer_delete]);
        assert_eq!(
            profiled[&libc::SYS_ioctl].len(),
            plain[&libc::SYS_ioctl].len()
        );
    }

    #[test]
    fn only_gdb_widens_the_filter_for_a_debugger() {
        let without = Needs {
            net: false,
            user_net: false,
            block: false,
            profile: false,
            gdb: false,
            stats: false,
        };
        let with = Needs {
            gdb: true,
            ..without
        };
        program(with).unwrap();
        let (a, b) = (rules(without).unwrap(), rules(with).unwrap());
        // Without --gdb: no sockets to talk on, no debug ioctls, fcntl only
        // for F_GETFD.
        for call in [
            libc::SYS_recvfrom,
            libc::SYS_sendto,
            libc::SYS_accept4,
            libc::SYS_setsockopt,
        ] {
            assert!(!a.contains_key(&call), "{call} without --gdb");
            assert!(b.contains_key(&call), "{call} with --gdb");
        }
        assert_eq!(a[&libc::SYS_ioctl].len(), 3);
        assert_eq!(b[&libc::SYS_ioctl].len(), 9);
        assert_eq!(a[&libc::SYS_fcntl].len(), 1);
        assert_eq!(b[&libc::SYS_fcntl].len(), 4);
        // Even with it: no new sockets, binds, connects or reads of files.
        for call in [
            libc::SYS_socket,
            libc::SYS_bind,
            libc::SYS_connect,
            libc::SYS_listen,
            libc::SYS_openat,
            libc::SYS_read,
            libc::SYS_rt_sigaction,
        ] {
            assert!(!b.contains_key(&call), "{call} with --gdb");
        }
    }

    /// A VMM with no device that needs a syscall of its own.
    const NARROWEST: Needs = Needs {
        net: false,
        user_net: false,
        block: false,
        profile: false,
        gdb: false,
        stats: false,
    };

    /// In a child process (this test binary re-run), install the filter and
    /// try a forbidden syscall: the kernel must kill the child.
    #[test]
    fn a_forbidden_syscall_kills_the_process() {
        if std::env::var_os("OASIS_SECCOMP_CHILD").is_some() {
            install(NARROWEST).unwrap();
            let _ = std::fs::File::open("/etc/hostname");
            std::process::exit(0);
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "seccomp::tests::a_forbidden_syscall_kills_the_process",
                "--test-threads=1",
            ])
            .env("OASIS_SECCOMP_CHILD", "1")
            .output()
            .unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), Some(libc::SIGSYS), "{out:?}");
    }

    /// In a child process, connect to a service manager's socket, enter the
    /// narrowest sandbox, and notify: the filter must let the datagram
    /// through (a plain `write`), so the child exits 0 and it arrives.
    #[test]
    fn a_sandboxed_vmm_can_still_notify_its_service_manager() {
        if let Some(path) = std::env::var_os("OASIS_SECCOMP_NOTIFY_CHILD") {
            let n = oasis_host::notify::Notifier::connect(path.to_str().unwrap()).unwrap();
            install(NARROWEST).unwrap();
            n.send("READY=1").unwrap();
            n.send("STOPPING=1").unwrap();
            std::process::exit(0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let manager = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "seccomp::tests::a_sandboxed_vmm_can_still_notify_its_service_manager",
                "--test-threads=1",
            ])
            .env("OASIS_SECCOMP_NOTIFY_CHILD", &path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        manager.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 64];
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let n = manager.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
