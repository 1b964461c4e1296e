use super::*;
use crate::xfr::query;
use crate::zone::parse_str;
use alloc::string::String;
use proptest::prelude::*;

fn apex() -> Name {
    Name::from_wire(b"\x07example\x03org\x00").unwrap()
}

fn load(text: &str) -> Zone {
    let t = format!("$ORIGIN example.org.\n$TTL 300\n{text}");
    Zone::new(&apex(), parse_str(&t, "x.zone", &Name::root()).unwrap()).unwrap()
}

fn soa(serial: u32) -> String {
    format!("@ SOA ns1 host {serial} 3600 600 86400 300\n@ NS ns1\n")
}

/// v1 → v4 of a small zone: a changed address and a new MX, a TTL change
/// and the MX gone, then new TXT records and a deleted name.
fn versions() -> Vec<Zone> {
    vec![
        load(&(soa(1) + "ns1 A 192.0.2.1\nwww A 192.0.2.10\nold A 192.0.2.99\n")),
        load(
            &(soa(2)
                + "ns1 A 192.0.2.1\nwww A 192.0.2.11\nold A 192.0.2.99\n@ MX 10 mail\nmail A 192.0.2.25\n"),
        ),
        load(
            &(soa(3)
                + "ns1 60 A 192.0.2.1\nwww A 192.0.2.11\nold A 192.0.2.99\nmail A 192.0.2.25\n"),
        ),
        load(
            &(soa(4)
                + "ns1 60 A 192.0.2.1\nwww A 192.0.2.11\nmail A 192.0.2.25\nwww TXT \"a\"\nwww TXT \"b\"\n"),
        ),
    ]
}

