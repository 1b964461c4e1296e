//! Reading a sort key back: a record's key is stored once, as the engine's
//! key, and its field is rebuilt from those bytes when the record is read.
//!
//! Every decoder accepts exactly the bytes [`SortKey::write_sort_key`]
//! writes for some value and nothing else (no short or long input, no
//! non-canonical compact integer, no invalid UTF-8), so bytes from the
//! device that are not a key of the type are refused, never misread.

use alloc::string::String;
use alloc::vec::Vec;

use super::SortKey;

/// A [`SortKey`] that can be read back from its encoding: every type a
/// record's key can have.
pub trait FromSortKey: SortKey + Sized {
    /// The value whose whole encoding is `bytes`, or `None` if `bytes` is
    /// not one.
    fn from_sort_key(bytes: &[u8]) -> Option<Self>;
}

fn array<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl FromSortKey for $t {
            fn from_sort_key(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(array(bytes)?))
            }
        }
    )*};
}
unsigned!(u8, u16, u128);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl FromSortKey for $t {
            fn from_sort_key(bytes: &[u8]) -> Option<Self> {
                let flipped = <$u>::from_be_bytes(array(bytes)?);
                Some((flipped ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i128 => u128);

/// The big-endian value of `bytes` (at most 8) under `fill` bytes.
fn be(bytes: &[u8], fill: u8) -> u64 {
    let mut all = [fill; 8];
    all[8 - bytes.len()..].copy_from_slice(bytes);
    u64::from_be_bytes(all)
}

/// A compact unsigned integer: a length byte, then exactly that many
/// significant bytes (the first non-zero).
fn read_compact_unsigned(bytes: &[u8]) -> Option<u64> {
    let (&n, rest) = bytes.split_first()?;
    if usize::from(n) != rest.len() || n > 8 || rest.first() == Some(&0) {
        return None;
    }
    Some(be(rest, 0))
}

/// A compact signed integer (see [`super::Shape::Compact`]).
fn read_compact_signed(bytes: &[u8]) -> Option<i64> {
    let (&prefix, rest) = bytes.split_first()?;
    let (n, negative) = if prefix >= 0x80 {
        (prefix - 0x80, false)
    } else {
        (0x7f_u8.checked_sub(prefix)?, true)
    };
    if usize::from(n) != rest.len() || n > 8 {
        return None;
    }
    // The first byte is significant: not a zero (a 0xff below zero) that a
    // shorter encoding would have left out.
    let pad = if negative { 0xff } else { 0 };
    if rest.first() == Some(&pad) {
        return None;
    }
    let v = be(rest, pad) as i64;
    // Eight bytes of a negative's encoding must give a negative value.
    ((v < 0) == negative).then_some(v)
}

macro_rules! compact {
    ($($t:ty => $read:ident);*) => {$(
        impl FromSortKey for $t {
            fn from_sort_key(bytes: &[u8]) -> Option<Self> {
                <$t>::try_from($read(bytes)?).ok()
            }
        }
    )*};
}
compact!(
    u32 => read_compact_unsigned;
    u64 => read_compact_unsigned;
    usize => read_compact_unsigned;
    i32 => read_compact_signed;
    i64 => read_compact_signed;
    isize => read_compact_signed
);

impl FromSortKey for bool {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0] => Some(false),
            [1] => Some(true),
            _ => None,
        }
    }
}

impl FromSortKey for char {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        char::from_u32(u32::from_be_bytes(array(bytes)?))
    }
}

macro_rules! float {
    ($($t:ty => $bits:ty),*) => {$(
        impl FromSortKey for $t {
            fn from_sort_key(bytes: &[u8]) -> Option<Self> {
                let key = <$bits>::from_be_bytes(array(bytes)?);
                let sign: $bits = 1 << (<$bits>::BITS - 1);
                let bits = if key & sign != 0 { key ^ sign } else { !key };
                Some(<$t>::from_bits(bits))
            }
        }
    )*};
}
float!(f64 => u64, f32 => u32);

