//! Opening a store: the format marker, each record type's layout and
//! migrations, and the one-operation conveniences (`save`, `get`, `delete`).

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use oasis_rt::device::Block;
use redb::{MultimapTableHandle, ReadableDatabase, ReadableTable, StorageBackend, TableHandle};

use crate::backend::BlockBackend;
use crate::error::{Error, Result};
use crate::query::Query;
use crate::read::{self, Reader};
use crate::record::{FieldIndex, Record};
use crate::sortkey::ArgOf;
use crate::txn::Transaction;

/// The metadata table: format marker, layouts, id sequences.
pub(crate) const META: &str = "oasis-store";
/// The format marker's key and value.
const FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"oasis-store 2";

/// The redb tables one record type lives in.
/// An index table.
pub(crate) struct Index {
    /// The redb table's name.
    pub(crate) name: String,
    /// Unique: field → key. Otherwise entries `field ++ key` ([`crate::index`]).
    pub(crate) unique: bool,
    /// The field's sort-key width, if fixed.
    pub(crate) width: Option<usize>,
}

pub(crate) struct Tables {
    pub(crate) layout: &'static str,
    pub(crate) primary: String,
    /// Per field: the index table, for indexed fields.
    pub(crate) indexes: Vec<Option<Index>>,
    /// The key of the auto-id sequence in [`META`].
    pub(crate) sequence: Vec<u8>,
}

impl Tables {
    fn of(name: &str, layout: &'static str, fields: &[crate::FieldDef]) -> Tables {
        Tables {
            layout,
            primary: format!("record:{name}"),
            indexes: fields
                .iter()
                .map(|f| match f.index {
                    FieldIndex::Index | FieldIndex::Unique => Some(Index {
                        name: format!("index:{name}.{}", f.name),
                        unique: f.index == FieldIndex::Unique,
                        width: f.width,
                    }),
                    _ => None,
                })
                .collect(),
            sequence: format!("sequence:{name}").into_bytes(),
        }
    }
}

type Migrate = Box<dyn Fn(&mut Transaction<'_>) -> Result<()>>;

/// A record type to declare at open.
struct Declared {
    name: &'static str,
    layout: &'static str,
    fields: &'static [crate::FieldDef],
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
    pub(crate) db: redb::Database,
    pub(crate) records: BTreeMap<&'static str, Tables>,
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
            tx.tx.with_table(&old.primary, |t| {
                t.scan(
                    core::ops::Bound::Unbounded,
                    core::ops::Bound::Unbounded,
                    false,
                    &mut |_, v| {
                        records.push(Old::decode(v)?);
                        Ok(true)
                    },
                )
            })?;
            tx.tx.delete_table(read::table(&old.primary))?;
            for index in old.indexes.iter().flatten() {
                tx.tx.delete_table(read::table(&index.name))?;
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

    /// Opens the store on a block device (formatting it if blank).
    pub fn open<B: Block + Send + 'static>(self, dev: B) -> Result<Store> {
        self.open_backend(BlockBackend::open(dev)?)
    }

    /// Opens the store on any redb storage backend.
    pub fn open_backend(self, backend: impl StorageBackend) -> Result<Store> {
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
        let store = Store { db, records };
        let mut tx = store.begin()?;
        tx.check_format()?;
        for d in &self.declared {
            tx.check_layout(d.name, d.layout, d.migration.as_ref())?;
        }
        tx.commit()?;
        Ok(store)
    }
}

impl<'s> Transaction<'s> {
    /// Writes the format marker into a new database, or checks it.
    fn check_format(&mut self) -> Result<()> {
        let has_meta = self.tx.list_tables()?.any(|t| t.name() == META);
        if !has_meta {
            let foreign: Vec<String> = self
                .tx
                .list_tables()?
                .map(|t| t.name().to_string())
                .chain(
                    self.tx
                        .list_multimap_tables()?
                        .map(|t| t.name().to_string()),
                )
                .collect();
            if !foreign.is_empty() {
                return Err(Error::NotAStore(format!(
                    "it holds tables {foreign:?} and no oasis-store marker"
                )));
            }
        }
        let mut meta = self.tx.open_table(read::table(META))?;
        let marker = meta.get(FORMAT_KEY)?.map(|g| g.value().to_vec());
        match marker {
            None if !has_meta => {
                meta.insert(FORMAT_KEY, FORMAT)?;
                Ok(())
            }
            Some(m) if m == FORMAT => Ok(()),
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
        let stored = {
            let meta = self.tx.open_table(read::table(META))?;
            let v = meta.get(key.as_slice())?;
            v.map(|g| String::from_utf8_lossy(g.value()).into_owned())
        };
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
        let mut meta = self.tx.open_table(read::table(META))?;
        meta.insert(key, layout.as_bytes())?;
        Ok(())
    }

    /// Creates the (empty) tables of a declared record type.
    pub(crate) fn create_tables(&mut self, name: &str) -> Result<()> {
        let t = self
            .store
            .records
            .get(name)
            .ok_or_else(|| Error::Engine(format!("no tables for `{name}`")))?;
        self.tx.open_table(read::table(&t.primary))?;
        for index in t.indexes.iter().flatten() {
            self.tx.open_table(read::table(&index.name))?;
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
        match self.records.get(R::NAME) {
            Some(t) if t.layout == R::LAYOUT => Ok(t),
            _ => Err(Error::NotRegistered(R::NAME)),
        }
    }

    /// Starts a write transaction: several operations, committed together or not at all.
    pub fn begin(&self) -> Result<Transaction<'_>> {
        Ok(Transaction {
            store: self,
            tx: self.db.begin_write()?,
        })
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
        let rtx = self.db.begin_read()?;
        crate::txn::get::<R, _>(self, &rtx, &crate::sortkey::arg_key::<R::Key, _>(&key))
    }

    /// A query over the records of type `R`, with one method per field.
    pub fn query<R: Record>(&self) -> R::Query<'_> {
        Query::new(self, None).into()
    }
}
