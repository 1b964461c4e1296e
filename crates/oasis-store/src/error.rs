//! What can go wrong, said with the record, field or input involved.
//!
//! The shared error of the journal, the engine, the records and the store.
//! It sits just above the block backend, whose [`OpenError`] it carries (the
//! backend itself reports only its own errors), and uses nothing else of
//! the crate.

use alloc::string::{String, ToString};
use core::fmt;

use crate::backend::OpenError;

/// An oasis-store error.
#[derive(Debug)]
pub enum Error {
    /// The block device could not be opened as a store (garbage, truncated,
    /// foreign format, device failure).
    Open(OpenError),
    /// The storage holds a database, but not an oasis-store one.
    NotAStore(String),
    /// The database stores `record` with another layout, and no migration
    /// from that layout was declared.
    LayoutChanged {
        /// The record type's name.
        record: &'static str,
        /// The layout the database holds.
        stored: String,
        /// The layout of the type this program was built with.
        current: &'static str,
    },
    /// The record type was not declared when the store was opened.
    NotRegistered(&'static str),
    /// A save would give two records the same value of a unique field.
    Unique {
        /// The record type's name.
        record: &'static str,
        /// The unique field.
        field: &'static str,
    },
    /// A stored value could not be decoded as the record type.
    Decode {
        /// The record type's name.
        record: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A record could not be encoded.
    Encode {
        /// The record type's name.
        record: &'static str,
        /// What the encoder said.
        detail: String,
    },
    /// The engine (redb) failed: I/O, corruption, or a full device.
    Engine(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open(e) => write!(f, "cannot open the store: {e}"),
            Error::NotAStore(why) => write!(f, "not an oasis-store database: {why}"),
            Error::LayoutChanged {
                record,
                stored,
                current,
            } => write!(
                f,
                "record `{record}` changed layout without a declared migration: the database holds `{stored}`, this program has `{current}`"
            ),
            Error::NotRegistered(r) => write!(
                f,
                "record `{r}` was not declared when the store was opened (add .record::<{r}>())"
            ),
            Error::Unique { record, field } => write!(
                f,
                "another `{record}` already has this value of unique field `{field}`"
            ),
            Error::Decode { record, detail } => {
                write!(f, "a stored `{record}` cannot be decoded: {detail}")
            }
            Error::Encode { record, detail } => write!(f, "cannot encode a `{record}`: {detail}"),
            Error::Engine(e) => write!(f, "storage engine: {e}"),
        }
    }
}

impl core::error::Error for Error {}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Self {
        Error::Open(e)
    }
}

macro_rules! engine_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Engine(e.to_string())
            }
        }
    )*};
}
engine_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A result with [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;
