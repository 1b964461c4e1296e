//! Model-based test for records whose key is open-ended (a `String`): the
//! record table holds `escaped key, 0 0, value` per record, so keys that are
//! prefixes of each other, hold zero bytes or are empty must still get,
//! replace, delete and range exactly. Random operations, checked against a
//! `BTreeMap`, with reopenings between them.

use std::collections::BTreeMap;

use oasis_store::mem::MemBlock;
use oasis_store::{Record, Store};
use proptest::prelude::*;

#[derive(Record, Debug, Clone, PartialEq)]
struct Doc {
    #[key]
    path: String,
    #[index]
    size: u32,
    body: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Step {
    Save(String, u32, Vec<u8>),
    Delete(String),
    Get(String),
    /// Keys strictly between the two, ascending or not.
    Between(String, String, bool),
    Prefix(String),
    Reopen,
}

/// Keys from a tiny alphabet with a zero byte and 0xff-ish characters, so
/// prefixes, escapes and equal neighbours happen all the time.
fn key() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('\0'), Just('a'), Just('b'), Just('ÿ')],
        0..4,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (key(), 0u32..5, proptest::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(k, s, b)| Step::Save(k, s, b)),
        2 => key().prop_map(Step::Delete),
        2 => key().prop_map(Step::Get),
        2 => (key(), key(), any::<bool>()).prop_map(|(a, b, d)| Step::Between(a, b, d)),
        1 => key().prop_map(Step::Prefix),
        1 => Just(Step::Reopen),
    ]
}

fn open(disk: &MemBlock) -> Store {
    Store::builder().record::<Doc>().open(disk.clone()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn string_keys_behave_as_a_sorted_map(steps in proptest::collection::vec(step(), 1..60)) {
        let disk = MemBlock::new(512, 8 * 1024);
        let mut db = open(&disk);
        let mut model: BTreeMap<String, Doc> = BTreeMap::new();
        for s in steps {
            match s {
                Step::Save(path, size, body) => {
                    let d = Doc { path: path.clone(), size, body };
                    db.save(&d).unwrap();
                    model.insert(path, d);
                }
                Step::Delete(path) => {
                    let gone = db.delete::<Doc>(path.as_str()).unwrap();
                    prop_assert_eq!(gone, model.remove(&path).is_some());
                }
                Step::Get(path) => {
                    prop_assert_eq!(db.get::<Doc>(path.as_str()).unwrap(), model.get(&path).cloned());
                }
                Step::Between(a, b, desc) => {
                    let q = db.query::<Doc>().path().gt(a.as_str()).path().lt(b.as_str());
                    let q = if desc { q.path().desc() } else { q.path().asc() };
                    let got = q.fetch().unwrap();
                    let mut want: Vec<Doc> = model
                        .values()
                        .filter(|d| d.path > a && d.path < b)
                        .cloned()
                        .collect();
                    if desc {
                        want.reverse();
                    }
                    prop_assert_eq!(got, want);
                }
                Step::Prefix(p) => {
                    let got = db.query::<Doc>().path().prefix(p.as_str()).fetch().unwrap();
                    let want: Vec<Doc> =
                        model.values().filter(|d| d.path.starts_with(&p)).cloned().collect();
                    prop_assert_eq!(got, want);
                }
                Step::Reopen => {
                    drop(db);
                    db = open(&disk);
                }
            }
        }
        // Everything, in key order, and through the index.
        let all = db.query::<Doc>().fetch().unwrap();
        prop_assert_eq!(all, model.values().cloned().collect::<Vec<_>>());
        let by_size = db.query::<Doc>().size().ge(0).count().unwrap();
        prop_assert_eq!(by_size, model.len());
    }
}