impl FromSortKey for String {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl FromSortKey for Vec<u8> {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

impl<const N: usize> FromSortKey for [u8; N] {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        array(bytes)
    }
}

impl<T: FromSortKey> FromSortKey for Option<T> {
    fn from_sort_key(bytes: &[u8]) -> Option<Self> {
        match bytes.split_first()? {
            (0, []) => Some(None),
            (1, rest) => Some(Some(T::from_sort_key(rest)?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip<T: FromSortKey + PartialEq + core::fmt::Debug>(v: T) {
        let bytes = v.sort_key();
        let back = T::from_sort_key(&bytes);
        assert_eq!(back.as_ref(), Some(&v), "{bytes:02x?}");
    }

    /// Every byte string a decoder accepts is the encoding of what it gives.
    fn only_encodings<T: FromSortKey + core::fmt::Debug>(bytes: &[u8]) {
        if let Some(v) = T::from_sort_key(bytes) {
            assert_eq!(v.sort_key(), bytes, "{v:?}");
        }
    }

    proptest! {
        #[test]
        fn keys_read_back_as_written(a: i64, b: u64, c: i32, d: u32, e: i128, f: u16,
                                     g: String, h: Vec<u8>, i: Option<u32>, j: char, k: bool) {
            // Small values, where compact lengths change, as often as large ones.
            round_trip(a >> (a as u64 % 64));
            round_trip(b >> (b % 64));
            round_trip(a);
            round_trip(b);
            round_trip(c);
            round_trip(d);
            round_trip(e);
            round_trip(f);
            round_trip(g);
            round_trip(h);
            round_trip(i);
            round_trip(j);
            round_trip(k);
            round_trip(a as isize);
            round_trip(b as usize);
        }

        #[test]
        fn anything_else_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            only_encodings::<u64>(&bytes);
            only_encodings::<u32>(&bytes);
            only_encodings::<i64>(&bytes);
            only_encodings::<i32>(&bytes);
            only_encodings::<u16>(&bytes);
            only_encodings::<i8>(&bytes);
            only_encodings::<bool>(&bytes);
            only_encodings::<char>(&bytes);
            only_encodings::<String>(&bytes);
            only_encodings::<Option<u64>>(&bytes);
            only_encodings::<[u8; 4]>(&bytes);
        }
    }

    #[test]
    fn floats_read_back_bit_for_bit() {
        for v in [
            0.0f64,
            -0.0,
            1.5,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ] {
            let back = f64::from_sort_key(&v.sort_key()).map(f64::to_bits);
            assert_eq!(back, Some(v.to_bits()));
        }
        for v in [0.0f32, -0.0, 2.5, f32::MIN, f32::NAN] {
            let back = f32::from_sort_key(&v.sort_key()).map(f32::to_bits);
            assert_eq!(back, Some(v.to_bits()));
        }
    }

    #[test]
    fn non_canonical_and_out_of_range_integers_are_refused() {
        assert_eq!(u64::from_sort_key(&[1, 0]), None, "a leading zero");
        assert_eq!(u64::from_sort_key(&[2, 1]), None, "cut short");
        assert_eq!(u64::from_sort_key(&[1, 1, 1]), None, "too long");
        assert_eq!(u32::from_sort_key(&[5, 1, 0, 0, 0, 0]), None, "above u32");
        assert_eq!(i64::from_sort_key(&[0x7e, 0xff]), None, "a leading 0xff");
        assert_eq!(i64::from_sort_key(&[0x81, 0]), None, "a leading zero");
        assert_eq!(
            i32::from_sort_key(&[0x84, 0x80, 0, 0, 0]),
            None,
            "above i32"
        );
        assert_eq!(
            i64::from_sort_key(&[0x88, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            None,
            "eight bytes of a non-negative that would be negative"
        );
        assert_eq!(i64::from_sort_key(&[0x7f]), Some(-1));
        assert_eq!(i64::from_sort_key(&[0x80]), Some(0));
        assert_eq!(u64::from_sort_key(&[0]), Some(0));
    }
}
