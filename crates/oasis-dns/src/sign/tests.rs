use super::*;
use crate::engine::dnssec::Signed;
use crate::engine::resolve_signed;
use crate::wire::Rcode;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;

fn name(s: &str) -> Name {
    crate::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

// Keys written by `ldns-keygen` 1.8.3 (`-a ECDSAP256SHA256 t.test`, `-a
// ED25519 -k t.test`).
const ECDSA_KEY: &str = "t.test.\tIN\tDNSKEY\t256 3 13 vDPLO3c7rT54jL+89J6s7WICqeX/2c0xq+jh8ApVBBFo/AWjWyQeOUWHS5qD76VZMd2EWp3PJ/Zq07zMtdB9GA== ;{id = 30702 (zsk), size = 256b}\n";
const ECDSA_PRIVATE: &str = "Private-key-format: v1.2\nAlgorithm: 13 (ECDSAP256SHA256)\nPrivateKey: rEaiv2+Ta7jEoPH+9EUZoVKZvxJUVjZdSrse6Hd05fU=\n";
const ED_KEY: &str = "t.test.\tIN\tDNSKEY\t257 3 15 kQ6Q7j9c2siS5R7NCgfyIe6SNPhepk4d7YuVT3O5YL8= ;{id = 5553 (ksk), size = 256b}\n";
const ED_PRIVATE: &str = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: 1dAqDhRtSmDTPHNAxUea8L6KkHc2ylBB4eMrJKsQEwo=\n";

fn keys() -> (Key, Key) {
    let apex = name("t.test.");
    let zsk = Key::from_files(("z.private", ECDSA_PRIVATE), ("z.key", ECDSA_KEY), &apex).unwrap();
    let ksk = Key::from_files(("k.private", ED_PRIVATE), ("k.key", ED_KEY), &apex).unwrap();
    (zsk, ksk)
}

#[test]
fn keys_from_ldns_keygen_have_its_tags_and_flags() {
    let (zsk, ksk) = keys();
    assert_eq!((zsk.tag(), zsk.flags(), zsk.is_ksk()), (30702, 256, false));
    assert_eq!((ksk.tag(), ksk.flags(), ksk.is_ksk()), (5553, 257, true));
    assert_eq!(zsk.algorithm(), Algorithm::EcdsaP256Sha256);
    assert_eq!(ksk.algorithm(), Algorithm::Ed25519);
}

#[test]
fn rfc_8080_example_signature_is_reproduced() {
    // RFC 8080 §6.1: the Ed25519 key and the RRSIG over the MX RRset.
    let private = "Private-key-format: v1.2\nAlgorithm: 15 (ED25519)\nPrivateKey: ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=\n";
    let key = Key::from_private("rfc8080.private", private, KSK_FLAGS).unwrap();
    let public = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
    )
    .unwrap();
    assert_eq!(key.public_key(), public.as_slice());
    assert_eq!(key.tag(), 3613);
    let apex = name("example.com.");
    let mx = Record {
        name: apex.clone(),
        rtype: Type::MX,
        class: Class::IN,
        ttl: 3600,
        rdata: RData::Mx(10, name("mail.example.com.")),
    };
    let opts = Options {
        inception: 1438207200,
        expiration: 1440021600,
        denial: Denial::Nsec,
    };
    let header = rrsig_header(&mx, &key, &apex, &opts);
    let sig = key.sign(&signed_data(&header, &[mx]));
    let want = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg==",
    )
    .unwrap();
    assert_eq!(sig, want);
}

