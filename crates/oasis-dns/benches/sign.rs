//! Cost of online signing ([`oasis_dns::sign`]) on the 10,000-host zone of
//! bench/dns (`write_zone`): signing it whole with ECDSA P-256 and with
//! Ed25519 (a KSK and a ZSK), NSEC and NSEC3 (no salt, 0 iterations); and
//! one dynamic UPDATE of the signed zone as the server does it — the
//! change applied to the zone's data, the zone signed again keeping the
//! signatures of unchanged RRsets, the IXFR step worked out, and the
//! catalog compiled. Prints the median of a few runs of each (not
//! criterion: one run takes up to seconds).
//!
//! `cargo bench -p oasis-dns --bench sign`

use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::sign::{
    Algorithm, Denial, KSK_FLAGS, Key, Options, ZSK_FLAGS, diff_at, sign, sign_changes, unsigned,
};
use oasis_dns::update::Update;
use oasis_dns::wire::{Class, Compressor, Name, RData, Record, Type};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// bench/dns's zone: 10,000 hosts, every 4th with an AAAA, every 10th
/// with a CNAME alias, and a delegation.
fn zone() -> Zone {
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

fn keys(alg: Algorithm) -> Vec<Key> {
    vec![
        Key::from_secret(alg, &[7; 32], KSK_FLAGS).unwrap(),
        Key::from_secret(alg, &[9; 32], ZSK_FLAGS).unwrap(),
    ]
}

/// An UPDATE adding `name` A 192.0.2.99.
fn update(apex: &Name, name: &Name) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0];
    m.extend_from_slice(apex.as_wire());
    m.extend_from_slice(&[0, 6, 0, 1]);
    let r = Record {
        name: name.clone(),
        rtype: Type::A,
        class: Class::IN,
        ttl: 60,
        rdata: RData::A([192, 0, 2, 99]),
    };
    r.emit(&mut m, &mut Compressor::new());
    m
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let zone = zone();
    let now = 1_800_000_000;
    for alg in [Algorithm::EcdsaP256Sha256, Algorithm::Ed25519] {
        let keys = keys(alg);
        for (what, denial) in [("NSEC", Denial::Nsec), ("NSEC3", Denial::nsec3())] {
            let opts = Options::at(now, 14 * 86400, denial);
            let mut times = Vec::new();
            let mut signed = None;
            for _ in 0..3 {
                let t = Instant::now();
                signed = Some(sign(&zone, &keys, &opts, None).unwrap());
                times.push(t.elapsed());
            }
            let signed = signed.unwrap();
            let sigs: usize = signed
                .nodes
                .values()
                .filter_map(|n| n.get(Type::RRSIG))
                .map(|s| s.records.len())
                .sum();
            println!(
                "sign 10k zone, {alg}, {what}: {:.0} ms ({sigs} signatures)",
                median(times).as_secs_f64() * 1e3
            );
            // One UPDATE, as oasis-dns-server applies it.
            let mut times = Vec::new();
            let mut parts = Vec::new();
            for i in 0..5 {
                let name = zone.apex.prepend(format!("new{i}").as_bytes()).unwrap();
                let msg = update(&zone.apex, &name);
                let t = Instant::now();
                let u = Update::parse(&msg).unwrap();
                let applied = u.apply(&unsigned(&signed)).unwrap().unwrap();
                let t1 = t.elapsed();
                let (resigned, mut names) =
                    sign_changes(&applied.zone, &keys, &opts, Some(&signed)).unwrap();
                let t2 = t.elapsed();
                names.insert(name.to_lowercase());
                names.insert(zone.apex.clone());
                let diff = diff_at(&signed, &resigned, &names);
                let t3 = t.elapsed();
                let catalog = Catalog::new(vec![resigned]).unwrap();
                catalog.prepare();
                times.push(t.elapsed());
                parts.push((t1, t2 - t1, t3 - t2, t.elapsed() - t3, diff.added.len()));
            }
            let (a, s, d, c, n) = parts[parts.len() / 2];
            println!(
                "  one UPDATE (add a name): {:.0} ms (apply {:.0}, sign again {:.0}, step {:.1}, compile {:.0}; {n} records added in the step)",
                median(times).as_secs_f64() * 1e3,
                a.as_secs_f64() * 1e3,
                s.as_secs_f64() * 1e3,
                d.as_secs_f64() * 1e3,
                c.as_secs_f64() * 1e3
            );
        }
    }
}
