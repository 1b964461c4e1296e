use super::*;
use crate::wire::{Class, Edns, Message, Question, RData, Rcode, Record, flag};
use crate::zone::parse_str;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;

pub(crate) const ZONE: &str = r#"
$ORIGIN example.com.
$TTL 300
@ SOA ns1 host 1 3600 600 86400 60
@ NS ns1
@ NS ns2.other.net.
@ MX 10 mail
ns1 A 192.0.2.1
mail A 192.0.2.2
mail AAAA 2001:db8::2
www CNAME web
web CNAME mail
loop1 CNAME loop2
loop2 CNAME loop1
sub NS ns.sub
sub NS ns1
ns.sub A 192.0.2.3
*.wild A 192.0.2.4
*.wild MX 10 mail
x.y.z A 192.0.2.5
d DNAME target.net.
long DNAME a-much-longer-target-name.example.net.
dl DNAME e2
e2 A 192.0.2.11
x.e2 A 192.0.2.12
c1 CNAME nothere
c2 CNAME x.sub
c4 CNAME foo.wild
*.cw CNAME mail
*.ent A 192.0.2.7
deep.x.ent A 192.0.2.8
MiXeD A 192.0.2.13
big TXT "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
"#;

pub(crate) fn name(s: &str) -> Name {
    crate::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

pub(crate) fn catalog() -> Catalog {
    let rs = parse_str(ZONE, "example.com.zone", &Name::root()).unwrap();
    let child = parse_str(
        "$ORIGIN other.net.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns2\nns2 A 198.51.100.1\n",
        "other.net.zone",
        &Name::root(),
    )
    .unwrap();
    Catalog::new(vec![
        Zone::new(&name("example.com."), rs).unwrap(),
        Zone::new(&name("other.net."), child).unwrap(),
    ])
    .unwrap()
}

pub(crate) fn query(qname: &str, qtype: Type, edns: Option<(u16, u8, bool)>) -> Vec<u8> {
    let m = Message {
        id: 0x4242,
        flags: flag::RD,
        questions: vec![Question {
            name: name(qname),
            qtype,
            qclass: Class::IN,
        }],
        answers: vec![],
        authorities: vec![],
        additionals: vec![],
        edns: edns.map(|(udp_size, version, dnssec_ok)| Edns {
            udp_size,
            ext_rcode: 0,
            version,
            dnssec_ok,
            z: 0,
            options: vec![],
        }),
    };
    let mut out = Vec::new();
    m.emit(&mut out).unwrap();
    out
}

fn ask(c: &Catalog, qname: &str, qtype: Type) -> Message {
    ask_with(
        c,
        &query(qname, qtype, Some((1232, 0, false))),
        Transport::Udp,
    )
}

fn ask_with(c: &Catalog, q: &[u8], t: Transport) -> Message {
    let mut out = [0u8; 65535];
    let n = c.answer(q, t, &mut out).expect("an answer");
    Message::parse(&out[..n]).unwrap_or_else(|e| panic!("bad response {e}: {:02x?}", &out[..n]))
}

fn rcode(m: &Message) -> Rcode {
    Rcode(m.flags & flag::RCODE_MASK)
}

fn show(rs: &[Record]) -> Vec<String> {
    rs.iter()
        .map(|r| alloc::format!("{} {} {}", r.name.to_lowercase(), r.rtype, r.ttl))
        .collect()
}

#[test]
fn positive_answers_are_authoritative_and_minimal() {
    let c = catalog();
    let m = ask(&c, "example.com.", Type::MX);
    assert_eq!(m.id, 0x4242);
    assert_eq!(
        m.flags & (flag::QR | flag::AA | flag::RD),
        flag::QR | flag::AA | flag::RD
    );
    assert_eq!(show(&m.answers), ["example.com. MX 300"]);
    assert!(m.authorities.is_empty() && m.additionals.is_empty());
    assert_eq!(m.edns.unwrap().udp_size, 1232);
}

#[test]
fn case_is_matched_insensitively_and_echoed() {
    let c = catalog();
    let m = ask(&c, "mIxEd.EXAMPLE.com.", Type::A);
    assert_eq!(m.questions[0].name.to_string(), "mIxEd.EXAMPLE.com.");
    assert_eq!(m.answers[0].name.to_string(), "mIxEd.EXAMPLE.com.");
    assert_eq!(m.answers[0].rdata, RData::A([192, 0, 2, 13]));
}

#[test]
fn negative_answers_carry_the_soa() {
    let c = catalog();
    let nx = ask(&c, "nope.example.com.", Type::A);
    assert_eq!(rcode(&nx), Rcode::NXDOMAIN);
    assert_eq!(show(&nx.authorities), ["example.com. SOA 60"]);
    let nodata = ask(&c, "mail.example.com.", Type::TXT);
    assert_eq!(rcode(&nodata), Rcode::NOERROR);
    assert!(nodata.answers.is_empty());
    assert_eq!(show(&nodata.authorities), ["example.com. SOA 60"]);
    // An empty non-terminal exists: NODATA, not NXDOMAIN.
    assert_eq!(rcode(&ask(&c, "y.z.example.com.", Type::A)), Rcode::NOERROR);
}

#[test]
fn cname_chains_stop_on_loops_and_report_the_last_name() {
    let c = catalog();
    let m = ask(&c, "www.example.com.", Type::A);
    assert_eq!(
        show(&m.answers),
        [
            "www.example.com. CNAME 300",
            "web.example.com. CNAME 300",
            "mail.example.com. A 300"
        ]
    );
    assert_eq!(ask(&c, "loop1.example.com.", Type::A).answers.len(), 2);
    let m = ask(&c, "c1.example.com.", Type::A);
    assert_eq!(rcode(&m), Rcode::NXDOMAIN);
    assert_eq!(m.answers.len(), 1);
    let m = ask(&c, "c2.example.com.", Type::A);
    assert!(m.flags & flag::AA != 0);
    assert_eq!(
        show(&m.authorities),
        ["sub.example.com. NS 300", "sub.example.com. NS 300"]
    );
}

#[test]
fn referrals_carry_glue_and_are_not_authoritative() {
    let c = catalog();
    for q in [
        "a.b.sub.example.com.",
        "sub.example.com.",
        "ns.sub.example.com.",
    ] {
        let m = ask(&c, q, Type::A);
        assert_eq!(m.flags & flag::AA, 0, "{q}");
        assert_eq!(m.authorities.len(), 2, "{q}");
        assert_eq!(
            show(&m.additionals),
            ["ns.sub.example.com. A 300", "ns1.example.com. A 300"],
            "{q}"
        );
    }
    // DS is the parent's: NODATA from example.com.
    let m = ask(&c, "sub.example.com.", Type::DS);
    assert!(m.flags & flag::AA != 0);
    assert_eq!(show(&m.authorities), ["example.com. SOA 60"]);
}

#[test]
fn wildcards_expand_and_are_blocked_by_existing_names() {
    let c = catalog();
    let m = ask(&c, "a.b.WILD.example.com.", Type::MX);
    assert_eq!(m.answers[0].name.to_string(), "a.b.WILD.example.com.");
    assert_eq!(m.answers[0].rdata, RData::Mx(10, name("mail.example.com.")));
    let m = ask(&c, "q.cw.example.com.", Type::AAAA);
    assert_eq!(
        show(&m.answers),
        ["q.cw.example.com. CNAME 300", "mail.example.com. AAAA 300"]
    );
    assert_eq!(
        rcode(&ask(&c, "foo.x.ent.example.com.", Type::A)),
        Rcode::NXDOMAIN
    );
    assert_eq!(ask(&c, "y.ent.example.com.", Type::A).answers.len(), 1);
    let m = ask(&c, "c4.example.com.", Type::A);
    assert_eq!(
        show(&m.answers),
        ["c4.example.com. CNAME 300", "foo.wild.example.com. A 300"]
    );
}

#[test]
fn dname_substitutes_and_follows_in_zone() {
    let c = catalog();
    let m = ask(&c, "foo.D.example.com.", Type::A);
    assert_eq!(
        show(&m.answers),
        ["d.example.com. DNAME 300", "foo.d.example.com. CNAME 300"]
    );
    assert_eq!(m.answers[1].rdata, RData::Cname(name("foo.target.net.")));
    let m = ask(&c, "x.dl.example.com.", Type::A);
    assert_eq!(m.answers.len(), 3);
    assert_eq!(
        rcode(&ask(&c, "nx.dl.example.com.", Type::A)),
        Rcode::NXDOMAIN
    );
    assert_eq!(c.stats().synthesised.load(Ordering::Relaxed), 3);
    // A substitution longer than 255 bytes: YXDOMAIN, said in an EDE.
    let long = format!(
        "{}.{}.{}.{}.long.example.com.",
        "x".repeat(63),
        "x".repeat(63),
        "x".repeat(63),
        "x".repeat(40)
    );
    let m = ask(&c, &long, Type::A);
    assert_eq!(rcode(&m), Rcode::YXDOMAIN);
    assert_eq!(show(&m.answers), ["long.example.com. DNAME 300"]);
    assert_eq!(
        &m.edns.unwrap().options[4..6],
        b"\x00\x00",
        "EDE code 0, Other"
    );
}

#[test]
fn other_zones_are_refused_and_any_is_minimal() {
    let c = catalog();
    let m = ask(&c, "foo.org.", Type::A);
    assert_eq!(rcode(&m), Rcode::REFUSED);
    assert_eq!(m.flags & flag::AA, 0);
    assert_eq!(m.edns.unwrap().options, b"\x00\x0f\x00\x02\x00\x14");
    assert_eq!(
        show(&ask(&c, "example.com.", Type::ANY).answers),
        ["example.com. SOA 300"]
    );
    assert_eq!(
        show(&ask(&c, "www.example.com.", Type::ANY).answers),
        ["www.example.com. CNAME 300"]
    );
    // The second zone is served too.
    assert_eq!(ask(&c, "ns2.other.net.", Type::A).answers.len(), 1);
}

#[test]
fn zones_that_cannot_be_served_are_refused_at_load() {
    let load = |text: &str| {
        let rs = parse_str(text, "bad.zone", &Name::root()).unwrap();
        Zone::new(&name("b.test."), rs)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let head = "$ORIGIN b.test.\n$TTL 60\n";
    assert!(load(&format!("{head}@ NS ns\n")).contains("expected one SOA"));
    assert!(
        load(&format!(
            "{head}@ SOA ns h 1 2 3 4 5\n@ SOA ns h 2 2 3 4 5\n"
        ))
        .contains("found 2")
    );
    assert!(
        load(&format!(
            "{head}@ SOA ns h 1 2 3 4 5\nx.other. A 192.0.2.1\n"
        ))
        .contains("outside the zone")
    );
    assert!(
        load(&format!(
            "{head}@ SOA ns h 1 2 3 4 5\nc CNAME a\nc A 192.0.2.1\n"
        ))
        .contains("cannot share")
    );
    assert!(
        load(&format!(
            "{head}@ SOA ns h 1 2 3 4 5\nc CNAME a\nc CNAME b\n"
        ))
        .contains("one CNAME record")
    );
    assert!(
        load(&format!(
            "{head}@ SOA ns h 1 2 3 4 5\nd DNAME a\nd DNAME b\n"
        ))
        .contains("one DNAME record")
    );
}

#[test]
fn a_served_child_zone_answers_below_its_cut() {
    let parent = parse_str(
        "$ORIGIN p.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n\
kid NS ns.kid\nns.kid A 192.0.2.2\nglue-only.kid A 192.0.2.3\n",
        "p.zone",
        &Name::root(),
    )
    .unwrap();
    let child = parse_str(
        "$ORIGIN kid.p.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.2\n",
        "kid.zone",
        &Name::root(),
    )
    .unwrap();
    // Child first, to show that the order of loading does not matter.
    let c = Catalog::new(vec![
        Zone::new(&name("kid.p.test."), child).unwrap(),
        Zone::new(&name("p.test."), parent).unwrap(),
    ])
    .unwrap();
    let m = ask(&c, "glue-only.kid.p.test.", Type::A);
    assert_eq!(rcode(&m), Rcode::NXDOMAIN);
    assert!(m.flags & flag::AA != 0);
    assert_eq!(show(&m.authorities), ["kid.p.test. SOA 5"]);
    assert_eq!(
        ask(&c, "ns.kid.p.test.", Type::A).flags & flag::AA,
        flag::AA
    );
    // DS at the cut is the parent's.
    assert_eq!(
        show(&ask(&c, "kid.p.test.", Type::DS).authorities),
        ["p.test. SOA 5"]
    );
    assert_eq!(
        show(&ask(&c, "kid.p.test.", Type::NS).answers),
        ["kid.p.test. NS 60"]
    );
}

#[test]
fn room_reserved_for_a_signature_counts_against_the_limit() {
    // What the server appends after the answer (a TSIG record) must fit in
    // the same 512 bytes, or the EDNS size, as the answer.
    let c = catalog();
    let mut out = [0u8; 65535];
    for (edns, limit) in [(None, 512), (Some((1232, 0, false)), 1232)] {
        let q = query("example.com.", Type::MX, edns);
        let full = c.answer(&q, Transport::Udp, &mut out).unwrap();
        for reserve in [0, 100, limit - full + 1, limit - 40] {
            let n = c
                .answer_reserving(&q, Transport::Udp, &mut out, reserve)
                .unwrap();
            let m = Message::parse(&out[..n]).unwrap();
            assert!(n + reserve <= limit, "{n} + {reserve} > {limit}");
            if reserve <= limit - full {
                assert_eq!(n, full);
            } else {
                assert!(m.additionals.len() < 3 || m.flags & flag::TC != 0);
            }
        }
    }
    // The big TXT answer fits over UDP with EDNS 4096 only without the room.
    let q = query("big.example.com.", Type::TXT, Some((4096, 0, false)));
    let n = c.answer_reserving(&q, Transport::Udp, &mut out, 0).unwrap();
    let reserve = c.udp_payload as usize - n + 1;
    let n = c
        .answer_reserving(&q, Transport::Udp, &mut out, reserve)
        .unwrap();
    assert_ne!(Message::parse(&out[..n]).unwrap().flags & flag::TC, 0);
}

#[test]
fn truncation_follows_the_transport() {
    let c = catalog();
    let m = ask_with(
        &c,
        &query("big.example.com.", Type::TXT, None),
        Transport::Udp,
    );
    assert!(m.flags & flag::TC != 0 && m.answers.is_empty() && m.edns.is_none());
    let m = ask_with(
        &c,
        &query("big.example.com.", Type::TXT, Some((4096, 0, true))),
        Transport::Udp,
    );
    assert!(m.flags & flag::TC == 0 && m.answers.len() == 1);
    assert!(m.edns.unwrap().dnssec_ok);
    let m = ask_with(
        &c,
        &query("big.example.com.", Type::TXT, None),
        Transport::Tcp,
    );
    assert!(m.flags & flag::TC == 0 && m.answers.len() == 1);
    assert_eq!(c.stats().truncated.load(Ordering::Relaxed), 1);
}

#[test]
fn badvers_notimp_and_formerr() {
    let c = catalog();
    let m = ask_with(
        &c,
        &query("example.com.", Type::A, Some((1232, 1, false))),
        Transport::Udp,
    );
    assert_eq!(m.edns.as_ref().unwrap().ext_rcode, 1);
    assert_eq!(rcode(&m), Rcode::NOERROR);
    let mut q = query("example.com.", Type::A, None);
    q[2] |= 0x10; // opcode 2, STATUS
    let m = ask_with(&c, &q, Transport::Udp);
    assert_eq!(rcode(&m), Rcode::NOTIMP);
    let mut q = query("example.com.", Type::A, None);
    q[5] = 2; // two questions announced, one present
    assert_eq!(rcode(&ask_with(&c, &q, Transport::Udp)), Rcode::FORMERR);
    let mut out = [0u8; 512];
    assert_eq!(c.answer(&q[..5], Transport::Udp, &mut out), None);
    assert_eq!(c.stats().malformed.load(Ordering::Relaxed), 2);
}

/// Every compiled answer equals the answer worked out from the model.
#[test]
fn compiled_answers_match_the_model() {
    let c = catalog();
    let names = [
        "example.com.",
        "www.example.com.",
        "x.Y.z.example.com.",
        "y.z.example.com.",
        "nope.example.com.",
        "a.b.c.wild.example.com.",
        "wild.example.com.",
        "*.wild.example.com.",
        "sub.example.com.",
        "deep.sub.example.com.",
        "z.cw.example.com.",
        "q.x.ent.example.com.",
        "e2.example.com.",
        "MAIL.example.com.",
        "c2.example.com.",
        "ns2.other.net.",
        "x.other.net.",
    ];
    let types = [
        Type::A,
        Type::AAAA,
        Type::MX,
        Type::NS,
        Type::SOA,
        Type::TXT,
        Type::CNAME,
        Type::DS,
        Type::ANY,
        Type(999),
    ];
    for n in names {
        for t in types {
            let got = ask_with(&c, &query(n, t, None), Transport::Tcp);
            let plan = c.plan(&name(n), t).unwrap();
            assert_eq!(rcode(&got), plan.rcode, "{n} {t}");
            assert_eq!(got.flags & flag::AA != 0, plan.aa, "{n} {t}");
            assert_eq!(got.answers, plan.answer, "{n} {t}");
            assert_eq!(got.authorities, plan.authority, "{n} {t}");
            assert_eq!(got.additionals, plan.additional, "{n} {t}");
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const BASES: &[&str] = &[
        "example.com.",
        "www.example.com.",
        "y.z.example.com.",
        "wild.example.com.",
        "sub.example.com.",
        "cw.example.com.",
        "x.ent.example.com.",
        "ent.example.com.",
        "dl.example.com.",
        "e2.example.com.",
        "loop1.example.com.",
        "c1.example.com.",
        "big.example.com.",
        "other.net.",
        "ns2.other.net.",
    ];
    const TYPES: &[u16] = &[1, 2, 5, 6, 15, 16, 28, 39, 43, 255, 999];

    fn flip_case(s: &str, mask: u64) -> String {
        s.chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    proptest! {
        /// For any question under the served zones, the compiled table
        /// answers exactly as the model does, whatever the letter case.
        #[test]
        fn compiled_answers_match_the_model_for_any_question(
            base in prop::sample::select(BASES),
            prefix in proptest::collection::vec("[a-z*]{1,6}", 0..3),
            qtype in prop::sample::select(TYPES),
            mask in any::<u64>(),
        ) {
            static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
            let c = CATALOG.get_or_init(catalog);
            let mut n = String::new();
            for p in &prefix {
                n.push_str(p);
                n.push('.');
            }
            n.push_str(base);
            let n = flip_case(&n, mask);
            let t = Type(qtype);
            let got = ask_with(c, &query(&n, t, None), Transport::Tcp);
            let plan = c.plan(&name(&n), t).unwrap();
            let asked = name(&n);
            prop_assert_eq!(got.questions[0].name.as_wire(), asked.as_wire());
            prop_assert_eq!(rcode(&got), plan.rcode);
            prop_assert_eq!(got.flags & flag::AA != 0, plan.aa);
            prop_assert_eq!(&got.answers, &plan.answer);
            prop_assert_eq!(&got.authorities, &plan.authority);
            prop_assert_eq!(&got.additionals, &plan.additional);
        }
    }
}

mod random_zones {
    use super::*;
    use alloc::format;
    use proptest::prelude::*;

    const OWNERS: &[&str] = &[
        "@",
        "a",
        "b.a",
        "*.a",
        "c.b.a",
        "*",
        "x",
        "*.x",
        "d",
        "y.d",
        "e.y.d",
        "*.y.d",
        "sub",
        "ns.sub",
        "z.sub",
        "long-label-to-vary-lengths.a",
    ];
    const TARGETS: &[&str] = &[
        "a",
        "b.a",
        "c.b.a",
        "q.a",
        "x",
        "nope",
        "y.d",
        "w.x",
        "ns.sub",
        "out.example.net.",
    ];

    fn record() -> impl Strategy<Value = String> {
        (
            prop::sample::select(OWNERS),
            0usize..7,
            prop::sample::select(TARGETS),
            any::<u8>(),
        )
            .prop_map(|(owner, kind, target, n)| match kind {
                0 => format!("{owner} A 192.0.2.{n}"),
                1 => format!("{owner} AAAA 2001:db8::{n:x}"),
                2 => format!("{owner} CNAME {target}"),
                3 => format!("{owner} DNAME {target}"),
                4 => format!("{owner} NS {target}"),
                5 => format!("{owner} MX {n} {target}"),
                _ => format!("{owner} TXT \"{}\"", "t".repeat(n as usize)),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Random zones with cuts, CNAMEs, DNAMEs and wildcards in odd
        /// places: every compiled answer equals the model's.
        #[test]
        fn compiled_answers_match_the_model_in_random_zones(
            lines in proptest::collection::vec(record(), 1..14),
            questions in proptest::collection::vec((prop::sample::select(OWNERS), "[a-z]{0,3}", prop::sample::select(&[1u16, 5, 15, 16, 28, 39, 2, 255, 43][..])), 20),
        ) {
            let mut text = String::from("$ORIGIN r.test.\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\n");
            for l in &lines {
                text.push_str(l);
                text.push('\n');
            }
            let records = parse_str(&text, "r.zone", &Name::root()).unwrap();
            let zone = match Zone::new(&name("r.test."), records) {
                Ok(z) => z,
                Err(LoadError::CnameAndOther(_) | LoadError::Multiple(..)) => return Ok(()),
                Err(e) => panic!("{e}"),
            };
            let c = Catalog::new(vec![zone]).unwrap();
            for (owner, prefix, t) in questions {
                let base = if owner == "@" { "r.test.".to_string() } else { format!("{owner}.r.test.") };
                let q = if prefix.is_empty() { base } else { format!("{prefix}.{base}") };
                let t = Type(t);
                let got = ask_with(&c, &query(&q, t, None), Transport::Tcp);
                let plan = c.plan(&name(&q), t).unwrap();
                prop_assert_eq!(rcode(&got), plan.rcode, "{} {} in\n{}", q, t, text);
                prop_assert_eq!(got.flags & flag::AA != 0, plan.aa, "{} {} in\n{}", q, t, text);
                prop_assert_eq!(&got.answers, &plan.answer, "{} {} in\n{}", q, t, text);
                prop_assert_eq!(&got.authorities, &plan.authority, "{} {} in\n{}", q, t, text);
                prop_assert_eq!(&got.additionals, &plan.additional, "{} {} in\n{}", q, t, text);
            }
        }
    }
}

/// A query with an OPT record holding `options` (raw), UDP size `udp`.
fn query_with_options(qname: &str, qtype: Type, udp: u16, options: &[u8]) -> Vec<u8> {
    let mut q = query(qname, qtype, None);
    q[11] = 1;
    q.extend_from_slice(&[0, 0, 41]);
    q.extend_from_slice(&udp.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0]);
    q.extend_from_slice(&(options.len() as u16).to_be_bytes());
    q.extend_from_slice(options);
    q
}

fn cookie_option(data: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 10];
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

mod cookies {
    use super::*;
    use crate::cookie::{CookieCheck, Cookies, Mode, Outcome, make};
    use core::net::IpAddr;

    const NOW: u32 = 1_700_000_000;
    const CLIENT: [u8; 8] = *b"clientck";

    fn peer() -> IpAddr {
        "192.0.2.77".parse().unwrap()
    }

    fn cookies(mode: Mode) -> Cookies {
        Cookies {
            mode,
            secret: [0x5a; 16],
            previous: None,
        }
    }

    /// Answers `q` with cookies as `mode` says; the response and outcome.
    fn ask(c: &Catalog, mode: Mode, q: &[u8], t: Transport) -> (Message, Outcome, bool) {
        let cookies = cookies(mode);
        let mut check = CookieCheck::new(&cookies, peer(), || NOW);
        let mut out = [0u8; 65535];
        let n = c.answer_with(q, t, &mut out, &mut check, 0).unwrap();
        let m = Message::parse(&out[..n]).unwrap();
        (m, check.outcome(), check.refused())
    }

    fn cookie_of(m: &Message) -> Option<Vec<u8>> {
        let o = &m.edns.as_ref()?.options;
        let at = o.windows(2).position(|w| w == [0, 10])?;
        let len = u16::from_be_bytes([o[at + 2], o[at + 3]]) as usize;
        Some(o[at + 4..at + 4 + len].to_vec())
    }

    fn good_server() -> [u8; 16] {
        make(&cookies(Mode::On).secret, &CLIENT, peer(), NOW - 5)
    }

    #[test]
    fn the_parse_finds_the_first_cookie_option_among_others() {
        let mut opts = vec![0, 3, 0, 0]; // NSID, empty
        opts.extend(cookie_option(&CLIENT));
        opts.extend(cookie_option(&[1; 7]));
        let q = query_with_options("ns1.example.com.", Type::A, 1232, &opts);
        let e = Query::parse(&q).unwrap().edns.unwrap();
        assert_eq!(e.cookie(&q), Some(&CLIENT[..]));
        // An option running past the RDATA ends the search.
        let q = query_with_options("ns1.example.com.", Type::A, 1232, &[0, 3, 0, 9, 1]);
        assert_eq!(Query::parse(&q).unwrap().edns.unwrap().cookie_at, None);
        let q = query("ns1.example.com.", Type::A, Some((1232, 0, false)));
        assert_eq!(Query::parse(&q).unwrap().edns.unwrap().cookie_at, None);
    }

    #[test]
    fn answers_carry_the_client_cookie_and_a_server_cookie() {
        let c = catalog();
        let q = query_with_options("ns1.example.com.", Type::A, 1232, &cookie_option(&CLIENT));
        let (m, o, refused) = ask(&c, Mode::On, &q, Transport::Udp);
        assert_eq!(
            (rcode(&m), m.answers.len(), o, refused),
            (Rcode::NOERROR, 1, Outcome::ClientOnly, false)
        );
        let got = cookie_of(&m).unwrap();
        assert_eq!(got.len(), 24);
        assert_eq!(got[..8], CLIENT);
        assert_eq!(
            got[8..],
            make(&cookies(Mode::On).secret, &CLIENT, peer(), NOW)
        );
        // The cookie returned is accepted and echoed.
        let q = query_with_options("ns1.example.com.", Type::A, 1232, &cookie_option(&got));
        let (m, o, _) = ask(&c, Mode::Require, &q, Transport::Udp);
        assert_eq!(
            (rcode(&m), m.answers.len(), o),
            (Rcode::NOERROR, 1, Outcome::Valid)
        );
        assert_eq!(cookie_of(&m).unwrap(), got);
        // Refused and NODATA answers carry it too, after the EDE.
        let q = query_with_options("foo.org.", Type::A, 1232, &cookie_option(&CLIENT));
        let (m, ..) = ask(&c, Mode::On, &q, Transport::Udp);
        assert_eq!(rcode(&m), Rcode::REFUSED);
        assert_eq!(
            &m.edns.as_ref().unwrap().options[..6],
            b"\x00\x0f\x00\x02\x00\x14"
        );
        assert_eq!(cookie_of(&m).unwrap()[..8], CLIENT);
    }

    #[test]
    fn off_ignores_the_option_and_no_option_changes_nothing() {
        let c = catalog();
        let q = query_with_options("ns1.example.com.", Type::A, 1232, &cookie_option(&[1; 3]));
        let (m, o, _) = ask(&c, Mode::Off, &q, Transport::Udp);
        assert_eq!(
            (rcode(&m), o, cookie_of(&m)),
            (Rcode::NOERROR, Outcome::Absent, None)
        );
        // Without a COOKIE option, the bytes are those of the plain answer.
        let q = query("mail.example.com.", Type::A, Some((1232, 0, false)));
        let mut plain = [0u8; 1232];
        let n = c.answer(&q, Transport::Udp, &mut plain).unwrap();
        for mode in [Mode::On, Mode::Require] {
            let cookies = cookies(mode);
            let mut check = CookieCheck::new(&cookies, peer(), || panic!("clock read"));
            let mut out = [0u8; 1232];
            let k = c
                .answer_with(&q, Transport::Udp, &mut out, &mut check, 0)
                .unwrap();
            assert_eq!(out[..k], plain[..n]);
        }
    }

    #[test]
    fn a_malformed_cookie_option_is_formerr() {
        let c = catalog();
        for len in [0, 1, 7, 9, 15, 41, 64] {
            let q = query_with_options(
                "ns1.example.com.",
                Type::A,
                1232,
                &cookie_option(&[7; 64][..len]),
            );
            let before = c.stats().malformed.load(Ordering::Relaxed);
            let (m, o, _) = ask(&c, Mode::On, &q, Transport::Udp);
            assert_eq!(
                (rcode(&m), o),
                (Rcode::FORMERR, Outcome::Malformed),
                "{len}"
            );
            assert!(m.answers.is_empty() && cookie_of(&m).is_none());
            assert_eq!(m.questions.len(), 1);
            assert_eq!(c.stats().malformed.load(Ordering::Relaxed), before + 1);
        }
    }

    #[test]
    fn require_refuses_udp_without_a_valid_server_cookie_but_not_tcp() {
        let c = catalog();
        let mut forged = CLIENT.to_vec();
        forged.extend_from_slice(&good_server());
        forged[20] ^= 0xff;
        for data in [&CLIENT[..], &forged[..]] {
            let q = query_with_options("ns1.example.com.", Type::A, 1232, &cookie_option(data));
            let (m, o, refused) = ask(&c, Mode::Require, &q, Transport::Udp);
            // BADCOOKIE is 23: 7 in the header, 1 in the OPT's extended rcode.
            assert_eq!(rcode(&m), Rcode(7));
            assert_eq!(m.edns.as_ref().unwrap().ext_rcode, 1);
            assert!(refused && !o.is_valid());
            assert!(m.answers.is_empty() && m.authorities.is_empty());
            let fresh = cookie_of(&m).unwrap();
            assert_eq!(
                fresh[8..],
                make(&cookies(Mode::On).secret, &CLIENT, peer(), NOW)
            );
            let (m, _, refused) = ask(&c, Mode::Require, &q, Transport::Tcp);
            assert_eq!(
                (rcode(&m), m.answers.len(), refused),
                (Rcode::NOERROR, 1, false)
            );
            let (m, _, refused) = ask(&c, Mode::On, &q, Transport::Udp);
            assert_eq!(
                (rcode(&m), m.answers.len(), refused),
                (Rcode::NOERROR, 1, false)
            );
        }
        // No COOKIE option at all: answered.
        let q = query("ns1.example.com.", Type::A, Some((1232, 0, false)));
        let (m, o, refused) = ask(&c, Mode::Require, &q, Transport::Udp);
        assert_eq!(
            (rcode(&m), m.answers.len(), o, refused),
            (Rcode::NOERROR, 1, Outcome::Absent, false)
        );
    }

    #[test]
    fn the_cookie_has_room_within_the_clients_udp_size() {
        let c = catalog();
        // The MX answer at 512 bytes with a cookie: additional records go
        // first, then TC; the OPT with the cookie always fits.
        for udp in [512u16, 1232] {
            let q = query_with_options("big.example.com.", Type::TXT, udp, &cookie_option(&CLIENT));
            let cookies = cookies(Mode::On);
            let mut check = CookieCheck::new(&cookies, peer(), || NOW);
            let mut out = [0u8; 65535];
            let n = c
                .answer_with(&q, Transport::Udp, &mut out, &mut check, 0)
                .unwrap();
            assert!(n <= udp as usize, "{n} > {udp}");
            let m = Message::parse(&out[..n]).unwrap();
            assert_eq!(cookie_of(&m).unwrap()[..8], CLIENT);
            assert_eq!(m.flags & flag::TC != 0, udp == 512);
        }
    }
}

#[test]
fn responses_are_counted_by_rcode_and_queries_by_type() {
    let c = catalog();
    ask(&c, "mail.example.com.", Type::A);
    ask(&c, "mail.example.com.", Type::AAAA);
    ask(&c, "nope.example.com.", Type::A);
    ask(&c, "example.org.", Type::MX);
    ask(&c, "mail.example.com.", Type(999));
    let s = c.stats();
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(n(&s.rcodes[Rcode::NOERROR.0 as usize]), 3);
    assert_eq!(n(&s.rcodes[Rcode::NXDOMAIN.0 as usize]), 1);
    assert_eq!(n(&s.rcodes[Rcode::REFUSED.0 as usize]), 1);
    assert_eq!(n(&s.qtypes[Stats::qtype_index(Type::A)]), 2);
    assert_eq!(n(&s.qtypes[Stats::qtype_index(Type::AAAA)]), 1);
    assert_eq!(n(&s.qtypes[Stats::qtype_index(Type::MX)]), 1);
    assert_eq!(
        n(&s.qtypes[QTYPES.len() - 1]),
        1,
        "type 999 counts as other"
    );
    assert_eq!(n(&s.dnssec_ok), 0);
}
