//! Repacking sparse tables when a store closes.
//!
//! A B-tree leaf that fills up splits into two half-full leaves. Keys that
//! arrive in order (auto ids, timestamps) only ever split the last leaf, so
//! the leaves behind it stay full; keys that arrive in random order (most
//! index entries) leave the leaves about two-thirds full, a third of each
//! page unused. At a clean close, after the checkpoint, each table whose
//! pages are more than a quarter unused is rewritten in key order into
//! full leaves, in one engine transaction: a crash in the middle leaves the
//! table as it was. The engine's compaction that follows then gives the
//! freed pages back, so the storage a store uses at rest is close to what
//! its records take. The cost is a copy of each sparse table per close.

use alloc::format;
use core::ops::Bound;

use redb::{ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use crate::error::{Error, Result};

/// A table is repacked when more than `1 / SPARSE` of its pages is unused.
const SPARSE: u64 = 4;

/// Rewrites table `name` (keys `&[u8]`, values `V`) into full leaves if it
/// is sparse; whether it did.
pub(crate) fn table<V: redb::Value + 'static>(tx: &WriteTransaction, name: &str) -> Result<bool> {
    let def = TableDefinition::<&[u8], V>::new(name);
    let scratch_name = format!("repack:{name}");
    let scratch = TableDefinition::<&[u8], V>::new(&scratch_name);
    {
        let old = tx.open_table(def)?;
        // The table's pages are its stored, metadata and unused bytes.
        let stats = old.stats()?;
        let pages = stats.leaf_pages() + stats.branch_pages();
        let bytes = stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes();
        if pages < 2 || stats.fragmented_bytes() * SPARSE <= bytes {
            return Ok(false);
        }
        // Only ever left by someone else (a repack is all or nothing).
        tx.delete_table(scratch)?;
        let mut new = tx.open_table(scratch)?;
        // Appending through a cursor at the end builds full leaves.
        let mut end = new.upper_bound_mut(Bound::<&[u8]>::Unbounded)?;
        for entry in old.iter()? {
            let (k, v) = entry?;
            end.insert_before(k.value(), v.value())
                .map_err(|e| Error::Engine(format!("repacking `{name}`: {e}")))?;
        }
        end.close()?;
    }
    tx.delete_table(def)?;
    tx.rename_table(scratch, def)?;
    Ok(true)
}
