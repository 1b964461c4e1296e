//! Order-preserving byte encodings of field values.
//!
//! Indexes and keys are redb tables ordered by raw bytes, so every queryable
//! field type is encoded such that comparing the bytes compares the values:
//! 32- and 64-bit integers compactly (a length byte, then the significant
//! big-endian bytes: an id below 2^24 takes 4 bytes, not 8), other integers
//! big-endian with the sign bit of signed ones flipped, strings and byte
//! strings as their bytes (a prefix query is then a byte range), floats in
//! IEEE total order.

use alloc::string::String;
use alloc::vec::Vec;

mod decode;
pub use decode::FromSortKey;

/// A value with an order-preserving byte encoding: `a < b` exactly when
/// `a.sort_key() < b.sort_key()` byte-wise. Every field of a record that can
/// be queried or ordered on implements it.
pub trait SortKey {
    /// How an encoding ends: a fixed width, a compact integer's length
    /// byte, or nowhere ([`Shape::Open`]: strings, byte strings, options).
    const SHAPE: Shape = Shape::Open;

    /// Appends the encoding of `self` to `out`.
    fn write_sort_key(&self, out: &mut Vec<u8>);

    /// The encoding as a fresh vector.
    fn sort_key(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_sort_key(&mut v);
        v
    }
}

/// Field types whose values can be matched by prefix (strings, byte strings).
pub trait Prefixed: SortKey {}

/// How a sort key's encoding ends. A *delimited* encoding (every shape but
/// `Open`) is never a prefix of another, so an index entry puts the record
/// key right after it; an open one is escaped and closed there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Always this many bytes.
    Fixed(usize),
    /// A compact integer: a byte giving how many bytes follow (for signed
    /// ones, `0x80 + n` at or above zero and `0x7f - n` below), then that
    /// many big-endian bytes; at most 8 follow.
    Compact {
        /// Whether the integer is signed.
        signed: bool,
    },
    /// Variable length, not delimited.
    Open,
}

impl Shape {
    /// Whether encodings of this shape are delimited.
    pub const fn is_delimited(self) -> bool {
        !matches!(self, Shape::Open)
    }

    /// The length of the encoding `bytes` starts with, for a delimited
    /// shape; `None` if `bytes` does not start with a whole one.
    pub fn encoded_len(self, bytes: &[u8]) -> Option<usize> {
        let n = match self {
            Shape::Fixed(w) => return (bytes.len() >= w).then_some(w),
            Shape::Open => return None,
            Shape::Compact { signed: false } => usize::from(*bytes.first()?),
            Shape::Compact { signed: true } => {
                let p = *bytes.first()?;
                usize::from(if p >= 0x80 { p - 0x80 } else { 0x7f - p })
            }
        };
        (n <= 8 && bytes.len() > n).then_some(n + 1)
    }
}

/// Significant bytes of `v`: 0 for 0, 1 below 256, …
fn significant(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).div_ceil(8)
}

fn write_compact_unsigned(v: u64, out: &mut Vec<u8>) {
    let n = significant(v);
    out.push(n as u8);
    out.extend_from_slice(&v.to_be_bytes()[8 - n..]);
}

fn write_compact_signed(v: i64, out: &mut Vec<u8>) {
    // At or above zero: more bytes is greater. Below: more bytes of `!v`
    // (the magnitude less one) is smaller, and among as many, the low bytes
    // of `v` itself rise with `v`.
    let (prefix, n) = if v >= 0 {
        let n = significant(v as u64);
        (0x80 + n as u8, n)
    } else {
        let n = significant(!v as u64);
        (0x7f - n as u8, n)
    };
    out.push(prefix);
    out.extend_from_slice(&(v as u64).to_be_bytes()[8 - n..]);
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl SortKey for $t {
            const SHAPE: Shape = Shape::Fixed(size_of::<$t>());
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }
    )*};
}
unsigned!(u8, u16, u128);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl SortKey for $t {
            const SHAPE: Shape = Shape::Fixed(size_of::<$t>());
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i128 => u128);

macro_rules! compact {
    ($($t:ty => $wide:ty, $write:ident, $signed:expr);*) => {$(
        impl SortKey for $t {
            const SHAPE: Shape = Shape::Compact { signed: $signed };
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                $write(*self as $wide, out)
            }
        }
    )*};
}
compact!(
    u32 => u64, write_compact_unsigned, false;
    u64 => u64, write_compact_unsigned, false;
    usize => u64, write_compact_unsigned, false;
    i32 => i64, write_compact_signed, true;
    i64 => i64, write_compact_signed, true;
    isize => i64, write_compact_signed, true
);

impl SortKey for bool {
    const SHAPE: Shape = Shape::Fixed(1);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl SortKey for char {
    const SHAPE: Shape = Shape::Fixed(4);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u32::from(*self).to_be_bytes());
    }
}

macro_rules! float {
    ($($t:ty => $bits:ty),*) => {$(
        impl SortKey for $t {
            const SHAPE: Shape = Shape::Fixed(size_of::<$t>());
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                // IEEE 754 total order: flip all bits of negatives, the sign
                // bit of positives.
                let bits = self.to_bits();
                let sign: $bits = 1 << (<$bits>::BITS - 1);
                let key = if bits & sign != 0 { !bits } else { bits | sign };
                out.extend_from_slice(&key.to_be_bytes());
            }
        }
    )*};
}
float!(f64 => u64, f32 => u32);

