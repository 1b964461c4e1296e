//! The engine over redb, the layer under the records: tables of bytes, the
//! write transaction held between store commits, and reads that see every
//! commit.
//!
//! - [`read`]: reading a table the same way in a snapshot and in a write
//!   transaction; a table whose name says so ([`read::is_set`]) holds keys
//!   alone.
//! - [`held`]: a write transaction with the tables it opened kept open.
//! - [`Engine`] (this module): redb's database, that write transaction held
//!   open between store commits, and the journal that makes those commits
//!   durable.
//! - [`view`]: what a read outside a write transaction sees.
//! - [`meta`]: the metadata table, where a checkpoint records the last log
//!   record the engine holds.
//! - [`recover`](mod@recover): the journal's records past that checkpoint applied at open.
//! - [`repack`]: sparse tables rewritten into full leaves at close.
//!
//! What it may use: redb, the journal (its writer, and its records to replay
//! and to overlay), the block backend's log region (to recover from) and the
//! shared error. It knows tables by name and keys and values as bytes:
//! nothing of record types, sort keys or queries (the record layer above
//! lays those out in tables), nor of the store.
//!
//! # Parked commits
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

mod held;
mod meta;
pub(crate) mod read;
mod recover;
pub(crate) mod repack;
mod view;

use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;

use redb::ReadableDatabase;

use crate::error::{Error, Result};
use crate::journal::Journal;

pub(crate) use held::Held;
pub(crate) use meta::{META, mark_applied, value_of};
pub(crate) use recover::recover;
pub(crate) use view::View;
use view::{Overlay, overlay};

/// Log-record bytes of parked commits past which the engine commits them.
pub(crate) const PARK_LIMIT: usize = 4 << 20;

/// Begins an engine write transaction whose durable commit also records
/// the engine's allocator state (redb's quick repair, with its two-phase
/// commit): opening after a crash or a power cut then loads that state
/// instead of walking every page to rebuild it, so an open costs the same
/// whatever the database holds.
pub(crate) fn begin_write(
    db: &redb::Database,
) -> core::result::Result<redb::WriteTransaction, redb::TransactionError> {
    let mut tx = db.begin_write()?;
    tx.set_quick_repair(true);
    Ok(tx)
}

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
struct Parking {
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

impl Parking {
    fn new() -> Parking {
        Parking {
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

/// The engine under a store: redb's database, its write transaction held
/// between store commits, and the journal that makes those commits durable.
pub(crate) struct Engine {
    /// The engine transaction held between commits; declared first, so it
    /// is dropped before the database.
    parking: spin::Mutex<Parking>,
    /// redb's database.
    pub(crate) db: redb::Database,
    /// The write-ahead log (on a block device; none on a plain redb backend,
    /// where every durable commit is a durable engine commit).
    pub(crate) journal: Option<spin::Mutex<Journal>>,
}

impl Engine {
    /// The engine over `db`, holding no transaction, with no journal yet.
    pub(crate) fn new(db: redb::Database) -> Engine {
        Engine {
            parking: spin::Mutex::new(Parking::new()),
            db,
            journal: None,
        }
    }

    /// The engine transaction for a new store transaction, and whether it
    /// holds parked commits. Waits while another store transaction has it.
    pub(crate) fn take(&self) -> Result<(Held, bool)> {
        loop {
            let mut e = self.parking.lock();
            e.check()?;
            match core::mem::replace(&mut e.slot, Slot::Taken) {
                Slot::Parked(tx) => return Ok((tx, true)),
                Slot::Empty => {
                    drop(e);
                    return begin_write(&self.db)
                        .map(|tx| (Held::hold(tx), false))
                        .map_err(|err| {
                            self.parking.lock().slot = Slot::Empty;
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
        let mut e = self.parking.lock();
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
        let mut e = self.parking.lock();
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
    pub(crate) fn checkpoint(&self, j: &mut Journal, tx: Held, seq: u64) -> Result<()> {
        let mut e = self.parking.lock();
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
    pub(crate) fn ended(&self) {
        self.parking.lock().committed();
    }

    /// The engine transaction was lost (a failed commit or undo).
    pub(crate) fn lost(&self) {
        self.parking.lock().lose();
    }

    /// A consistent view of every commit, for a read outside a write
    /// transaction.
    pub(crate) fn view(&self) -> Result<View> {
        if self.journal.is_none() {
            return Ok(View::Snapshot(self.db.begin_read()?));
        }
        let mut e = self.parking.lock();
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
