//! Opening a store: the format marker, each record type's layout and
//! migrations, and the one-operation conveniences (`save`, `get`, `delete`).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use oasis_rt::device::Block;
use redb::{MultimapTableHandle, StorageBackend, TableHandle};

use crate::backend::{BlockBackend, LogDevice};
use crate::engine::read::{self, Reader};
use crate::engine::repack;
use crate::engine::{self, Engine, Held, META, mark_applied, value_of};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::record::query::Query;
use crate::record::sortkey::{ArgOf, arg_key};
use crate::record::tables::{self, Tables};
use crate::record::{FieldDef, Record, rows};
use crate::txn::Transaction;

/// The format marker's key and value.
const FORMAT_KEY: &[u8] = b"format";
/// Format 6: a type's records are keys alone, `key ++ value`
/// ([`crate::record::rows`]); a record's value leaves out its key (format 5); 32-
/// and 64-bit integers in keys and indexes are compact (format 3), and the
/// entries of a plain index are keys without values (format 4).
const FORMAT: &[u8] = b"oasis-store 6";
/// Earlier formats, refused by name: marker and what changed since.
const EARLIER: [(&[u8], &str); 4] = [
    (
        b"oasis-store 2",
        "integers in keys and indexes at full width",
    ),
    (b"oasis-store 3", "index entries with values"),
    (
        b"oasis-store 4",
        "records with their key repeated in the value",
    ),
    (b"oasis-store 5", "records in a table of keys and values"),
];
type Migrate = Box<dyn Fn(&mut Transaction<'_>) -> Result<()>>;

/// A record type to declare at open.
struct Declared {
    name: &'static str,
    layout: &'static str,
    fields: &'static [FieldDef],
    /// A migration: the layout it converts from, and how.
    migration: Option<(&'static str, Migrate)>,
}

/// Declares the record types, then opens a [`Store`].
pub struct StoreBuilder {
    declared: Vec<Declared>,
    cache_bytes: usize,
    verify: bool,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field(
                "records",
                &self.declared.iter().map(|d| d.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

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

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            declared: Vec::new(),
            cache_bytes: 16 << 20,
            verify: true,
        }
    }
}

impl StoreBuilder {
    /// Declares record type `R`.
    pub fn record<R: Record>(mut self) -> Self {
        self.declared.retain(|d| d.name != R::NAME);
        self.declared.push(Declared {
            name: R::NAME,
            layout: R::LAYOUT,
            fields: R::FIELDS,
            migration: None,
        });
        self
    }

    /// Declares record type `New` with a migration from `Old`, an earlier
    /// version of it (same record name, e.g. `#[record(name = "Person")]` on
    /// the old struct). A database holding `Old`'s layout is converted
    /// record by record with `convert`, in the transaction that opens it.
    pub fn migrate<Old: Record, New: Record>(mut self, convert: fn(Old) -> New) -> Self {
        self.declared.retain(|d| d.name != New::NAME);
        let migrate: Migrate = Box::new(move |tx| {
            let old = Tables::of(Old::NAME, Old::LAYOUT, Old::FIELDS);
            let mut records = Vec::new();
            let all = (&core::ops::Bound::Unbounded, &core::ops::Bound::Unbounded);
            tx.tx().with_table(&old.primary, |t| {
                rows::scan(t, &old.primary, old.key_shape, all, false, &mut |k, v| {
                    records.push(Old::decode(k, v)?);
                    Ok(true)
                })
            })?;
            tx.delete_table(&old.primary)?;
            for index in old.indexes.iter().flatten() {
                tx.delete_table(&index.name)?;
            }
            tx.create_tables(New::NAME)?;
            for r in records {
                tx.save(&convert(r))?;
            }
            Ok(())
        });
        self.declared.push(Declared {
            name: New::NAME,
            layout: New::LAYOUT,
            fields: New::FIELDS,
            migration: Some((Old::LAYOUT, migrate)),
        });
        self
    }

    /// The engine's page cache size in bytes (default 16 MiB).
    pub fn cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Whether to verify every page's checksum when opening (default on).
    /// The engine trusts the pages it reads, and may panic on pages damaged
    /// outside it; verification turns such damage into an error at open, at
    /// the cost of reading the whole database once.
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify = verify;
        self
    }

    /// Opens the store on a block device (formatting it if blank), and
    /// recovers the commits its log holds past the engine's last checkpoint.
    pub fn open<B: Block + Send + 'static>(self, dev: B) -> Result<Store> {
        let backend = BlockBackend::open(dev)?;
        let log = backend.log_region();
        self.open_with(backend, Some(log))
    }

    /// Opens the store on any redb storage backend, without a log: every
    /// durable commit is then a durable commit of the engine.
    pub fn open_backend(self, backend: impl StorageBackend) -> Result<Store> {
        self.open_with(backend, None)
    }

    fn open_with(
        self,
        backend: impl StorageBackend,
        log: Option<Box<dyn LogDevice>>,
    ) -> Result<Store> {
        let db = redb::Builder::new()
            .set_cache_size(self.cache_bytes)
            .set_check_integrity_on_open(self.verify)
            .create_with_backend(backend)
            .map_err(|e| {
                let m = e.to_string();
                if m.contains("Not a redb database") {
                    Error::NotAStore(m)
                } else {
                    Error::Engine(format!("opening the database: {m}"))
                }
            })?;
        let records = self
            .declared
            .iter()
            .map(|d| (d.name, Tables::of(d.name, d.layout, d.fields)))
            .collect();
        let mut store = Store {
            engine: Engine::new(db),
            records,
            closed: false,
        };
        let mut tx = store.begin()?;
        let last = match &log {
            Some(dev) => engine::recover(tx.tx(), dev.as_ref())?,
            None => 0,
        };
        tx.check_format()?;
        for d in &self.declared {
            tx.check_layout(d.name, d.layout, d.migration.as_ref())?;
        }
        if log.is_some() {
            mark_applied(tx.tx(), last)?;
        }
        // Durable: opening is a checkpoint, after which the log starts afresh.
        tx.commit()?;
        store.engine.journal = log.map(|dev| spin::Mutex::new(Journal::new(dev, last + 1)));
        Ok(store)
    }
}

