//! What a read outside a write transaction sees: the engine's last commit,
//! with the commits parked in its held write transaction laid over it
//! ([`Overlay`]) while a store transaction has that write transaction.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Bound;

use redb::ReadTransaction;

use super::Parking;
use super::read::{self, Entries, Plain, Reader, TableRead, Visit};
use crate::error::{Error, Result};
use crate::journal::record::{self, Op};

/// The overlay of the parked commits, built once per set of them.
pub(super) fn overlay(e: &mut Parking) -> Result<Arc<Overlay>> {
    if let Some((n, o)) = &e.overlay
        && *n == e.parked.len()
    {
        return Ok(o.clone());
    }
    let mut o = Overlay::default();
    for payload in &e.parked {
        record::decode::<record::Malformed>(payload, |op| {
            o.apply(op);
            Ok(())
        })
        .map_err(|m| Error::Engine(record::describe(&m)))?;
    }
    let o = Arc::new(o);
    e.overlay = Some((e.parked.len(), o.clone()));
    Ok(o)
}

/// The changes of parked commits, per table: key → value, `None` removed.
#[derive(Default)]
pub(crate) struct Overlay {
    tables: BTreeMap<String, BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
}

impl Overlay {
    fn apply(&mut self, op: Op<'_>) {
        let (table, key, value) = match op {
            Op::Insert { table, key, value } => (table, key, Some(value.to_vec())),
            Op::Remove { table, key } => (table, key, None),
        };
        self.tables
            .entry(table.to_string())
            .or_default()
            .insert(key.to_vec(), value);
    }
}

/// What a read outside a write transaction sees.
pub(crate) enum View {
    /// The engine's committed state is everything.
    Snapshot(ReadTransaction),
    /// The committed state with parked commits on top.
    Overlaid(ReadTransaction, Arc<Overlay>),
}

impl Reader for View {
    fn with_table<T>(&self, name: &str, f: impl FnOnce(&dyn TableRead) -> Result<T>) -> Result<T> {
        match self {
            View::Snapshot(r) => r.with_table(name, f),
            View::Overlaid(r, o) => match o.tables.get(name) {
                None => r.with_table(name, f),
                Some(top) if read::is_set(name) => {
                    let base =
                        Entries(alloc::boxed::Box::new(r.open_table(read::set_table(name))?));
                    f(&Over { base, top })
                }
                Some(top) => f(&Over {
                    base: Plain(alloc::boxed::Box::new(r.open_table(read::table(name))?)),
                    top,
                }),
            },
        }
    }
}

/// A committed table with parked changes on top.
struct Over<'o, B> {
    base: B,
    top: &'o BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

/// Whether `lo..hi` can hold a key (a `BTreeMap` range must not be empty-inverted).
fn nonempty(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a < b,
        _ => true,
    }
}

impl<B: TableRead> TableRead for Over<'_, B> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<bool> {
        match self.top.get(key) {
            Some(Some(v)) => f(v).map(|()| true),
            Some(None) => Ok(false),
            None => self.base.get(key, f),
        }
    }

    fn scan(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, rev: bool, each: Visit) -> Result<()> {
        let top: Vec<(&Vec<u8>, &Option<Vec<u8>>)> = if nonempty(lo, hi) {
            let r = self.top.range::<[u8], _>((lo, hi));
            if rev { r.rev().collect() } else { r.collect() }
        } else {
            Vec::new()
        };
        // `before(a, b)`: a comes before b in the scan's order.
        let before = |a: &[u8], b: &[u8]| if rev { a > b } else { a < b };
        let mut next = 0;
        let mut go = true;
        self.base.scan(lo, hi, rev, &mut |k, v| {
            while let Some((tk, tv)) = top.get(next).copied()
                && before(tk, k)
            {
                next += 1;
                if let Some(tv) = tv
                    && !each(tk, tv)?
                {
                    go = false;
                    return Ok(false);
                }
            }
            if let Some((tk, tv)) = top.get(next).copied()
                && tk.as_slice() == k
            {
                next += 1;
                return match tv {
                    Some(tv) => {
                        go = each(tk, tv)?;
                        Ok(go)
                    }
                    None => Ok(true),
                };
            }
            go = each(k, v)?;
            Ok(go)
        })?;
        if go {
            for (tk, tv) in &top[next..] {
                if let Some(tv) = tv
                    && !each(tk, tv)?
                {
                    break;
                }
            }
        }
        Ok(())
    }
}
