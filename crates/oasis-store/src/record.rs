//! The [`Record`] trait that `#[derive(Record)]` implements, and the field
//! encoding its generated code calls.

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::query::Query;
use crate::sortkey::FromSortKey;

/// How a field is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldIndex {
    /// Not indexed: queries on it scan.
    None,
    /// The primary key.
    Key,
    /// `#[index]`: many records may share a value.
    Index,
    /// `#[index(unique)]`: at most one record per value.
    Unique,
}

/// One field of a record type, as the derive describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDef {
    /// The field's name.
    pub name: &'static str,
    /// Whether and how it is indexed.
    pub index: FieldIndex,
    /// How its sort key ends ([`crate::SortKey::SHAPE`]; `Open` for opaque fields).
    pub shape: crate::sortkey::Shape,
}

/// A type stored in a [`Store`](crate::Store). Implement it with
/// `#[derive(Record)]`, never by hand: the generated code keeps the encoding,
/// the layout string and the field numbering consistent.
pub trait Record: Sized + 'static {
    /// The name the database knows the type by (the struct's name unless
    /// `#[record(name = "...")]` says otherwise).
    const NAME: &'static str;
    /// The type's layout: fields, their types, key and indexes. A change of
    /// layout needs a declared migration.
    const LAYOUT: &'static str;
    /// The fields, in declaration order (field numbers index this).
    const FIELDS: &'static [FieldDef];
    /// The number of the key field.
    const KEY_FIELD: usize;
    /// Whether the key is a generated `u64` id (`#[key(auto)]`).
    const AUTO_KEY: bool;
    /// The key's type.
    type Key: FromSortKey + Clone;
    /// The typed query builder (`db.query::<Self>()`), with one method per field.
    type Query<'q>: From<Query<'q, Self>>;
    /// The record's key; with an auto key, `assigned` overrides the field.
    fn key_of(&self, assigned: Option<u64>) -> Self::Key;
    /// The auto key field's value (0 = "assign one"); 0 for other keys.
    fn auto_id(&self) -> u64;
    /// Appends the compact encoding of every field but the key (the engine
    /// stores the key once, as its own key).
    fn encode(&self, out: &mut Vec<u8>) -> Result<()>;
    /// Rebuilds a record from its key's sort key and what
    /// [`Record::encode`] wrote.
    fn decode(key: &[u8], value: &[u8]) -> Result<Self>;
    /// Appends the sort key of field number `field`.
    fn field_sort_key(&self, field: usize, out: &mut Vec<u8>);
}

/// Appends one field's postcard encoding.
pub fn encode_field<T: serde::Serialize>(
    record: &'static str,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<()> {
    let buf = core::mem::take(out);
    match postcard::to_extend(value, buf) {
        Ok(v) => {
            *out = v;
            Ok(())
        }
        Err(e) => Err(Error::Encode {
            record,
            detail: e.to_string(),
        }),
    }
}

/// Reads the key field back from the record's key.
pub fn decode_key<T: FromSortKey>(
    record: &'static str,
    field: &'static str,
    key: &[u8],
) -> Result<T> {
    T::from_sort_key(key).ok_or_else(|| Error::Decode {
        record,
        detail: alloc::format!(
            "key `{field}`: {} bytes that are not a key of its type",
            key.len()
        ),
    })
}

/// Takes one field off the front of `rest`.
pub fn decode_field<T: serde::de::DeserializeOwned>(
    record: &'static str,
    field: &'static str,
    rest: &mut &[u8],
) -> Result<T> {
    match postcard::take_from_bytes::<T>(rest) {
        Ok((v, tail)) => {
            *rest = tail;
            Ok(v)
        }
        Err(e) => Err(Error::Decode {
            record,
            detail: alloc::format!("field `{field}`: {e}"),
        }),
    }
}

/// Checks that a decoded record used every byte.
pub fn finish_decode(record: &'static str, rest: &[u8]) -> Result<()> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Error::Decode {
            record,
            detail: alloc::format!("{} bytes left over after the last field", rest.len()),
        })
    }
}
