//! Where a record type lives in the engine: its records table
//! ([`super::rows`]), a table per indexed field ([`super::index`] for plain
//! indexes), and its auto-id sequence in the metadata table; named after the
//! type and its fields.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::sortkey::Shape;
use super::{FieldDef, FieldIndex, Record};
use crate::engine::read;
use crate::error::{Error, Result};

/// An index table.
pub(crate) struct Index {
    /// The redb table's name.
    pub(crate) name: String,
    /// Unique: field → key. Otherwise entries `field ++ key` ([`super::index`]).
    pub(crate) unique: bool,
    /// How the field's sort key ends.
    pub(crate) shape: Shape,
}

/// The engine tables one record type lives in.
pub(crate) struct Tables {
    /// The layout the type was declared with.
    pub(crate) layout: &'static str,
    /// The records, `key ++ value` ([`super::rows`]).
    pub(crate) primary: String,
    /// How the key's sort key ends.
    pub(crate) key_shape: Shape,
    /// Per field: the index table, for indexed fields.
    pub(crate) indexes: Vec<Option<Index>>,
    /// The key of the auto-id sequence in the metadata table
    /// ([`crate::engine::META`]).
    pub(crate) sequence: Vec<u8>,
}

impl Tables {
    /// The tables of record type `name`, of layout `layout` and fields `fields`.
    pub(crate) fn of(name: &str, layout: &'static str, fields: &[FieldDef]) -> Tables {
        Tables {
            layout,
            primary: format!("{}{name}", read::RECORDS_PREFIX),
            key_shape: fields
                .iter()
                .find(|f| f.index == FieldIndex::Key)
                .map_or(Shape::Open, |f| f.shape),
            indexes: fields
                .iter()
                .map(|f| match f.index {
                    FieldIndex::Index | FieldIndex::Unique => Some(Index {
                        // A unique index maps a field to a key; a plain one
                        // is a set of entries (keys alone: `read::is_set`).
                        name: if f.index == FieldIndex::Unique {
                            format!("index:{name}.{}", f.name)
                        } else {
                            format!("{}{name}.{}", read::ENTRIES_PREFIX, f.name)
                        },
                        unique: f.index == FieldIndex::Unique,
                        shape: f.shape,
                    }),
                    _ => None,
                })
                .collect(),
            sequence: format!("sequence:{name}").into_bytes(),
        }
    }
}

/// The tables of `R` among the declared record types' `records`, if `R` was
/// declared with this exact layout.
pub(crate) fn of<'t, R: Record>(records: &'t BTreeMap<&'static str, Tables>) -> Result<&'t Tables> {
    match records.get(R::NAME) {
        Some(t) if t.layout == R::LAYOUT => Ok(t),
        _ => Err(Error::NotRegistered(R::NAME)),
    }
}
