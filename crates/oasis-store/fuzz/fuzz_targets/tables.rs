//! A valid store whose tables then get entries from someone else: any keys
//! and values in its record tables, index tables and metadata, written
//! through the engine as another program would. Opening it, getting,
//! querying every way (key ranges, index ranges, a unique index, prefixes,
//! orders), saving, deleting and closing must each give a result or an
//! error, never a panic. This reaches what decodes the store's own bytes —
//! record entries, index entries, keys read back from their encoding — past
//! the engine's checksums, which the `device` target rarely gets through.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_store::mem::MemBlock;
use oasis_store::redb::TableDefinition;
use oasis_store::{BlockBackend, Record, Store};

#[derive(Record, Debug, Clone)]
struct Item {
    #[key]
    id: u64,
    #[index]
    group: u32,
    #[index(unique)]
    tag: String,
    name: String,
    score: Option<i32>,
}

#[derive(Record, Debug, Clone)]
struct Named {
    #[key]
    name: String,
    #[index]
    n: i64,
}

/// The tables an input writes into; set tables (keys alone) first.
const SETS: [&str; 4] = [
    "records:Item",
    "entries:Item.group",
    "records:Named",
    "entries:Named.n",
];
const MAPS: [&str; 2] = ["index:Item.tag", "oasis-store"];

fn open(disk: &MemBlock) -> Option<Store> {
    Store::builder()
        .record::<Item>()
        .record::<Named>()
        .open(disk.clone())
        .ok()
}

fn item(i: u64) -> Item {
    Item {
        id: i * 37 % 101,
        group: (i % 7) as u32,
        tag: format!("t{i}"),
        name: format!("item {i}"),
        score: (i % 3 != 0).then_some(i as i32 - 20),
    }
}

/// Takes `[len][len bytes]` off the front of `rest`.
fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&n, tail) = rest.split_first()?;
    let n = usize::from(n).min(tail.len());
    let (piece, tail) = tail.split_at(n);
    *rest = tail;
    Some(piece)
}

/// The store every input starts from, built once: its device's bytes.
fn base() -> &'static [u8] {
    static BASE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let disk = MemBlock::new(512, 4096);
        let db = open(&disk).expect("a fresh store opens");
        db.write(|tx| {
            for i in 0..40 {
                tx.save(&item(i))?;
                tx.save(&Named {
                    name: format!("n{i}"),
                    n: i as i64 - 20,
                })?;
            }
            Ok(())
        })
        .expect("a fresh store saves");
        db.close().expect("a fresh store closes");
        disk.snapshot()
    })
}

fuzz_target!(|data: &[u8]| {
    let disk = MemBlock::from_bytes(512, base().to_vec());

    // The input: entries `[table][key][value]`, each part length-prefixed.
    {
        let engine = oasis_store::redb::Builder::new()
            .create_with_backend(BlockBackend::open(disk.clone()).expect("the store's device"))
            .expect("the store's engine");
        let tx = engine.begin_write().expect("a write transaction");
        let mut rest = data;
        while let Some((&which, tail)) = rest.split_first() {
            rest = tail;
            let Some(key) = take(&mut rest) else {
                break;
            };
            let value = take(&mut rest).unwrap_or_default();
            let which = usize::from(which) % (SETS.len() + MAPS.len());
            if which < SETS.len() {
                let def: TableDefinition<&[u8], ()> = TableDefinition::new(SETS[which]);
                tx.open_table(def).unwrap().insert(key, ()).unwrap();
            } else {
                let def: TableDefinition<&[u8], &[u8]> =
                    TableDefinition::new(MAPS[which - SETS.len()]);
                tx.open_table(def).unwrap().insert(key, value).unwrap();
            }
        }
        tx.commit().expect("the entries commit");
    }

    let Some(db) = open(&disk) else {
        return;
    };
    for id in [0u64, 1, 36, 100, 255, 256, u64::MAX] {
        let _ = db.get::<Item>(id);
    }
    let _ = db.get::<Named>("n3");
    let _ = db.query::<Item>().fetch();
    let _ = db.query::<Item>().id().between(10, 300).fetch();
    let _ = db.query::<Item>().group().gt(2).fetch();
    let _ = db
        .query::<Item>()
        .group()
        .le(4)
        .score()
        .desc()
        .limit(5)
        .fetch();
    let _ = db.query::<Item>().tag().eq("t5").fetch();
    let _ = db.query::<Item>().tag().prefix("t1").count();
    let _ = db.query::<Item>().name().prefix("item 2").fetch();
    let _ = db.query::<Named>().n().lt(0).name().desc().fetch();
    let _ = db.query::<Named>().name().prefix("n").fetch();
    let _ = db.save(&item(3));
    let _ = db.save(&item(500));
    let _ = db.delete::<Item>(item(4).id);
    let _ = db.delete::<Named>("n7");
    let _ = db.write(|tx| {
        tx.save(&item(9))?;
        tx.delete::<Item>(item(10).id)?;
        tx.query::<Item>().group().eq(2).count()
    });
    let _ = db.close();
});
