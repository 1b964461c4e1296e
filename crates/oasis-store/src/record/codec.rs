//! The field encoding `#[derive(Record)]`'s generated code calls: every
//! field but the key in postcard, one after another, and the key read back
//! from its sort key.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::sortkey::FromSortKey;
use crate::error::{Error, Result};

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