#[test]
fn private_key_errors_name_file_line_and_why() {
    let e = Key::from_private(
        "k.private",
        "Private-key-format: v1.3\nAlgorithm: 8 (RSASHA256)\n",
        257,
    )
    .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("k.private", 2));
    assert!(e.message.contains("algorithm 13"), "{e}");
    let e = Key::from_private("k.private", "Algorithm: 13\nPrivateKey: AAAA\n", 257).unwrap_err();
    assert_eq!(
        e.to_string(),
        "k.private: a `Private-key-format: v1.x` line"
    );
    let e = Key::from_private(
        "k.private",
        "Private-key-format: v1.2\nAlgorithm: 13\nPrivateKey: !!\n",
        257,
    )
    .unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("base64"), "{e}");
    let e = Key::from_private(
        "k.private",
        "Private-key-format: v1.2\nAlgorithm: 13\nPrivateKey: AAAA\n",
        257,
    )
    .unwrap_err();
    assert!(e.message.contains("P-256"), "{e}");
    let e =
        Key::from_private("k.private", "Private-key-format: v1.2\nno colon\n", 257).unwrap_err();
    assert_eq!(e.line, 2);
    let e = Key::from_private(
        "k.private",
        "Private-key-format: v1.2\nPrivate-key-format: v1.2\n",
        257,
    )
    .unwrap_err();
    assert_eq!(e.line, 2);
    // The zero scalar is no key.
    let zero = "Private-key-format: v1.2\nAlgorithm: 13\nPrivateKey: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    assert!(Key::from_private("k.private", zero, 257).is_err());
}

#[test]
fn a_public_key_file_must_match_its_private_key() {
    let apex = name("t.test.");
    let e = Key::from_files(("z.private", ECDSA_PRIVATE), ("k.key", ED_KEY), &apex).unwrap_err();
    assert_eq!(e.file, "k.key");
    assert!(e.message.contains("public key of z.private"), "{e}");
    let e = Key::from_files(
        ("z.private", ECDSA_PRIVATE),
        ("z.key", ECDSA_KEY),
        &name("other.test."),
    )
    .unwrap_err();
    assert!(e.message.contains("zone other.test."), "{e}");
    let e = Key::from_files(
        ("z.private", ECDSA_PRIVATE),
        ("z.key", "t.test. IN A 1.2.3.4\n"),
        &apex,
    )
    .unwrap_err();
    assert!(e.message.contains("a DNSKEY record"), "{e}");
    let e = Key::from_files(
        ("z.private", ECDSA_PRIVATE),
        ("z.key", "t.test. IN DNSKEY 1 2\n"),
        &apex,
    )
    .unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("z.key", 1));
}

