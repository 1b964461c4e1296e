//! What a commit asks of the block device: a durable commit on a store with
//! a log is one durable write (one exit on kvm), never a write then a flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oasis_rt::device::{Block, BlockInfo, DeviceError};
use oasis_store::mem::MemBlock;
use oasis_store::{Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    #[key]
    id: u64,
    #[index]
    size: u32,
}

/// Requests of each kind a device received.
#[derive(Default)]
struct Counts {
    writes: AtomicUsize,
    flushes: AtomicUsize,
    durable: AtomicUsize,
}

/// A RAM disk that counts its requests.
#[derive(Clone)]
struct Counting(MemBlock, Arc<Counts>);

impl Block for Counting {
    fn info(&self) -> BlockInfo {
        self.0.info()
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.0.read(sector, buf)
    }
    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.1.writes.fetch_add(1, Ordering::SeqCst);
        self.0.write(sector, buf)
    }
    fn flush(&self) -> Result<(), DeviceError> {
        self.1.flushes.fetch_add(1, Ordering::SeqCst);
        self.0.flush()
    }
    fn write_durable(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.1.durable.fetch_add(1, Ordering::SeqCst);
        self.0.write(sector, buf)
    }
}

#[test]
fn a_durable_commit_is_one_durable_write() {
    let counts = Arc::new(Counts::default());
    let disk = Counting(MemBlock::new(512, 64 << 11), counts.clone());
    let db = Store::builder()
        .record::<Item>()
        .open(disk.clone())
        .unwrap();
    let load = |c: &AtomicUsize| c.load(Ordering::SeqCst);
    let before = (
        load(&counts.writes),
        load(&counts.flushes),
        load(&counts.durable),
    );
    for id in 0..20u64 {
        db.save(&Item { id, size: 7 }).unwrap();
    }
    assert_eq!(
        load(&counts.durable) - before.2,
        20,
        "one durable write each"
    );
    assert_eq!(load(&counts.flushes), before.1, "no separate flush");
    // Lazy commits go to the device later, and a durable one after them
    // carries them in its single request.
    db.write(|tx| {
        tx.save(&Item { id: 100, size: 1 })?;
        Ok(())
    })
    .unwrap();
    let mut tx = db.begin().unwrap();
    tx.save(&Item { id: 101, size: 1 }).unwrap();
    tx.commit_lazy().unwrap();
    db.save(&Item { id: 102, size: 1 }).unwrap();
    assert_eq!(load(&counts.durable) - before.2, 22);
    assert_eq!(load(&counts.flushes), before.1);
    drop(db);
    let db = Store::builder().record::<Item>().open(disk).unwrap();
    for id in (0..20).chain(100..103) {
        assert!(db.get::<Item>(id).unwrap().is_some(), "item {id}");
    }
}
