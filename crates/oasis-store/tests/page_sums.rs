//! The engine's pages checked as they are read: opening a store reads the
//! same few blocks whatever it holds, and a page damaged on the device is
//! an error of the operation that reads it (saying which block and why),
//! never a panic or wrong records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use oasis_rt::device::{Block, BlockInfo, DeviceError};
use oasis_store::mem::MemBlock;
use oasis_store::redb::StorageBackend;
use oasis_store::superblock::Superblock;
use oasis_store::{BlockBackend, Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Note {
    #[key]
    id: u64,
    #[index]
    author: String,
    text: String,
}

/// A device that counts the bytes read from the engine's storage on it.
#[derive(Clone)]
struct Counting {
    inner: MemBlock,
    /// The engine's storage: device bytes `[from, to)`.
    engine: Arc<std::sync::Mutex<(u64, u64)>>,
    read: Arc<AtomicU64>,
}

impl Counting {
    fn new(inner: MemBlock) -> Counting {
        let sb = Superblock::parse(&inner.snapshot()[..512]).unwrap();
        Counting {
            inner,
            engine: Arc::new(std::sync::Mutex::new((
                sb.data_offset,
                sb.data_offset + sb.data_len,
            ))),
            read: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Block for Counting {
    fn info(&self) -> BlockInfo {
        self.inner.info()
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let (start, end) = (sector * 512, sector * 512 + buf.len() as u64);
        let (from, to) = *self.engine.lock().unwrap();
        let overlap = end.min(to).saturating_sub(start.max(from));
        self.read.fetch_add(overlap, Ordering::Relaxed);
        self.inner.read(sector, buf)
    }
    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.inner.write(sector, buf)
    }
    fn flush(&self) -> Result<(), DeviceError> {
        self.inner.flush()
    }
}

fn note(i: u64) -> Note {
    Note {
        id: i,
        author: format!("author{}", i % 50),
        text: format!("note {i}: {}", "x".repeat((i % 200) as usize)),
    }
}

/// A closed store of `n` notes on a 32 MiB device.
fn store_of(n: u64) -> MemBlock {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = Store::builder()
        .record::<Note>()
        .open(disk.clone())
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        db.write(|tx| {
            for &i in chunk {
                tx.save(&note(i))?;
            }
            Ok(())
        })
        .unwrap();
    }
    db.close().unwrap();
    disk
}

/// Bytes of the engine's storage read by opening the store on `disk`.
fn read_by_open(disk: &MemBlock) -> u64 {
    let dev = Counting::new(MemBlock::from_bytes(512, disk.snapshot()));
    let db = Store::builder().record::<Note>().open(dev.clone()).unwrap();
    let n = dev.read.load(Ordering::Relaxed);
    drop(db);
    n
}

fn data_len(disk: &MemBlock) -> u64 {
    Superblock::parse(&disk.snapshot()[..512]).unwrap().data_len
}

#[test]
fn opening_reads_the_same_few_blocks_whatever_the_store_holds() {
    let small = store_of(500);
    let big = store_of(20_000);
    assert!(
        data_len(&big) > 4 * data_len(&small),
        "{} {}",
        data_len(&big),
        data_len(&small)
    );
    let (read_small, read_big) = (read_by_open(&small), read_by_open(&big));
    eprintln!(
        "opening read {read_small} of {} engine bytes, {read_big} of {}",
        data_len(&small),
        data_len(&big)
    );
    // The engine's header, and the few pages from the roots to its
    // allocator state and the store's metadata: not the records.
    assert!(
        read_big <= 64 * 1024 && read_small <= 64 * 1024,
        "opening read {read_big} bytes of a {} byte store ({read_small} of a {} byte one)",
        data_len(&big),
        data_len(&small)
    );
}

#[test]
fn a_damaged_page_opens_fast_and_fails_the_read_that_meets_it() {
    let pristine = store_of(5_000).snapshot();
    let sb = Superblock::parse(&pristine[..512]).unwrap();
    let blocks = sb.data_len / 4096;
    let all: Vec<Note> = (0..5_000).map(note).collect();
    let (mut opened_then_failed, mut refused_at_open) = (0, 0);
    for b in 1..blocks {
        let mut bytes = pristine.clone();
        let at = (sb.data_offset + b * 4096 + 1000) as usize;
        bytes[at] ^= 0x20;
        let disk = MemBlock::from_bytes(512, bytes);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let db = match Store::builder().record::<Note>().open(disk) {
                Ok(db) => db,
                Err(e) => return Err((true, e.to_string())),
            };
            let fetched = db
                .query::<Note>()
                .fetch()
                .map_err(|e| (false, e.to_string()))?;
            let by_author = db
                .query::<Note>()
                .author()
                .eq("author7".to_string())
                .fetch()
                .map_err(|e| (false, e.to_string()))?;
            Ok((fetched, by_author))
        }));
        match outcome {
            Err(_) => panic!("block {b}: a damaged page panicked"),
            // Damage to a page no longer in use changes nothing.
            Ok(Ok((fetched, by_author))) => {
                assert_eq!(fetched, all, "block {b}: wrong records");
                assert_eq!(by_author.len(), 100, "block {b}: wrong index");
            }
            Ok(Err((at_open, why))) => {
                if at_open {
                    refused_at_open += 1;
                } else {
                    opened_then_failed += 1;
                    let device_byte = sb.data_offset + b * 4096;
                    assert!(
                        why.contains("damaged")
                            && why.contains(&format!("device byte {device_byte}")),
                        "block {b}: {why}"
                    );
                }
            }
        }
    }
    eprintln!(
        "{blocks} blocks damaged one at a time: {opened_then_failed} failed the read, {refused_at_open} the open"
    );
    // Most of the store's pages hold records, which opening does not read.
    assert!(
        opened_then_failed > refused_at_open && opened_then_failed > blocks / 4,
        "{opened_then_failed} reads failed, {refused_at_open} opens, of {blocks} blocks"
    );
}

