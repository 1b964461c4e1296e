//! How big the stored update log grows, with and without squashing
//! ([`oasis_dns_server::update::Compaction`]), on a RAM disk of apps/dns's
//! 64 MiB `storage`, through the server's own paths (`Service::update`,
//! `Service::renew_signatures`):
//!
//! - `small N`: N UPDATEs to a small zone (each replacing one host's
//!   address);
//! - `signed N`: N signature renewals of bench/dns's 10,000-host zone
//!   signed here (Ed25519 KSK and ZSK, NSEC), each also timed: the whole
//!   time `renew_signatures` holds the executor.
//!
//! `cargo bench -p oasis-dns-server --bench update_log -- small 100000`
//! `cargo bench -p oasis-dns-server --bench update_log -- signed 60`
//!
//! And `stall N`: N renewals of that zone in one go
//! (`Service::renew_signatures`) and N in slices
//! (`Service::renew_signatures_in_slices`), each beside a task answering
//! queries one after another on the same executor: the longest gap between
//! two answers is how long a query waits at worst.
//!
//! `cargo bench -p oasis-dns-server --bench update_log -- stall 3`
//!
//! And `probe M`: steps of about M MiB appended to a log that never
//! squashes until the disk is full, and why the append failed.

use std::fmt::Write;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::sign::{Algorithm, KSK_FLAGS, Key, ZSK_FLAGS};
use oasis_dns::update::{Change, request};
use oasis_dns::wire::{Class, Name, RData, Record, Type};
use oasis_dns_server::Service;
use oasis_dns_server::signing::{DEFAULT_VALIDITY, Signing};
use oasis_dns_server::update::{Compaction, Policy, StoredLog};
use oasis_store::mem::MemBlock;

/// apps/dns's `storage` in bench/dns: 64 MiB.
const DISK: u64 = 64 << 20;

fn name(s: &str) -> Name {
    oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
}

fn small_zone() -> Zone {
    oasis_dns::zone::file::load(
        "example.org.zone",
        "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n\
         ns1 A 192.0.2.1\n",
    )
    .unwrap()
}

/// bench/dns's zone: 10,000 hosts, every 4th with an AAAA, every 10th
/// with a CNAME alias, and a delegation.
fn big_zone() -> Zone {
    let mut t = String::from(
        "$ORIGIN example.com.\n$TTL 3600\n@ IN SOA ns1 hostmaster 2026112701 7200 3600 1209600 3600\n\
@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n@ IN MX 10 mail\nmail IN A 192.0.2.25\n\
@ IN A 192.0.2.80\n@ IN TXT \"v=spf1 mx -all\"\nwww IN CNAME @\n",
    );
    for i in 0..10_000 {
        let _ = writeln!(
            t,
            "host{i} IN A 10.{}.{}.{}",
            i >> 16 & 255,
            i >> 8 & 255,
            i & 255
        );
        if i % 4 == 0 {
            let _ = writeln!(t, "host{i} IN AAAA 2001:db8::{i:x}");
        }
        if i % 10 == 0 {
            let _ = writeln!(t, "alias{i} IN CNAME host{i}");
        }
    }
    t.push_str("sub IN NS ns.sub\nns.sub IN A 192.0.2.53\n");
    oasis_dns::zone::file::load("example.com.zone", &t).unwrap()
}

fn policy() -> Policy {
    Policy {
        keys: Vec::new(),
        addrs: vec![(None, "127.0.0.1".parse().unwrap())],
    }
}

fn log(compaction: Option<Compaction>) -> (Rc<StoredLog>, MemBlock) {
    let disk = MemBlock::new(512, DISK / 512);
    let log = StoredLog::open(disk.clone()).unwrap();
    (Rc::new(log.with_compaction(compaction)), disk)
}

