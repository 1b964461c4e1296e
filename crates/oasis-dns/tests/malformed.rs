//! Hostile packets: truncated, oversized, looping pointers and garbage get
//! FORMERR or silence, and the engine goes on answering real queries.

use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::{Message, Name, Rcode, flag};
use std::sync::atomic::Ordering;

const ZONE: &str =
    "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";

fn catalog() -> Catalog {
    let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
    let rs = oasis_dns::zone::parse_str(ZONE, "t.zone", &Name::root()).unwrap();
    Catalog::new(vec![Zone::new(&apex, rs).unwrap()]).unwrap()
}

/// `ns1.example.com. A` with EDNS, id 0x0102.
const GOOD: &[u8] = b"\x01\x02\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01\
\x03ns1\x07example\x03com\x00\x00\x01\x00\x01\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00";

fn still_answers(c: &Catalog) {
    let mut out = [0u8; 4096];
    let n = c.answer(GOOD, Transport::Udp, &mut out).expect("an answer");
    let m = Message::parse(&out[..n]).unwrap();
    assert_eq!(m.id, 0x0102);
    assert_eq!(m.answers.len(), 1);
}

/// Whatever comes back is FORMERR (or NOTIMP for a bad opcode) and parses.
fn formerr_or_silence(c: &Catalog, pkt: &[u8]) -> Option<Rcode> {
    let mut out = [0u8; 65535];
    let n = c.answer(pkt, Transport::Udp, &mut out)?;
    let m = Message::parse(&out[..n])
        .unwrap_or_else(|e| panic!("unparseable response {e} to {pkt:02x?}"));
    Some(Rcode(m.flags & flag::RCODE_MASK))
}

#[test]
fn every_truncation_of_a_good_query_is_formerr_or_silence() {
    let c = catalog();
    for cut in 0..GOOD.len() {
        match formerr_or_silence(&c, &GOOD[..cut]) {
            None => assert!(cut < 12, "a {cut}-byte prefix was dropped"),
            Some(r) => assert_eq!(r, Rcode::FORMERR, "prefix of {cut} bytes"),
        }
        still_answers(&c);
    }
}

#[test]
fn oversized_and_looping_packets() {
    let c = catalog();
    // Trailing garbage after a whole query.
    let mut big = GOOD.to_vec();
    big.extend(std::iter::repeat_n(0xab, 70_000));
    assert_eq!(formerr_or_silence(&c, &big), Some(Rcode::FORMERR));
    // A question name made of a pointer to itself.
    let looped = b"\x00\x07\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01";
    assert_eq!(formerr_or_silence(&c, looped), Some(Rcode::FORMERR));
    // An OPT owner whose pointers loop.
    let mut opt_loop = GOOD[..33].to_vec();
    opt_loop.extend_from_slice(b"\xc0\x21\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00");
    assert_eq!(formerr_or_silence(&c, &opt_loop), Some(Rcode::FORMERR));
    // A name longer than 255 bytes.
    let mut long = GOOD[..12].to_vec();
    for _ in 0..5 {
        long.push(63);
        long.extend_from_slice(&[b'a'; 63]);
    }
    long.extend_from_slice(b"\x00\x00\x01\x00\x01");
    long[11] = 0;
    assert_eq!(formerr_or_silence(&c, &long), Some(Rcode::FORMERR));
    // Responses are never answered.
    let mut resp = GOOD.to_vec();
    resp[2] |= 0x80;
    assert_eq!(formerr_or_silence(&c, &resp), None);
    still_answers(&c);
    assert!(c.stats().malformed.load(Ordering::Relaxed) >= 5);
}

#[test]
fn garbage_never_panics_and_service_continues() {
    let c = catalog();
    // A fixed-seed xorshift, so failures reproduce.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for i in 0..20_000 {
        let len = (next() % 600) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && pkt.len() > 12 {
            // Keep it looking like a query so the deeper checks run.
            pkt[2] &= 0x07;
            pkt[4..6].copy_from_slice(&[0, 1]);
        }
        if let Some(r) = formerr_or_silence(&c, &pkt) {
            assert!(
                [
                    Rcode::FORMERR,
                    Rcode::NOTIMP,
                    Rcode::REFUSED,
                    Rcode::NOERROR,
                    Rcode::NXDOMAIN
                ]
                .contains(&r),
                "{r:?} for {pkt:02x?}"
            );
        }
    }
    still_answers(&c);
}

/// Writes the image of a small catalog where the image fuzz target reads
/// its seed corpus, when `OASIS_DNS_WRITE_IMAGE_SEED` names a file.
#[test]
fn image_seed_for_the_fuzzer() {
    let Some(path) = std::env::var_os("OASIS_DNS_WRITE_IMAGE_SEED") else {
        return;
    };
    let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
    let text = format!(
        "{ZONE}www CNAME ns1\nsub NS ns.sub\nns.sub A 192.0.2.3\n*.wild MX 10 ns1\nd DNAME target.net.\n"
    );
    let rs = oasis_dns::zone::parse_str(&text, "t.zone", &Name::root()).unwrap();
    let catalog = Catalog::new(vec![Zone::new(&apex, rs).unwrap()]).unwrap();
    std::fs::write(path, catalog.to_image()).unwrap();
}
