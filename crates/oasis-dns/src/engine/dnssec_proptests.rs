//! Properties of the denial-of-existence proofs, checked as a validator
//! would check them (RFC 4035 §5.4, RFC 5155 §8) on zones with chains built
//! here: for a name that does not exist, the records sent cover it and the
//! wildcard that could have answered it, and (NSEC3) match its closest
//! encloser; for a type a name lacks, the record sent matches the name.

use super::dnssec::{canonical_key, nsec3_hash};
use super::resolve_signed;
use super::{Signed, Zone};
use crate::wire::{Class, Name, RData, Rcode, Record, Soa, Type};
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn apex() -> Name {
    Name::from_wire(b"\x07example\x00").unwrap()
}

fn record(name: &Name, rtype: Type, rdata: RData) -> Record {
    Record {
        name: name.clone(),
        rtype,
        class: Class::IN,
        ttl: 300,
        rdata,
    }
}

/// An RRSIG over `t` (never verified by the server).
fn sig(t: Type) -> RData {
    let mut w = t.0.to_be_bytes().to_vec();
    w.extend_from_slice(&[13, 2, 0, 0, 1, 44, 0, 0, 0, 9, 0, 0, 0, 1, 0, 1]);
    w.extend_from_slice(apex().as_wire());
    w.extend_from_slice(&[7; 64]);
    RData::Other(w)
}

/// A zone of A records at `owners` under the apex, signed with a chain
/// built here: NSEC, or NSEC3 (no salt, `iterations`).
fn signed_zone(owners: &[Name], nsec3: Option<u16>) -> Zone {
    let a = apex();
    let mut rs = vec![
        record(
            &a,
            Type::SOA,
            RData::Soa(Soa {
                mname: a.clone(),
                rname: a.clone(),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 5,
            }),
        ),
        record(&a, Type::RRSIG, sig(Type::SOA)),
    ];
    for o in owners {
        rs.push(record(o, Type::A, RData::A([192, 0, 2, 1])));
        rs.push(record(o, Type::RRSIG, sig(Type::A)));
    }
    // Every name that exists: owners, the apex, the empty non-terminals.
    let unsigned = Zone::new(&a, rs.clone()).unwrap();
    let names: Vec<Name> = unsigned.names.iter().cloned().collect();
    match nsec3 {
        None => {
            let mut sorted = names;
            sorted.sort_by_key(canonical_key);
            for (i, n) in sorted.iter().enumerate() {
                let next = &sorted[(i + 1) % sorted.len()];
                let mut w = next.as_wire().to_vec();
                w.extend_from_slice(&[0, 1, 0x40]);
                rs.push(record(n, Type::NSEC, RData::Other(w)));
                rs.push(record(n, Type::RRSIG, sig(Type::NSEC)));
            }
        }
        Some(iterations) => {
            let param = vec![1, 0, (iterations >> 8) as u8, iterations as u8, 0];
            rs.push(record(&a, Type::NSEC3PARAM, RData::Other(param.clone())));
            let mut hashes: Vec<[u8; 20]> = names
                .iter()
                .map(|n| nsec3_hash(n, iterations, &[]))
                .collect();
            hashes.sort();
            hashes.dedup();
            for (i, h) in hashes.iter().enumerate() {
                let next = hashes[(i + 1) % hashes.len()];
                let mut w = param.clone();
                w.push(20);
                w.extend_from_slice(&next);
                w.extend_from_slice(&[0, 1, 0x40]);
                let owner = a.prepend(&base32hex(h)).unwrap();
                rs.push(record(&owner, Type::NSEC3, RData::Other(w)));
                rs.push(record(&owner, Type::RRSIG, sig(Type::NSEC3)));
            }
        }
    }
    Zone::new(&a, rs).unwrap()
}

fn base32hex(h: &[u8]) -> Vec<u8> {
    const A: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for &b in h {
        acc = acc << 8 | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[(acc >> bits & 31) as usize]);
        }
    }
    out
}

/// Whether the NSEC record `r` covers `n` (owner < n < next, wrapping).
fn nsec_covers(r: &Record, n: &Name) -> bool {
    let RData::Other(w) = &r.rdata else {
        return false;
    };
    let Ok((next, _)) = Name::parse(w, 0) else {
        return false;
    };
    let (o, x, k) = (
        canonical_key(&r.name),
        canonical_key(&next),
        canonical_key(n),
    );
    if o < x {
        o < k && k < x
    } else {
        k > o || k < x
    }
}

