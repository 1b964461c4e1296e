//! Generated zones and queries for the differential test, from a fixed seed.

use std::fmt::Write;

/// xorshift64*: small, deterministic, good enough to pick test cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn label(&mut self) -> String {
        let len = 1 + self.below(8);
        (0..len)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

/// A generated zone: its text, and names worth asking about (absolute).
pub struct GenZone {
    pub apex: String,
    pub text: String,
    pub names: Vec<String>,
}

fn long_string(rng: &mut Rng, len: usize) -> String {
    (0..len)
        .map(|_| (b'a' + rng.below(26) as u8) as char)
        .collect()
}

/// The main test zone: every feature the differential test covers.
pub fn main_zone(rng: &mut Rng, apex: &str) -> GenZone {
    let mut t = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        names.push(if n == "@" {
            apex.to_string()
        } else {
            format!("{n}.{apex}")
        })
    };
    let _ = writeln!(t, "$ORIGIN {apex}\n$TTL 3600");
    let _ = writeln!(t, "@ SOA ns1 hostmaster 2024010101 7200 3600 1209600 300");
    let _ = writeln!(
        t,
        "@ NS ns1\n@ NS ns2.elsewhere.example.\n@ MX 10 mail\n@ MX 20 mail2.elsewhere.example."
    );
    let _ = writeln!(t, "@ TXT \"v=spf1 -all\"\n@ CAA 0 issue \"ca.example\"");
    let _ = writeln!(
        t,
        "ns1 A 192.0.2.1\nns1 AAAA 2001:db8::1\nmail 300 A 192.0.2.2\nmail AAAA 2001:db8::2"
    );
    for n in ["@", "ns1", "mail"] {
        add(n);
    }
    // Plain hosts, some with several addresses and types.
    for i in 0..30 {
        let _ = writeln!(t, "host{i} A 10.0.{}.{}", i / 256, i % 256);
        if rng.chance(40) {
            let _ = writeln!(t, "host{i} A 10.1.{}.{}", i / 256, i % 256);
        }
        if rng.chance(40) {
            let _ = writeln!(t, "host{i} AAAA 2001:db8:1::{i:x}");
        }
        if rng.chance(20) {
            let _ = writeln!(t, "host{i} 120 TXT \"host {i}\" \"second string\"");
        }
        add(&format!("host{i}"));
    }
    let _ = writeln!(
        t,
        "_sip._tcp SRV 10 60 5060 host1\n_sip._tcp SRV 20 0 5060 mail.elsewhere.example."
    );
    let _ = writeln!(
        t,
        "ptr PTR host2\nnaptr NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._tcp"
    );
    for n in ["_sip._tcp", "ptr", "naptr"] {
        add(n);
    }
    // Names that differ only in letter case: one node in DNS.
    let _ = writeln!(
        t,
        "CaseHost A 192.0.2.50\ncasehost A 192.0.2.51\nCASEHOST TXT \"case\"\nMiXeD.CaSe A 192.0.2.52"
    );
    for n in ["casehost", "mixed.case", "case"] {
        add(n);
    }
    // Empty non-terminals.
    let _ = writeln!(
        t,
        "a.b.c.ent A 192.0.2.60\nx.ent TXT \"x\"\ny.z.ent AAAA 2001:db8::60"
    );
    for n in [
        "a.b.c.ent",
        "b.c.ent",
        "c.ent",
        "ent",
        "x.ent",
        "z.ent",
        "y.z.ent",
    ] {
        add(n);
    }
    // Delegations, with in-zone glue, out-of-zone servers, and a DS.
    for i in 0..5 {
        let _ = writeln!(t, "sub{i} NS ns.sub{i}\nns.sub{i} A 192.0.2.{}", 100 + i);
        if i % 2 == 0 {
            let _ = writeln!(t, "sub{i} NS ns1\nns.sub{i} AAAA 2001:db8::{:x}", 100 + i);
        }
        if i == 3 {
            let _ = writeln!(t, "sub{i} NS ns.far.example.");
        }
        if i == 4 {
            let _ = writeln!(t, "sub{i} DS 12345 8 2 {}", "ab".repeat(32));
        }
        for n in [
            format!("sub{i}"),
            format!("ns.sub{i}"),
            format!("deep.x.sub{i}"),
        ] {
            add(&n);
        }
    }
    let _ = writeln!(t, "outsub NS ns.far.example.");
    add("outsub");
    // A delegation whose glue does not fit in 512 bytes.
    for i in 0..12 {
        let _ = writeln!(
            t,
            "wide NS ns{i}.wide\nns{i}.wide A 192.0.2.{}\nns{i}.wide AAAA 2001:db8::{:x}",
            150 + i,
            150 + i
        );
    }
    for n in ["wide", "x.wide", "ns3.wide"] {
        add(n);
    }
    // Wildcards, one blocked below by an existing name and an ENT.
    let _ = writeln!(t, "*.w0 A 192.0.2.70\n*.w0 TXT \"wild\"\n*.w0 MX 5 mail");
    let _ = writeln!(t, "exist.w0 A 192.0.2.71\nleaf.ent.w0 A 192.0.2.72");
    let _ = writeln!(
        t,
        "*.w1 CNAME host1\n*.w2 CNAME nowhere\n*.w3 AAAA 2001:db8::73\n*.w3 A 192.0.2.73"
    );
    let _ = writeln!(t, "*.w4 CNAME x.w0");
    for n in [
        "w0",
        "*.w0",
        "exist.w0",
        "ent.w0",
        "leaf.ent.w0",
        "w1",
        "w2",
        "w3",
        "w4",
        "*.w1",
    ] {
        add(n);
    }
    // CNAME chains: to hosts, to nothing, into cuts, into wildcards,
    // out of the zone, into DNAMEs, and loops.
    let targets = [
        "host1".to_string(),
        "host2".into(),
        "nothing".into(),
        "x.sub1".into(),
        "sub2".into(),
        "q.w0".into(),
        "q.w1".into(),
        "q.w2".into(),
        "www.elsewhere.example.".into(),
        "ent".into(),
        "leaf.dn1".into(),
        "far.dn0".into(),
        "casehost".into(),
        "bigtxt0".into(),
    ];
    for i in 0..24 {
        let next = if i % 4 != 3 {
            format!("chain{}", i + 1)
        } else {
            rng.pick(&targets).clone()
        };
        let _ = writeln!(t, "chain{i} CNAME {next}");
        add(&format!("chain{i}"));
    }
    let _ = writeln!(
        t,
        "loop0 CNAME loop1\nloop1 CNAME loop2\nloop2 CNAME LOOP0\nself CNAME self"
    );
    for n in ["loop0", "loop1", "loop2", "self"] {
        add(n);
    }
    // DNAME: out of the zone, and onto a subtree of the zone.
    let _ = writeln!(t, "dn0 DNAME elsewhere.example.\ndn1 DNAME tree");
    let _ = writeln!(
        t,
        "tree A 192.0.2.80\nleaf.tree A 192.0.2.81\nleaf.tree TXT \"leaf\"\na.b.tree A 192.0.2.82"
    );
    let _ = writeln!(t, "*.wt.tree A 192.0.2.83");
    for n in [
        "dn0",
        "dn1",
        "x.dn0",
        "leaf.dn1",
        "b.dn1",
        "a.b.dn1",
        "q.wt.dn1",
        "nope.dn1",
        "tree",
        "leaf.tree",
    ] {
        add(n);
    }
    // TXT records big enough to need EDNS or TCP.
    for (i, len) in [300usize, 700, 1100, 1500, 3000].into_iter().enumerate() {
        let _ = write!(t, "bigtxt{i} TXT");
        let mut left = len;
        while left > 0 {
            let n = left.min(250);
            let _ = write!(t, " \"{}\"", long_string(rng, n));
            left -= n;
        }
        let _ = writeln!(t);
        add(&format!("bigtxt{i}"));
    }
    // Many records in one RRset, also past 512 bytes.
    for i in 0..40 {
        let _ = writeln!(t, "many A 10.9.0.{i}");
    }
    add("many");
    GenZone {
        apex: apex.to_string(),
        text: t,
        names,
    }
}

