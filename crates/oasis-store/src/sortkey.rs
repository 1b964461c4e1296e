//! Order-preserving byte encodings of field values.
//!
//! Indexes and keys are redb tables ordered by raw bytes, so every queryable
//! field type is encoded such that comparing the bytes compares the values:
//! unsigned integers big-endian, signed ones big-endian with the sign bit
//! flipped, strings and byte strings as their bytes (a prefix query is then a
//! byte range), floats in IEEE total order.

use alloc::string::String;
use alloc::vec::Vec;

/// A value with an order-preserving byte encoding: `a < b` exactly when
/// `a.sort_key() < b.sort_key()` byte-wise. Every field of a record that can
/// be queried or ordered on implements it.
pub trait SortKey {
    /// The encoding's length if it is the same for every value (integers,
    /// bools, …); `None` for variable-length encodings.
    const WIDTH: Option<usize> = None;

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

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl SortKey for $t {
            const WIDTH: Option<usize> = Some(size_of::<$t>());
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, u128);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl SortKey for $t {
            const WIDTH: Option<usize> = Some(size_of::<$t>());
            fn write_sort_key(&self, out: &mut Vec<u8>) {
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl SortKey for usize {
    const WIDTH: Option<usize> = Some(8);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        (*self as u64).write_sort_key(out)
    }
}

impl SortKey for isize {
    const WIDTH: Option<usize> = Some(8);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        (*self as i64).write_sort_key(out)
    }
}

impl SortKey for bool {
    const WIDTH: Option<usize> = Some(1);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
}

impl SortKey for char {
    const WIDTH: Option<usize> = Some(4);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        u32::from(*self).write_sort_key(out)
    }
}

impl SortKey for f64 {
    const WIDTH: Option<usize> = Some(8);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        // IEEE 754 total order: flip all bits of negatives, the sign of positives.
        let bits = self.to_bits();
        let key = if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        };
        out.extend_from_slice(&key.to_be_bytes());
    }
}

impl SortKey for f32 {
    const WIDTH: Option<usize> = Some(4);
    fn write_sort_key(&self, out: &mut Vec<u8>) {
        let bits = self.to_bits();
        let key = if bits >> 31 == 1 {
            !bits
        } else {
            bits | (1 << 31)
        };
        out.extend_from_slice(&key.to_be_bytes());
    }
}

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
    const WIDTH: Option<usize> = Some(N);
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

    #[test]
    fn encodings_preserve_order() {
        ordered(&[0u32, 1, 255, 256, u32::MAX]);
        ordered(&[i64::MIN, -300, -1, 0, 1, 300, i64::MAX]);
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
    }

    #[test]
    fn prefix_end_bounds_exactly_the_prefixed_strings() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