impl SortKey for str {
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl SortKey for String {
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
}

impl SortKey for [u8] {
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl SortKey for Vec<u8> {
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<const N: usize> SortKey for [u8; N] {
    const SHAPE: Shape = Shape::Fixed(N);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl<T: SortKey> SortKey for Option<T> {
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.write_sort_key(out);
            }
        }
    }
}

impl Prefixed for String {}
impl Prefixed for Vec<u8> {}

/// A value usable where a field or key of type `T` is expected: `T` itself,
/// `&T`, and `&str` for `String`.
pub trait ArgOf<T> {
    /// Appends the sort key of the value, as `T` would encode it.
    fn write_arg(&self, out: &mut Vec<u8>);
}

impl<T: SortKey> ArgOf<T> for T {
    fn write_arg(&self, out: &mut Vec<u8>) {
        self.write_sort_key(out)
    }
}

impl<T: SortKey> ArgOf<T> for &T {
    fn write_arg(&self, out: &mut Vec<u8>) {
        (**self).write_sort_key(out)
    }
}

impl ArgOf<String> for &str {
    fn write_arg(&self, out: &mut Vec<u8>) {
        self.write_sort_key(out)
    }
}

impl ArgOf<Vec<u8>> for &[u8] {
    fn write_arg(&self, out: &mut Vec<u8>) {
        self.write_sort_key(out)
    }
}

/// The encoding of an argument, as a fresh vector.
pub(crate) fn arg_key<T, A: ArgOf<T>>(a: &A) -> Vec<u8> {
    let mut v = Vec::new();
    a.write_arg(&mut v);
    v
}

/// The smallest byte string greater than every string that starts with
/// `prefix`, or `None` if there is none (the prefix is all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered<T: SortKey + PartialOrd + core::fmt::Debug>(values: &[T]) {
        for a in values {
            for b in values {
                assert_eq!(
                    a.partial_cmp(b),
                    Some(a.sort_key().cmp(&b.sort_key())),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    fn framed<T: SortKey + core::fmt::Debug>(v: &T) {
        let mut e = v.sort_key();
        let n = e.len();
        assert_eq!(T::SHAPE.encoded_len(&e), Some(n), "{v:?}");
        e.extend_from_slice(&[0xff, 0, 7]);
        assert_eq!(T::SHAPE.encoded_len(&e), Some(n), "{v:?} before a key");
        assert_eq!(T::SHAPE.encoded_len(&e[..n - 1]), None, "{v:?} cut short");
    }

    proptest::proptest! {
        #[test]
        fn compact_integers_keep_order_and_their_length(a: i64, b: i64, c: u64, d: u64, e: i32, f: u32) {
            proptest::prop_assert_eq!(a.cmp(&b), a.sort_key().cmp(&b.sort_key()));
            proptest::prop_assert_eq!(c.cmp(&d), c.sort_key().cmp(&d.sort_key()));
            proptest::prop_assert_eq!((e as i64).sort_key(), e.sort_key());
            proptest::prop_assert_eq!((f as u64).sort_key(), f.sort_key());
            framed(&a);
            framed(&c);
            // Small values, where the lengths change, as often as large ones.
            let (sa, sc) = (a >> (a as u64 % 64), c >> (c % 64));
            proptest::prop_assert_eq!(sa.cmp(&b), sa.sort_key().cmp(&b.sort_key()));
            proptest::prop_assert_eq!(sc.cmp(&d), sc.sort_key().cmp(&d.sort_key()));
            framed(&sa);
            framed(&sc);
        }
    }

    #[test]
    fn compact_integers_are_short_for_small_values() {
        assert_eq!(0u64.sort_key(), [0]);
        assert_eq!(100_000u64.sort_key(), [3, 0x01, 0x86, 0xa0]);
        assert_eq!(0i64.sort_key(), [0x80]);
        assert_eq!((-1i64).sort_key(), [0x7f]);
        assert_eq!((-2i64).sort_key(), [0x7e, 0xfe]);
        assert_eq!(u64::MAX.sort_key().len(), 9);
        assert_eq!(i64::MIN.sort_key(), [0x77, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        for v in [i64::MIN, -257, -256, -255, -2, -1, 0, 1, 255, 256, i64::MAX] {
            framed(&v);
        }
        assert_eq!(
            Shape::Compact { signed: false }.encoded_len(&[9, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None,
            "too long"
        );
    }

    #[test]
    fn fixed_shapes_are_as_wide_as_they_say() {
        for c in ['\0', 'a', 'é', '\u{10ffff}'] {
            framed(&c);
        }
        framed(&true);
        framed(&7u8);
        framed(&-7i16);
        framed(&1.5f64);
        framed(&-1.5f32);
        framed(&[1u8, 2, 3]);
        framed(&u128::MAX);
    }

    #[test]
    fn encodings_preserve_order() {
        ordered(&[0u32, 1, 255, 256, u32::MAX]);
        ordered(&[
            i64::MIN,
            -300,
            -257,
            -256,
            -255,
            -1,
            0,
            1,
            255,
            256,
            300,
            i64::MAX,
        ]);
        ordered(&[0u64, 1, 255, 256, 65535, 65536, u64::MAX]);
        ordered(&[i32::MIN, -1, 0, i32::MAX]);
        ordered(&[i8::MIN, -1, 0, 1, i8::MAX]);
        ordered(&[-1e300f64, -2.5, 0.0, 1e-300, 3.0, f64::INFINITY]);
        assert!((-0.0f64).sort_key() < 0.0f64.sort_key(), "total order");
        ordered(&[
            String::new(),
            String::from("a"),
            String::from("ab"),
            String::from("b"),
            String::from("é"),
        ]);
        ordered(&[None, Some(0u8), Some(9)]);
        ordered(&[false, true]);
        ordered(&['\0', 'a', 'z', 'é', '\u{10ffff}']);
    }

    #[test]
    fn prefix_end_bounds_exactly_the_prefixed_strings() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
