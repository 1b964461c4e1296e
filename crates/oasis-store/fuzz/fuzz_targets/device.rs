//! Any bytes as a block device: opening a store on it, and reading what it
//! holds, must give records or an error, never a panic. The first input byte
//! chooses whether the device starts with a valid superblock, so the fuzzer
//! also reaches the engine's own pages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_store::mem::MemBlock;
use oasis_store::superblock::Superblock;
use oasis_store::{Record, Store};

#[derive(Record, Debug)]
struct Person {
    #[key]
    name: String,
    #[index]
    age: u32,
}

/// Device layout when the first byte asks for a valid superblock: the
/// engine's region, its page sums (one block: enough for 2 MiB), then the
/// write-ahead log's (64 KiB, the least a log region may be).
const DEVICE: usize = 256 * 1024;
const DATA_OFFSET: usize = 4096;
const LOG_LEN: usize = 64 * 1024;
const LOG_OFFSET: usize = DEVICE - LOG_LEN;
const SUMS_LEN: usize = 4096;
const SUMS_OFFSET: usize = LOG_OFFSET - SUMS_LEN;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = vec![0u8; DEVICE];
    let at = if mode & 1 == 1 {
        Superblock {
            sector_size: 512,
            data_offset: DATA_OFFSET as u64,
            data_len: (rest.len().min(SUMS_OFFSET - DATA_OFFSET) as u64).div_ceil(4096) * 4096,
            log_offset: LOG_OFFSET as u64,
            log_len: LOG_LEN as u64,
            sums_offset: SUMS_OFFSET as u64,
            sums_len: SUMS_LEN as u64,
        }
        .emit(&mut bytes[..512]);
        // Bit 1: the input goes into the log region, so that recovery
        // replays (or refuses) what the fuzzer wrote there; bit 2: into the
        // sums, so that the engine's pages (zero) are checked against them.
        if mode & 2 == 2 {
            LOG_OFFSET
        } else if mode & 4 == 4 {
            SUMS_OFFSET
        } else {
            DATA_OFFSET
        }
    } else {
        0
    };
    let n = rest.len().min(bytes.len() - at);
    bytes[at..at + n].copy_from_slice(&rest[..n]);
    if let Ok(db) = Store::builder().record::<Person>().open(MemBlock::from_bytes(512, bytes)) {
        let _ = db.query::<Person>().age().gt(30).fetch();
        let _ = db.get::<Person>("alice");
    }
});
