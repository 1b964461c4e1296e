//! Recovery from the log: commits acknowledged since the last checkpoint
//! live only in the store's log until the next one; a store that stops
//! without closing (its memory gone, as in a crash) finds them all on
//! reopening, updates and deletes and auto ids included, whether the log
//! was checkpointed on the way or not.

use oasis_store::mem::MemBlock;
use oasis_store::{Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Item {
    #[key]
    name: String,
    #[index]
    size: u32,
    #[index(unique)]
    code: String,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Note {
    #[key(auto)]
    id: u64,
    text: String,
}

fn open(disk: &MemBlock) -> Store {
    Store::builder()
        .record::<Item>()
        .record::<Note>()
        .open(disk.clone())
        .unwrap()
}

fn item(i: u32, size: u32) -> Item {
    Item {
        name: format!("item{i:04}"),
        size,
        code: format!("c{i}"),
    }
}

/// Drops the store without its clean close: what a crash leaves behind
/// (the engine's memory gone; only what reached the device remains).
fn crash(db: Store) {
    std::mem::forget(db);
}

fn run(disk: &MemBlock, commits: u32, payload: usize) {
    let db = open(disk);
    for i in 0..commits {
        db.write(|tx| {
            tx.save(&item(i, i % 7))?;
            tx.save(&Note {
                id: 0,
                text: "x".repeat(payload),
            })?;
            if i % 5 == 4 {
                tx.save(&item(i - 2, 100 + i))?; // an update: index entry moves
                tx.delete::<Item>(format!("item{:04}", i - 4).as_str())?;
            }
            Ok(())
        })
        .unwrap();
    }
    crash(db);
}

fn check(disk: &MemBlock, commits: u32) {
    let db = open(disk);
    let mut want: Vec<Item> = (0..commits).map(|i| item(i, i % 7)).collect();
    for i in (0..commits).filter(|i| i % 5 == 4) {
        want[(i - 2) as usize].size = 100 + i;
    }
    let deleted: Vec<u32> = (0..commits).filter(|i| i % 5 == 4).map(|i| i - 4).collect();
    let want: Vec<Item> = want
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !deleted.contains(&(*i as u32)))
        .map(|(_, it)| it)
        .collect();
    assert_eq!(db.query::<Item>().fetch().unwrap(), want);
    assert_eq!(
        db.query::<Item>().size().ge(100u32).count().unwrap(),
        want.iter().filter(|i| i.size >= 100).count()
    );
    assert_eq!(db.query::<Note>().count().unwrap(), commits as usize);
    // The id sequence came back too: the next note gets a fresh id.
    let id = db
        .save(&Note {
            id: 0,
            text: "after".into(),
        })
        .unwrap();
    assert_eq!(id, u64::from(commits) + 1);
}

#[test]
fn commits_since_the_last_checkpoint_come_back_from_the_log() {
    // 8 MiB: a 1 MiB log that never fills here, so every commit is only
    // in the log when the store stops.
    let disk = MemBlock::new(512, 16 * 1024);
    run(&disk, 60, 100);
    check(&disk, 60);
}

#[test]
fn commits_on_both_sides_of_a_checkpoint_come_back() {
    // 1 MiB: a 128 KiB log checkpointed at 64 KiB; ~3 KiB records, so the
    // run checkpoints several times and stops with a part-filled log.
    let disk = MemBlock::new(512, 2 * 1024);
    run(&disk, 70, 3000);
    check(&disk, 70);
}

#[test]
fn a_reopened_store_recovers_again_after_another_crash() {
    let disk = MemBlock::new(512, 16 * 1024);
    run(&disk, 20, 10);
    let db = open(&disk);
    db.save(&item(500, 1)).unwrap();
    crash(db);
    let db = open(&disk);
    assert_eq!(db.query::<Item>().count().unwrap(), 20 - 4 + 1);
    assert_eq!(db.query::<Note>().count().unwrap(), 20);
}
