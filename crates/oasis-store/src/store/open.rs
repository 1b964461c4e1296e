//! Opening a store: the format marker, each record type's layout and
//! migrations, and recovery from the journal.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use oasis_rt::device::Block;
use redb::{MultimapTableHandle, StorageBackend, TableHandle};

use super::{Store, Transaction};
use crate::backend::{BlockBackend, LogDevice};
use crate::engine::read::Reader;
use crate::engine::{self, Engine, META, mark_applied, value_of};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::record::tables::Tables;
use crate::record::{FieldDef, Record, rows};

/// The format marker's key and value.
const FORMAT_KEY: &[u8] = b"format";
/// Format 6: a type's records are keys alone, `key ++ value`
/// ([`crate::record::rows`]); a record's value leaves out its key (format
/// 5); 32- and 64-bit integers in keys and indexes are compact (format 3),
/// and the entries of a plain index are keys without values (format 4).
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
    /// `None`: the default of the storage opened on.
    verify: Option<bool>,
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

impl Default for StoreBuilder {
    fn default() -> Self {
        StoreBuilder {
            declared: Vec::new(),
            cache_bytes: 16 << 20,
            verify: None,
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

    /// Whether to verify every page's checksum when opening, at the cost
    /// of reading the whole database once. The engine trusts the pages it
    /// reads, and may panic on pages damaged outside it. On a block device
    /// ([`StoreBuilder::open`]) the default is off: the block backend checks
    /// each page against its own checksum the first time it is read, so
    /// damage is an error of the operation that meets it, and opening reads
    /// nothing it does not need. On other storage
    /// ([`StoreBuilder::open_backend`]), which has no such check, the
    /// default is on.
    pub fn verify_on_open(mut self, verify: bool) -> Self {
        self.verify = Some(verify);
        self
    }

    /// Opens the store on a block device (formatting it if blank), and
    /// recovers the commits its log holds past the engine's last checkpoint.
    pub fn open<B: Block + Send + 'static>(self, dev: B) -> Result<Store> {
        let backend = BlockBackend::open(dev)?;
        let log = backend.log_region();
        let probe = backend.share();
        let db = match self.engine(backend, self.verify.unwrap_or(false)) {
            // The engine read a block failing its sum while opening: a
            // commit cut short, which the engine's own repair handles when
            // it may read the cut pages (see `BlockBackend::repairing`).
            // Should that fail too, the first error says which block.
            Err(first) if probe.damage_seen() => probe
                .repairing(|| self.engine(probe.share(), true))
                .map_err(|repair| {
                    Error::Engine(format!(
                        "{first}; read as it is, the engine's own check refuses it too: {repair}"
                    ))
                })?,
            r => r?,
        };
        self.open_with(db, Some(log))
    }

    /// Opens the store on any redb storage backend, without a log: every
    /// durable commit is then a durable commit of the engine.
    pub fn open_backend(self, backend: impl StorageBackend) -> Result<Store> {
        let db = self.engine(backend, self.verify.unwrap_or(true))?;
        self.open_with(db, None)
    }

    /// Opens the engine on `backend`, checking every page it can reach
    /// first if `verify`.
    fn engine(&self, backend: impl StorageBackend, verify: bool) -> Result<redb::Database> {
        redb::Builder::new()
            .set_cache_size(self.cache_bytes)
            .set_check_integrity_on_open(verify)
            .create_with_backend(backend)
            .map_err(|e| {
                let m = e.to_string();
                if m.contains("Not a redb database") {
                    Error::NotAStore(m)
                } else {
                    Error::Engine(format!("opening the database: {m}"))
                }
            })
    }

    fn open_with(self, db: redb::Database, log: Option<Box<dyn LogDevice>>) -> Result<Store> {
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
