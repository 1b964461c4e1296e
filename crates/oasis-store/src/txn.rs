//! Write transactions: several saves and deletes, committed together or not
//! at all, keeping every index in step with its records.

use alloc::vec::Vec;

use redb::ReadableTable;

use crate::error::{Error, Result};
use crate::index;
use crate::journal::Plan;
use crate::journal::record::Ops;
use crate::query::Query;
use crate::read::{self, Reader};
use crate::record::{FieldIndex, Record};
use crate::sortkey::{ArgOf, SortKey, arg_key};
use crate::store::{META, Store};

/// A write transaction. Dropping it without [`Transaction::commit`] discards
/// everything it did.
pub struct Transaction<'s> {
    pub(crate) store: &'s Store,
    pub(crate) tx: redb::WriteTransaction,
    /// Every change made to the engine's tables, for the log.
    pub(crate) ops: Ops<'s>,
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
    let t = store.tables::<R>()?;
    rd.with_table(&t.primary, |p| {
        let mut out = None;
        p.get(key, &mut |v| {
            out = Some(R::decode(v)?);
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
        record.encode(assigned, &mut value)?;
        let new_keys = index_keys(record);

        for (field, ik) in &new_keys {
            let Some(index) = t.indexes[*field].as_ref().filter(|i| i.unique) else {
                continue;
            };
            let table = self.tx.open_table(read::table(&index.name))?;
            if let Some(owner) = table.get(ik.as_slice())?
                && owner.value() != kb.as_slice()
            {
                return Err(Error::Unique {
                    record: R::NAME,
                    field: R::FIELDS[*field].name,
                });
            }
        }

        // The replaced record, if any, comes back from the insert itself.
        let old_keys = {
            let mut primary = self.tx.open_table(read::table(&t.primary))?;
            let old = primary.insert(kb.as_slice(), value.as_slice())?;
            self.ops.insert(&t.primary, &kb, &value);
            match old {
                Some(g) if !new_keys.is_empty() => Some(index_keys(&R::decode(g.value())?)),
                _ => None,
            }
        };
        for (n, (field, ik)) in new_keys.iter().enumerate() {
            let Some(index) = t.indexes[*field].as_ref() else {
                continue;
            };
            let old_ik = old_keys.as_ref().map(|o| o[n].1.as_slice());
            if old_ik == Some(ik.as_slice()) {
                continue;
            }
            let mut table = self.tx.open_table(read::table(&index.name))?;
            if index.unique {
                if let Some(o) = old_ik {
                    table.remove(o)?;
                    self.ops.remove(&index.name, o);
                }
                table.insert(ik.as_slice(), kb.as_slice())?;
                self.ops.insert(&index.name, ik, &kb);
            } else {
                if let Some(o) = old_ik {
                    let e = index::entry(index.width, o, &kb);
                    table.remove(e.as_slice())?;
                    self.ops.remove(&index.name, &e);
                }
                let e = index::entry(index.width, ik, &kb);
                table.insert(e.as_slice(), [].as_slice())?;
                self.ops.insert(&index.name, &e, &[]);
            }
        }
        Ok(key)
    }

    /// The id to store under an auto key: `given` if non-zero (the sequence
    /// moves past it), otherwise the next of the sequence.
    fn assign_id(&mut self, sequence: &'s [u8], given: u64) -> Result<u64> {
        let mut meta = self.tx.open_table(read::table(META))?;
        let last = match meta.get(sequence)? {
            Some(g) => {
                let mut b = [0u8; 8];
                let v = g.value();
                if v.len() != 8 {
                    return Err(Error::Engine(alloc::format!(
                        "id sequence holds {} bytes, expected 8",
                        v.len()
                    )));
                }
                b.copy_from_slice(v);
                u64::from_be_bytes(b)
            }
            None => 0,
        };
        let id = if given == 0 { last + 1 } else { given };
        if id > last {
            meta.insert(sequence, id.to_be_bytes().as_slice())?;
            self.ops.insert(META, sequence, &id.to_be_bytes());
        }
        Ok(id)
    }

    /// Deletes the record with `key` and its index entries; whether it existed.
    pub fn delete<R: Record>(&mut self, key: impl ArgOf<R::Key>) -> Result<bool> {
        let t = self.store.tables::<R>()?;
        let kb = arg_key::<R::Key, _>(&key);
        let Some(old) = get::<R, _>(self.store, &self.tx, &kb)? else {
            return Ok(false);
        };
        self.tx
            .open_table(read::table(&t.primary))?
            .remove(kb.as_slice())?;
        self.ops.remove(&t.primary, &kb);
        for (field, ik) in index_keys(&old) {
            let Some(index) = t.indexes[field].as_ref() else {
                continue;
            };
            let mut table = self.tx.open_table(read::table(&index.name))?;
            let e = if index.unique {
                ik
            } else {
                index::entry(index.width, &ik, &kb)
            };
            table.remove(e.as_slice())?;
            self.ops.remove(&index.name, &e);
        }
        Ok(true)
    }

    /// The record with `key` as this transaction sees it.
    pub fn get<R: Record>(&self, key: impl ArgOf<R::Key>) -> Result<Option<R>> {
        get::<R, _>(self.store, &self.tx, &arg_key::<R::Key, _>(&key))
    }

    /// A query that sees this transaction's own changes.
    pub fn query<R: Record>(&self) -> R::Query<'_> {
        Query::new(self.store, Some(&self.tx)).into()
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

    fn finish(self, durable: bool) -> Result<()> {
        let Transaction { store, mut tx, ops } = self;
        let Some(journal) = &store.journal else {
            if !durable {
                not_durable(&mut tx)?;
            }
            tx.commit()?;
            return Ok(());
        };
        // Held from the engine's commit to the log's append, so the log
        // holds commits in the engine's order.
        let mut j = journal.lock();
        j.check()?;
        if ops.is_empty() {
            not_durable(&mut tx)?;
            tx.commit()?;
            return Ok(());
        }
        match j.plan(ops.bytes().len()) {
            Plan::Checkpoint(seq) => {
                crate::store::mark_applied(&tx, seq)?;
                if let Err(e) = tx.commit() {
                    j.fail();
                    return Err(e.into());
                }
                j.checkpointed(seq);
            }
            Plan::Append(seq) => {
                not_durable(&mut tx)?;
                tx.commit()?;
                j.append(seq, ops.bytes(), durable)?;
            }
        }
        Ok(())
    }

    /// Discards everything this transaction did.
    pub fn abort(self) -> Result<()> {
        self.tx.abort()?;
        Ok(())
    }
}