#[test]
fn bitmaps_and_base32hex() {
    // RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
    let types: BTreeSet<u16> = [1, 15, 46, 47, 1234].into_iter().collect();
    assert_eq!(
        type_bitmap(&types),
        vec![
            0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03, 0x04, 0x1b, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x20
        ]
    );
    let h = crate::zone::text::base32hex(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom").unwrap();
    assert_eq!(base32hex(&h), b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
}

/// Checks an RRSIG `sig` over `rrset` with the zone's `keys` as a
/// validator does (RFC 4035 §5.3): fields, then the signature.
fn verifies(sig: &Record, rrset: &[Record], keys: &[Key], apex: &Name) -> bool {
    let RData::Other(w) = &sig.rdata else {
        return false;
    };
    let signer_at = 18;
    let Ok((signer, end)) = Name::parse(w, signer_at) else {
        return false;
    };
    if signer != *apex || u16::from_be_bytes([w[0], w[1]]) != rrset[0].rtype.0 {
        return false;
    }
    let tag = u16::from_be_bytes([w[16], w[17]]);
    let Some(key) = keys
        .iter()
        .find(|k| k.tag() == tag && k.algorithm().number() == w[2])
    else {
        return false;
    };
    let data = signed_data(&w[..end], rrset);
    let s = &w[end..];
    match key.algorithm() {
        Algorithm::EcdsaP256Sha256 => {
            use p256::ecdsa::signature::Verifier;
            let mut point = vec![4u8];
            point.extend_from_slice(key.public_key());
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
            let Ok(sig) = p256::ecdsa::Signature::from_slice(s) else {
                return false;
            };
            vk.verify(&data, &sig).is_ok()
        }
        Algorithm::Ed25519 => {
            let vk = ed25519_dalek::VerifyingKey::from_bytes(key.public_key().try_into().unwrap())
                .unwrap();
            let Ok(sig) = ed25519_dalek::Signature::from_slice(s) else {
                return false;
            };
            vk.verify_strict(&data, &sig).is_ok()
        }
    }
}

/// Every RRset of `records` other than RRSIGs, with the RRSIGs over it.
fn rrsets(records: &[Record]) -> Vec<(Vec<Record>, Vec<Record>)> {
    let mut out: Vec<(Vec<Record>, Vec<Record>)> = Vec::new();
    for r in records.iter().filter(|r| r.rtype != Type::RRSIG) {
        match out
            .iter_mut()
            .find(|(s, _)| s[0].name == r.name && s[0].rtype == r.rtype)
        {
            Some((s, _)) => s.push(r.clone()),
            None => out.push((vec![r.clone()], Vec::new())),
        }
    }
    for (set, sigs) in &mut out {
        sigs.extend(records.iter().filter(|r| {
            r.rtype == Type::RRSIG
                && r.name == set[0].name
                && matches!(&r.rdata, RData::Other(w) if u16::from_be_bytes([w[0], w[1]]) == set[0].rtype.0)
        }).cloned());
    }
    out
}

fn zone_of(text: &str) -> Zone {
    let apex = name("t.test.");
    Zone::new(
        &apex,
        crate::zone::parse_str(text, "t.zone", &apex).unwrap(),
    )
    .unwrap()
}

const ZONE: &str = "$ORIGIN t.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n\
www A 192.0.2.2\nWWW AAAA 2001:db8::1\n*.wild TXT \"w\"\na.b.ent A 192.0.2.3\n\
sub NS ns.sub\nns.sub A 192.0.2.4\nsec NS ns.sec\nsec DS 1 13 2 00112233\n\
srv SRV 0 0 53 NS1.T.TEST.\n";

#[test]
fn every_authoritative_rrset_is_signed_and_verifies() {
    let (zsk, ksk) = keys();
    let keys = [zsk, ksk];
    for denial in [
        Denial::Nsec,
        Denial::nsec3(),
        Denial::Nsec3 {
            iterations: 3,
            salt: vec![0xc0, 0xff],
            opt_out: true,
        },
    ] {
        let opts = Options::at(1_800_000_000, 14 * 86400, denial.clone());
        let signed = sign(&zone_of(ZONE), &keys, &opts, None).unwrap();
        let all: Vec<Record> = crate::xfr::zone_records(&signed);
        for (set, sigs) in rrsets(&all) {
            let owner = set[0].name.to_string();
            let t = set[0].rtype;
            let unsigned = (owner == "ns.sub.t.test." || owner == "ns.sec.t.test.")
                || (t == Type::NS && (owner == "sub.t.test." || owner == "sec.t.test."));
            if unsigned {
                assert!(sigs.is_empty(), "{owner} {t} is signed ({denial:?})");
                continue;
            }
            let by: Vec<u16> = sigs
                .iter()
                .filter(|s| verifies(s, &set, &keys, &signed.apex))
                .map(|s| match &s.rdata {
                    RData::Other(w) => u16::from_be_bytes([w[16], w[17]]),
                    _ => 0,
                })
                .collect();
            let want = if t == Type::DNSKEY {
                vec![5553]
            } else {
                vec![30702]
            };
            assert_eq!(by, want, "{owner} {t} ({denial:?})");
        }
        let has = |t: Type| all.iter().any(|r| r.rtype == t);
        match denial {
            Denial::Nsec => assert!(has(Type::NSEC) && !has(Type::NSEC3)),
            Denial::Nsec3 { opt_out, .. } => {
                assert!(has(Type::NSEC3) && has(Type::NSEC3PARAM) && !has(Type::NSEC));
                let n3 = all.iter().filter(|r| r.rtype == Type::NSEC3).count();
                // apex ns1 www *.wild wild a.b.ent b.ent ent sub sec srv, less
                // sub when opting out.
                assert_eq!(n3, if opt_out { 10 } else { 11 });
            }
        }
        // Signing again with the same times gives the same zone, and
        // with the previous zone given, too.
        let again = sign(&signed, &keys, &opts, Some(&signed)).unwrap();
        let mut a = crate::xfr::zone_records(&again);
        let mut b = all.clone();
        a.sort_by_key(|r| (r.name.clone(), r.rtype.0, r.rdata.to_wire()));
        b.sort_by_key(|r| (r.name.clone(), r.rtype.0, r.rdata.to_wire()));
        assert_eq!(a, b);
    }
}

#[test]
fn one_csk_signs_everything() {
    let (zsk, _) = keys();
    let csk = Key::from_private("c.private", ECDSA_PRIVATE, KSK_FLAGS).unwrap();
    assert_ne!(csk.tag(), zsk.tag(), "the flags are part of the tag");
    let opts = Options::at(1_800_000_000, 86400, Denial::Nsec);
    let signed = sign(&zone_of(ZONE), core::slice::from_ref(&csk), &opts, None).unwrap();
    let apex = signed.nodes.get(&signed.apex).unwrap();
    assert_eq!(apex.get(Type::DNSKEY).unwrap().records.len(), 1);
    for t in [Type::DNSKEY, Type::SOA, Type::NS, Type::NSEC] {
        assert_eq!(crate::engine::dnssec::sigs(apex, t).count(), 1, "{t}");
    }
}

#[test]
fn unchanged_rrsets_keep_their_signatures() {
    let (zsk, ksk) = keys();
    let keys = [zsk, ksk];
    let opts = Options::at(1_800_000_000, 86400, Denial::nsec3());
    let before = sign(&zone_of(ZONE), &keys, &opts, None).unwrap();
    let changed = zone_of(&format!("{ZONE}new A 192.0.2.9\n"));
    let (after, fresh) = sign_changes(&changed, &keys, &opts, Some(&before)).unwrap();
    let diff = crate::xfr::diff(&before, &after);
    // The step worked out at the names that changed is the same.
    let mut names = fresh.clone();
    names.insert(name("new.t.test."));
    let at = diff_at(&before, &after, &names);
    let sorted = |mut v: Vec<Record>| {
        v.sort_by_key(|r| (r.name.clone(), r.rtype.0, r.rdata.to_wire()));
        v
    };
    assert_eq!(sorted(at.added.clone()), sorted(diff.added.clone()));
    assert_eq!(sorted(at.deleted.clone()), sorted(diff.deleted.clone()));
    // Removing the name again: its NSEC3 owner is gone, and said so.
    let (back, fresh) = sign_changes(&zone_of(ZONE), &keys, &opts, Some(&after)).unwrap();
    let diff_back = crate::xfr::diff(&after, &back);
    let at = diff_at(&after, &back, &fresh);
    assert_eq!(sorted(at.deleted), sorted(diff_back.deleted.clone()));
    assert_eq!(sorted(at.added), sorted(diff_back.added));
    assert!(diff_back.deleted.iter().any(|r| r.rtype == Type::A));
    // The new name's A and its signature, and the NSEC3 it splits: one
    // deleted with its signature, two added with theirs.
    let count = |rs: &[Record], t: Type| rs.iter().filter(|r| r.rtype == t).count();
    assert_eq!(count(&diff.added, Type::A), 1);
    assert_eq!(count(&diff.added, Type::NSEC3), 2);
    assert_eq!(count(&diff.deleted, Type::NSEC3), 1);
    assert_eq!(count(&diff.added, Type::RRSIG), 3);
    assert_eq!(count(&diff.deleted, Type::RRSIG), 1);
}

#[test]
fn errors_are_said() {
    let (zsk, _) = keys();
    let z = zone_of(ZONE);
    let opts = Options::at(1_800_000_000, 86400, Denial::Nsec);
    assert!(sign(&z, &[], &opts, None).unwrap_err().0.contains("no key"));
    let bad = Options {
        expiration: 1,
        ..opts
    };
    assert!(
        sign(&z, &[zsk], &bad, None)
            .unwrap_err()
            .0
            .contains("expire")
    );
}

#[test]
fn the_generic_master_file_reads_back() {
    let (zsk, ksk) = keys();
    let opts = Options::at(1_800_000_000, 86400, Denial::nsec3());
    let signed = sign(&zone_of(ZONE), &[zsk, ksk], &opts, None).unwrap();
    let text = to_generic_master(&signed);
    let back = zone_of(&text);
    let mut a = crate::xfr::zone_records(&back);
    let mut b = crate::xfr::zone_records(&signed);
    a.sort_by_key(|r| (r.name.clone(), r.rtype.0, r.rdata.to_wire()));
    b.sort_by_key(|r| (r.name.clone(), r.rtype.0, r.rdata.to_wire()));
    assert_eq!(a, b);
}

fn label() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop::sample::select(b"abxy*".to_vec()), 1..3)
        .prop_map(|l| if l.contains(&b'*') { b"*".to_vec() } else { l })
}

