//! The update log kept short: thousands of UPDATEs (through
//! `Service::update`, as the server answers them) and signature renewals
//! keep the stored log within its compaction bounds, and a restart replays
//! it to the zone served; a power cut at any moment of an append (squashing
//! included) loses no acknowledged update.

use std::net::IpAddr;
use std::rc::Rc;

use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::update::{Change, Update, request};
use oasis_dns::wire::{Class, Name, RData, Record, Type};
use oasis_dns::xfr::{serial_of, zone_records};
use oasis_dns::zone::file::load;
use oasis_dns_server::Service;
use oasis_dns_server::signing::{Signing, strip_signatures};
use oasis_dns_server::update::{Compaction, Policy, StoredLog, UpdateLog, replay};
use oasis_store::fault::PowerCut;
use oasis_store::mem::MemBlock;

fn name(s: &str) -> Name {
    oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

fn zone() -> Zone {
    load(
        "example.org.zone",
        "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n\
         ns1 A 192.0.2.1\nwww A 192.0.2.10\n",
    )
    .unwrap()
}

/// The zone's records as sorted text, TTLs included.
fn text(zone: &Zone) -> Vec<String> {
    let mut v: Vec<String> = zone_records(zone)
        .iter()
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

/// The `i`-th change of a stream that keeps the zone small: host `i % 40`
/// gets a new address and loses its old ones, or (every seventh) its TTL
/// changes, or (every eleventh) goes away.
fn change(i: u32) -> Vec<Record> {
    let host = name(&format!("h{}.example.org.", i % 40));
    let a = |ttl, last| Record {
        name: host.clone(),
        rtype: Type::A,
        class: Class::IN,
        ttl,
        rdata: RData::A([198, 51, 100, last]),
    };
    if i % 11 == 10 {
        return vec![Change::DeleteName(host.clone()).to_record()];
    }
    let ttl = if i % 7 == 6 { 60 } else { 300 };
    vec![
        Change::DeleteRrset(host.clone(), Type::A).to_record(),
        Change::Add(a(ttl, (i % 250) as u8)).to_record(),
    ]
}

fn peer() -> IpAddr {
    "127.0.0.1".parse().unwrap()
}

fn policy() -> Policy {
    Policy {
        keys: Vec::new(),
        addrs: vec![(None, peer())],
    }
}

/// Sends UPDATE number `i` to `service`; asserts it is acknowledged.
fn send(service: &Service, i: u32) {
    let req = request(&name("example.org."), i as u16, &[], &change(i));
    let mut out = [0u8; 512];
    let n = service.update(&req, peer(), None, &mut out).unwrap();
    assert_eq!(
        out[3] & 0xf,
        0,
        "update {i} answered rcode {}",
        out[3] & 0xf
    );
    assert!(n >= 12);
}

#[test]
fn thousands_of_updates_keep_the_log_bounded_and_replay_to_the_zone_served() {
    let disk = MemBlock::new(512, 32 * 2048);
    let log = Rc::new(StoredLog::open(disk.clone()).unwrap());
    let z0 = zone();
    let service = Service::new(
        Catalog::new(vec![z0.clone()]).unwrap(),
        Vec::new(),
        Vec::new(),
    )
    .with_updates(policy(), Some(Box::new(log.clone())), Vec::new());
    let limits = Compaction::default();
    let mut peak = 0;
    for i in 0..3000 {
        send(&service, i);
        let size = log.size();
        assert!(
            size.records <= limits.max_steps,
            "{size:?} after update {i}"
        );
        peak = peak.max(size.bytes);
    }
    let size = log.size();
    let applied = service.update_counts().applied;
    assert!(applied > 2500, "{applied} updates applied");
    assert!(size.squashed >= applied / (limits.max_steps as u64 + 1));
    let served = service.catalog().zones()[0].clone();
    assert_eq!(u64::from(serial_of(served.soa())), 1 + applied);
    println!("3000 updates: log {size:?}, peak {peak} bytes");
    drop(service);
    drop(log);
    // Restart: the log read back and replayed onto the zone file's zone.
    let disk = MemBlock::from_bytes(512, disk.snapshot());
    let log = StoredLog::open(disk.clone()).unwrap();
    let steps = log.steps().unwrap();
    assert_eq!(steps.len(), size.records);
    let mut zones = vec![z0.clone()];
    let applied = replay(&mut zones, steps);
    assert_eq!(applied.len(), size.records);
    assert_eq!(text(&zones[0]), text(&served));
    // Updates after the restart continue the chain, squashed onto it.
    let service = Service::new(Catalog::new(zones).unwrap(), Vec::new(), Vec::new()).with_updates(
        policy(),
        Some(Box::new(Rc::new(log))),
        applied,
    );
    for i in 3000..3100 {
        send(&service, i);
    }
    let again = StoredLog::open(MemBlock::from_bytes(512, disk.snapshot())).unwrap();
    let mut zones = vec![z0];
    replay(&mut zones, again.steps().unwrap());
    assert_eq!(text(&zones[0]), text(&service.catalog().zones()[0]));
    assert!(again.size().records <= limits.max_steps);
}

#[test]
fn an_older_chain_of_a_zone_stays_as_it_was_and_is_skipped_at_replay() {
    // Steps made while the zone file was at serial 1; then the file
    // changed to serial 50 and more updates came: the first chain is
    // never squashed together with the second, and replay onto either
    // file takes only its own.
    let disk = MemBlock::new(512, 32 * 2048);
    let log = StoredLog::open(disk.clone())
        .unwrap()
        .with_compaction(Some(Compaction {
            max_steps: 4,
            max_bytes: 1 << 20,
        }));
    let old = append_until_cut(&log, zone(), 0, 3).pop().unwrap();
    let file50 = load(
        "example.org.zone",
        "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 50 3600 600 86400 300\n@ NS ns1\n\
         ns1 A 192.0.2.1\n",
    )
    .unwrap();
    let new = append_until_cut(&log, file50.clone(), 100, 10)
        .pop()
        .unwrap();
    // The old chain's 3 records, the new chain squashed to at most 4.
    let steps = log.steps().unwrap();
    assert_eq!(steps.iter().filter(|(_, s)| s.from() < 50).count(), 3);
    assert!(steps.len() <= 3 + 4);
    let mut zones = vec![file50];
    replay(&mut zones, steps.clone());
    assert_eq!(text(&zones[0]), text(&new));
    let mut zones = vec![zone()];
    replay(&mut zones, steps);
    assert_eq!(text(&zones[0]), text(&old));
}

#[test]
fn renewals_and_updates_of_a_zone_signed_here_stay_bounded_and_replay() {
    use oasis_dns::sign::{Algorithm, KSK_FLAGS, Key, unsigned};
    oasis::rt::platform::install(oasis_hosted::services());
    let org = name("example.org.");
    let mut signing = Signing::default();
    signing.add(
        org.clone(),
        Key::from_secret(Algorithm::Ed25519, &[7; 32], KSK_FLAGS).unwrap(),
    );
    let z0 = zone();
    let t0 = 1_800_000_000;
    let mut zones = vec![z0.clone()];
    let signed = signing.sign_all(&mut zones, t0).unwrap();
    let disk = MemBlock::new(512, 32 * 2048);
    // Small bounds, so that both conditions come into play.
    let limits = Compaction {
        max_steps: 6,
        max_bytes: 4096,
    };
    let log = Rc::new(
        StoredLog::open(disk.clone())
            .unwrap()
            .with_compaction(Some(limits)),
    );
    let mut service = Service::new(Catalog::new(zones).unwrap(), Vec::new(), Vec::new());
    service.set_signing(signing.clone(), signed);
    let service = service.with_updates(policy(), Some(Box::new(log.clone())), Vec::new());
    let half = oasis_dns_server::signing::DEFAULT_VALIDITY / 2 + 1;
    let mut renewals = 0;
    for week in 0..10u32 {
        // Signed UPDATEs (dated by the wall clock), then a renewal.
        for i in 0..2 {
            send(&service, week * 2 + i);
        }
        let renewed = service.renew_signatures(t0 + (week + 1) * half);
        renewals += renewed.len();
        assert!(log.size().records <= limits.max_steps, "{:?}", log.size());
    }
    assert!(renewals >= 5, "{renewals} renewals");
    assert!(log.size().squashed > 0);
    let served = service.catalog().zones()[0].clone();
    drop(service);
    drop(log);
    // As apps/dns starts: the log's steps without the signer's records,
    // replayed onto the file's zone, which is then signed again.
    let log = StoredLog::open(MemBlock::from_bytes(512, disk.snapshot())).unwrap();
    let steps = strip_signatures(&signing, log.steps().unwrap());
    let mut zones = vec![z0];
    replay(&mut zones, steps);
    assert_eq!(serial_of(zones[0].soa()), serial_of(served.soa()));
    signing.sign_all(&mut zones, t0 + 11 * half).unwrap();
    assert!(oasis_dns::sign::is_signed(&zones[0]));
    assert_eq!(text(&unsigned(&zones[0])), text(&unsigned(&served)));
}

/// Appends the changes from number `from` on to `log` until one fails;
/// gives the zones acknowledged (the first: `z`).
fn append_until_cut(log: &StoredLog, mut z: Zone, from: u32, count: u32) -> Vec<Zone> {
    let org = z.apex.clone();
    let mut acked = vec![z.clone()];
    for i in from..from + count {
        let u = Update::parse(&request(&org, 1, &[], &change(i))).unwrap();
        let Some(a) = u.apply(&z).unwrap() else {
            continue;
        };
        if log.append(&org, &a.diff).is_err() {
            // The one in flight: it may have landed.
            acked.push(a.zone);
            return acked;
        }
        z = a.zone;
        acked.push(z.clone());
    }
    acked
}

#[test]
fn a_power_cut_while_appending_and_squashing_loses_no_acknowledged_update() {
    let limits = Compaction {
        max_steps: 6,
        max_bytes: 1 << 20,
    };
    let updates = 40;
    // How many sectors the whole run writes, without a cut.
    let probe = PowerCut::new(MemBlock::new(512, 8192), u64::MAX, 1);
    let log = StoredLog::open(probe.clone())
        .unwrap()
        .with_compaction(Some(limits));
    let opened = probe.sectors_written();
    append_until_cut(&log, zone(), 0, updates);
    assert!(log.size().squashed >= 5);
    let total = probe.sectors_written();
    drop(log);
    let mut trials = 0;
    let mut landed_in_flight = 0;
    let cuts = (opened..total).flat_map(|after| (0..3).map(move |seed| (after, seed)));
    for (after, seed) in cuts {
        let disk = MemBlock::new(512, 8192);
        let cut = PowerCut::new(disk.clone(), after, seed);
        let acked = match StoredLog::open(cut.clone()) {
            Ok(log) => append_until_cut(&log.with_compaction(Some(limits)), zone(), 0, updates),
            Err(_) => vec![zone()],
        };
        assert!(cut.is_cut(), "no cut at sector {after} of {total}");
        // Reboot: whatever the disk holds is opened and replayed.
        let log = StoredLog::open(MemBlock::from_bytes(512, disk.snapshot()))
            .unwrap_or_else(|e| panic!("cut at sector {after}: the log does not open: {e}"));
        let mut zones = vec![zone()];
        replay(&mut zones, log.steps().unwrap());
        let got = text(&zones[0]);
        // Every acknowledged update is there; the one in flight may be.
        let n = acked.len();
        let last_acked = if n >= 2 { &acked[n - 2] } else { &acked[0] };
        if got == text(&acked[n - 1]) && n >= 2 {
            landed_in_flight += 1;
        } else {
            assert_eq!(
                got,
                text(last_acked),
                "cut at sector {after}: {} updates acknowledged",
                n - 2
            );
        }
        assert!(log.size().records <= limits.max_steps + 1);
        trials += 1;
    }
    assert_eq!(trials, 3 * (total - opened));
    println!(
        "{trials} power cuts (sectors {opened}..{total}), {landed_in_flight} with the update in flight landed"
    );
}
