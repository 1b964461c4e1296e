//! From the VMM's entry to the application and back: check the BootInfo,
//! set up the heap, services and devices, boot the runtime, run the
//! application on the executor, and exit with its status.

use alloc::format;
use alloc::vec::Vec;

use oasis_abi::ABI_VERSION;
use oasis_abi::boot::{BOOT_MAGIC, BootInfo};
use oasis_abi::hypercall::{Number, Poll, Ready};
use oasis_rt::device::Clock;
use oasis_rt::platform::{Platform, Services};
use oasis_rt::{App, BootStop};

use crate::clock::TscClock;
use crate::console::{VmmConsole, print};
use crate::hypercall;

/// The idle loop: the executor's wait is the POLL hypercall.
struct KvmPlatform {
    clock: &'static TscClock,
}

impl Platform for KvmPlatform {
    fn now(&self) -> u64 {
        self.clock.monotonic_ns()
    }

    fn wait(&self, deadline: Option<u64>) {
        let timeout_ns = match deadline {
            None => u64::MAX,
            Some(d) => d.saturating_sub(self.now()),
        };
        let interest = crate::net::interest();
        if timeout_ns == 0 && !crate::net::attached() {
            // A timer is already due and no device can have input: no exit.
            return;
        }
        let mut arg = Poll {
            timeout_ns,
            interest,
            ready: 0,
        };
        hypercall::call(Number::Poll, &mut arg);
        crate::net::wake_ready(arg.ready);
    }

    fn serving(&self) {
        hypercall::call(Number::Ready, &mut Ready::default());
    }
}

static CONSOLE: VmmConsole = VmmConsole;

/// Splits the command line into its NUL-terminated arguments.
fn arguments(boot: &BootInfo) -> Vec<&'static str> {
    // SAFETY: the VMM wrote `cmdline_len` bytes at `cmdline`, in the boot area
    // it maps for the guest's whole life and never changes after entry.
    let bytes: &'static [u8] = unsafe {
        core::slice::from_raw_parts(boot.cmdline as *const u8, boot.cmdline_len as usize)
    };
    bytes
        .split(|&b| b == 0)
        .take(boot.argc as usize)
        .map(|a| core::str::from_utf8(a).unwrap_or(""))
        .collect()
}

/// Runs the unikernel: called by `_start`, which `entry_point!` defines.
///
/// # Safety
/// `boot` must be the BootInfo address the VMM passed at entry, and this is
/// called once, on the entry stack.
pub unsafe fn start(boot: *const BootInfo, app: fn() -> App) -> ! {
    // SAFETY: the caller passes the VMM's BootInfo, in mapped memory.
    let boot: &'static BootInfo = unsafe { &*boot };
    if boot.magic != BOOT_MAGIC || boot.abi_version != ABI_VERSION {
        hypercall::abort(
            b"BootInfo is not of this image's oasis ABI version: the VMM does not match this image",
        );
    }
    // SAFETY: the VMM reports the free memory after the image and rings.
    unsafe { crate::heap::init(boot.heap_start, boot.heap_end) };
    let clock = crate::clock::init(boot.tsc_khz, boot.wall_ns_at_entry);
    let (random, _mixed) = crate::random::init(boot.seed);
    let services = Services {
        console: &CONSOLE,
        clock,
        random,
        readiness: None,
    };
    let app = app();
    match oasis_rt::boot(services, &arguments(boot)) {
        Ok(()) => {}
        Err(BootStop::Help(text)) => {
            let mut usage = alloc::string::String::from("devices:\n");
            for d in app.devices {
                usage.push_str(&format!("  --{}:{}=…\n", d.kind, d.name));
            }
            if app.devices.is_empty() {
                usage.push_str("  (none)\n");
            }
            print(&usage);
            print(&text);
            hypercall::exit(0);
        }
        Err(BootStop::BadArgs(e)) => {
            print(&format!("{e}\n"));
            hypercall::exit(2);
        }
    }
    crate::devices::init(boot);
    let platform = KvmPlatform { clock };
    let result = oasis_rt::exec::block_on(&platform, (app.main)());
    crate::net::send_queued();
    match result {
        Ok(()) => hypercall::exit(0),
        Err(e) => {
            print(&format!("error: {e}\n"));
            hypercall::exit(1)
        }
    }
}