fn name_below() -> impl Strategy<Value = Name> {
    proptest::collection::vec(label(), 1..4).prop_map(|ls| {
        ls.iter()
            .rev()
            .fold(name("t.test."), |n, l| n.prepend(l).unwrap())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// A zone signed here and served by the engine: every answer's
    /// RRsets carry signatures that verify (all but referral NS and glue),
    /// and a name that does not exist is proven absent with its wildcard
    /// (RFC 4035 §5.4, RFC 5155 §8.4) by records that verify.
    #[test]
    fn served_answers_validate(
        owners in proptest::collection::vec((name_below(), 0u8..4), 1..10),
        asked in proptest::collection::vec(name_below(), 1..10),
        nsec3 in prop_oneof![Just(None), Just(Some((0u16, false))), Just(Some((2u16, true)))],
        ed in any::<bool>(),
    ) {
        let mut text = String::from("$ORIGIN t.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n");
        for (o, kind) in &owners {
            let o = o.to_string();
            // A wildcard with names below it (an empty wildcard) is left
            // out: how one answers is the engine's matter, not signing's.
            if o[1..].contains('*') {
                continue;
            }
            match kind {
                0 => text.push_str(&format!("{o} A 192.0.2.2\n")),
                1 => text.push_str(&format!("{o} TXT \"t\"\n")),
                2 if !o.starts_with('*') => text.push_str(&format!("{o} NS ns.example.\n")),
                _ if !o.starts_with('*') => text.push_str(&format!("{o} NS ns.example.\n{o} DS 1 13 2 00\n")),
                _ => {}
            }
        }
        let zone = zone_of(&text);
        let (zsk, ksk) = keys();
        let keys = if ed { vec![ksk] } else { vec![zsk, ksk] };
        let denial = match nsec3 {
            None => Denial::Nsec,
            Some((iterations, opt_out)) => Denial::Nsec3 { iterations, salt: vec![], opt_out },
        };
        let signed = sign(&zone, &keys, &Options::at(1_800_000_000, 86400, denial), None).unwrap();
        let index = Signed::new(&signed).expect("signed");
        for q in &asked {
            for qtype in [Type::A, Type::DS] {
                let plan = resolve_signed(&signed, Some(&index), q, qtype);
                let referral = !plan.aa;
                for section in [&plan.answer, &plan.authority] {
                    for (set, sigs) in rrsets(section) {
                        if referral && set[0].rtype == Type::NS {
                            continue;
                        }
                        // Wildcard answers are signed at the wildcard.
                        let mut as_signed = set.clone();
                        if let Some(s) = sigs.first()
                            && let RData::Other(w) = &s.rdata
                            && (w[3] as usize) < set[0].name.label_count()
                        {
                            let mut n = set[0].name.clone();
                            while n.label_count() > w[3] as usize {
                                n = n.parent().unwrap();
                            }
                            let n = n.prepend(b"*").unwrap();
                            for r in &mut as_signed {
                                r.name = n.clone();
                            }
                        }
                        prop_assert!(
                            sigs.iter().any(|s| verifies(s, &as_signed, &keys, &signed.apex)),
                            "{q} {qtype}: {} {} not validly signed", set[0].name, set[0].rtype
                        );
                    }
                }
                if plan.rcode == Rcode::NXDOMAIN {
                    let proofs: Vec<&Record> = plan
                        .authority
                        .iter()
                        .filter(|r| matches!(r.rtype, Type::NSEC | Type::NSEC3))
                        .collect();
                    prop_assert!(!proofs.is_empty(), "{q}: NXDOMAIN without proof");
                    let mut ce = q.parent().unwrap();
                    while !signed.names.contains(&ce) {
                        ce = ce.parent().unwrap();
                    }
                    let wild = ce.prepend(b"*").unwrap();
                    match nsec3 {
                        None => {
                            for n in [q, &wild] {
                                prop_assert!(proofs.iter().any(|r| nsec_covers(r, n)), "{n} not covered");
                            }
                        }
                        Some((it, _)) => {
                            let mut next = q.clone();
                            while next.label_count() > ce.label_count() + 1 {
                                next = next.parent().unwrap();
                            }
                            let h = |n: &Name| nsec3_hash(n, it, &[]);
                            prop_assert!(proofs.iter().any(|r| nsec3_span(r).0 == h(&ce)), "{ce} not matched");
                            prop_assert!(proofs.iter().any(|r| covers(nsec3_span(r), &h(&next))), "{next} not covered");
                            prop_assert!(proofs.iter().any(|r| covers(nsec3_span(r), &h(&wild))), "{wild} not covered");
                        }
                    }
                }
            }
        }
    }
}

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

fn nsec3_span(r: &Record) -> (Vec<u8>, Vec<u8>) {
    let RData::Other(w) = &r.rdata else {
        return (vec![], vec![]);
    };
    let salt = w[4] as usize;
    let len = w[5 + salt] as usize;
    let next = w[6 + salt..6 + salt + len].to_vec();
    let own = crate::zone::text::base32hex(r.name.labels().next().unwrap()).unwrap();
    (own, next)
}

fn covers((o, x): (Vec<u8>, Vec<u8>), h: &[u8]) -> bool {
    let (o, x) = (o.as_slice(), x.as_slice());
    if o < x {
        o < h && h < x
    } else {
        h > o || h < x
    }
}

#[test]
fn names_below_a_cut_or_a_dname_are_neither_signed_nor_chained() {
    let (zsk, ksk) = keys();
    let text = "$ORIGIN t.test.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n\
d DNAME x.example.\na.d A 192.0.2.2\nsub NS ns.sub\n*.sub NS ns.sub\nns.sub A 192.0.2.3\n";
    for denial in [Denial::Nsec, Denial::nsec3()] {
        let opts = Options::at(1_800_000_000, 86400, denial.clone());
        let signed = sign(&zone_of(text), &[zsk.clone(), ksk.clone()], &opts, None).unwrap();
        for below in ["a.d.t.test.", "*.sub.t.test.", "ns.sub.t.test."] {
            let node = &signed.nodes[&name(below)];
            assert!(
                node.get(Type::RRSIG).is_none() && node.get(Type::NSEC).is_none(),
                "{below} ({denial:?})"
            );
        }
        let d = &signed.nodes[&name("d.t.test.")];
        assert!(crate::engine::dnssec::sigs(d, Type::DNAME).next().is_some());
        if denial != Denial::Nsec {
            // apex, ns1, d, sub: no NSEC3 for a.d, *.sub, ns.sub.
            let n3 = crate::xfr::zone_records(&signed)
                .iter()
                .filter(|r| r.rtype == Type::NSEC3)
                .count();
            assert_eq!(n3, 4);
        }
    }
}

#[test]
fn signatures_made_ahead_in_slices_are_taken_by_the_signer() {
    let (zsk, ksk) = keys();
    let keys = [zsk, ksk];
    for denial in [Denial::Nsec, Denial::nsec3()] {
        let old = Options::at(1_800_000_000, 14 * 86400, denial.clone());
        let new = Options::at(1_800_000_000 + 7 * 86400, 14 * 86400, denial);
        let signed = sign(&zone_of(ZONE), &keys, &old, None).unwrap();
        // Made ahead, three names at a time.
        let names: Vec<Name> = signed.nodes.keys().cloned().collect();
        let mut sigs = Vec::new();
        for slice in names.chunks(3) {
            sigs.extend(resign(&signed, slice, &keys, &new));
        }
        let data = crate::xfr::zone_records(&signed)
            .into_iter()
            .filter(|r| r.rtype != Type::RRSIG);
        let ahead = Zone::new(&signed.apex, data.chain(sigs)).unwrap();
        let (renewed, fresh) = sign_changes(&zone_of(ZONE), &keys, &new, Some(&ahead)).unwrap();
        assert!(fresh.is_empty(), "signed again: {fresh:?}");
        let whole = sign(&zone_of(ZONE), &keys, &new, None).unwrap();
        assert_eq!(
            crate::xfr::zone_records(&renewed),
            crate::xfr::zone_records(&whole)
        );
        assert_ne!(
            crate::xfr::zone_records(&renewed),
            crate::xfr::zone_records(&signed)
        );
    }
}
