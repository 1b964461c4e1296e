//! Cost of the load-time and per-query paths: parsing a 10,000-host master
//! file, compiling it, and answering each kind of query from the table.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use oasis_dns::cookie::{CookieCheck, Cookies, Mode, make};
use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::Name;
use std::fmt::Write;

/// The benchmark zone: 10,000 hosts plus the usual records.
fn zone_text() -> String {
    let mut t = String::from(
        "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n\
@ MX 10 mail\n@ TXT \"v=spf1 mx -all\"\nns1 A 192.0.2.1\nns2 A 192.0.2.2\nmail A 192.0.2.3\n\
www CNAME host1\nsub NS ns.sub\nns.sub A 192.0.2.4\n*.wild A 192.0.2.5\n",
    );
    for i in 0..10_000 {
        let _ = writeln!(t, "host{i} A 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        if i % 4 == 0 {
            let _ = writeln!(t, "host{i} AAAA 2001:db8::{i:x}");
        }
    }
    t
}

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, (qtype >> 8) as u8, qtype as u8, 0, 1]);
    if edns {
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
    }
    q
}

/// The query with the DNSSEC OK bit set in its OPT record.
fn with_do(mut q: Vec<u8>) -> Vec<u8> {
    let n = q.len();
    q[n - 4] |= 0x80;
    q
}

