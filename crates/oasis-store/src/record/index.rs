//! Entries of a non-unique index: one key per (field value, record key),
//! `field ++ key` in a set table (keys alone, no values: `read::is_set`),
//! so a range of field values is a range of entries and the record keys
//! come out of the entry.
//!
//! The field part must end where the record key begins. Delimited field
//! encodings (fixed widths, compact integers: [`Shape`]) end by themselves;
//! open ones (strings, byte strings, options) are escaped — `0x00` becomes
//! `0x00 0xff` — and closed by `0x00 0x00`, which keeps their order: a value
//! sorts before every longer value it is a prefix of, as in the field itself.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use core::ops::Bound;

use super::sortkey::{Shape, prefix_end};

/// The field part of an entry for field encoding `field`.
fn field_part(shape: Shape, field: &[u8], out: &mut Vec<u8>) {
    if shape.is_delimited() {
        out.extend_from_slice(field);
        return;
    }
    for &b in field {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// A range of table keys: lower and upper bound.
pub(crate) type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The entry for a record with key `key` whose field encodes as `field`.
pub(crate) fn entry(shape: Shape, field: &[u8], key: &[u8]) -> Vec<u8> {
    let mut e = Vec::with_capacity(field.len() + key.len() + 2);
    field_part(shape, field, &mut e);
    e.extend_from_slice(key);
    e
}

/// How many bytes of `entry` its field part takes, or `None` if the entry
/// is malformed.
fn part_len(shape: Shape, entry: &[u8]) -> Option<usize> {
    if shape.is_delimited() {
        return shape.encoded_len(entry);
    }
    let mut i = 0;
    while i + 1 < entry.len() {
        if entry[i] == 0 {
            match entry[i + 1] {
                0 => return Some(i + 2),
                0xff => i += 2,
                _ => return None,
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The record key inside an entry, or `None` if the entry is malformed.
pub(crate) fn record_key(shape: Shape, entry: &[u8]) -> Option<&[u8]> {
    entry.get(part_len(shape, entry)?..)
}

/// An entry taken apart: the field's encoding (unescaped) and what follows
/// it; `None` if the entry is malformed.
pub(crate) fn split(shape: Shape, entry: &[u8]) -> Option<(Cow<'_, [u8]>, &[u8])> {
    let n = part_len(shape, entry)?;
    let (part, rest) = entry.split_at(n);
    if shape.is_delimited() {
        return Some((Cow::Borrowed(part), rest));
    }
    let mut field = Vec::with_capacity(n - 2);
    let mut bytes = part[..n - 2].iter();
    while let Some(&b) = bytes.next() {
        field.push(b);
        if b == 0 {
            bytes.next();
        }
    }
    Some((Cow::Owned(field), rest))
}

/// The entry range holding exactly the records whose field lies in `lo..hi`
/// (bounds on field encodings); `None` if no entry can be in it (a lower
/// bound excluding the greatest possible value).
pub(crate) fn entry_bounds(
    shape: Shape,
    lo: &Bound<Vec<u8>>,
    hi: &Bound<Vec<u8>>,
) -> Option<KeyRange> {
    let part = |v: &[u8]| {
        let mut p = Vec::new();
        field_part(shape, v, &mut p);
        p
    };
    // Entries for value v are `part(v) ++ key`: all at or after part(v), all
    // before prefix_end(part(v)).
    let after = |v: &[u8]| prefix_end(&part(v)).map(Bound::Included);
    let before_end = |v: &[u8]| prefix_end(&part(v)).map_or(Bound::Unbounded, Bound::Excluded);
    let lo = match lo {
        Bound::Included(v) => Bound::Included(part(v)),
        Bound::Excluded(v) => after(v)?,
        Bound::Unbounded => Bound::Unbounded,
    };
    let hi = match hi {
        Bound::Included(v) => before_end(v),
        Bound::Excluded(v) => Bound::Excluded(part(v)),
        Bound::Unbounded => Bound::Unbounded,
    };
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn within(e: &[u8], (lo, hi): &(Bound<Vec<u8>>, Bound<Vec<u8>>)) -> bool {
        let above = match lo {
            Bound::Included(l) => e >= l.as_slice(),
            Bound::Excluded(l) => e > l.as_slice(),
            Bound::Unbounded => true,
        };
        let below = match hi {
            Bound::Included(h) => e <= h.as_slice(),
            Bound::Excluded(h) => e < h.as_slice(),
            Bound::Unbounded => true,
        };
        above && below
    }

    fn in_field_range(v: &[u8], lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> bool {
        within(v, &(lo.clone(), hi.clone()))
    }

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        let v = proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1), Just(0xff), any::<u8>()],
            0..4,
        );
        prop_oneof![
            v.clone().prop_map(Bound::Included),
            v.prop_map(Bound::Excluded),
            Just(Bound::Unbounded)
        ]
    }

    proptest! {
        #[test]
        fn variable_entries_keep_order_and_ranges(
            a in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xff), any::<u8>()], 0..5),
            b in proptest::collection::vec(prop_oneof![Just(0u8), Just(1), Just(0xff), any::<u8>()], 0..5),
            ka in proptest::collection::vec(any::<u8>(), 0..3),
            kb in proptest::collection::vec(any::<u8>(), 0..3),
            lo in bound(),
            hi in bound(),
        ) {
            let (ea, eb) = (entry(Shape::Open, &a, &ka), entry(Shape::Open, &b, &kb));
            if a != b {
                prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
            }
            prop_assert_eq!(record_key(Shape::Open, &ea), Some(ka.as_slice()));
            let (field, rest) = split(Shape::Open, &ea).expect("an entry splits");
            prop_assert_eq!(&*field, a.as_slice());
            prop_assert_eq!(rest, ka.as_slice());
            let r = entry_bounds(Shape::Open, &lo, &hi).expect("variable entries always have a range");
            prop_assert_eq!(within(&ea, &r), in_field_range(&a, &lo, &hi), "{:?} {:?}", ea, r);
        }

        #[test]
        fn fixed_entries_keep_ranges(a: u32, k: u64, lo in any::<Option<(bool, u32)>>(), hi in any::<Option<(bool, u32)>>()) {
            let b = |x: Option<(bool, u32)>| match x {
                None => Bound::Unbounded,
                Some((true, v)) => Bound::Included(v.to_be_bytes().to_vec()),
                Some((false, v)) => Bound::Excluded(v.to_be_bytes().to_vec()),
            };
            let (lo, hi) = (b(lo), b(hi));
            let e = entry(Shape::Fixed(4), &a.to_be_bytes(), &k.to_be_bytes());
            let kb = k.to_be_bytes();
            prop_assert_eq!(record_key(Shape::Fixed(4), &e), Some(kb.as_slice()));
            let (field, rest) = split(Shape::Fixed(4), &e).expect("an entry splits");
            prop_assert_eq!(&*field, &a.to_be_bytes()[..]);
            prop_assert_eq!(rest, kb.as_slice());
            let inside = entry_bounds(Shape::Fixed(4), &lo, &hi).is_some_and(|r| within(&e, &r));
            prop_assert_eq!(inside, in_field_range(&a.to_be_bytes(), &lo, &hi));
        }
    }

    #[test]
    fn nothing_lies_above_the_greatest_value() {
        let max = Bound::Excluded(vec![0xff; 4]);
        assert_eq!(entry_bounds(Shape::Fixed(4), &max, &Bound::Unbounded), None);
    }

    #[test]
    fn escaped_literal_entries() {
        assert_eq!(
            entry(Shape::Open, b"a\0b", b"K"),
            vec![b'a', 0, 0xff, b'b', 0, 0, b'K']
        );
        assert_eq!(entry(Shape::Fixed(2), &[0, 7], b"K"), vec![0, 7, b'K']);
        assert_eq!(record_key(Shape::Open, &[b'a', 0, 7]), None, "malformed");
        assert!(
            split(Shape::Open, &[b'a', 0, 0xff]).is_none(),
            "unterminated"
        );
        assert!(
            split(Shape::Compact { signed: false }, &[3, 1]).is_none(),
            "cut short"
        );
    }
}
