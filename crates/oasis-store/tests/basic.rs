//! Saving, getting, deleting and querying typed records on a RAM disk.

use oasis_store::mem::MemBlock;
use oasis_store::{Error, Record, Store};

#[derive(Record, Debug, Clone, PartialEq)]
struct Person {
    #[key]
    name: String,
    #[index]
    age: u32,
    #[index(unique)]
    email: String,
    city: String,
}

#[derive(Record, Debug, Clone, PartialEq)]
struct Note {
    #[key(auto)]
    id: u64,
    text: String,
    /// Stored, never queried: needs no order-preserving encoding.
    #[opaque]
    tags: Vec<String>,
}

fn person(name: &str, age: u32, city: &str) -> Person {
    Person {
        name: name.into(),
        age,
        email: format!("{name}@example.org"),
        city: city.into(),
    }
}

fn open(disk: &MemBlock) -> Store {
    Store::builder()
        .record::<Person>()
        .record::<Note>()
        .open(disk.clone())
        .unwrap()
}

fn names(people: Vec<Person>) -> Vec<String> {
    people.into_iter().map(|p| p.name).collect()
}

#[test]
fn save_get_query_delete_and_reopen() {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = open(&disk);
    for (n, a, c) in [
        ("alice", 31, "paris"),
        ("bob", 25, "oslo"),
        ("carol", 42, "paris"),
        ("dave", 30, "rome"),
        ("anna", 55, "oslo"),
    ] {
        db.save(&person(n, a, c)).unwrap();
    }
    assert_eq!(
        db.get::<Person>("alice").unwrap(),
        Some(person("alice", 31, "paris"))
    );
    assert_eq!(db.get::<Person>("zed").unwrap(), None);

    let older = db
        .query::<Person>()
        .age()
        .gt(30)
        .age()
        .asc()
        .fetch()
        .unwrap();
    assert_eq!(names(older), ["alice", "carol", "anna"]);
    let q = db
        .query::<Person>()
        .age()
        .between(30, 42)
        .age()
        .desc()
        .fetch()
        .unwrap();
    assert_eq!(names(q), ["carol", "alice", "dave"]);
    let q = db.query::<Person>().name().prefix("a").fetch().unwrap();
    assert_eq!(names(q), ["alice", "anna"]);
    let q = db.query::<Person>().city().eq("paris").fetch().unwrap();
    assert_eq!(names(q), ["alice", "carol"]);
    let q = db
        .query::<Person>()
        .email()
        .eq("bob@example.org")
        .first()
        .unwrap();
    assert_eq!(q.map(|p| p.name), Some("bob".to_string()));
    let q = db.query::<Person>().age().desc().limit(2).fetch().unwrap();
    assert_eq!(names(q), ["anna", "carol"]);
    let q = db.query::<Person>().city().asc().limit(3).fetch().unwrap();
    assert_eq!(names(q), ["anna", "bob", "alice"], "ties by key");
    // Pages: skip, then limit; streamed (by an index) and sorted alike.
    let q = db.query::<Person>().age().desc().skip(1).limit(2).fetch();
    assert_eq!(names(q.unwrap()), ["carol", "alice"]);
    let q = db
        .query::<Person>()
        .age()
        .gt(26)
        .age()
        .asc()
        .skip(2)
        .fetch();
    assert_eq!(names(q.unwrap()), ["carol", "anna"]);
    let q = db.query::<Person>().city().asc().skip(3).limit(1).fetch();
    assert_eq!(names(q.unwrap()), ["carol"], "after the sort");
    assert!(db.query::<Person>().skip(5).fetch().unwrap().is_empty());
    assert_eq!(db.query::<Person>().skip(1).limit(9).count().unwrap(), 4);

    // update moves the index entry
    db.save(&person("alice", 20, "paris")).unwrap();
    assert_eq!(db.query::<Person>().age().gt(30).count().unwrap(), 2);
    assert!(db.delete::<Person>("carol").unwrap());
    assert!(!db.delete::<Person>("carol").unwrap());
    assert_eq!(db.query::<Person>().age().ge(0).count().unwrap(), 4);

    let id1 = db
        .save(&Note {
            id: 0,
            text: "one".into(),
            tags: vec!["a".into(), "b".into()],
        })
        .unwrap();
    let id2 = db
        .save(&Note {
            id: 0,
            text: "two".into(),
            tags: vec![],
        })
        .unwrap();
    assert_eq!((id1, id2), (1, 2));
    assert_eq!(db.get::<Note>(2u64).unwrap().unwrap().id, 2);
    assert_eq!(db.get::<Note>(1u64).unwrap().unwrap().tags, ["a", "b"]);
    assert_eq!(db.query::<Note>().text().prefix("t").count().unwrap(), 1);
    drop(db);

    let db = open(&disk);
    assert_eq!(db.query::<Person>().count().unwrap(), 4);
    assert_eq!(db.get::<Person>("alice").unwrap().unwrap().age, 20);
    assert_eq!(
        db.save(&Note {
            id: 0,
            text: "three".into(),
            tags: vec![],
        })
        .unwrap(),
        3
    );
}

#[test]
fn unique_index_refuses_a_second_owner_and_changes_nothing() {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = open(&disk);
    db.save(&person("alice", 31, "paris")).unwrap();
    let mut eve = person("eve", 20, "rome");
    eve.email = "alice@example.org".into();
    let e = db.save(&eve).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unique {
                record: "Person",
                field: "email"
            }
        ),
        "{e}"
    );
    assert_eq!(db.get::<Person>("eve").unwrap(), None);
}

#[test]
fn a_transaction_commits_all_or_nothing() {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = open(&disk);
    let r: Result<(), Error> = db.write(|tx| {
        tx.save(&person("a", 1, "x"))?;
        tx.save(&Note {
            id: 0,
            text: "n".into(),
            tags: vec![],
        })?;
        assert_eq!(
            tx.query::<Person>().count()?,
            1,
            "a transaction sees its own writes"
        );
        Err(Error::NotRegistered("on purpose"))
    });
    assert!(r.is_err());
    assert_eq!(db.query::<Person>().count().unwrap(), 0);
    assert_eq!(db.query::<Note>().count().unwrap(), 0);
    db.write(|tx| {
        tx.save(&person("a", 1, "x"))?;
        tx.save(&person("b", 2, "x"))?;
        tx.delete::<Person>("a")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(names(db.query::<Person>().fetch().unwrap()), ["b"]);
}

#[test]
fn an_undeclared_type_is_refused() {
    let disk = MemBlock::new(512, 64 * 1024);
    let db = Store::builder().record::<Note>().open(disk).unwrap();
    assert!(matches!(
        db.get::<Person>("x"),
        Err(Error::NotRegistered("Person"))
    ));
}