/// The hash an NSEC3 record is for, and the next one.
fn nsec3_span(r: &Record) -> Option<(Vec<u8>, Vec<u8>)> {
    let RData::Other(w) = &r.rdata else {
        return None;
    };
    let salt = w[4] as usize;
    let len = w[5 + salt] as usize;
    let next = w[6 + salt..6 + salt + len].to_vec();
    let own = crate::zone::text::base32hex(r.name.labels().next()?).ok()?;
    Some((own, next))
}

fn nsec3_matches(r: &Record, h: &[u8]) -> bool {
    nsec3_span(r).is_some_and(|(o, _)| o == h)
}

fn nsec3_covers(r: &Record, h: &[u8]) -> bool {
    nsec3_span(r).is_some_and(|(o, x)| {
        let (o, x) = (o.as_slice(), x.as_slice());
        if o < x {
            o < h && h < x
        } else {
            h > o || h < x
        }
    })
}

fn label() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop::sample::select(b"abcxyz".to_vec()), 1..3)
}

fn name_below() -> impl Strategy<Value = Name> {
    proptest::collection::vec(label(), 1..4)
        .prop_map(|ls| ls.iter().rev().fold(apex(), |n, l| n.prepend(l).unwrap()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn proofs_cover_what_does_not_exist(
        owners in proptest::collection::vec(name_below(), 1..12),
        asked in proptest::collection::vec(name_below(), 1..12),
        nsec3 in prop_oneof![Just(None), Just(Some(0u16)), Just(Some(3u16))],
    ) {
        let zone = signed_zone(&owners, nsec3);
        let signed = Signed::new(&zone).expect("signed");
        for q in &asked {
            let plan = resolve_signed(&zone, Some(&signed), q, Type::TXT);
            let auth = &plan.authority;
            let exists = zone.names.contains(q);
            // The longest existing ancestor, worked out here.
            let mut ce = q.parent().unwrap();
            while !zone.names.contains(&ce) {
                ce = ce.parent().unwrap();
            }
            let wild = ce.prepend(b"*").unwrap();
            match nsec3 {
                None => {
                    let nsecs: Vec<&Record> = auth.iter().filter(|r| r.rtype == Type::NSEC).collect();
                    if exists {
                        prop_assert_eq!(plan.rcode, Rcode::NOERROR);
                        prop_assert!(nsecs.iter().any(|r| r.name == *q), "{q}: no NSEC of its own");
                    } else {
                        prop_assert_eq!(plan.rcode, Rcode::NXDOMAIN);
                        prop_assert!(nsecs.iter().any(|r| nsec_covers(r, q)), "{q} not covered");
                        prop_assert!(nsecs.iter().any(|r| nsec_covers(r, &wild)), "{wild} not covered");
                    }
                    prop_assert!(auth.iter().any(|r| r.rtype == Type::RRSIG && r.name == nsecs[0].name));
                }
                Some(it) => {
                    let n3: Vec<&Record> = auth.iter().filter(|r| r.rtype == Type::NSEC3).collect();
                    if exists {
                        prop_assert_eq!(plan.rcode, Rcode::NOERROR);
                        let h = nsec3_hash(q, it, &[]);
                        prop_assert!(n3.iter().any(|r| nsec3_matches(r, &h)), "{q}: no NSEC3 of its own");
                    } else {
                        prop_assert_eq!(plan.rcode, Rcode::NXDOMAIN);
                        let mut next = q.clone();
                        while next.label_count() > ce.label_count() + 1 {
                            next = next.parent().unwrap();
                        }
                        let (hce, hnext, hwild) = (
                            nsec3_hash(&ce, it, &[]),
                            nsec3_hash(&next, it, &[]),
                            nsec3_hash(&wild, it, &[]),
                        );
                        prop_assert!(n3.iter().any(|r| nsec3_matches(r, &hce)), "{ce}: not matched");
                        prop_assert!(n3.iter().any(|r| nsec3_covers(r, &hnext)), "{next}: not covered");
                        prop_assert!(n3.iter().any(|r| nsec3_covers(r, &hwild)), "{wild}: not covered");
                    }
                }
            }
        }
    }
}
