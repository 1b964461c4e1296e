//! parse(emit(x)) == x for generated messages.

use super::*;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

fn label() -> impl Strategy<Value = Vec<u8>> {
    // A small alphabet with both cases, so names share suffixes and
    // compression is exercised, case-insensitively.
    proptest::collection::vec(prop::sample::select(b"abAB-x\\.\x00\xff".to_vec()), 1..6)
}

pub(crate) fn name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(label(), 0..5).prop_map(|labels| {
        let mut n = Name::root();
        for l in labels.iter().rev() {
            n = n.prepend(l).expect("short labels");
        }
        n
    })
}

fn rdata() -> impl Strategy<Value = (Type, RData)> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| (Type::A, RData::A(a))),
        any::<[u8; 16]>().prop_map(|a| (Type::AAAA, RData::Aaaa(a))),
        name().prop_map(|n| (Type::NS, RData::Ns(n))),
        name().prop_map(|n| (Type::CNAME, RData::Cname(n))),
        name().prop_map(|n| (Type::PTR, RData::Ptr(n))),
        (any::<u16>(), name()).prop_map(|(p, n)| (Type::MX, RData::Mx(p, n))),
        (name(), name(), any::<[u32; 5]>()).prop_map(|(mname, rname, v)| (
            Type::SOA,
            RData::Soa(Soa {
                mname,
                rname,
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4]
            })
        )),
        (
            any::<u16>().prop_filter("decoded types", |t| {
                !matches!(
                    Type(*t),
                    Type::A
                        | Type::AAAA
                        | Type::NS
                        | Type::CNAME
                        | Type::PTR
                        | Type::MX
                        | Type::SOA
                        | Type::OPT
                )
            }),
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(t, b)| (Type(t), RData::Other(b))),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    (name(), any::<u16>(), any::<u32>(), rdata()).prop_map(|(name, class, ttl, (rtype, rdata))| {
        Record {
            name,
            rtype,
            class: Class(class),
            ttl,
            rdata,
        }
    })
}

fn message() -> impl Strategy<Value = Message> {
    let question = (name(), any::<u16>(), any::<u16>()).prop_map(|(name, t, c)| Question {
        name,
        qtype: Type(t),
        qclass: Class(c),
    });
    let edns = proptest::option::of(
        (
            any::<u16>(),
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            0u16..0x8000,
            proptest::collection::vec(any::<u8>(), 0..12),
        )
            .prop_map(
                |(udp_size, ext_rcode, version, dnssec_ok, z, options)| Edns {
                    udp_size,
                    ext_rcode,
                    version,
                    dnssec_ok,
                    z,
                    options,
                },
            ),
    );
    (
        any::<u16>(),
        any::<u16>(),
        proptest::collection::vec(question, 0..3),
        proptest::collection::vec(record(), 0..5),
        proptest::collection::vec(record(), 0..3),
        proptest::collection::vec(record(), 0..3),
        edns,
    )
        .prop_map(
            |(id, flags, questions, answers, authorities, additionals, edns)| Message {
                id,
                flags,
                questions,
                answers,
                authorities,
                additionals,
                edns,
            },
        )
}

proptest! {
    #[test]
    fn parse_of_emit_is_identity(m in message()) {
        let mut out = Vec::new();
        m.emit(&mut out).unwrap();
        prop_assert_eq!(Message::parse(&out).unwrap(), m);
    }

    #[test]
    fn the_view_reads_what_the_representation_wrote(m in message()) {
        let mut out = Vec::new();
        m.emit(&mut out).unwrap();
        let p = Packet::new_checked(&out[..]).unwrap();
        let qs: Vec<QuestionView> = p.questions().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(qs.len(), m.questions.len());
        for (v, q) in qs.iter().zip(&m.questions) {
            prop_assert_eq!((v.qtype, v.qclass), (q.qtype, q.qclass));
            prop_assert_eq!(&Name::parse(&out, v.name_at).unwrap().0, &q.name);
        }
        let rs: Vec<RecordView<'_>> = p.records().collect::<Result<_, _>>().unwrap();
        let want: Vec<(Type, u32)> = m.answers.iter().chain(&m.authorities).chain(&m.additionals).map(|r| (r.rtype, r.ttl)).collect();
        let got: Vec<(Type, u32)> = rs.iter().filter(|r| r.rtype != Type::OPT).map(|r| (r.rtype, r.ttl)).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn parse_never_panics_on_mutations(m in message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut out = Vec::new();
        m.emit(&mut out).unwrap();
        for (at, b) in flips {
            let i = at % out.len();
            out[i] ^= b;
        }
        let cut = cut % (out.len() + 1);
        let _ = Message::parse(&out[..cut]);
        let _ = Message::parse(&out);
        if let Ok(p) = Packet::new_checked(&out[..cut]) {
            let _ = p.questions().count() + p.records().count();
        }
    }

    #[test]
    fn compressed_names_parse_back(names in proptest::collection::vec(name(), 1..8)) {
        let mut msg = vec![0u8; 12];
        let mut c = Compressor::new();
        let mut starts = Vec::new();
        for n in &names {
            starts.push(msg.len());
            c.emit(&mut msg, n, true);
        }
        for (n, at) in names.iter().zip(starts) {
            prop_assert_eq!(&Name::parse(&msg, at).unwrap().0, n);
        }
    }
}
