//! Any bytes as a DNS message: parsing (view and representation) must not
//! panic and must agree, what parses must
//! re-emit to something that parses to the same message, and the engine
//! must answer or drop without panicking, always with a well-formed response,
//! also with DNS cookies required (the COOKIE option's parse, the server
//! cookie's check against two secrets, FORMERR and BADCOOKIE answers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::cookie::{CookieCheck, Cookies, Mode};
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
            assert_eq!(
                records,
                h.ancount() as usize + h.nscount() as usize + h.arcount() as usize
            );
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
    // The client address and the clock come from the input's first bytes,
    // so a server cookie made for them can be found.
    let cookies = Cookies {
        mode: Mode::Require,
        secret: [0x11; 16],
        previous: Some([0x22; 16]),
    };
    let peer = std::net::IpAddr::from([127, 0, 0, data.first().copied().unwrap_or(1)]);
    let now = u32::from_be_bytes([0x60, 0, 0, data.get(1).copied().unwrap_or(0)]);
    for t in [Transport::Udp, Transport::Tcp] {
        let mut check = CookieCheck::new(&cookies, peer, || now);
        if let Some(n) = catalog().answer_with(data, t, &mut out, &mut check, 0) {
            let m = Message::parse(&out[..n]).expect("responses with cookies parse");
            let badcookie = m.flags & 0xf == 7 && m.edns.as_ref().is_some_and(|e| e.ext_rcode == 1);
            assert_eq!(badcookie, check.refused(), "BADCOOKIE exactly when refused");
            assert!(!(check.refused() && (t == Transport::Tcp || check.outcome().is_valid())));
        }
    }
});
