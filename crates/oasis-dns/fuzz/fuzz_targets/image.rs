//! Any bytes, sealed with a valid checksum, as a compiled catalog image:
//! loading returns a catalog or an error, never panics, and a catalog that
//! loads answers queries and parses its records without panicking or
//! reading out of bounds. (Its answers may be malformed: an image's answer
//! bytes are taken as compiled.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::image::checksum;
use oasis_dns::engine::{Catalog, Transport};

/// Queries of every kind the engine distinguishes, against `example.com.`.
const QUERIES: &[&[u8]] = &[
    b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01",
    b"\x00\x02\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04nope\x07example\x03com\x00\x00\x01\x00\x01",
    b"\x00\x03\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x01b\x04wild\x07example\x03com\x00\x00\x0f\x00\x01",
    b"\x00\x04\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01x\x03sub\x07example\x03com\x00\x00\x01\x00\x01",
    b"\x00\x05\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03foo\x01d\x07example\x03com\x00\x00\x01\x00\x01",
];

fuzz_target!(|data: &[u8]| {
    // Past the checksum, so that the structural checks are what is fuzzed.
    let mut image = data.to_vec();
    image.extend_from_slice(&checksum(data).to_le_bytes());
    let Ok(catalog) = Catalog::from_image(&image) else {
        return;
    };
    // The records are parsed on demand: all of them, or none.
    let _ = catalog.zones().len();
    let mut out = [0u8; 65535];
    for q in QUERIES {
        for t in [Transport::Udp, Transport::Tcp] {
            if let Some(n) = catalog.answer(q, t, &mut out) {
                assert!(n <= out.len());
            }
        }
    }
});
