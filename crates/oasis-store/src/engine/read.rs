//! Reading tables the same way inside a read snapshot and inside a write
//! transaction, so gets and queries work in both.

use core::ops::Bound;

use redb::{ReadTransaction, ReadableTable, TableDefinition};

use crate::error::Result;

/// A table from bytes to bytes (records, unique indexes, metadata).
pub(crate) fn table(name: &str) -> TableDefinition<'_, &'static [u8], &'static [u8]> {
    TableDefinition::new(name)
}

/// How the names of the tables of plain indexes' entries start (as the
/// record layer lays them out): set tables, keys stored without values.
pub(crate) const ENTRIES_PREFIX: &str = "entries:";

/// How the names of record tables start: set tables too.
pub(crate) const RECORDS_PREFIX: &str = "records:";

/// Whether table `name` is a set table (keys alone).
pub(crate) fn is_set(name: &str) -> bool {
    name.starts_with(ENTRIES_PREFIX) || name.starts_with(RECORDS_PREFIX)
}

/// A set table: keys alone.
pub(crate) fn set_table(name: &str) -> TableDefinition<'_, &'static [u8], ()> {
    TableDefinition::new(name)
}

/// Visits `(key, value)` pairs; returns `false` to stop.
pub(crate) type Visit<'a> = &'a mut dyn FnMut(&[u8], &[u8]) -> Result<bool>;

/// An open table, read-only view.
pub(crate) trait TableRead {
    /// Calls `f` with the value under `key`; false if there is none.
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool>;
    /// Visits a key range in key order, or reversed.
    fn scan(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, rev: bool, each: Visit) -> Result<()>;
}

/// Read access shared by a [`ReadTransaction`] and a held write transaction
/// ([`Held`](super::Held)).
pub(crate) trait Reader {
    /// Opens table `name` for the duration of `f`.
    fn with_table<T>(&self, name: &str, f: impl FnOnce(&dyn TableRead) -> Result<T>) -> Result<T>;
}

fn drive<I: DoubleEndedIterator>(
    iter: I,
    rev: bool,
    mut visit: impl FnMut(I::Item) -> Result<bool>,
) -> Result<()> {
    if rev {
        for item in iter.rev() {
            if !visit(item)? {
                break;
            }
        }
    } else {
        for item in iter {
            if !visit(item)? {
                break;
            }
        }
    }
    Ok(())
}

/// An engine table as a [`TableRead`]: the table, or a reference to it.
pub(crate) struct Plain<T>(pub(crate) T);

impl<T, R> TableRead for Plain<R>
where
    T: ReadableTable<&'static [u8], &'static [u8]>,
    R: core::ops::Deref<Target = T>,
{
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        match self.0.get(key)? {
            Some(g) => f(g.value()).map(|()| true),
            None => Ok(false),
        }
    }

    fn scan(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, rev: bool, each: Visit) -> Result<()> {
        drive(self.0.range((lo, hi))?, rev, |item| {
            let (k, v) = item?;
            each(k.value(), v.value())
        })
    }
}

/// A set table as a [`TableRead`]: every key's value is empty.
pub(crate) struct Entries<T>(pub(crate) T);

impl<T, R> TableRead for Entries<R>
where
    T: ReadableTable<&'static [u8], ()>,
    R: core::ops::Deref<Target = T>,
{
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        match self.0.get(key)? {
            Some(_) => f(&[]).map(|()| true),
            None => Ok(false),
        }
    }

    fn scan(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, rev: bool, each: Visit) -> Result<()> {
        drive(self.0.range((lo, hi))?, rev, |item| {
            let (k, _) = item?;
            each(k.value(), &[])
        })
    }
}

macro_rules! reader {
    ($t:ty) => {
        impl Reader for $t {
            fn with_table<T>(
                &self,
                name: &str,
                f: impl FnOnce(&dyn TableRead) -> Result<T>,
            ) -> Result<T> {
                if is_set(name) {
                    f(&Entries(&self.open_table(set_table(name))?))
                } else {
                    f(&Plain(&self.open_table(table(name))?))
                }
            }
        }
    };
}

reader!(ReadTransaction);
