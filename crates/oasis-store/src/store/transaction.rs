//! Write transactions: several saves and deletes, committed together or not
//! at all, keeping every index in step with its records.

use alloc::vec::Vec;

use super::Store;
use crate::engine::read::{self, Reader};
use crate::engine::{Held, META};
use crate::error::{Error, Result};
use crate::journal::Plan;
use crate::journal::record::{self, Op, Ops};
use crate::record::query::Query;
use crate::record::sortkey::{ArgOf, SortKey, arg_key};
use crate::record::{FieldIndex, Record, index, rows};

/// A write transaction. Dropping it without [`Transaction::commit`] discards
/// everything it did.
pub struct Transaction<'s> {
    pub(crate) store: &'s Store,
    /// The engine transaction; `None` once committed or given back.
    tx: Option<Held>,
    /// The engine transaction holds parked commits ([`crate::engine`]).
    carries: bool,
    /// Every change made to the engine's tables, for the log.
    pub(crate) ops: Ops<'s>,
    /// Per entry of `ops`, the value it replaced (`None`: there was none),
    /// to undo this transaction alone when it holds parked commits.
    undo: Vec<Option<Vec<u8>>>,
}

impl core::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}

/// Makes an engine commit one that does not wait for stable storage.
fn not_durable(tx: &mut redb::WriteTransaction) -> Result<()> {
    tx.set_durability(redb::Durability::None)
        .map_err(|e| Error::Engine(alloc::string::ToString::to_string(&e)))?;
    Ok(())
}

/// Reads and decodes the record under the encoded key `key`.
pub(crate) fn get<R: Record, T: Reader>(store: &Store, rd: &T, key: &[u8]) -> Result<Option<R>> {
    Ok(row::<R, T>(store, rd, key)?.map(|(record, _)| record))
}

/// The record under the encoded key `key`, with its engine entry.
fn row<R: Record, T: Reader>(store: &Store, rd: &T, key: &[u8]) -> Result<Option<(R, Vec<u8>)>> {
    let t = store.tables::<R>()?;
    rd.with_table(&t.primary, |p| {
        let mut out = None;
        rows::get(p, &rows::part(t.key_shape, key), |e, v| {
            out = Some((R::decode(key, v)?, e.to_vec()));
            Ok(())
        })?;
        Ok(out)
    })
}

/// The sort keys of a record's indexed fields, by field number.
fn index_keys<R: Record>(record: &R) -> Vec<(usize, Vec<u8>)> {
    R::FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.index, FieldIndex::Index | FieldIndex::Unique))
        .map(|(i, _)| {
            let mut k = Vec::new();
            record.field_sort_key(i, &mut k);
            (i, k)
        })
        .collect()
}

impl<'s> Transaction<'s> {
    /// A store transaction in engine transaction `tx`.
    pub(crate) fn new(store: &'s Store, tx: Held, carries: bool) -> Self {
        Transaction {
            store,
            tx: Some(tx),
            carries,
            ops: Ops::default(),
            undo: Vec::new(),
        }
    }

    /// The engine transaction.
    pub(crate) fn tx(&self) -> &Held {
        self.tx
            .as_ref()
            .expect("a live transaction holds its engine transaction")
    }

    /// Deletes engine table `name` (its tables are closed first).
    pub(crate) fn delete_table(&mut self, name: &str) -> Result<()> {
        let held = self
            .tx
            .as_mut()
            .expect("a live transaction holds its engine transaction");
        held.close_tables();
        held.tx().delete_table(read::table(name))?;
        Ok(())
    }

    /// Sets `table[key] = value` in the engine and records it; returns the
    /// value replaced.
    fn put(&mut self, table: &'s str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.tx().insert(table, key, value)?;
        self.ops.insert(table, key, value);
        self.undo.push(old.clone());
        Ok(old)
    }

    /// Puts record entry `entry`, whose key part is `part`, into records
    /// table `table` in place of the record there, and records both; returns
    /// the entry replaced.
    fn put_row(&mut self, table: &'s str, part: &[u8], entry: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut old = None;
        self.tx().with_table(table, |t| {
            rows::get(t, part, |e, _| {
                old = Some(e.to_vec());
                Ok(())
            })
        })?;
        match &old {
            // The same record again: nothing changes.
            Some(o) if o == entry => return Ok(old),
            Some(o) => self.del(table, o)?,
            None => {}
        }
        self.put(table, entry, &[])?;
        Ok(old)
    }

