//! Typed queries: conditions on fields, an order, a skip and a limit.
//!
//! A query runs through an index when one of its conditions is on the key or
//! on an `#[index]` field (a key or index range), otherwise by scanning the
//! records; every condition is then checked on each candidate. Without an
//! explicit order, results come in the order of what drove the query (key
//! order for a scan). An order on the field that drives the query costs
//! nothing and stops at the limit; any other order sorts the matches. Ties
//! are broken by key, in the same direction: `desc` is the exact reverse of
//! `asc`.

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::ops::Bound;

use alloc::collections::BTreeMap;

use super::sortkey::{ArgOf, Prefixed, arg_key, prefix_end};
use super::tables::{self, Tables};
use super::{FieldIndex, Record, index, rows};
use crate::engine::read::Reader;
use crate::engine::{Engine, Held};
use crate::error::{Error, Result};

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// One condition: field `field`'s sort key lies in `[lo, hi]` (bounds as given).
#[derive(Debug, Clone)]
struct Cond {
    field: usize,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
}

impl Cond {
    fn holds(&self, v: &[u8]) -> bool {
        let above = match &self.lo {
            Bound::Included(l) => v >= l.as_slice(),
            Bound::Excluded(l) => v > l.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match &self.hi {
            Bound::Included(h) => v <= h.as_slice(),
            Bound::Excluded(h) => v < h.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    }
}

fn borrow(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A query over records of type `R`. Built through `R`'s typed builder
/// (`db.query::<R>()`), which adds conditions field by field.
pub struct Query<'q, R> {
    /// The declared record types' tables.
    records: &'q BTreeMap<&'static str, Tables>,
    /// The engine, read through a view of every commit when `tx` is none.
    engine: &'q Engine,
    /// The write transaction the query runs in, if any.
    tx: Option<&'q Held>,
    conds: Vec<Cond>,
    order: Option<(usize, Order)>,
    skip: usize,
    limit: Option<usize>,
    _record: PhantomData<fn() -> R>,
}

impl<'q, R: Record> Query<'q, R> {
    /// A query with no conditions, over the declared record types' tables
    /// `records` in `engine`, or inside its write transaction `tx`.
    pub(crate) fn new(
        records: &'q BTreeMap<&'static str, Tables>,
        engine: &'q Engine,
        tx: Option<&'q Held>,
    ) -> Self {
        Query {
            records,
            engine,
            tx,
            conds: Vec::new(),
            order: None,
            skip: 0,
            limit: None,
            _record: PhantomData,
        }
    }

    /// At most `n` results.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Leaves out the first `n` matches (a page further on: `skip(40)
    /// .limit(20)`). Skipped matches are read and checked, not kept: a
    /// streamed query holds only the results it returns.
    pub fn skip(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// Orders by field number `field` (the typed builder's `.FIELD().asc()`).
    #[doc(hidden)]
    pub fn order_by(mut self, field: usize, order: Order) -> Self {
        self.order = Some((field, order));
        self
    }

    /// The matching records.
    pub fn fetch(self) -> Result<Vec<R>> {
        let mut out = Vec::new();
        self.run(&mut |r| {
            out.push(r);
            true
        })?;
        Ok(out)
    }

    /// How many records match (within the limit).
    pub fn count(self) -> Result<usize> {
        let mut n = 0;
        self.run(&mut |_| {
            n += 1;
            true
        })?;
        Ok(n)
    }

    /// The first matching record.
    pub fn first(self) -> Result<Option<R>> {
        let mut first = None;
        self.limit(1).run(&mut |r| {
            first = Some(r);
            false
        })?;
        Ok(first)
    }

    fn run(self, emit: &mut dyn FnMut(R) -> bool) -> Result<()> {
        match self.tx {
            Some(tx) => self.run_in(tx, emit),
            None => {
                let view = self.engine.view()?;
                self.run_in(&view, emit)
            }
        }
    }

    /// Which field drives the query: a condition on the key, then on a
    /// unique index, then on an index; else the ordered field if indexed.
    fn driver(&self) -> Option<usize> {
        let indexed = |f: usize, kinds: &[FieldIndex]| kinds.contains(&R::FIELDS[f].index);
        let by = |kinds: &[FieldIndex]| {
            self.conds
                .iter()
                .map(|c| c.field)
                .find(|&f| indexed(f, kinds))
        };
        by(&[FieldIndex::Key])
            .or_else(|| by(&[FieldIndex::Unique]))
            .or_else(|| by(&[FieldIndex::Index]))
            .or_else(|| {
                self.order.map(|(f, _)| f).filter(|&f| {
                    indexed(f, &[FieldIndex::Key, FieldIndex::Unique, FieldIndex::Index])
                })
            })
    }

    fn run_in<T: Reader>(self, rd: &T, emit: &mut dyn FnMut(R) -> bool) -> Result<()> {
        let tables = tables::of::<R>(self.records)?;
        let driver = self.driver();
        let key_field = R::KEY_FIELD;
        // The driving range: the tightest condition on the driving field.
        let (lo, hi) = driver
            .and_then(|f| self.conds.iter().find(|c| c.field == f))
            .map_or((Bound::Unbounded, Bound::Unbounded), |c| {
                (c.lo.clone(), c.hi.clone())
            });
        let streamed = match self.order {
            None => true,
            Some((f, _)) => Some(f) == driver || (driver.is_none() && f == key_field),
        };
        let rev = streamed && matches!(self.order, Some((_, Order::Desc)));
        let limit = self.limit.unwrap_or(usize::MAX);
        let mut matched: Vec<(Vec<u8>, Vec<u8>, R)> = Vec::new();
        let mut sent = 0usize;
        let mut skipped = 0usize;
        let mut field_key = Vec::new();
        let mut consider = |kb: &[u8], v: &[u8], matched: &mut Vec<_>| -> Result<bool> {
            if sent >= limit {
                return Ok(false);
            }
            let r = R::decode(kb, v)?;
            for c in &self.conds {
                field_key.clear();
                r.field_sort_key(c.field, &mut field_key);
                if !c.holds(&field_key) {
                    return Ok(true);
                }
            }
            if streamed {
                if skipped < self.skip {
                    skipped += 1;
                    return Ok(true);
                }
                sent += 1;
                Ok(emit(r) && sent < limit)
            } else {
                let (f, _) = self.order.unwrap_or((0, Order::Asc));
                let mut ok = Vec::new();
                r.field_sort_key(f, &mut ok);
                matched.push((ok, kb.to_vec(), r));
                Ok(true)
            }
        };
        rd.with_table(&tables.primary, |primary| {
            let index = driver.and_then(|f| tables.indexes[f].as_ref());
            match index {
                None => rows::scan(
                    primary,
                    &tables.primary,
                    tables.key_shape,
                    (&lo, &hi),
                    rev,
                    &mut |k, v| consider(k, v, &mut matched),
                ),
                Some(ix) => {
                    let mut visit = |entry: &[u8], value: &[u8]| -> Result<bool> {
                        let pk = if ix.unique {
                            value
                        } else {
                            index::record_key(ix.shape, entry).ok_or_else(|| {
                                Error::Engine(alloc::format!(
                                    "malformed entry in index {}",
                                    ix.name
                                ))
                            })?
                        };
                        let mut go = true;
                        rows::get(primary, &rows::part(tables.key_shape, pk), |_, v| {
                            go = consider(pk, v, &mut matched)?;
                            Ok(())
                        })?;
                        Ok(go)
                    };
                    let bounds = if ix.unique {
                        Some((lo.clone(), hi.clone()))
                    } else {
                        index::entry_bounds(ix.shape, &lo, &hi)
                    };
                    match bounds {
                        Some((l, h)) => rd.with_table(&ix.name, |t| {
                            t.scan(borrow(&l), borrow(&h), rev, &mut visit)
                        }),
                        None => Ok(()),
                    }
                }
            }
        })?;
        if !streamed {
            let desc = matches!(self.order, Some((_, Order::Desc)));
            matched.sort_by(|a, b| {
                let asc = a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1));
                if desc { asc.reverse() } else { asc }
            });
            for (_, _, r) in matched.into_iter().skip(self.skip).take(limit) {
                if !emit(r) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// A condition or order being built on one field of type `T`; each method
/// returns the record's typed builder, so conditions chain.
pub struct FieldQuery<'q, R, T: ?Sized> {
    query: Query<'q, R>,
    field: usize,
    _type: PhantomData<fn() -> T>,
}

impl<'q, R: Record, T: ?Sized> FieldQuery<'q, R, T> {
    /// Starts a condition on field number `field` (used by the derive).
    #[doc(hidden)]
    pub fn new(query: Query<'q, R>, field: usize) -> Self {
        FieldQuery {
            query,
            field,
            _type: PhantomData,
        }
    }

    fn cond(mut self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> R::Query<'q> {
        self.query.conds.push(Cond {
            field: self.field,
            lo,
            hi,
        });
        self.query.into()
    }

    /// Field equals `v`.
    pub fn eq(self, v: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        let k = arg_key::<T, _>(&v);
        self.cond(Bound::Included(k.clone()), Bound::Included(k))
    }

    /// Field greater than `v`.
    pub fn gt(self, v: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        self.cond(Bound::Excluded(arg_key::<T, _>(&v)), Bound::Unbounded)
    }

    /// Field greater than or equal to `v`.
    pub fn ge(self, v: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        self.cond(Bound::Included(arg_key::<T, _>(&v)), Bound::Unbounded)
    }

    /// Field less than `v`.
    pub fn lt(self, v: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        self.cond(Bound::Unbounded, Bound::Excluded(arg_key::<T, _>(&v)))
    }

    /// Field less than or equal to `v`.
    pub fn le(self, v: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        self.cond(Bound::Unbounded, Bound::Included(arg_key::<T, _>(&v)))
    }

    /// Field between `lo` and `hi`, both included.
    pub fn between(self, lo: impl ArgOf<T>, hi: impl ArgOf<T>) -> R::Query<'q>
    where
        T: Sized,
    {
        self.cond(
            Bound::Included(arg_key::<T, _>(&lo)),
            Bound::Included(arg_key::<T, _>(&hi)),
        )
    }

    /// Results ordered by this field, smallest first.
    pub fn asc(self) -> R::Query<'q> {
        self.query.order_by(self.field, Order::Asc).into()
    }

    /// Results ordered by this field, largest first.
    pub fn desc(self) -> R::Query<'q> {
        self.query.order_by(self.field, Order::Desc).into()
    }
}

impl<'q, R: Record, T: Prefixed> FieldQuery<'q, R, T> {
    /// Field starts with `prefix` (strings, byte strings).
    pub fn prefix(self, prefix: impl ArgOf<T>) -> R::Query<'q> {
        let p = arg_key::<T, _>(&prefix);
        let hi = prefix_end(&p).map_or(Bound::Unbounded, Bound::Excluded);
        self.cond(Bound::Included(p), hi)
    }
}
