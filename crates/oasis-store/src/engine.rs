//! The engine transaction held open between store commits.
//!
//! On a store with a log, a commit is durable once its log record is; the
//! engine (redb) needs it only at the next checkpoint. Yet an engine commit
//! per store commit is most of a small commit's CPU: redb never changes a
//! committed B-tree page in place, so every commit copies each page it
//! touches again, and does its own bookkeeping. So the engine transaction a
//! store commit wrote into is *parked*, uncommitted, and the next store
//! transaction goes on in it: many store commits share one engine commit
//! (made at a checkpoint, when a reader needs it, or when the parked commits'
//! log records pass [`PARK_LIMIT`]).
//!
//! Readers outside a write transaction read a redb snapshot, which holds
//! only what the engine committed, so parked commits are made visible to
//! them first:
//! - with no write transaction open, a reader commits the parked engine
//!   transaction (without waiting for stable storage: the log has it);
//! - while a write transaction is open on top of parked commits, a reader
//!   gets the snapshot overlaid with those commits' operations ([`Overlay`]),
//!   from their log records, kept in memory until the engine commits them.
//!
//! A write transaction that fails or is dropped undoes its own changes
//! (`Transaction`'s undo list) and parks the engine transaction again, so
//! the commits parked before it stay.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Bound;

use redb::{ReadTransaction, ReadableDatabase};

use crate::error::{Error, Result};
use crate::held::Held;
use crate::journal::Journal;
use crate::journal::record::{self, Op};
use crate::read::{self, Entries, Plain, Reader, TableRead, Visit};
use crate::store::{Store, mark_applied};

/// Log-record bytes of parked commits past which the engine commits them.
pub(crate) const PARK_LIMIT: usize = 4 << 20;

/// Where the engine's write transaction is. (One per store: its size does
/// not matter, and boxing it would allocate at every park.)
#[allow(clippy::large_enum_variant)]
enum Slot {
    /// None is open.
    Empty,
    /// Open between store transactions, holding parked commits.
    Parked(Held),
    /// A store transaction has it.
    Taken,
}

/// The held engine transaction and what readers need to see past it.
pub(crate) struct Engine {
    slot: Slot,
    /// Log payloads of the commits in the engine transaction that the
    /// engine has not committed, oldest first.
    parked: Vec<Vec<u8>>,
    parked_bytes: usize,
    /// The overlay of `parked`, built for a reader, with how many payloads
    /// it holds.
    overlay: Option<(usize, Arc<Overlay>)>,
    /// An engine commit or an undo failed: the engine lacks commits the log
    /// holds, so nothing more is read or written until the store is reopened.
    failed: bool,
}

impl Engine {
    pub(crate) fn new() -> Engine {
        Engine {
            slot: Slot::Empty,
            parked: Vec::new(),
            parked_bytes: 0,
            overlay: None,
            failed: false,
        }
    }