/// A small second zone, to check that several zones are served at once.
pub fn second_zone(apex: &str) -> GenZone {
    let text = format!(
        "$ORIGIN {apex}\n$TTL 600\n@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\nns A 198.51.100.1\n\
www CNAME @\n@ A 198.51.100.2\n*.any TXT \"any\"\n"
    );
    let names = ["@", "ns", "www", "x.any", "any", "nope"]
        .iter()
        .map(|n| {
            if *n == "@" {
                apex.to_string()
            } else {
                format!("{n}.{apex}")
            }
        })
        .collect();
    GenZone {
        apex: apex.to_string(),
        text,
        names,
    }
}

/// A child zone served beside its parent (the parent delegates `sub0`),
/// so answers must come from the child at and below the cut, except DS.
pub fn child_zone(apex: &str) -> GenZone {
    let text = format!(
        "$ORIGIN {apex}\n$TTL 900\n@ SOA ns hostmaster 3 3600 600 86400 120\n@ NS ns\nns A 192.0.2.100\n\
www A 192.0.2.200\n*.wild TXT \"child wildcard\"\ndeeper NS ns.deeper\nns.deeper A 192.0.2.201\n"
    );
    let names = [
        "@", "ns", "www", "x.wild", "deeper", "a.deeper", "nope", "x",
    ]
    .iter()
    .map(|n| {
        if *n == "@" {
            apex.to_string()
        } else {
            format!("{n}.{apex}")
        }
    })
    .collect();
    GenZone {
        apex: apex.to_string(),
        text,
        names,
    }
}

