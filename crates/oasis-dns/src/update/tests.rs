//! RFC 2136's semantics, clause by clause: the form of the sections
//! (§2.4, §2.5, §3.1, §3.2, §3.4.1), the prerequisites (§3.2.5's
//! pseudocode and table), the changes (§3.4.2's pseudocode and its special
//! cases), the serial (§3.6), and the parser on generated and arbitrary
//! messages.

use super::*;
use crate::wire::{Message, Soa};
use crate::zone::parse_str;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn apex() -> Name {
    Name::from_wire(b"\x07example\x03org\x00").unwrap()
}

/// A name relative to example.org (`@` for the apex).
fn n(rel: &str) -> Name {
    crate::zone::text::name(rel.as_bytes(), &apex()).unwrap()
}

const ZONE: &str = "@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
@ NS ns2
@ MX 10 mail
ns1 A 192.0.2.1
ns2 A 192.0.2.2
www A 192.0.2.10
www A 192.0.2.11
www TXT \"web\"
alias CNAME www
mail A 192.0.2.25
deep.sub A 192.0.2.30
";

fn load(text: &str) -> Zone {
    let t = format!("$ORIGIN example.org.\n$TTL 300\n{text}");
    Zone::new(&apex(), parse_str(&t, "x.zone", &Name::root()).unwrap()).unwrap()
}

fn zone() -> Zone {
    load(ZONE)
}

/// One record in master-file syntax, relative to example.org.
fn rr(text: &str) -> Record {
    let t = format!("$ORIGIN example.org.\n$TTL 300\n{text}\n");
    parse_str(&t, "x.zone", &Name::root()).unwrap().remove(0)
}

/// The request with these prerequisites and changes, read back by the
/// parser (so every test also goes through the wire).
fn update(pre: &[Prerequisite], changes: &[Change]) -> Update {
    let p: Vec<Record> = pre.iter().map(Prerequisite::to_record).collect();
    let c: Vec<Record> = changes.iter().map(Change::to_record).collect();
    let u = Update::parse(&request(&apex(), 7, &p, &c)).unwrap();
    assert_eq!(
        (u.prerequisites.as_slice(), u.changes.as_slice()),
        (pre, changes)
    );
    u
}

fn rcode_of(z: &Zone, pre: &[Prerequisite]) -> Rcode {
    match update(pre, &[]).check(z) {
        Ok(()) => Rcode::NOERROR,
        Err(e) => e.rcode,
    }
}

/// The zone's records as sorted `name type ttl data` lines.
fn lines(z: &Zone) -> Vec<String> {
    let mut v: Vec<String> = z
        .nodes
        .values()
        .flat_map(|n| n.rrsets.iter())
        .flat_map(|s| s.records.iter())
        .map(|r| {
            format!(
                "{} {} {} {:?}",
                r.name.to_lowercase(),
                r.rtype,
                r.ttl,
                r.rdata.to_wire()
            )
        })
        .collect();
    v.sort();
    v
}

fn applied(z: &Zone, changes: &[Change]) -> Option<Applied> {
    update(&[], changes).apply(z).unwrap()
}

fn serial(z: &Zone) -> u32 {
    serial_of(z.soa())
}

fn has(z: &Zone, name: &str, t: Type) -> usize {
    z.nodes
        .get(&n(name))
        .and_then(|x| x.get(t))
        .map_or(0, |s| s.records.len())
}