impl<'s> Transaction<'s> {
    /// Writes the format marker into a new database, or checks it.
    fn check_format(&mut self) -> Result<()> {
        let engine = self.tx().tx();
        let has_meta = engine.list_tables()?.any(|t| t.name() == META);
        if !has_meta {
            let foreign: Vec<String> = engine
                .list_tables()?
                .map(|t| t.name().to_string())
                .chain(engine.list_multimap_tables()?.map(|t| t.name().to_string()))
                .collect();
            if !foreign.is_empty() {
                return Err(Error::NotAStore(format!(
                    "it holds tables {foreign:?} and no oasis-store marker"
                )));
            }
        }
        let marker = value_of(self.tx(), META, FORMAT_KEY)?;
        match marker {
            None if !has_meta => {
                self.tx().insert(META, FORMAT_KEY, FORMAT)?;
                Ok(())
            }
            Some(m) if m == FORMAT => Ok(()),
            Some(m) if let Some((_, what)) = EARLIER.iter().find(|(e, _)| *e == m.as_slice()) => {
                Err(Error::NotAStore(format!(
                    "it is {} ({what}); this build reads {}: read the records out with an \
                     older build and save them into a new store",
                    String::from_utf8_lossy(&m),
                    String::from_utf8_lossy(FORMAT)
                )))
            }
            other => Err(Error::NotAStore(format!(
                "format marker is {:?}, expected {:?}",
                other.map(|m: Vec<u8>| String::from_utf8_lossy(&m).into_owned()),
                String::from_utf8_lossy(FORMAT)
            ))),
        }
    }

    /// Compares a declared layout with the stored one; records a new type,
    /// runs a declared migration, or refuses.
    fn check_layout(
        &mut self,
        name: &'static str,
        layout: &'static str,
        migration: Option<&(&'static str, Migrate)>,
    ) -> Result<()> {
        let key = format!("layout:{name}").into_bytes();
        let stored =
            value_of(self.tx(), META, &key)?.map(|v| String::from_utf8_lossy(&v).into_owned());
        match stored {
            Some(s) if s == layout => Ok(()),
            Some(s) => match migration {
                Some((from, migrate)) if s == *from => {
                    migrate(self)?;
                    self.put_layout(&key, layout)
                }
                _ => Err(Error::LayoutChanged {
                    record: name,
                    stored: s,
                    current: layout,
                }),
            },
            None => {
                self.create_tables(name)?;
                self.put_layout(&key, layout)
            }
        }
    }

    fn put_layout(&mut self, key: &[u8], layout: &str) -> Result<()> {
        self.tx().insert(META, key, layout.as_bytes())?;
        Ok(())
    }

    /// Creates the (empty) tables of a declared record type.
    pub(crate) fn create_tables(&mut self, name: &str) -> Result<()> {
        let t = self
            .store
            .records
            .get(name)
            .ok_or_else(|| Error::Engine(format!("no tables for `{name}`")))?;
        // Opening a table in a write transaction creates it.
        self.tx().with_open(&t.primary, |_| Ok(()))?;
        for index in t.indexes.iter().flatten() {
            self.tx().with_open(&index.name, |_| Ok(()))?;
        }
        Ok(())
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
                Held::hold(self.engine.db.begin_write()?),
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
    /// ([`crate::repack`]), then the engine's compaction (pages moved down
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
        crate::txn::get::<R, _>(self, &view, &arg_key::<R::Key, _>(&key))
    }

    /// A query over the records of type `R`, with one method per field.
    pub fn query<R: Record>(&self) -> R::Query<'_> {
        Query::new(&self.records, &self.engine, None).into()
    }
}
