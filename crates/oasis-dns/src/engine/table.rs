//! The compiled table, laid out flat in the catalog image and read where
//! it lies.
//!
//! A key is (slot kind, qtype, lower-cased wire name). Every key lives in
//! one byte arena, as an entry: kind, qtype, the name's length, what the
//! slot holds, then the name. An open-addressed index of 8-byte buckets
//! holds, per key, a 32-bit tag of its hash and where its entry lies. A
//! lookup hashes the three parts of the key where they are (no key is
//! assembled), probes the index linearly, and reads the arena only for a
//! bucket whose tag matches: one cache line of the index and one of the
//! arena for a hit, usually the index alone for a miss. The index has
//! half as many buckets again as keys, so probes stay short and always end
//! at an empty bucket.
//!
//! Both parts are bytes of the image ([`super::image`]): the table is
//! written once, when zones are compiled, and loading it is taking two
//! slices. Every read is bounds-checked, so a damaged image gives wrong
//! answers or none, never a panic; a probe visits each bucket at most once,
//! so an index with no empty bucket cannot loop either.

use super::Stored;
use super::compile::Slot;
use crate::wire::Type;
use alloc::vec;
use alloc::vec::Vec;

/// The longest key: kind, qtype and a wire name of at most 255 bytes.
pub const KEY_MAX: usize = 3 + 255;
/// Bytes of one bucket of the index: the tag, then where the entry lies.
pub const BUCKET: usize = 8;
/// Bytes of an entry before its name: kind, qtype (big-endian), the name's
/// length, the kind of value and the value (little-endian).
const ENTRY_HEAD: usize = 9;
/// The entry offset of an empty bucket.
const EMPTY: u32 = u32::MAX;

/// Splits a stored key into its kind, qtype and name; `None` for a key
/// too short or too long to be one (no lookup can ask for it).
fn parts(key: &[u8]) -> Option<(u8, u16, &[u8])> {
    if !(3..=KEY_MAX).contains(&key.len()) {
        return None;
    }
    Some((key[0], u16::from_be_bytes([key[1], key[2]]), &key[3..]))
}

/// Multiplies and folds the 128-bit product: the mixing step of the hash.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    p as u64 ^ (p >> 64) as u64
}

/// The table's hash of a key's parts under `seed`. It is part of the image
/// format: the table is hashed when compiled (on the build machine) and
/// probed when served, so it is defined here, word by word, and never
/// taken from a library whose output may change between versions.
#[inline]
pub fn hash(seed: u64, kind: u8, qtype: u16, name: &[u8]) -> u64 {
    const K0: u64 = 0x243f_6a88_85a3_08d3;
    const K1: u64 = 0x1319_8a2e_0370_7344;
    let mut h = fold(seed ^ K0, ((kind as u64) << 16 | qtype as u64) ^ K1);
    let mut words = name.chunks_exact(8);
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = fold(h ^ w, K1);
    }
    let rest = words.remainder();
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    fold(h ^ u64::from_le_bytes(last), K0 ^ name.len() as u64)
}

/// The bucket a hash starts probing at, in an index of `n` buckets.
#[inline(always)]
fn home(hash: u64, n: usize) -> usize {
    (((hash >> 32) * n as u64) >> 32) as usize
}