/// The bench zone signed by `ldns-signzone` (NSEC, or NSEC3 with no salt
/// and no extra iterations), if it is installed.
fn signed(text: &str, nsec3: bool) -> Option<String> {
    let dir = std::env::temp_dir().join(format!(
        "oasis-dns-bench-sign-{}-{nsec3}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).ok()?;
    std::fs::write(dir.join("zone"), text).ok()?;
    let keygen = |ksk: bool| -> Option<String> {
        let mut c = std::process::Command::new("ldns-keygen");
        c.current_dir(&dir).args(["-a", "ECDSAP256SHA256"]);
        if ksk {
            c.arg("-k");
        }
        let out = c.arg("example.com").output().ok()?;
        Some(String::from_utf8(out.stdout).ok()?.trim().to_string())
    };
    let (ksk, zsk) = (keygen(true)?, keygen(false)?);
    let mut c = std::process::Command::new("ldns-signzone");
    c.current_dir(&dir);
    if nsec3 {
        c.args(["-n", "-t", "0"]);
    }
    let ok = c
        .args(["-f", "signed", "zone", &zsk, &ksk])
        .status()
        .ok()?
        .success();
    let text = std::fs::read_to_string(dir.join("signed")).ok();
    let _ = std::fs::remove_dir_all(&dir);
    text.filter(|_| ok)
}

fn load(text: &str) -> Catalog {
    let apex = Name::from_wire(b"\x07example\x03com\x00").expect("apex");
    let rs = oasis_dns::zone::parse_str(text, "bench.zone", &Name::root()).expect("zone parses");
    Catalog::new(vec![Zone::new(&apex, rs).expect("zone loads")]).expect("compiles")
}

fn bench(c: &mut Criterion) {
    let text = zone_text();
    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("parse 10k hosts", |b| {
        b.iter(|| {
            oasis_dns::zone::parse_str(black_box(&text), "bench.zone", &Name::root())
                .map(|r| r.len())
        })
    });
    g.bench_function("parse and compile 10k hosts", |b| {
        b.iter(|| load(black_box(&text)).compiled_len())
    });
    let image = load(&text).to_image();
    g.bench_function("load the compiled image of 10k hosts", |b| {
        b.iter(|| Catalog::from_image(black_box(&image)).map(|c| c.compiled_len()))
    });
    let built_in: &'static [u8] = image.clone().leak();
    g.bench_function("serve a built-in image of 10k hosts in place", |b| {
        b.iter(|| Catalog::from_static_image(black_box(built_in)).map(|c| c.compiled_len()))
    });
    g.finish();

    let catalog = load(&text);
    println!(
        "compiled 10k-host zone: {} table slots, {} distinct answers, image {} KiB",
        catalog.compiled_len(),
        catalog.distinct_answers(),
        catalog.compiled_bytes() / 1024,
    );
    let mut out = vec![0u8; 65535];
    let mut g = c.benchmark_group("answer");
    g.throughput(Throughput::Elements(1));
    for (what, name, qtype, edns) in [
        ("A, no EDNS", "host4711.example.com", 1, false),
        ("A, EDNS", "HOST4711.Example.com", 1, true),
        ("AAAA NODATA", "host4711.example.com", 28, true),
        ("CNAME chain", "www.example.com", 1, true),
        ("NXDOMAIN", "nope.example.com", 1, true),
        ("wildcard", "a.b.wild.example.com", 1, true),
        ("referral", "x.sub.example.com", 1, true),
        ("REFUSED", "example.org", 1, true),
    ] {
        let q = query(name, qtype, edns);
        g.bench_function(what, |b| {
            b.iter(|| catalog.answer(black_box(&q), Transport::Udp, &mut out))
        });
    }
    // DNS cookies: a query with a client cookie and a valid server cookie,
    // checked (one SipHash) and echoed; and one with a client cookie alone
    // (a fresh server cookie made).
    let cookies = Cookies {
        mode: Mode::On,
        secret: [7; 16],
        previous: None,
    };
    let peer = std::net::IpAddr::from([192, 0, 2, 1]);
    let now = 1_700_000_000;
    let client = *b"benchcli";
    let server = make(&cookies.secret, &client, peer, now);
    for (what, option) in [
        (
            "A, EDNS, valid server cookie",
            [&client[..], &server[..]].concat(),
        ),
        ("A, EDNS, client cookie", client.to_vec()),
    ] {
        let mut q = query("HOST4711.Example.com", 1, true);
        let rdlen = q.len() - 2;
        q[rdlen..].copy_from_slice(&(4 + option.len() as u16).to_be_bytes());
        q.extend_from_slice(&[0, 10, 0, option.len() as u8]);
        q.extend_from_slice(&option);
        g.bench_function(what, |b| {
            b.iter(|| {
                let mut check = CookieCheck::new(&cookies, peer, || now);
                catalog.answer_with(black_box(&q), Transport::Udp, &mut out, &mut check, 0)
            })
        });
    }
    g.finish();

    // Signed zones, queries with the DNSSEC OK bit: answers compiled with
    // their RRSIGs and proofs, and the proofs worked out per query.
    for (denial, nsec3) in [("NSEC", false), ("NSEC3", true)] {
        let Some(text) = signed(&text, nsec3) else {
            println!("skipped: signed {denial} answers (ldns-signzone not installed)");
            continue;
        };
        let catalog = load(&text);
        println!(
            "compiled 10k-host zone signed with {denial}: {} table slots, {} distinct answers, image {} KiB",
            catalog.compiled_len(),
            catalog.distinct_answers(),
            catalog.compiled_bytes() / 1024,
        );
        let mut g = c.benchmark_group(format!("answer signed {denial}"));
        g.throughput(Throughput::Elements(1));
        for (what, name, qtype) in [
            ("A, DO", "host4711.example.com", 1),
            ("AAAA NODATA, DO", "host4711.example.com", 28),
            ("NXDOMAIN, DO", "nope.example.com", 1),
            ("wildcard, DO", "a.b.wild.example.com", 1),
            ("referral, DO", "x.sub.example.com", 1),
            ("A, EDNS without DO", "host4711.example.com", 1),
        ] {
            let q = query(name, qtype, true);
            let q = if what.ends_with("DO") { with_do(q) } else { q };
            g.bench_function(what, |b| {
                b.iter(|| catalog.answer(black_box(&q), Transport::Udp, &mut out))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
