//! The crate an oasis application depends on.
//!
//! It re-exports the runtime and picks the platform from the build target —
//! `x86_64-unknown-none` gives the kvm unikernel, anything else the hosted
//! Linux process — so an application names no platform:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! #[oasis::main]
//! async fn main(_env: oasis::Env) -> oasis::Result {
//!     oasis::log::info!("hello");
//!     Ok(())
//! }
//! ```
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub use log;
pub use oasis_macros::main;
pub use oasis_rt as rt;
pub use oasis_rt::args::Arg;
pub use oasis_rt::device::{Block, BlockInfo, DeviceError, Net};
pub use oasis_rt::{
    Duration, Either, Error, Instant, JoinHandle, Result, boot_arg, join, select, sleep, spawn,
    timeout, yield_now,
};

#[cfg(not(target_os = "none"))]
use oasis_hosted as platform;
#[cfg(target_os = "none")]
use oasis_kvm as platform;

#[doc(hidden)]
pub use platform::entry_point as __entry_point;

/// The platform's Ethernet device type.
pub type NetDevice = platform::NetDevice;
/// The platform's block device type.
pub type BlockDevice = platform::BlockDevice;
/// How the platform attached a net device: [`NetDevice`] or the host's sockets.
pub type NetAttachment = oasis_rt::device::NetAttachment<NetDevice>;

/// Fills `buf` with cryptographic-quality random bytes.
pub fn random(buf: &mut [u8]) {
    oasis_rt::platform::random_fill(buf)
}

/// Reads a file of the host's file system. Only a hosted unikernel has one
/// (for development: zone files, fixtures); elsewhere this is an error that
/// says so, and a deployable application takes its data from a block device
/// or from the image instead.
pub fn read_host_file(path: &str) -> Result<alloc::vec::Vec<u8>> {
    #[cfg(not(target_os = "none"))]
    return oasis_hosted::read_host_file(path);
    #[cfg(target_os = "none")]
    return Err(alloc::format!("{path}: a kvm unikernel has no host file system").into());
}

/// Waits until the operator asks the application to reload its
/// configuration or data: on hosted, a SIGHUP to the process (`kill -HUP`,
/// `systemctl reload`; the first wait takes SIGHUP from its default action,
/// which ends the process); a kvm unikernel is never asked (its data comes
/// from its image and devices: boot it again), so there this never returns.
pub async fn reload_requested() -> Result {
    #[cfg(not(target_os = "none"))]
    return oasis_hosted::hangup::hangup()
        .await
        .map_err(|e| alloc::format!("waiting for SIGHUP: {e}").into());
    #[cfg(target_os = "none")]
    {
        core::future::pending::<()>().await;
        Ok(())
    }
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn wall_clock_ns() -> u64 {
    oasis_rt::platform::clock().wall_ns()
}

/// The devices attached to this unikernel, handed to `main`.
pub struct Env {
    _private: (),
}

impl Env {
    #[doc(hidden)]
    pub fn take() -> Env {
        Env { _private: () }
    }

    /// Takes the net device the application declared as `name`.
    pub fn net(&mut self, name: &str) -> Result<NetDevice> {
        platform::take_net(name)
    }

    /// Takes the net device the application declared as `name`, as the
    /// platform attached it: a device, or (hosted) the host's own sockets.
    /// A network stack library asks this; an application that drives
    /// frames itself asks [`Env::net`].
    pub fn net_attachment(&mut self, name: &str) -> Result<NetAttachment> {
        platform::take_net_attachment(name)
    }

    /// Takes the block device the application declared as `name`.
    pub fn block(&mut self, name: &str) -> Result<BlockDevice> {
        platform::take_block(name)
    }

    /// Takes the block device declared `optional(block = "name")`, if the
    /// operator attached it.
    pub fn optional_block(&mut self, name: &str) -> Option<BlockDevice> {
        platform::take_block(name).ok()
    }

    /// Takes the net device declared `optional(net = "name")`, if attached.
    pub fn optional_net(&mut self, name: &str) -> Option<NetDevice> {
        platform::take_net(name).ok()
    }
}

#[doc(hidden)]
pub fn __entry<F: core::future::Future<Output = Result> + 'static>(f: F) -> oasis_rt::AppFuture {
    alloc::boxed::Box::pin(f)
}