// §3.1.1: one zone entry, of type SOA; §3.1.2: a class not served.
#[test]
fn the_zone_section_holds_one_soa_entry_of_class_in() {
    let good = request(&apex(), 1, &[], &[]);
    assert!(Update::parse(&good).is_ok());
    let mut none = good.clone();
    none[5] = 0;
    assert_eq!(
        Update::parse(&none[..12]).unwrap_err(),
        ParseError::ZoneCount(0)
    );
    let mut two = good.clone();
    two[5] = 2;
    two.extend_from_slice(&good[12..]);
    assert_eq!(Update::parse(&two).unwrap_err(), ParseError::ZoneCount(2));
    let mut a = good.clone();
    let end = a.len();
    a[end - 3] = 1; // ZTYPE A
    let e = Update::parse(&a).unwrap_err();
    assert_eq!(
        (e.clone(), e.rcode()),
        (ParseError::ZoneType(Type::A), Rcode::FORMERR)
    );
    let mut ch = good.clone();
    ch[end - 1] = 3; // ZCLASS CH
    let e = Update::parse(&ch).unwrap_err();
    assert_eq!(
        (e.clone(), e.rcode()),
        (ParseError::ZoneClass(Class::CH), Rcode::NOTAUTH)
    );
    // A query, a response, a NOTIFY: not UPDATE requests.
    let q = crate::xfr::query(&apex(), Type::SOA, 1);
    assert_eq!(Update::parse(&q).unwrap_err(), ParseError::NotUpdate);
    let mut resp = good.clone();
    resp[2] |= 0x80;
    assert_eq!(Update::parse(&resp).unwrap_err(), ParseError::NotUpdate);
    assert!(is_update(&good) && !is_update(&q) && !is_update(&resp));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        Update::parse(&trailing).unwrap_err(),
        ParseError::Malformed(Error::TrailingBytes(_))
    ));
}

/// A request with one raw record in the prerequisite (`pre`) or update
/// section.
fn one_raw(pre: bool, name: &Name, t: Type, class: Class, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut m = request(&apex(), 1, &[], &[]);
    m[if pre { 7 } else { 9 }] = 1;
    m.extend_from_slice(name.as_wire());
    m.extend_from_slice(&t.0.to_be_bytes());
    m.extend_from_slice(&class.0.to_be_bytes());
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(rdata);
    m
}

// §3.2 and §3.2.5's pseudocode: a prerequisite's TTL is 0, classes ANY
// and NONE carry no data, any other class but the zone's is FORMERR.
#[test]
fn a_malformed_prerequisite_is_formerr() {
    let www = n("www");
    let ok = |t, c, ttl, d: &[u8]| Update::parse(&one_raw(true, &www, t, c, ttl, d));
    assert!(ok(Type::A, Class::ANY, 0, &[]).is_ok());
    for (t, c, ttl, d) in [
        (Type::A, Class::ANY, 1, &[][..]),
        (Type::A, Class::ANY, 0, &[1, 2, 3, 4][..]),
        (Type::A, Class::NONE, 0, &[1, 2, 3, 4][..]),
        (Type::A, Class::CH, 0, &[1, 2, 3, 4][..]),
        (Type::A, Class::IN, 300, &[1, 2, 3, 4][..]),
        (Type::A, Class::IN, 0, &[1, 2, 3][..]),
        (Type::AXFR, Class::ANY, 0, &[][..]),
        (Type::ANY, Class::IN, 0, &[][..]),
    ] {
        let e = ok(t, c, ttl, d).unwrap_err();
        assert_eq!(e.rcode(), Rcode::FORMERR, "{t} {c:?} {ttl} {d:?}: {e}");
    }
}

// §3.4.1.2: the update section's prescan.
#[test]
fn a_malformed_change_is_formerr() {
    let www = n("www");
    let ok = |t, c, ttl, d: &[u8]| Update::parse(&one_raw(false, &www, t, c, ttl, d));
    assert_eq!(
        ok(Type::A, Class::NONE, 0, &[192, 0, 2, 10])
            .unwrap()
            .changes,
        [Change::DeleteRecord(
            www.clone(),
            Type::A,
            RData::A([192, 0, 2, 10])
        )]
    );
    assert_eq!(
        ok(Type::ANY, Class::ANY, 0, &[]).unwrap().changes,
        [Change::DeleteName(www.clone())]
    );
    for (t, c, ttl, d) in [
        (Type::ANY, Class::IN, 300, &[][..]),
        (Type::AXFR, Class::IN, 300, &[][..]),
        (Type::A, Class::IN, 300, &[][..]),
        (Type::A, Class::ANY, 300, &[][..]),
        (Type::A, Class::ANY, 0, &[1, 2, 3, 4][..]),
        (Type::IXFR, Class::ANY, 0, &[][..]),
        (Type::A, Class::NONE, 300, &[1, 2, 3, 4][..]),
        (Type::ANY, Class::NONE, 0, &[][..]),
        (Type::A, Class::CH, 0, &[1, 2, 3, 4][..]),
    ] {
        let e = ok(t, c, ttl, d).unwrap_err();
        assert_eq!(e.rcode(), Rcode::FORMERR, "{t} {c:?} {ttl} {d:?}: {e}");
        assert!(matches!(e, ParseError::Record(Part::Update, 0, _)), "{e}");
    }
}

