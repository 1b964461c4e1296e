//! The on-device format of one log record: a committed transaction's
//! changes as logical operations on the engine's tables.
//!
//! A record starts at a sector boundary and is padded with zeros to the
//! next one, so appending a record never rewrites a sector an earlier,
//! acknowledged record lives in. Little-endian:
//!
//! ```text
//!  0          8       12       16           24
//!  +----------+-------+--------+------------+---------------------+
//!  | checksum | magic | length | sequence   | payload (length B)  | zeros to the sector
//!  +----------+-------+--------+------------+---------------------+
//! ```
//! The checksum covers bytes 8..24 + length. The payload is a run of
//! operations, each a tag byte then its fields (`n` = LEB128 varint):
//!
//! ```text
//!  TABLE  = 1, n name-length, name        names the next table number (0, 1, ...)
//!  INSERT = 2, n table, n key-length, key, n value-length, value
//!  REMOVE = 3, n table, n key-length, key
//! ```
//! A record is valid only whole: a torn append fails its checksum, and a
//! record left from an earlier pass over the region has a sequence number
//! below the one expected.

use alloc::string::String;
use alloc::vec::Vec;

use crate::le::{u32_at, u64_at};

/// Byte ranges of the record header's fields.
mod field {
    use core::ops::Range;
    pub const CHECKSUM: Range<usize> = 0..8;
    pub const MAGIC: Range<usize> = 8..12;
    pub const LENGTH: Range<usize> = 12..16;
    pub const SEQUENCE: Range<usize> = 16..24;
}

/// Bytes of a record header.
pub(crate) const HEADER_LEN: usize = field::SEQUENCE.end;

/// The magic that opens every record.
pub(crate) const MAGIC: [u8; 4] = *b"oLog";

const TABLE: u8 = 1;
const INSERT: u8 = 2;
const REMOVE: u8 = 3;

pub(crate) use crate::checksum::checksum;

/// Appends `record(sequence, payload)`, padded to `sector` bytes, to `out`.
pub(crate) fn emit(out: &mut Vec<u8>, sequence: u64, payload: &[u8], sector: usize) {
    let start = out.len();
    out.resize(start + HEADER_LEN, 0);
    out[start + field::MAGIC.start..start + field::MAGIC.end].copy_from_slice(&MAGIC);
    out[start + field::LENGTH.start..start + field::LENGTH.end]
        .copy_from_slice(&(payload.len() as u32).to_le_bytes());
    out[start + field::SEQUENCE.start..start + field::SEQUENCE.end]
        .copy_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(payload);
    let sum = checksum(&out[start + field::MAGIC.start..]);
    out[start..start + field::CHECKSUM.end].copy_from_slice(&sum.to_le_bytes());
    out.resize(start + padded_len(payload.len(), sector), 0);
}

/// Bytes a record with a payload of `payload` bytes occupies.
pub(crate) fn padded_len(payload: usize, sector: usize) -> usize {
    (HEADER_LEN + payload).div_ceil(sector) * sector
}

/// What the start of a region position holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// A record header: its payload length and sequence number (the
    /// checksum still to be checked over the whole record).
    Record {
        /// Payload bytes.
        length: usize,
        /// Sequence number.
        sequence: u64,
    },
    /// No record starts here.
    End,
}

/// Parses a record header (the first [`HEADER_LEN`] bytes at a position).
pub(crate) fn header(bytes: &[u8]) -> Header {
    if bytes.len() < HEADER_LEN || bytes[field::MAGIC] != MAGIC {
        return Header::End;
    }
    Header::Record {
        length: u32_at(&bytes[field::LENGTH]) as usize,
        sequence: u64_at(&bytes[field::SEQUENCE]),
    }
}

/// The payload of the whole record `bytes` (header and payload), if its
/// checksum holds.
pub(crate) fn payload(bytes: &[u8]) -> Option<&[u8]> {
    let Header::Record { length, .. } = header(bytes) else {
        return None;
    };
    let end = HEADER_LEN.checked_add(length)?;
    let body = bytes.get(field::MAGIC.start..end)?;
    (checksum(body) == u64_at(&bytes[field::CHECKSUM])).then(|| &bytes[HEADER_LEN..end])
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A transaction's operations, encoded as they happen.
#[derive(Default)]
pub(crate) struct Ops<'s> {
    tables: Vec<&'s str>,
    bytes: Vec<u8>,
}

impl<'s> Ops<'s> {
    /// Whether no operation was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The encoded payload.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded payload, owned.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn table(&mut self, name: &'s str) -> u64 {
        if let Some(i) = self.tables.iter().position(|t| *t == name) {
            return i as u64;
        }
        self.bytes.push(TABLE);
        put_varint(&mut self.bytes, name.len() as u64);
        self.bytes.extend_from_slice(name.as_bytes());
        self.tables.push(name);
        (self.tables.len() - 1) as u64
    }

    /// Records `table[key] = value`.
    pub(crate) fn insert(&mut self, table: &'s str, key: &[u8], value: &[u8]) {
        let t = self.table(table);
        self.bytes.push(INSERT);
        put_varint(&mut self.bytes, t);
        put_varint(&mut self.bytes, key.len() as u64);
        self.bytes.extend_from_slice(key);
        put_varint(&mut self.bytes, value.len() as u64);
        self.bytes.extend_from_slice(value);
    }

    /// Records the removal of `table[key]`.
    pub(crate) fn remove(&mut self, table: &'s str, key: &[u8]) {
        let t = self.table(table);
        self.bytes.push(REMOVE);
        put_varint(&mut self.bytes, t);
        put_varint(&mut self.bytes, key.len() as u64);
        self.bytes.extend_from_slice(key);
    }
}