#[test]
fn a_block_is_checked_the_first_time_it_is_read_and_not_again() {
    let disk = MemBlock::new(512, 16 * 1024);
    let page: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    {
        let backend = BlockBackend::open(disk.clone()).unwrap();
        backend.set_len(4 * 4096).unwrap();
        // Something in the engine's header block, so the length is kept.
        backend.write(0, b"not zero!").unwrap();
        backend.write(4096, &page).unwrap();
        backend.sync_data().unwrap();
    }
    let sb = Superblock::parse(&disk.snapshot()[..512]).unwrap();
    let sector = (sb.data_offset + 4096) / 512;
    let backend = BlockBackend::open(disk.clone()).unwrap();
    let mut out = vec![0u8; 4096];
    backend.read(4096, &mut out).unwrap();
    assert_eq!(out, page);
    // Changed on the device after it was checked: this open does not look
    // again (the engine's own cache would not either).
    let mut changed = page.clone();
    changed[10] ^= 1;
    disk.write(sector, &changed).unwrap();
    backend.read(4096, &mut out).unwrap();
    assert_eq!(out, changed);
    drop(backend);
    // A new open checks it, and a part of it too.
    let backend = BlockBackend::open(disk.clone()).unwrap();
    let e = backend
        .read(4096 + 100, &mut out[..50])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("damaged") && e.contains(&format!("device byte {}", sb.data_offset + 4096)),
        "{e}"
    );
    // A block added but never written reads as zeros in the open that
    // added it, and is never written to the device for that; after a
    // reopen it holds nothing written there and fails its sum.
    backend.set_len(8 * 4096).unwrap();
    backend.read(6 * 4096, &mut out).unwrap();
    assert!(out.iter().all(|&b| b == 0));
    drop(backend);
    let backend = BlockBackend::open(disk.clone()).unwrap();
    let e = backend.read(2 * 4096, &mut out).unwrap_err().to_string();
    assert!(e.contains("damaged"), "{e}");
}
