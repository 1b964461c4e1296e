//! An engine write transaction with its tables kept open.
//!
//! Opening a redb table and closing it again costs about as much as a
//! small insert (name lookups, allocations, staging the table's root), and
//! a save touches a table per index besides the record's own. So a write
//! transaction keeps every table it opened open until it commits — and,
//! held between store commits ([`Engine`](super::Engine)), across commits.
//!
//! redb's tables borrow their transaction, so the two live in one
//! self-referential value ([`self_cell`]); up to [`SLOTS`] tables are kept
//! open, any further ones are opened per use.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{OnceCell, RefCell};

use redb::{Table, WriteTransaction};

use super::read::{self, Reader, TableRead};
use crate::error::{Error, Result};

/// Tables kept open per transaction.
pub(crate) const SLOTS: usize = 32;

/// A table open in a write transaction: from bytes to bytes, or a set of
/// keys ([`read::is_set`]).
pub(crate) enum OpenTable<'t> {
    /// Keys and values.
    Map(Table<'t, &'static [u8], &'static [u8]>),
    /// Keys alone.
    Set(Table<'t, &'static [u8], ()>),
}

impl OpenTable<'_> {
    /// `self[key] = value`; the value replaced. A set takes empty values only.
    fn insert(&mut self, name: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(match self {
            OpenTable::Map(t) => t.insert(key, value)?.map(|g| g.value().to_vec()),
            OpenTable::Set(t) if value.is_empty() => t.insert(key, ())?.map(|_| Vec::new()),
            OpenTable::Set(_) => {
                return Err(Error::Engine(alloc::format!(
                    "a {}-byte value for set table `{name}`, which holds keys alone",
                    value.len()
                )));
            }
        })
    }

    /// Removes `self[key]`; the value removed.
    fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(match self {
            OpenTable::Map(t) => t.remove(key)?.map(|g| g.value().to_vec()),
            OpenTable::Set(t) => t.remove(key)?.map(|_| Vec::new()),
        })
    }
}

/// The tables open in a transaction, by name, in the order first used.
pub(crate) struct Slots<'t>([OnceCell<(String, RefCell<OpenTable<'t>>)>; SLOTS]);

self_cell::self_cell!(
    /// A write transaction and the tables open in it.
    pub(crate) struct Held {
        owner: WriteTransaction,
        #[not_covariant]
        dependent: Slots,
    }
);

fn busy(name: &str) -> Error {
    Error::Engine(alloc::format!(
        "table `{name}` is being read while it is written"
    ))
}

/// Opens table `name` in `tx` as its kind asks.
fn open<'t>(tx: &'t WriteTransaction, name: &str) -> Result<OpenTable<'t>> {
    Ok(if read::is_set(name) {
        OpenTable::Set(tx.open_table(read::set_table(name))?)
    } else {
        OpenTable::Map(tx.open_table(read::table(name))?)
    })
}

impl Held {
    /// Holds `tx`, with no table open yet.
    pub(crate) fn hold(tx: WriteTransaction) -> Held {
        Held::new(tx, |_| Slots(core::array::from_fn(|_| OnceCell::new())))
    }

    /// The transaction, for what does not open tables (listing them).
    pub(crate) fn tx(&self) -> &WriteTransaction {
        self.borrow_owner()
    }

