//! The answer path does not allocate: a counting global allocator watches
//! thousands of queries of every kind except DNAME substitution.

use oasis_dns::engine::{Catalog, Transport, Zone};
use oasis_dns::wire::Name;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

thread_local! {
    // Only the answering thread counts: the test harness's own threads may
    // allocate at any time.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ZONE: &str = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n@ MX 10 mail\n\
ns1 A 192.0.2.1\nmail A 192.0.2.2\nwww CNAME mail\nsub NS ns.sub\nns.sub A 192.0.2.3\n\
*.wild A 192.0.2.4\nx.y.z TXT \"hello\"\n";

fn query(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if edns {
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }
    q
}

#[test]
fn answering_does_not_allocate() {
    let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
    let rs = oasis_dns::zone::parse_str(ZONE, "t.zone", &Name::root()).unwrap();
    let catalog = Catalog::new(vec![Zone::new(&apex, rs).unwrap()]).unwrap();
    let queries: Vec<Vec<u8>> = [
        ("www.example.com", 1),
        ("WWW.Example.COM", 28),
        ("example.com", 15),
        ("example.com", 255),
        ("nope.example.com", 1),
        ("a.b.sub.example.com", 1),
        ("Deep.Er.Wild.example.com", 1),
        ("y.z.example.com", 16),
        ("other.org", 1),
    ]
    .iter()
    .flat_map(|&(n, t)| [query(n, t, false), query(n, t, true)])
    .chain([vec![0u8; 5], vec![0xff; 40]])
    .collect();
    let mut out = vec![0u8; 65535];
    counting(true);
    let mut answered = 0;
    for _ in 0..500 {
        for q in &queries {
            for t in [Transport::Udp, Transport::Tcp] {
                answered += usize::from(catalog.answer(q, t, &mut out).is_some());
            }
        }
    }
    counting(false);
    assert!(answered > 0);
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations while answering"
    );
    // The counter does count: one allocation is seen.
    counting(true);
    let b = std::hint::black_box(Box::new(answered));
    counting(false);
    drop(b);
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 1);
}
