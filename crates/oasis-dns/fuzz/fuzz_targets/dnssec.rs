//! A hostile signed zone and hostile queries with the DNSSEC OK bit: NSEC3
//! owners of any bytes (not base32hex, wrong lengths, colliding),
//! NSEC3PARAM with any salt and iteration count, NSEC owners anywhere, and
//! questions about any name. Compiling the catalog and answering must not
//! panic, and every response must parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::{Class, Message, Name, RData, Record, Soa, Type};

fn record(name: &Name, rtype: Type, rdata: RData) -> Record {
    Record {
        name: name.clone(),
        rtype,
        class: Class::IN,
        ttl: 300,
        rdata,
    }
}

/// An RRSIG covering `t` (its signature is never checked by a server).
fn rrsig(apex: &Name, t: Type) -> RData {
    let mut w = t.0.to_be_bytes().to_vec();
    w.extend_from_slice(&[13, 2, 0, 0, 1, 44, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
    w.extend_from_slice(apex.as_wire());
    w.extend_from_slice(&[0xab; 64]);
    RData::Other(w)
}

fuzz_target!(|data: &[u8]| {
    let mut it = data.iter().copied();
    let mut next = || it.next().unwrap_or(0);
    let apex = Name::from_wire(b"\x07example\x00").unwrap();
    let iterations = u16::from(next());
    let salt: Vec<u8> = (0..next() % 9).map(|_| next()).collect();
    let nsec3 = next() % 2 == 0;
    let owners = next() % 16;
    let mut records = vec![
        record(
            &apex,
            Type::SOA,
            RData::Soa(Soa {
                mname: apex.clone(),
                rname: apex.clone(),
                serial: 1,
                refresh: 2,
                retry: 3,
                expire: 4,
                minimum: 5,
            }),
        ),
        record(&apex, Type::RRSIG, rrsig(&apex, Type::SOA)),
    ];
    let mut params = vec![1, 0];
    params.extend_from_slice(&iterations.to_be_bytes());
    params.push(salt.len() as u8);
    params.extend_from_slice(&salt);
    if nsec3 {
        records.push(record(
            &apex,
            Type::NSEC3PARAM,
            RData::Other(params.clone()),
        ));
    }
    for _ in 0..owners {
        let len = 1 + next() as usize % 40;
        let label: Vec<u8> = (0..len).map(|_| next()).collect();
        let Ok(owner) = apex.prepend(&label) else {
            continue;
        };
        let mut rd = params.clone();
        rd[1] = next() & 1;
        let hash_len = next() % 24;
        rd.push(hash_len);
        rd.extend((0..hash_len).map(|_| next()));
        rd.extend_from_slice(&[0, 1, 0x40]);
        let t = if nsec3 { Type::NSEC3 } else { Type::NSEC };
        let rdata = if nsec3 {
            RData::Other(rd)
        } else {
            RData::Other(apex.as_wire().iter().copied().chain([0, 1, 0x40]).collect())
        };
        records.push(record(&owner, t, rdata));
        records.push(record(&owner, Type::RRSIG, rrsig(&apex, t)));
        if next() % 4 == 0 {
            records.push(record(&owner, Type::A, RData::A([192, 0, 2, 1])));
        }
    }
    let Ok(zone) = Zone::new(&apex, records) else {
        return;
    };
    let Ok(catalog) = Catalog::new(vec![zone]) else {
        return;
    };
    let mut out = vec![0u8; 4096];
    let rest: Vec<u8> = it.collect();
    for q in rest.split(|&b| b == 0xff).take(16) {
        let Ok(name) = q
            .split(|&b| b == b'.')
            .filter(|l| !l.is_empty() && l.len() < 64)
            .try_fold(apex.clone(), |n, l| n.prepend(l))
        else {
            continue;
        };
        for qtype in [Type::A, Type::DS, Type::NSEC3, Type::TXT] {
            let mut msg = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
            msg.extend_from_slice(name.as_wire());
            msg.extend_from_slice(&qtype.0.to_be_bytes());
            msg.extend_from_slice(&[0, 1, 0, 0, 41, 4, 0, 0, 0, 0x80, 0, 0, 0]);
            if let Some(n) = catalog.answer(&msg, Transport::Udp, &mut out) {
                Message::parse(&out[..n]).expect("a response parses");
            }
        }
    }
});