/// How long a start takes to read the log on `disk` back and replay it
/// onto `zone`.
fn replay_time(disk: &MemBlock, zone: Zone) -> Duration {
    let started = Instant::now();
    let log = StoredLog::open(MemBlock::from_bytes(512, disk.snapshot())).unwrap();
    let mut zones = vec![zone];
    oasis_dns_server::update::replay(&mut zones, log.steps().unwrap());
    started.elapsed()
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

fn small(n: u32) {
    let peer: IpAddr = "127.0.0.1".parse().unwrap();
    for compaction in [None, Some(Compaction::default())] {
        let (log, disk) = log(compaction);
        let service = Service::new(
            Catalog::new(vec![small_zone()]).unwrap(),
            Vec::new(),
            Vec::new(),
        )
        .with_updates(policy(), Some(Box::new(log.clone())), Vec::new());
        let started = Instant::now();
        let mut first_failure = None;
        for i in 0..n {
            let host = name(&format!("h{}.example.org.", i % 50));
            let a = Record {
                name: host.clone(),
                rtype: Type::A,
                class: Class::IN,
                ttl: 300,
                rdata: RData::A([198, 51, 100, (i % 250) as u8]),
            };
            let changes = [
                Change::DeleteRrset(host, Type::A).to_record(),
                Change::Add(a).to_record(),
            ];
            let req = request(&name("example.org."), i as u16, &[], &changes);
            let mut out = [0u8; 512];
            service.update(&req, peer, None, &mut out).unwrap();
            if out[3] & 0xf != 0 && first_failure.is_none() {
                first_failure = Some(i);
                break;
            }
        }
        let s = log.size();
        println!(
            "small zone, {n} updates, squashing {}: {} records, {} ({} bytes) of steps, \
             {} squashes, {} applied, first failure {:?}, {:.1} s; read back and replayed in {} ms",
            if compaction.is_some() { "on" } else { "off" },
            s.records,
            mib(s.bytes),
            s.bytes,
            s.squashed,
            service.update_counts().applied,
            first_failure,
            started.elapsed().as_secs_f64(),
            replay_time(&disk, small_zone()).as_millis()
        );
    }
}

/// Ed25519 keys (a KSK and a ZSK) for `apex`, fixed so that runs compare.
fn ed25519_signing(apex: &Name) -> Signing {
    let mut signing = Signing::default();
    for (secret, flags) in [([7; 32], KSK_FLAGS), ([9; 32], ZSK_FLAGS)] {
        signing.add(
            apex.clone(),
            Key::from_secret(Algorithm::Ed25519, &secret, flags).unwrap(),
        );
    }
    signing
}

fn signed(n: u32) {
    oasis::rt::platform::install(oasis_hosted::services());
    let apex = name("example.com.");
    let signing = ed25519_signing(&apex);
    let t0 = 1_800_000_000;
    let half = DEFAULT_VALIDITY / 2 + 1;
    let mut zones = vec![big_zone()];
    let signed = signing.sign_all(&mut zones, t0).unwrap();
    for compaction in [None, Some(Compaction::default())] {
        let (log, _) = log(compaction);
        let mut service =
            Service::new(Catalog::new(zones.clone()).unwrap(), Vec::new(), Vec::new());
        service.set_signing(signing.clone(), signed.clone());
        let service = service.with_updates(policy(), Some(Box::new(log.clone())), Vec::new());
        let mut times = Vec::new();
        let mut first_failure = None;
        let mut peak = 0;
        for k in 1..=n {
            let started = Instant::now();
            let renewed = service.renew_signatures(t0 + k * half);
            times.push(started.elapsed());
            peak = peak.max(log.size().bytes);
            if renewed.is_empty() {
                first_failure = Some(k);
                break;
            }
        }
        let s = log.size();
        times.sort();
        let ms = |d: Duration| d.as_millis();
        println!(
            "10,000-host zone signed here, {n} renewals, squashing {}: {} records, {} of steps \
             (peak {}), {} squashes, first failure at renewal {:?}; renew_signatures min {} ms, \
             median {} ms, max {} ms",
            if compaction.is_some() { "on" } else { "off" },
            s.records,
            mib(s.bytes),
            mib(peak),
            s.squashed,
            first_failure,
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
        );
    }
}

/// Appends steps of about `mib` MiB each to an unsquashed log on the
/// 64 MiB disk until one fails, and says why.
fn probe(mib_each: u32) {
    use oasis_dns_server::update::UpdateLog;
    let (log, _) = log(None);
    let z = small_zone();
    let soa = |serial: u32| {
        let mut r = z.soa().clone();
        if let RData::Soa(s) = &mut r.rdata {
            s.serial = serial;
        }
        r
    };
    let added: Vec<Record> = (0..(mib_each as usize) << 20 >> 6)
        .map(|i| Record {
            name: name(&format!("h{i}.example.org.")),
            rtype: Type::TXT,
            class: Class::IN,
            ttl: 300,
            rdata: RData::Other(vec![30; 31]),
        })
        .collect();
    for k in 0u32.. {
        let step = oasis_dns::xfr::Diff {
            old_soa: soa(k + 1),
            deleted: Vec::new(),
            new_soa: soa(k + 2),
            added: added.clone(),
        };
        if let Err(e) = log.append(&z.apex, &step) {
            println!(
                "steps of {} each: append {} failed: {e}",
                mib(step.to_bytes().len()),
                k + 1
            );
            return;
        }
    }
}

/// Runs `renew` on an executor beside a task answering queries one after
/// another; gives how long it took, the answers given meanwhile and the
/// longest gap between two (or from its start to the first, from the last
/// to its end).
fn with_queries(
    service: Rc<Service>,
    renew: impl AsyncFnOnce(&Service) -> Vec<Name>,
) -> (Duration, usize, Duration) {
    use std::cell::{Cell, RefCell};
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
                    service
                        .catalog()
                        .answer(&q, oasis_dns::engine::Transport::Udp, &mut out)
                        .unwrap();
                    answers.borrow_mut().push(Instant::now());
                    oasis::yield_now().await;
                }
            })
        };
        oasis::yield_now().await;
        let started = Instant::now();
        let renewed = renew(&service).await;
        assert_eq!(renewed.len(), 1);
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
        (ended - started, during, gap)
    })
}

