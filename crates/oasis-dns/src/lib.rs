//! oasis-dns: an authoritative DNS library for oasis unikernels.
//!
//! Three layers, each usable on its own:
//! - [`wire`]: DNS messages in the smoltcp style — zero-copy views over byte
//!   buffers plus representations with `parse` and `emit`, with name
//!   compression on emit and loop-safe decompression on parse.
//! - [`zone`]: an RFC 1035 master-file parser producing [`wire::Record`]s,
//!   and named zone files loaded as [`engine::Zone`]s ([`zone::file`]).
//! - [`engine`]: zones compiled at load time into ready-to-send answers, and
//!   an I/O-free answering function ([`engine::Catalog::answer`]) that a UDP
//!   or TCP server loop calls for each query.
//!
//! - [`xfr`]: AXFR and IXFR out of and into zones (a journal of versions
//!   for IXFR), and NOTIFY messages.
//! - [`cookie`]: DNS cookies (RFC 7873) with interoperable server cookies
//!   (RFC 9018), as an [`engine::EdnsExtension`] of the catalog.
//! - [`sign`]: online DNSSEC signing — an unsigned zone and its keys (BIND
//!   and ldns key files) in, the signed zone (RRSIGs, NSEC or NSEC3) out.
//! - [`tsig`]: transaction signatures (RFC 8945) on transfers, NOTIFY and
//!   UPDATE.
//! - [`update`]: dynamic UPDATE (RFC 2136): requests read, prerequisites
//!   checked and changes applied to a copy of a zone, giving the IXFR step.
//!
//! `no_std` + `alloc`; no platform code.
//!
//! ```
//! use oasis_dns::engine::{Catalog, Transport, Zone};
//! use oasis_dns::wire::{Message, Name, Type};
//!
//! let text = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
//! let apex = oasis_dns::zone::text::name(b"example.com.", &Name::root()).unwrap();
//! let records = oasis_dns::zone::parse_str(text, "example.com.zone", &apex).unwrap();
//! let catalog = Catalog::new(vec![Zone::new(&apex, records).unwrap()]).unwrap();
//!
//! let query = oasis_dns::xfr::query(&apex.prepend(b"NS1").unwrap(), Type::A, 7);
//! let mut out = [0u8; 512];
//! let len = catalog.answer(&query, Transport::Udp, &mut out).expect("a response");
//! let response = Message::parse(&out[..len]).unwrap();
//! assert_eq!(response.answers.len(), 1);
//! assert_eq!(response.questions[0].name.to_string(), "NS1.example.com.");
//! ```
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod cookie;
pub mod engine;
pub mod sign;
pub mod tsig;
pub mod update;
pub mod wire;
pub mod xfr;
pub mod zone;