    /// Removes `table[key]` in the engine and records it.
    fn del(&mut self, table: &'s str, key: &[u8]) -> Result<()> {
        let old = self.tx().remove(table, key)?;
        self.ops.remove(table, key);
        self.undo.push(old);
        Ok(())
    }

    /// Saves `record`: inserts it, or replaces the record with the same key.
    /// Returns its key (a fresh id for an auto key left at 0). Fails, changing
    /// nothing, if a unique field's value belongs to another record.
    pub fn save<R: Record>(&mut self, record: &R) -> Result<R::Key> {
        let t = self.store.tables::<R>()?;
        let assigned = if R::AUTO_KEY {
            Some(self.assign_id(&t.sequence, record.auto_id())?)
        } else {
            None
        };
        let key = record.key_of(assigned);
        let kb = key.sort_key();
        let mut value = Vec::new();
        record.encode(&mut value)?;
        let new_keys = index_keys(record);

        for (field, ik) in &new_keys {
            let Some(index) = t.indexes[*field].as_ref().filter(|i| i.unique) else {
                continue;
            };
            let mut taken = false;
            self.tx().with_table(&index.name, |t| {
                t.get(ik, &mut |owner| {
                    taken = owner != kb.as_slice();
                    Ok(())
                })
            })?;
            if taken {
                return Err(Error::Unique {
                    record: R::NAME,
                    field: R::FIELDS[*field].name,
                });
            }
        }

        // The replaced record, if any, comes back from the replacement.
        let part = rows::part(t.key_shape, &kb);
        let entry = rows::entry(t.key_shape, &kb, &value);
        let old_keys = match self.put_row(&t.primary, &part, &entry)? {
            Some(old) if !new_keys.is_empty() => {
                let old = R::decode(&kb, &old[part.len()..])?;
                Some(index_keys(&old))
            }
            _ => None,
        };
        for (n, (field, ik)) in new_keys.iter().enumerate() {
            let Some(index) = t.indexes[*field].as_ref() else {
                continue;
            };
            let old_ik = old_keys.as_ref().map(|o| o[n].1.as_slice());
            if old_ik == Some(ik.as_slice()) {
                continue;
            }
            if index.unique {
                if let Some(o) = old_ik {
                    self.del(&index.name, o)?;
                }
                self.put(&index.name, ik, &kb)?;
            } else {
                if let Some(o) = old_ik {
                    self.del(&index.name, &index::entry(index.shape, o, &kb))?;
                }
                self.put(&index.name, &index::entry(index.shape, ik, &kb), &[])?;
            }
        }
        Ok(key)
    }

    /// The id to store under an auto key: `given` if non-zero (the sequence
    /// moves past it), otherwise the next of the sequence.
    fn assign_id(&mut self, sequence: &'s [u8], given: u64) -> Result<u64> {
        let mut last = Ok(0);
        self.tx().with_table(META, |t| {
            t.get(sequence, &mut |v| {
                last = <[u8; 8]>::try_from(v).map(u64::from_be_bytes).map_err(|_| {
                    Error::Engine(alloc::format!(
                        "id sequence holds {} bytes, expected 8",
                        v.len()
                    ))
                });
                Ok(())
            })
        })?;
        let last = last?;
        let id = if given == 0 { last + 1 } else { given };
        if id > last {
            self.put(META, sequence, &id.to_be_bytes())?;
        }
        Ok(id)
    }

    /// Deletes the record with `key` and its index entries; whether it existed.
    pub fn delete<R: Record>(&mut self, key: impl ArgOf<R::Key>) -> Result<bool> {
        let t = self.store.tables::<R>()?;
        let kb = arg_key::<R::Key, _>(&key);
        let Some((old, entry)) = row::<R, _>(self.store, self.tx(), &kb)? else {
            return Ok(false);
        };
        self.del(&t.primary, &entry)?;
        for (field, ik) in index_keys(&old) {
            let Some(index) = t.indexes[field].as_ref() else {
                continue;
            };
            let e = if index.unique {
                ik
            } else {
                index::entry(index.shape, &ik, &kb)
            };
            self.del(&index.name, &e)?;
        }
        Ok(true)
    }