/// Writes the index and the key arena of `slots`, whose keys must be
/// unique (as a map's are). Keys no lookup can ask for (shorter than 3 or
/// longer than [`KEY_MAX`] bytes) are left out. Returns the index, the
/// arena and the number of slots written.
pub fn build<'k>(
    seed: u64,
    slots: impl ExactSizeIterator<Item = (&'k [u8], Stored)>,
) -> (Vec<u8>, Vec<u8>, usize) {
    let n = slots.len() + slots.len() / 2 + 1;
    let mut index = vec![0u8; n * BUCKET];
    for b in index.chunks_exact_mut(BUCKET) {
        b[4..8].copy_from_slice(&EMPTY.to_le_bytes());
    }
    let mut arena = Vec::new();
    let mut len = 0;
    for (key, stored) in slots {
        let Some((kind, qtype, name)) = parts(key) else {
            continue;
        };
        let hash = hash(seed, kind, qtype, name);
        let (held, value) = match stored {
            Stored::Ready(at) => (0u8, at),
            Stored::Wildcard => (1, 0),
            Stored::PerQuery(z) => (2, z as u32),
        };
        let mut at = home(hash, n);
        while entry_at(&index[at * BUCKET..]) != EMPTY {
            at = if at + 1 == n { 0 } else { at + 1 };
        }
        let b = &mut index[at * BUCKET..][..BUCKET];
        b[0..4].copy_from_slice(&(hash as u32).to_le_bytes());
        b[4..8].copy_from_slice(&(arena.len() as u32).to_le_bytes());
        arena.extend_from_slice(&key[..3]);
        arena.push(name.len() as u8);
        arena.push(held);
        arena.extend_from_slice(&value.to_le_bytes());
        arena.extend_from_slice(name);
        len += 1;
    }
    (index, arena, len)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn entry_at(bucket: &[u8]) -> u32 {
    u32_at(bucket, 4)
}

/// What an entry holds: 0 a ready answer at an offset, 1 wildcard, 2 a
/// zone answered per query; `None` for a kind no image writes.
fn stored(head: &[u8; ENTRY_HEAD]) -> Option<Stored> {
    let value = u32_at(head, 5);
    match head[4] {
        0 => Some(Stored::Ready(value)),
        1 => Some(Stored::Wildcard),
        2 => Some(Stored::PerQuery(value as usize)),
        _ => None,
    }
}

/// A table as it lies in an image: the index ([`BUCKET`]-byte buckets)
/// and the key arena.
#[derive(Clone, Copy)]
pub struct Table<'i> {
    /// The buckets.
    pub index: &'i [u8],
    /// The key arena.
    pub keys: &'i [u8],
    /// The seed the keys were hashed with.
    pub seed: u64,
}

