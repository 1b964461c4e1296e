//! Commits share one engine transaction between checkpoints: readers still
//! see every commit, a failed or dropped transaction takes only its own
//! changes with it, and threads writing and reading at once see their
//! commits.

use std::sync::Arc;

use oasis_store::mem::MemBlock;
use oasis_store::{Error, Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    #[key]
    id: u64,
    #[index]
    size: u32,
    #[index(unique)]
    tag: String,
}

fn item(id: u64, size: u32) -> Item {
    Item {
        id,
        size,
        tag: format!("tag-{id}"),
    }
}

fn open(disk: &MemBlock) -> Store {
    Store::builder()
        .record::<Item>()
        .open(disk.clone())
        .unwrap()
}

fn sizes(db: &Store, min: u32) -> Vec<u64> {
    let found = db.query::<Item>().size().ge(min).fetch().unwrap();
    found.into_iter().map(|i| i.id).collect()
}

#[test]
fn readers_see_commits_before_an_open_transaction_and_nothing_of_it() {
    let disk = MemBlock::new(512, 32 * 1024);
    let db = open(&disk);
    db.save(&item(1, 10)).unwrap();
    db.save(&item(2, 20)).unwrap();
    db.save(&item(3, 30)).unwrap();
    db.delete::<Item>(2).unwrap();
    db.save(&item(1, 15)).unwrap();

    let mut tx = db.begin().unwrap();
    tx.save(&item(4, 40)).unwrap();
    tx.delete::<Item>(3).unwrap();
    tx.save(&item(1, 99)).unwrap();
    // Through the store: the commits above, none of `tx`'s changes.
    assert_eq!(db.get::<Item>(1).unwrap(), Some(item(1, 15)));
    assert_eq!(db.get::<Item>(2).unwrap(), None);
    assert_eq!(db.get::<Item>(3).unwrap(), Some(item(3, 30)));
    assert_eq!(db.get::<Item>(4).unwrap(), None);
    assert_eq!(sizes(&db, 0), vec![1, 3]);
    let desc = db
        .query::<Item>()
        .size()
        .ge(0)
        .size()
        .desc()
        .fetch()
        .unwrap();
    assert_eq!(desc.iter().map(|i| i.id).collect::<Vec<_>>(), vec![3, 1]);
    // Through the transaction: its own changes too.
    assert_eq!(tx.get::<Item>(1).unwrap(), Some(item(1, 99)));
    assert_eq!(tx.get::<Item>(3).unwrap(), None);
    drop(tx);

    // The dropped transaction undid only its own changes.
    assert_eq!(db.get::<Item>(1).unwrap(), Some(item(1, 15)));
    assert_eq!(db.get::<Item>(3).unwrap(), Some(item(3, 30)));
    assert_eq!(db.get::<Item>(4).unwrap(), None);
    assert_eq!(sizes(&db, 0), vec![1, 3]);

    // A transaction refused half way (a taken unique value) keeps nothing.
    db.save(&item(5, 50)).unwrap();
    let r = db.write(|tx| {
        tx.save(&item(6, 60))?;
        tx.save(&Item {
            tag: "tag-5".into(),
            ..item(7, 70)
        })
    });
    assert!(
        matches!(r, Err(Error::Unique { field: "tag", .. })),
        "{r:?}"
    );
    assert_eq!(db.get::<Item>(6).unwrap(), None);
    assert_eq!(sizes(&db, 0), vec![1, 3, 5]);
    drop(db);

    let db = open(&disk);
    assert_eq!(sizes(&db, 0), vec![1, 3, 5]);
    assert_eq!(db.get::<Item>(1).unwrap(), Some(item(1, 15)));
}

#[test]
fn threads_writing_and_reading_at_once_see_their_commits() {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = Arc::new(open(&disk));
    let workers: Vec<_> = (0..3u64)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..150u64 {
                    let id = w * 1000 + i;
                    db.save(&item(id, (id % 97) as u32)).unwrap();
                    assert_eq!(
                        db.get::<Item>(id).unwrap(),
                        Some(item(id, (id % 97) as u32))
                    );
                    if i % 10 == 0 {
                        let mut tx = db.begin().unwrap();
                        tx.save(&item(id + 500, 1)).unwrap();
                        tx.abort().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let all = db.query::<Item>().fetch().unwrap();
    assert_eq!(all.len(), 450);
    assert!(all.iter().all(|i| i.id % 1000 < 150));
    drop(db);
    let db = open(&disk);
    assert_eq!(db.query::<Item>().fetch().unwrap().len(), 450);
}
