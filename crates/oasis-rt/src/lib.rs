//! oasis-rt: the runtime every oasis unikernel links — the device traits,
//! boot arguments, the single-threaded async executor with timers, and
//! logging. `no_std` + `alloc`; a platform crate supplies the devices and the
//! idle loop ([`platform::Platform`]).
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod args;
pub mod device;
pub mod exec;
pub mod future;
pub mod log;
pub mod platform;
pub mod time;

#[cfg(test)]
mod exec_tests;

use alloc::boxed::Box;
use alloc::string::String;
use core::future::Future;
use core::pin::Pin;

pub use exec::{JoinHandle, spawn, yield_now};
pub use future::{Either, join, select};
pub use time::{Duration, Instant, sleep, timeout};

/// An application's error: anything that can be shown to the user.
pub type Error = Box<dyn core::error::Error>;

/// An application's result; an `Err` ends the unikernel with status 1.
pub type Result<T = ()> = core::result::Result<T, Error>;

/// The future an application's entry returns.
pub type AppFuture = Pin<Box<dyn Future<Output = Result>>>;

/// How booting ended before the application could run.
#[derive(Debug)]
pub enum BootStop {
    /// `--help` was given: print this text and exit 0.
    Help(String),
    /// The boot arguments were refused: print this line and exit 2.
    BadArgs(String),
}

/// What every platform does at boot: install the services, parse and check
/// the boot arguments, and start logging.
pub fn boot<S: AsRef<str>>(
    services: platform::Services,
    raw_args: &[S],
) -> core::result::Result<(), BootStop> {
    platform::install(services);
    match args::init(raw_args) {
        Ok(_) => {}
        Err(args::ArgError::Help) => return Err(BootStop::Help(args::help())),
        Err(e) => return Err(BootStop::BadArgs(alloc::format!("{e}"))),
    }
    log::init();
    Ok(())
}

/// The kind of a device an application declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    /// An Ethernet device ([`device::Net`]).
    Net,
    /// A block device ([`device::Block`]).
    Block,
}

impl core::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DeviceKind::Net => "net",
            DeviceKind::Block => "block",
        })
    }
}

/// One device an application needs, by kind and name (e.g. net `service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceDecl {
    /// Net or block.
    pub kind: DeviceKind,
    /// The name the application uses and the operator attaches by.
    pub name: &'static str,
    /// Whether the application runs without it (see `Env::optional_block`).
    pub optional: bool,
}

/// What `#[oasis::main]` hands the platform: the devices the application
/// needs and its entry.
pub struct App {
    /// The devices the application declares; every one must be attached.
    pub devices: &'static [DeviceDecl],
    /// Starts the application.
    pub main: fn() -> AppFuture,
}
