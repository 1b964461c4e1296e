//! Hostile storage: garbage, truncation, a damaged engine area, another
//! program's database, a changed record layout. Each is a clear error on
//! open — never a panic, never a silent overwrite.

use oasis_rt::device::Block;
use oasis_store::mem::MemBlock;
use oasis_store::redb::{ReadableDatabase, ReadableTable};
use oasis_store::superblock::{Superblock, SuperblockError};
use oasis_store::{BlockBackend, Error, OpenError, Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Person {
    #[key]
    name: String,
    #[index]
    age: u32,
}

/// The same record name with another layout (an added field).
#[derive(Record, Debug, Clone, PartialEq)]
#[record(name = "Person")]
struct PersonV2 {
    #[key]
    name: String,
    #[index]
    age: u32,
    email: Option<String>,
}

/// Why opening `dev` as a store of [`Person`] fails.
fn refused<B: Block + Send + 'static>(dev: B) -> Error {
    Store::builder().record::<Person>().open(dev).unwrap_err()
}

/// Writes a redb database onto `disk` as another program would: `fill`
/// runs in its one write transaction.
fn write_raw(disk: &MemBlock, fill: impl FnOnce(&oasis_store::redb::WriteTransaction)) {
    let db = oasis_store::redb::Builder::new()
        .create_with_backend(BlockBackend::open(disk.clone()).unwrap())
        .unwrap();
    let tx = db.begin_write().unwrap();
    fill(&tx);
    tx.commit().unwrap();
}

fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = oasis_store::fault::Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

fn filled_store() -> MemBlock {
    let disk = MemBlock::new(512, 32 * 1024);
    let db = Store::builder()
        .record::<Person>()
        .open(disk.clone())
        .unwrap();
    db.write(|tx| {
        for i in 0..3000 {
            tx.save(&Person {
                name: format!("person{i:05}"),
                age: i % 90,
            })?;
        }
        Ok(())
    })
    .unwrap();
    disk
}

#[test]
fn a_device_full_of_garbage_is_refused_and_left_alone() {
    for seed in 0..20 {
        let bytes = garbage(4 << 20, seed);
        let disk = MemBlock::from_bytes(512, bytes.clone());
        let e = refused(disk.clone());
        assert!(
            matches!(
                e,
                Error::Open(OpenError::Superblock(SuperblockError::NotAStore))
            ),
            "{e}"
        );
        assert!(e.to_string().contains("not an oasis-store database"), "{e}");
        assert!(
            disk.snapshot() == bytes,
            "seed {seed}: the device was written to"
        );
    }
}

#[test]
fn a_blank_start_with_data_further_on_is_not_formatted() {
    let mut bytes = vec![0u8; 4 << 20];
    bytes[40_000] = 1; // e.g. a file system whose first blocks are zero
    let disk = MemBlock::from_bytes(512, bytes.clone());
    let e = refused(disk.clone());
    assert!(matches!(e, Error::Open(OpenError::Superblock(_))), "{e}");
    assert!(disk.snapshot() == bytes, "the device was written to");
}

#[test]
fn a_truncated_image_is_refused() {
    let bytes = filled_store().snapshot();
    let used = bytes.iter().rposition(|&b| b != 0).unwrap();
    let cut = MemBlock::from_bytes(512, bytes[..used / 2 + 100 * 1024].to_vec());
    let e = refused(cut);
    assert!(matches!(e, Error::Open(OpenError::Truncated { .. })), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

/// The engine trusts pages it reads; the block backend's check of each page
/// against its sum, the first time it is read, is what turns damage into an
/// error. Without it, redb can panic or return wrong records.
#[test]
fn damaged_engine_pages_give_an_error_not_a_panic() {
    let pristine = filled_store().snapshot();
    for seed in 0..100 {
        let mut bytes = pristine.clone();
        let mut rng = oasis_store::fault::Rng::new(seed);
        // Scribble over a few 4 KiB pages after the superblock.
        for _ in 0..1 + seed % 4 {
            let page = 1 + rng.below(200) as usize;
            let noise = garbage(4096, seed * 31 + page as u64);
            bytes[page * 4096..(page + 1) * 4096].copy_from_slice(&noise);
        }
        let disk = MemBlock::from_bytes(512, bytes);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let db = Store::builder().record::<Person>().open(disk)?;
            db.query::<Person>().count()
        }));
        match outcome {
            // Only pages no longer in use were hit: nothing is lost.
            Ok(Ok(n)) => assert_eq!(n, 3000, "seed {seed}: wrong count"),
            Ok(Err(_)) => {}
            Err(_) => panic!("seed {seed}: the engine panicked on damaged pages"),
        }
    }
}