// §2.4.1 and §3.2.1: "RRset exists (value independent)".
#[test]
fn rrset_exists_value_independent() {
    let z = zone();
    let p = |name: &str, t| Prerequisite::RrsetExists(n(name), t);
    assert_eq!(rcode_of(&z, &[p("www", Type::A)]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[p("WWW", Type::TXT)]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[p("www", Type::AAAA)]), Rcode::NXRRSET);
    assert_eq!(rcode_of(&z, &[p("nowhere", Type::A)]), Rcode::NXRRSET);
    // An empty non-terminal holds no RRset.
    assert_eq!(rcode_of(&z, &[p("sub", Type::A)]), Rcode::NXRRSET);
}

// §2.4.2 and §3.2.3: "RRset exists (value dependent)": the RRset is
// exactly the records given, in any order, TTLs aside.
#[test]
fn rrset_exists_value_dependent() {
    let z = zone();
    let is = |text: &str| Prerequisite::RrsetIs(Record { ttl: 0, ..rr(text) });
    let both = [is("www A 192.0.2.11"), is("www A 192.0.2.10")];
    assert_eq!(rcode_of(&z, &both), Rcode::NOERROR);
    // The same record twice counts once.
    let twice = [
        is("www A 192.0.2.11"),
        is("www A 192.0.2.10"),
        is("www A 192.0.2.10"),
    ];
    assert_eq!(rcode_of(&z, &twice), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &both[..1]), Rcode::NXRRSET, "a subset");
    let more = [both[0].clone(), both[1].clone(), is("www A 192.0.2.12")];
    assert_eq!(rcode_of(&z, &more), Rcode::NXRRSET, "a superset");
    assert_eq!(rcode_of(&z, &[is("nowhere A 192.0.2.1")]), Rcode::NXRRSET);
    // Names in the data compare without regard to case.
    assert_eq!(rcode_of(&z, &[is("alias CNAME WWW")]), Rcode::NOERROR);
    assert_eq!(
        rcode_of(&z, &[is("@ MX 10 MAIL.example.ORG.")]),
        Rcode::NOERROR
    );
    assert_eq!(rcode_of(&z, &[is("@ MX 20 mail")]), Rcode::NXRRSET);
}

// §2.4.3 and §3.2.2: "RRset does not exist".
#[test]
fn rrset_does_not_exist() {
    let z = zone();
    let p = |name: &str, t| Prerequisite::RrsetAbsent(n(name), t);
    assert_eq!(rcode_of(&z, &[p("www", Type::AAAA)]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[p("nowhere", Type::A)]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[p("www", Type::A)]), Rcode::YXRRSET);
}

// §2.4.4 and §2.4.5, §3.2.1 and §3.2.2: "name is in use", "name is not
// in use"; an empty non-terminal owns no records, so it is not in use.
#[test]
fn name_in_use_and_not_in_use() {
    let z = zone();
    let used = |name: &str| Prerequisite::NameInUse(n(name));
    let unused = |name: &str| Prerequisite::NameAbsent(n(name));
    assert_eq!(rcode_of(&z, &[used("alias")]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[used("nowhere")]), Rcode::NXDOMAIN);
    assert_eq!(rcode_of(&z, &[used("sub")]), Rcode::NXDOMAIN);
    assert_eq!(rcode_of(&z, &[unused("nowhere")]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[unused("sub")]), Rcode::NOERROR);
    assert_eq!(rcode_of(&z, &[unused("www")]), Rcode::YXDOMAIN);
}