    /// The record with `key` as this transaction sees it.
    pub fn get<R: Record>(&self, key: impl ArgOf<R::Key>) -> Result<Option<R>> {
        get::<R, _>(self.store, self.tx(), &arg_key::<R::Key, _>(&key))
    }

    /// A query that sees this transaction's own changes.
    pub fn query<R: Record>(&self) -> R::Query<'_> {
        Query::new(&self.store.records, &self.store.engine, Some(self.tx())).into()
    }

    /// Commits durably: when this returns `Ok`, every change is on stable
    /// storage (on a block device: one append to the store's write-ahead log
    /// and one flush).
    pub fn commit(self) -> Result<()> {
        self.finish(true)
    }

    /// Commits without waiting for stable storage: a crash may lose this
    /// commit (and later non-durable ones) but never leaves part of it. The
    /// next durable commit makes it durable too.
    pub fn commit_lazy(self) -> Result<()> {
        self.finish(false)
    }

    fn finish(mut self, durable: bool) -> Result<()> {
        let store = self.store;
        let Some(journal) = &store.engine.journal else {
            let mut tx = self.tx.take().expect("a live transaction").into_tx();
            if !durable {
                not_durable(&mut tx)?;
            }
            tx.commit()?;
            return Ok(());
        };
        // Held until the engine transaction is parked or committed, so the
        // log holds commits in the engine's order. An early return drops
        // `self`, which undoes this transaction's changes.
        let mut j = journal.lock();
        j.check()?;
        if self.ops.is_empty() {
            return Ok(());
        }
        match j.plan(self.ops.bytes().len()) {
            Plan::Checkpoint(seq) => {
                let tx = self.tx.take().expect("a live transaction");
                store.engine.checkpoint(&mut j, tx, seq)?;
            }
            Plan::Append(seq) => {
                j.append(seq, self.ops.bytes(), durable)?;
                let tx = self.tx.take().expect("a live transaction");
                store
                    .engine
                    .park(tx, core::mem::take(&mut self.ops).into_bytes());
            }
        }
        Ok(())
    }

    /// Discards everything this transaction did.
    pub fn abort(mut self) -> Result<()> {
        self.give_back()
    }

    /// Ends the engine transaction's use by this store transaction without
    /// a commit: its own changes are undone and commits parked before it
    /// stay parked.
    fn give_back(&mut self) -> Result<()> {
        let Some(tx) = self.tx.take() else {
            return Ok(());
        };
        // Nothing but this transaction's changes: the engine drops them.
        if self.store.engine.journal.is_none() {
            tx.into_tx().abort()?;
            return Ok(());
        }
        if !self.carries {
            self.store.engine.put_back(tx, false);
            return Ok(());
        }
        match undo(&tx, self.ops.bytes(), &self.undo) {
            Ok(()) => {
                self.store.engine.put_back(tx, true);
                Ok(())
            }
            Err(e) => {
                drop(tx);
                self.store.engine.lost();
                Err(e)
            }
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // A failure marks the store failed; nothing else to report here.
        let _ = self.give_back();
    }
}

/// Reverts, newest first, the operations in `ops` to the values in `olds`.
fn undo(tx: &Held, ops: &[u8], olds: &[Option<Vec<u8>>]) -> Result<()> {
    let mut done: Vec<(&str, &[u8])> = Vec::with_capacity(olds.len());
    record::decode::<record::Malformed>(ops, |op| {
        let (Op::Insert { table, key, .. } | Op::Remove { table, key }) = op;
        done.push((table, key));
        Ok(())
    })
    .map_err(|m| Error::Engine(record::describe(&m)))?;
    if done.len() != olds.len() {
        return Err(Error::Engine(alloc::format!(
            "undo: {} operations, {} old values",
            done.len(),
            olds.len()
        )));
    }
    for ((table, key), old) in done.into_iter().zip(olds).rev() {
        match old {
            Some(v) => tx.insert(table, key, v)?,
            None => tx.remove(table, key)?,
        };
    }
    Ok(())
}
