//! Any bytes as an IXFR (RFC 1995), both ways: as the messages of a
//! response a secondary takes in and applies to the zone it holds, and as
//! a query a primary answers from its journal. Neither may panic; a
//! response taken in leaves the held zone as it was, and what it yields is
//! a zone with one SOA at the apex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::wire::Name;
use oasis_dns::xfr::{IxfrCollector, IxfrResult, Journal, diff, serial_of};
use oasis_dns::zone::parse_str;

fn zone(serial: u32, extra: &str) -> Zone {
    let text = format!(
        "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host {serial} 1 2 3 4\n@ NS ns1\nns1 A 192.0.2.1\n{extra}"
    );
    let apex = Name::from_wire(b"\x07example\x03org\x00").unwrap();
    Zone::new(&apex, parse_str(&text, "x.zone", &Name::root()).unwrap()).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let held = zone(1, "www A 192.0.2.10\n");
    let new = zone(2, "www A 192.0.2.11\nmail A 192.0.2.25\n");
    let apex = held.apex.clone();
    let before = format!("{:?}", oasis_dns::xfr::zone_records(&held));
    // The input cut into messages at each 0xfe byte; the ID expected is
    // the first two bytes'.
    let id = u16::from_be_bytes([
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    ]);
    let mut c = IxfrCollector::new(&apex, id, 1);
    let mut done = false;
    for msg in data.split(|&b| b == 0xfe) {
        match c.push(msg) {
            Ok(d) => done = d,
            Err(_) => break,
        }
    }
    if done {
        if let Ok(IxfrResult::Incremental(z, _) | IxfrResult::Full(z)) = c.finish(&held) {
            assert_eq!(z.soa().rtype, oasis_dns::wire::Type::SOA);
        }
    }
    assert_eq!(before, format!("{:?}", oasis_dns::xfr::zone_records(&held)));

    // As a query to a primary holding the step from 1 to 2.
    let mut j = Journal::new(4, 1 << 16);
    j.push(diff(&held, &new));
    let catalog = Catalog::new(vec![new.clone()]).unwrap();
    if let Ok((t, _)) = catalog.ixfr(data, |_, f, t| j.steps(f, t)) {
        for m in t {
            assert!(m.len() <= 65535);
        }
        assert_eq!(serial_of(new.soa()), 2);
    }
});