// §3.2.5: the first failing prerequisite decides, in order; the
// value-dependent ones are compared last; NOTZONE for a name elsewhere.
#[test]
fn prerequisites_are_checked_in_order_and_whole_rrsets_last() {
    let z = zone();
    let wrong_set = Prerequisite::RrsetIs(Record {
        ttl: 0,
        ..rr("www A 192.0.2.99")
    });
    let in_use = Prerequisite::NameAbsent(n("www"));
    let missing = Prerequisite::NameInUse(n("nowhere"));
    assert_eq!(
        rcode_of(&z, &[wrong_set.clone(), in_use.clone()]),
        Rcode::YXDOMAIN
    );
    assert_eq!(
        rcode_of(&z, &[in_use.clone(), missing.clone()]),
        Rcode::YXDOMAIN
    );
    assert_eq!(rcode_of(&z, &[missing, in_use]), Rcode::NXDOMAIN);
    assert_eq!(rcode_of(&z, &[wrong_set]), Rcode::NXRRSET);
    let other = crate::zone::text::name(b"www.example.com.", &Name::root()).unwrap();
    let e = update(&[Prerequisite::NameInUse(other)], &[])
        .check(&z)
        .unwrap_err();
    assert_eq!(e.rcode, Rcode::NOTZONE, "{e}");
    // A failed prerequisite applies nothing.
    let u = update(
        &[Prerequisite::NameAbsent(n("www"))],
        &[Change::Add(rr("new A 192.0.2.50"))],
    );
    assert_eq!(u.apply(&z).unwrap_err().rcode, Rcode::YXDOMAIN);
}

// §3.4.2.2: "add to an RRset", a new RRset, or a new name; the SOA serial
// goes up by one (§3.6); the step holds what changed.
#[test]
fn adds_go_to_their_rrset_and_bump_the_serial() {
    let z = zone();
    let a = applied(
        &z,
        &[
            Change::Add(rr("www A 192.0.2.12")),
            Change::Add(rr("www AAAA 2001:db8::1")),
            Change::Add(rr("new.sub 60 TXT \"hello\"")),
        ],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "www", Type::A), 3);
    assert_eq!(has(&a.zone, "www", Type::AAAA), 1);
    assert_eq!(has(&a.zone, "new.sub", Type::TXT), 1);
    assert_eq!(serial(&a.zone), 2);
    assert_eq!((a.diff.from(), a.diff.to()), (1, 2));
    assert!(a.diff.deleted.is_empty());
    let mut added: Vec<String> = a.diff.added.iter().map(|r| r.name.to_string()).collect();
    added.sort();
    assert_eq!(
        added,
        [
            "new.sub.example.org.",
            "www.example.org.",
            "www.example.org."
        ]
    );
    // The step leads from the old zone to the new one.
    let again = crate::xfr::apply(&z, core::slice::from_ref(&a.diff)).unwrap();
    assert_eq!(lines(&again), lines(&a.zone));
    // The zone given is not touched.
    assert_eq!(has(&z, "www", Type::A), 2);
}

// §3.4.2.2: a record already there is not added twice (no change at all:
// no new serial), but takes the new TTL (a change).
#[test]
fn an_existing_record_is_not_duplicated_but_takes_the_new_ttl() {
    let z = zone();
    assert!(applied(&z, &[Change::Add(rr("www A 192.0.2.10"))]).is_none());
    assert!(applied(&z, &[Change::Add(rr("alias CNAME WWW"))]).is_none());
    let a = applied(&z, &[Change::Add(rr("www 60 A 192.0.2.10"))]).unwrap();
    let ttls: Vec<u32> = a.zone.nodes[&n("www")]
        .get(Type::A)
        .unwrap()
        .records
        .iter()
        .map(|r| r.ttl)
        .collect();
    assert!(ttls.contains(&60) && ttls.len() == 2, "{ttls:?}");
    assert_eq!((a.diff.deleted.len(), a.diff.added.len()), (1, 1));
}

// §3.4.2.2: CNAME and other data.
#[test]
fn cname_and_other_data_do_not_mix() {
    let z = zone();
    // A CNAME where other data is: ignored.
    assert!(applied(&z, &[Change::Add(rr("www CNAME mail"))]).is_none());
    // Other data where a CNAME is: ignored.
    assert!(applied(&z, &[Change::Add(rr("alias A 192.0.2.1"))]).is_none());
    // A CNAME replaces a CNAME.
    let a = applied(&z, &[Change::Add(rr("alias CNAME mail"))]).unwrap();
    let set = a.zone.nodes[&n("alias")].get(Type::CNAME).unwrap();
    assert_eq!(set.records.len(), 1);
    assert_eq!(set.records[0].rdata, RData::Cname(n("mail")));
    // Signatures may sit beside a CNAME.
    let a = applied(
        &z,
        &[Change::Add(Record {
            rtype: Type::RRSIG,
            rdata: RData::Other(vec![0, 5, 8, 3, 0, 0, 1, 44]),
            ..rr("alias A 192.0.2.1")
        })],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "alias", Type::RRSIG), 1);
    // Delete the other data and add a CNAME in one update: it applies in
    // order, so the CNAME goes in.
    let a = applied(
        &z,
        &[
            Change::DeleteName(n("mail")),
            Change::Add(rr("mail CNAME www")),
        ],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "mail", Type::CNAME), 1);
    assert_eq!(has(&a.zone, "mail", Type::A), 0);
}