impl Table<'_> {
    /// What slot `kind` holds for `qtype` at the lower-cased wire name
    /// `name` (cut at 255 bytes, as keys are).
    #[inline]
    pub fn get(&self, kind: Slot, qtype: Type, name: &[u8]) -> Option<Stored> {
        let name = &name[..name.len().min(255)];
        let (kind, qtype) = (kind as u8, qtype.0);
        let hash = hash(self.seed, kind, qtype, name);
        let tag = hash as u32;
        let n = self.index.len() / BUCKET;
        let mut at = home(hash, n);
        for _ in 0..n {
            let b: &[u8; BUCKET] = self.index.get(at * BUCKET..)?.first_chunk()?;
            let entry = entry_at(b);
            if entry == EMPTY {
                return None;
            }
            if u32_at(b, 0) == tag {
                let e = self.keys.get(entry as usize..)?;
                let head: &[u8; ENTRY_HEAD] = e.first_chunk()?;
                if head[0] == kind
                    && head[1..3] == qtype.to_be_bytes()
                    && head[3] as usize == name.len()
                    && e.get(ENTRY_HEAD..ENTRY_HEAD + name.len())? == name
                {
                    return stored(head);
                }
            }
            at = if at + 1 == n { 0 } else { at + 1 };
        }
        None
    }

    /// Every slot: its key and what it holds, in no particular order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (Vec<u8>, Stored)> + '_ {
        self.index.chunks_exact(BUCKET).filter_map(|b| {
            let entry = entry_at(b);
            if entry == EMPTY {
                return None;
            }
            let e = self.keys.get(entry as usize..)?;
            let head: &[u8; ENTRY_HEAD] = e.first_chunk()?;
            let name = e.get(ENTRY_HEAD..ENTRY_HEAD + head[3] as usize)?;
            let mut key = head[..3].to_vec();
            key.extend_from_slice(name);
            Some((key, stored(head)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use proptest::prelude::*;

    fn key(kind: Slot, qtype: u16, name: &[u8]) -> Box<[u8]> {
        let mut k = vec![kind as u8];
        k.extend_from_slice(&qtype.to_be_bytes());
        k.extend_from_slice(name);
        k.into()
    }

    fn table<'k>(
        seed: u64,
        slots: impl ExactSizeIterator<Item = (&'k [u8], Stored)>,
    ) -> (Vec<u8>, Vec<u8>, usize) {
        build(seed, slots)
    }

    #[test]
    fn finds_what_was_put_and_nothing_else() {
        let slots = [
            (key(Slot::Exact, 1, b"\x04host\x00"), Stored::Ready(7)),
            (key(Slot::Other, 0, b"\x04host\x00"), Stored::Wildcard),
            (key(Slot::Below, 0, b"\x00"), Stored::PerQuery(3)),
        ];
        let (index, keys, len) = table(9, slots.iter().map(|(k, s)| (&k[..], *s)));
        assert_eq!(len, 3);
        let t = Table {
            index: &index,
            keys: &keys,
            seed: 9,
        };
        assert!(matches!(
            t.get(Slot::Exact, Type(1), b"\x04host\x00"),
            Some(Stored::Ready(7))
        ));
        assert!(matches!(
            t.get(Slot::Other, Type(0), b"\x04host\x00"),
            Some(Stored::Wildcard)
        ));
        assert!(matches!(
            t.get(Slot::Below, Type(0), b"\x00"),
            Some(Stored::PerQuery(3))
        ));
        assert!(t.get(Slot::Exact, Type(28), b"\x04host\x00").is_none());
        assert!(t.get(Slot::Other, Type(1), b"\x04host\x00").is_none());
        assert!(t.get(Slot::Exact, Type(1), b"\x04hosT\x00").is_none());
        assert_eq!(t.iter().count(), 3);
    }

    #[test]
    fn keys_no_lookup_can_ask_for_are_left_out() {
        let long = vec![0u8; KEY_MAX + 1];
        let slots: [(&[u8], Stored); 2] =
            [(b"\x00\x01", Stored::Ready(0)), (&long, Stored::Ready(1))];
        let (index, keys, len) = table(0, slots.into_iter());
        assert_eq!(len, 0);
        let t = Table {
            index: &index,
            keys: &keys,
            seed: 0,
        };
        assert!(t.get(Slot::Exact, Type(1), &[]).is_none());
    }

    #[test]
    fn a_full_or_damaged_index_ends_every_probe() {
        let slots = [(key(Slot::Exact, 1, b"\x01a\x00"), Stored::Ready(1))];
        let (mut index, keys, _) = table(0, slots.iter().map(|(k, s)| (&k[..], *s)));
        // No empty bucket left: a miss must still end.
        for b in index.chunks_exact_mut(BUCKET) {
            b[4..8].copy_from_slice(&0u32.to_le_bytes());
        }
        let t = Table {
            index: &index,
            keys: &keys,
            seed: 0,
        };
        assert!(t.get(Slot::Exact, Type(2), b"\x01b\x00").is_none());
        // Entries pointing past the arena, and an index cut short.
        let t = Table {
            index: &index[..BUCKET + 3],
            keys: &[],
            seed: 0,
        };
        assert!(t.get(Slot::Exact, Type(1), b"\x01a\x00").is_none());
        assert_eq!(t.iter().count(), 0);
    }

    proptest! {
        #[test]
        fn agrees_with_a_map(
            seed in any::<u64>(),
            names in proptest::collection::hash_set(proptest::collection::vec(any::<u8>(), 0..40), 0..300),
            probes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..50),
        ) {
            extern crate std;
            let map: std::collections::HashMap<Box<[u8]>, u32> = names
                .iter()
                .enumerate()
                .map(|(i, n)| (key(Slot::Exact, 1, n), i as u32))
                .collect();
            let (index, keys, len) = table(seed, map.iter().map(|(k, &i)| (&k[..], Stored::Ready(i))));
            prop_assert_eq!(len, map.len());
            let t = Table { index: &index, keys: &keys, seed };
            for n in names.iter().chain(&probes) {
                let want = map.get(&key(Slot::Exact, 1, n)).copied();
                let got = match t.get(Slot::Exact, Type(1), n) {
                    Some(Stored::Ready(i)) => Some(i),
                    None => None,
                    Some(_) => unreachable!("only ready answers were put"),
                };
                prop_assert_eq!(got, want);
            }
        }
    }
}
