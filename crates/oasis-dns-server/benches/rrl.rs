//! What response-rate limiting adds to one UDP answer: the catalog's answer
//! alone, and the same answer then judged by [`Rrl::check`] at a rate no
//! client reaches (every answer pays the bookkeeping, none is held back) —
//! from one client, and from clients spread over many /24s (the table's
//! buckets then miss the cache as they would under real traffic).

use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::Name;
use oasis_dns_server::RrlConfig;
use oasis_dns_server::rrl::Rrl;

fn catalog() -> Catalog {
    let text = "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.80\n";
    let apex = Name::from_wire(b"\x07example\x03com\x00").expect("apex");
    let rs = oasis_dns::zone::parse_str(text, "bench.zone", &Name::root()).expect("zone parses");
    Catalog::new(vec![Zone::new(&apex, rs).expect("zone loads")]).expect("compiles")
}

/// `www.example.com A`, as dnsperf sends it.
fn query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    q
}

fn bench(c: &mut Criterion) {
    let catalog = catalog();
    let q = query();
    let rrl = Rrl::new(
        RrlConfig {
            rate: 100_000_000,
            ..RrlConfig::default()
        },
        [7; 16],
    )
    .expect("a rate turns it on");
    let mut out = vec![0u8; 4096];
    let mut g = c.benchmark_group("udp answer");
    g.bench_function("catalog answer", |b| {
        b.iter(|| catalog.answer(black_box(&q), Transport::Udp, &mut out))
    });
    let one = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let mut now = 0u64;
    g.bench_function("catalog answer + rrl check, one client", |b| {
        b.iter(|| {
            let n = catalog.answer(black_box(&q), Transport::Udp, &mut out)?;
            now += 1_000;
            Some(rrl.check(now, black_box(one), &out[..n]))
        })
    });
    let mut i = 0u32;
    g.bench_function("catalog answer + rrl check, 65,536 /24s", |b| {
        b.iter(|| {
            let n = catalog.answer(black_box(&q), Transport::Udp, &mut out)?;
            now += 1_000;
            i = i.wrapping_add(1);
            let peer = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | ((i & 0xffff) << 8)));
            Some(rrl.check(now, peer, &out[..n]))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