// §3.4.2.2 and §3.6: an SOA replaces the apex SOA only with a newer serial
// (which then stands: no further bump); elsewhere or older, ignored.
#[test]
fn the_soa_is_replaced_only_at_the_apex_and_never_older() {
    let z = zone();
    let a = applied(
        &z,
        &[Change::Add(rr("@ SOA ns1 host 10 7200 600 86400 300"))],
    )
    .unwrap();
    assert_eq!(serial(&a.zone), 10);
    let RData::Soa(Soa { refresh, .. }) = a.zone.soa().rdata else {
        panic!()
    };
    assert_eq!(refresh, 7200);
    // The same serial, another field: replaced, and bumped by one.
    let a = applied(
        &z,
        &[Change::Add(rr("@ SOA ns1 host 1 7200 600 86400 300"))],
    )
    .unwrap();
    assert_eq!(serial(&a.zone), 2);
    // Older: ignored.
    let older = load(&ZONE.replace("host 1 ", "host 5 "));
    assert!(
        applied(
            &older,
            &[Change::Add(rr("@ SOA ns1 host 4 7200 600 86400 300"))]
        )
        .is_none()
    );
    // Not at the apex: ignored.
    assert!(
        applied(
            &z,
            &[Change::Add(rr("www SOA ns1 host 10 7200 600 86400 300"))]
        )
        .is_none()
    );
    // An older SOA with another change: the change is made, the serial
    // bumped from the zone's own.
    let a = applied(
        &older,
        &[
            Change::Add(rr("@ SOA ns1 host 4 7200 600 86400 300")),
            Change::Add(rr("www A 192.0.2.12")),
        ],
    )
    .unwrap();
    assert_eq!(serial(&a.zone), 6);
}

// §3.4.2.3: "delete an RRset", except the apex's SOA and NS.
#[test]
fn delete_an_rrset() {
    let z = zone();
    let a = applied(&z, &[Change::DeleteRrset(n("www"), Type::A)]).unwrap();
    assert_eq!(has(&a.zone, "www", Type::A), 0);
    assert_eq!(has(&a.zone, "www", Type::TXT), 1);
    assert_eq!(a.diff.deleted.len(), 2);
    for t in [Type::SOA, Type::NS] {
        assert!(
            applied(&z, &[Change::DeleteRrset(apex(), t)]).is_none(),
            "{t}"
        );
    }
    // The apex's other RRsets go.
    let a = applied(&z, &[Change::DeleteRrset(apex(), Type::MX)]).unwrap();
    assert_eq!(has(&a.zone, "@", Type::MX), 0);
    // Nothing there: no change.
    assert!(applied(&z, &[Change::DeleteRrset(n("www"), Type::AAAA)]).is_none());
    assert!(applied(&z, &[Change::DeleteRrset(n("nowhere"), Type::A)]).is_none());
}

// §3.4.2.3: "delete all RRsets from a name"; at the apex, SOA and NS stay.
#[test]
fn delete_all_rrsets_of_a_name() {
    let z = zone();
    let a = applied(&z, &[Change::DeleteName(n("www"))]).unwrap();
    assert!(!a.zone.nodes.contains_key(&n("www")));
    assert_eq!(a.diff.deleted.len(), 3);
    // The name is gone, and so is the empty non-terminal above a deleted leaf.
    let a = applied(&z, &[Change::DeleteName(n("deep.sub"))]).unwrap();
    assert!(!a.zone.names.contains(&n("sub")));
    let a = applied(&z, &[Change::DeleteName(apex())]).unwrap();
    assert_eq!(has(&a.zone, "@", Type::MX), 0);
    assert_eq!(has(&a.zone, "@", Type::NS), 2);
    assert_eq!(has(&a.zone, "@", Type::SOA), 1);
}