#[test]
fn another_programs_database_is_refused() {
    // A redb database written by something else, on an oasis block device.
    let disk = MemBlock::new(512, 16 * 1024);
    write_raw(&disk, |tx| {
        let def: oasis_store::redb::TableDefinition<u64, u64> =
            oasis_store::redb::TableDefinition::new("accounts");
        tx.open_table(def).unwrap().insert(1, 100).unwrap();
    });
    let e = refused(disk.clone());
    assert!(matches!(e, Error::NotAStore(_)), "{e}");
    assert!(e.to_string().contains("accounts"), "{e}");
    // The foreign database is intact and was given no oasis-store tables.
    let db = oasis_store::redb::Builder::new()
        .create_with_backend(BlockBackend::open(disk).unwrap())
        .unwrap();
    let tx = db.begin_read().unwrap();
    let def: oasis_store::redb::TableDefinition<u64, u64> =
        oasis_store::redb::TableDefinition::new("accounts");
    let value = tx.open_table(def).unwrap().get(1).unwrap().unwrap().value();
    assert_eq!(value, 100);
    assert_eq!(tx.list_tables().unwrap().count(), 1);
}

#[test]
fn stores_of_earlier_formats_are_refused_by_name_and_left_alone() {
    for marker in [
        "oasis-store 2",
        "oasis-store 3",
        "oasis-store 4",
        "oasis-store 5",
    ] {
        // A store as that format left it: the marker in the metadata table.
        let disk = MemBlock::new(512, 16 * 1024);
        write_raw(&disk, |tx| {
            let def: oasis_store::redb::TableDefinition<&[u8], &[u8]> =
                oasis_store::redb::TableDefinition::new("oasis-store");
            let mut t = tx.open_table(def).unwrap();
            t.insert(b"format".as_slice(), marker.as_bytes()).unwrap();
        });
        for _ in 0..2 {
            // Refused, and left as it was: the second open finds it again.
            let e = refused(disk.clone());
            assert!(matches!(e, Error::NotAStore(_)), "{e}");
            assert!(e.to_string().contains(marker), "{e}");
        }
    }
}

#[test]
fn a_changed_layout_is_refused_unless_migrated() {
    let disk = filled_store();
    let e = Store::builder()
        .record::<PersonV2>()
        .open(disk.clone())
        .unwrap_err();
    match &e {
        Error::LayoutChanged {
            record: "Person",
            stored,
            current,
        } => {
            assert!(
                stored.contains("age:u32") && current.contains("email"),
                "{e}"
            );
        }
        _ => panic!("{e}"),
    }
    // Nothing changed: the old program still reads its data.
    let db = Store::builder()
        .record::<Person>()
        .open(disk.clone())
        .unwrap();
    assert_eq!(db.query::<Person>().count().unwrap(), 3000);
    drop(db);

    let db = Store::builder()
        .migrate::<Person, PersonV2>(|p| PersonV2 {
            name: p.name,
            age: p.age,
            email: None,
        })
        .open(disk.clone())
        .unwrap();
    let thirty = (0..3000).filter(|i| i % 90 == 30).count();
    assert_eq!(
        db.query::<PersonV2>().age().eq(30u32).count().unwrap(),
        thirty
    );
    let p = db.get::<PersonV2>("person00042").unwrap().unwrap();
    assert_eq!((p.age, p.email), (42, None));
    drop(db);
    // Migrated for good: the new layout opens without the migration, the old one no longer does.
    assert!(
        Store::builder()
            .record::<PersonV2>()
            .open(disk.clone())
            .is_ok()
    );
    assert!(matches!(refused(disk), Error::LayoutChanged { .. }));
}

#[test]
fn a_garbage_file_on_the_hosted_block_device_is_refused() {
    use std::io::Write;
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&garbage(1 << 20, 99)).unwrap();
    let dev = oasis_hosted::block::FileBlock::open(f.path()).unwrap();
    let e = refused(dev);
    assert!(e.to_string().contains("not an oasis-store database"), "{e}");
}