    /// Runs `f` on table `name`, opened (created if missing) on first use.
    pub(crate) fn with_open<T>(
        &self,
        name: &str,
        f: impl FnOnce(&RefCell<OpenTable<'_>>) -> Result<T>,
    ) -> Result<T> {
        self.with_dependent(|tx, slots| {
            for slot in &slots.0 {
                if let Some((n, t)) = slot.get() {
                    if n == name {
                        return f(t);
                    }
                    continue;
                }
                let t = open(tx, name)?;
                let (_, t) = slot.get_or_init(|| (name.to_string(), RefCell::new(t)));
                return f(t);
            }
            // Every slot taken: this table is opened for this use only.
            f(&RefCell::new(open(tx, name)?))
        })
    }

    /// `table[key] = value`; the value replaced.
    pub(crate) fn insert(&self, name: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_open(name, |t| {
            t.try_borrow_mut()
                .map_err(|_| busy(name))?
                .insert(name, key, value)
        })
    }

    /// Removes `table[key]`; the value removed.
    pub(crate) fn remove(&self, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.with_open(name, |t| {
            t.try_borrow_mut().map_err(|_| busy(name))?.remove(key)
        })
    }

    /// Closes every open table (before deleting one, or committing).
    pub(crate) fn close_tables(&mut self) {
        self.with_dependent_mut(|_, slots| {
            for slot in &mut slots.0 {
                slot.take();
            }
        });
    }

    /// The transaction, its tables closed.
    pub(crate) fn into_tx(self) -> WriteTransaction {
        self.into_owner()
    }
}

impl Reader for Held {
    fn with_table<T>(&self, name: &str, f: impl FnOnce(&dyn TableRead) -> Result<T>) -> Result<T> {
        self.with_open(name, |t| {
            let t = t.try_borrow().map_err(|_| busy(name))?;
            match &*t {
                OpenTable::Map(m) => f(&read::Plain(m)),
                OpenTable::Set(s) => f(&read::Entries(s)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::read::Reader;
    use alloc::format;
    use redb::ReadableDatabase;

    fn get(held: &Held, table: &str, key: &[u8]) -> Option<alloc::vec::Vec<u8>> {
        let mut out = None;
        Reader::with_table(held, table, |t| {
            t.get(key, &mut |v| {
                out = Some(v.to_vec());
                Ok(())
            })
        })
        .unwrap();
        out
    }

    fn memory_db() -> redb::Database {
        redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .unwrap()
    }

    #[test]
    fn more_tables_than_slots_all_work_and_commit() {
        let db = memory_db();
        let held = Held::hold(db.begin_write().unwrap());
        let n = SLOTS + 8;
        for round in 0..2u8 {
            for i in 0..n {
                let name = format!("t{i}");
                let old = held.insert(&name, b"k", &[round, i as u8]).unwrap();
                assert_eq!(old, (round > 0).then(|| alloc::vec![0, i as u8]));
                assert_eq!(get(&held, &name, b"k"), Some(alloc::vec![round, i as u8]));
            }
        }
        assert_eq!(held.remove("t0", b"k").unwrap(), Some(alloc::vec![1, 0]));
        assert_eq!(held.remove("t0", b"k").unwrap(), None);
        held.into_tx().commit().unwrap();
        let r = db.begin_read().unwrap();
        for i in 1..n {
            let t = r.open_table(read::table(&format!("t{i}"))).unwrap();
            assert_eq!(
                redb::ReadableTable::get(&t, b"k".as_slice())
                    .unwrap()
                    .unwrap()
                    .value(),
                &[1, i as u8]
            );
        }
    }

    #[test]
    fn closing_tables_lets_one_be_deleted_and_reopened() {
        let db = memory_db();
        let mut held = Held::hold(db.begin_write().unwrap());
        held.insert("a", b"k", b"v").unwrap();
        assert!(held.tx().delete_table(read::table("a")).is_err(), "open");
        held.close_tables();
        assert!(held.tx().delete_table(read::table("a")).unwrap());
        assert_eq!(get(&held, "a", b"k"), None);
    }

    #[test]
    fn a_set_table_holds_keys_alone() {
        let db = memory_db();
        let held = Held::hold(db.begin_write().unwrap());
        let set = "entries:T.f";
        assert_eq!(held.insert(set, b"k", b"").unwrap(), None);
        assert_eq!(held.insert(set, b"k", b"").unwrap(), Some(alloc::vec![]));
        assert!(held.insert(set, b"j", b"v").is_err(), "a value refused");
        assert_eq!(get(&held, set, b"k"), Some(alloc::vec![]));
        assert_eq!(get(&held, set, b"j"), None);
        assert_eq!(held.remove(set, b"k").unwrap(), Some(alloc::vec![]));
        assert_eq!(held.remove(set, b"k").unwrap(), None);
        held.into_tx().commit().unwrap();
        // It is a table of `()` values to the engine.
        let r = db.begin_read().unwrap();
        assert!(r.open_table(read::set_table(set)).is_ok());
        assert!(r.open_table(read::table(set)).is_err());
    }
}