// §3.4.2.4: "delete an RR from an RRset"; never the SOA, never the apex's
// last NS.
#[test]
fn delete_an_rr_from_an_rrset() {
    let z = zone();
    let a = applied(
        &z,
        &[Change::DeleteRecord(
            n("www"),
            Type::A,
            RData::A([192, 0, 2, 10]),
        )],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "www", Type::A), 1);
    assert_eq!(a.diff.deleted, [rr("www A 192.0.2.10")]);
    // Not there: no change.
    assert!(
        applied(
            &z,
            &[Change::DeleteRecord(
                n("www"),
                Type::A,
                RData::A([192, 0, 2, 99])
            )]
        )
        .is_none()
    );
    let soa = z.soa().rdata.clone();
    assert!(applied(&z, &[Change::DeleteRecord(apex(), Type::SOA, soa)]).is_none());
    // Two NS at the apex: the first may go, the last stays.
    let a = applied(
        &z,
        &[
            Change::DeleteRecord(apex(), Type::NS, RData::Ns(n("NS1"))),
            Change::DeleteRecord(apex(), Type::NS, RData::Ns(n("ns2"))),
        ],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "@", Type::NS), 1);
    assert_eq!(
        a.zone.nodes[&apex()].get(Type::NS).unwrap().records[0].rdata,
        RData::Ns(n("ns2"))
    );
    // Below the apex, the last NS of a delegation may go.
    let d = load(&format!("{ZONE}child NS ns.child\nns.child A 192.0.2.40\n"));
    let a = applied(
        &d,
        &[Change::DeleteRecord(
            n("child"),
            Type::NS,
            RData::Ns(n("ns.child")),
        )],
    )
    .unwrap();
    assert_eq!(has(&a.zone, "child", Type::NS), 0);
}

// §3.4.1.3: a change outside the zone is NOTZONE, and nothing is applied.
#[test]
fn a_change_outside_the_zone_is_notzone() {
    let z = zone();
    let out = crate::zone::text::name(b"example.com.", &Name::root()).unwrap();
    let u = update(
        &[],
        &[Change::Add(rr("new A 192.0.2.50")), Change::DeleteName(out)],
    );
    assert_eq!(u.apply(&z).unwrap_err().rcode, Rcode::NOTZONE);
}

// §3.6 with RFC 1982: the serial wraps from 2³²-1 to 0.
#[test]
fn the_serial_wraps_around() {
    let z = load(&ZONE.replace("host 1 ", "host 4294967295 "));
    let a = applied(&z, &[Change::Add(rr("new A 192.0.2.50"))]).unwrap();
    assert_eq!(serial(&a.zone), 0);
    assert!(crate::xfr::serial_newer(0, 4_294_967_295));
}

// Additions then deletions of the same record in one update cancel out.
#[test]
fn changes_apply_in_order() {
    let z = zone();
    let r = rr("new A 192.0.2.50");
    assert!(
        applied(
            &z,
            &[
                Change::Add(r.clone()),
                Change::DeleteRecord(r.name.clone(), Type::A, r.rdata.clone()),
            ]
        )
        .is_none()
    );
}

/// RFC 2136's own scenario (§1, §2.4, §2.5): a host adds its address if
/// the name is free, a second attempt fails with YXDOMAIN; it replaces its
/// address only if the old one is there (value-dependent), and deletes it.
#[test]
fn a_host_registers_itself_and_moves() {
    let z = zone();
    let host = n("laptop");
    let first = update(
        &[Prerequisite::NameAbsent(host.clone())],
        &[Change::Add(rr("laptop 60 A 192.0.2.77"))],
    );
    let z1 = first.apply(&z).unwrap().unwrap().zone;
    assert_eq!(first.apply(&z1).unwrap_err().rcode, Rcode::YXDOMAIN);
    let moved = update(
        &[Prerequisite::RrsetIs(Record {
            ttl: 0,
            ..rr("laptop A 192.0.2.77")
        })],
        &[
            Change::DeleteRrset(host.clone(), Type::A),
            Change::Add(rr("laptop 60 A 192.0.2.78")),
        ],
    );
    let z2 = moved.apply(&z1).unwrap().unwrap().zone;
    assert_eq!(moved.apply(&z2).unwrap_err().rcode, Rcode::NXRRSET);
    assert_eq!(serial(&z2), 3);
    let gone = update(
        &[Prerequisite::NameInUse(host.clone())],
        &[Change::DeleteName(host)],
    );
    let z3 = gone.apply(&z2).unwrap().unwrap().zone;
    let no_soa = |z: &Zone| -> Vec<String> {
        lines(z)
            .into_iter()
            .filter(|l| !l.contains(" SOA "))
            .collect()
    };
    assert_eq!(no_soa(&z3), no_soa(&z), "all but the SOA as before");
    assert_eq!(gone.apply(&z3).unwrap_err().rcode, Rcode::NXDOMAIN);
}

