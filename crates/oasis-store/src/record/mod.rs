//! Records, the layer an application sees: the [`Record`] trait that
//! `#[derive(Record)]` implements, the sort keys of its fields
//! ([`sortkey`]), typed queries ([`query`]), and how a record type is laid
//! out in the engine's tables: its records ([`rows`]), the entries of its
//! indexes ([`index`]) and the tables' names ([`tables`]).
//!
//! What it may use: the engine below it (tables of bytes, reads inside and
//! outside a write transaction) and the shared error. Never the store: a
//! query runs on the engine and the declared types' tables it is given.

pub(crate) mod codec;
pub(crate) mod index;
pub(crate) mod query;
pub(crate) mod rows;
pub(crate) mod sortkey;
pub(crate) mod tables;

use alloc::vec::Vec;

use crate::error::Result;
use query::Query;
use sortkey::{FromSortKey, Shape};

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
    /// How its sort key ends ([`SortKey::SHAPE`](sortkey::SortKey::SHAPE);
    /// `Open` for opaque fields).
    pub shape: Shape,
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