    fn check(&self) -> Result<()> {
        if self.failed {
            return Err(Error::Engine(
                "the engine lost commits the log holds after a failed write; reopen the store"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The engine transaction is gone with what it held.
    fn lose(&mut self) {
        self.slot = Slot::Empty;
        self.parked.clear();
        self.parked_bytes = 0;
        self.overlay = None;
        self.failed = true;
    }

    /// The engine committed everything parked.
    fn committed(&mut self) {
        self.slot = Slot::Empty;
        self.parked.clear();
        self.parked_bytes = 0;
        self.overlay = None;
    }

    /// Commits the parked engine transaction, if any (not waiting for stable
    /// storage: the log holds every commit in it).
    fn settle(&mut self) -> Result<()> {
        if let Slot::Parked(_) = self.slot {
            let Slot::Parked(held) = core::mem::replace(&mut self.slot, Slot::Empty) else {
                unreachable!()
            };
            let mut tx = held.into_tx();
            let r = tx
                .set_durability(redb::Durability::None)
                .map_err(|e| Error::Engine(e.to_string()))
                .and_then(|()| tx.commit().map_err(Error::from));
            match r {
                Ok(()) => self.committed(),
                Err(e) => {
                    self.lose();
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// The engine transaction for a new store transaction, and whether it
    /// holds parked commits. Waits while another store transaction has it.
    pub(crate) fn take_engine(&self) -> Result<(Held, bool)> {
        loop {
            let mut e = self.engine.lock();
            e.check()?;
            match core::mem::replace(&mut e.slot, Slot::Taken) {
                Slot::Parked(tx) => return Ok((tx, true)),
                Slot::Empty => {
                    drop(e);
                    return self
                        .db
                        .begin_write()
                        .map(|tx| (Held::hold(tx), false))
                        .map_err(|err| {
                            self.engine.lock().slot = Slot::Empty;
                            err.into()
                        });
                }
                Slot::Taken => {
                    e.slot = Slot::Taken;
                    drop(e);
                    core::hint::spin_loop();
                }
            }
        }
    }

    /// Parks `tx` after a store commit whose log payload is `payload`; past
    /// [`PARK_LIMIT`] the engine commits instead. A failure here leaves the
    /// commit durable in the log and the store refusing further work.
    pub(crate) fn park(&self, tx: Held, payload: Vec<u8>) {
        let mut e = self.engine.lock();
        e.parked_bytes += payload.len();
        e.parked.push(payload);
        e.overlay = None;
        e.slot = Slot::Parked(tx);
        if e.parked_bytes > PARK_LIMIT {
            let _ = e.settle();
        }
    }

    /// Gives back a store transaction's engine transaction unchanged by it:
    /// parked again if it holds parked commits, else ended.
    pub(crate) fn put_back(&self, tx: Held, carries: bool) {
        let mut e = self.engine.lock();
        e.slot = if carries {
            Slot::Parked(tx)
        } else {
            drop(tx);
            Slot::Empty
        };
    }

    /// Makes `tx`, with everything parked in it, the checkpoint of log
    /// sequence `seq`: records `seq` as applied, commits durably and starts
    /// the log `j` afresh. Readers wait meanwhile, so none sees a parked
    /// commit twice. On failure the engine transaction is lost and the log
    /// refuses further commits until the store is reopened (the log still
    /// holds every commit).
    pub(crate) fn checkpoint_engine(&self, j: &mut Journal, tx: Held, seq: u64) -> Result<()> {
        let mut e = self.engine.lock();
        let r = mark_applied(&tx, seq).and_then(|()| tx.into_tx().commit().map_err(Error::from));
        match r {
            Ok(()) => {
                e.committed();
                j.checkpointed(seq);
                Ok(())
            }
            Err(err) => {
                e.lose();
                j.fail();
                Err(err)
            }
        }
    }

    /// The engine transaction taken with nothing parked in it ended.
    pub(crate) fn engine_ended(&self) {
        self.engine.lock().committed();
    }

    /// The engine transaction was lost (a failed commit or undo).
    pub(crate) fn engine_lost(&self) {
        self.engine.lock().lose();
    }

    /// A consistent view of every commit, for a read outside a write
    /// transaction.
    pub(crate) fn view(&self) -> Result<View> {
        if self.journal.is_none() {
            return Ok(View::Snapshot(self.db.begin_read()?));
        }
        let mut e = self.engine.lock();
        e.check()?;
        e.settle()?;
        let overlay = match e.slot {
            Slot::Taken if !e.parked.is_empty() => Some(overlay(&mut e)?),
            _ => None,
        };
        // Taken while the lock is held, so no commit lands in between.
        let snapshot = self.db.begin_read()?;
        Ok(match overlay {
            Some(o) => View::Overlaid(snapshot, o),
            None => View::Snapshot(snapshot),
        })
    }
}

/// The overlay of the parked commits, built once per set of them.
fn overlay(e: &mut Engine) -> Result<Arc<Overlay>> {
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