/// The longest wait of a query during a renewal of the 10,000-host zone
/// (no update log), in one go and in slices, `n` times each.
fn stall(n: u32) {
    oasis::rt::platform::install(oasis_hosted::services());
    let apex = name("example.com.");
    let signing = ed25519_signing(&apex);
    let t0 = 1_800_000_000;
    let late = t0 + DEFAULT_VALIDITY / 2 + 1;
    let mut zones = vec![big_zone()];
    let signed = signing.sign_all(&mut zones, t0).unwrap();
    // The parts of the last step, which is done in one go either way.
    let mut later = zones.clone();
    signing.sign_all(&mut later, late).unwrap();
    let time = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        started.elapsed().as_millis()
    };
    let compile = time(&mut || drop(Catalog::new(later.clone()).unwrap()));
    let diff = time(&mut || drop(oasis_dns::xfr::diff(&zones[0], &later[0])));
    let rebuild = time(&mut || {
        let records = oasis_dns::xfr::zone_records(&later[0]);
        drop(Zone::new(&apex, records).unwrap())
    });
    println!(
        "the signed zone's catalog compiled: {compile} ms; the renewal's step (xfr::diff): \
         {diff} ms; the zone built from its records (Zone::new): {rebuild} ms"
    );
    for sliced in [false, true] {
        for _ in 0..n {
            let mut service =
                Service::new(Catalog::new(zones.clone()).unwrap(), Vec::new(), Vec::new());
            service.set_signing(signing.clone(), signed.clone());
            let (took, during, gap) = if sliced {
                with_queries(Rc::new(service), async move |s: &Service| {
                    s.renew_signatures_in_slices(late, oasis_dns_server::service::RENEW_SLICE)
                        .await
                })
            } else {
                with_queries(Rc::new(service), async move |s: &Service| {
                    s.renew_signatures(late)
                })
            };
            println!(
                "renewal of the 10,000-host zone {}: {} ms, {during} answers meanwhile, \
                 longest gap between answers {} ms",
                if sliced { "in slices" } else { "in one go" },
                took.as_millis(),
                gap.as_millis()
            );
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n = |default: u32| args.get(1).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("small") => small(n(100_000)),
        Some("signed") => signed(n(60)),
        Some("probe") => probe(n(6)),
        Some("stall") => stall(n(3)),
        _ => {
            small(n(100_000));
            signed(n(60));
        }
    }
}
