//! How long opening a store takes as it grows: fills a RAM disk with
//! guestbook-like entries (an id key, an indexed name, a message), closes
//! it, then times opening it — as shipped (pages checked as they are read)
//! and with `verify_on_open(true)` (every page checked at open, the
//! default before the page sums) — and a first query for the latest 20.
//!
//! `cargo run --release -p oasis-store --example open_time -- [--unclean] 100000`
//! (entry counts, each in a run of its own for memory's sake; default
//! 100000). `--unclean`: the store is left as a server killed after a few
//! posts leaves it, not closed.

use std::time::Instant;

use oasis_store::mem::MemBlock;
use oasis_store::{Record, Store};

#[derive(Record, Debug, Clone)]
struct Entry {
    #[key]
    id: u64,
    #[index]
    name: String,
    message: String,
    created: u64,
}

fn entry(i: u64) -> Entry {
    Entry {
        id: i + 1,
        name: format!("visitor{}", i % 997),
        message: format!(
            "entry {i}: {}",
            "hello from the guestbook ".repeat(1 + (i % 4) as usize)
        ),
        created: 1_700_000_000 + i,
    }
}

/// A device that counts the bytes read from and written to it.
#[derive(Clone)]
struct Counting {
    inner: MemBlock,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl oasis_rt::device::Block for Counting {
    fn info(&self) -> oasis_rt::device::BlockInfo {
        self.inner.info()
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), oasis_rt::device::DeviceError> {
        self.read
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.inner.read(sector, buf)
    }
    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), oasis_rt::device::DeviceError> {
        self.written
            .fetch_add(buf.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.inner.write(sector, buf)
    }
    fn flush(&self) -> Result<(), oasis_rt::device::DeviceError> {
        self.inner.flush()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let unclean = std::env::args().any(|a| a == "--unclean");
    let counts: Vec<u64> = std::env::args()
        .skip(1)
        .filter(|a| a != "--unclean")
        .map(|a| a.parse().expect("entry counts"))
        .collect();
    let counts = if counts.is_empty() {
        vec![100_000]
    } else {
        counts
    };
    for n in counts {
        let disk = MemBlock::new(512, 2 * 1024 * 1024); // 1 GiB
        {
            let db = Store::builder()
                .record::<Entry>()
                .open(disk.clone())
                .unwrap();
            let mut i = 0;
            while i < n {
                let end = (i + 5000).min(n);
                db.write(|tx| {
                    for j in i..end {
                        tx.save(&entry(j))?;
                    }
                    Ok(())
                })
                .unwrap();
                i = end;
            }
            if unclean {
                // As a server stopped without closing its store: posts
                // committed one by one (to the log; the engine's commits
                // parked), read between them (which commits the engine
                // without waiting for the device), then no close.
                for j in n..n + 50 {
                    db.save(&entry(j)).unwrap();
                    db.query::<Entry>().id().desc().limit(20).fetch().unwrap();
                }
                std::mem::forget(db);
            } else {
                db.close().unwrap();
            }
        }
        let image = disk.snapshot();
        let sb = oasis_store::superblock::Superblock::parse(&image[..512]).unwrap();
        for (label, verify) in [
            ("checked as read", None),
            ("verify_on_open(true)", Some(true)),
        ] {
            let (mut opens, mut firsts) = (Vec::new(), Vec::new());
            let mut io = (0, 0);
            for _ in 0..5 {
                let dev = Counting {
                    inner: MemBlock::from_bytes(512, image.clone()),
                    read: Default::default(),
                    written: Default::default(),
                };
                let counted = dev.clone();
                let t = Instant::now();
                let mut b = Store::builder().record::<Entry>();
                if let Some(v) = verify {
                    b = b.verify_on_open(v);
                }
                let db = b.open(dev).unwrap();
                let opened = t.elapsed();
                io = (
                    counted.read.load(std::sync::atomic::Ordering::Relaxed),
                    counted.written.load(std::sync::atomic::Ordering::Relaxed),
                );
                let latest = db.query::<Entry>().id().desc().limit(20).fetch().unwrap();
                let first = t.elapsed();
                assert_eq!(latest.len(), 20.min(n as usize));
                if unclean {
                    assert_eq!(latest[0].id, n + 50, "a logged post lost");
                }
                opens.push(opened.as_secs_f64() * 1e3);
                firsts.push(first.as_secs_f64() * 1e3);
                // Not closed: closing writes; the next open starts from the same image.
                std::mem::forget(db);
            }
            println!(
                "{n} entries ({} MiB of engine storage), {label}: open {:.2} ms, open + latest 20 {:.2} ms (median of 5); open read {} KiB, wrote {} KiB",
                sb.data_len >> 20,
                median(opens),
                median(firsts),
                io.0 >> 10,
                io.1 >> 10
            );
        }
    }
}
