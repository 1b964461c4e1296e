//! oasis-store: typed records inside the unikernel, over redb on a block device.
//!
//! A Rust type becomes persistable with a derive; saving, getting and
//! querying it by its fields come with the type, checked by the compiler:
//!
//! ```ignore
//! #[derive(oasis_store::Record)]
//! struct Person {
//!     #[key]
//!     name: String,
//!     #[index]
//!     age: u32,
//! }
//!
//! let db = Store::builder().record::<Person>().open(disk)?;
//! db.save(&Person { name: "alice".into(), age: 31 })?;
//! let alice = db.get::<Person>("alice")?;
//! let older = db.query::<Person>().age().gt(30).fetch()?;
//! ```
//!
//! Underneath, each record type is a redb table of keys alone: per record,
//! the key's order-preserving encoding ([`SortKey`]) followed by the other
//! fields encoded compactly with postcard (the key is read back from its
//! encoding: [`FromSortKey`]); each `#[index]` field is a table of entries
//! `field ++ key`, also without values (`#[index(unique)]`: a table from the
//! field to the key). A clean close rewrites tables whose pages are more
//! than a quarter empty into full leaves. Every save,
//! delete and migration runs in a redb write transaction, durable when it
//! commits (through oasis-store's own write-ahead log on a block device:
//! see `journal/`; there the engine's transaction is held open across
//! commits and committed at checkpoints: see `engine/`). One write
//! transaction runs at a time: beginning one while another is open waits
//! for it (so never begin one inside another in one thread); reads through
//! the store never wait and see every committed transaction. The database
//! remembers each record type's layout (its fields, their types, key and
//! indexes) and refuses to open a type whose layout changed unless a
//! migration from the stored layout was declared.
//!
//! Storage is any [`redb::StorageBackend`]; [`BlockBackend`] puts it on an
//! oasis [`Block`](oasis_rt::device::Block) device (the same code on kvm and
//! hosted).
//!
//! # Layers
//!
//! The source is in layers, each a folder whose `mod.rs` says what it is and
//! what it may use; a layer uses only layers below it:
//!
//! ```text
//!  store/     Store, StoreBuilder, Transaction: the API, opening, commits
//!  record/    the Record trait, sort keys, queries; a type's rows, index
//!             entries and table names
//!  engine/    redb underneath: tables of bytes, the write transaction held
//!             between commits, views, recovery, repacking
//!  journal/   the write-ahead log and its records
//!  error.rs   the shared error (it wraps the backend's OpenError)
//!  backend/   redb's storage on a Block device: superblock, gathered
//!             writes, the log region, the engine pages' sums
//!  le.rs      little-endian fields of on-device headers
//!  checksum.rs the 64-bit checksum of log records and engine pages
//! ```
//!
//! The feature `test-devices` adds the modules `mem` (a RAM disk) and
//! `fault` (a simulated power cut), for tests and fuzzing; production
//! builds leave it off.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod backend;
mod checksum;
mod engine;
mod error;
mod journal;
mod le;
mod record;
mod store;
#[cfg(feature = "test-devices")]
mod test_devices;

pub use backend::{BackendIo, BlockBackend, OpenError, PageDamaged, superblock};
pub use error::{Error, Result};
pub use oasis_store_derive::Record;
pub use record::query::{FieldQuery, Order, Query};
pub use record::sortkey::{ArgOf, FromSortKey, Prefixed, Shape, SortKey};
pub use record::{FieldDef, FieldIndex, Record};
pub use store::{Store, StoreBuilder, Transaction};
#[cfg(feature = "test-devices")]
pub use test_devices::{fault, mem};

/// The engine, for backends and advanced use.
pub use redb;

/// What the derive's generated code uses; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::record::codec::{decode_field, decode_key, encode_field, finish_decode};
    pub use alloc::vec::Vec;
}
