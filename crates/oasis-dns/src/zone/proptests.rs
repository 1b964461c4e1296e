//! Zone-parser properties: records written out in many presentation styles
//! parse back to the same records; arbitrary text never panics.

use super::*;
use crate::wire::Soa;
use alloc::string::String;
use core::fmt::Write;
use proptest::prelude::*;

fn origin() -> Name {
    text::name(b"example.com.", &Name::root()).unwrap()
}

fn label() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(prop::sample::select(b"abcXYZ09-_".to_vec()), 1..8),
        1 => proptest::collection::vec(any::<u8>(), 1..6),
    ]
}

fn owner() -> impl Strategy<Value = Name> {
    proptest::collection::vec(label(), 0..3).prop_map(|ls| {
        let mut n = origin();
        for l in ls.iter().rev() {
            n = n.prepend(l).unwrap();
        }
        n
    })
}

fn rdata() -> impl Strategy<Value = (Type, RData)> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| (Type::A, RData::A(a))),
        any::<[u8; 16]>().prop_map(|a| (Type::AAAA, RData::Aaaa(a))),
        owner().prop_map(|n| (Type::NS, RData::Ns(n))),
        owner().prop_map(|n| (Type::CNAME, RData::Cname(n))),
        (any::<u16>(), owner()).prop_map(|(p, n)| (Type::MX, RData::Mx(p, n))),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4).prop_map(
            |ss| {
                let mut w = Vec::new();
                for s in ss {
                    w.push(s.len() as u8);
                    w.extend_from_slice(&s);
                }
                (Type::TXT, RData::Other(w))
            }
        ),
        (owner(), any::<[u32; 5]>()).prop_map(|(n, v)| (
            Type::SOA,
            RData::Soa(Soa {
                mname: n.clone(),
                rname: n,
                serial: v[0],
                refresh: v[1],
                retry: v[2],
                expire: v[3],
                minimum: v[4]
            })
        )),
        (
            60000u16..65000,
            proptest::collection::vec(any::<u8>(), 0..10)
        )
            .prop_map(|(t, b)| (Type(t), RData::Other(b))),
    ]
}

/// Style choices for one record line.
#[derive(Debug, Clone)]
struct Style {
    relative: bool,
    ttl: u8,
    class: bool,
    parens: bool,
    comment: bool,
    generic: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(relative, ttl, class, parens, comment, generic)| Style {
            relative,
            ttl,
            class,
            parens,
            comment,
            generic,
        })
}

fn write_name(out: &mut String, n: &Name, relative: bool) {
    let o = origin();
    if relative && n == &o {
        out.push('@');
    } else if relative {
        let s = alloc::format!("{n}");
        let os = alloc::format!("{o}");
        out.push_str(&s[..s.len() - os.len() - 1]);
    } else {
        let _ = write!(out, "{n}");
    }
}

fn write_string(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char)
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

fn write_rdata(out: &mut String, t: Type, rd: &RData, st: &Style) {
    if st.generic {
        let w = rd.to_wire();
        let _ = write!(out, "\\# {} ", w.len());
        for b in &w {
            let _ = write!(out, "{b:02x}");
        }
        return;
    }
    match rd {
        RData::A(a) => {
            let _ = write!(out, "{}", core::net::Ipv4Addr::from(*a));
        }
        RData::Aaaa(a) => {
            let _ = write!(out, "{}", core::net::Ipv6Addr::from(*a));
        }
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => write_name(out, n, st.relative),
        RData::Mx(p, n) => {
            let _ = write!(out, "{p} ");
            write_name(out, n, st.relative);
        }
        RData::Soa(s) => {
            write_name(out, &s.mname, st.relative);
            out.push(' ');
            write_name(out, &s.rname, st.relative);
            let _ = write!(
                out,
                " {} {} {} {} {}",
                s.serial, s.refresh, s.retry, s.expire, s.minimum
            );
        }
        RData::Other(w) if t == Type::TXT => {
            let mut i = 0;
            while i < w.len() {
                let len = w[i] as usize;
                write_string(out, &w[i + 1..i + 1 + len]);
                out.push(' ');
                i += 1 + len;
            }
        }
        RData::Other(w) => {
            let _ = write!(out, "\\# {} ", w.len());
            for b in w {
                let _ = write!(out, "{b:02x}");
            }
        }
    }
}

proptest! {
    #[test]
    fn written_records_parse_back(items in proptest::collection::vec((owner(), any::<u32>(), rdata(), style(), any::<bool>()), 1..12)) {
        let mut text = String::from("$ORIGIN example.com.\n$TTL 3600\n");
        let mut want = Vec::new();
        let mut last: Option<Name> = None;
        for (name, ttl, (t, rd), st, reuse) in &items {
            if *reuse && last.as_ref() == Some(name) {
                text.push_str("   ");
            } else {
                write_name(&mut text, name, st.relative);
                text.push(' ');
            }
            let ttl_value = match st.ttl {
                0 => 3600,
                1 => { let _ = write!(text, "{ttl} "); *ttl }
                _ => {
                    let t = ttl % 1_000_000;
                    let _ = write!(text, "{}h{}m{}s ", t / 3600, t % 3600 / 60, t % 60);
                    t
                }
            };
            if st.class {
                text.push_str("IN ");
            }
            let _ = write!(text, "{t} ");
            if st.parens {
                text.push_str("( ; opened\n ");
            }
            write_rdata(&mut text, *t, rd, st);
            if st.parens {
                text.push_str("\n )");
            }
            if st.comment {
                text.push_str(" ; a comment \"with\" (parens)");
            }
            text.push('\n');
            want.push(Record { name: name.clone(), rtype: *t, class: Class::IN, ttl: ttl_value, rdata: rd.clone() });
            last = Some(name.clone());
        }
        let got = parse_str(&text, "gen.zone", &Name::root()).map_err(|e| TestCaseError::fail(alloc::format!("{e}\n{text}")))?;
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert_eq!(g, w, "{}", text);
            prop_assert_eq!(g.name.as_wire(), w.name.as_wire(), "case kept: {}", text);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in "[ -~\n\t();\"\\\\$@]{0,200}") {
        let _ = parse_str(&s, "any.zone", &origin());
    }
}

#[test]
fn zero_ttl_units_and_reuse() {
    let rs = parse_str("$ORIGIN a.\n$TTL 0\nx 0s A 1.2.3.4\n", "z", &Name::root()).unwrap();
    assert_eq!(rs[0].ttl, 0);
}
