//! Any bytes as a dynamic UPDATE (RFC 2136), as a primary meets it: read
//! into prerequisites and changes, checked and applied to a zone, and
//! answered. Nothing may panic; the zone given is never touched; an update
//! that changes the zone gives a newer serial and a step that, replayed on
//! the old zone as IXFR would, gives the new one, and that reads back from
//! its bytes as the journal on disk keeps it. The same bytes are also read
//! as such a kept step.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::Zone;
use oasis_dns::update::{Update, response};
use oasis_dns::wire::{Message, Name, Rcode};
use oasis_dns::xfr::{Diff, apply, serial_newer, serial_of, zone_records};
use oasis_dns::zone::parse_str;

fn zone() -> Zone {
    let text = "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 1 2 3 4\n@ NS ns1\n@ NS ns2\n\
ns1 A 192.0.2.1\nwww A 192.0.2.10\nwww TXT \"a\"\nalias CNAME www\na.b.c A 192.0.2.3\n";
    let apex = Name::from_wire(b"\x07example\x03org\x00").unwrap();
    Zone::new(&apex, parse_str(text, "x.zone", &Name::root()).unwrap()).unwrap()
}

fn sorted(z: &Zone) -> Vec<String> {
    let mut v: Vec<String> = zone_records(z).iter().map(|r| format!("{r:?}")).collect();
    v.sort();
    v
}

fuzz_target!(|data: &[u8]| {
    let z = zone();
    let before = format!("{:?}", zone_records(&z));
    let rcode = match Update::parse(data) {
        Ok(u) => match u.apply(&z) {
            Ok(Some(a)) => {
                assert!(serial_newer(serial_of(a.zone.soa()), serial_of(z.soa())));
                let replayed = apply(&z, core::slice::from_ref(&a.diff)).expect("the step applies");
                assert_eq!(sorted(&replayed), sorted(&a.zone));
                assert_eq!(Diff::from_bytes(&a.diff.to_bytes()), Some(a.diff.clone()));
                Rcode::NOERROR
            }
            Ok(None) => Rcode::NOERROR,
            Err(e) => e.rcode,
        },
        Err(e) => e.rcode(),
    };
    assert_eq!(format!("{:?}", zone_records(&z)), before);
    let mut out = [0u8; 512];
    if let Some(n) = response(data, rcode, &mut out) {
        let m = Message::parse(&out[..n]).expect("a response parses");
        assert_eq!(m.flags & 0x000f, rcode.0);
    }
    if let Some(step) = Diff::from_bytes(data) {
        assert_eq!(Diff::from_bytes(&step.to_bytes()), Some(step));
    }
});