/// Query types worth asking, with repeats as weights.
pub const QTYPES: &[u16] = &[
    1, 1, 1, 28, 28, 15, 16, 16, 2, 6, 5, 39, 33, 43, 255, 12, 35, 257, 999, 46,
];

/// Flips the case of letters at random, as a resolver using 0x20 does.
pub fn random_case(rng: &mut Rng, name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() && rng.chance(50) {
                (c as u8 ^ 0x20) as char
            } else {
                c
            }
        })
        .collect()
}

/// A query name: existing names, their children, new names, other zones.
pub fn query_name(rng: &mut Rng, zones: &[GenZone]) -> String {
    let z = rng.pick(zones);
    let base = rng.pick(&z.names).clone();
    let name = match rng.below(100) {
        0..=44 => base,
        45..=64 => format!("{}.{base}", rng.label()),
        65..=72 => format!("{}.{}.{base}", rng.label(), rng.label()),
        73..=84 => format!("{}.{}", rng.label(), z.apex),
        85..=89 => format!("{}.invalid.", rng.label()),
        90..=94 => format!("{}example.", rng.label()),
        _ => format!("*.{base}"),
    };
    if rng.chance(60) {
        random_case(rng, &name)
    } else {
        name
    }
}

/// Owners and targets of the random zones: overlapping on purpose, so that
/// CNAMEs, DNAMEs, cuts and wildcards land on each other.
const RANDOM_OWNERS: &[&str] = &[
    "@", "a", "b.a", "*.a", "c.b.a", "*", "x", "*.x", "d", "y.d", "e.y.d", "*.y.d", "sub",
    "ns.sub", "z.sub", "w.x",
];
const RANDOM_TARGETS: &[&str] = &[
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

/// A small zone of records in random places, kept to what NSD accepts: no
/// data below a DNAME, a CNAME alone at its owner, one CNAME or DNAME each.
pub fn random_zone(rng: &mut Rng, apex: &str) -> GenZone {
    let mut records: Vec<(String, &str, String)> = Vec::new();
    for _ in 0..3 + rng.below(12) {
        let owner = rng.pick(RANDOM_OWNERS).to_string();
        let target = rng.pick(RANDOM_TARGETS).to_string();
        let n = rng.below(256);
        let (t, data) = match rng.below(7) {
            0 => ("A", format!("192.0.2.{n}")),
            1 => ("AAAA", format!("2001:db8::{n:x}")),
            2 => ("CNAME", target),
            3 => ("DNAME", target),
            4 => ("NS", target),
            5 => ("MX", format!("{n} {target}")),
            _ => ("TXT", format!("\"{}\"", "t".repeat(n))),
        };
        if owner == "@" && matches!(t, "CNAME" | "DNAME") {
            continue;
        }
        records.push((owner, t, data));
    }
    let abs = |o: &str| {
        if o == "@" {
            apex.to_string()
        } else {
            format!("{o}.{apex}")
        }
    };
    let dnames: Vec<String> = records
        .iter()
        .filter(|r| r.1 == "DNAME")
        .map(|r| abs(&r.0))
        .collect();
    let mut kept: Vec<(String, &str, String)> = Vec::new();
    for r in records {
        let owner = abs(&r.0);
        if dnames
            .iter()
            .any(|d| owner.len() > d.len() && owner.ends_with(&format!(".{d}")))
        {
            continue;
        }
        let same: Vec<&str> = kept.iter().filter(|k| k.0 == r.0).map(|k| k.1).collect();
        let single = |t: &str| t == "CNAME";
        if (single(r.1) && !same.is_empty())
            || same.iter().any(|t| single(t))
            || (r.1 == "DNAME" && same.contains(&"DNAME"))
        {
            continue;
        }
        kept.push(r);
    }
    let mut text =
        format!("$ORIGIN {apex}\n$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.53\n");
    for (o, t, d) in &kept {
        text.push_str(&format!("{o} {t} {d}\n"));
    }
    let mut names: Vec<String> = RANDOM_OWNERS.iter().map(|o| abs(o)).collect();
    names.extend(
        RANDOM_TARGETS
            .iter()
            .filter(|t| !t.ends_with('.'))
            .map(|t| abs(t)),
    );
    GenZone {
        apex: apex.to_string(),
        text,
        names,
    }
}