/// A zone's records as sorted text, TTL included.
fn canonical(zone: &Zone) -> Vec<String> {
    let mut v: Vec<String> = zone_records(zone)
        .iter()
        .skip(1)
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

fn journal_of(vs: &[Zone]) -> Journal {
    let mut j = Journal::new(16, 1 << 20);
    for w in vs.windows(2) {
        j.push(diff(&w[0], &w[1]));
    }
    j
}

/// The IXFR response's messages and what kind it is, for a client at
/// `from`.
fn ixfr_out(catalog: &Catalog, j: &Journal, from: &Zone, id: u16) -> (Vec<Vec<u8>>, IxfrKind) {
    let q = ixfr_query(&apex(), from.soa(), id);
    let (t, kind) = catalog.ixfr(&q, |_, f, t| j.steps(f, t)).unwrap();
    (t.collect(), kind)
}

fn take_in(msgs: &[Vec<u8>], id: u16, held: &Zone) -> Result<IxfrResult, XfrError> {
    let mut c = IxfrCollector::new(&apex(), id, serial_of(held.soa()));
    let mut done = false;
    for m in msgs {
        done = c.push(m)?;
    }
    assert!(done, "the response is complete");
    c.finish(held)
}

#[test]
fn a_chain_of_three_updates_gives_each_older_version_the_diff_to_v4() {
    let vs = versions();
    let j = journal_of(&vs);
    assert_eq!(j.len(), 3);
    let catalog = Catalog::new(vec![vs[3].clone()]).unwrap();
    for from in 1..=3u32 {
        let held = &vs[from as usize - 1];
        let (msgs, kind) = ixfr_out(&catalog, &j, held, 40 + from as u16);
        let steps = 4 - from as usize;
        assert_eq!(kind, IxfrKind::Incremental(steps), "from serial {from}");
        // The stream is the current SOA, each step as the diff between
        // the versions says, the current SOA.
        let answers: Vec<Record> = msgs
            .iter()
            .flat_map(|m| Message::parse(m).unwrap().answers)
            .collect();
        let mut expected = vec![vs[3].soa().clone()];
        for w in vs[from as usize - 1..].windows(2) {
            expected.extend(diff(&w[0], &w[1]).records().cloned());
        }
        expected.push(vs[3].soa().clone());
        assert_eq!(answers, expected, "from serial {from}");
        match take_in(&msgs, 40 + from as u16, held).unwrap() {
            IxfrResult::Incremental(z, n) => {
                assert_eq!(n, steps);
                assert_eq!(canonical(&z), canonical(&vs[3]), "from serial {from}");
                assert_eq!(serial_of(z.soa()), 4);
            }
            other => panic!("from serial {from}: {other:?}"),
        }
    }
    // What the steps hold: v1→v2 deletes www's old address, adds the new
    // one, the MX and mail's address; v2→v3 changes ns1's TTL (delete,
    // add) and deletes the MX.
    let d = diff(&vs[0], &vs[1]);
    assert_eq!(
        (d.from(), d.to(), d.deleted.len(), d.added.len()),
        (1, 2, 1, 3)
    );
    let d = diff(&vs[1], &vs[2]);
    assert_eq!((d.deleted.len(), d.added.len()), (2, 1));
    assert_eq!(d.added[0].ttl, 60);

    // Up to date (or newer): the current SOA alone.
    let (msgs, kind) = ixfr_out(&catalog, &j, &vs[3], 9);
    assert_eq!(kind, IxfrKind::UpToDate);
    let m = Message::parse(&msgs[0]).unwrap();
    assert_eq!((msgs.len(), m.answers.len()), (1, 1));
    assert_eq!(serial_of(&m.answers[0]), 4);
    assert!(matches!(
        take_in(&msgs, 9, &vs[3]),
        Ok(IxfrResult::UpToDate)
    ));

    // A serial the journal does not know: the whole zone, AXFR-style,
    // which a secondary takes whole.
    let unknown = load(&(soa(0) + "ns1 A 192.0.2.1\n"));
    let (msgs, kind) = ixfr_out(&catalog, &j, &unknown, 10);
    assert_eq!(kind, IxfrKind::Full);
    let answers: Vec<Record> = msgs
        .iter()
        .flat_map(|m| Message::parse(m).unwrap().answers)
        .collect();
    assert_eq!(answers, zone_records(&vs[3]));
    match take_in(&msgs, 10, &unknown).unwrap() {
        IxfrResult::Full(z) => assert_eq!(canonical(&z), canonical(&vs[3])),
        other => panic!("{other:?}"),
    }
    // A zone with no journal at all (loaded from files) answers the same.
    let (_, kind) = ixfr_out(&catalog, &Journal::new(0, 0), &vs[0], 11);
    assert_eq!(kind, IxfrKind::Full);
}

#[test]
fn the_journal_is_bounded_and_drops_the_oldest_first() {
    let vs = versions();
    let mut j = Journal::new(2, 1 << 20);
    for w in vs.windows(2) {
        j.push(diff(&w[0], &w[1]));
    }
    assert_eq!(j.len(), 2);
    assert!(j.steps(1, 4).is_none(), "v1→v2 dropped");
    assert_eq!(j.steps(2, 4).map(|s| s.len()), Some(2));
    let catalog = Catalog::new(vec![vs[3].clone()]).unwrap();
    assert_eq!(ixfr_out(&catalog, &j, &vs[0], 1).1, IxfrKind::Full);
    // A byte limit smaller than one step keeps nothing.
    let mut small = Journal::new(16, 10);
    small.push(diff(&vs[0], &vs[1]));
    assert!(small.is_empty());
    // A step that does not continue the chain starts it over.
    let mut j = journal_of(&vs[..2]);
    j.push(diff(&vs[2], &vs[3]));
    assert_eq!((j.len(), j.steps(3, 4).map(|s| s.len())), (1, Some(1)));
}

#[test]
fn inconsistent_steps_are_refused_and_the_zone_kept() {
    let vs = versions();
    let good = diff(&vs[0], &vs[1]);
    // Out of chain: a step from serial 2 applied to v1.
    let e = apply(&vs[0], &[diff(&vs[1], &vs[2])]).unwrap_err();
    assert!(matches!(e, XfrError::Inconsistent(_)), "{e}");
    // A deletion of a record the zone lacks.
    let mut bad = good.clone();
    bad.deleted.push(bad.added[0].clone());
    assert!(matches!(
        apply(&vs[0], &[bad]),
        Err(XfrError::Inconsistent(_))
    ));
    // The zone applied to is untouched; the good step still applies.
    assert_eq!(
        canonical(&apply(&vs[0], &[good]).unwrap()),
        canonical(&vs[1])
    );

    // A stream whose last step does not reach the announced serial.
    let catalog = Catalog::new(vec![vs[3].clone()]).unwrap();
    let j = journal_of(&vs);
    let (msgs, _) = ixfr_out(&catalog, &j, &vs[1], 3);
    let mut m = Message::parse(&msgs[0]).unwrap();
    let last = m.answers.len() - 1;
    let mut five = m.answers[0].clone();
    if let RData::Soa(s) = &mut five.rdata {
        s.serial = 5;
    }
    m.answers[0] = five.clone();
    m.answers[last] = five;
    let mut bytes = Vec::new();
    m.emit(&mut bytes).unwrap();
    assert!(matches!(
        take_in(&[bytes], 3, &vs[1]),
        Err(XfrError::Inconsistent(_))
    ));
    // Refused by the primary: the secondary falls back to AXFR.
    let mut refused = msgs[0].clone();
    refused[3] |= 4;
    let mut c = IxfrCollector::new(&apex(), 3, 2);
    assert_eq!(c.push(&refused), Err(XfrError::Rcode(4)));
}

#[test]
fn over_udp_an_ixfr_that_does_not_fit_is_the_current_soa() {
    let vs = versions();
    let j = journal_of(&vs);
    let catalog = Catalog::new(vec![vs[3].clone()]).unwrap();
    let q = ixfr_query(&apex(), vs[0].soa(), 5);
    let (t, _) = catalog.ixfr(&q, |_, f, t| j.steps(f, t)).unwrap();
    let whole = ixfr_udp(t.clone(), 65535).unwrap();
    assert_eq!(
        Message::parse(&whole).unwrap().answers.len(),
        t.clone()
            .map(|m| Message::parse(&m).unwrap().answers.len())
            .sum::<usize>()
    );
    let small = ixfr_udp(t, 100).unwrap();
    let m = Message::parse(&small).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert_eq!(serial_of(&m.answers[0]), 4);
    // A query that is not IXFR, or lacks the client's SOA, is not one.
    assert_eq!(
        catalog
            .ixfr(&query(&apex(), Type::IXFR, 1), |_, _, _| None)
            .err(),
        Some(XfrError::NotIxfr)
    );
    assert_eq!(
        catalog
            .ixfr(&query(&apex(), Type::AXFR, 1), |_, _, _| None)
            .err(),
        Some(XfrError::NotIxfr)
    );
}

/// A zone from a small universe of records: `picks` chooses which, and
/// their TTLs.
fn random_zone(serial: u32, picks: &[(bool, u8)]) -> Zone {
    let mut t = soa(serial);
    for (i, (on, ttl)) in picks.iter().enumerate() {
        if *on {
            let ttl = 60 * u32::from(ttl % 3 + 1);
            match i % 3 {
                0 => t.push_str(&format!("h{} {ttl} A 192.0.2.{}\n", i % 5, i)),
                1 => t.push_str(&format!("h{} {ttl} TXT \"t{i}\"\n", i % 4)),
                _ => t.push_str(&format!(
                    "s{}.h{} {ttl} AAAA 2001:db8::{i:x}\n",
                    i % 2,
                    i % 3
                )),
            }
        }
    }
    load(&t)
}

fn picks() -> impl Strategy<Value = Vec<(bool, u8)>> {
    proptest::collection::vec((any::<bool>(), any::<u8>()), 24)
}

proptest! {
    #[test]
    fn a_diff_applied_to_the_old_zone_gives_the_new(a in picks(), b in picks(), c in picks()) {
        let (v1, v2, v3) = (random_zone(7, &a), random_zone(8, &b), random_zone(9, &c));
        let z = apply(&v1, &[diff(&v1, &v2)]).unwrap();
        prop_assert_eq!(canonical(&z), canonical(&v2));
        let z = apply(&v1, &[diff(&v1, &v2), diff(&v2, &v3)]).unwrap();
        prop_assert_eq!(canonical(&z), canonical(&v3));
    }

    /// A step kept on disk reads back as it was; any cut or byte flipped
    /// reads back as something or nothing, never a panic.
    #[test]
    fn a_diff_as_bytes_reads_back(
        a in picks(), b in picks(),
        flip in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(),
    ) {
        let step = diff(&random_zone(7, &a), &random_zone(8, &b));
        let bytes = step.to_bytes();
        prop_assert_eq!(Diff::from_bytes(&bytes), Some(step));
        prop_assert_eq!(Diff::from_bytes(&bytes[..cut.index(bytes.len())]), None);
        let mut flipped = bytes.clone();
        flipped[flip.index(bytes.len())] ^= 0x41;
        let _ = Diff::from_bytes(&flipped);
    }

    /// Any change to a valid IXFR stream is taken in or refused, never a
    /// panic; what is taken in is a whole zone at the serial announced,
    /// and the held zone is never touched. Changes to the chain (serials,
    /// a deletion of a record not held, a record dropped from the end)
    /// are refused.
    #[test]
    fn a_mutated_ixfr_stream_applies_or_is_refused(
        a in picks(), b in picks(), c in picks(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let vs = [random_zone(1, &a), random_zone(2, &b), random_zone(3, &c)];
        let before = canonical(&vs[0]);
        let catalog = Catalog::new(vec![vs[2].clone()]).unwrap();
        let j = journal_of(&vs);
        let (msgs, _) = ixfr_out(&catalog, &j, &vs[0], 77);
        prop_assert_eq!(msgs.len(), 1);
        // Byte edits anywhere.
        let mut m = msgs[0].clone();
        for (at, v) in &edits {
            let i = at.index(m.len());
            m[i] ^= v | 1;
        }
        let mut col = IxfrCollector::new(&apex(), 77, 1);
        if let Ok(true) = col.push(&m)
            && let Ok(IxfrResult::Incremental(z, _) | IxfrResult::Full(z)) = col.finish(&vs[0])
        {
            prop_assert!(z.nodes.contains_key(&z.apex));
        }
        prop_assert_eq!(canonical(&vs[0]), before.clone());
        // Record-level: a serial changed in the chain, or a deletion not
        // held, is refused; the stream cut short never completes.
        let mut parsed = Message::parse(&msgs[0]).unwrap();
        let n = parsed.answers.len();
        let socs: Vec<usize> = (1..n - 1).filter(|&i| parsed.answers[i].rtype == Type::SOA).collect();
        let i = socs[cut.index(socs.len())];
        if let RData::Soa(s) = &mut parsed.answers[i].rdata {
            s.serial = s.serial.wrapping_add(100);
        }
        let mut bytes = Vec::new();
        parsed.emit(&mut bytes).unwrap();
        let mut col = IxfrCollector::new(&apex(), 77, 1);
        let r = col.push(&bytes).and_then(|done| if done { col.finish(&vs[0]).map(|_| ()) } else { Err(XfrError::Incomplete) });
        prop_assert!(r.is_err(), "a serial out of chain at answer {}", i);

        let mut parsed = Message::parse(&msgs[0]).unwrap();
        parsed.answers.truncate(cut.index(n - 1) + 1);
        let mut bytes = Vec::new();
        parsed.emit(&mut bytes).unwrap();
        let mut col = IxfrCollector::new(&apex(), 77, 1);
        prop_assert!(!col.push(&bytes).unwrap_or(false), "cut after answer {}", cut.index(n - 1));
        prop_assert!(col.finish(&vs[0]).is_err());
    }
}

/// With `OASIS_DNS_WRITE_IXFR_SEED=DIR`, writes seeds for the `ixfr` fuzz
/// target there: an IXFR response from serial 1 of its zone (one step),
/// the whole zone as an IXFR response, and the IXFR query.
#[test]
fn write_ixfr_fuzz_seeds() {
    let Ok(dir) = std::env::var("OASIS_DNS_WRITE_IXFR_SEED") else {
        return;
    };
    let fuzz_zone = |serial: u32, extra: &str| {
        load(&format!(
            "@ SOA ns1 host {serial} 1 2 3 4\n@ NS ns1\nns1 A 192.0.2.1\n{extra}"
        ))
    };
    let held = fuzz_zone(1, "www A 192.0.2.10\n");
    let new = fuzz_zone(2, "www A 192.0.2.11\nmail A 192.0.2.25\n");
    let mut j = Journal::new(4, 1 << 16);
    j.push(diff(&held, &new));
    let catalog = Catalog::new(vec![new]).unwrap();
    let q = ixfr_query(&apex(), held.soa(), 0x4242);
    let (steps, _) = catalog.ixfr(&q, |_, f, t| j.steps(f, t)).unwrap();
    let mut unknown = held.soa().clone();
    if let RData::Soa(s) = &mut unknown.rdata {
        s.serial = 0;
    }
    let (whole, _) = catalog
        .ixfr(&ixfr_query(&apex(), &unknown, 0x4243), |_, _, _| None)
        .unwrap();
    let seeds = [
        ("steps", steps.collect::<Vec<_>>().concat()),
        ("whole", whole.collect::<Vec<_>>().concat()),
        ("query", q),
    ];
    for (name, bytes) in seeds {
        assert!(!bytes.contains(&0xfe), "{name}: 0xfe splits messages");
        std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    }
}

/// Versions `serial`, `serial + 1`, ... of the random zones `picks`.
fn chain_of(serial: u32, picks: &[Vec<(bool, u8)>]) -> (Zone, Vec<Diff>) {
    let zones: Vec<Zone> = picks
        .iter()
        .enumerate()
        .map(|(i, p)| random_zone(serial + i as u32, p))
        .collect();
    let steps = zones.windows(2).map(|w| diff(&w[0], &w[1])).collect();
    (zones[0].clone(), steps)
}

proptest! {
    /// A chain squashed into one step: the same zone as the chain applied
    /// step by step, and no more than the difference between its ends
    /// (what was added then deleted, or deleted then added back, is gone).
    #[test]
    fn a_squashed_chain_applies_as_the_chain(
        picks in proptest::collection::vec(picks(), 2..8),
    ) {
        let (v1, steps) = chain_of(7, &picks);
        let last = random_zone(7 + picks.len() as u32 - 1, &picks[picks.len() - 1]);
        let one = squash(&steps).unwrap();
        prop_assert_eq!(one.from(), 7);
        prop_assert_eq!(one.to(), 7 + steps.len() as u32);
        let by_steps = apply(&v1, &steps).unwrap();
        let at_once = apply(&v1, core::slice::from_ref(&one)).unwrap();
        prop_assert_eq!(canonical(&at_once), canonical(&by_steps));
        prop_assert_eq!(canonical(&at_once), canonical(&last));
        prop_assert_eq!(one, diff(&v1, &last));
        // Squashing squashed steps changes nothing.
        let (a, b) = steps.split_at(steps.len() / 2);
        if !a.is_empty() {
            let twice = squash(&[squash(a).unwrap(), squash(b).unwrap()]).unwrap();
            prop_assert_eq!(twice, diff(&v1, &last));
        }
    }

    /// A chain with a gap, or a step twice, is refused.
    #[test]
    fn a_broken_chain_is_not_squashed(
        picks in proptest::collection::vec(picks(), 3..6),
        at in any::<prop::sample::Index>(),
    ) {
        let (_, mut steps) = chain_of(7, &picks);
        let i = at.index(steps.len());
        let mut twice = steps.clone();
        twice.insert(i, steps[i].clone());
        prop_assert!(squash(&twice).is_err());
        if steps.len() >= 3 {
            steps.remove(1 + at.index(steps.len() - 2));
            prop_assert!(squash(&steps).is_err());
        }
    }
}

#[test]
fn squashing_refuses_an_empty_chain_and_a_record_deleted_twice() {
    let vs = versions();
    assert!(squash(&[]).is_err());
    let s1 = diff(&vs[0], &vs[1]);
    let mut again = diff(&vs[1], &vs[2]);
    // The second step deletes what the first deleted (www 192.0.2.10).
    again.deleted.push(s1.deleted[0].clone());
    assert!(squash(&[s1.clone(), again]).is_err());
    // The IXFR example chain squashed: v1 to v4 in one.
    let steps: Vec<Diff> = vs.windows(2).map(|w| diff(&w[0], &w[1])).collect();
    let one = squash(&steps).unwrap();
    assert_eq!(one, diff(&vs[0], &vs[3]));
    assert_eq!(
        canonical(&apply(&vs[0], &[one]).unwrap()),
        canonical(&vs[3])
    );
}