#[test]
fn a_store_of_the_format_before_the_log_is_refused_with_a_clear_error() {
    // The first sector as format version 1 wrote it: magic, version 1,
    // sector size, data offset, data length, FNV-1a 64 of bytes 0..32.
    let mut bytes = filled_store().snapshot();
    let mut sb = [0u8; 40];
    sb[..8].copy_from_slice(b"oasisDB\x01");
    sb[8..12].copy_from_slice(&1u32.to_le_bytes());
    sb[12..16].copy_from_slice(&512u32.to_le_bytes());
    sb[16..24].copy_from_slice(&4096u64.to_le_bytes());
    sb[24..32].copy_from_slice(&(1u64 << 20).to_le_bytes());
    let sum = sb[..32].iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    sb[32..40].copy_from_slice(&sum.to_le_bytes());
    bytes[..512].fill(0);
    bytes[..40].copy_from_slice(&sb);
    let disk = MemBlock::from_bytes(512, bytes.clone());
    let e = refused(disk.clone());
    assert!(
        matches!(
            e,
            Error::Open(OpenError::Superblock(SuperblockError::Version(1)))
        ),
        "{e}"
    );
    assert!(e.to_string().contains("format version 1"), "{e}");
    assert!(disk.snapshot() == bytes, "the device was written to");
}

#[test]
fn a_forged_superblock_with_an_impossible_layout_is_refused_and_nothing_is_written() {
    let good = filled_store().snapshot();
    let sb = Superblock::parse(&good[..512]).expect("the store's own superblock");
    let forged = [
        // The engine's storage over the superblock itself.
        Superblock {
            data_offset: 0,
            ..sb
        },
        // The log inside the engine's storage.
        Superblock {
            log_offset: sb.data_offset,
            ..sb
        },
        // A log region smaller than any log.
        Superblock { log_len: 512, ..sb },
        // A log region not on a sector boundary.
        Superblock {
            log_offset: sb.log_offset - 1,
            ..sb
        },
        // The sums inside the engine's storage.
        Superblock {
            sums_offset: sb.data_offset,
            ..sb
        },
        // Too few sums for the engine's storage.
        Superblock {
            sums_len: 4096,
            ..sb
        },
        // The log inside the sums.
        Superblock {
            log_offset: sb.sums_offset,
            ..sb
        },
    ];
    for forged in forged {
        let mut bytes = good.clone();
        forged.emit(&mut bytes[..512]);
        let disk = MemBlock::from_bytes(512, bytes.clone());
        let e = refused(disk.clone());
        assert!(
            matches!(e, Error::Open(OpenError::Layout { .. })),
            "{forged:?}: {e}"
        );
        assert!(
            disk.snapshot() == bytes,
            "{forged:?}: the device was written to"
        );
    }
}

#[test]
fn a_stored_key_that_is_not_a_key_of_its_type_is_an_error_when_read() {
    let disk = filled_store();
    // Among the records (`key ++ value`, a String key closed by 0 0): a key
    // that is no String's sort key (not UTF-8), age 30.
    write_raw(&disk, |tx| {
        let def: oasis_store::redb::TableDefinition<&[u8], ()> =
            oasis_store::redb::TableDefinition::new("records:Person");
        let mut t = tx.open_table(def).unwrap();
        t.insert(b"\xff\xfe\0\0\x1e".as_slice(), ()).unwrap();
    });
    let db = Store::builder()
        .record::<Person>()
        .open(disk.clone())
        .unwrap();
    let e = db.query::<Person>().fetch().unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    assert!(e.to_string().contains("key `name`"), "{e}");
    // Everything else still reads.
    let p = db.get::<Person>("person00007").unwrap().unwrap();
    assert_eq!(p.age, 7);
    drop(db);

    // An entry without the end of its key is refused by name.
    write_raw(&disk, |tx| {
        let def: oasis_store::redb::TableDefinition<&[u8], ()> =
            oasis_store::redb::TableDefinition::new("records:Person");
        let mut t = tx.open_table(def).unwrap();
        t.remove(b"\xff\xfe\0\0\x1e".as_slice()).unwrap();
        t.insert(b"zz\0\x01".as_slice(), ()).unwrap();
    });
    let db = Store::builder().record::<Person>().open(disk).unwrap();
    let e = db.query::<Person>().fetch().unwrap_err();
    assert!(
        e.to_string()
            .contains("malformed record entry in `records:Person`"),
        "{e}"
    );
}
