//! Building queries and comparing responses, shared by the NSD tests.

use super::generate::{GenZone, QTYPES, Rng, query_name, random_case};
use oasis_dns::wire::{Class, Edns, Message, Name, Question, RData, Record, Type, flag};

pub fn build_query(rng: &mut Rng, zones: &[GenZone], id: u16) -> Vec<u8> {
    // Some queries aim at the records too big for 512 bytes, so TC and the
    // TCP retry are exercised often.
    let big = [
        "bigtxt1.diff.test.",
        "bigtxt2.diff.test.",
        "bigtxt3.diff.test.",
        "bigtxt4.diff.test.",
        "many.diff.test.",
    ];
    let aimed = rng.chance(5);
    let name = if aimed {
        let target = rng_pick(rng, &big);
        random_case(rng, target)
    } else {
        query_name(rng, zones)
    };
    let qname =
        oasis_dns::zone::text::name(name.as_bytes(), &Name::root()).expect("generated names parse");
    let qtype = if aimed {
        Type(*rng.pick(&[16u16, 1, 255]))
    } else {
        Type(*rng.pick(QTYPES))
    };
    let edns = if rng.chance(60) {
        Some(Edns {
            udp_size: *rng.pick(&[512u16, 1232, 4096, 600, 1400]),
            ext_rcode: 0,
            version: 0,
            dnssec_ok: rng.chance(50),
            z: 0,
            options: Vec::new(),
        })
    } else {
        None
    };
    let flags =
        if rng.chance(70) { flag::RD } else { 0 } | if rng.chance(20) { flag::CD } else { 0 };
    let m = Message {
        id,
        flags,
        questions: vec![Question {
            name: qname,
            qtype,
            qclass: Class::IN,
        }],
        answers: vec![],
        authorities: vec![],
        additionals: vec![],
        edns,
    };
    let mut out = Vec::new();
    m.emit(&mut out).expect("queries emit");
    out
}

fn rng_pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.below(xs.len())]
}

/// A record as compared: lower-cased names, uncompressed lower-cased RDATA.
pub fn canonical(r: &Record) -> String {
    let mut rd = r.rdata.to_wire();
    if matches!(
        r.rdata,
        RData::Ns(_) | RData::Cname(_) | RData::Ptr(_) | RData::Mx(..) | RData::Soa(_)
    ) || r.rtype == Type::DNAME
    {
        rd.make_ascii_lowercase();
    }
    let hex: String = rd.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{} {} {} {} {}",
        r.name.to_lowercase(),
        r.rtype,
        r.class.0,
        r.ttl,
        hex
    )
}

fn section(rs: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = rs.iter().map(canonical).collect();
    v.sort();
    v
}

/// Differences between two responses to the same query, as text.
pub fn compare(nsd: &Message, ours: &Message) -> Vec<String> {
    let mut d = Vec::new();
    if nsd.id != ours.id {
        d.push(format!("id {} vs {}", nsd.id, ours.id));
    }
    if nsd.flags != ours.flags {
        d.push(format!("flags {:04x} vs {:04x}", nsd.flags, ours.flags));
    }
    let q = |m: &Message| {
        m.questions
            .iter()
            .map(|q| format!("{} {} {}", q.name, q.qtype, q.qclass.0))
            .collect::<Vec<_>>()
    };
    if q(nsd) != q(ours) {
        d.push(format!("question {:?} vs {:?}", q(nsd), q(ours)));
    }
    let e = |m: &Message| {
        m.edns.as_ref().map(|e| {
            (
                e.udp_size,
                e.ext_rcode,
                e.version,
                e.dnssec_ok,
                e.options.clone(),
            )
        })
    };
    if e(nsd) != e(ours) {
        d.push(format!("edns {:?} vs {:?}", e(nsd), e(ours)));
    }
    for (what, a, b) in [
        ("answer", &nsd.answers, &ours.answers),
        ("authority", &nsd.authorities, &ours.authorities),
        ("additional", &nsd.additionals, &ours.additionals),
    ] {
        let (a, b) = (section(a), section(b));
        if a != b {
            d.push(format!("{what}:\n    nsd:   {a:?}\n    oasis: {b:?}"));
        }
    }
    d
}

pub fn describe(q: &[u8]) -> String {
    match Message::parse(q) {
        Ok(m) => format!(
            "{} {} edns={:?} flags={:04x}",
            m.questions[0].name,
            m.questions[0].qtype,
            m.edns.map(|e| (e.udp_size, e.dnssec_ok)),
            m.flags
        ),
        Err(e) => format!("unparseable query: {e}"),
    }
}

/// `q` asked of NSD and of oasis-dns over UDP: both responses, parsed.
pub fn udp_both(nsd: u16, oasis: u16, q: &[u8]) -> (Message, Message) {
    let a = super::server::udp_exchange(nsd, q)
        .unwrap_or_else(|e| panic!("NSD did not answer {}: {e}", describe(q)));
    let b = super::server::udp_exchange(oasis, q)
        .unwrap_or_else(|e| panic!("oasis-dns did not answer {}: {e}", describe(q)));
    (
        Message::parse(&a).expect("NSD response parses"),
        Message::parse(&b).expect("oasis response parses"),
    )
}

/// `q` asked again over the TCP connections to NSD and to oasis-dns.
pub fn tcp_both(
    nsd: &mut super::server::TcpClient,
    oasis: &mut super::server::TcpClient,
    q: &[u8],
) -> (Message, Message) {
    let ta = nsd.exchange(q).expect("NSD TCP answer");
    let tb = oasis.exchange(q).expect("oasis TCP answer");
    (
        Message::parse(&ta).expect("parses"),
        Message::parse(&tb).expect("parses"),
    )
}