#[test]
fn the_response_echoes_the_zone_section() {
    let req = request(
        &apex(),
        0x4242,
        &[],
        &[Change::Add(rr("new A 192.0.2.50")).to_record()],
    );
    let mut out = [0u8; 512];
    let len = response(&req, Rcode::NXRRSET, &mut out).unwrap();
    let m = Message::parse(&out[..len]).unwrap();
    assert_eq!(m.id, 0x4242);
    assert_eq!(m.flags, 0x8000 | 5 << 11 | 8);
    assert_eq!(m.questions[0].name, apex());
    assert!(m.answers.is_empty() && m.authorities.is_empty());
    // No readable zone section: the header alone.
    let mut bad = req[..14].to_vec();
    bad[4..12].fill(0);
    bad[5] = 1;
    let len = response(&bad, Rcode::FORMERR, &mut out).unwrap();
    assert_eq!(len, 12);
    assert_eq!(out[3] & 0xf, 1);
    assert!(response(&req[..5], Rcode::FORMERR, &mut out).is_none());
    // A zone name pointing into the header (found by the fuzz target
    // `update`): the response's own header would change what it names, so
    // the name is written out whole.
    let into_header = [0, 1, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 3, 0, 6, 0, 1];
    assert!(Message::parse(&into_header).is_ok());
    let len = response(&into_header, Rcode::FORMERR, &mut out).unwrap();
    let m = Message::parse(&out[..len]).unwrap();
    assert_eq!(
        m.questions[0].name,
        Message::parse(&into_header).unwrap().questions[0].name
    );
    assert!(response(&req, Rcode::FORMERR, &mut [0u8; 8]).is_none());
}

fn arb_name() -> impl Strategy<Value = Name> {
    proptest::collection::vec(
        proptest::collection::vec(prop::sample::select(b"abAB-x*".to_vec()), 1..5),
        0..3,
    )
    .prop_map(|labels| {
        let mut n = apex();
        for l in labels.iter().rev() {
            n = n.prepend(l).unwrap();
        }
        n
    })
}

fn arb_data() -> impl Strategy<Value = (Type, RData)> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| (Type::A, RData::A(a))),
        any::<[u8; 16]>().prop_map(|a| (Type::AAAA, RData::Aaaa(a))),
        arb_name().prop_map(|x| (Type::NS, RData::Ns(x))),
        arb_name().prop_map(|x| (Type::CNAME, RData::Cname(x))),
        (any::<u16>(), arb_name()).prop_map(|(p, x)| (Type::MX, RData::Mx(p, x))),
        proptest::collection::vec(any::<u8>(), 1..30).prop_map(|b| (Type::TXT, RData::Other(b))),
    ]
}

fn arb_type() -> impl Strategy<Value = Type> {
    prop::sample::select(vec![
        Type::A,
        Type::AAAA,
        Type::NS,
        Type::MX,
        Type::TXT,
        Type(65280),
    ])
}

fn arb_prerequisite() -> impl Strategy<Value = Prerequisite> {
    prop_oneof![
        (arb_name(), arb_type()).prop_map(|(x, t)| Prerequisite::RrsetExists(x, t)),
        (arb_name(), arb_type()).prop_map(|(x, t)| Prerequisite::RrsetAbsent(x, t)),
        arb_name().prop_map(Prerequisite::NameInUse),
        arb_name().prop_map(Prerequisite::NameAbsent),
        (arb_name(), arb_data()).prop_map(|(x, (t, d))| Prerequisite::RrsetIs(Record {
            name: x,
            rtype: t,
            class: Class::IN,
            ttl: 0,
            rdata: d
        })),
    ]
}

