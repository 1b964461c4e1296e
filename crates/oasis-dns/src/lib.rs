//! oasis-dns: an authoritative DNS library for oasis unikernels.
//!
//! Three layers, each usable on its own:
//! - [`wire`]: DNS messages in the smoltcp style — zero-copy views over byte
//!   buffers plus representations with `parse` and `emit`, with name
//!   compression on emit and loop-safe decompression on parse.
//! - [`zone`]: an RFC 1035 master-file parser producing [`wire::Record`]s.
//! - [`engine`]: zones compiled at load time into ready-to-send answers, and
//!   an I/O-free answering function ([`engine::Catalog::answer`]) that a UDP
//!   or TCP server loop calls for each query.
//!
//! `no_std` + `alloc`; no platform code.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod engine;
pub mod wire;
pub mod xfr;
pub mod zone;
