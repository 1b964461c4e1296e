//! The kvm platform: an oasis unikernel on bare metal (`x86_64-unknown-none`),
//! run by oasis-vmm under KVM and talking to it only by hypercalls
//! (oasis-abi; ARCHITECTURE.md §2).
//!
//! The VMM enters the image at CPL3 with everything set up; this crate adds a
//! heap over the memory the VMM reports, the services (console by hypercall,
//! clocks from the TSC, random from RDRAND/RDSEED and a host seed through
//! ChaCha20), the devices (block by hypercall, net over the shared rings),
//! and the idle loop (the POLL hypercall). `#[oasis::main]` invokes
//! `entry_point!`, which defines `_start` and records the device manifest.
//!
//! On any other target this crate is empty.
#![cfg(target_os = "none")]
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod block;
mod clock;
mod console;
mod devices;
mod heap;
pub mod hypercall;
mod mem;
mod net;
mod panic;
mod random;
mod start;

pub use block::BlockDevice;
pub use devices::{take_block, take_net, take_net_attachment};
pub use net::NetDevice;
#[doc(hidden)]
pub use oasis_abi as abi;
#[doc(hidden)]
pub use start::start;

/// Defines the image's entry (`_start`) and its device manifest note for an
/// application (used by `#[oasis::main]`).
#[doc(hidden)]
#[macro_export]
macro_rules! entry_point {
    ($app:ident, net: [$($net:literal),*], block: [$($block:literal),*],
     optional_net: [$($onet:literal),*], optional_block: [$($oblock:literal),*]) => {
        /// Where oasis-vmm enters the image, with the BootInfo address in `rdi`.
        #[unsafe(no_mangle)]
        extern "C" fn _start(boot: *const $crate::abi::boot::BootInfo) -> ! {
            // SAFETY: only the VMM calls `_start`, once, with its BootInfo.
            unsafe { $crate::start(boot, $app) }
        }

        /// The devices this image needs, read by oasis-vmm before boot.
        #[used]
        #[unsafe(link_section = ".note.oasis.manifest")]
        static __OASIS_MANIFEST: $crate::abi::manifest::ManifestNote<
            {
                <[&str]>::len(&[$($net),*])
                    + <[&str]>::len(&[$($block),*])
                    + <[&str]>::len(&[$($onet),*])
                    + <[&str]>::len(&[$($oblock),*])
            },
        > = $crate::abi::manifest::ManifestNote::new([
            $($crate::abi::manifest::ManifestDevice::net($net),)*
            $($crate::abi::manifest::ManifestDevice::block($block),)*
            $($crate::abi::manifest::ManifestDevice::optional_net($onet),)*
            $($crate::abi::manifest::ManifestDevice::optional_block($oblock),)*
        ]);
    };
}