fn arb_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (arb_name(), any::<u32>(), arb_data()).prop_map(|(x, ttl, (t, d))| Change::Add(Record {
            name: x,
            rtype: t,
            class: Class::IN,
            ttl,
            rdata: d
        })),
        (arb_name(), arb_type()).prop_map(|(x, t)| Change::DeleteRrset(x, t)),
        arb_name().prop_map(Change::DeleteName),
        (arb_name(), arb_data()).prop_map(|(x, (t, d))| Change::DeleteRecord(x, t, d)),
    ]
}

proptest! {
    /// parse(request(p, c)) gives back p and c; the result applies to a
    /// zone without panicking, and a change it makes is a step IXFR can
    /// replay.
    #[test]
    fn requests_parse_back_and_apply(
        pre in proptest::collection::vec(arb_prerequisite(), 0..4),
        changes in proptest::collection::vec(arb_change(), 0..8),
        id in any::<u16>(),
    ) {
        let p: Vec<Record> = pre.iter().map(Prerequisite::to_record).collect();
        let c: Vec<Record> = changes.iter().map(Change::to_record).collect();
        let msg = request(&apex(), id, &p, &c);
        let u = Update::parse(&msg).unwrap();
        prop_assert_eq!(u.id, id);
        prop_assert_eq!(&u.prerequisites, &pre);
        prop_assert_eq!(&u.changes, &changes);
        let z = zone();
        match u.apply(&z) {
            Ok(Some(a)) => {
                prop_assert!(crate::xfr::serial_newer(serial(&a.zone), serial(&z)));
                let again = crate::xfr::apply(&z, core::slice::from_ref(&a.diff)).unwrap();
                prop_assert_eq!(lines(&again), lines(&a.zone));
                prop_assert_eq!(a.zone.soa().name.clone(), apex());
            }
            Ok(None) => {}
            Err(e) => prop_assert!(
                [Rcode::NXDOMAIN, Rcode::YXDOMAIN, Rcode::NXRRSET, Rcode::YXRRSET, Rcode::SERVFAIL]
                    .contains(&e.rcode),
                "{}", e
            ),
        }
    }

    /// Any bytes: the parser gives an UPDATE or an error, never a panic,
    /// and the response to them is well formed when there is one.
    #[test]
    fn any_bytes_parse_or_fail_cleanly(mut bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if bytes.len() > 3 {
            bytes[2] = bytes[2] & 0x87 | 5 << 3;
        }
        if let Ok(u) = Update::parse(&bytes) {
            let _ = u.apply(&zone());
        }
        let mut out = [0u8; 512];
        if let Some(len) = response(&bytes, Rcode::FORMERR, &mut out) {
            prop_assert!(Message::parse(&out[..len]).is_ok());
        }
    }

    /// A request cut short anywhere is malformed, not a panic.
    #[test]
    fn a_truncated_request_is_malformed(
        changes in proptest::collection::vec(arb_change(), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let c: Vec<Record> = changes.iter().map(Change::to_record).collect();
        let msg = request(&apex(), 1, &[], &c);
        let at = cut.index(msg.len());
        prop_assert!(Update::parse(&msg[..at]).is_err());
    }
}

#[test]
fn next_serial_changes_the_serial_alone() {
    let z = zone();
    let a = Update::next_serial(&z)
        .apply(&z)
        .unwrap()
        .expect("a new version");
    assert_eq!(serial(&a.zone), serial(&z) + 1);
    assert_eq!(
        lines(&a.zone)
            .into_iter()
            .filter(|l| !l.contains("SOA"))
            .collect::<Vec<_>>(),
        lines(&z)
            .into_iter()
            .filter(|l| !l.contains("SOA"))
            .collect::<Vec<_>>()
    );
    assert!(a.diff.added.is_empty() && a.diff.deleted.is_empty());
    assert_eq!(serial_of(&a.diff.new_soa), serial(&z) + 1);
    // RFC 1982: past 2^32 - 1 the serial wraps and is still newer.
    let mut top = z.clone();
    bump_serial(&mut top, u32::MAX);
    let a = Update::next_serial(&top).apply(&top).unwrap().unwrap();
    assert_eq!(serial(&a.zone), 0);
}
