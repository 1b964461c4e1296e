//! Host-side backings for a guest's devices, shared by the monitor
//! (`oasis-vmm`, for a kvm guest) and the hosted platform (`oasis-hosted`,
//! for the same application as a Linux process):
//!
//! - [`block::FileBlock`]: a file standing in for a disk;
//! - [`tap::open_tap`]: a Linux TAP interface;
//! - [`usernet::Gateway`]: the user-mode network, which plays router, DHCP
//!   server and port forwarder for a guest with no TAP and no root;
//! - [`activation`] and [`notify`]: running under a service manager
//!   (systemd) — sockets it bound and passed, and telling it the service
//!   is ready, alive or stopping.
//!
//! This crate is the host layer of ARCHITECTURE.md: it runs only on the
//! host, and depends on no guest crate, so the monitor links none of the
//! guest's world.

extern crate alloc;

pub mod activation;
pub mod block;
pub mod notify;
pub mod tap;
pub mod usernet;
