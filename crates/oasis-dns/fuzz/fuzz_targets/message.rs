//! Any bytes as a DNS message: parsing (view and representation) must not
//! panic and must agree, what parses must
//! re-emit to something that parses to the same message, and the engine
//! must answer or drop without panicking, always with a well-formed response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::{Message, Name, Packet};
use std::sync::OnceLock;

const ZONE: &str = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n@ MX 10 mail\n\
ns1 A 192.0.2.1\nmail A 192.0.2.2\nwww CNAME mail\nsub NS ns.sub\nns.sub A 192.0.2.3\n\
*.wild A 192.0.2.4\nd DNAME target.net.\nx.y.z TXT \"hello\"\n";

fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(|| {
        let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
        let records = oasis_dns::zone::parse_str(ZONE, "fuzz.zone", &Name::root()).unwrap();
        Catalog::new(vec![Zone::new(&apex, records).unwrap()]).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    // The zero-copy view reads as far as the representation does.
    if let Ok(p) = Packet::new_checked(data) {
        let questions = p.questions().take_while(Result::is_ok).count();
        let records = p.records().take_while(Result::is_ok).count();
        if Message::parse(data).is_ok() {
            assert_eq!(questions, p.header().qdcount() as usize);
            let h = p.header();
            assert_eq!(records, h.ancount() as usize + h.nscount() as usize + h.arcount() as usize);
        }
    }
    if let Ok(m) = Message::parse(data) {
        let mut out = Vec::new();
        m.emit(&mut out).expect("a parsed message emits");
        assert_eq!(Message::parse(&out).expect("emitted message parses"), m);
    }
    let mut out = [0u8; 65535];
    for t in [Transport::Udp, Transport::Tcp] {
        if let Some(n) = catalog().answer(data, t, &mut out) {
            Message::parse(&out[..n]).expect("responses parse");
        }
    }
});
