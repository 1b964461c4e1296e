//! A signed zone's signatures renewed in slices: queries are answered
//! between the slices (the executor is single-threaded), and the zone
//! renewed is the one a renewal in one go makes. Prints the longest gap
//! between two answers during each kind of renewal (a figure, not an
//! assertion: `cargo test -p oasis-dns-server --test renew_slices --
//! --nocapture`; bench/README.md's figures come from the release bench
//! `update_log stall`).

use std::cell::{Cell, RefCell};
use std::fmt::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::sign::{Algorithm, KSK_FLAGS, Key, ZSK_FLAGS};
use oasis_dns::wire::{Name, Type};
use oasis_dns::xfr::{serial_of, zone_records};
use oasis_dns_server::Service;
use oasis_dns_server::signing::{DEFAULT_VALIDITY, Signing};

fn name(s: &str) -> Name {
    oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

fn zone(hosts: usize) -> Zone {
    let mut t = String::from(
        "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 3600\n@ NS ns1\n\
         ns1 A 192.0.2.1\n",
    );
    for i in 0..hosts {
        let _ = writeln!(t, "host{i} A 10.0.{}.{}", i >> 8 & 255, i & 255);
    }
    oasis_dns::zone::file::load("example.com.zone", &t).unwrap()
}

/// A service serving `zone` signed here at `t0`.
fn signed_service(zone: Zone, t0: u32) -> Service {
    let apex = zone.apex.clone();
    let mut signing = Signing::default();
    signing.add(
        apex.clone(),
        Key::from_secret(Algorithm::Ed25519, &[7; 32], KSK_FLAGS).unwrap(),
    );
    signing.add(
        apex,
        Key::from_secret(Algorithm::Ed25519, &[9; 32], ZSK_FLAGS).unwrap(),
    );
    let mut zones = vec![zone];
    let signed = signing.sign_all(&mut zones, t0).unwrap();
    let mut service = Service::new(Catalog::new(zones).unwrap(), Vec::new(), Vec::new());
    service.set_signing(signing, signed);
    service
}

/// Runs `renew` on an executor beside a task answering queries one after
/// another; gives the answers given while it ran and the longest gap
/// between two of them (or from its start to the first, from the last to
/// its end).
fn with_queries(
    service: Rc<Service>,
    renew: impl AsyncFnOnce(&Service) -> Vec<Name>,
) -> (Vec<Name>, usize, Duration) {
    oasis::rt::platform::install(oasis_hosted::services());
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    oasis::rt::exec::block_on(&reactor, async move {
        let done = Rc::new(Cell::new(false));
        let answers = Rc::new(RefCell::new(Vec::new()));
        let asker = {
            let (service, done, answers) = (service.clone(), done.clone(), answers.clone());
            oasis::spawn(async move {
                let q = oasis_dns::xfr::query(&name("host7.example.com."), Type::A, 1);
                let mut out = [0u8; 512];
                while !done.get() {
                    let n = service
                        .catalog()
                        .answer(&q, Transport::Udp, &mut out)
                        .unwrap();
                    assert!(n > 12 && out[3] & 0xf == 0);
                    answers.borrow_mut().push(Instant::now());
                    oasis::yield_now().await;
                }
            })
        };
        oasis::yield_now().await;
        let started = Instant::now();
        let renewed = renew(&service).await;
        let ended = Instant::now();
        done.set(true);
        asker.await;
        let mut times: Vec<Instant> = answers
            .borrow()
            .iter()
            .copied()
            .filter(|t| *t >= started && *t <= ended)
            .collect();
        let during = times.len();
        times.insert(0, started);
        times.push(ended);
        let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap();
        (renewed, during, gap)
    })
}

#[test]
fn queries_are_answered_between_the_slices_of_a_renewal() {
    let t0 = 1_800_000_000;
    let late = t0 + DEFAULT_VALIDITY / 2 + 1;
    let apex = name("example.com.");
    let (hosts, slice) = (150, 32);
    // In one go, then in slices, from the same signed zone.
    let whole = Rc::new(signed_service(zone(hosts), t0));
    let (renewed, during_whole, gap_whole) =
        with_queries(whole.clone(), async move |s: &Service| {
            s.renew_signatures(late)
        });
    assert_eq!(renewed, vec![apex.clone()]);
    let sliced = Rc::new(signed_service(zone(hosts), t0));
    let before = zone_records(&sliced.catalog().zones()[0]);
    let (renewed, during_sliced, gap_sliced) =
        with_queries(sliced.clone(), async move |s: &Service| {
            s.renew_signatures_in_slices(late, slice).await
        });
    assert_eq!(renewed, vec![apex.clone()]);
    println!(
        "{hosts} hosts signed (debug build): renewal in one go: {during_whole} answers meanwhile, \
         longest gap {gap_whole:?}; in slices: {during_sliced} answers meanwhile, longest gap \
         {gap_sliced:?}"
    );
    // Queries were answered between the slices (the zone's names, its
    // hosts and apex and ns1, `slice` at a time).
    let slices = (hosts + 2).div_ceil(slice);
    assert!(
        during_sliced >= slices,
        "{during_sliced} answers, {slices} slices"
    );
    assert_eq!(during_whole, 0);
    // The same zone renewed, with the serial one up, every signature new.
    let (a, b) = (whole.catalog(), sliced.catalog());
    assert_eq!(zone_records(&a.zones()[0]), zone_records(&b.zones()[0]));
    assert_eq!(serial_of(b.zones()[0].soa()), 2);
    let after = zone_records(&b.zones()[0]);
    assert!(
        after
            .iter()
            .filter(|r| r.rtype == Type::RRSIG)
            .all(|r| !before.contains(r))
    );
    // Nothing more to do right after.
    let (renewed, _, _) = with_queries(sliced, async move |s: &Service| {
        s.renew_signatures_in_slices(late + 60, slice).await
    });
    assert!(renewed.is_empty());
}

#[test]
fn an_update_between_the_slices_is_kept_and_signed_with_the_renewal() {
    use oasis_dns::update::{Change, request};
    use oasis_dns::wire::{Class, RData, Record};
    use oasis_dns_server::update::Policy;
    oasis::rt::platform::install(oasis_hosted::services());
    let t0 = 1_800_000_000;
    let late = t0 + DEFAULT_VALIDITY / 2 + 1;
    let apex = name("example.com.");
    let peer: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let policy = Policy {
        keys: Vec::new(),
        addrs: vec![(None, peer)],
    };
    let add = Change::Add(Record {
        name: name("new.example.com."),
        rtype: Type::A,
        class: Class::IN,
        ttl: 300,
        rdata: RData::A([192, 0, 2, 99]),
    });
    let req = request(&apex, 1, &[], &[add.to_record()]);
    let service =
        |hosts| signed_service(zone(hosts), t0).with_updates(policy.clone(), None, Vec::new());
    let send = |s: &Service| {
        let mut out = [0u8; 512];
        s.update(&req, peer, None, &mut out).unwrap();
        assert_eq!(out[3] & 0xf, 0);
    };
    // The update, then the renewal in one go.
    let whole = service(60);
    send(&whole);
    assert_eq!(whole.renew_signatures(late), vec![apex.clone()]);
    // The renewal in slices (62 names, 8 at a time: 8 slices, then a turn
    // between the zone signed and its commit), the update arriving after
    // the first slice, after the last ones, or between signing and commit.
    for turns in [1, 7, 8, 9] {
        let sliced = Rc::new(service(60));
        let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
        let renewed = oasis::rt::exec::block_on(&reactor, {
            let sliced = sliced.clone();
            let req = req.clone();
            async move {
                let updater = {
                    let sliced = sliced.clone();
                    oasis::spawn(async move {
                        for _ in 0..turns {
                            oasis::yield_now().await;
                        }
                        let mut out = [0u8; 512];
                        sliced.update(&req, peer, None, &mut out).unwrap();
                        assert_eq!(out[3] & 0xf, 0);
                    })
                };
                let renewed = sliced.renew_signatures_in_slices(late, 8).await;
                updater.await;
                renewed
            }
        });
        assert_eq!(renewed, vec![apex.clone()], "update after {turns} turns");
        assert_eq!(
            sliced.update_counts().applied,
            2,
            "the update and the renewal"
        );
        let (a, b) = (whole.catalog(), sliced.catalog());
        assert_eq!(
            serial_of(b.zones()[0].soa()),
            3,
            "update after {turns} turns"
        );
        assert_eq!(
            zone_records(&a.zones()[0]),
            zone_records(&b.zones()[0]),
            "update after {turns} turns"
        );
    }
}