/// One operation read back from a payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// `table[key] = value`.
    Insert {
        /// The table's name.
        table: &'a str,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// Remove `table[key]`.
    Remove {
        /// The table's name.
        table: &'a str,
        /// The key.
        key: &'a [u8],
    },
}

/// Why a payload could not be decoded (it passed its checksum, so this
/// means a bug or a deliberately forged record).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Byte offset in the payload.
    pub(crate) at: usize,
    /// What was wrong.
    pub(crate) what: &'static str,
}

/// Decodes a payload, calling `each` for every operation in order.
pub(crate) fn decode<'a, E: From<Malformed>>(
    payload: &'a [u8],
    mut each: impl FnMut(Op<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let mut r = Cursor {
        bytes: payload,
        at: 0,
    };
    let mut tables: Vec<&'a str> = Vec::new();
    while r.at < payload.len() {
        let tag = r.byte()?;
        match tag {
            TABLE => {
                let n = r.len()?;
                let name = core::str::from_utf8(r.take(n)?).map_err(|_| r.bad("table name"))?;
                tables.push(name);
            }
            INSERT | REMOVE => {
                let t = r.varint()?;
                let table = *usize::try_from(t)
                    .ok()
                    .and_then(|t| tables.get(t))
                    .ok_or_else(|| r.bad("unknown table number"))?;
                let n = r.len()?;
                let key = r.take(n)?;
                if tag == INSERT {
                    let n = r.len()?;
                    let value = r.take(n)?;
                    each(Op::Insert { table, key, value })?;
                } else {
                    each(Op::Remove { table, key })?;
                }
            }
            _ => return Err(r.bad("unknown operation").into()),
        }
    }
    Ok(())
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bad(&self, what: &'static str) -> Malformed {
        Malformed { at: self.at, what }
    }

    fn byte(&mut self) -> Result<u8, Malformed> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.bad("truncated"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, Malformed> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.bad("varint too long"))
    }

    fn len(&mut self) -> Result<usize, Malformed> {
        let v = self.varint()?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= self.bytes.len() - self.at)
            .ok_or_else(|| self.bad("length past the end"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let s = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| self.bad("truncated"))?;
        self.at += n;
        Ok(s)
    }
}

/// Renders a malformed payload's fault for an error message.
pub(crate) fn describe(m: &Malformed) -> String {
    alloc::format!("{} at payload byte {}", m.what, m.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A record of sequence 7 holding `INSERT t[k] = v` and `REMOVE t[k]`
    /// with table `t`, for 64-byte sectors.
    const SAMPLE: [u8; 64] = [
        0x45, 0x00, 0x67, 0x8d, 0x5d, 0xd6, 0xd2, 0x37, // checksum
        b'o', b'L', b'o', b'g', // magic
        0x0d, 0x00, 0x00, 0x00, // payload length 13
        0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // sequence 7
        0x01, 0x01, b't', // TABLE "t"
        0x02, 0x00, 0x01, b'k', 0x01, b'v', // INSERT t[k] = v
        0x03, 0x00, 0x01, b'k', // REMOVE t[k]
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, // to 64
    ];

    fn sample_ops() -> Ops<'static> {
        let mut ops = Ops::default();
        ops.insert("t", b"k", b"v");
        ops.remove("t", b"k");
        ops
    }

    #[test]
    fn emit_matches_literal_bytes_and_decodes_back() {
        let mut out = vec![];
        emit(&mut out, 7, sample_ops().bytes(), 64);
        assert_eq!(out, SAMPLE);
        assert_eq!(
            header(&SAMPLE),
            Header::Record {
                length: 13,
                sequence: 7
            }
        );
        let p = payload(&SAMPLE).unwrap();
        let mut seen = vec![];
        decode::<Malformed>(p, |op| {
            seen.push(alloc::format!("{op:?}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].contains("Insert") && seen[1].contains("Remove"));
    }

    #[test]
    fn a_torn_or_altered_record_fails_its_checksum() {
        for i in 0..HEADER_LEN + 13 {
            let mut bad = SAMPLE;
            bad[i] ^= 0x20;
            assert!(payload(&bad).is_none(), "byte {i} flipped");
        }
        assert_eq!(header(&[0u8; 64]), Header::End);
        assert!(payload(&SAMPLE[..30]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_payload_decodes_or_fails_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = decode::<Malformed>(&bytes, |_| Ok(()));
            let _ = payload(&bytes);
        }

        #[test]
        fn encoded_operations_decode_to_themselves(
            ops in proptest::collection::vec((0usize..3, proptest::collection::vec(proptest::num::u8::ANY, 0..40), proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..300))), 0..30)
        ) {
            let names = ["record:a", "index:a.b", "oasis-store"];
            let mut enc = Ops::default();
            for (t, k, v) in &ops {
                match v {
                    Some(v) => enc.insert(names[*t], k, v),
                    None => enc.remove(names[*t], k),
                }
            }
            let mut out = vec![];
            emit(&mut out, 99, enc.bytes(), 512);
            proptest::prop_assert_eq!(out.len() % 512, 0);
            let p = payload(&out).unwrap();
            let mut back = vec![];
            decode::<Malformed>(p, |op| {
                back.push(match op {
                    Op::Insert { table, key, value } => (names.iter().position(|n| *n == table).unwrap(), key.to_vec(), Some(value.to_vec())),
                    Op::Remove { table, key } => (names.iter().position(|n| *n == table).unwrap(), key.to_vec(), None),
                });
                Ok(())
            }).unwrap();
            proptest::prop_assert_eq!(back, ops);
        }
    }
}
