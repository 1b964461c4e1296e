//! The store, the top layer: [`Store`] and [`Transaction`], the API an
//! application calls, on the layers below — records and queries
//! ([`crate::record`]), the engine over redb ([`crate::engine`]), the
//! journal ([`crate::journal`]) and the block backend ([`crate::backend`]).
//!
//! - this module: a store once open — transactions begun, checkpoints, the
//!   clean close, and the one-operation conveniences (`save`, `get`,
//!   `delete`, `query`);
//! - [`open`]: opening one — the format marker, each record type's layout
//!   and migrations, recovery from the journal;
//! - [`transaction`]: write transactions, keeping every index in step with
//!   its records, and their commit through the journal.
//!
//! What it may use: every layer below. Nothing below uses it.

mod open;
mod transaction;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use crate::engine::read;
use crate::engine::repack;
use crate::engine::{Engine, Held};
use crate::error::{Error, Result};
use crate::record::Record;
use crate::record::query::Query;
use crate::record::sortkey::{ArgOf, arg_key};
use crate::record::tables::{self, Tables};

pub use open::StoreBuilder;
pub use transaction::Transaction;

/// A database of typed records.
pub struct Store {
    /// redb's database, its write transaction held between commits, and the
    /// journal ([`crate::engine`]); declared first, so it is dropped first.
    pub(crate) engine: Engine,
    pub(crate) records: BTreeMap<&'static str, Tables>,
    /// [`Store::close`] ran.
    closed: bool,
}

impl Drop for Store {
    fn drop(&mut self) {
        // Nothing is lost if this fails: the log still holds every commit.
        let _ = self.shut();
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("records", &self.records.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Store {
    /// Starts declaring the record types of a store.
    pub fn builder() -> StoreBuilder {
        StoreBuilder::default()
    }

    /// The tables of `R`, if `R` was declared with this exact layout.
    pub(crate) fn tables<R: Record>(&self) -> Result<&Tables> {
        tables::of::<R>(&self.records)
    }

    /// Starts a write transaction: several operations, committed together or
    /// not at all. One runs at a time: this waits while another is open, so
    /// never begin one inside another in one thread (read through the open
    /// one instead, with [`Transaction::get`] and [`Transaction::query`]).
    pub fn begin(&self) -> Result<Transaction<'_>> {
        if self.engine.journal.is_none() {
            return Ok(Transaction::new(
                self,
                Held::hold(crate::engine::begin_write(&self.engine.db)?),
                false,
            ));
        }
        let (tx, carries) = self.engine.take()?;
        Ok(Transaction::new(self, tx, carries))
    }

    /// Writes everything committed into the engine's own durable state and
    /// empties the log (done by itself as the log fills, and on close). It
    /// takes the engine's write transaction, so it waits for an open write
    /// transaction to end: never call it inside one.
    pub fn checkpoint(&self) -> Result<()> {
        let Some(journal) = &self.engine.journal else {
            return Ok(());
        };
        // The engine transaction first, then the log, as commits take them.
        let (tx, carries) = self.engine.take()?;
        let mut j = journal.lock();
        if let Err(e) = j.check() {
            self.engine.put_back(tx, carries);
            return Err(e);
        }
        if j.is_empty() {
            self.engine.put_back(tx, carries);
            return Ok(());
        }
        let seq = j.last();
        self.engine.checkpoint(&mut j, tx, seq)
    }

    /// Checkpoints, compacts and closes the store, reporting a failure that
    /// dropping it would ignore.
    pub fn close(mut self) -> Result<()> {
        self.shut()
    }

    /// The work of a clean close: a checkpoint, sparse tables repacked
    /// ([`crate::engine::repack`]), then the engine's compaction (pages moved down
    /// into free space and the storage cut to its end), since pages freed
    /// between checkpoints stay allocated until one.
    fn shut(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.checkpoint()?;
        self.repack()?;
        self.engine
            .db
            .compact()
            .map_err(|e| Error::Engine(format!("compacting at close: {e}")))?;
        Ok(())
    }

    /// Rewrites the sparse tables of every record type into full leaves, in
    /// one durable engine commit (after a checkpoint: nothing is parked).
    fn repack(&self) -> Result<()> {
        let (held, carries) = self.engine.take()?;
        if carries {
            self.engine.put_back(held, carries);
            return Ok(());
        }
        let tx = held.into_tx();
        let r = (|| {
            let mut any = false;
            for t in self.records.values() {
                let names =
                    core::iter::once(&t.primary).chain(t.indexes.iter().flatten().map(|i| &i.name));
                for name in names {
                    any |= if read::is_set(name) {
                        repack::table::<()>(&tx, name)?
                    } else {
                        repack::table::<&[u8]>(&tx, name)?
                    };
                }
            }
            if any {
                tx.commit()?;
            }
            Ok(())
        })();
        // Committed, or dropped (and so aborted) unchanged: nothing is held.
        self.engine.ended();
        r
    }

    /// Runs `f` in a write transaction and commits it if `f` succeeds; on an
    /// error nothing `f` did is kept.
    pub fn write<T>(&self, f: impl FnOnce(&mut Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut tx = self.begin()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Saves `record` (insert or replace by key), durably. Returns its key
    /// (the generated one for an auto key left at 0).
    pub fn save<R: Record>(&self, record: &R) -> Result<R::Key> {
        self.write(|tx| tx.save(record))
    }

    /// Deletes the record with `key`; whether it existed.
    pub fn delete<R: Record>(&self, key: impl ArgOf<R::Key>) -> Result<bool> {
        self.write(|tx| tx.delete::<R>(key))
    }

    /// The record with `key`, if any.
    pub fn get<R: Record>(&self, key: impl ArgOf<R::Key>) -> Result<Option<R>> {
        let view = self.engine.view()?;
        transaction::get::<R, _>(self, &view, &arg_key::<R::Key, _>(&key))
    }

    /// A query over the records of type `R`, with one method per field.
    pub fn query<R: Record>(&self) -> R::Query<'_> {
        Query::new(&self.records, &self.engine, None).into()
    }
}
